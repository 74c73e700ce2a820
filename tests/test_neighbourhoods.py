"""Nearest neighbours for error clusters and pooled regions: exact, by cells, and reused."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from spotlight_widget import SearchCancelled
from spotlight_widget.slices import neighbourhoods as nb


def _blobs(n: int = 3000, dim: int = 20, centres: int = 12, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 4, size=(centres, dim))
    x = centre[rng.integers(0, centres, n)] + rng.normal(size=(n, dim))
    return torch.from_numpy(x.astype(np.float32))


def _brute(x: torch.Tensor, k: int) -> np.ndarray:
    d = torch.cdist(x.double(), x.double())
    d.fill_diagonal_(float("inf"))
    return d.argsort(1)[:, :k].numpy()


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([np.intersect1d(f, t).size for f, t in zip(found, truth, strict=True)]) / truth.shape[1])


def _well_formed(found: np.ndarray, n: int, k: int) -> None:
    assert found.shape == (n, k)
    assert (found != np.arange(n)[:, None]).all(), "a row lists itself"
    assert all(np.unique(row).size == k for row in found), "a row lists a neighbour twice"
    assert found.min() >= 0 and found.max() < n


def test_exact_search_finds_the_true_neighbours():
    x = _blobs(n=700)
    found = nb.nearest(x, 10)
    _well_formed(found, 700, 10)
    assert _recall(found, _brute(x, 10)) > 0.999


def test_search_by_cells_finds_nearly_all_neighbours_of_clustered_data():
    x = _blobs()
    found = nb.nearest(x, 15, exact_up_to=0)
    _well_formed(found, x.shape[0], 15)
    assert _recall(found, _brute(x, 15)) > 0.95


def test_search_by_cells_excludes_each_point_even_among_duplicates():
    # 40 copies of one point: distances tie at zero, and a point may not be among its own
    # k + 1 nearest; it still must not list itself, and its row stays k distinct others.
    x = torch.cat([torch.zeros(40, 5), _blobs(n=400, dim=5)])
    found = nb.nearest(x, 8, exact_up_to=0)
    _well_formed(found, 440, 8)
    assert np.isin(found[:40], np.arange(40)).all()


@pytest.mark.parametrize("exact_up_to", [10**6, 0])
def test_a_set_cancel_stops_the_search(exact_up_to):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SearchCancelled):
        nb.nearest(_blobs(n=500), 5, cancel=cancel, exact_up_to=exact_up_to)


def test_the_last_search_is_reused_for_the_same_embeddings_only():
    x = _blobs(n=600, dim=60).numpy()
    first = nb.neighbourhoods(x, k=10, dims=8, seed=0)
    assert first.points.shape == (600, 8)
    assert nb.neighbourhoods(x.copy(), k=10, dims=8, seed=0) is first
    changed = x.copy()
    changed[0, 0] += 1.0
    assert nb.neighbourhoods(changed, k=10, dims=8, seed=0) is not first
    other_k = nb.neighbourhoods(changed, k=5, dims=8, seed=0)
    assert other_k.indices.shape == (600, 5)


def test_standardised_points_are_centred_with_unit_mean_norm():
    points = nb.standardise(_blobs(n=500, dim=30) + 7.0, 10, 0)
    assert points.shape == (500, 10)
    assert points.mean(0).abs().max() < 1e-4
    assert points.norm(dim=1).mean() == pytest.approx(1.0, rel=1e-5)


def test_clearing_the_cache_forces_a_new_search():
    x = _blobs(n=300, dim=12).numpy()
    first = nb.neighbourhoods(x, k=6, dims=4, seed=0)
    nb.clear_cache()
    again = nb.neighbourhoods(x, k=6, dims=4, seed=0)
    assert again is not first
    np.testing.assert_array_equal(np.sort(again.indices, 1), np.sort(first.indices, 1))
