import importlib
import sys
import threading

import numpy as np
import pytest
import torch
from sklearn.manifold import trustworthiness as sklearn_trustworthiness

from spotlight_widget.engine import SearchCancelled
from spotlight_widget.projection import (
    AUTO_SCVIS_MAX_ROWS,
    auto_method,
    default_iterations,
    knn_preservation,
    pca,
    project,
    projection_quality,
    scvis,
    trustworthiness,
    umap,
)
from spotlight_widget.projection import api as projection_api
from spotlight_widget.projection import quality as quality_module
from spotlight_widget.projection._affinities import conditional_affinities

# The package exports functions named like their modules: reach the modules themselves.
pca_module = importlib.import_module("spotlight_widget.projection.pca")


def _blobs(n_per=100, n_blobs=4, dim=50, spread=8.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_blobs, dim)) * spread
    blob = np.repeat(np.arange(n_blobs), n_per)
    return (centres[blob] + rng.normal(size=(blob.size, dim))).astype(np.float32), blob


def _knn_purity(z, groups, k=10):
    dist = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    near = np.argsort(dist, axis=1)[:, :k]
    return float((groups[near] == groups[:, None]).mean())


@pytest.fixture(scope="module")
def blobs():
    return _blobs()


@pytest.fixture(scope="module")
def blob_map(blobs):
    x, _ = blobs
    return scvis(x, iterations=150, seed=0, threads=1)


# --- PCA ----------------------------------------------------------------------------------


def test_pca_follows_the_largest_variance_and_is_deterministic():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5)) * np.array([10.0, 3.0, 1.0, 0.5, 0.1])
    z = pca(x)
    assert z.shape == (500, 2) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    # The first axis is the first coordinate, up to the fixed sign rule (largest loading positive).
    np.testing.assert_allclose(z[:, 0], x[:, 0] - x[:, 0].mean(), rtol=0.05, atol=0.3)
    assert z[:, 0].std() > z[:, 1].std() > 2.0
    np.testing.assert_array_equal(z, pca(x))
    np.testing.assert_array_equal(pca(-x), -pca(x))


def test_pca_of_one_feature_pads_with_zeros():
    z = pca(np.arange(6.0)[:, None])
    assert z.shape == (6, 2)
    np.testing.assert_array_equal(z[:, 1], 0.0)
    np.testing.assert_allclose(np.abs(z[:, 0]), np.abs(np.arange(6.0) - 2.5))


# --- scvis -----------------------------------------------------------------------------


def test_scvis_returns_float32_means_and_repeats_with_the_seed(blobs):
    x, _ = blobs
    a = scvis(x[:120], iterations=20, seed=3, threads=1)
    b = scvis(x[:120], iterations=20, seed=3, threads=1)
    c = scvis(x[:120], iterations=20, seed=4, threads=1)
    assert a.shape == (120, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_scvis_keeps_separated_clusters_apart(blobs, blob_map):
    _, blob = blobs
    assert _knn_purity(blob_map, blob) > 0.97
    centres = np.stack([blob_map[blob == b].mean(0) for b in range(4)])
    spread = max(np.linalg.norm(blob_map[blob == b] - centres[b], axis=1).mean() for b in range(4))
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() > 2 * spread


def test_scvis_map_is_not_just_pca_when_pca_mixes_clusters():
    # Ten close clusters in 50-d: two principal axes mix them (purity ~0.66), scvis's t-SNE cost does not.
    x, blob = _blobs(n_per=40, n_blobs=10, spread=1.0, seed=1)
    z = scvis(x, iterations=100, seed=0, threads=1)
    assert _knn_purity(pca(x), blob) < 0.75
    assert _knn_purity(z, blob) > 0.97


def test_scvis_reports_progress_and_can_be_cancelled(blobs):
    x, _ = blobs
    seen = []
    scvis(x[:64], iterations=50, progress=seen.append, threads=1)
    assert [p.step for p in seen] == list(range(1, 51))
    assert {p.stage for p in seen} == {"scvis"} and seen[-1].total == 50
    assert all(np.isfinite(p.objective) for p in seen)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SearchCancelled):
        scvis(x[:64], iterations=50, cancel=cancel)
    with pytest.raises(SearchCancelled):
        scvis(x[:64], iterations=50, cancel=lambda: True)


def test_scvis_handles_fewer_rows_than_a_batch_and_constant_data():
    z = scvis(np.random.default_rng(0).normal(size=(5, 3)), iterations=5)
    assert z.shape == (5, 2) and np.isfinite(z).all()
    assert np.isfinite(scvis(np.zeros((6, 3)), iterations=5)).all()


def test_scvis_leaves_torch_threads_as_they_were(blobs):
    before = torch.get_num_threads()
    scvis(blobs[0][:20], iterations=2, threads=1)
    assert torch.get_num_threads() == before


def test_default_iterations_follow_the_scvis_rule():
    assert default_iterations(300) == 3000  # at least 3,000
    assert default_iterations(3000) == 3000
    assert default_iterations(100_000) == 195 * 100  # round(N / 512) epochs of 100
    assert default_iterations(10_000_000) == 39_062  # capped at max(30,000, two epochs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"embeddings": np.full((10, 3), np.nan)}, ValueError, "NaN"),
        ({"embeddings": np.ones(10)}, ValueError, "2-D"),
        ({"embeddings": np.ones((1, 3))}, ValueError, "at least 2"),
        ({"embeddings": None}, TypeError, "embeddings must be array-like"),
        ({"iterations": 0}, ValueError, "iterations"),
        ({"iterations": 2.5}, TypeError, "iterations"),
        ({"fit_rows": 1}, ValueError, "scvis: fit_rows must be None or an int in \\[2, inf\\); got 1"),
        ({"fit_rows": 0}, ValueError, "fit_rows"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"perplexity": -1.0}, ValueError, "perplexity"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"threads": 0}, ValueError, "threads"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_scvis_rejects_bad_input(kwargs, error, match):
    args = {"embeddings": np.random.default_rng(0).normal(size=(10, 3)), "iterations": 2, **kwargs}
    with pytest.raises(error, match=match):
        scvis(args.pop("embeddings"), **args)


# --- in-batch t-SNE affinities ---------------------------------------------------------


def test_affinities_are_row_distributions_at_the_requested_perplexity():
    x = torch.randn(2, 200, 10, generator=torch.Generator().manual_seed(0))
    p = conditional_affinities(x, 10.0)
    assert p.shape == (2, 200, 200)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, 200))
    assert torch.all(p.diagonal(dim1=1, dim2=2) == 0)
    assert int((p[0] > 0).sum(1).max()) == 30  # three times the perplexity
    entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)
    torch.testing.assert_close(entropy.exp(), torch.full((2, 200), 10.0), atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(conditional_affinities(x[0], 10.0), p[0])


def test_affinities_prefer_nearer_neighbours():
    x = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    p = conditional_affinities(x, 1.5)
    assert p[0, 1] > p[0, 2] > p[0, 3]


# --- scvis fitted on a sample -----------------------------------------------------------


def test_scvis_fitted_on_a_sample_maps_every_row_and_repeats_with_the_seed(blobs):
    x, blob = blobs
    a = scvis(x, fit_rows=120, iterations=100, seed=0, threads=1)
    assert a.shape == (400, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, scvis(x, fit_rows=120, iterations=100, seed=0, threads=1))
    assert not np.allclose(a, scvis(x, fit_rows=120, iterations=100, seed=1, threads=1))
    # Rows the model never trained on land with their own cluster.
    assert _knn_purity(a, blob) > 0.95


def test_scvis_with_fit_rows_at_least_n_is_the_full_method(blobs):
    x, _ = blobs
    full = scvis(x[:100], iterations=10, seed=0, threads=1)
    np.testing.assert_array_equal(scvis(x[:100], fit_rows=100, iterations=10, seed=0, threads=1), full)
    np.testing.assert_array_equal(scvis(x[:100], fit_rows=10**6, iterations=10, seed=0, threads=1), full)


def test_scvis_can_be_cancelled_while_encoding(blobs):
    x, _ = blobs
    calls = []

    def cancel():
        calls.append(1)
        # Checks: one before training, one at the only progress report, then one per encoded block.
        return len(calls) > 2

    with pytest.raises(SearchCancelled, match="scvis"):
        scvis(x[:50], iterations=1, cancel=cancel)
    assert len(calls) == 3


# --- PCA: progress, cancellation, parameters ---------------------------------------------


def test_pca_reports_progress_over_both_passes_and_can_be_cancelled(monkeypatch):
    monkeypatch.setattr(pca_module, "_CHUNK_ROWS", 64)
    x = np.random.default_rng(0).normal(size=(200, 4))
    seen = []
    chunked = pca(x, progress=seen.append)
    assert [(p.step, p.total) for p in seen] == [(i, 8) for i in range(1, 9)]
    assert {p.stage for p in seen} == {"pca"}
    monkeypatch.undo()
    np.testing.assert_allclose(chunked, pca(x), atol=1e-5)
    with pytest.raises(SearchCancelled, match="pca"):
        pca(x, cancel=lambda: True)


def test_pca_fitted_on_a_sample_is_close_to_the_exact_map_and_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 6)) * np.array([10.0, 4.0, 1.0, 1.0, 0.5, 0.5]) + 3.0
    exact = pca(x)
    part = pca(x, fit_rows=500, seed=1)
    assert part.shape == (5000, 2) and part.dtype == np.float32
    np.testing.assert_array_equal(part, pca(x, fit_rows=500, seed=1))
    assert not np.array_equal(part, pca(x, fit_rows=500, seed=2))
    # Axes and mean from 500 rows are the exact ones up to sampling error: the two maps differ
    # by a small shift (the sample's mean) and a rotation of a few degrees at most.
    shift = (part - exact).mean(0)
    assert np.all(np.abs(shift) < 0.1 * exact.std(0))
    assert np.all((part - exact - shift).std(0) < 0.1 * exact.std(0))
    np.testing.assert_array_equal(pca(x, fit_rows=5000), exact)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dims": 0}, ValueError, "pca: dims must be an int in \\[1, inf\\); got 0"),
        ({"dims": 2.0}, TypeError, "dims"),
        ({"cancel": 3}, TypeError, "cancel"),
        ({"progress": "yes"}, TypeError, "progress"),
    ],
)
def test_pca_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        pca(np.ones((4, 3)), **kwargs)


# --- quality metrics ------------------------------------------------------------------------


def _brute_knn(a, k):
    dist = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    return np.argsort(dist, axis=1)[:, :k]


@pytest.fixture(scope="module")
def stretched():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12)) * np.linspace(4.0, 0.5, 12)
    return x, pca(x).astype(np.float64)


def test_an_isometric_map_padded_with_zeros_scores_one():
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(400, 2))
    x = np.hstack([plane, np.zeros((400, 6))]) + 5.0
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])
    q = projection_quality(x, 3.0 * plane @ rotation - 7.0, sample=None)
    assert q.trustworthiness == 1.0 and q.knn_preservation == 1.0
    assert (q.k, q.n_queries) == (10, 400)


def test_trustworthiness_with_every_row_as_query_equals_scikit_learn(stretched):
    x, z = stretched
    for k in (1, 5, 12):
        assert trustworthiness(x, z, k=k, sample=None) == pytest.approx(sklearn_trustworthiness(x, z, n_neighbors=k))


def test_knn_preservation_is_the_share_of_shared_neighbours(stretched):
    x, z = stretched
    high, low = _brute_knn(x, 7), _brute_knn(z, 7)
    expected = np.mean([len(set(h) & set(m)) for h, m in zip(high, low)]) / 7
    assert knn_preservation(x, z, k=7, sample=None) == pytest.approx(expected)
    assert 0.0 < expected < 1.0


def test_a_random_map_scores_about_chance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1000, 10))
    q = projection_quality(x, rng.normal(size=(1000, 2)), sample=None)
    assert q.trustworthiness == pytest.approx(0.5, abs=0.03)
    assert q.knn_preservation == pytest.approx(10 / 999, abs=0.006)


def test_quality_is_the_same_computed_in_small_blocks(monkeypatch, stretched):
    x, z = stretched
    whole = projection_quality(x, z, k=5, sample=None)
    # Blocks of a few rows exercise the running top-k merge and the per-block rank counts.
    monkeypatch.setattr(quality_module, "_BLOCK_VALUES", 300 * 7)
    assert projection_quality(x, z, k=5, sample=None) == whole
    # Mostly sparse blocks, then mostly dense ones: the two ways of counting ranks agree.
    monkeypatch.setattr(quality_module, "_DENSE_SHARE", 10**9)
    assert projection_quality(x, z, k=5, sample=None) == whole


def test_a_sample_of_queries_estimates_the_full_value_and_repeats_with_the_seed(stretched):
    x, z = stretched
    full = projection_quality(x, z, sample=None)
    part = projection_quality(x, z, sample=150, seed=3)
    assert part.n_queries == 150
    assert part == projection_quality(x, z, sample=150, seed=3)
    assert part != projection_quality(x, z, sample=150, seed=4)
    assert part.trustworthiness == pytest.approx(full.trustworthiness, abs=0.02)
    assert part.knn_preservation == pytest.approx(full.knn_preservation, abs=0.05)
    assert projection_quality(x, z, sample=10**6) == full


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"coords": np.zeros((9, 2))}, ValueError, "coords must have one row per embedding \\(10\\); got 9"),
        ({"k": 5}, ValueError, "k must be below N / 2 = 5; got k=5"),
        ({"k": 0}, ValueError, "k must be an int"),
        ({"sample": 0.5}, TypeError, "sample"),
        ({"seed": -1}, ValueError, "seed"),
        ({"embeddings": np.full((10, 3), np.nan)}, ValueError, "NaN"),
    ],
)
def test_quality_rejects_bad_input(kwargs, error, match):
    rng = np.random.default_rng(0)
    args = {"embeddings": rng.normal(size=(10, 3)), "coords": rng.normal(size=(10, 2)), **kwargs}
    with pytest.raises(error, match=match):
        projection_quality(args.pop("embeddings"), args.pop("coords"), **args)


# --- project and "auto" ---------------------------------------------------------------------


def test_project_dispatches_to_each_method(blobs):
    x, _ = blobs
    np.testing.assert_array_equal(project(x, "pca"), pca(x))
    np.testing.assert_array_equal(
        project(x[:50], "scvis", seed=2, iterations=5), scvis(x[:50], seed=2, iterations=5, threads=1)
    )


def test_project_scvis_trains_on_a_sample_by_default(monkeypatch, blobs):
    x, _ = blobs
    monkeypatch.setattr(projection_api, "SCVIS_FIT_ROWS", 100)
    np.testing.assert_array_equal(project(x, "scvis", iterations=5), scvis(x, fit_rows=100, iterations=5, threads=1))
    assert not np.array_equal(project(x, "scvis", iterations=5), scvis(x, iterations=5, threads=1))


def test_auto_picks_scvis_up_to_the_threshold_and_pca_above():
    assert auto_method(1) == auto_method(AUTO_SCVIS_MAX_ROWS) == "scvis"
    assert auto_method(AUTO_SCVIS_MAX_ROWS + 1) == "pca"
    with pytest.raises(ValueError, match="n_rows"):
        auto_method(0)


def test_project_auto_runs_the_method_auto_method_names(monkeypatch, blobs):
    x, _ = blobs
    monkeypatch.setattr(projection_api, "SCVIS_ITERATIONS", 5)
    seen = []
    np.testing.assert_array_equal(project(x[:60], "auto", progress=seen.append), scvis(x[:60], iterations=5, threads=1))
    assert {p.stage for p in seen} == {"scvis"}
    monkeypatch.setattr(projection_api, "AUTO_SCVIS_MAX_ROWS", 59)
    seen.clear()
    np.testing.assert_array_equal(project(x[:60], progress=seen.append), pca(x[:60]))
    assert {p.stage for p in seen} == {"pca"}


def test_project_passes_cancel_to_the_method(blobs):
    x, _ = blobs
    cancel = threading.Event()
    cancel.set()
    for method in ("auto", "pca", "scvis"):
        with pytest.raises(SearchCancelled):
            project(x[:50], method, cancel=cancel)


@pytest.mark.parametrize(
    ("method", "kwargs", "error", "match"),
    [
        ("tsne", {}, ValueError, "project: method must be one of 'auto', 'pca', 'scvis', 'umap'; got 'tsne'"),
        ("pca", {"iterations": 5}, TypeError, "method 'pca' takes no options; got \\['iterations'\\]"),
        ("auto", {"fit_rows": 5}, TypeError, "method 'auto' takes no options"),
        ("scvis", {"fit_row": 5}, TypeError, "fit_row"),
        ("scvis", {"seed": 0.5}, TypeError, "seed"),
        ("pca", {"cancel": "soon"}, TypeError, "cancel"),
        ("auto", {"embeddings": np.ones(5)}, ValueError, "2-D"),
        ("auto", {"embeddings": np.ones((0, 3))}, ValueError, "empty"),
    ],
)
def test_project_rejects_bad_parameters(method, kwargs, error, match):
    x = kwargs.pop("embeddings", np.ones((10, 3)))
    with pytest.raises(error, match=match):
        project(x, method, **kwargs)


def test_umap_without_umap_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ImportError, match=r"pip install 'spotlight-widget\[umap\]'"):
        project(np.random.default_rng(0).normal(size=(50, 3)), "umap")


def test_umap_fits_a_sample_and_places_the_rest(blobs):
    pytest.importorskip("umap")
    x, blob = blobs
    seen = []
    a = umap(x, fit_rows=150, seed=0, progress=seen.append)
    assert a.shape == (400, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, project(x, "umap", fit_rows=150, seed=0))
    assert [(p.step, p.total, p.stage) for p in seen] == [(1, 2, "umap"), (2, 2, "umap")]
    assert _knn_purity(a, blob) > 0.95
    with pytest.raises(SearchCancelled, match="umap"):
        umap(x, fit_rows=150, cancel=lambda: True)
    with pytest.raises(ValueError, match="fit_rows must be above n_neighbors"):
        umap(x, fit_rows=15)
