"""Keeping and sharing an audit (issue 17): save, reopen, report, and a two-model comparison.

Measures at each N, against baselines taken in the same run:

- save and load: ``ex.save`` of a session with spotlights of two sizes and K-means clusters,
  and ``SpotlightExplorer.load`` of it (fingerprints checked, results restored, no search),
  against writing the same results' weights with ``np.savez_compressed`` and against the plain
  constructor on the same data;
- report: ``ex.report`` of that session (images inlined) against the same ``np.savez``;
- comparison: ``SpotlightExplorer.compare``'s first spotlight against the constructor's first
  spotlight on one model's losses (the same search, on signed losses).

    .venv/bin/python benchmarks/bench_audit.py [--n 50000 200000] [--dim 64]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(n: int, dim: int) -> dict:
    from spotlight_widget import SpotlightExplorer
    from spotlight_widget.synthetic import planted_clusters

    d = planted_clusters(n_rows=n, dim=dim, n_clusters=20, fractions=(0.02,), seed=0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 16, 16), dtype=np.uint8)
    folder = tempfile.mkdtemp()
    first_plain, ex = timed(lambda: _first(SpotlightExplorer(d.embeddings, d.losses, images, coords=None, size=0.01)))
    ex.next()
    ex.size = 0.02
    ex.wait()
    ex.method = "kmeans"
    ex.wait()
    results = [r for m in ("spotlight", "kmeans") for r in ex._store.view(m).results]
    path = os.path.join(folder, "audit.spotlight")
    save, _ = timed(lambda: ex.save(path))
    savez, _ = timed(lambda: np.savez_compressed(os.path.join(folder, "w.npz"), *[r.weights for r in results]))
    report, _ = timed(lambda: ex.report(os.path.join(folder, "audit.html")))
    ex.close()
    construct, plain = timed(
        lambda: SpotlightExplorer(d.embeddings, d.losses, images, coords=None, spotlights=results[:1])
    )
    plain.close()
    load, back = timed(lambda: SpotlightExplorer.load(path, d.embeddings, d.losses, images, coords=None))
    back.close()
    older = d.losses * rng.uniform(0.5, 1.5, size=n)
    first_compare, cmp = timed(
        lambda: _first(SpotlightExplorer.compare(d.embeddings, older, d.losses, coords=None, size=0.01))
    )
    cmp.close()
    return {
        "n": n,
        "results": len(results),
        "save_s": save,
        "file_mb": os.path.getsize(path) / 1e6,
        "savez_s": savez,
        "load_s": load,
        "construct_s": construct,
        "report_s": report,
        "report_mb": os.path.getsize(os.path.join(folder, "audit.html")) / 1e6,
        "first_plain_s": first_plain,
        "first_compare_s": first_compare,
    }


def _first(ex):
    ex.wait()
    return ex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    for n in args.n:
        r = run(n, args.dim)
        print(
            f"N={r['n']:,}: {r['results']} results; "
            f"save {r['save_s']:.2f} s ({r['file_mb']:.1f} MB; {r['save_s'] / r['savez_s']:.1f}x np.savez), "
            f"load {r['load_s']:.2f} s ({r['load_s'] / r['construct_s']:.2f}x the constructor), "
            f"report {r['report_s']:.2f} s ({r['report_mb']:.2f} MB; {r['report_s'] / r['savez_s']:.1f}x np.savez), "
            f"compare's first spotlight {r['first_compare_s']:.2f} s ({r['first_compare_s'] / r['first_plain_s']:.2f}x "
            "the plain explorer's)"
        )


if __name__ == "__main__":
    main()
