import threading

import numpy as np
import pytest
import torch

from spotlight_widget.engine import SearchCancelled
from spotlight_widget.projection import default_iterations, pca, project, scvis
from spotlight_widget.projection._affinities import conditional_affinities


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
        ({"embeddings": None}, TypeError, "required"),
        ({"iterations": 0}, ValueError, "iterations"),
        ({"iterations": 2.5}, ValueError, "iterations"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"perplexity": -1.0}, ValueError, "perplexity"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"threads": 0}, ValueError, "threads"),
        ({"seed": 1.5}, TypeError, "seed"),
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


# --- project -------------------------------------------------------------------------


def test_project_dispatches_to_each_method(blobs):
    x, _ = blobs
    np.testing.assert_array_equal(project(x), pca(x))
    np.testing.assert_array_equal(project(x[:50], "scvis", seed=2, iterations=5), scvis(x[:50], seed=2, iterations=5))
    with pytest.raises(ValueError, match="method must be one of 'pca', 'scvis'"):
        project(x, "umap")
    with pytest.raises(TypeError, match="takes no options"):
        project(x, "pca", iterations=5)
