"""Group breakdowns of a spotlight against the whole data set."""

import numpy as np
import pandas as pd
import pytest

from spotlight_widget.describe import breakdown, groups_of


def test_shares_lifts_and_losses_by_hand():
    weights = np.array([1.0, 1.0, 0.5, 0.0, 0.0, 0.0])
    losses = np.array([4.0, 2.0, 1.0, 0.0, 1.0, 0.0])
    values = ["a", "a", "b", "b", "b", "c"]
    out = breakdown(weights, losses, values).set_index("group")
    assert out.loc["a", "share_in"] == pytest.approx(2 / 2.5)
    assert out.loc["a", "share_all"] == pytest.approx(2 / 6)
    assert out.loc["a", "lift"] == pytest.approx((2 / 2.5) / (2 / 6))
    assert out.loc["a", "loss_in"] == pytest.approx(3.0)
    assert out.loc["b", "loss_in"] == pytest.approx(1.0)
    assert out.loc["b", "loss_all"] == pytest.approx(2 / 3)
    assert np.isnan(out.loc["c", "loss_in"]) and out.loc["c", "share_in"] == 0
    assert list(out.index) == ["a", "b", "c"]  # most over-represented first


def test_counts_weigh_groups():
    out = breakdown(np.ones(2), np.array([1.0, 3.0]), ["x", "y"], counts=np.array([3, 1])).set_index("group")
    assert out.loc["x", "share_all"] == pytest.approx(0.75)
    assert out.loc["x", "count"] == 3


def test_numeric_columns_are_binned_and_missing_values_grouped():
    values = pd.Series(np.arange(100, dtype=float))
    values[3] = np.nan
    groups = groups_of(values, bins=4)
    assert groups.nunique() == 5 and (groups == "(missing)").sum() == 1
    assert groups_of([1, 2, 2, 1]).tolist() == ["1", "2", "2", "1"]
    assert groups_of([True, False]).tolist() == ["True", "False"]


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="3 values for 2 examples"):
        breakdown(np.ones(2), np.ones(2), ["a", "b", "c"])
    with pytest.raises(ValueError, match="differ in shape"):
        breakdown(np.ones(2), np.ones(3), ["a", "b"])
