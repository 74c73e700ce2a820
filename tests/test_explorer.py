"""The explorer's Python side: state, messages, selection and export, without a browser."""

import json
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
import traitlets

from spotlight_widget import SpotlightExplorer
from spotlight_widget.explorer.methods import check_methods
from spotlight_widget.synthetic import planted_clusters

# These tests follow the explorer's mechanics (sizes, next, tabs, history) through the
# Spotlight, which always has a next result; the default order is tested on its own.
SPOTLIGHT_FIRST = list(check_methods(None, has_spotlights=True))


@pytest.fixture(scope="module")
def data():
    d = planted_clusters(n_rows=1500, dim=16, n_clusters=10, fractions=(0.04,), seed=11)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1500, 12, 10), dtype=np.uint8)
    meta = pd.DataFrame(
        {
            "group": np.where(np.isin(np.arange(1500), d.planted[0]), "planted", "other"),
            "age": rng.integers(18, 90, size=1500),
            "note": ["<img src=x onerror=alert(1)>"] * 1500,
        }
    )
    labels = d.cluster % 3
    return d, images, meta, labels


def make(data, **kw):
    d, images, meta, labels = data
    kw.setdefault("methods", SPOTLIGHT_FIRST)
    ex = SpotlightExplorer(
        d.embeddings,
        d.losses,
        images,
        metadata=meta,
        labels=labels,
        predictions=(labels + 1) % 3,
        class_names=["zero", "one", "two"],
        **kw,
    )
    sent = []
    ex.send = lambda content, buffers=None: sent.append((content, buffers or []))
    assert ex.wait(60)
    return ex, sent


def ask(ex, sent, message):
    sent.clear()
    ex._on_message(ex, message, [])
    assert len(sent) == 1
    return sent[0]


def test_first_spotlight_is_shown(data):
    ex, _ = make(data, size=0.04)
    d = data[0]
    assert ex.status["state"] == "idle"
    assert ex.current == 0 and len(ex.history) == 1
    row = ex.history[0]
    assert row["size"] == 60 and row["rank"] == 0
    assert row["top_loss"] > 3 * ex.mean_loss
    assert ex.kind == "images" and ex.n == 1500
    assert ex.total_items == len(ex.spotlight.indices)
    assert [it["index"] for it in ex.page_items] == list(ex.spotlight.indices[:48])
    first = ex.page_items[0]
    assert first["label"] in {"zero", "one", "two"} and first["weight"] > 0
    assert np.isin(ex.spotlight.top_indices, d.planted[0]).mean() >= 0.9
    assert ex.columns == ["group", "age", "note", "label", "prediction"]
    top_group = ex.breakdown[0]
    assert top_group["group"] == "planted" and top_group["lift"] > 10


def test_the_explorer_opens_on_the_pooled_regions_with_the_spotlight_one_click_away(data):
    d, images, _, _ = data
    ex = SpotlightExplorer(d.embeddings, d.losses, images, size=0.04)
    try:
        assert ex.wait(60) and ex.status["state"] == "idle", ex.status
        assert ex.method == "pooled" and [m["name"] for m in ex.methods][:2] == ["pooled", "spotlight"]
        first = ex.spotlight
        assert first.method == "pooled" and ex.history[0]["label"] == "region"
        assert np.isin(first.top_indices, d.planted[0]).mean() >= 0.9
        ex.method = "spotlight"
        assert ex.wait(60)
        assert ex.spotlight.method == "spotlight"
        assert np.isin(ex.spotlight.top_indices, d.planted[0]).mean() >= 0.9
    finally:
        ex.close()


def test_size_next_and_show(data):
    ex, _ = make(data, size=0.04)
    ex.size = 0.02
    assert ex.wait(60)
    assert ex.history[-1]["size"] == 30 and ex.current == 1
    second = ex.next()
    assert second.rank == 1 and second.size == 30
    assert len(ex.spotlights) == 3 and ex.current == 2
    # A size already computed comes back at once, without a new search.
    calls = []
    original = ex._store._companion

    def spy(*a, **k):
        calls.append(a)
        return original(*a, **k)

    ex._store._companion = spy
    ex.size = 0.04
    assert ex.wait(10)
    assert calls == []
    assert ex.current == 0 and len(ex.history) == 3
    assert ex.show(1) is ex.spotlights[1]
    assert ex.current == 1 and ex.size == pytest.approx(30 / 1500)
    with pytest.raises(IndexError):
        ex.show(7)


def test_newer_request_cancels_older(data):
    ex, _ = make(data, size=0.04)
    ex.size = 0.01
    ex.size = 0.03
    assert ex.wait(60)
    assert ex.history[ex.current]["size"] == 45
    assert ex.status["state"] == "idle"


def test_thumbnail_requests_return_pngs(data):
    ex, sent = make(data)
    content, buffers = ask(ex, sent, {"type": "thumbnails", "id": "a1", "indices": [0, 5, 1499]})
    assert content == {"type": "thumbnails", "id": "a1", "indices": [0, 5, 1499], "source": "data", "mime": "image/png"}
    assert len(buffers) == 3
    for index, png in zip([0, 5, 1499], buffers):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (80, 96)  # 12 x 10 pixels, repeated 8x to fit 96 px
        # Decode the pixels (filter type 0 on every row) and compare with the source image.
        idat_len = struct.unpack(">I", png[33:37])[0]
        raw = np.frombuffer(zlib.decompress(png[41 : 41 + idat_len]), np.uint8).reshape(96, 81)
        assert (raw[:, 0] == 0).all()
        expected = data[1][index].repeat(8, 0).repeat(8, 1)
        np.testing.assert_array_equal(raw[:, 1:], expected)


@pytest.mark.parametrize(
    "message, error",
    [
        ({"type": "thumbnails", "id": "x", "indices": [1500]}, "out of range"),
        ({"type": "thumbnails", "id": "x", "indices": ["3"]}, "must be an integer"),
        ({"type": "thumbnails", "id": "x", "indices": 3}, "must be a list"),
        ({"type": "thumbnails", "id": "x", "indices": list(range(201))}, "at most 200"),
        ({"type": "detail", "id": "x", "index": -1}, "out of range"),
        ({"type": "detail", "id": "x", "index": True}, "must be an integer"),
        ({"type": "select", "id": "x", "mode": "above", "threshold": "big"}, "threshold must be a number"),
        ({"type": "select", "id": "x", "mode": "everything"}, "mode must be"),
        ({"type": "explode", "id": "x"}, "unknown request type"),
    ],
)
def test_bad_requests_get_error_replies(data, message, error):
    ex, sent = make(data)
    content, buffers = ask(ex, sent, message)
    assert content["id"] == "x" and error in content["error"] and buffers == []
    # The widget still works afterwards.
    ok, _ = ask(ex, sent, {"type": "detail", "id": "y", "index": 1})
    assert ok["index"] == 1


def test_requests_without_id_are_answered_with_an_error(data):
    ex, sent = make(data)
    content, _ = ask(ex, sent, ["not", "a", "dict"])
    assert content["id"] is None and "must be an object" in content["error"]
    content, _ = ask(ex, sent, {"type": "next"})
    assert "string id" in content["error"]


def test_detail_has_metadata_as_text(data):
    ex, sent = make(data)
    content, _ = ask(ex, sent, {"type": "detail", "id": "d", "index": 7})
    assert content["fields"]["note"] == "<img src=x onerror=alert(1)>"
    assert content["fields"]["age"] == str(data[2]["age"][7])
    assert content["label"] == ["zero", "one", "two"][data[3][7]]


def test_selection_buttons_and_export(data):
    ex, sent = make(data, size=0.04)
    content, _ = ask(ex, sent, {"type": "select", "id": "s", "mode": "top"})
    assert content == {"id": "s", "ok": True, "count": 60}
    assert ex.selected == sorted(ex.spotlight.top_indices.tolist())
    frame = ex.to_dataframe()
    assert len(frame) == 60
    assert list(frame.columns) == [
        "index",
        "weight",
        "loss",
        "count",
        "in_top",
        "label",
        "prediction",
        "group",
        "age",
        "note",
    ]
    assert frame["in_top"].all()
    np.testing.assert_allclose(frame["loss"], data[0].losses[frame["index"]], rtol=1e-6)
    assert (frame["weight"] > 0).all()
    ask(ex, sent, {"type": "select", "id": "s", "mode": "above", "threshold": 0.5})
    assert all(ex.spotlight.weights[i] >= 0.5 for i in ex.selected)
    ask(ex, sent, {"type": "select", "id": "s", "mode": "none"})
    assert ex.selected == [] and len(ex.to_dataframe()) == 0
    members = ex.to_dataframe(spotlight=0)
    assert members["index"].tolist() == ex.spotlight.indices.tolist()
    assert members["weight"].is_monotonic_decreasing


def test_selection_is_checked_and_cleaned(data):
    ex, _ = make(data)
    ex.set_state({"selected": [5, 3, 3]})  # as the front end sends it
    assert ex.selected == [3, 5] and ex.error == ""
    # Out of range or not integers: refused as a whole, shown, and the selection kept.
    ex.set_state({"selected": [7, 99999, -1]})
    assert ex.selected == [3, 5] and "[99999, -1]" in ex.error
    with pytest.raises(traitlets.TraitError):
        ex.selected = [1, "x"]
    assert ex.selected == [3, 5]


def test_tabs_pages_and_breakdown_column(data):
    ex, _ = make(data)
    ex.tab = "highest"
    order = np.argsort(-data[0].losses, kind="stable")
    assert [it["index"] for it in ex.page_items] == order[:48].tolist()
    ex.page = 2
    assert [it["index"] for it in ex.page_items] == order[96:144].tolist()
    ex.tab = "random"
    assert ex.page == 0 and ex.total_items == 1500
    with pytest.raises(traitlets.TraitError, match="'tab' trait .* expected any of"):
        ex.tab = "nonsense"
    assert ex.tab == "random" and "nonsense" in ex.error
    ex.breakdown_column = "age"
    assert 2 <= len(ex.breakdown) <= 5 and all(" to " in row["group"] for row in ex.breakdown)
    rows = ex.breakdown
    with pytest.raises(traitlets.TraitError, match="cannot break down by 'missing'"):
        ex.breakdown_column = "missing"
    assert ex.breakdown == rows and ex.breakdown_column == "age" and "cannot break down" in ex.error
    with pytest.raises(traitlets.TraitError, match="no spotlight #9: 1 found so far"):
        ex.current = 9
    assert ex.current == 0 and "no spotlight #9" in ex.error


def test_texts_and_tables(data):
    d = data[0]
    texts = [f"review {i} <script>alert({i})</script>" for i in range(1500)]
    ex = SpotlightExplorer(d.embeddings, d.losses, texts, size=30)
    assert ex.wait(60)
    assert ex.kind == "texts" and ex.page_items[0]["text"].startswith("review ")
    plain = SpotlightExplorer(d.embeddings, d.losses, size=30)
    assert plain.wait(60) and plain.kind == "table" and plain.columns == []


def test_bad_construction_arguments(data):
    d, images, meta, _ = data
    with pytest.raises(ValueError, match="items has 10 entries"):
        SpotlightExplorer(d.embeddings, d.losses, images[:10])
    with pytest.raises(ValueError, match="metadata has 3 rows"):
        SpotlightExplorer(d.embeddings, d.losses, metadata=meta[:3])
    with pytest.raises(ValueError, match="labels has 2 entries"):
        SpotlightExplorer(d.embeddings, d.losses, labels=[1, 2])
    with pytest.raises(ValueError, match="image array must be"):
        SpotlightExplorer(d.embeddings, d.losses, np.zeros((1500, 4)))


def test_search_errors_are_shown_not_raised(data):
    d = data[0]
    ex = SpotlightExplorer(d.embeddings, np.zeros(1500), size=30)
    assert ex.wait(60)
    assert ex.status["state"] == "error" and "all losses are equal" in ex.status["message"]
    assert "all losses are equal" in ex.error
    with pytest.raises(RuntimeError, match="all losses are equal"):
        ex.next()


def test_saved_state_stays_small_for_50k_images():
    rng = np.random.default_rng(1)
    n = 50_000
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    losses = rng.exponential(size=n).astype(np.float32)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    ex = SpotlightExplorer(emb, losses, images, metadata=pd.DataFrame({"k": rng.integers(0, 9, n)}))
    assert ex.wait(120)
    ex._on_message(ex, {"type": "select", "id": "s", "mode": "above", "threshold": 0.0}, [])
    state = ex.get_state()
    state.pop("_esm", None)
    state.pop("_css", None)
    size = len(json.dumps(state, default=str))
    assert size < 1_000_000, f"saved state is {size} bytes"


def test_methods_keep_their_own_history_and_selection(data):
    ex, _ = make(data, size=0.04)
    d = data[0]
    assert [m["name"] for m in ex.methods] == SPOTLIGHT_FIRST
    assert ex.methods[4]["noun"] == "cluster"
    spot = ex.spotlight
    ex.selected = [1, 2, 3]
    ex.method = "kmeans"
    assert ex.wait(60)
    assert ex.status["state"] == "idle", ex.status
    cluster = ex.spotlight
    assert cluster.method == "kmeans" and cluster.rank == 0
    assert ex.history[0]["label"] == "cluster" and len(ex.history) == 1
    assert ex.selected == []
    # The worst K-means cluster is mostly the planted group, and the gallery shows it.
    assert np.isin(cluster.indices, d.planted[0]).mean() > 0.5
    assert [it["index"] for it in ex.page_items] == list(cluster.indices[:48])
    second = ex.next()
    assert second.method == "kmeans" and second.rank == 1
    assert second.weighted_loss <= cluster.weighted_loss
    ex.selected = [7]
    frame = ex.to_dataframe(0)
    assert list(frame["index"]) == list(cluster.indices) and (frame["weight"] == 1).all()
    # Back to the Spotlight: its history, result and selection are as they were, no new search.
    ex.method = "spotlight"
    assert ex.wait(10)
    assert ex.spotlight is spot and len(ex.history) == 1 and ex.selected == [1, 2, 3]
    ex.method = "kmeans"
    assert ex.wait(10)
    assert ex.spotlight is second and len(ex.history) == 2 and ex.selected == [7]


def test_method_errors_are_clear(data):
    d, images, _, _ = data
    with pytest.raises(ValueError, match="unknown method"):
        SpotlightExplorer(d.embeddings, d.losses, methods=["spotlight", "magic"])
    with pytest.raises(ValueError, match="influence"):
        SpotlightExplorer(d.embeddings, d.losses, methods=["infembed"])
    with pytest.raises(ValueError, match="rows"):
        SpotlightExplorer(d.embeddings, d.losses, influence=np.ones((3, 4)))
    ex, _ = make(data, size=0.04, methods=["highest-loss", "spotlight"])
    assert ex.method == "highest-loss" and ex.spotlight.method == "highest-loss"
    with pytest.raises(traitlets.TraitError, match="unknown method 'gmm'"):
        ex.method = "gmm"
    assert ex.method == "highest-loss" and "unknown method" in ex.error
    # "Next" with the highest-loss baseline: the next S highest losses.
    first = ex.spotlight
    second = ex.next()
    assert second.method == "highest-loss" and second.rank == 1
    assert d.losses[second.top_indices].max() <= d.losses[first.top_indices].min()


def test_history_captions_say_what_the_spotlight_is(data):
    ex, _ = make(data, size=0.04)
    text = ex.history[0]["caption"]
    # The planted group dominates the first spotlight: the caption says so, as plain text.
    assert "group planted" in text and "overall" in text and "mean loss" in text
    assert "<img" not in text


def test_figures_of_each_view(data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ex, _ = make(data, size=0.04)
    gallery = ex.figure("gallery", n=6, ncols=3)
    assert isinstance(gallery, Figure) and sum(ax.has_data() for ax in gallery.axes) >= 6
    assert gallery.get_suptitle().startswith("Spotlight #1, S = 60: mean loss")
    ex.breakdown_column = "group"
    bars = ex.figure("breakdown")
    assert any("planted" in t.get_text() for ax in bars.axes for t in ax.get_yticklabels())
    ex.size = 0.02
    assert ex.wait(60)
    assert len(ex.figure("sizes", n=4).axes) >= 8
    assert isinstance(ex.figure("size-loss"), Figure)
    with pytest.raises(ValueError, match="unknown view"):
        ex.figure("pie")
    d = data[0]
    on_texts = SpotlightExplorer(d.embeddings, d.losses, [f"text {i}" for i in range(d.losses.shape[0])], size=0.04)
    assert on_texts.wait(60)
    with pytest.raises(ValueError, match="no images"):
        on_texts.figure("gallery")


def test_opponents_tab_lists_training_examples_against_the_result(data):
    d, images, _, _ = data
    rng = np.random.default_rng(3)
    influence = rng.normal(size=(1500, 6))
    train = rng.normal(size=(200, 6))
    # Training rows 0-9 point against the planted group's influence: the strongest opponents.
    direction = influence[d.planted[0]].sum(0)
    train[:10] = -10 * direction / np.linalg.norm(direction)
    train_images = rng.integers(0, 256, size=(200, 8, 8), dtype=np.uint8)
    ex, sent = make(data, size=0.04, influence=influence, train_influence=train, train_items=train_images)
    assert [t["name"] for t in ex.tabs] == ["spotlight", "highest", "random", "opponents"]
    assert ex.train_kind == "images"
    ex.tab = "opponents"
    items = ex.page_items
    assert all(it["source"] == "train" and it["influence"] < 0 for it in items)
    assert [it["influence"] for it in items] == sorted(it["influence"] for it in items)
    assert {it["index"] for it in items[:10]} == set(range(10))
    reply, buffers = ask(ex, sent, {"type": "thumbnails", "id": "t", "indices": [199, 0], "source": "train"})
    assert reply["source"] == "train" and len(buffers) == 2 and buffers[0][:8] == b"\x89PNG\r\n\x1a\n"
    reply, _ = ask(ex, sent, {"type": "thumbnails", "id": "t", "indices": [200], "source": "train"})
    assert "out of range" in reply["error"]
    reply, _ = ask(ex, sent, {"type": "thumbnails", "id": "t", "indices": [1], "source": "elsewhere"})
    assert "source" in reply["error"]
    # Another result brings its own opponents, from the first page.
    ex.page = 1
    ex.method = "highest-loss"
    assert ex.wait(30) and ex.tab == "opponents" and ex.page == 0
    assert ex.page_items and ex.page_items[0]["source"] == "train"


def test_opponents_need_matching_influence(data):
    d, _, _, _ = data
    ex, sent = make(data, size=0.04)
    assert "opponents" not in [t["name"] for t in ex.tabs]
    with pytest.raises(traitlets.TraitError, match="unknown tab"):
        ex.tab = "opponents"
    assert ex.tab == "spotlight" and "unknown tab" in ex.error
    reply, _ = ask(ex, sent, {"type": "thumbnails", "id": "t", "indices": [0], "source": "train"})
    assert "no training examples" in reply["error"]
    infl = np.ones((1500, 4))
    with pytest.raises(ValueError, match="train_influence"):
        SpotlightExplorer(d.embeddings, d.losses, train_items=np.zeros((5, 4, 4)))
    with pytest.raises(ValueError, match="influence="):
        SpotlightExplorer(d.embeddings, d.losses, train_influence=np.ones((5, 4)))
    with pytest.raises(ValueError, match="columns"):
        SpotlightExplorer(d.embeddings, d.losses, influence=infl, train_influence=np.ones((5, 3)))


def test_gallery_sorts_and_filters_by_any_column(data):
    d, _, meta, _ = data
    ex, _ = make(data, size=0.04)
    assert ex.sort_options[:2] == ["weight", "loss"] and "age" in ex.sort_options
    members = list(ex.spotlight.indices)
    ex.sort_by = "loss"
    shown = [it["index"] for it in ex.page_items]
    assert set(shown) <= set(members) and ex.total_items == len(members)
    losses = d.losses[[it["index"] for it in ex.page_items]]
    assert (np.diff(losses) <= 0).all() and ex.page_items[0]["loss"] == max(d.losses[members])
    ex.sort_descending = False
    assert ex.page_items[0]["loss"] == min(d.losses[members])
    # A categorical column groups: every "other" before every "planted", each in weight order.
    ex.sort_by = "group"
    groups = meta["group"].to_numpy()[[it["index"] for it in ex.page_items]]
    assert list(groups) == sorted(groups)
    ex.sort_by = ""
    ex.filter_column = "group"
    assert ex.filter_groups == ["other", "planted"]
    assert [it["index"] for it in ex.page_items] == members[:48]  # no group chosen: no filter
    ex.filter_group = "planted"
    kept = [m for m in members if meta["group"][m] == "planted"]
    assert ex.total_items == len(kept) and [it["index"] for it in ex.page_items] == kept[:48]
    ex.tab = "highest"
    assert all(meta["group"][it["index"]] == "planted" for it in ex.page_items)
    ex.filter_column = "age"
    assert ex.filter_group == "" and len(ex.filter_groups) == 5
    with pytest.raises(traitlets.TraitError, match="cannot sort by 'nonsense'"):
        ex.sort_by = "nonsense"
    assert ex.sort_by == "" and "cannot sort" in ex.error


def test_spotlights_found_elsewhere_are_shown_without_a_search(data):
    from spotlight_widget import find_spotlights

    d = data[0]
    found = find_spotlights(d.embeddings, d.losses, n=2, size=60) + find_spotlights(
        d.embeddings, d.losses, n=1, size=30
    )
    ex = SpotlightExplorer(d.embeddings, d.losses, spotlights=found)
    assert ex.status["state"] == "idle" and len(ex.history) == 3 and ex.current == 0
    assert all(a is b for a, b in zip(ex.spotlights, found, strict=True)) and ex.size == pytest.approx(60 / 1500)
    # "Next" continues the sequence at that size (paper Eq. 6): a new region, not the first again
    # (sequential spotlights may share their fringes).
    third = ex.next()
    assert third.rank == 2 and third.size == 60
    shared = set(third.top_indices) & set(found[0].top_indices)
    assert len(shared) < 0.5 * 60
    with pytest.raises(ValueError, match="1500"):
        SpotlightExplorer(d.embeddings[:100], d.losses[:100], spotlights=found)
    with pytest.raises(TypeError, match="Spotlight"):
        SpotlightExplorer(d.embeddings, d.losses, spotlights=found[0])


def test_counts_keep_to_the_methods_that_honour_them(data):
    d = data[0]
    counts = np.ones(1500)
    ex = SpotlightExplorer(d.embeddings, d.losses, counts=counts, size=0.04)
    assert ex.wait(60) and [m["name"] for m in ex.methods] == ["spotlight"]
    with pytest.raises(ValueError, match="kmeans cannot take counts"):
        SpotlightExplorer(d.embeddings, d.losses, counts=counts, methods=["spotlight", "kmeans"])


@pytest.mark.parametrize("offered", [["error-clusters", "spotlight"], ["error-clusters"]])
def test_a_method_that_finds_nothing_says_so_and_names_the_spotlight_when_offered(offered):
    # Losses drawn at random: no neighbourhood's loss stands out, so error clusters find
    # nothing, where the Spotlight would still return its best ball.
    rng = np.random.default_rng(2)
    ex = SpotlightExplorer(rng.normal(size=(600, 8)), rng.random(600), coords=None, size=30, methods=offered)
    try:
        assert ex.wait(60)
        assert ex.status["state"] == "error"
        assert "Error clusters found no cluster at this size: none stands out" in ex.error
        assert ("the Spotlight, in the method selector" in ex.error) == ("spotlight" in offered)
        with pytest.raises(LookupError, match="no cluster has been found yet"):
            _ = ex.spotlight
        if "spotlight" in offered:
            ex.method = "spotlight"
            assert ex.wait(60)
            assert ex.spotlight.rank == 0
    finally:
        ex.close()
