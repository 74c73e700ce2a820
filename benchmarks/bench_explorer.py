"""Explorer responsiveness at N = 50,000, d = 512 (Python side, no browser).

Measures, each against a baseline taken in the same run:

- first result: SpotlightExplorer(...) with its default method (the pooled regions) until
  its first result is ready, against a bare ``find_slices("pooled", ...)`` on the same
  data (issue 14: a default's first result must stay under 10 s);
- first spotlight: the same with ``methods=["spotlight"]``, against a bare
  ``find_spotlight`` (the widget's overhead);
- a gallery page: one request for 48 thumbnails (cold cache), against encoding the same
  48 PNGs directly;
- a size change: ``ex.size = 0.03`` until the new result is ready, for the Spotlight
  (warm start from the current one) against a cold ``find_spotlight`` at that size, and for
  the pooled regions (the neighbour search reused) against a cold ``find_slices``.

The pooled regions keep their last neighbour search; it is cleared before every cold
measurement.

Targets (issue 3, on a 2-core CPU): first result and first spotlight < 10 s, page < 0.3 s,
size change < 5 s.

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
    from spotlight_widget.slices.neighbourhoods import clear_cache
    from spotlight_widget.synthetic import planted_clusters

    data = planted_clusters(n_rows=args.n, dim=args.dim, seed=0)
    images = np.random.default_rng(0).integers(0, 256, size=(args.n, 28, 28), dtype=np.uint8)

    def timed(run):
        start = time.perf_counter()
        out = run()
        return time.perf_counter() - start, out

    def opened(**options):
        ex = SpotlightExplorer(data.embeddings, data.losses, images, size=0.02, **options)
        ex.wait()
        assert ex.status["state"] == "idle", ex.status
        return ex

    clear_cache()
    bare_pooled, _ = timed(lambda: find_slices("pooled", data.embeddings, data.losses, n=5, size=0.02))
    clear_cache()
    first_pooled, pooled = timed(opened)
    assert pooled.method == "pooled", pooled.method
    clear_cache()
    cold_pooled, _ = timed(lambda: find_slices("pooled", data.embeddings, data.losses, n=5, size=0.03))
    warm_pooled, _ = timed(lambda: (setattr(pooled, "size", 0.03), pooled.wait()))
    assert pooled.status["state"] == "idle", pooled.status
    pooled.close()

    bare, _ = timed(lambda: find_spotlight(data.embeddings, data.losses, size=0.02))
    first, ex = timed(lambda: opened(methods=["spotlight"]))

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
        ("first result (pooled) shown", first_pooled, bare_pooled, "bare find_slices('pooled')", 10.0),
        ("first spotlight shown", first, bare, "bare find_spotlight", 10.0),
        ("gallery page, 48 thumbnails", thumbs, direct, "encoding the PNGs directly", 0.3),
        ("size change 2% -> 3%", warm, cold, "cold find_spotlight at 3%", 5.0),
        ("pooled size change 2% -> 3%", warm_pooled, cold_pooled, "cold find_slices('pooled') at 3%", 5.0),
    ]
    print(f"N = {args.n}, d = {args.dim}")
    print(f"{'measure':32} {'seconds':>8} {'baseline':>9} {'ratio':>6}  {'target':>7}  result   baseline is")
    for name, value, base, what, target in rows:
        verdict = "PASS" if value < target else "FAIL"
        print(f"{name:32} {value:8.3f} {base:9.3f} {value / base:6.2f}  <{target:6.1f}  {verdict:7}  {what}")


if __name__ == "__main__":
    main()
