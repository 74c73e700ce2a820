"""Explorer responsiveness at N = 50,000, d = 512 (Python side, no browser).

Measures, each against a baseline taken in the same run:

- first spotlight: SpotlightExplorer(...) until its first spotlight is ready, against a bare
  ``find_spotlight`` on the same data (the widget's overhead);
- first pooled region: the same with ``methods=["pooled", "spotlight"]``, against a bare
  ``find_slices("pooled", ...)`` (issue 14: a default's first result must stay under 10 s);
- a gallery page: one request for 48 thumbnails (cold cache), against encoding the same
  48 PNGs directly;
- a size change: ``ex.size = 0.03`` until the new spotlight is ready (warm start from the
  current one), against a cold ``find_spotlight`` at that size.

Targets (issue 3, on a 2-core CPU): first spotlight < 10 s, page < 0.3 s, size change < 5 s;
first pooled region < 10 s.

    .venv/bin/python benchmarks/bench_explorer.py [--n 50000] [--dim 512]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()

    from spotlight_widget import SpotlightExplorer, find_slices, find_spotlight
    from spotlight_widget.explorer.thumbnails import encode_png, fit, to_uint8
    from spotlight_widget.synthetic import planted_clusters

    data = planted_clusters(n_rows=args.n, dim=args.dim, seed=0)
    images = np.random.default_rng(0).integers(0, 256, size=(args.n, 28, 28), dtype=np.uint8)

    t = time.perf_counter()
    find_spotlight(data.embeddings, data.losses, size=0.02)
    bare = time.perf_counter() - t

    t = time.perf_counter()
    ex = SpotlightExplorer(data.embeddings, data.losses, images, size=0.02)
    ex.wait()
    first = time.perf_counter() - t
    assert ex.status["state"] == "idle", ex.status

    t = time.perf_counter()
    find_slices("pooled", data.embeddings, data.losses, n=5, size=0.02)
    bare_pooled = time.perf_counter() - t
    t = time.perf_counter()
    pooled = SpotlightExplorer(data.embeddings, data.losses, images, size=0.02, methods=["pooled", "spotlight"])
    pooled.wait()
    first_pooled = time.perf_counter() - t
    assert pooled.status["state"] == "idle" and pooled.method == "pooled", pooled.status
    pooled.close()

    sent = []
    ex.send = lambda content, buffers=None: sent.append(buffers)
    page = [int(i) for i in ex.spotlight.indices[:48]]
    t = time.perf_counter()
    for i in page:
        encode_png(fit(to_uint8(images[i]), 96))
    direct = time.perf_counter() - t
    t = time.perf_counter()
    ex._on_message(ex, {"type": "thumbnails", "id": "bench", "indices": page}, [])
    thumbs = time.perf_counter() - t
    assert len(sent[-1]) == 48

    t = time.perf_counter()
    find_spotlight(data.embeddings, data.losses, size=0.03)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    ex.size = 0.03
    ex.wait()
    warm = time.perf_counter() - t
    assert ex.history[ex.current]["size"] == round(0.03 * args.n)

    rows = [
        ("first spotlight shown", first, bare, "bare find_spotlight", 10.0),
        ("first pooled region shown", first_pooled, bare_pooled, "bare find_slices('pooled')", 10.0),
        ("gallery page, 48 thumbnails", thumbs, direct, "encoding the PNGs directly", 0.3),
        ("size change 2% -> 3%", warm, cold, "cold find_spotlight at 3%", 5.0),
    ]
    print(f"N = {args.n}, d = {args.dim}")
    print(f"{'measure':32} {'seconds':>8} {'baseline':>9} {'ratio':>6}  {'target':>7}  result   baseline is")
    for name, value, base, what, target in rows:
        verdict = "PASS" if value < target else "FAIL"
        print(f"{name:32} {value:8.3f} {base:9.3f} {value / base:6.2f}  <{target:6.1f}  {verdict:7}  {what}")


if __name__ == "__main__":
    main()
