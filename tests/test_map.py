"""The map's Python side: colour codes, outlines, lasso and box selection, and its messages."""

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
import traitlets

from spotlight_widget import SpotlightExplorer
from spotlight_widget.explorer import mapping
from spotlight_widget.projection import pca
from spotlight_widget.synthetic import planted_clusters

N = 1200


@pytest.fixture(scope="module")
def data():
    d = planted_clusters(n_rows=N, dim=8, n_clusters=6, fractions=(0.05,), seed=2)
    rng = np.random.default_rng(0)
    meta = pd.DataFrame(
        {
            "site": rng.choice(["north", "south", "east"], size=N),
            "age": rng.normal(50, 10, size=N),
            "note": ["<b>x</b>"] * N,
        }
    )
    return d, meta, pca(d.embeddings, dims=2)


def make(data, **kw):
    d, meta, coords = data
    ex = SpotlightExplorer(d.embeddings, d.losses, metadata=meta, coords=kw.pop("coords", coords), size=60, **kw)
    sent = []
    ex.send = lambda content, buffers=None: sent.append((content, buffers or []))
    assert ex.wait(60)
    return ex, sent


def ask(ex, sent, message):
    sent.clear()
    ex._on_message(ex, message, [])
    assert len(sent) == 1
    return sent[0]


# -- pure parts ---------------------------------------------------------------------------


def test_continuous_codes_clip_outliers_and_mark_missing():
    values = np.array([0.0, 0.5, 1.0, np.nan, 7.0, -3.0])
    colors = mapping.continuous(values, "w", lo=0.0, hi=1.0)
    assert colors.codes.tolist() == [0, 127, 254, 255, 254, 0]
    assert colors.legend == {"kind": "continuous", "label": "w", "min": 0.0, "max": 1.0}
    # Default ends: the 1st and 99th percentiles, so one huge value does not wash out the scale.
    spread = np.r_[np.linspace(0, 1, 999), 1e6]
    legend = mapping.continuous(spread, "loss").legend
    assert legend["max"] < 2


def test_categorical_codes_keep_the_most_frequent_and_fold_the_rest():
    values = [f"c{i}" for i in range(25) for _ in range(25 - i)] + [None, np.nan]
    colors = mapping.categorical(values, "kind")
    cats = colors.legend["categories"]
    assert len(cats) == 20 and cats[0] == "c0" and cats[-1] == "other"
    codes = colors.codes
    assert codes[0] == 0 and codes[-1] == 255 and codes[-2] == 255
    assert (codes[:-2][np.array(values[:-2]) == "c24"] == 19).all()
    few = mapping.column_colors(pd.Series([1, 2, 2, 3]), "n")
    assert few.legend["kind"] == "categorical" and few.legend["categories"] == ["2", "1", "3"]
    many = mapping.column_colors(pd.Series(np.arange(100.0)), "x")
    assert many.legend["kind"] == "continuous"


def test_hull_of_a_square_with_inner_points():
    rng = np.random.default_rng(1)
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    inner = rng.uniform(0.1, 0.9, size=(200, 2))
    outline = mapping.hull(np.vstack([inner, corners]))
    assert sorted(map(tuple, outline)) == sorted(map(tuple, corners.tolist()))
    assert mapping.hull(np.array([[0, 0], [1, 1], [2, 2]])) == [[0.0, 0.0], [2.0, 2.0]]
    assert mapping.hull(np.array([[3, 3]])) == [[3.0, 3.0]]


def test_lasso_and_box_pick_exactly_the_points_inside():
    from matplotlib.path import Path

    rng = np.random.default_rng(2)
    coords = rng.uniform(-1, 1, size=(20_000, 2)).astype(np.float32)
    # A concave star: the even-odd rule and a reference implementation must agree.
    angles = np.linspace(0, 2 * np.pi, 11)[:-1]
    radius = np.where(np.arange(10) % 2 == 0, 0.9, 0.3)
    star = np.c_[radius * np.cos(angles), radius * np.sin(angles)]
    expected = np.flatnonzero(Path(star).contains_points(coords))
    assert mapping.inside_polygon(coords, star).tolist() == expected.tolist()
    box = mapping.inside_box(coords, (0.5, 0.2, -0.1, -0.4))
    x, y = coords[:, 0], coords[:, 1]
    assert box.tolist() == np.flatnonzero((x >= -0.1) & (x <= 0.5) & (y >= -0.4) & (y <= 0.2)).tolist()
    assert mapping.combine([1, 5], np.array([5, 9]), "add") == [1, 5, 9]
    assert mapping.combine([1, 5], np.array([5, 9]), "remove") == [1]
    assert mapping.combine([1, 5], np.array([9, 5]), "replace") == [5, 9]


@pytest.mark.parametrize(
    "coords, error, match",
    [
        (np.zeros((N, 3)), ValueError, r"shape \(1200, 2\)"),
        (np.zeros(N), ValueError, "shape"),
        (np.full((N, 2), np.nan), ValueError, "1200 rows with NaN"),
        (np.array([["a", "b"]] * N), TypeError, "numbers"),
    ],
)
def test_coords_a_user_brings_are_checked(data, coords, error, match):
    d, meta, _ = data
    with pytest.raises(error, match=match):
        SpotlightExplorer(d.embeddings, d.losses, coords=coords)


# -- in the explorer ----------------------------------------------------------------------


def test_coords_travel_as_float32_bytes_and_stay_out_of_the_saved_state(data):
    ex, sent = make(data)
    np.testing.assert_array_equal(ex.coords, data[2].astype(np.float32))
    assert ex.map_state["state"] == "ready" and ex.map_state["version"] == 1
    reply, buffers = ask(ex, sent, {"type": "coords", "id": "c"})
    assert reply["n"] == N and reply["version"] == 1 and len(buffers) == 1
    decoded = np.frombuffer(buffers[0], dtype=np.float32).reshape(N, 2)
    np.testing.assert_array_equal(decoded, ex.coords)
    assert reply["bounds"] == pytest.approx([*ex.coords.min(0), *ex.coords.max(0)])
    state = ex.get_state()
    state.pop("_esm", None)
    state.pop("_css", None)
    assert len(json.dumps(state, default=str)) < 30_000


def test_colors_by_weights_loss_and_columns(data):
    ex, sent = make(data)
    reply, (codes,) = ask(ex, sent, {"type": "colors", "id": "w", "by": "weights"})
    weights = ex.spotlight.weights
    codes = np.frombuffer(codes, np.uint8)
    assert reply["legend"]["label"] == "region weight" and len(codes) == N
    np.testing.assert_array_equal(codes, np.rint(np.clip(weights, 0, 1) * 254).astype(np.uint8))
    reply, (codes,) = ask(ex, sent, {"type": "colors", "id": "s", "by": "column:site"})
    codes = np.frombuffer(codes, np.uint8)
    cats = reply["legend"]["categories"]
    assert sorted(cats) == ["east", "north", "south"]
    assert all(cats[c] == s for c, s in zip(codes, data[1]["site"], strict=True))
    reply, _ = ask(ex, sent, {"type": "colors", "id": "a", "by": "column:age"})
    assert reply["legend"]["kind"] == "continuous"
    reply, _ = ask(ex, sent, {"type": "colors", "id": "x", "by": "column:nonsense"})
    assert "cannot colour by" in reply["error"]
    ex.map_color = "loss"
    with pytest.raises(traitlets.TraitError, match="cannot colour the map by 'column:nope'"):
        ex.map_color = "column:nope"
    assert ex.map_color == "loss" and "column:site" in ex.error


def test_lasso_sets_the_selection_to_the_points_inside(data):
    ex, sent = make(data)
    coords = ex.coords
    lo, hi = coords.min(0), coords.max(0)
    mid = (lo + hi) / 2
    triangle = [[float(lo[0]), float(lo[1])], [float(hi[0]), float(lo[1])], [float(mid[0]), float(hi[1])]]
    reply, _ = ask(ex, sent, {"type": "lasso", "id": "l", "polygon": triangle})
    expected = mapping.inside_polygon(coords, np.array(triangle)).tolist()
    assert reply["count"] == len(expected) and ex.selected == expected and 0 < len(expected) < N
    box = [float(lo[0]), float(lo[1]), float(mid[0]), float(mid[1])]
    ask(ex, sent, {"type": "box", "id": "b", "box": box, "mode": "remove"})
    assert ex.selected == np.setdiff1d(expected, mapping.inside_box(coords, tuple(box))).tolist()
    frame = ex.to_dataframe()
    assert frame["index"].tolist() == ex.selected
    for bad, match in [
        ({"polygon": [[0, 0], [1, 1]]}, "3 to"),
        ({"polygon": [[0, 0], [1, "x"], [2, 2]]}, "finite numbers"),
        ({"polygon": triangle, "mode": "xor"}, "mode must be"),
    ]:
        reply, _ = ask(ex, sent, {"type": "lasso", "id": "e", **bad})
        assert match in reply["error"]


def test_each_history_entry_is_outlined_on_the_map(data):
    ex, _ = make(data)
    ex.next()
    layers = ex.map_layers
    assert [layer["label"] for layer in layers] == ["#1", "#2"] and [layer["current"] for layer in layers] == [
        False,
        True,
    ]
    for layer, result in zip(layers, ex.spotlights, strict=True):
        outline = np.array(layer["hull"])
        members = ex.coords[result.top_indices]
        # Every top member lies within the outline's bounding box, and the outline's corners are members.
        assert (members.min(0) >= outline.min(0) - 1e-6).all() and (members.max(0) <= outline.max(0) + 1e-6).all()
        assert all((np.abs(members - corner).sum(1) < 1e-6).any() for corner in outline)
    ex.show(0)
    assert [layer["current"] for layer in ex.map_layers] == [True, False]


def test_without_a_map_the_explorer_still_works(data):
    ex, sent = make(data, coords=None)
    assert ex.map_state["state"] == "none" and ex.map_layers == []
    reply, _ = ask(ex, sent, {"type": "coords", "id": "c"})
    assert "not ready" in reply["error"]
    with pytest.raises(LookupError, match="no map"):
        _ = ex.coords
    assert ex.history


def test_a_failed_projection_is_shown_on_the_map_only(data, monkeypatch):
    from spotlight_widget.explorer import widget

    def broken(*args, **kwargs):
        raise MemoryError("projection out of memory")

    monkeypatch.setattr(widget, "project", broken)
    d, meta, _ = data
    ex, sent = make(data, coords="pca", seed=123)
    with pytest.raises(LookupError, match="out of memory"):
        _ = ex.coords
    assert ex.map_state["state"] == "error" and "out of memory" in ex.map_state["message"]
    assert ex.status["state"] == "idle" and ex.history


def test_a_selection_becomes_a_result_of_its_own(data):
    d, meta, _ = data
    ex, sent = make(data)
    assert [m["name"] for m in ex.methods] == ["pooled", "spotlight", "error-clusters", "highest-loss", "kmeans", "gmm"]
    reply, _ = ask(ex, sent, {"type": "describe", "id": "d"})
    assert "nothing is selected" in reply["error"] and ex.method == "pooled"
    north = np.flatnonzero(meta["site"] == "north")[:40].tolist()
    ex.selected = north
    reply, _ = ask(ex, sent, {"type": "describe", "id": "d"})
    assert reply["count"] == 40 and ex.method == "selection"
    assert ex.methods[-1]["name"] == "selection" and ex.methods[-1]["noun"] == "selection"
    described = ex.spotlight
    assert sorted(described.top_indices.tolist()) == north and ex.history[0]["members"] == 40
    # Described like any result: its caption and breakdown say it is all "north".
    assert "site north" in ex.history[0]["caption"]
    ex.breakdown_column = "site"
    assert ex.breakdown[0]["group"] == "north" and ex.breakdown[0]["share_in"] == pytest.approx(1.0)
    assert len(ex.map_layers) == 1 and sorted(ex.to_dataframe(0)["index"]) == north
    # Selections are described, not searched.
    with pytest.raises(RuntimeError, match="described, not searched"):
        ex.next()
    ex.method = "pooled"
    assert ex.selected == north and ex.wait(10) and ex.spotlight.method == "pooled"


def test_the_map_as_a_matplotlib_figure(data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ex, _ = make(data)
    ex.next()
    ex.selected = [0, 1, 2]
    fig = ex.figure("map")
    ax = fig.axes[0]
    # The points, the circled selection, then one line per history entry.
    assert len(ax.collections) == 2 and len(ax.lines) == 2
    assert ax.collections[1].get_offsets().shape == (3, 2)
    assert [t.get_text() for t in ax.texts] == ["#1", "#2"]
    ex.map_color = "column:site"
    fig = ex.figure("map")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(legend) == ["east", "north", "south"]
    from spotlight_widget.figures import map_figure

    with pytest.raises(ValueError, match="shape"):
        map_figure(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="color has 2 values"):
        map_figure(np.zeros((5, 2)), [1, 2])


def test_the_map_starts_when_something_shows_it(data):
    d, meta, _ = data
    ex, sent = make(data, coords="pca")
    # Used from Python only: no projection runs.
    assert ex.map_state["state"] == "none" and ex.map_state["projection"] == "pca"
    reply, _ = ask(ex, sent, {"type": "thumbnails", "id": "t", "indices": []})
    assert ex.map_state["state"] == "none"
    # The front end's map asks for coordinates: that starts them.
    reply, buffers = ask(ex, sent, {"type": "coords", "id": "c"})
    assert "error" not in reply and buffers in ([], [ex.coords.tobytes()])
    assert ex.map_state["state"] == "ready" and ex.map_state["version"] == 1
    np.testing.assert_allclose(ex.coords, pca(d.embeddings, dims=2), atol=1e-5)
    # Displaying the widget starts it too.
    shown, _ = make(data, coords="pca")
    shown._repr_mimebundle_()
    assert shown.coords.shape == (N, 2)


def test_a_slow_map_is_previewed_with_pca_then_replaced(data, monkeypatch):

    from spotlight_widget.explorer import widget

    d, meta, coords = data
    release = threading.Event()
    final = np.random.default_rng(5).normal(size=(N, 2)).astype(np.float32)

    def slow(embeddings, method, **kwargs):
        assert method == "scvis"
        release.wait(10)
        return final

    monkeypatch.setattr(widget, "project", slow)
    ex, sent = make(data, coords="scvis", seed=77)
    states = []
    ex.observe(lambda change: states.append(dict(change["new"])), names=["map_state"])
    ask(ex, sent, {"type": "coords", "id": "start"})
    deadline = time.monotonic() + 10
    while not any(s["refining"] for s in states) and time.monotonic() < deadline:
        time.sleep(0.05)
    preview = next(s for s in states if s["refining"])
    assert preview["state"] == "ready" and preview["projection"] == "pca" and preview["version"] == 1
    reply, (buffer,) = ask(ex, sent, {"type": "coords", "id": "c1"})
    np.testing.assert_allclose(np.frombuffer(buffer, np.float32).reshape(N, 2), pca(d.embeddings, dims=2), atol=1e-5)
    release.set()
    np.testing.assert_array_equal(ex.coords, final)
    assert ex.map_state["projection"] == "scvis" and ex.map_state["version"] == 2 and not ex.map_state["refining"]
    # A region drawn on the preview is refused once the map has changed.
    triangle = [[-1.0, -1.0], [1.0, -1.0], [0.0, 1.0]]
    reply, _ = ask(ex, sent, {"type": "lasso", "id": "old", "polygon": triangle, "version": 1})
    assert "draw it again" in reply["error"]
    reply, _ = ask(ex, sent, {"type": "lasso", "id": "new", "polygon": triangle, "version": 2})
    assert reply["count"] == len(mapping.inside_polygon(final, np.array(triangle)))
