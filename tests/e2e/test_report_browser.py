"""The audit report in a real headless Chromium: opened from disk, it loads nothing and runs nothing.

The page is written by ``SpotlightExplorer.report`` on data whose metadata, class names and
note try to inject markup; the browser must fetch only the file itself (images are data
URIs), find no script, decode every image, and show one card per result.
"""

import numpy as np
import pandas as pd
import pytest

from spotlight_widget import SpotlightExplorer
from spotlight_widget.synthetic import planted_clusters

N = 300
HOSTILE = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report's path and how many results it holds."""
    d = planted_clusters(n_rows=N, dim=8, n_clusters=6, fractions=(0.06,), seed=3)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
    meta = pd.DataFrame(
        {
            HOSTILE: np.where(rng.random(N) < 0.5, "</style><script>window.__pwned=1</script>", "b"),
            "age": rng.integers(18, 90, N),
        }
    )
    names = [HOSTILE, "one", "two"]
    ex = SpotlightExplorer(
        d.embeddings,
        d.losses,
        images,
        metadata=meta,
        labels=d.cluster % 3,
        class_names=names,
        size=15,
        coords=None,
        methods=["spotlight", "kmeans"],
    )
    try:
        ex.next()
        results = len(ex.spotlights)
        ex.method = "kmeans"
        ex.wait()
        results += len(ex.spotlights)
        ex.selected = [1, 2, 3, 50]
        ex.describe_selection()
        results += len(ex.spotlights)
        ex.note(HOSTILE)
        path = ex.report(tmp_path_factory.mktemp("report") / "audit.html", top=6, title=HOSTILE)
    finally:
        ex.close()
    return path, results


def open_report(context, path):
    """Open the report in a new page; return the page and every URL it requested."""
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests


def test_the_report_loads_nothing_runs_nothing_and_shows_every_result(browser, report, artifacts):
    path, results = report
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page, requests = open_report(context, path)
        assert requests, "the page itself was requested"
        assert all(url == path.as_uri() or url.startswith("data:") for url in requests), requests
        state = page.evaluate(
            """() => ({
                scripts: document.scripts.length,
                images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
                cards: document.querySelectorAll('article.result').length,
                pwned: window.__pwned === 1,
                title: document.title,
            })"""
        )
        assert state["scripts"] == 0
        assert state["images"] and all(state["images"])
        assert state["cards"] == results
        assert not state["pwned"]
        # The hostile title is shown as text, not parsed.
        assert state["title"] == HOSTILE
        assert page.locator("h1").inner_text() == HOSTILE
        page.screenshot(path=str(artifacts / "report.png"), full_page=False)
    finally:
        context.close()


def test_the_report_needs_no_javascript(browser, report):
    path, results = report
    context = browser.new_context(java_script_enabled=False)
    try:
        page, requests = open_report(context, path)
        assert all(url == path.as_uri() or url.startswith("data:") for url in requests), requests
        assert page.locator("article.result").count() == results
        # Playwright's own scripts still run with the page's JavaScript off.
        widths = page.locator("img").evaluate_all("images => images.map(i => i.naturalWidth)")
        assert widths and all(w > 0 for w in widths)
    finally:
        context.close()


def test_the_report_follows_the_reader_s_colour_scheme(browser, report, artifacts):
    path, _ = report
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1200, "height": 900})
        try:
            page, _ = open_report(context, path)
            rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            backgrounds[scheme] = sum(int(c) for c in rgb[rgb.index("(") + 1 : -1].split(",")[:3])
            if scheme == "dark":
                page.screenshot(path=str(artifacts / "report-dark.png"))
        finally:
            context.close()
    assert backgrounds["dark"] < 3 * 64 < backgrounds["light"]
