"""The map at scale, Python side (issue 15): open to map, coordinates and colours out, lasso in.

Measures at each N, against baselines taken in the same run:

- map: from ``SpotlightExplorer(..., coords="auto")`` being shown until its first map is
  drawn (a PCA preview when the real map takes longer) and until the final coordinates are
  ready (projection included), against the explorer's first result in the same run;
- coords / colours messages: answering one request (bytes and time), against copying the
  coordinates (``np.copy``);
- lasso to Python: a 64-vertex polygon around about a tenth of the points until
  ``ex.selected`` is set, against matplotlib's ``Path.contains_points`` on the same polygon;
- saved state: the widget state a notebook saves (JSON), with the coordinates kept out of it.

Targets (issue 15, 2-core CPU): at N = 1M the map within 60 s of opening; at N = 50k
everything under 5 s; the saved state under 1 MB at 1M rows.

    .venv/bin/python benchmarks/bench_map.py [--n 50000 1000000] [--dim 64]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def polygon_around(coords: np.ndarray, share: float, vertices: int = 64) -> np.ndarray:
    """A circle-like polygon around the densest region holding about ``share`` of the points."""
    centre = np.median(coords, axis=0)
    radius = np.quantile(np.linalg.norm(coords - centre, axis=1), share)
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    return centre + radius * np.c_[np.cos(angles), np.sin(angles)]


def run(n: int, dim: int) -> dict:
    from matplotlib.path import Path

    from spotlight_widget import SpotlightExplorer
    from spotlight_widget.synthetic import planted_clusters

    data = planted_clusters(n_rows=n, dim=dim, seed=0)
    t = time.perf_counter()
    ex = SpotlightExplorer(data.embeddings, data.losses, size=0.02, coords="auto", seed=n % 1000)
    drawn = []
    ex.observe(lambda change: drawn.append(time.perf_counter() - t) if change["new"]["state"] == "ready" else None,
               names=["map_state"])
    # What showing the explorer in a notebook does: start the map beside the first search.
    ex._start_map()
    ex.wait()
    first = time.perf_counter() - t
    coords = ex.coords
    ready = time.perf_counter() - t
    preview = drawn[0] if drawn else ready
    projection = ex.map_state["projection"]

    sent = []
    ex.send = lambda content, buffers=None: sent.append((content, buffers or []))
    t = time.perf_counter()
    np.copy(coords)
    copy = time.perf_counter() - t
    t = time.perf_counter()
    ex._on_message(ex, {"type": "coords", "id": "c"}, [])
    coords_time = time.perf_counter() - t
    coords_bytes = len(sent[-1][1][0])
    t = time.perf_counter()
    ex._on_message(ex, {"type": "colors", "id": "w", "by": "weights"}, [])
    colors_time = time.perf_counter() - t

    polygon = polygon_around(coords, 0.1)
    t = time.perf_counter()
    reference = np.flatnonzero(Path(polygon).contains_points(coords))
    mpl = time.perf_counter() - t
    t = time.perf_counter()
    ex._on_message(ex, {"type": "lasso", "id": "l", "polygon": polygon.tolist()}, [])
    lasso = time.perf_counter() - t
    agree = len(np.setdiff1d(reference, ex.selected)) + len(np.setdiff1d(ex.selected, reference))

    ex.selected = []
    state = ex.get_state()
    state.pop("_esm", None)
    state.pop("_css", None)
    saved = len(json.dumps(state, default=str))
    ex.close()
    return {
        "n": n,
        "projection": projection,
        "first": first,
        "preview": preview,
        "ready": ready,
        "coords": coords_time,
        "coords_mb": coords_bytes / 1e6,
        "colors": colors_time,
        "copy": copy,
        "lasso": lasso,
        "mpl": mpl,
        "selected": len(reference),
        "disagree": agree,
        "saved_kb": saved / 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    print("| N | projection | first result (s) | first map drawn (s) | final map (s) | vs first result "
          "| coords msg (s, MB) | colours msg (s) | vs copy | lasso (s) | vs matplotlib | points off | saved state (kB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.n:
        r = run(n, args.dim)
        print(
            f"| {r['n']:,} | {r['projection']} | {r['first']:.2f} | {r['preview']:.2f} | {r['ready']:.2f} "
            f"| {r['ready'] / r['first']:.1f}x "
            f"| {r['coords']:.3f}, {r['coords_mb']:.1f} | {r['colors']:.3f} | {r['coords'] / max(r['copy'], 1e-6):.0f}x "
            f"| {r['lasso']:.3f} | {r['lasso'] / r['mpl']:.1f}x | {r['disagree']} of {r['selected']:,} "
            f"| {r['saved_kb']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
