import threading

import numpy as np
import pandas as pd
import pytest

from spotlight_widget import find_spotlight
from spotlight_widget.engine import SearchCancelled, Spotlight
from spotlight_widget.slices import (
    Slice,
    SliceLike,
    available_methods,
    find_slices,
    gmm_slices,
    highest_loss,
    kmeans_slices,
    register_method,
)
from spotlight_widget.slices import registry as slices_module

from .conftest import precision


@pytest.fixture(scope="module")
def spotlight(planted):
    return find_spotlight(planted.embeddings, planted.losses, size=0.02)


@pytest.fixture
def isolated_registry(monkeypatch):
    monkeypatch.setattr(slices_module, "_METHODS", dict(slices_module._METHODS))


# --- the Slice type and the protocol -------------------------------------------------


def test_slice_and_spotlight_satisfy_the_protocol(spotlight):
    sl = Slice("kmeans", np.r_[1.0, 0.0, 1.0], losses=np.r_[1.0, 2.0, 3.0])
    assert isinstance(sl, SliceLike)
    assert isinstance(spotlight, SliceLike)
    assert spotlight.method == "spotlight"
    assert not isinstance(np.zeros(3), SliceLike)


def test_summaries_of_spotlights_and_slices_tabulate_together(spotlight, planted):
    sl = highest_loss(None, planted.losses, n=1, size=0.02)[0]
    assert spotlight.summary().keys() == sl.summary().keys()
    table = pd.DataFrame([spotlight.summary(), sl.summary()])
    assert table["method"].tolist() == ["spotlight", "highest-loss"]
    assert table.loc[0, "weighted_loss"] == pytest.approx(spotlight.weighted_loss)
    assert table.loc[0, "size"] == spotlight.size
    assert table.loc[1, "score"] == pytest.approx(planted.losses[sl.top_indices].mean())


def test_indices_order_by_weight_then_loss_then_index():
    rng = np.random.default_rng(0)
    weights = rng.choice([0.0, 0.25, 0.5, 1.0], size=200)
    losses = rng.choice([0.5, 1.0, 2.0], size=200)
    sl = Slice("x", weights, losses=losses)
    expected = sorted(np.flatnonzero(weights > 0), key=lambda i: (-weights[i], -losses[i], i))
    np.testing.assert_array_equal(sl.indices, expected)


def test_indices_without_losses_tie_by_index():
    sl = Slice("x", [0.5, 1.0, 0.5, 0.0, 1.0])
    np.testing.assert_array_equal(sl.indices, [1, 4, 0, 2])


def test_hard_slice_size_mass_and_losses():
    weights = np.zeros(10)
    weights[[2, 5, 7]] = 1
    losses = np.arange(10.0)
    sl = Slice("x", weights, losses=losses)
    assert sl.size == 3 and sl.mass == 3.0
    assert sl.weighted_loss == pytest.approx((2 + 5 + 7) / 3)
    assert sl.top_loss == pytest.approx(sl.weighted_loss)
    np.testing.assert_array_equal(sl.top_indices, [7, 5, 2])


def test_soft_slice_size_is_the_rounded_mass():
    weights = np.array([0.9, 0.8, 0.6, 0.3, 0.1, 0.0])
    losses = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    sl = Slice("gmm", weights, losses=losses)
    assert sl.mass == pytest.approx(2.7)
    assert sl.size == 3
    np.testing.assert_array_equal(sl.top_indices, [0, 1, 2])
    assert sl.weighted_loss == pytest.approx(weights @ losses / weights.sum())
    assert Slice("gmm", [0.2, 0.0]).size == 1


def test_without_losses_the_loss_summaries_are_nan():
    sl = Slice("x", [1.0, 0.0])
    assert np.isnan(sl.weighted_loss) and np.isnan(sl.top_loss) and np.isnan(sl.score)
    frame = sl.to_frame()
    assert list(frame.columns) == ["index", "weight", "loss", "count", "in_top"]
    assert frame["loss"].isna().all()


def test_to_frame_lists_members_highest_weight_first():
    sl = Slice("x", [0.2, 0.0, 0.9], losses=[5.0, 6.0, 7.0])
    frame = sl.to_frame()
    assert list(frame.columns) == ["index", "weight", "loss", "count", "in_top"]
    assert frame["index"].tolist() == [2, 0]
    assert frame["loss"].tolist() == [7.0, 5.0]
    assert frame["count"].tolist() == [1.0, 1.0]


def test_to_frame_marks_the_top_set_and_matches_the_spotlights_columns(spotlight, planted):
    soft = Slice("gmm", [0.9, 0.6, 0.3, 0.1, 0.0], losses=[1.0, 2.0, 3.0, 4.0, 5.0])
    assert soft.size == 2
    assert soft.to_frame()["in_top"].tolist() == [True, True, False, False]
    assert Slice("x", [0.5, 0.0]).to_frame()["loss"].isna().all()
    spot_frame = spotlight.to_frame()
    assert list(spot_frame.columns) == list(soft.to_frame().columns)
    assert spot_frame["in_top"].sum() == spotlight.size
    assert sorted(spot_frame.loc[spot_frame["in_top"], "index"]) == sorted(spotlight.top_indices)
    sl = kmeans_slices(planted.embeddings, planted.losses, n=1)[0]
    assert sl.to_frame()["in_top"].sum() == sl.size


def test_stores_read_only_copies():
    weights = np.array([1.0, 0.0, 1.0])
    losses = np.array([1.0, 2.0, 3.0])
    info = {"k": 3}
    sl = Slice("x", weights, losses=losses, info=info)
    weights[1] = 1.0
    losses[0] = 100.0
    info["k"] = 4
    assert sl.weights[1] == 0.0 and sl.losses[0] == 1.0 and sl.info["k"] == 3
    with pytest.raises(ValueError):
        sl.weights[0] = 0.5
    with pytest.raises(ValueError):
        sl.indices[0] = 1
    with pytest.raises(TypeError):
        sl.info["k"] = 5


def test_accepts_lists_bools_and_torch():
    torch = pytest.importorskip("torch")
    sl = Slice("x", torch.tensor([True, False, True]), losses=[1, 2, 3])
    assert sl.weights.dtype == np.float64
    np.testing.assert_array_equal(sl.indices, [2, 0])


def test_repr_names_method_rank_and_size():
    text = repr(Slice("kmeans", [1.0, 1.0, 0.0, 0.0], losses=[1.0, 2.0, 3.0, 4.0], rank=2, score=1.5))
    assert "kmeans" in text and "rank=2" in text and "size=2" in text and "hard" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weights": [0.5, np.nan]}, ValueError, "NaN"),
        ({"weights": [0.5, 1.5]}, ValueError, r"\[0, 1\].*first at \[1\]"),
        ({"weights": [-0.1, 0.5]}, ValueError, r"\[0, 1\]"),
        ({"weights": [0.0, 0.0]}, ValueError, "all zero"),
        ({"weights": []}, ValueError, "empty"),
        ({"weights": [[0.5, 1.0], [1.0, 0.0]]}, ValueError, "1-D"),
        ({"weights": ["a", "b"]}, TypeError, "numeric"),
        ({"weights": [1.0, 0.0], "losses": [1.0, 2.0, 3.0]}, ValueError, "losses has 3 entries but weights has 2"),
        ({"weights": [1.0, 0.0], "losses": [1.0, np.inf]}, ValueError, "losses.*NaN or infinite"),
        ({"method": ""}, ValueError, "Slice: method must be a non-empty str"),
        ({"method": 3}, TypeError, r"Slice: method must be a str; got 3 \(int\)"),
        ({"rank": -1}, ValueError, r"Slice: rank must be an int in \[0, inf\); got -1"),
        ({"rank": True}, TypeError, r"Slice: rank must be an int in \[0, inf\); got True \(bool\)"),
        ({"score": "high"}, TypeError, "score"),
        ({"info": [1, 2]}, TypeError, "info"),
    ],
)
def test_validation(kwargs, error, match):
    args = {"method": "x", "weights": [1.0, 0.0], **kwargs}
    with pytest.raises(error, match=match):
        Slice(**args)


# --- highest-loss ---------------------------------------------------------------------


def test_highest_loss_is_the_top_s_losses(planted):
    sl = highest_loss(planted.embeddings, planted.losses, n=1, size=0.02)[0]
    s = round(0.02 * planted.losses.shape[0])
    assert sl.size == s and sl.is_hard and sl.method == "highest-loss" and sl.rank == 0
    assert planted.losses[sl.top_indices].min() >= np.delete(planted.losses, sl.top_indices).max()
    assert highest_loss(None, planted.losses, n=1, size=s)[0].indices.tolist() == sl.indices.tolist()


def test_highest_loss_ranks_successive_blocks_of_s():
    losses = np.array([5.0, 1.0, 9.0, 7.0, 3.0, 8.0, 2.0])
    found = highest_loss(None, losses, n=5, size=2)
    assert [s.rank for s in found] == [0, 1, 2]
    assert [sorted(s.indices.tolist()) for s in found] == [[2, 5], [0, 3], [4, 6]]
    assert [s.score for s in found] == [8.5, 6.0, 2.5]


def test_highest_loss_breaks_ties_by_index():
    sl = highest_loss(None, [1.0, 3.0, 3.0, 3.0, 0.0], size=2)[0]
    assert sorted(sl.indices.tolist()) == [1, 2]


def test_highest_loss_checks_embeddings_when_given(planted):
    with pytest.raises(ValueError, match="losses has 3000 entries but the embeddings have 10 rows"):
        highest_loss(planted.embeddings[:10], planted.losses)


@pytest.mark.parametrize(("size", "error"), [(0, ValueError), (5, ValueError), (1.5, ValueError), ("2%", TypeError)])
def test_highest_loss_rejects_bad_sizes(size, error):
    with pytest.raises(error, match="size"):
        highest_loss(None, np.arange(5.0), size=size)


# --- clustering baselines -------------------------------------------------------------


@pytest.mark.parametrize("fit", [kmeans_slices, gmm_slices])
def test_clusters_recover_the_planted_group(fit, planted):
    found = fit(planted.embeddings, planted.losses, size=0.02, n=3)
    assert len(found) == 3
    assert precision(found[0], planted.planted[0]) > 0.9
    assert [s.rank for s in found] == [0, 1, 2]


@pytest.mark.parametrize("fit", [kmeans_slices, gmm_slices])
def test_two_planted_groups_are_the_two_worst_clusters(fit, two_planted):
    found = fit(two_planted.embeddings, two_planted.losses, size=0.02, n=2)
    best = [max(precision(s, rows) for s in found) for rows in two_planted.planted]
    assert min(best) > 0.8


@pytest.mark.parametrize("fit", [kmeans_slices, gmm_slices])
def test_clusters_are_ranked_by_their_mean_loss(fit, planted):
    found = fit(planted.embeddings, planted.losses, size=0.02, n=6)
    means = [s.weights @ planted.losses / s.weights.sum() for s in found]
    np.testing.assert_allclose([s.score for s in found], means, rtol=1e-9)
    assert means == sorted(means, reverse=True)


def test_kmeans_clusters_are_disjoint_hard_slices(planted):
    found = kmeans_slices(planted.embeddings, planted.losses, k=10, n=10)
    assert all(s.is_hard for s in found)
    assert sum(s.size for s in found) == planted.losses.shape[0]
    assert len(np.unique(np.concatenate([s.indices for s in found]))) == planted.losses.shape[0]


def test_gmm_weights_are_responsibilities(planted):
    found = gmm_slices(planted.embeddings, planted.losses, k=10, n=10, min_weight=0.0)
    total = np.sum([s.weights for s in found], axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert found[0].info["covariance_type"] == "diag" and found[0].info["dim"] == 32


def test_number_of_clusters_follows_the_size_unless_given(planted):
    n_rows = planted.losses.shape[0]
    assert kmeans_slices(planted.embeddings, planted.losses, size=0.05, n=1)[0].info["k"] == 20
    assert kmeans_slices(planted.embeddings, planted.losses, size=100, n=1)[0].info["k"] == n_rows // 100
    assert kmeans_slices(planted.embeddings, planted.losses, size=0.05, k=7, n=1)[0].info["k"] == 7


def test_fewer_slices_when_fewer_clusters(planted):
    assert len(kmeans_slices(planted.embeddings, planted.losses, k=4, n=10)) == 4


def test_min_size_skips_a_tiny_outlier_cluster(planted):
    emb = np.vstack([planted.embeddings, planted.embeddings[:3] + 1000.0])
    losses = np.concatenate([planted.losses, [30.0, 30.0, 30.0]])
    outlier = np.arange(planted.losses.shape[0], losses.shape[0])
    first = kmeans_slices(emb, losses, size=0.02, n=1, dim=None)[0]
    assert sorted(first.indices.tolist()) == outlier.tolist()
    first = kmeans_slices(emb, losses, size=0.02, n=1, dim=None, min_size=10)[0]
    assert not np.isin(first.indices, outlier).any()
    assert precision(first, planted.planted[0]) > 0.9


@pytest.mark.parametrize("fit", [kmeans_slices, gmm_slices])
def test_same_seed_same_slices(fit, planted):
    a = fit(planted.embeddings, planted.losses, n=2, seed=3)
    b = fit(planted.embeddings, planted.losses, n=2, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.weights, y.weights)


@pytest.mark.parametrize("fit", [kmeans_slices, gmm_slices])
def test_progress_and_cancel(fit, planted):
    seen = []
    fit(planted.embeddings, planted.losses, n=1, progress=seen.append)
    assert [p.stage for p in seen] == ["reduce", "fit", "rank", "rank"]
    assert seen[-1].step == seen[-1].total
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SearchCancelled):
        fit(planted.embeddings, planted.losses, n=1, cancel=cancel)


@pytest.mark.parametrize("fit", [kmeans_slices, gmm_slices])
@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"losses": np.ones(5)}, ValueError, "losses has 5 entries"),
        ({"embeddings": np.full((10, 3), np.nan)}, ValueError, "embeddings has 10 rows with NaN"),
        ({"embeddings": np.ones(10)}, ValueError, "2-D"),
        ({"k": 1}, ValueError, r"k must be None or an int in \[2, inf\); got 1"),
        ({"k": 11}, ValueError, r"k \(11\) cannot exceed the number of examples \(10\)"),
        ({"k": 2.5}, TypeError, r"k must be None or an int .*; got 2.5 \(float\)"),
        ({"n": 0}, ValueError, "n must be"),
        ({"size": 10}, ValueError, "smaller than the data"),
    ],
)
def test_clustering_rejects_bad_input(fit, change, error, match):
    rng = np.random.default_rng(0)
    args = {"embeddings": rng.normal(size=(10, 3)), "losses": rng.random(10), **change}
    with pytest.raises(error, match=match):
        fit(**args)


def test_gmm_rejects_bad_options(planted):
    with pytest.raises(ValueError, match="covariance_type"):
        gmm_slices(planted.embeddings, planted.losses, covariance_type="round")
    with pytest.raises(ValueError, match="min_weight"):
        gmm_slices(planted.embeddings, planted.losses, min_weight=1.0)


# --- find_slices and the registry -----------------------------------------------------


def test_builtin_methods_are_available():
    assert {"spotlight", "highest-loss", "kmeans", "gmm"} <= set(available_methods())


@pytest.mark.parametrize("method", ["spotlight", "highest-loss", "kmeans", "gmm"])
def test_find_slices_runs_every_method(method, planted):
    found = find_slices(method, planted.embeddings, planted.losses, n=2, size=0.02)
    assert 1 <= len(found) <= 2
    assert all(isinstance(s, SliceLike) for s in found)
    assert all(s.method == method for s in found)
    assert [s.rank for s in found] == list(range(len(found)))
    assert found[0].weights.shape == planted.losses.shape
    if method == "spotlight":
        assert all(isinstance(s, Spotlight) for s in found)
    if method == "highest-loss":
        assert len(found) == 2 and not set(found[0].indices) & set(found[1].indices)
    else:
        assert precision(found[0], planted.planted[0]) > 0.9


def test_find_slices_passes_options_to_the_method(planted):
    found = find_slices("kmeans", planted.embeddings, planted.losses, n=1, k=5, dim=8)
    assert found[0].info["k"] == 5 and found[0].info["dim"] == 8
    spot = find_slices("spotlight", planted.embeddings, planted.losses, n=1, preset="fast", restarts=2)[0]
    assert spot.preset == "fast"
    with pytest.raises(TypeError, match="unexpected keyword"):
        find_slices("gmm", planted.embeddings, planted.losses, colour="red")
    with pytest.raises(TypeError, match="unexpected keyword argument 'k'"):
        find_slices("highest-loss", planted.embeddings, planted.losses, k=3)


def test_find_slices_highest_loss_without_embeddings(planted):
    found = find_slices("highest-loss", None, planted.losses, size=30)
    assert found[0].size == 30
    with pytest.raises(ValueError, match="losses has 3000 entries but the embeddings have 10 rows"):
        find_slices("highest-loss", planted.embeddings[:10], planted.losses)


def test_find_slices_rejects_unknown_methods_and_bad_arguments(planted):
    with pytest.raises(ValueError, match="find_slices: method must be one of .*'gmm'.*'kmeans'.*; got 'dbscan'$"):
        find_slices("dbscan", planted.embeddings, planted.losses)
    with pytest.raises(TypeError, match="method must be a str"):
        find_slices(None, planted.embeddings, planted.losses)
    with pytest.raises(TypeError, match=r"size must be a number in \(0, 1\) or an int in \[1, inf\)"):
        find_slices("kmeans", planted.embeddings, planted.losses, size=[0.01, 0.02])
    with pytest.raises(ValueError, match="n must be"):
        find_slices("kmeans", planted.embeddings, planted.losses, n=0)


@pytest.mark.parametrize(
    "method", ["spotlight", "highest-loss", "kmeans", "gmm", "planespot", "domino-style", "infembed"]
)
@pytest.mark.parametrize("kind", ["event", "callable"])
def test_every_builtin_method_stops_when_cancel_is_already_set(method, kind, planted):
    stop = threading.Event()
    stop.set()
    cancel = stop if kind == "event" else stop.is_set
    labels = (planted.losses > np.median(planted.losses)).astype(int)
    probs = np.clip(1.0 - planted.losses / planted.losses.max(), 0.0, 1.0)
    seen = []
    with pytest.raises(SearchCancelled):
        find_slices(
            method, planted.embeddings, planted.losses, labels=labels, probs=probs, cancel=cancel, progress=seen.append
        )
    assert seen == []


def test_registered_methods_receive_the_common_arguments(isolated_registry, planted):
    calls = []

    def finder(embeddings, losses, *, n, size, seed, progress, cancel, **options):
        calls.append({"n": n, "size": size, "seed": seed, "cancel": cancel, "options": options})
        return [Slice("mine", np.asarray(losses) > 5, losses=losses)]

    register_method("mine", finder)
    assert "mine" in available_methods()
    stop = threading.Event()
    found = find_slices("mine", planted.embeddings, planted.losses, n=4, size=50, seed=9, cancel=stop, alpha=1)
    assert calls == [{"n": 4, "size": 50, "seed": 9, "cancel": stop, "options": {"alpha": 1}}]
    assert found[0].method == "mine"


def test_register_method_refuses_silent_replacement(isolated_registry):
    def finder(*args, **kwargs):
        return []

    with pytest.raises(ValueError, match="already registered"):
        register_method("kmeans", finder)
    register_method("kmeans", finder, replace=True)
    assert find_slices("kmeans", np.zeros((3, 2)), np.zeros(3)) == []
    with pytest.raises(TypeError, match="callable"):
        register_method("other", "not a function")


def test_find_slices_rejects_a_method_that_returns_no_slices(isolated_registry, planted):
    register_method("broken", lambda *args, **kwargs: [np.zeros(3)])
    with pytest.raises(TypeError, match="'broken' returned objects that are not slices"):
        find_slices("broken", planted.embeddings, planted.losses)


def test_plugins_register_on_first_use_and_broken_ones_only_warn(isolated_registry, monkeypatch, tmp_path):
    (tmp_path / "slice_plugin_ok.py").write_text(
        "import numpy as np\n"
        "from spotlight_widget.slices import Slice, register_method\n"
        "register_method('plugged', lambda e, l, **kw: [Slice('plugged', np.ones(len(l)))])\n"
    )
    (tmp_path / "slice_plugin_broken.py").write_text("import a_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(slices_module, "_PLUGINS", ("slice_plugin_missing", "slice_plugin_broken", "slice_plugin_ok"))
    monkeypatch.setattr(slices_module, "_plugins_loaded", False)
    with pytest.warns(RuntimeWarning, match="slice_plugin_broken are unavailable"):
        found = find_slices("plugged", None, np.arange(4.0))
    assert found[0].method == "plugged"
    assert "kmeans" in available_methods()
