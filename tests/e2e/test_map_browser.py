"""The map in real JupyterLab and headless Chromium: points drawn, a mouse lasso selects in Python.

The kernel writes the explorer's selection (and, once, its coordinates) to files; the test
draws on the page like a person and checks the Python side against what it computes itself.
"""

import time

import nbformat
import numpy as np
import pytest

from .test_browser import python_state, run_all_cells

SETUP = """
import json, pathlib
import numpy as np
from spotlight_widget import SpotlightExplorer
from spotlight_widget.synthetic import planted_clusters

d = planted_clusters(n_rows=3000, dim=16, n_clusters=8, fractions=(0.05,), seed=5)
ex = SpotlightExplorer(d.embeddings, d.losses, labels=d.cluster, size=0.05, coords="pca", methods=["spotlight", "pooled"])
np.save(COORDS, ex.coords)

def dump(_=None):
    pathlib.Path(STATE).write_text(json.dumps({"selected": list(ex.selected), "history": len(ex.history)}))
ex.observe(dump, names=["selected", "history"])
dump()
"""

# Reads the map canvas back through a 2-D canvas (works for the WebGL and the Canvas 2D
# renderer) and returns the RGBA bytes with the canvas' size.
READ_PIXELS = """() => {
    const map = document.querySelector('.spotlight-widget .sw-map-canvas');
    const copy = document.createElement('canvas');
    copy.width = map.width; copy.height = map.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(map, 0, 0);
    return {width: copy.width, height: copy.height, data: Array.from(ctx.getImageData(0, 0, copy.width, copy.height).data)};
}"""


def pixels(page) -> np.ndarray:
    got = page.evaluate(READ_PIXELS)
    return np.array(got["data"], dtype=np.uint8).reshape(got["height"], got["width"], 4)


def drawn(image: np.ndarray) -> np.ndarray:
    """Pixels that are not the background (the most common colour)."""
    flat = image.reshape(-1, 4)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[np.argmax(counts)]
    return (image != background).any(axis=-1)


def point_colour(image: np.ndarray) -> tuple[int, ...]:
    """The most common colour of the drawn points."""
    colours, counts = np.unique(image[drawn(image)], axis=0, return_counts=True)
    return tuple(int(c) for c in colours[np.argmax(counts)])


def view_of(coords: np.ndarray, width: float, height: float, padding: float = 0.05):
    """The map's initial view as js/map/view.js fits it: centre and scale (CSS pixels per unit)."""
    lo, hi = coords.min(0).astype(np.float64), coords.max(0).astype(np.float64)
    w, h = hi - lo
    scale = min(width * (1 - 2 * padding) / w, height * (1 - 2 * padding) / h)
    return (lo + hi) / 2, scale


def kernel(page, code: str) -> None:
    """Run code in the notebook's kernel, as a user typing in a new cell would."""
    page.evaluate(
        """code => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute({code}).done""",
        code,
    )


@pytest.fixture(scope="module")
def map_page(lab, browser, artifacts):
    url, root = lab
    state, coords_file = root / "map-state.json", root / "map-coords.npy"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"STATE = {str(state)!r}\nCOORDS = {str(coords_file)!r}\n" + SETUP),
        nbformat.v4.new_code_cell("ex"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "map.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    errors = []
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    run_all_cells(page, f"{url}/lab/workspaces/map/tree/map.ipynb?reset")
    page.wait_for_selector(".spotlight-widget .sw-map-canvas[data-renderer]", timeout=120_000)
    python_state(state, lambda s: s["history"] == 1)
    # The coordinates have arrived and the points are drawn.
    page.wait_for_function(
        """() => document.querySelector('.spotlight-widget .sw-map-hulls path') !== null""", timeout=60_000
    )
    yield page, state, np.load(coords_file), artifacts
    page.screenshot(path=str(artifacts / "map.png"), full_page=True)
    assert not errors, errors
    page.close()


def stage_box(page) -> dict:
    page.locator(".spotlight-widget .sw-map-stage").scroll_into_view_if_needed()
    return page.locator(".spotlight-widget .sw-map-stage").bounding_box()


def test_the_map_draws_every_point(map_page):
    page, _, coords, _ = map_page
    image = pixels(page)
    marked = drawn(image)
    # Thousands of points, spread over the canvas: not a blank or a single blob.
    assert marked.sum() > 2000
    rows, cols = np.nonzero(marked)
    assert np.ptp(rows) > 0.5 * image.shape[0] or np.ptp(cols) > 0.5 * image.shape[1]


def test_a_mouse_lasso_selects_exactly_the_points_inside(map_page):
    from matplotlib.path import Path as Polygon

    page, state, coords, artifacts = map_page
    box = stage_box(page)
    centre, scale = view_of(coords, box["width"], box["height"])
    # A pentagon in the middle of the map, in whole page pixels.
    cx, cy = round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2)
    radius = round(min(box["width"], box["height"]) / 4)
    angles = np.linspace(0, 2 * np.pi, 6)[:-1] + 0.3
    screen = [(cx + round(radius * np.cos(a)), cy + round(radius * np.sin(a))) for a in angles]
    page.locator('.spotlight-widget .sw-map-tool[data-tool="lasso"]').click()
    page.mouse.move(*screen[0])
    page.mouse.down()
    for point in [*screen[1:], screen[0]]:
        page.mouse.move(*point, steps=8)
    page.mouse.up()
    # The same polygon in map coordinates, from the view the map was fitted with.
    local = np.array(screen, dtype=np.float64) - [box["x"], box["y"]]
    polygon = np.c_[
        centre[0] + (local[:, 0] - box["width"] / 2) / scale,
        centre[1] - (local[:, 1] - box["height"] / 2) / scale,
    ]
    expected = np.flatnonzero(Polygon(polygon).contains_points(coords)).tolist()
    assert 20 < len(expected) < len(coords)
    selected = python_state(state, lambda s: len(s["selected"]) > 0)["selected"]
    assert selected == expected
    page.screenshot(path=str(artifacts / "map-lasso.png"), full_page=True)


def test_a_selection_made_in_python_shows_on_the_map(map_page):
    page, state, coords, _ = map_page
    kernel(page, "ex.selected = []")
    python_state(state, lambda s: s["selected"] == [])
    time.sleep(0.5)
    before = pixels(page)
    # The points in the map's top-right corner.
    corner = np.flatnonzero((coords[:, 0] > np.quantile(coords[:, 0], 0.8)) & (coords[:, 1] > np.quantile(coords[:, 1], 0.8)))
    kernel(page, f"ex.selected = {corner.tolist()}")
    python_state(state, lambda s: len(s["selected"]) == len(corner))
    deadline = time.monotonic() + 20
    while True:
        changed = (pixels(page) != before).any(axis=-1)
        if changed.sum() > 50 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert changed.sum() > 50
    # What changed lies in the top-right part of the canvas, where those points are drawn.
    rows, cols = np.nonzero(changed)
    height, width = changed.shape
    assert np.median(cols) > width / 2 and np.median(rows) < height / 2


def test_the_theme_switch_recolours_the_map(map_page):
    page, _, _, artifacts = map_page
    before = pixels(page)
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    deadline = time.monotonic() + 20
    while point_colour(pixels(page)) == point_colour(before) and time.monotonic() < deadline:
        time.sleep(0.3)
    after = pixels(page)
    # The canvas is transparent (the panel's background follows the theme): the points
    # themselves take the dark theme's colours. (The layout may resize the canvas, so the
    # colours are compared, not the pixels one by one.)
    assert drawn(before).sum() > 2000 and drawn(after).sum() > 2000
    assert point_colour(after) != point_colour(before)
    page.screenshot(path=str(artifacts / "map-dark.png"), full_page=True)
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
