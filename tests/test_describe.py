"""Summaries of a spotlight: group breakdowns with significance, tokens, labels, captions."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spotlight_widget.describe import (
    breakdown,
    caption,
    default_tokenizer,
    describe,
    effective_size,
    groups_of,
    label_summary,
    token_summary,
)
from spotlight_widget.slices import Slice


def spot(weights, losses=None, counts=None):
    return SimpleNamespace(
        weights=np.asarray(weights, dtype=float),
        losses=None if losses is None else np.asarray(losses, dtype=float),
        counts=counts,
    )


def planted_groups(n=1000, inside=50, seed=0):
    """Hard spotlight of ``inside`` rows, 80 % of them in group "x" (10 % of the data)."""
    rng = np.random.default_rng(seed)
    weights = np.zeros(n)
    weights[:inside] = 1.0
    group = np.where(rng.random(n) < 0.5, "y", "z").astype(object)
    group[: int(0.8 * inside)] = "x"
    group[inside : inside + int(0.1 * n) - int(0.8 * inside)] = "x"
    losses = np.where(weights > 0, 3.0, 0.5) + rng.random(n)
    return weights, losses, group


# -- the existing breakdown, kept for the explorer -----------------------------------------


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


def test_breakdown_keeps_the_front_end_columns_and_tolerates_an_empty_spotlight():
    out = breakdown(np.zeros(4), np.ones(4), ["a", "a", "b", "b"])
    front_end = ["group", "count", "share_in", "share_all", "lift", "loss_in", "loss_all"]
    assert list(out.columns[: len(front_end)]) == front_end
    assert (out["share_in"] == 0).all() and out["p_value"].isna().all()
    with pytest.raises(ValueError, match="NaN"):
        breakdown(np.array([np.nan, 1.0]), np.ones(2), ["a", "b"])


# -- odd metadata: every dtype a column may hold -----------------------------------------

ODD_N, ODD_INSIDE = 400, 40


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text for this object")


def group_name(value):
    """What groups_of promises for values it does not bin: their text, "(missing)" for None."""
    return "(missing)" if value is None else str(value)


def plant(value, pool):
    """The spotlight (rows 0..ODD_INSIDE-1) and every 10th row after hold ``value``; the rest cycle through ``pool``."""
    rows = np.arange(ODD_N)
    planted = (rows < ODD_INSIDE) | (rows % 10 == 0)
    values = [value if p else pool[i % len(pool)] for i, p in enumerate(planted)]
    weights = (rows < ODD_INSIDE).astype(float)
    losses = np.random.default_rng(1).random(ODD_N) + weights
    return values, planted, weights, losses


ODD_COLUMNS = {
    # More distinct values than categories get: numbers would be binned, but complex ones have no order.
    "complex": (2 + 1j, [complex(k, -k) for k in range(15)], np.asarray),
    "mixed objects": ("b", [1, "a", 2.5, (1, 2), None], lambda v: pd.Series(v, dtype=object)),
    "bool": (True, [False], np.asarray),
    "nullable bool": (True, [False, None], lambda v: pd.array(v, dtype="boolean")),
    "categorical with unused categories": ("b", ["a", "c"], lambda v: pd.Categorical(v, ["a", "b", "c", "never"])),
    "tuples": ((1, "x"), [(0, "x"), (2, "y")], list),
    "dicts": ({"k": 1}, [{"k": 0}, {"k": 2}], list),
    "lists": ([1], [[0], [2]], list),
}


@pytest.mark.parametrize("kind", list(ODD_COLUMNS))
def test_odd_columns_are_grouped_by_what_they_hold(kind):
    value, pool, convert = ODD_COLUMNS[kind]
    values, planted, weights, losses = plant(value, pool)
    out = breakdown(weights, losses, convert(values)).set_index("group")
    name = group_name(value)
    assert set(out.index) == {name, *map(group_name, pool)}
    assert out.index[0] == name and out.loc[name, "share_in"] == 1
    assert out.loc[name, "count"] == planted.sum()
    text = caption(spot(weights, losses), {"col": convert(values)})
    assert f"100% col {name} vs {100 * planted.mean():.0f}% overall" in text


def test_infinities_get_groups_of_their_own():
    rng = np.random.default_rng(2)
    values = rng.normal(size=ODD_N)
    values[rng.choice(ODD_N, 60, replace=False)] = np.inf
    values[np.flatnonzero(np.isfinite(values))[:25]] = -np.inf
    values[np.flatnonzero(np.isfinite(values))[:5]] = np.nan
    weights = np.isposinf(values).astype(float)
    out = breakdown(weights, np.ones(ODD_N), values, bins=4).set_index("group")
    assert out.loc["inf", "count"] == 60 and out.loc["-inf", "count"] == 25 and out.loc["(missing)", "count"] == 5
    finite = out.drop(index=["inf", "-inf", "(missing)"])
    assert len(finite) == 4 and finite["count"].sum() == ODD_N - 90
    assert out.index[0] == "inf" and out.loc["inf", "share_in"] == 1
    assert "100% col inf vs 15% overall" in caption(spot(weights, np.ones(ODD_N)), {"col": values})
    # Few distinct values are categories: infinities keep the same names.
    assert groups_of([1.0, np.inf, -np.inf, 1.0]).tolist() == ["1.0", "inf", "-inf", "1.0"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.longdouble, "Float64"])
def test_narrow_and_wide_floats_are_binned_as_float64(dtype):
    values = np.random.default_rng(3).random(ODD_N)
    column = pd.Series(values).astype(dtype)
    groups = groups_of(column)
    assert groups.tolist() == groups_of(column.to_numpy(dtype=np.float64)).tolist()
    assert groups.nunique() == 5
    weights = (values >= np.quantile(values, 0.8)).astype(float)
    top = groups[int(np.argmax(values))]
    assert f"col {top} vs 20% overall" in caption(spot(weights, values), {"col": column})


def test_bins_too_close_for_four_digits_keep_their_own_names():
    values = 1 + np.arange(100) * 1e-7
    groups = groups_of(values)
    assert groups.nunique() == 5 and groups.value_counts().tolist() == [20] * 5


def test_all_missing_column_is_one_group_and_the_caption_moves_on():
    weights, losses, group = planted_groups()
    out = breakdown(weights, losses, np.full(len(weights), np.nan))
    assert out["group"].tolist() == ["(missing)"] and out["count"].tolist() == [len(weights)]
    text = caption(spot(weights, losses), {"empty": np.full(len(weights), np.nan), "site": group})
    assert "empty" not in text and "site x vs" in text


def test_values_without_text_are_refused_by_name_and_left_out_of_captions():
    weights, losses, group = planted_groups()
    meta = {"bad": [Unprintable()] * len(weights), "site": group}
    with pytest.raises(ValueError, match=r"column 'bad' \(object\) holds values that cannot be shown as text"):
        describe(spot(weights, losses), meta)
    with pytest.raises(ValueError, match="cannot be shown as text"):
        breakdown(weights, losses, meta["bad"])
    text = caption(spot(weights, losses), meta)
    assert "bad" not in text and "site x vs" in text
    with pytest.raises(ValueError, match=r"one column \(a 1-D array\); got an array of shape \(1000, 2\)"):
        breakdown(weights, losses, np.zeros((1000, 2)))


# -- describe: statistics ------------------------------------------------------------------


def test_hard_weights_give_the_exact_binomial_test_and_clopper_pearson_interval():
    weights, losses, group = planted_groups()
    out = describe(spot(weights, losses), {"g": group}).set_index("group")
    n_in = int(weights.sum())
    for name in ["x", "y", "z"]:
        k = int(((group == name) & (weights > 0)).sum())
        p_all = float((group == name).mean())
        tails = stats.binom.sf(k - 1, n_in, p_all), stats.binom.cdf(k, n_in, p_all)
        assert out.loc[name, "p_value"] == pytest.approx(min(1.0, 2 * min(tails)), rel=1e-6)
        ci = stats.binomtest(k, n_in, p_all).proportion_ci(confidence_level=0.95, method="exact")
        assert out.loc[name, "lift_low"] == pytest.approx(ci.low / p_all, rel=1e-6)
        assert out.loc[name, "lift_high"] == pytest.approx(ci.high / p_all, rel=1e-6)
    assert out.attrs["n_eff"] == pytest.approx(n_in)


def test_effective_size_is_kish_with_counts():
    w = np.array([1.0, 0.5, 0.25, 0.0])
    c = np.array([1, 2, 4, 3])
    assert effective_size(w, c) == pytest.approx((w @ c) ** 2 / (w**2 @ c))
    assert effective_size(np.array([1.0, 1.0, 0.0])) == 2
    # Counts mean copies: a doubled row is the same as two rows.
    assert effective_size(w, c) == pytest.approx(effective_size(np.repeat(w, c)))


def test_counts_are_the_same_as_repeated_rows():
    rng = np.random.default_rng(3)
    w, loss, g = rng.random(40), rng.random(40), rng.choice(list("abc"), 40)
    c = rng.integers(1, 4, 40)
    with_counts = describe(spot(w, loss, c), {"g": g}).set_index("group")
    repeated = describe(spot(np.repeat(w, c), np.repeat(loss, c)), {"g": np.repeat(g, c)}).set_index("group")
    pd.testing.assert_frame_equal(with_counts, repeated.loc[with_counts.index], check_exact=False, rtol=1e-9)


def test_soft_weights_match_a_normal_approximation_at_the_effective_size():
    rng = np.random.default_rng(1)
    n = 20_000
    w = rng.random(n) ** 3  # soft: n_eff is well below the number of members
    group = np.where(rng.random(n) < 0.3 + 0.05 * w, "a", "b")
    out = describe(spot(w), {"g": group}).set_index("group")
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert n_eff < 0.5 * n
    p_in = w[group == "a"].sum() / w.sum()
    p_all = (group == "a").mean()
    z = (p_in - p_all) / np.sqrt(p_all * (1 - p_all) / n_eff)
    assert out.loc["a", "p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=0.1)


def test_p_values_are_calibrated_with_soft_weights_and_overconfident_with_member_counts():
    # Groups drawn independently of the weights: about 5 % of them should test at p < 0.05.
    rng = np.random.default_rng(2)
    n, reps = 4000, 400
    w = np.clip(1 - 4 * rng.random(n), 0, 1) ** 4  # n_eff is about 0.36 of the members
    columns = {f"c{j}": np.where(rng.random(n) < 0.3, "a", "b") for j in range(reps)}
    out = describe(spot(w), columns)
    a = out[out["group"] == "a"]
    assert 0.02 <= (a["p_value"] < 0.05).mean() <= 0.085
    # Counting every member as a whole example (the naive size) rejects far too often.
    members = (w > 0).sum()
    z = (a["share_in"] - a["share_all"]) / np.sqrt(a["share_all"] * (1 - a["share_all"]) / members)
    assert (2 * stats.norm.sf(np.abs(z)) < 0.05).mean() > 0.15


def test_interval_and_p_value_agree():
    rng = np.random.default_rng(4)
    w = rng.random(500) ** 2
    out = describe(spot(w), {"g": rng.choice(list("abcdefgh"), 500, p=[0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05])})
    w2 = w.copy()
    w2[:60] = 1.0
    g2 = np.where(np.arange(500) < 60, "hot", "cold")
    out = pd.concat([out, describe(spot(w2), {"g": g2})])
    outside = (out["lift_low"] > 1) | (out["lift_high"] < 1)
    assert outside.any() and (~outside).any()
    np.testing.assert_array_equal(outside.to_numpy(), (out["p_value"] < 0.05).to_numpy())
    assert ((out["lift_low"] <= out["lift"]) & (out["lift"] <= out["lift_high"])).all()


def test_losses_inside_outside_and_overall_by_hand():
    w = np.array([1.0, 0.5, 0.0, 0.5])
    loss = np.array([4.0, 2.0, 1.0, 3.0])
    out = describe(spot(w, loss), {"g": ["a", "a", "a", "b"]}).set_index("group")
    assert out.loc["a", "loss_in"] == pytest.approx((4 + 0.5 * 2) / 1.5)
    assert out.loc["a", "loss_out"] == pytest.approx((0.5 * 2 + 1) / 1.5)
    assert out.loc["a", "loss_all"] == pytest.approx(7 / 3)
    assert out.loc["b", "loss_in"] == pytest.approx(3.0)
    assert out.attrs["loss_in"] == pytest.approx((4 + 1 + 1.5) / 2)
    assert out.attrs["loss_all"] == pytest.approx(2.5)
    assert out.attrs["mass"] == pytest.approx(2.0)


def test_no_losses_gives_nan_loss_columns():
    out = describe(spot([1.0, 0.0]), {"g": ["a", "b"]})
    assert out[["loss_in", "loss_out", "loss_all"]].isna().all().all()


# -- describe: groups, order, inputs --------------------------------------------------------


def test_columns_in_order_and_the_most_surprising_group_first():
    weights, losses, group = planted_groups()
    rng = np.random.default_rng(5)
    meta = pd.DataFrame({"noise": rng.choice(list("pqr"), len(group)), "g": group})
    out = describe(spot(weights, losses), meta)
    assert list(dict.fromkeys(out["column"])) == ["noise", "g"]
    g = out[out["column"] == "g"]
    assert g.iloc[0]["group"] == "x"
    for _, part in out.groupby("column"):
        assert part["p_value"].is_monotonic_increasing
    only = describe(spot(weights, losses), meta, columns="g")
    assert set(only["column"]) == {"g"}


def test_numeric_bins_missing_values_and_min_count():
    rng = np.random.default_rng(6)
    age = rng.uniform(0, 90, 300)
    age[:7] = np.nan
    w = rng.random(300)
    out = describe(spot(w), {"age": age}, bins=3)
    assert len(out) == 4 and "(missing)" in set(out["group"])
    assert out["count"].sum() == 300
    assert out["share_in"].sum() == pytest.approx(1.0) and out["share_all"].sum() == pytest.approx(1.0)
    assert "(missing)" not in set(describe(spot(w), {"age": age}, bins=3, min_count=8)["group"])


def test_metadata_forms_and_a_slice():
    weights, losses, group = planted_groups(n=200, inside=20)
    sl = Slice("test", weights, losses)
    from_frame = describe(sl, pd.DataFrame({"g": group}))
    from_series = describe(sl, pd.Series(group, name="g"))
    from_dict = describe(spot(weights, losses), {"g": list(group)})
    pd.testing.assert_frame_equal(from_frame, from_series)
    pd.testing.assert_frame_equal(from_frame, from_dict)
    assert describe(sl, pd.Series(group))["column"].iloc[0] == "value"


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([np.nan, 1.0, 0.0], "NaN"),
        ([0.0, 0.0, 0.0], "empty"),
        ([1.5, 0.0, 0.0], r"\[0, 1\]"),
        ([-0.1, 1.0, 0.0], r"\[0, 1\]"),
    ],
)
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        describe(spot(weights), {"g": ["a", "b", "c"]})


def test_bad_inputs():
    with pytest.raises(ValueError, match="metadata has 2 rows but the spotlight has 3"):
        describe(spot([1.0, 0.0, 0.0]), {"g": ["a", "b"]})
    with pytest.raises(ValueError, match="unknown columns"):
        describe(spot([1.0, 0.0]), {"g": ["a", "b"]}, columns=["h"])
    with pytest.raises(TypeError, match="weights"):
        describe(object(), {"g": ["a", "b"]})
    with pytest.raises(ValueError, match="confidence"):
        describe(spot([1.0, 0.0]), {"g": ["a", "b"]}, confidence=1.0)
    with pytest.raises(ValueError, match="bins"):
        describe(spot([1.0, 0.0]), {"g": [1.0, 2.0]}, bins=0)
    with pytest.raises(ValueError, match="losses"):
        describe(spot([1.0, 0.0], [1.0, 2.0, 3.0]), {"g": ["a", "b"]})


# -- tokens --------------------------------------------------------------------------------


def corpus(n=400, inside=40, planted="zorblat", seed=7):
    rng = np.random.default_rng(seed)
    words = ["the", "a", "good", "bad", "product", "works", "great", "broke", "fast", "slow"]
    texts = [" ".join(rng.choice(words, rng.integers(4, 9))) for _ in range(n)]
    weights = np.zeros(n)
    weights[:inside] = np.linspace(1.0, 0.2, inside)
    for i in range(inside):
        texts[i] = f"{texts[i]} {planted}"
    return texts, weights


def test_the_planted_token_comes_first():
    texts, weights = corpus()
    summary = token_summary(texts, spot(weights), top=5)
    first = summary.tokens.iloc[0]
    assert first["token"] == "zorblat"
    assert first["share_in"] == pytest.approx(1.0) and first["share_all"] == pytest.approx(0.1)
    assert first["count"] == 40 and first["count_in"] == pytest.approx(weights.sum())
    assert (summary.tokens["lift"] > 1).all() and len(summary.tokens) <= 5
    assert summary.tokens["p_value"].is_monotonic_increasing


def test_token_shares_lengths_and_examples_by_hand():
    texts = ["Red red blue", "blue green", "green", "red"]
    w = np.array([1.0, 0.5, 0.0, 0.0])
    summary = token_summary(texts, spot(w), min_count=1, examples=2)
    table = summary.tokens.set_index("token")
    assert table.loc["red", "share_in"] == pytest.approx(1 / 1.5)
    assert table.loc["red", "share_all"] == pytest.approx(2 / 4)  # texts containing it, not occurrences
    assert table.loc["blue", "lift"] == pytest.approx(1.0 / (2 / 4))
    assert "green" not in table.index  # less common inside than overall
    assert summary.mean_length_in == pytest.approx((3 + 0.5 * 2) / 1.5)
    assert summary.mean_length_all == pytest.approx((3 + 2 + 1 + 1) / 4)
    assert summary.examples == ["Red red blue", "blue green"]
    assert summary.example_indices.tolist() == [0, 1]


def test_non_latin_scripts():
    assert default_tokenizer("Привет, МИР! Καλημέρα κόσμε") == ["привет", "мир", "καλημέρα", "κόσμε"]
    assert default_tokenizer("東京タワー café") == ["東", "京", "タ", "ワ", "ー", "café"]
    texts, weights = corpus(planted="отличный")
    assert token_summary(texts, spot(weights)).tokens.iloc[0]["token"] == "отличный"
    texts, weights = corpus(planted="故障")
    assert set(token_summary(texts, spot(weights)).tokens["token"].iloc[:2]) == {"故", "障"}


def test_custom_tokenizer_missing_texts_and_errors():
    texts, weights = corpus(planted="Zorblat")
    texts[100] = None
    summary = token_summary(texts, spot(weights), tokenizer=str.split)
    assert summary.tokens.iloc[0]["token"] == "Zorblat"  # no lower-casing with str.split
    with pytest.raises(TypeError, match="list of str"):
        token_summary(texts, spot(weights), tokenizer=len)
    with pytest.raises(ValueError, match="3 entries for 400"):
        token_summary(["a", "b", "c"], spot(weights))
    with pytest.raises(TypeError, match="entry 1 is int"):
        token_summary(["a", 5] + texts[2:], spot(weights))


# -- labels --------------------------------------------------------------------------------


def test_label_summary_confusion_and_accuracy_by_hand():
    w = np.array([1.0, 1.0, 0.5, 0.0, 0.0])
    y = np.array([7, 7, 1, 1, 2])
    yhat = np.array([1, 7, 1, 1, 1])
    out = label_summary(spot(w, np.ones(5)), y, yhat)
    assert out.confusion_in.to_numpy().sum() == pytest.approx(1.0)
    assert out.confusion_all.to_numpy().sum() == pytest.approx(1.0)
    assert list(out.confusion_in.index) == [1, 2, 7] and list(out.confusion_in.columns) == [1, 2, 7]
    assert out.confusion_in.loc[7, 1] == pytest.approx(1 / 2.5)
    assert out.confusion_all.loc[2, 1] == pytest.approx(1 / 5)
    assert out.accuracy_in == pytest.approx(1.5 / 2.5)
    assert out.accuracy_all == pytest.approx(3 / 5)
    labels = out.labels.set_index("label")
    assert labels.loc[7, "share_in"] == pytest.approx(2 / 2.5) and labels.loc[7, "share_all"] == pytest.approx(0.4)
    assert out.predictions.set_index("prediction").loc[1, "share_in"] == pytest.approx(1.5 / 2.5)


def test_label_summary_without_predictions_and_bad_labels():
    out = label_summary(spot([1.0, 0.0, 0.0]), ["cat", "dog", "dog"])
    assert out.confusion_in is None and np.isnan(out.accuracy_in)
    assert out.labels.iloc[0]["label"] == "cat"
    with pytest.raises(ValueError, match="missing"):
        label_summary(spot([1.0, 0.0, 0.0]), ["cat", None, "dog"])
    with pytest.raises(ValueError, match="2 values for 3"):
        label_summary(spot([1.0, 0.0, 0.0]), ["cat", "dog"])


# -- caption -------------------------------------------------------------------------------


def test_caption_names_the_planted_label_and_the_losses():
    weights, losses, group = planted_groups()
    text = caption(spot(weights, losses), labels=group)
    share_in = (group[weights > 0] == "x").mean()
    share_all = (group == "x").mean()
    loss_in, loss_all = losses[weights > 0].mean(), losses.mean()
    assert text == (
        f"{100 * share_in:.0f}% label x vs {100 * share_all:.0f}% overall; mean loss {loss_in:.3g} vs {loss_all:.3g}"
    )


def test_caption_parts_metadata_accuracy_and_nothing_to_say():
    weights, losses, group = planted_groups()
    rng = np.random.default_rng(8)
    meta = pd.DataFrame({"site\nname": np.where(group == "x", "north\tside", "south"), "noise": rng.random(1000)})
    text = caption(spot(weights, losses), meta, labels=group, predictions=np.where(weights > 0, "y", group))
    assert "\n" not in text and "\t" not in text
    assert "site name north side" in text and "label x" in text
    assert text.endswith(f"accuracy {100 * (group[weights > 0] == 'y').mean():.2g}% vs 96%")
    assert caption(spot(weights, losses), meta, max_parts=0).startswith("mean loss")
    balanced = np.where(np.arange(1000) % 2 == 0, "a", "b")
    assert caption(spot(weights), labels=balanced) == "no group stands out"
    with pytest.raises(ValueError, match="max_parts"):
        caption(spot(weights), max_parts=-1)


def test_caption_names_integer_labels_as_integers():
    from spotlight_widget.describe import caption
    from spotlight_widget.slices import Slice

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, 1000)
    weights = (labels == 17).astype(float)
    text = caption(
        Slice("test", weights, rng.random(1000)), labels=labels, predictions=np.where(weights > 0, 3, labels)
    )
    assert "label 17 vs" in text and "predicted 3 vs" in text
    assert "17.0" not in text and "3.0" not in text
