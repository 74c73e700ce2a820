"""The discovery-quality suite (benchmarks/discovery): its quick mode and its scoring.

These check the suite's invariants, not the goal numbers (those are in benchmarks/README.md).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from benchmarks.discovery import __main__ as cli
from benchmarks.discovery.cases import GENERATORS, make_case
from benchmarks.discovery.ceilings import SHAPES, group_ceilings
from benchmarks.discovery.methods import QUICK_METHODS
from benchmarks.discovery.models import DATASETS, load_blobs
from benchmarks.discovery.prepared import damp_losses, discovery_inputs, standardize_embeddings
from benchmarks.discovery.runner import SCORES, run_suite
from benchmarks.discovery.scoring import score_case, score_group
from spotlight_widget.slices import Slice


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("discovery")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--quick", "--out", str(out)]) == 0
    return pd.read_csv(out / "discovery.csv", keep_default_na=False), buf.getvalue()


@pytest.mark.slow
def test_quick_scores_every_method_on_every_case(quick):
    results, _ = quick
    pairs = results.groupby(["method", "kind", "data"]).size()
    assert set(results["method"]) == set(QUICK_METHODS)
    assert set(results["kind"]) == set(GENERATORS)
    assert set(results["data"]) == set(DATASETS)
    assert (pairs == 1).all() and len(pairs) == len(QUICK_METHODS) * len(GENERATORS) * len(DATASETS)


@pytest.mark.slow
def test_quick_scores_lie_in_unit_interval(quick):
    results, _ = quick
    values = results[list(SCORES)].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    assert ((values >= 0) & (values <= 1)).all()


@pytest.mark.slow
def test_quick_oracle_is_perfect_and_random_is_poor(quick):
    results, _ = quick
    by = results.set_index(["method", "kind"])
    oracle = by.loc["oracle"]
    assert (oracle["f1"] == 1).all() and (oracle["discovery_rate"] == 1).all()
    assert (by.loc["random", "f1"] < 0.2).all()
    assert (by.loc["random", "discovery_rate"] == 0).all()
    assert (results.loc[results["method"].isin(["oracle", "random", "spotlight"]), "error"] == "").all()


@pytest.mark.slow
def test_quick_planted_groups_fail_more_than_the_rest(quick):
    results, _ = quick
    per_case = results.drop_duplicates("case")
    assert (per_case["group_error"] > per_case["other_error"]).all()


@pytest.mark.slow
def test_quick_prints_a_row_per_method(quick):
    _, printed = quick
    for method in QUICK_METHODS:
        assert f"| {method} |" in printed


def _slice(rows, n):
    w = np.zeros(n)
    w[rows] = 1.0
    return Slice("test", w, np.arange(n, dtype=float))


def test_score_group_counts_precision_recall_and_best_slice():
    n = 100
    group = np.arange(10)
    half = _slice(np.r_[0:5, 50:55], n)  # 5 of 10 in the group, half the group
    most = _slice(np.r_[0:8, 60:62], n)
    s = score_group([half, most], group)
    assert s.best_rank == 1
    assert s.precision == pytest.approx(0.8) and s.recall == pytest.approx(0.8)
    assert s.f1 == pytest.approx(0.8)
    assert s.discovered


def test_score_group_discovery_needs_both_thresholds():
    n = 100
    group = np.arange(10)
    wide = _slice(np.r_[0:10, 20:40], n)  # recall 1, precision 1/3
    s = score_group([wide], group)
    assert s.recall == 1 and s.precision == pytest.approx(1 / 3)
    assert not s.discovered
    assert score_group([wide], group, min_precision=0.3).discovered


def test_score_case_averages_groups_and_discovery_rate():
    n = 100
    groups = [np.arange(10), np.arange(50, 60)]
    found = _slice(np.arange(10), n)
    out = score_case([found], groups)
    assert out["discovery_rate"] == pytest.approx(0.5)
    assert out["f1"] == pytest.approx(0.5)


def test_scoring_rejects_empty_inputs():
    with pytest.raises(ValueError, match="at least one slice"):
        score_group([], np.arange(3))
    with pytest.raises(ValueError, match="empty"):
        score_group([_slice([0], 5)], np.array([], dtype=int))


def test_unknown_case_and_method_are_rejected():
    with pytest.raises(ValueError, match="unknown case"):
        make_case("nope", 0)
    with pytest.raises(ValueError, match="noise"):
        make_case("paper", 0, noise=1.5)
    with pytest.raises(ValueError, match="unknown data set"):
        make_case("paper", 0, data="nope")
    with pytest.raises(ValueError, match="unknown methods"):
        run_suite([0], methods=["nope"], log=None)


def test_discovery_inputs_scale_each_dimension_and_damp_losses():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) * np.array([1.0, 100.0, 0.0]) + 5.0
    losses = rng.exponential(2.0, size=200)
    z, damped = discovery_inputs(x, losses)
    assert z.shape == (200, 3) and z.dtype == np.float32
    np.testing.assert_allclose(z[:, :2].std(0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    assert (z[:, 2] == 0).all()
    assert (np.argsort(damped, kind="stable") == np.argsort(losses, kind="stable")).all()
    assert damped.max() < losses.max()
    raw_x, raw_l = discovery_inputs(x, losses, standardize=False, damp=False)
    np.testing.assert_allclose(raw_l, losses)
    np.testing.assert_allclose(raw_x, x, rtol=1e-6)


def test_discovery_inputs_reject_bad_data():
    x = np.ones((5, 2))
    with pytest.raises(ValueError, match="identical"):
        standardize_embeddings(x)
    with pytest.raises(ValueError, match="at least 2 rows"):
        standardize_embeddings(np.ones((1, 2)))
    with pytest.raises(ValueError, match="negative"):
        damp_losses([1.0, -0.5])
    with pytest.raises(ValueError):
        discovery_inputs(np.arange(10.0).reshape(5, 2), [1.0, 2.0])
    with pytest.raises(ValueError):
        discovery_inputs(np.arange(10.0).reshape(5, 2), [1.0, np.nan, 1.0, 1.0, 1.0])


def test_blobs_share_mnists_shape_and_keep_the_cue_features_blank():
    blobs = load_blobs()
    assert blobs.images.shape[0] == 5000 and blobs.images.dtype == np.float32
    assert np.bincount(blobs.digit).tolist() == [500] * 10
    assert ((blobs.subclass // 6) == blobs.digit).all()
    assert (blobs.images[:, blobs.cue_columns] == 0).all()
    others = np.setdiff1d(np.arange(blobs.images.shape[1]), blobs.cue_columns)
    assert 0 < blobs.images[:, others].min() and blobs.images[:, others].max() < 1


def test_spurious_case_lights_the_cue_on_its_group_only():
    case = make_case("spurious", 0, influence=False, data="blobs")
    assert case.name == "blobs:spurious+noise" and case.data == "blobs"
    inside, outside = case.error_rates()
    assert inside > 2 * outside


def test_ceilings_of_a_ball_and_of_a_thin_line():
    rng = np.random.default_rng(0)
    background = rng.normal(size=(400, 4))
    ball = rng.normal(size=(20, 4)) * 0.1 + np.array([6.0, 0, 0, 0])
    x = np.vstack([background, ball])
    tight = group_ceilings(x, np.arange(400, 420), 20)
    assert set(tight) == set(SHAPES)
    assert tight["exact"] == 1 and tight["ball"] == 1 and tight["full"] == 1
    # A line along an axis through the middle of the data: no ball holds it, an
    # axis-aligned ellipsoid does (Ledoit-Wolf shrinks the full covariance towards a ball).
    line = np.zeros((20, 4))
    line[:, 0] = np.linspace(-4, 4, 20)
    line[:, 1:] = rng.normal(size=(20, 3)) * 0.01
    thin = group_ceilings(np.vstack([background, line]), np.arange(400, 420), 20)
    assert thin["diagonal"] > 0.85 and thin["ball"] < 0.3 and thin["best-ball"] < 0.5
    assert thin["full"] > thin["ball"] + 0.3
    # 20 members asked of a 10-member group: F1 is at most 2 * 10 / 30.
    assert group_ceilings(x, np.arange(400, 410), 20)["exact"] == pytest.approx(2 / 3)
