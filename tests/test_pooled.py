"""Pooled regions: error clusters and mixture components ranked together, near-duplicates last."""

import itertools
import threading

import numpy as np
import pytest

from spotlight_widget import SearchCancelled, SpotlightExplorer, find_slices
from spotlight_widget.explorer.payloads import alternative_text
from spotlight_widget.slices import Slice, pooled_slices
from spotlight_widget.slices import pooled as pooled_module

from .conftest import cover

N = 3000


def iou(a, b):
    common = np.intersect1d(a, b).size
    return common / (a.size + b.size - common)


def test_finds_both_failures_without_near_duplicates(small_and_large_failures):
    x, losses, groups, _ = small_and_large_failures
    found = pooled_slices(x, losses, n=6, size=60)
    assert cover(found, groups[0]) >= 0.9
    assert cover(found, groups[1]) >= 0.9
    distinct = [f for f in found if f.info["alternative_to"] is None]
    assert all(iou(a.top_indices, b.top_indices) <= 0.5 for a, b in itertools.combinations(distinct, 2))
    assert found[: len(distinct)] == distinct
    assert all(a.score >= b.score for a, b in itertools.pairwise(distinct))
    assert [f.rank for f in found] == list(range(len(found)))
    assert {f.info["source"] for f in found} <= {"error-clusters", "gmm"}
    assert all(f.method == "pooled" and 0 <= f.info["coherence"] <= 1 for f in found)
    # The two failures are the worst results: pure and closed neighbourhoods.
    assert {int(np.isin(f.top_indices, groups[1]).mean() >= 0.8) for f in found[:2]} == {0, 1}


def crafted(x, losses, members_list):
    """Hard slices of the given member lists, as a stand-in source would return them."""
    out = []
    for rank, members in enumerate(members_list):
        w = np.zeros(len(losses))
        w[members] = 1.0
        out.append(Slice("gmm", w, losses, rank=rank))
    return out


@pytest.fixture
def blob_and_scatter(monkeypatch):
    """A failing blob, plus a mixture that returns a scattered set of equally high losses
    first, a near-duplicate of the blob, a set straddling the blob and a second blob, and
    a large component that contains the second blob."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, 6)).astype(np.float32)
    blob, second = np.arange(60), np.arange(60, 120)
    x[blob] += 5.0
    x[second] -= 5.0
    losses = rng.gamma(1.0, 0.1, size=N)
    scatter = rng.choice(np.arange(200, N), size=60, replace=False)
    losses[np.concatenate([blob, second, scatter])] += 3.0
    near_duplicate = np.concatenate([blob[:50], scatter[:5]])
    straddle = np.concatenate([blob[:30], second[:30]])
    container = np.concatenate([second, np.arange(200, 400)])
    sources = crafted(x, losses, [scatter, near_duplicate, straddle, container])
    monkeypatch.setattr(pooled_module, "gmm_slices", lambda *a, **k: sources)
    return x, losses, blob, second, scatter, container


def test_coherent_regions_rank_above_a_scattered_set_of_equal_loss(blob_and_scatter):
    x, losses, blob, second, scatter, container = blob_and_scatter
    found = pooled_slices(x, losses, n=10, size=60, cluster_options={"split_above": None})
    members = [f.top_indices for f in found]
    first_two = {frozenset(m.tolist()) for m in members[:2]}
    assert first_two == {frozenset(blob.tolist()), frozenset(second.tolist())}
    scattered = next(f for f in found if set(f.top_indices) == set(scatter))
    assert scattered.info["coherence"] < 0.1 < found[0].info["coherence"]
    assert scattered.rank >= 2


def test_bridges_are_skipped_near_duplicates_come_last_and_a_container_is_kept(blob_and_scatter):
    x, losses, blob, second, scatter, container = blob_and_scatter
    found = pooled_slices(x, losses, n=10, size=60, cluster_options={"split_above": None})
    kept = [set(f.top_indices.tolist()) for f in found]
    assert set(blob.tolist()) in kept and set(second.tolist()) in kept
    # The set straddling both blobs is gone.
    assert not any(len(k) == 60 and len(k & set(blob.tolist())) == 30 for k in kept)
    # A component holding the second blob among 200 others overlaps it by 60 / 260: kept.
    assert set(container.tolist()) in kept
    # The near-duplicate of the blob (IoU 50/65) comes after every distinct region, as an
    # alternative to the blob's.
    last = found[-1]
    assert len(last.top_indices) == 55 and np.isin(last.top_indices, blob).sum() == 50
    blob_rank = next(f.rank for f in found if set(f.top_indices.tolist()) == set(blob.tolist()))
    assert last.info["alternative_to"] == blob_rank
    assert all(f.info["alternative_to"] is None for f in found[:-1])
    # The explorer's caption says so.
    assert alternative_text(last) == f"another cut of region {blob_rank}"
    assert alternative_text(found[0]) == ""
    # Without room for it, it is the one left out.
    fewer = pooled_slices(x, losses, n=len(found) - 1, size=60, cluster_options={"split_above": None})
    assert [set(f.top_indices.tolist()) for f in fewer] == kept[:-1]
    # Relaxed thresholds keep the bridge and make the near-duplicate a distinct region.
    loose = pooled_slices(x, losses, n=10, size=60, max_overlap=1.0, bridge=1.0, cluster_options={"split_above": None})
    assert len(loose) == len(found) + 1
    assert all(f.info["alternative_to"] is None for f in loose)


def test_regions_that_do_no_worse_than_the_data_are_never_returned(monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(N, 6)).astype(np.float32)
    blob = np.arange(60)
    x[blob] += 5.0
    losses = rng.gamma(1.0, 0.1, size=N)
    losses[blob] += 3.0
    easy = np.argsort(losses)[:80]
    monkeypatch.setattr(pooled_module, "gmm_slices", lambda *a, **k: crafted(x, losses, [easy]))
    found = pooled_slices(x, losses, n=10, size=60)
    assert found and all(f.info["effect"] > 0 for f in found)
    assert not any(np.isin(f.top_indices, easy).all() for f in found)
    assert cover(found, blob) >= 0.9


def test_signed_losses_find_where_a_new_model_is_worse(small_and_large_failures):
    x, _, groups, _ = small_and_large_failures
    rng = np.random.default_rng(3)
    difference = rng.normal(-0.3, 0.1, size=N)
    difference[groups[1]] += 2.0
    found = pooled_slices(x, difference, n=3, size=60)
    assert cover(found, groups[1]) >= 0.9
    assert np.isin(found[0].top_indices, groups[1]).mean() >= 0.8


def test_constant_losses_are_refused_as_the_spotlight_refuses_them(small_and_large_failures):
    x, _, _, _ = small_and_large_failures
    with pytest.raises(ValueError, match="all losses are equal"):
        pooled_slices(x, np.ones(N), n=3, size=60)


def test_through_find_slices_with_progress_and_cancel(small_and_large_failures):
    x, losses, _, _ = small_and_large_failures
    stages = []
    found = find_slices("pooled", x, losses, n=2, size=60, progress=lambda p: stages.append(p.stage))
    assert len(found) == 2
    assert stages == ["neighbours", "clusters", "splits", "trim", "mixture", "ranking"]
    stop = threading.Event()
    stop.set()
    with pytest.raises(SearchCancelled):
        find_slices("pooled", x, losses, n=2, size=60, cancel=stop)


def test_bad_inputs_are_refused():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="losses has 9 entries"):
        pooled_slices(rng.normal(size=(10, 3)), rng.random(9))
    with pytest.raises(ValueError, match="NaN"):
        pooled_slices(rng.normal(size=(10, 3)), np.full(10, np.nan))
    with pytest.raises(ValueError, match=r"error_clusters: k must be an int in \[2, inf\)"):
        pooled_slices(rng.normal(size=(50, 3)), rng.random(50), cluster_options={"k": 1})
    with pytest.raises(TypeError, match="unexpected keyword"):
        pooled_slices(rng.normal(size=(50, 3)), rng.random(50), gmm_options={"no_such_option": 1})


def test_the_explorer_offers_it(small_and_large_failures):
    x, losses, groups, _ = small_and_large_failures
    ex = SpotlightExplorer(x, losses, coords=None, size=60)
    try:
        assert "pooled" in [m["name"] for m in ex.methods]
        ex.method = "pooled"
        assert ex.wait(120)
        assert any(np.isin(ex.spotlight.top_indices, g).mean() >= 0.8 for g in groups)
        assert ex.spotlight.info["source"] in ("error-clusters", "gmm")
    finally:
        ex.close()
