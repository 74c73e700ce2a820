"""The map in real JupyterLab and headless Chromium at scale: drawing, pan/zoom, lasso to Python.

Starts a JupyterLab server and a headless Chromium (the browser tests' set-up), runs a
notebook with N examples and given coordinates (so the projection's time, measured by
``bench_map.py``, is left out), then measures, against the first spotlight in the same run:

- the map drawn: from running the notebook until the map's canvas has its points;
- pan/zoom: milliseconds per frame while the mouse wheel zooms in and out (rAF-paced);
- lasso to Python: from releasing the mouse after drawing a lasso until the kernel has the
  selection (``ex.selected``, stamped by the kernel with the same clock).

    .venv/bin/python benchmarks/bench_map_browser.py [--n 50000 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_lab, stop

SETUP = """
import json, pathlib, time
import numpy as np
from spotlight_widget import SpotlightExplorer
from spotlight_widget.synthetic import planted_clusters

d = planted_clusters(n_rows=N, dim=16, n_clusters=40, seed=0)
coords = np.random.default_rng(0).normal(size=(N, 2)).astype(np.float32)
t0 = time.time()
ex = SpotlightExplorer(d.embeddings, d.losses, size=0.02, coords=coords)
ex.wait()
first = time.time() - t0

def dump(_=None):
    pathlib.Path(STATE).write_text(json.dumps({"selected": len(ex.selected), "at": time.time(), "first": first}))
ex.observe(dump, names=["selected"])
dump()
"""

FRAMES = """async () => {
    const canvas = document.querySelector('.spotlight-widget .sw-map-canvas');
    const r = canvas.getBoundingClientRect();
    const at = {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true};
    const frame = () => new Promise((done) => requestAnimationFrame(done));
    const t0 = performance.now();
    for (let k = 0; k < 30; k++) {
        canvas.dispatchEvent(new WheelEvent('wheel', {...at, deltaY: k % 10 < 5 ? -100 : 100}));
        await frame();
    }
    return (performance.now() - t0) / 30;
}"""


def measure(page, url: str, root: Path, n: int) -> dict:
    state = root / f"state-{n}.json"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"N = {n}\nSTATE = {str(state)!r}\n" + SETUP), nbformat.v4.new_code_cell("ex")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / f"map-{n}.ipynb")
    page.goto(f"{url}/lab/workspaces/bench{n}/tree/map-{n}.ipynb?reset")
    page.wait_for_function(
        """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                   const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                   return k && k.status === 'idle'; }""",
        timeout=300_000,
    )
    t0 = time.time()
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".spotlight-widget .sw-map-hulls path", state="attached", timeout=600_000)
    drawn = time.time() - t0
    first = json.loads(state.read_text())["first"]
    page.locator(".spotlight-widget .sw-map-stage").scroll_into_view_if_needed()
    frame_ms = page.evaluate(FRAMES)
    page.locator('.spotlight-widget .sw-map-tool[data-tool="lasso"]').click()
    box = page.locator(".spotlight-widget .sw-map-stage").bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) / 5
    page.mouse.move(cx - r, cy - r)
    page.mouse.down()
    for x, y in [(cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx - r, cy - r)]:
        page.mouse.move(x, y, steps=5)
    released = time.time()
    page.mouse.up()
    deadline = released + 300
    while time.time() < deadline:
        got = json.loads(state.read_text())
        if got["selected"] > 0:
            break
        time.sleep(0.05)
    return {"n": n, "first": first, "drawn": drawn, "frame_ms": frame_ms, "lasso": got["at"] - released,
            "selected": got["selected"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50_000, 1_000_000])
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print("| N | first spotlight in the kernel (s) | map drawn after running the notebook (s) | vs first spotlight "
          "| pan/zoom (ms per frame) | lasso to Python (s) | selected |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        root = Path(tmp)
        proc, url = start_lab(root)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n in args.n:
                page = browser.new_page(viewport={"width": 1400, "height": 1400})
                r = measure(page, url, root, n)
                page.close()
                print(f"| {r['n']:,} | {r['first']:.2f} | {r['drawn']:.2f} | {r['drawn'] / r['first']:.1f}x "
                      f"| {r['frame_ms']:.0f} | {r['lasso']:.2f} | {r['selected']:,} |", flush=True)
        finally:
            browser.close()
            stop(proc)


if __name__ == "__main__":
    main()
