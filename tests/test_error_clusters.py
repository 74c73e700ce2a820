"""Error clusters: neighbouring high-loss examples, grouped by density and sized by the data."""

import itertools
import threading

import numpy as np
import pytest

from spotlight_widget import SearchCancelled, SpotlightExplorer, find_slices, find_spotlight
from spotlight_widget.slices import error_clusters

from .conftest import cover

N = 3000


def test_finds_failures_of_their_own_size_and_ignores_scattered_errors(small_and_large_failures):
    x, losses, groups, noise = small_and_large_failures
    found = error_clusters(x, losses, n=10, size=60)
    assert cover(found, groups[0]) >= 0.9
    # Four times S: a spotlight of size S holds a quarter of it at most; the clusters hold it all.
    assert cover(found, groups[1]) >= 0.9
    spot = find_spotlight(x, losses, size=60)
    assert np.isin(groups[1], spot.top_indices).mean() <= 0.25
    members = np.concatenate([f.indices for f in found])
    assert np.isin(noise, members).mean() < 0.05
    assert [f.rank for f in found] == list(range(len(found)))
    assert all(a.score >= b.score for a, b in itertools.pairwise(found))
    assert all(f.method == "error-clusters" and set(np.unique(f.weights)) <= {0.0, 1.0} for f in found)


def test_two_failures_side_by_side_are_reported_apart():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, 8)).astype(np.float32)
    left, right = np.arange(0, 150), np.arange(150, 300)
    x[left, 0] += 5.0
    x[right, 0] += 7.5  # adjacent to the left one: their neighbourhoods touch
    losses = rng.gamma(1.0, 0.1, size=N)
    losses[:300] += 3.0
    found = error_clusters(x, losses, n=10, size=60)
    assert cover(found, left) >= 0.8
    assert cover(found, right) >= 0.8


def test_no_cluster_without_a_failing_region():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(N, 8)).astype(np.float32)
    losses = rng.gamma(1.0, 0.1, size=N)
    losses[rng.choice(N, size=200, replace=False)] += 3.0  # errors scattered everywhere
    assert error_clusters(x, losses, n=5, size=60) == []
    assert error_clusters(x, np.ones(N), n=5, size=60) == []


def test_signed_losses_find_where_a_new_model_is_worse(small_and_large_failures):
    x, _, groups, _ = small_and_large_failures
    rng = np.random.default_rng(3)
    difference = rng.normal(-0.3, 0.1, size=N)
    difference[groups[1]] += 2.0
    found = error_clusters(x, difference, n=5, size=60)
    assert cover(found, groups[1]) >= 0.9


def test_through_find_slices_with_progress_and_cancel(small_and_large_failures):
    x, losses, _, _ = small_and_large_failures
    stages = []
    found = find_slices("error-clusters", x, losses, n=2, size=60, progress=lambda p: stages.append(p.stage))
    assert len(found) == 2
    assert stages == ["neighbours", "clusters", "splits", "trim"]
    stop = threading.Event()
    stop.set()
    with pytest.raises(SearchCancelled):
        find_slices("error-clusters", x, losses, n=2, size=60, cancel=stop)


def test_tiny_data_and_bad_shapes():
    rng = np.random.default_rng(4)
    few = error_clusters(rng.normal(size=(12, 3)), rng.random(12), n=3, size=2)
    assert isinstance(few, list)
    with pytest.raises(ValueError, match="losses has 9 entries"):
        error_clusters(rng.normal(size=(10, 3)), rng.random(9))
    with pytest.raises(ValueError, match="NaN"):
        error_clusters(rng.normal(size=(10, 3)), np.full(10, np.nan))


def test_the_explorer_offers_it_and_says_when_there_is_no_further_cluster(small_and_large_failures):
    x, losses, groups, _ = small_and_large_failures
    ex = SpotlightExplorer(x, losses, coords=None, size=60)
    try:
        assert "error-clusters" in [m["name"] for m in ex.methods]
        ex.method = "error-clusters"
        assert ex.wait(120)
        assert (
            np.isin(ex.spotlight.indices, groups[1]).mean() >= 0.8
            or np.isin(ex.spotlight.indices, groups[0]).mean() >= 0.8
        )
        while ex.status["state"] != "error":
            ex.next(wait=False)
            assert ex.wait(120)
        assert "no further cluster" in ex.error
    finally:
        ex.close()
