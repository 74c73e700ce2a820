"""Static figures: rendered with Agg, no pyplot state, text from the data shown literally."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spotlight_widget import figures
from spotlight_widget.describe import describe
from spotlight_widget.slices import Slice

N = 60
RED = np.array([255, 0, 0], dtype=np.uint8)


def spot(weights, losses=None):
    return SimpleNamespace(weights=np.asarray(weights, dtype=float), losses=losses, counts=None)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    weights = np.zeros(N)
    weights[:12] = np.linspace(1.0, 0.1, 12)
    losses = np.where(weights > 0, 2.0, 0.3) + rng.random(N)
    images = np.zeros((N, 3, 8, 8), dtype=np.uint8)  # channels first, all black
    images[0, 0] = 255  # the highest-weight image is pure red
    return SimpleNamespace(sp=spot(weights, losses), weights=weights, losses=losses, images=images)


def pixels(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


def has_red(fig) -> bool:
    return bool((pixels(fig) == RED).all(axis=-1).any())


# -- gallery -------------------------------------------------------------------------------


def test_gallery_axes_titles_and_pixels(data):
    fig = figures.gallery_figure(data.sp, data.images, n=8, ncols=4, labels=np.arange(N) % 10)
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    first = fig.axes[0].get_title()
    assert first.startswith("w 1.00") and f"loss {data.losses[0]:.3g}" in first and first.endswith("\n0")
    assert "mean loss" in fig.get_suptitle()
    assert has_red(fig)
    # Without the red image among the shown ones, no red pixel appears.
    reordered = data.images[::-1].copy()
    assert not has_red(figures.gallery_figure(data.sp, reordered, n=8))


def test_gallery_shows_only_members_and_accepts_every_layout(data):
    assert len(figures.gallery_figure(data.sp, data.images, n=25).axes) == 12
    red = data.images[0].transpose(1, 2, 0)
    layouts = {
        "channels last": np.broadcast_to(red, (N, 8, 8, 3)),
        "floats in [0, 1]": np.broadcast_to(red / 255.0, (N, 8, 8, 3)),
        "int16 0-255": np.broadcast_to(red.astype(np.int16), (N, 8, 8, 3)),
        "list": [red] * N,
    }
    for name, images in layouts.items():
        assert has_red(figures.gallery_figure(data.sp, images, n=2)), name
    grey = np.random.default_rng(1).normal(size=(N, 8, 8))  # stretched per image
    assert len(figures.gallery_figure(data.sp, grey, n=3).axes) == 3
    assert len(figures.gallery_figure(data.sp, grey > 0, n=3).axes) == 3


def test_gallery_text_is_literal(data):
    labels = np.array(["$x^$"] * N, dtype=object)
    fig = figures.gallery_figure(data.sp, data.images, n=2, labels=labels, predictions=labels, title="cost $5 $")
    pixels(fig)  # mathtext would raise on "$x^$"
    title = fig.axes[0].title
    assert title._preprocess_math(title.get_text()) == (title.get_text().replace(r"\$", "$"), False)
    assert "$x^$ \u2192 $x^$" in title.get_text().replace(r"\$", "$")


def test_gallery_bad_inputs(data):
    with pytest.raises(ValueError, match="59 entries for 60"):
        figures.gallery_figure(data.sp, data.images[:-1])
    with pytest.raises(ValueError, match="shape"):
        figures.gallery_figure(data.sp, np.zeros((N, 8)))
    with pytest.raises(ValueError, match="an image must be"):
        figures.gallery_figure(data.sp, np.zeros((N, 5, 8, 8)))
    with pytest.raises(ValueError, match="positive"):
        figures.gallery_figure(data.sp, data.images, n=0)
    with pytest.raises(ValueError, match="empty"):
        figures.gallery_figure(spot(np.zeros(N)), data.images)


def test_gallery_draws_into_a_given_figure(data):
    fig = Figure()
    assert figures.gallery_figure(data.sp, data.images, n=3, fig=fig) is fig and len(fig.axes) == 3


# -- breakdown -----------------------------------------------------------------------------


def test_breakdown_from_a_spotlight_and_from_a_table(data):
    group = np.where(data.weights > 0, "in $a$ group", "out")
    meta = pd.DataFrame({"price $": group, "other": np.arange(N) % 3})
    fig = figures.breakdown_figure(data.sp, meta)
    pixels(fig)
    (ax,) = fig.axes
    assert "price" in ax.get_title() and "inside the spotlight vs overall" in ax.get_title()
    ticks = [t.get_text().replace(r"\$", "$") for t in ax.get_yticklabels()]
    table = describe(data.sp, meta, columns=["price $"])
    assert ticks == list(table["group"])
    inside = [p.get_width() for p in ax.patches[: len(table)]]
    np.testing.assert_allclose(inside, 100 * table["share_in"])

    full = describe(data.sp, meta)
    fig = figures.breakdown_figure(full, column="other", top=2)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(full[full["column"] == "other"]["group"][:2])


def test_breakdown_on_given_axes_and_bad_inputs(data):
    fig = Figure()
    ax = fig.add_subplot()
    meta = {"g": np.where(data.weights > 0, "a", "b")}
    assert figures.breakdown_figure(data.sp, meta, ax=ax) is fig and len(fig.axes) == 1
    with pytest.raises(ValueError, match="metadata is required"):
        figures.breakdown_figure(data.sp)
    with pytest.raises(ValueError, match="lacks columns"):
        figures.breakdown_figure(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="no column"):
        figures.breakdown_figure(describe(data.sp, meta), column="h")


# -- sizes and losses ----------------------------------------------------------------------


def test_sizes_figure_rows(data):
    small = Slice("spotlight", data.weights * (data.weights > 0.5), data.losses)
    large = Slice("spotlight", data.weights, data.losses)
    fig = figures.sizes_figure([small, large], data.images, n=4)
    assert len(fig.subfigs) == 2 and len(fig.axes) == 8
    titles = [sf.get_suptitle() for sf in fig.subfigs]
    assert titles[0] == f"size {100 * small.size / N:.2g}% (mean loss {small.weighted_loss:.3g})"
    assert has_red(fig)
    with pytest.raises(ValueError, match="different numbers"):
        figures.sizes_figure([small, Slice("x", np.ones(5))], data.images)


def test_size_loss_points(data):
    rng = np.random.default_rng(2)
    clusters = [Slice("kmeans", (np.arange(N) % 6 == k).astype(float), data.losses) for k in range(6)]
    second = spot(np.clip(1 - rng.random(N) * 2, 0, 1), data.losses)
    fig = figures.size_loss_figure([data.sp, second], clusters)
    ax = fig.axes[0]
    dots, stars = ax.collections
    sizes = [100 * c.weights.mean() for c in clusters]
    np.testing.assert_allclose(dots.get_offsets()[:, 0], sizes)
    np.testing.assert_allclose(dots.get_offsets()[:, 1], [c.weighted_loss for c in clusters])
    w = data.weights
    np.testing.assert_allclose(stars.get_offsets()[0], [100 * w.mean(), w @ data.losses / w.sum()])
    assert ax.get_legend().get_texts()[0].get_text() == "kmeans clusters"
    assert ax.get_xscale() == "linear"
    pixels(fig)


def test_size_loss_shared_losses_log_scale_and_errors(data):
    tiny = spot((np.arange(N) == 0).astype(float))
    big = spot((np.arange(N) < 40).astype(float))
    flat = np.ones(N)
    fig = figures.size_loss_figure([tiny], [big], losses=flat)
    assert fig.axes[0].get_xscale() == "log"
    np.testing.assert_allclose(fig.axes[0].collections[1].get_offsets()[0, 1], 1.0)
    with pytest.raises(ValueError, match="no losses"):
        figures.size_loss_figure([tiny])
    with pytest.raises(ValueError, match="nothing to plot"):
        figures.size_loss_figure([])
    with pytest.raises(ValueError, match="3 entries for 60"):
        figures.size_loss_figure([tiny], losses=[1.0, 2.0, 3.0])


# -- packaging -----------------------------------------------------------------------------


def test_missing_matplotlib_names_the_extra(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"spotlight-widget\[figures\]"):
        figures.gallery_figure(data.sp, data.images)


def test_the_engine_and_summaries_do_not_import_matplotlib():
    code = (
        "import sys, spotlight_widget, spotlight_widget.describe, spotlight_widget.figures; "
        "print(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
