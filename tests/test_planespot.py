import threading

import numpy as np
import pytest

from spotlight_widget.engine import SearchCancelled
from spotlight_widget.slices import (
    EXTRA_INPUTS,
    Slice,
    check_predictions,
    domino_slices,
    find_slices,
    planespot_slices,
    register_method,
    true_class_probability,
)
from spotlight_widget.slices import registry as slices_module


class Problem:
    """Well-separated Gaussian blobs in 16-d; the model is confident everywhere but on one blob."""

    def __init__(self, *, n_blobs=8, n_per=100, classes=2, seed=0):
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(n_blobs, 16)) * 6
        self.blob = np.repeat(np.arange(n_blobs), n_per)
        n = self.blob.size
        self.embeddings = centres[self.blob] + rng.normal(size=(n, 16))
        self.labels = rng.integers(0, classes, n)
        self.bad = np.flatnonzero(self.blob == 5)
        p_true = rng.uniform(0.8, 0.99, n)
        p_true[self.bad] = rng.uniform(0.02, 0.4, self.bad.size)
        self.p_true = p_true
        if classes == 2:
            self.probs = np.where(self.labels == 1, p_true, 1 - p_true)
        else:
            # The rest of the mass is spread evenly over the other classes.
            self.probs = np.repeat(((1 - p_true) / (classes - 1))[:, None], classes, axis=1)
            self.probs[np.arange(n), self.labels] = p_true
        self.losses = -np.log(p_true)


@pytest.fixture(scope="module")
def problem():
    return Problem()


@pytest.fixture
def isolated_registry(monkeypatch):
    monkeypatch.setattr(slices_module, "_METHODS", dict(slices_module._METHODS))


def _precision(found: Slice, rows: np.ndarray) -> float:
    return float(np.isin(found.indices, rows).mean())


def _recall(found: Slice, rows: np.ndarray) -> float:
    return float(np.isin(rows, found.indices).mean())


# --- labels and probs: the protocol ---------------------------------------------------


def test_true_class_probability_for_binary_and_multiclass():
    np.testing.assert_allclose(true_class_probability([0.9, 0.2, 0.6], [1, 0, 0]), [0.9, 0.8, 0.4])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(true_class_probability(probs, [0, 1]), [0.7, 0.1])
    np.testing.assert_allclose(true_class_probability(probs[:, :2], [1, 0]), [0.2, 0.1])
    np.testing.assert_allclose(true_class_probability([[0.3], [0.6]], [True, False]), [0.3, 0.4])


def test_check_predictions_returns_numpy_arrays():
    labels, probs = check_predictions([1.0, 0.0], [0.4, 0.7], length=2)
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0]
    assert probs.dtype == np.float64 and probs.shape == (2,)
    assert check_predictions(None, None) == (None, None)
    labels, probs = check_predictions([3, 7], None)
    assert labels.tolist() == [3, 7] and probs is None


@pytest.mark.parametrize(
    ("labels", "probs", "match"),
    [
        ([0, 1, 1], [0.5, np.nan, 0.2], "probs has 1 entries with NaN"),
        ([0, 1, 1], [0.5, 1.2, 0.2], r"probs must be probabilities in \[0, 1\]; 1 rows are not \(first at \[1\]\)"),
        ([0, 1, 1], [[0.5, 0.5], [0.2, -0.1], [1.0, 0.0]], r"\[0, 1\].*first at \[1\]"),
        ([0, 1.5, 1], [0.5, 0.5, 0.2], "labels must be integer class ids"),
        ([0, 2, 1], [0.5, 0.5, 0.2], r"labels must be in \[0, 1\] to match probs"),
        ([0, 3, 1], np.full((3, 3), 1 / 3), r"labels must be in \[0, 2\] to match probs"),
        ([0, -1, 1], None, "labels must be non-negative"),
        ([0, 1], [0.5, 0.5, 0.2], "labels has 2 entries but the losses have 3"),
        ([0, 1, 1], [0.5, 0.5], "probs has 2 entries but the losses have 3"),
        ([0, 1, 1], np.full((2, 3), 1 / 3), "probs has 2 rows but the losses have 3"),
        ([0, 1, 1], np.full((3, 2, 2), 0.5), "probs must be 1-D"),
        ([0, 1, np.inf], None, "labels has 1 entries with NaN or infinite"),
        ([0, 1, 1], ["a", "b", "c"], "probs must be numeric"),
    ],
)
def test_find_slices_checks_labels_and_probs(labels, probs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        find_slices("kmeans", np.zeros((3, 2)), np.zeros(3), labels=labels, probs=probs)


def test_predictions_reach_only_the_finders_that_declared_them(isolated_registry, problem):
    calls = {}

    def finder_for(name):
        def finder(embeddings, losses, *, n, size, seed, progress, cancel, **options):
            calls[name] = options
            return [Slice(name, np.ones(len(losses)))]

        return finder

    register_method("plain", finder_for("plain"))
    register_method("wants-labels", finder_for("wants-labels"), inputs=("labels",))
    register_method("wants-both", finder_for("wants-both"), inputs=["probs", "labels"])
    for name in ("plain", "wants-labels", "wants-both"):
        find_slices(name, problem.embeddings, problem.losses, labels=problem.labels.tolist(), probs=problem.probs)
    assert calls["plain"] == {}
    assert set(calls["wants-labels"]) == {"labels"}
    assert set(calls["wants-both"]) == {"labels", "probs"}
    assert calls["wants-labels"]["labels"].dtype == np.int64
    np.testing.assert_array_equal(calls["wants-both"]["probs"], problem.probs)
    find_slices("wants-both", problem.embeddings, problem.losses)
    assert calls["wants-both"] == {"labels": None, "probs": None}
    assert set(EXTRA_INPUTS) == {"labels", "probs"}


def test_register_method_checks_inputs(isolated_registry):
    def finder(*args, **kwargs):
        return []

    with pytest.raises(TypeError, match="inputs must be a tuple of names"):
        register_method("x", finder, inputs="labels")
    with pytest.raises(ValueError, match="inputs may only name 'labels', 'probs'; got \\['logits'\\]"):
        register_method("x", finder, inputs=("labels", "logits"))
    register_method("x", finder, inputs=("labels",))
    register_method("x", finder, inputs=("labels",))  # the same registration again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_method("x", finder, inputs=("probs",))


@pytest.mark.parametrize(
    ("method", "inputs", "options", "match"),
    [
        ("domino-style", ("probs",), {}, "domino-style needs labels"),
        ("domino-style", ("labels",), {}, "domino-style needs probs"),
        ("planespot", ("labels",), {"confidence_from": "probs"}, "planespot with confidence='probs' needs probs"),
        ("planespot", ("multiclass",), {}, "planespot needs labels to read the true-label probability"),
    ],
)
def test_finders_name_the_input_they_are_missing(method, inputs, options, match, problem):
    given = {"labels": problem.labels, "probs": problem.probs}
    kwargs = {name: given[name] for name in inputs if name in given}
    if "multiclass" in inputs:
        kwargs["probs"] = Problem(classes=3).probs
    with pytest.raises(ValueError, match=match):
        if method == "planespot":
            options = {"projection": "pca", "max_components": 12, **options}
        find_slices(method, problem.embeddings, problem.losses, **kwargs, **options)


# --- PlaneSpot -------------------------------------------------------------------------


def test_planespot_ranks_the_failing_blob_first_on_the_scvis_map(problem):
    found = find_slices(
        "planespot",
        problem.embeddings,
        problem.losses,
        n=3,
        labels=problem.labels,
        probs=problem.probs,
        projection_options={"iterations": 100},
        max_components=12,
    )
    assert [s.method for s in found] == ["planespot"] * 3 and [s.rank for s in found] == [0, 1, 2]
    # The blob's examples are predicted as either class (random labels), so PlaneSpot's
    # confidence coordinate may split it in two pure components (it did with scikit-learn
    # 1.9); those must rank first and hold all of it.
    pure = [s for s in found if _precision(s, problem.bad) > 0.95]
    assert pure and pure == found[: len(pure)]
    assert np.isin(problem.bad, np.concatenate([s.top_indices for s in pure])).mean() > 0.95
    assert found[0].info["projection"] == "scvis" and 3 <= found[0].info["k"] <= 12
    assert found[0].info["hard_error_rate"] == 1.0


def test_planespot_scores_are_size_times_squared_error_rate(problem):
    found = planespot_slices(
        problem.embeddings,
        problem.losses,
        n=10,
        labels=problem.labels,
        probs=problem.probs,
        projection="pca",
        max_components=14,
    )
    assert 10 <= found[0].info["k"] <= 14
    assert len(found) == 10
    for s in found:
        error = float((1 - problem.p_true[s.indices]).mean())
        assert s.info["error_rate"] == pytest.approx(error)
        assert s.score == pytest.approx(s.size * error**2)
        assert s.is_hard
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    members = np.concatenate([s.indices for s in found])
    assert len(np.unique(members)) == members.size  # components are disjoint


def test_planespot_confidence_sources_agree_on_cross_entropy_losses(problem):
    def first(**kwargs):
        return planespot_slices(problem.embeddings, problem.losses, n=3, projection="pca", max_components=12, **kwargs)[
            0
        ]

    from_probs = first(labels=problem.labels, probs=problem.probs)
    from_losses = first()
    np.testing.assert_array_equal(from_probs.weights, from_losses.weights)
    assert from_probs.score == pytest.approx(from_losses.score)
    # Binary probabilities without labels are taken as P(true label), as the reference does:
    # here that is right on the positive examples only, so pass P(true) itself.
    as_given = first(probs=problem.p_true)
    np.testing.assert_array_equal(as_given.weights, from_probs.weights)
    # With multi-class probabilities the labels pick the true class.
    multi = Problem(classes=3)
    found = planespot_slices(
        multi.embeddings, multi.losses, n=3, labels=multi.labels, probs=multi.probs, projection="pca", max_components=12
    )
    assert _precision(found[0], multi.bad) > 0.95


def test_planespot_accepts_a_precomputed_map_and_the_ablations(problem):
    z = problem.embeddings[:, :2] * 0 + np.c_[problem.blob, problem.blob % 3]
    # The map has one point per blob: no more components than blobs.
    found = planespot_slices(problem.embeddings, problem.losses, n=2, projection=z, min_components=2, max_components=6)
    assert found[0].info["projection"] == "given"
    assert sorted(found[0].indices.tolist()) == problem.bad.tolist()
    small = Problem(n_per=30)
    found = planespot_slices(small.embeddings, small.losses, n=2, projection="tsne", max_components=12)
    assert found[0].info["projection"] == "tsne" and _precision(found[0], small.bad) > 0.9


def test_planespot_same_seed_same_slices(problem):
    def run():
        return planespot_slices(
            problem.embeddings[:200], problem.losses[:200], n=3, max_components=6, projection_options={"iterations": 10}
        )

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_planespot_progress_and_cancel(problem):
    seen = []
    planespot_slices(
        problem.embeddings,
        problem.losses,
        n=3,
        min_components=30,
        progress=seen.append,
        projection_options={"iterations": 20},
    )
    stages = [p.stage for p in seen]
    assert stages[0] == "project" and stages[-1] == "rank"
    assert stages.count("scvis") == 20 and stages.count("mixture") == 3  # K = 30, 31, 32
    steps = [p.step for p in seen[1:]]
    assert steps == sorted(steps) and seen[-1].step == seen[-1].total == 20 + 3 + 1
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SearchCancelled):
        planespot_slices(problem.embeddings, problem.losses, projection="pca", max_components=12, cancel=cancel)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"n": 33}, ValueError, r"n=33 exceeds the largest mixture tried"),
        ({"n": 0}, ValueError, "n must be"),
        ({"max_components": 0}, ValueError, "max_components must be"),
        ({"min_components": 0}, ValueError, "min_components must be"),
        ({"weight": -0.1}, ValueError, r"weight must be a number in \[0, inf\); got -0.1"),
        ({"projection": "umap"}, ValueError, "projection must be one of"),
        ({"projection": np.zeros((5, 2))}, ValueError, r"projection array must have shape \(800, 2\)"),
        ({"projection": np.full((800, 2), np.nan)}, ValueError, "projection has 800 rows with NaN"),
        ({"projection_options": {"iterations": 5}}, TypeError, "projection_options only apply to projection='scvis'"),
        (
            {"projection": np.zeros((800, 2)), "projection_options": {"iterations": 5}},
            TypeError,
            "projection_options only apply",
        ),
        ({"confidence_from": "logits"}, ValueError, "confidence_from must be one of 'auto', 'loss', 'probs'"),
        ({"losses": np.ones(5)}, ValueError, "losses has 5 entries"),
        ({"labels": np.ones(5)}, ValueError, "labels has 5 entries but the losses have 800"),
    ],
)
def test_planespot_rejects_bad_input(change, error, match, problem):
    args = {"embeddings": problem.embeddings, "losses": problem.losses, "projection": "pca", **change}
    with pytest.raises(error, match=match):
        planespot_slices(**args)


# --- Domino-style ---------------------------------------------------------------------


def test_domino_style_ranks_the_failing_blob_first(problem):
    found = find_slices(
        "domino-style", problem.embeddings, problem.losses, n=3, labels=problem.labels, probs=problem.probs
    )
    assert [s.method for s in found] == ["domino-style"] * 3
    # The label term may split the blob by true class; every top slice still lies inside it.
    assert _precision(found[0], problem.bad) == 1.0
    covered = np.unique(np.concatenate([s.indices for s in found if _precision(s, problem.bad) == 1.0]))
    assert covered.size / problem.bad.size > 0.9
    assert found[0].info["k"] == 25 and found[0].info["dim"] == 16 and found[0].info["converged"]
    errors = [s.info["error_rate"] for s in found]
    assert errors == sorted(errors, reverse=True) and [s.score for s in found] == errors
    np.testing.assert_allclose(errors[0], (1 - problem.p_true[found[0].indices]).mean())
    assert found[0].info["hard_error_rate"] == 1.0


def test_domino_style_multiclass_and_deterministic():
    multi = Problem(classes=3)

    def run():
        return domino_slices(multi.embeddings, multi.losses, n=2, labels=multi.labels, probs=multi.probs)

    first = run()
    assert _precision(first[0], multi.bad) == 1.0
    for a, b in zip(first, run()):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_domino_style_label_terms_split_a_blob_by_outcome(problem):
    # In the failing blob only the class-0 examples are wrong: the embeddings alone cannot
    # tell them apart, the label and prediction likelihoods can once they weigh enough.
    wrong = problem.bad[problem.labels[problem.bad] == 0]
    p_true = problem.p_true.copy()
    p_true[problem.bad[problem.labels[problem.bad] == 1]] = 0.95
    probs = np.where(problem.labels == 1, p_true, 1 - p_true)

    def top(weight):
        return domino_slices(
            problem.embeddings,
            -np.log(p_true),
            n=1,
            labels=problem.labels,
            probs=probs,
            y_log_likelihood_weight=weight,
            y_hat_log_likelihood_weight=weight,
        )[0]

    assert sorted(top(10.0).indices.tolist()) == wrong.tolist()
    assert _precision(top(0.0), wrong) < 0.8


def test_domino_style_reduces_wide_embeddings_and_reports_progress(problem):
    wide = np.hstack([problem.embeddings, np.zeros((problem.embeddings.shape[0], 200))])
    seen = []
    found = domino_slices(
        wide, problem.losses, n=1, labels=problem.labels, probs=problem.probs, dim=8, progress=seen.append
    )
    assert found[0].info["dim"] == 8
    assert [p.stage for p in seen] == ["reduce", "fit", "rank", "rank"]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"k": 801}, ValueError, r"k \(801\) cannot exceed the number of examples"),
        ({"k": 2.5}, TypeError, "k must be an int"),
        ({"max_iter": 0}, ValueError, "max_iter must be"),
        ({"tol": -1.0}, ValueError, r"tol must be a number in \[0, inf\); got -1.0"),
        ({"y_log_likelihood_weight": np.nan}, ValueError, "y_log_likelihood_weight"),
        ({"labels": None}, ValueError, "domino-style needs labels"),
        ({"probs": np.full(800, 2.0)}, ValueError, r"probs must be probabilities in \[0, 1\]"),
        ({"embeddings": np.ones(800)}, ValueError, "2-D"),
    ],
)
def test_domino_style_rejects_bad_input(change, error, match, problem):
    args = {
        "embeddings": problem.embeddings,
        "losses": problem.losses,
        "labels": problem.labels,
        "probs": problem.probs,
        **change,
    }
    with pytest.raises(error, match=match):
        domino_slices(**args)
