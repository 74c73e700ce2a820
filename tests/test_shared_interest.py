"""Shared Interest: the metrics, thresholds, annotations, patterns, saliency and probing."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from spotlight_widget.shared_interest import (
    PATTERNS,
    behaviour_patterns,
    boxes_to_masks,
    correct_within,
    ground_truth_features,
    integrated_gradients,
    probe,
    saliency_features,
    saliency_per_class,
    shared_interest,
    tokens_to_masks,
    vanilla_gradients,
)


def square(n, top, left, size, shape=(10, 10)):
    """``n`` copies of a mask with one size x size square."""
    m = np.zeros((n, *shape), dtype=bool)
    m[:, top : top + size, left : left + size] = True
    return m


def reference(s, g, empty=1.0):
    """Eq. 1-3 with Python sets, one example at a time."""
    rows = []
    for si, gi in zip(s.reshape(len(s), -1), g.reshape(len(g), -1)):
        S, G = set(np.flatnonzero(si)), set(np.flatnonzero(gi))
        both, union = len(S & G), len(S | G)
        rows.append(
            (
                both / union if union else empty,
                both / len(G) if G else empty,
                both / len(S) if S else empty,
            )
        )
    return np.array(rows)


# ---------------------------------------------------------------- metrics on hand-made masks


def test_metrics_of_nested_and_overlapping_squares():
    g = square(1, 2, 2, 4)  # 16 pixels
    inside = square(1, 3, 3, 2)  # 4 pixels, all inside G
    shifted = square(1, 4, 4, 4)  # 16 pixels, 4 shared with G
    m = shared_interest(np.concatenate([inside, shifted]), np.concatenate([g, g]))
    assert list(m.columns) == ["iou", "gtc", "sc", "n_saliency", "n_ground_truth", "n_shared"]
    assert m.loc[0, ["iou", "gtc", "sc"]].tolist() == pytest.approx([4 / 16, 4 / 16, 1.0])
    assert m.loc[1, ["iou", "gtc", "sc"]].tolist() == pytest.approx([4 / 28, 4 / 16, 4 / 16])
    assert m[["n_saliency", "n_ground_truth", "n_shared"]].to_numpy().tolist() == [[4, 16, 4], [16, 16, 4]]


def test_metrics_match_a_set_reference_on_random_masks():
    rng = np.random.default_rng(0)
    s = rng.random((20, 7, 9)) < rng.random((20, 1, 1))
    g = rng.random((20, 7, 9)) < rng.random((20, 1, 1))
    s[0], g[1] = False, False  # one empty saliency set, one empty ground truth
    m = shared_interest(s, g)
    np.testing.assert_allclose(m[["iou", "gtc", "sc"]].to_numpy(), reference(s, g))


def test_full_and_identical_sets_score_one_and_disjoint_sets_zero():
    full = np.ones((1, 6, 6), dtype=bool)
    left = np.zeros((1, 6, 6), dtype=bool)
    left[:, :, :3] = True
    m = shared_interest(np.concatenate([full, left, left]), np.concatenate([full, left, ~left]))
    assert m.loc[0, ["iou", "gtc", "sc"]].tolist() == [1.0, 1.0, 1.0]
    assert m.loc[1, ["iou", "gtc", "sc"]].tolist() == [1.0, 1.0, 1.0]
    assert m.loc[2, ["iou", "gtc", "sc"]].tolist() == [0.0, 0.0, 0.0]
    # Full saliency over a half-image annotation: covers all of G, half of S inside it.
    m = shared_interest(full, left)
    assert m.loc[0, ["iou", "gtc", "sc"]].tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_empty_sets_take_the_documented_values():
    none = np.zeros((1, 4, 4), dtype=bool)
    some = square(1, 0, 0, 2, shape=(4, 4))
    s = np.concatenate([none, none, some])
    g = np.concatenate([none, some, none])
    m = shared_interest(s, g)
    # Both empty: S = G, so IoU 1 and both coverages 1.
    assert m.loc[0, ["iou", "gtc", "sc"]].tolist() == [1.0, 1.0, 1.0]
    # Empty S, non-empty G: S is a subset of G (SC 1), shares nothing (IoU, GTC 0).
    assert m.loc[1, ["iou", "gtc", "sc"]].tolist() == [0.0, 0.0, 1.0]
    # Empty G: G is a subset of S (GTC 1), nothing of S lies in it (IoU, SC 0).
    assert m.loc[2, ["iou", "gtc", "sc"]].tolist() == [0.0, 1.0, 0.0]
    nan = shared_interest(s, g, empty=float("nan"))
    assert nan[["iou", "gtc", "sc"]].isna().to_numpy().tolist() == [
        [True, True, True],
        [False, False, True],
        [False, True, False],
    ]
    assert behaviour_patterns(nan, [True, True, True]).isna().all()


def test_index_and_dataframe_inputs():
    s = square(3, 0, 0, 3)
    m = shared_interest(s, s, index=["a", "b", "c"])
    assert list(m.index) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="index has 2 entries"):
        shared_interest(s, s, index=["a", "b"])


def test_torch_inputs_stay_on_their_device_and_give_the_same_values():
    rng = np.random.default_rng(1)
    sal = rng.random((5, 8, 8))
    g = rng.random((5, 8, 8)) < 0.3
    from_numpy = shared_interest(sal, g)
    from_torch = shared_interest(torch.from_numpy(sal), torch.from_numpy(g))
    pd.testing.assert_frame_equal(from_numpy, from_torch)
    assert saliency_features(torch.from_numpy(sal)).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inputs_compute_on_the_gpu():
    sal = torch.rand(4, 8, 8, device="cuda")
    g = torch.rand(4, 8, 8, device="cuda") < 0.3
    assert saliency_features(sal).device.type == "cuda"
    pd.testing.assert_frame_equal(shared_interest(sal, g), shared_interest(sal.cpu(), g.cpu()))


# ---------------------------------------------------------------- thresholds


def test_mean_plus_std_is_the_default_and_per_example():
    rng = np.random.default_rng(2)
    sal = rng.normal(size=(4, 6, 6)) * np.array([1, 10, 100, 0.01])[:, None, None]
    flat = sal.reshape(4, -1)
    expected = flat > (flat.mean(1) + flat.std(1))[:, None]
    got = saliency_features(sal).reshape(4, -1).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(saliency_features(sal, threshold="mean+std").numpy(), got.reshape(sal.shape))
    two = saliency_features(sal, threshold=("std", 2.0)).reshape(4, -1).numpy()
    np.testing.assert_array_equal(two, flat > (flat.mean(1) + 2 * flat.std(1))[:, None])
    assert two.sum() < got.sum()


def test_a_number_thresholds_strictly_above():
    sal = np.array([[0.1, 0.5, 0.9, 0.5]])
    assert saliency_features(sal, threshold=0.5).numpy().tolist() == [[False, False, True, False]]
    assert saliency_features(sal, threshold=0.0).numpy().all()


def test_top_n_and_top_fraction():
    rng = np.random.default_rng(3)
    sal = rng.random((3, 5, 5))
    top = saliency_features(sal, threshold=("top", 4)).numpy()
    assert top.reshape(3, -1).sum(1).tolist() == [4, 4, 4]
    for s, t in zip(sal, top):
        assert s[t].min() > s[~t].max()
    frac = saliency_features(sal, threshold=("top", 0.1)).numpy()
    assert frac.reshape(3, -1).sum(1).tolist() == [math.ceil(0.1 * 25)] * 3
    assert saliency_features(sal, threshold=("top", 1.0)).numpy().all()
    assert saliency_features(sal, threshold=("top", 100)).numpy().all()


def test_top_n_breaks_ties_by_position_and_constant_maps_have_no_salient_features():
    sal = np.array([[1.0, 2.0, 2.0, 2.0, 0.0]])
    assert saliency_features(sal, threshold=("top", 2)).numpy().tolist() == [[False, True, True, False, False]]
    constant = np.full((2, 4, 4), 3.0)
    assert not saliency_features(constant).any()
    assert not saliency_features(constant, threshold=("std", -1.0)).any()


def test_boolean_saliency_is_taken_as_the_set():
    s = square(2, 1, 1, 3)
    np.testing.assert_array_equal(saliency_features(s, threshold=("top", 1)).numpy(), s)


def test_valid_mask_excludes_padding_from_sets_and_statistics():
    sal = np.array([[0.0, 0.0, 1.0, 9.0, 9.0], [5.0, 1.0, 0.0, 0.0, 0.0]])
    valid = np.array([[True, True, True, False, False], [True, True, True, True, True]])
    s = saliency_features(sal, threshold=("top", 1), valid=valid).numpy()
    assert s.tolist() == [[False, False, True, False, False], [True, False, False, False, False]]
    # Statistics over the 3 valid tokens only: mean 1/3, std 0.47, so token 2 is above.
    assert saliency_features(sal, valid=valid).numpy()[0].tolist() == [False, False, True, False, False]
    frac = saliency_features(sal, threshold=("top", 0.34), valid=valid).numpy()
    assert frac.sum(1).tolist() == [math.ceil(0.34 * 3), math.ceil(0.34 * 5)]
    m = shared_interest(sal, [[2, 3], [0]], valid=valid, threshold=("top", 1))
    assert m["n_ground_truth"].tolist() == [1, 1]  # token 3 is padding
    assert m["iou"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("threshold", "error", "match"),
    [
        ("median", ValueError, "threshold must be"),
        (("top", 0), ValueError, "n >= 1"),
        (("top", 1.5), ValueError, "fraction in"),
        (("top", -0.5), ValueError, "fraction in"),
        (("bottom", 3), ValueError, "kind must be"),
        (("std", float("nan")), ValueError, "finite"),
        (float("inf"), ValueError, "finite"),
        ([0.5], TypeError, "threshold must be"),
        (True, TypeError, "threshold must be"),
    ],
)
def test_bad_thresholds_are_refused(threshold, error, match):
    with pytest.raises(error, match=match):
        saliency_features(np.random.default_rng(0).random((2, 4, 4)), threshold=threshold)


# ---------------------------------------------------------------- boxes and token sets


def test_boxes_match_the_equivalent_masks():
    rng = np.random.default_rng(4)
    sal = rng.random((3, 8, 10))
    boxes = np.array([[0, 0, 10, 8], [2, 1, 5, 7], [3, 3, 3, 6]])  # full, a box, an empty box
    masks = np.zeros((3, 8, 10), dtype=bool)
    masks[0] = True
    masks[1, 1:7, 2:5] = True
    np.testing.assert_array_equal(boxes_to_masks(boxes, 8, 10).numpy(), masks)
    pd.testing.assert_frame_equal(shared_interest(sal, boxes), shared_interest(sal, masks))
    pd.testing.assert_frame_equal(shared_interest(sal, torch.from_numpy(boxes)), shared_interest(sal, masks))


def test_several_boxes_per_example_are_united():
    per_example = [np.array([[0, 0, 2, 2], [1, 1, 3, 3]]), np.zeros((0, 4)), [4, 4, 5, 6]]
    masks = boxes_to_masks(per_example, 6, 6).numpy()
    expected = np.zeros((3, 6, 6), dtype=bool)
    expected[0, 0:2, 0:2] = expected[0, 1:3, 1:3] = True
    expected[2, 4:6, 4:5] = True
    np.testing.assert_array_equal(masks, expected)
    assert masks.reshape(3, -1).sum(1).tolist() == [7, 0, 2]


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        ([[0, 0, 11, 5]], "outside the 10x8 image"),
        ([[-1, 0, 3, 3]], "outside"),
        ([[0, 0, 3, 9]], "outside"),
        ([[5, 0, 3, 3]], "x1 < x0"),
        ([[0.5, 0, 3, 3]], "whole pixels"),
        ([[0, 0, float("nan"), 3]], "NaN"),
        ([[0, 0, 3]], r"\(4,\) or \(k, 4\)"),
    ],
)
def test_bad_boxes_are_refused(boxes, match):
    with pytest.raises(ValueError, match=match):
        boxes_to_masks(boxes, 8, 10)


def test_box_errors_name_the_example():
    with pytest.raises(ValueError, match="of example 1"):
        boxes_to_masks([[0, 0, 2, 2], [[0, 0, 2, 2], [0, 0, 99, 2]]], 4, 4)
    with pytest.raises(TypeError, match="must be numbers"):
        boxes_to_masks([["a", "b", "c", "d"]], 4, 4)


def test_token_sets_match_the_equivalent_masks():
    rng = np.random.default_rng(5)
    sal = rng.random((3, 7))
    tokens = [[0, 2, 2], [], np.array([6])]
    masks = np.zeros((3, 7), dtype=bool)
    masks[0, [0, 2]] = True
    masks[2, 6] = True
    np.testing.assert_array_equal(tokens_to_masks(tokens, 7).numpy(), masks)
    pd.testing.assert_frame_equal(shared_interest(sal, tokens), shared_interest(sal, masks))
    # A token index array shaped like the saliency needs its kind named.
    index_array = np.array([[0, 1, 2], [3, 4, 5]])
    with pytest.raises(ValueError, match="kind='tokens'"):
        shared_interest(rng.random((2, 3)), index_array)
    m = shared_interest(rng.random((2, 3)) * 0, index_array % 3, ground_truth_kind="tokens", threshold=-1.0)
    assert m["iou"].tolist() == [1.0, 1.0]


def test_bad_token_sets_are_refused():
    with pytest.raises(ValueError, match="out of range for length 5"):
        tokens_to_masks([[1, 5]], 5)
    with pytest.raises(ValueError, match="out of range"):
        tokens_to_masks([[-1]], 5)
    with pytest.raises(TypeError, match="must be integers"):
        tokens_to_masks([[1.5]], 5)
    with pytest.raises(ValueError, match="2 examples but saliency has 3"):
        shared_interest(np.zeros((3, 5)), [[1], [2]])
    with pytest.raises(ValueError, match="token sets need"):
        ground_truth_features([[1]], (1, 4, 4), kind="tokens")


# ---------------------------------------------------------------- bad inputs


def test_bad_saliency_and_masks_are_refused():
    g = square(2, 0, 0, 2, shape=(4, 4))
    with pytest.raises(ValueError, match="saliency's shape"):
        shared_interest(np.zeros((2, 4, 4)), square(2, 0, 0, 2, shape=(4, 5)), ground_truth_kind="mask")
    sal = np.random.default_rng(0).random((2, 4, 4))
    sal[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        shared_interest(sal, g)
    with pytest.raises(TypeError, match="boolean mask"):
        shared_interest(np.zeros((2, 4, 4)), g.astype(float))
    with pytest.raises(ValueError, match="only 0 and 1"):
        shared_interest(np.zeros((2, 4, 4)), g.astype(int) * 2)
    with pytest.raises(TypeError, match="numeric"):
        shared_interest(np.full((2, 4, 4), "x"), g)
    with pytest.raises(ValueError, match=r"\(N, H, W\) for images or \(N, L\)"):
        shared_interest(np.zeros(4), g)
    with pytest.raises(ValueError, match="empty"):
        shared_interest(np.zeros((0, 4, 4)), g)
    with pytest.raises(TypeError, match="required"):
        shared_interest(None, g)
    with pytest.raises(ValueError, match="kind must be"):
        shared_interest(np.zeros((2, 4, 4)), g, ground_truth_kind="polygon")
    with pytest.raises(ValueError, match="boxes must be"):
        shared_interest(np.zeros((2, 4, 4)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="valid must have"):
        saliency_features(np.zeros((2, 4, 4)), valid=np.ones((2, 4), bool))


def test_integer_saliency_and_0_1_masks_are_accepted():
    g = square(1, 0, 0, 2, shape=(4, 4))
    sal = g.astype(np.int64) * 7
    m = shared_interest(sal, g.astype(np.uint8))
    assert m.loc[0, ["iou", "gtc", "sc"]].tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- behaviour patterns


def metrics(rows):
    return pd.DataFrame(rows, columns=["iou", "gtc", "sc"])


def test_the_decision_table_covers_all_eight_patterns():
    shapes = {
        "aligned": (0.8, 0.9, 0.85),
        "subset": (0.2, 0.2, 0.9),
        "context": (0.3, 0.9, 0.3),
        "elsewhere": (0.05, 0.1, 0.1),
    }
    rows = [shapes[k] for k in shapes] * 2
    correct = [True] * 4 + [False] * 4
    got = behaviour_patterns(metrics(rows), correct).tolist()
    assert got == [
        "human aligned",
        "sufficient subset",
        "context dependent",
        "sufficient context",
        "confuser",
        "insufficient subset",
        "context confusion",
        "distractor",
    ]
    assert set(got) == set(PATTERNS)


def test_patterns_from_masks_end_to_end():
    g = square(1, 2, 2, 6)  # 36 pixels
    same = g.copy()
    part = square(1, 3, 3, 3)  # 9 pixels inside G
    around = square(1, 1, 1, 9)  # 81 pixels around G
    away = square(1, 0, 8, 2)  # outside G
    s = np.concatenate([same, part, around, away] * 2)
    m = shared_interest(s, np.repeat(g, 8, axis=0))
    p = behaviour_patterns(m, [True] * 4 + [False] * 4)
    assert p.tolist() == [
        "human aligned",
        "sufficient subset",
        "context dependent",
        "sufficient context",
        "confuser",
        "insufficient subset",
        "context confusion",
        "distractor",
    ]


def test_patterns_series_is_categorical_in_the_paper_order_and_keeps_the_index():
    m = metrics([(0.9, 0.9, 0.9), (0.0, 0.0, 0.0)])
    m.index = ["x", "y"]
    p = behaviour_patterns(m, np.array([1, 0]))
    assert isinstance(p.dtype, pd.CategoricalDtype)
    assert list(p.cat.categories) == list(PATTERNS)
    assert list(p.index) == ["x", "y"] and p.name == "pattern"
    assert p.value_counts().reindex(PATTERNS).tolist() == [1, 0, 0, 0, 0, 0, 1, 0]


def test_cut_offs_move_examples_and_a_gap_leaves_middling_ones_out():
    m = metrics([(0.55, 0.7, 0.7), (0.45, 0.6, 0.6)])
    assert behaviour_patterns(m, [True, True]).tolist() == ["human aligned", "sufficient context"]
    assert behaviour_patterns(m, [True, True], high=0.6, low=0.6).tolist() == ["sufficient context"] * 2
    gap = behaviour_patterns(m, [True, True], high=0.8, low=0.3)
    assert gap.isna().all()
    partial = behaviour_patterns(m, [True, True], high=0.5, low=0.4)
    assert partial[0] == "human aligned" and pd.isna(partial[1])
    # Dict-like input works as well as a DataFrame.
    p = behaviour_patterns({"iou": [0.1], "gtc": [0.1], "sc": [0.1]}, [False])
    assert p.tolist() == ["distractor"]


def test_bad_pattern_inputs_are_refused():
    m = metrics([(0.5, 0.5, 0.5)])
    with pytest.raises(ValueError, match="high .* must be >= low"):
        behaviour_patterns(m, [True], high=0.3, low=0.6)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        behaviour_patterns(m, [True], high=1.5)
    with pytest.raises(ValueError, match="need a 'sc' column"):
        behaviour_patterns(m.drop(columns="sc"), [True])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        behaviour_patterns(metrics([(2.0, 0.5, 0.5)]), [True])
    with pytest.raises(ValueError, match="has 2 entries but metrics have 1"):
        behaviour_patterns(m, [True, False])
    with pytest.raises(TypeError, match="booleans"):
        behaviour_patterns(m, [0.5])


def test_regression_correctness_within_delta_changes_the_pattern():
    predictions = np.array([0.30, 0.62, 0.65, 0.90])
    targets = np.array([0.60, 0.60, 0.60, 0.60])
    assert correct_within(predictions, targets, 0.05).tolist() == [False, True, True, False]
    assert correct_within(predictions, targets, 0.01).tolist() == [False, False, False, False]
    assert correct_within(predictions, targets, 0.3).tolist() == [True, True, True, True]
    m = metrics([(0.1, 0.1, 0.1)] * 4)
    p = behaviour_patterns(m, correct_within(predictions, targets))
    assert p.tolist() == ["distractor", "sufficient context", "sufficient context", "distractor"]
    with pytest.raises(ValueError, match="delta"):
        correct_within(predictions, targets, -0.1)
    with pytest.raises(ValueError, match="4 entries but targets have 3"):
        correct_within(predictions, targets[:3])
    with pytest.raises(ValueError, match="NaN"):
        correct_within([np.nan], [0.0])


# ---------------------------------------------------------------- saliency helpers


@pytest.fixture
def linear():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 5, 3)).eval()
    return model, model[1].weight.detach().reshape(3, 2, 4, 5)


def test_vanilla_gradients_of_a_linear_model_are_its_weights(linear):
    model, w = linear
    x = torch.randn(6, 2, 4, 5)
    maps = vanilla_gradients(model, x, target=1)
    assert maps.shape == (6, 4, 5)
    torch.testing.assert_close(maps, w[1].abs().sum(0).expand(6, 4, 5))
    signed = vanilla_gradients(model, x, target=[0, 1, 2, 0, 1, 2], reduce="none")
    torch.testing.assert_close(signed, w[[0, 1, 2, 0, 1, 2]])
    predicted = model(x).argmax(1)
    torch.testing.assert_close(vanilla_gradients(model, x, reduce="sum"), w[predicted].sum(1))
    assert all(p.grad is None for p in model.parameters())


def test_vanilla_gradients_accept_numpy_grayscale_and_small_batches(linear):
    model, w = linear
    x = np.random.default_rng(0).normal(size=(5, 2, 4, 5))  # float64 into a float32 model
    torch.testing.assert_close(vanilla_gradients(model, x, target=2, batch_size=2), w[2].abs().sum(0).expand(5, 4, 5))
    gray = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 2)).eval()
    maps = vanilla_gradients(gray, torch.randn(3, 4, 5), target=0, channel_dim=None)
    torch.testing.assert_close(maps, gray[1].weight[0].reshape(4, 5).abs().expand(3, 4, 5))


def test_integrated_gradients_are_complete(linear):
    model, _ = linear
    x = torch.randn(4, 2, 4, 5)
    target = torch.tensor([0, 1, 2, 1])
    pick = torch.arange(4)
    for baseline in (None, 0.5, torch.randn(2, 4, 5)):
        ig = integrated_gradients(model, x, target, baseline=baseline)
        base = torch.zeros_like(x) if baseline is None else torch.as_tensor(baseline).expand_as(x)
        with torch.no_grad():
            gap = model(x)[pick, target] - model(base)[pick, target]
        torch.testing.assert_close(ig.sum((1, 2)), gap, rtol=1e-5, atol=1e-5)

    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    mlp.eval()
    ig = integrated_gradients(mlp, x, steps=16, batch_size=5)
    with torch.no_grad():
        t = mlp(x).argmax(1)
        gap = mlp(x)[pick, t] - mlp(torch.zeros_like(x))[pick, t]
    torch.testing.assert_close(ig.sum((1, 2)), gap, rtol=1e-4, atol=1e-4)


def test_integrated_gradients_on_token_embeddings_and_regression():
    torch.manual_seed(2)
    emb = torch.randn(3, 6, 4)  # (N, L, D)
    w = torch.randn(4)

    def regressor(e):
        return torch.tanh(e @ w).sum(1)  # one output per example

    ig = integrated_gradients(regressor, emb)
    assert ig.shape == (3, 6)
    torch.testing.assert_close(ig.sum(1), regressor(emb) - regressor(torch.zeros_like(emb)), rtol=1e-4, atol=1e-4)
    assert vanilla_gradients(regressor, emb).shape == (3, 6)
    with pytest.raises(ValueError, match="regression"):
        vanilla_gradients(regressor, emb, target=0)


def test_saliency_helpers_refuse_bad_input(linear):
    model, _ = linear
    x = torch.randn(2, 2, 4, 5)
    with pytest.raises(TypeError, match="floating point"):
        vanilla_gradients(model, torch.ones(2, 2, 4, 5, dtype=torch.long))
    bad = x.clone()
    bad[1, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        integrated_gradients(model, bad)
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        vanilla_gradients(model, x, target=3)
    with pytest.raises(ValueError, match="target has 3 entries"):
        vanilla_gradients(model, x, target=[0, 1, 2])
    with pytest.raises(TypeError, match="class indices"):
        vanilla_gradients(model, x, target=[0.5, 1.0])
    with pytest.raises(ValueError, match="baseline must be"):
        integrated_gradients(model, x, baseline=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model, x, steps=0)
    with pytest.raises(ValueError, match="reduce"):
        vanilla_gradients(model, x, reduce="max")
    with pytest.raises(ValueError, match="not a feature axis"):
        vanilla_gradients(model, x, channel_dim=0)
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        vanilla_gradients(model, x)


# ---------------------------------------------------------------- probing


def three_class_maps():
    rng = np.random.default_rng(6)
    maps = rng.random((3, 10, 10)) * 0.1
    maps[0, 0:3, 0:3] += 1.0  # a corner
    maps[1, 4:8, 4:8] += 1.0  # the region probed below
    maps[2, 5:7, 5:7] += 1.0  # a part of it
    return maps


def test_probe_ranks_the_class_whose_saliency_matches_the_region_first():
    region = np.zeros((10, 10), dtype=bool)
    region[4:8, 4:8] = True
    names = ["corner", "<b>whole</b> & 'quoted'", "part \u2014 \U0001f600"]
    ranked = probe(three_class_maps(), region, class_names=names)
    assert ranked["class"].tolist() == [1, 2, 0]
    assert ranked["name"].tolist() == [names[1], names[2], names[0]]
    assert ranked.loc[0, "iou"] == 1.0
    # Ranked by saliency coverage, the part (S inside the region) ties with the whole.
    by_sc = probe(three_class_maps(), region, metric="sc")
    assert by_sc["class"].tolist()[:2] == [1, 2] and by_sc["sc"].tolist()[:2] == [1.0, 1.0]
    # A box and a mask of the same pixels give the same ranking.
    pd.testing.assert_frame_equal(probe(three_class_maps(), (4, 4, 8, 8)), probe(three_class_maps(), region))
    assert len(probe(three_class_maps(), region, top=2)) == 2


def test_probe_with_a_model_callable():
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 5, 3)).eval()
    hot = [(0, 0), (2, 3), (3, 1)]  # the pixel each class weighs most
    with torch.no_grad():
        model[1].weight.mul_(0.01)
        w = model[1].weight.view(3, 2, 4, 5)
        for c, (r, col) in enumerate(hot):
            w[c, :, r, col] = 1.0
    w = model[1].weight.detach().reshape(3, 2, 4, 5)
    image = torch.randn(2, 4, 5)
    torch.testing.assert_close(saliency_per_class(model, image), w.abs().sum(1))
    for c, pixel in enumerate(hot):
        region = np.zeros((4, 5), dtype=bool)
        region[pixel] = True
        ranked = probe(lambda im: saliency_per_class(model, im), region, image=image, threshold=("top", 1))
        assert ranked.loc[0, "class"] == c and ranked.loc[0, "iou"] == 1.0
        assert (ranked.loc[1:, "iou"] == 0).all()
    with pytest.raises(TypeError, match="image="):
        probe(lambda im: saliency_per_class(model, im), region)


def test_probe_on_tokens_and_bad_probes():
    maps = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    assert probe(maps, [0, 1], threshold=("top", 2))["class"].tolist() == [1, 0]
    assert probe(maps, [2, 3], threshold=("top", 2), region_kind="tokens")["class"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="region is empty"):
        probe(three_class_maps(), np.zeros((10, 10), dtype=bool))
    with pytest.raises(ValueError, match="metric must be"):
        probe(three_class_maps(), (0, 0, 2, 2), metric="f1")
    with pytest.raises(ValueError, match="class_names has 2 entries"):
        probe(three_class_maps(), (0, 0, 2, 2), class_names=["a", "b"])
    with pytest.raises(ValueError, match="outside"):
        probe(three_class_maps(), (0, 0, 20, 2))
    with pytest.raises(ValueError, match="top must be"):
        probe(three_class_maps(), (0, 0, 2, 2), top=0)


def test_saliency_per_class_with_integrated_gradients_is_complete(linear):
    model, _ = linear
    image = torch.randn(2, 4, 5)
    maps = saliency_per_class(model, image, method="integrated_gradients", classes=[2, 0])
    with torch.no_grad():
        gap = model(image[None])[0, [2, 0]] - model(torch.zeros(1, 2, 4, 5))[0, [2, 0]]
    torch.testing.assert_close(maps.sum((1, 2)), gap, rtol=1e-5, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="method must be"):
            saliency_per_class(model, image, method="lime")
