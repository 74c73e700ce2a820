"""The audit report (``ex.report``): every result of every history, on a page that runs and loads nothing.

The page is parsed back (with the standard library's HTML parser, as a browser would build
its tree) and compared with what the explorer itself says through its public API: the
history rows (sizes, captions), the breakdown trait, ``to_dataframe`` (members, highest
weight first) and the notes.
"""

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from spotlight_widget import SpotlightExplorer
from spotlight_widget.explorer.audit_report import ROWS
from spotlight_widget.synthetic import planted_clusters

N = 240
# The thumbnails of 28 x 28 images: each pixel repeated 3 times (thumbnail_size 96).
SCALE = 3
HOSTILE = "<img src=x onerror=alert(1)>"
BREAKOUT = "</style><script>alert(2)</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: "Node | None" = None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str, cls: str | None = None) -> list["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and (cls is None or cls in child.attrs.get("class", "").split()):
                    found.append(child)
                found.extend(child.find_all(tag, cls))
        return found

    def walk(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()


class Tree(HTMLParser):
    """The page's elements as a browser parses them (text unescaped)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {})
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def stats(card: Node) -> dict[str, str]:
    """A result card's figures: name -> value."""
    (dl,) = card.find_all("dl", "stats")
    return {d.find_all("dt")[0].text(): d.find_all("dd")[0].text() for d in dl.find_all("div")}


def breakdown_table(card: Node, column: str) -> list[list[str]]:
    """The rows of a card's breakdown by ``column``, as cell texts."""
    for details in card.find_all("details"):
        if details.find_all("summary")[0].text().startswith(f"Breakdown by {column} "):
            return [[td.text() for td in tr.find_all("td")] for tr in details.find_all("tbody")[0].find_all("tr")]
    raise AssertionError(f"no breakdown by {column!r}")


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text.replace(",", ""))]


def check_safe(page: str, tree: Tree) -> None:
    """Nothing that runs or loads: no script, no handler, no URL but data: images and in-page links."""
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "@import" not in page and "url(" not in page
    for node in tree.root.walk():
        assert node.tag not in ("script", "iframe", "object", "embed", "link", "base", "form")
        assert not [name for name in node.attrs if name.startswith("on")], (node.tag, node.attrs)
        if "src" in node.attrs:
            assert node.tag == "img" and node.attrs["src"].startswith("data:image/png;base64,")
        if "href" in node.attrs:
            assert node.attrs["href"].startswith("#")


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """An image explorer driven like a person (two sizes, next, clusters, a selection, notes),
    its report (page and tree), and what its public API says about every method."""
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=3)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
    meta = pd.DataFrame(
        {
            HOSTILE: np.where(np.isin(np.arange(N), d.planted[0]), BREAKOUT, "other"),
            "age": rng.integers(18, 90, size=N),
            "city": [f"city {i}" for i in range(N)],  # one group per example: the table must be cut
        }
    )
    names = [f"{BREAKOUT if k % 2 else HOSTILE} {k}" for k in range(10)]
    ex = SpotlightExplorer(
        d.embeddings,
        d.losses,
        images,
        metadata=meta,
        labels=d.cluster % 10,
        class_names=names,
        size=15,
        coords=None,
        methods=["spotlight", "kmeans", "gmm"],
    )
    try:
        ex.next()
        ex.size = 30
        ex.wait()
        ex.note("first <b>look</b> " + HOSTILE, position=0)
        ex.method = "kmeans"
        ex.wait()
        ex.next()
        ex.selected = [int(i) for i in d.planted[0][:7]]
        ex.describe_selection()
        ex.note(BREAKOUT)
        said = {}
        for method in ("spotlight", "kmeans", "selection"):
            ex.method = method
            said[method] = {
                "history": [dict(row) for row in ex.history],
                "members": [ex.to_dataframe(k)["index"].tolist() for k in range(len(ex.history))],
            }
        ex.method = "spotlight"
        ex.show(0)
        ex.breakdown_column = "label"
        said["breakdown"] = [dict(row) for row in ex.breakdown]
        said["notes"] = ex.notes
        path = ex.report(tmp_path_factory.mktemp("report") / "audit.html", top=5, title=BREAKOUT)
    finally:
        ex.close()
    page = path.read_text(encoding="utf-8")
    return page, Tree(page), said, images


def test_every_result_of_every_history_has_a_card_with_its_size_and_caption(audited):
    _, tree, said, _ = audited
    for method in ("spotlight", "kmeans", "selection"):
        (section,) = [s for s in tree.root.find_all("section") if s.attrs["id"] == f"method-{method}"]
        cards = section.find_all("article", "result")
        history = said[method]["history"]
        assert len(cards) == len(history) > 0
        for position, (card, row) in enumerate(zip(cards, history)):
            assert card.find_all("h3")[0].text().split()[1] == f"#{position + 1}"
            assert stats(card)["size S"].startswith(f"{row['size']} (")
            assert card.find_all("p", "caption")[0].text() == row["caption"] != ""
    # Spotlights at S = 15 (twice) and 30, two clusters, one selection: every one of them.
    assert len(tree.root.find_all("article", "result")) == 6
    # Sections follow the methods offered, selections last; the gaussian mixture was never run.
    assert [s.attrs["id"] for s in tree.root.find_all("section")] == [
        "method-spotlight",
        "method-kmeans",
        "method-selection",
    ]
    assert "Gaussian mixture: not run" in tree.root.find_all("nav")[0].text()


def test_notes_are_on_their_own_results_and_escaped(audited):
    page, tree, said, _ = audited
    notes = {
        (s.attrs["id"], k): [p.text() for p in card.find_all("p", "note")]
        for s in tree.root.find_all("section")
        for k, card in enumerate(s.find_all("article", "result"))
    }
    expected = {(f"method-{m}", k): [f"Note: {text}"] for m, by in said["notes"].items() for k, text in by.items()}
    assert expected and {key: value for key, value in notes.items() if value} == expected
    assert "first &lt;b&gt;look&lt;/b&gt;" in page


def test_breakdowns_show_every_column_with_lift_intervals(audited):
    _, tree, said, _ = audited
    (section,) = [s for s in tree.root.find_all("section") if s.attrs["id"] == "method-spotlight"]
    first = section.find_all("article", "result")[0]
    rows = breakdown_table(first, "label")
    assert [r[0] for r in rows] == [str(row["group"]) for row in said["breakdown"]][:ROWS]
    for cells, row in zip(rows, said["breakdown"]):
        assert numbers(cells[1]) == [row["count"]]
        lift, low, high = numbers(cells[5])
        assert lift == pytest.approx(row["lift"], rel=5e-3)
        assert low == pytest.approx(row["lift_low"], rel=5e-3)
        assert high == pytest.approx(row["lift_high"], rel=5e-3)
        # A group with no weight inside has no loss inside: a dash.
        assert numbers(cells[7]) == ([] if row["loss_in"] is None else [pytest.approx(row["loss_in"], rel=5e-3)])
    # Every column, in every card; a column with a group per example is cut, and says so.
    for card in tree.root.find_all("article", "result"):
        summaries = [s.text() for s in card.find_all("summary")]
        assert [s.split(" in ")[0] for s in summaries] == [
            f"Breakdown by {c}" for c in (HOSTILE, "age", "city", "label")
        ]
        assert len(breakdown_table(card, "city")) == ROWS
        assert any(f"and {N - ROWS} more groups" in p.text() for p in card.find_all("p"))


def test_the_top_thumbnails_are_inlined_highest_weight_first(audited):
    _, tree, said, images = audited
    cards = {s.attrs["id"]: s.find_all("article", "result") for s in tree.root.find_all("section")}
    for method in ("spotlight", "kmeans", "selection"):
        for card, members in zip(cards[f"method-{method}"], said[method]["members"]):
            shown = card.find_all("img")
            assert [int(img.attrs["alt"].split()[-1]) for img in shown] == members[:5]
            for img in shown:
                index = int(img.attrs["alt"].split()[-1])
                png = base64.b64decode(img.attrs["src"].removeprefix("data:image/png;base64,"), validate=True)
                pixels = np.asarray(Image.open(io.BytesIO(png)))
                assert np.array_equal(pixels, images[index].repeat(SCALE, axis=0).repeat(SCALE, axis=1))
            if len(members) > 5:
                assert any(f"and {len(members) - 5} more members" in p.text() for p in card.find_all("p"))


def test_nothing_from_the_data_runs_or_loads(audited):
    page, tree, _, _ = audited
    check_safe(page, tree)
    # The hostile strings are there, as text.
    assert tree.root.find_all("title")[0].text() == BREAKOUT
    assert tree.root.find_all("h1")[0].text() == BREAKOUT
    texts = [node.text() for node in tree.root.walk() if node.tag in ("td", "summary", "span", "p", "dd")]
    for hostile in (HOSTILE, BREAKOUT):
        assert any(hostile in text for text in texts)
    # Class names on the thumbnails' captions, too.
    labels = [span.text() for span in tree.root.find_all("span", "label")]
    assert labels and all(label.startswith((HOSTILE, BREAKOUT)) for label in labels)
    # One style element, the page's own.
    assert len(tree.root.find_all("style")) == 1


def test_a_texts_explorer_reports_its_texts_escaped(tmp_path):
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=4)
    texts = [f"review {i}: {HOSTILE} " + "long " * (100 if i % 2 else 1) for i in range(N)]
    ex = SpotlightExplorer(d.embeddings, d.losses, texts, size=15, coords=None)
    try:
        ex.wait()
        members = ex.to_dataframe(0)["index"].tolist()
        page = ex.report(tmp_path / "texts.html", top=4).read_text(encoding="utf-8")
    finally:
        ex.close()
    tree = Tree(page)
    check_safe(page, tree)
    (card,) = tree.root.find_all("article", "result")
    shown = [p.text() for p in card.find_all("p", "text")]
    # Long texts are cut as on the gallery's cards (400 characters and an ellipsis).
    assert shown == [texts[i] if len(texts[i]) <= 400 else texts[i][:400] + "…" for i in members[:4]]
    assert not card.find_all("img")


def test_a_table_explorer_reports_metadata_rows(tmp_path):
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=5)
    meta = pd.DataFrame({HOSTILE: [BREAKOUT] * N, "row": np.arange(N)})
    ex = SpotlightExplorer(d.embeddings, d.losses, None, metadata=meta, size=15, coords=None)
    try:
        ex.wait()
        members = ex.to_dataframe(0)["index"].tolist()
        page = ex.report(tmp_path / "table.html", top=3).read_text(encoding="utf-8")
    finally:
        ex.close()
    tree = Tree(page)
    check_safe(page, tree)
    (card,) = tree.root.find_all("article", "result")
    tables = card.find_all("table", "fields")
    assert len(tables) == 3
    for table, index in zip(tables, members):
        fields = {tr.find_all("th")[0].text(): tr.find_all("td")[0].text() for tr in table.find_all("tr")}
        assert fields == {HOSTILE: BREAKOUT, "row": str(index)}


def test_an_unreadable_image_is_said_and_the_rest_is_reported(tmp_path):
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=6)
    files = []
    for i in range(N):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((8, 8), i % 256, np.uint8)).save(files[-1])
    ex = SpotlightExplorer(d.embeddings, d.losses, files, size=15, coords=None)
    try:
        ex.wait()
        members = ex.to_dataframe(0)["index"].tolist()
        files[members[1]].unlink()
        page = ex.report(tmp_path / "audit.html", top=4).read_text(encoding="utf-8")
    finally:
        ex.close()
    tree = Tree(page)
    (card,) = tree.root.find_all("article", "result")
    assert [int(img.attrs["alt"].split()[-1]) for img in card.find_all("img")] == [members[0], *members[2:4]]
    (failed,) = card.find_all("div", "failed")
    assert failed.text().startswith(f"example {members[1]}: the image could not be read")


def test_two_models_compared_show_both_losses(tmp_path):
    """Each result says both models' losses over its top S, and each group's inside it."""
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=7)
    rng = np.random.default_rng(1)
    old = rng.random(N)
    new = old + d.losses
    group = np.where(np.arange(N) % 3 == 0, "a", "b")
    ex = SpotlightExplorer.compare(
        d.embeddings,
        old,
        new,
        rng.integers(0, 256, size=(N, 28, 28), dtype=np.uint8),
        predictions_old=np.zeros(N, int),
        predictions_new=np.ones(N, int),
        names=(HOSTILE, "v2"),
        metadata=pd.DataFrame({"group": group}),
        size=15,
        coords=None,
        methods=["spotlight"],
    )
    try:
        ex.wait()
        result = ex.spotlight
        caption = ex.history[0]["caption"]
        page = ex.report(tmp_path / "compare.html", top=3).read_text(encoding="utf-8")
    finally:
        ex.close()
    tree = Tree(page)
    check_safe(page, tree)
    (card,) = tree.root.find_all("article", "result")
    assert card.find_all("p", "caption")[0].text() == caption
    top, w = result.top_indices, result.weights
    figures = stats(card)
    assert numbers(figures["v2 loss, top 15"]) == [pytest.approx(new[top].mean(), rel=5e-3)]
    assert numbers(figures[f"{HOSTILE} loss, top 15"]) == [pytest.approx(old[top].mean(), rel=5e-3)]
    first = int(card.find_all("img")[0].attrs["alt"].split()[-1])
    models = [span.text() for span in card.find_all("figure")[0].find_all("span", "models")]
    assert [numbers(m.split(name)[1])[0] for m, name in zip(models, (HOSTILE, "v2"))] == [
        pytest.approx(old[first], rel=5e-3),
        pytest.approx(new[first], rel=5e-3),
    ]
    assert [m.rsplit(", ", 1)[1] for m in models] == ["predicted 0", "predicted 1"]
    for cells in breakdown_table(card, "group"):
        inside = (group == cells[0]) & (w > 0)
        both = [np.average(losses[inside], weights=w[inside]) for losses in (old, new)]
        assert numbers(cells[-2]) + numbers(cells[-1]) == [pytest.approx(v, rel=5e-3) for v in both]


@pytest.fixture(scope="module")
def small():
    d = planted_clusters(n_rows=N, dim=4, n_clusters=6, fractions=(0.06,), seed=8)
    ex = SpotlightExplorer(d.embeddings, d.losses, size=15, coords=None)
    yield ex
    ex.close()


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"top": 0}, ValueError, "top must be an int in \\[1, inf\\)"),
        ({"top": 2.5}, TypeError, "top must be an int"),
        ({"top": True}, TypeError, "top must be an int"),
        ({"title": 3}, TypeError, "title must be None or a str"),
        ({"title": b"audit"}, TypeError, "title must be None or a str"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_written(small, tmp_path, options, error, match):
    with pytest.raises(error, match=match):
        small.report(tmp_path / "audit.html", **options)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_or_a_path_that_is_no_path_is_refused(small, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        small.report(tmp_path / "missing" / "audit.html")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="path must be"):
        small.report(3)
    # The smallest report there is: one result, one thumbnail slot (a table has none).
    assert small.report(tmp_path / "audit.html", top=1).read_text(encoding="utf-8").count('class="result"') == 1
