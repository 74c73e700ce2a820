"""Parameter validation: one table over every public function, and the declarations behind it.

Every public function checks its options the same way (``spotlight_widget._params``): a
wrong type raises ``TypeError``, an out-of-range value or unknown option ``ValueError``, and
the message has one form, ``"<function>: <name> must be <what>; got <value>"`` with
`` (<type>)`` appended for a wrong type.
"""

from __future__ import annotations

import functools
import re
import threading
from numbers import Integral, Real
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from spotlight_widget import (
    SpotlightExplorer,
    find_slices,
    find_spotlight,
    find_spotlights,
    gmm_slices,
    highest_loss,
    infembed,
    infembed_rule,
    influence_embeddings,
    kmeans_slices,
    slice_opponents,
)
from spotlight_widget._params import Interval, Options, check, check_params, validate_params
from spotlight_widget.describe import breakdown, caption, describe, groups_of, token_summary
from spotlight_widget.infembed import embed_examples, factor_hessian, head_influence_embeddings, infembed_slices
from spotlight_widget.slices import domino_slices, error_clusters, planespot_slices, pooled_slices
from spotlight_widget.synthetic import planted_clusters

_rng = np.random.default_rng(0)
X = _rng.normal(size=(40, 3))
LOSSES = _rng.random(40)
LABELS = (LOSSES > 0.5).astype(int)
PROBS = np.clip(1.0 - LOSSES, 0.0, 1.0)
CORRECT = LOSSES < 0.5


@functools.cache
def _model() -> dict[str, Any]:
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    train = (torch.from_numpy(X), torch.from_numpy(LABELS))
    return {"model": model, "loss_fn": nn.CrossEntropyLoss(), "train": train}


@functools.cache
def _factors():
    m = _model()
    return factor_hessian(m["model"], m["loss_fn"], m["train"], arnoldi_dim=4, rank=2, hessian_samples=20)


@functools.cache
def _result():
    return highest_loss(X, LOSSES, n=1, size=8)[0]


def _sharded(**kwargs: Any):
    import torch.distributed as dist

    from spotlight_widget.distributed import find_spotlights_sharded

    return find_spotlights_sharded(process_group=dist.group.WORLD, **kwargs)


# Each function with the arguments of a valid call; a row changes one of them.
BASE = {
    "find_spotlight": (find_spotlight, lambda: {"embeddings": X, "losses": LOSSES}),
    "find_spotlights": (find_spotlights, lambda: {"embeddings": X, "losses": LOSSES}),
    "find_spotlights_sharded": (_sharded, lambda: {"embeddings": X, "losses": LOSSES}),
    "find_slices": (find_slices, lambda: {"method": "kmeans", "embeddings": X, "losses": LOSSES}),
    "highest_loss": (highest_loss, lambda: {"embeddings": X, "losses": LOSSES}),
    "kmeans_slices": (kmeans_slices, lambda: {"embeddings": X, "losses": LOSSES}),
    "gmm_slices": (gmm_slices, lambda: {"embeddings": X, "losses": LOSSES}),
    "error_clusters": (error_clusters, lambda: {"embeddings": X, "losses": LOSSES}),
    "pooled_slices": (pooled_slices, lambda: {"embeddings": X, "losses": LOSSES}),
    "planespot_slices": (planespot_slices, lambda: {"embeddings": X, "losses": LOSSES, "projection": "pca"}),
    "domino_slices": (domino_slices, lambda: {"embeddings": X, "losses": LOSSES, "labels": LABELS, "probs": PROBS}),
    "infembed": (infembed, lambda: {"embeddings": X, "losses": LOSSES}),
    "infembed_rule": (infembed_rule, lambda: {"embeddings": X, "losses": CORRECT}),
    "infembed_slices": (infembed_slices, lambda: {"embeddings": X, "losses": LOSSES}),
    "influence_embeddings": (influence_embeddings, lambda: {**_model(), "test": _model()["train"]}),
    "factor_hessian": (factor_hessian, lambda: dict(_model())),
    "embed_examples": (
        embed_examples,
        lambda: {
            "model": _model()["model"],
            "loss_fn": _model()["loss_fn"],
            "data": _model()["train"],
            "factors": _factors(),
        },
    ),
    "head_influence_embeddings": (
        head_influence_embeddings,
        lambda: {
            "train_features": X,
            "train_labels": LABELS,
            "test_features": X,
            "test_labels": LABELS,
            "weight": np.ones((1, 3)),
            "bias": np.zeros(1),
        },
    ),
    "slice_opponents": (
        slice_opponents,
        lambda: {"slice": np.array([0, 1]), "train_influence_embeddings": X, "test_influence_embeddings": X},
    ),
    "planted_clusters": (planted_clusters, lambda: {"n_rows": 200, "dim": 4, "n_clusters": 3}),
    "SpotlightExplorer": (SpotlightExplorer, lambda: {"embeddings": X, "losses": LOSSES}),
    "caption": (caption, lambda: {"spotlight": _result()}),
    "describe": (describe, lambda: {"spotlight": _result(), "metadata": {"c": LABELS}}),
    "breakdown": (breakdown, lambda: {"weights": _result().weights, "losses": LOSSES, "values": LABELS}),
    "groups_of": (groups_of, lambda: {"values": LOSSES}),
    "token_summary": (token_summary, lambda: {"texts": ["a b"] * 40, "spotlight": _result()}),
}

T, V = TypeError, ValueError
POSITIVE = "an int in [1, inf)"
SIZE = "a number in (0, 1) or an int in [1, inf)"
SEED = "an int in [0, inf)"
CANCEL = "None or a threading.Event-like object or a callable returning bool"

# (function, parameter, bad value, error, description of what it must be or None to check only the form)
ROWS = [
    ("SpotlightExplorer", "size", 1.0, V, SIZE),
    ("SpotlightExplorer", "size", True, T, SIZE),
    ("SpotlightExplorer", "seed", -1, V, SEED),
    ("SpotlightExplorer", "preset", "slow", V, "one of 'fast', 'paper' or a Preset"),
    ("SpotlightExplorer", "page_size", 0, V, "an int in [1, 500]"),
    ("SpotlightExplorer", "thumbnail_size", 4096, V, "an int in [8, 1024]"),
    ("SpotlightExplorer", "methods", 3, T, "None, a str or a sequence of method names"),
    ("caption", "max_parts", -1, V, "an int in [0, inf)"),
    ("describe", "bins", 0, V, POSITIVE),
    ("describe", "confidence", 1.0, V, "a number in (0, 1)"),
    ("describe", "min_count", -1, V, "a number in [0, inf)"),
    ("describe", "columns", 3, T, "None, a str or a sequence of column names"),
    ("breakdown", "bins", 1.5, T, POSITIVE),
    ("breakdown", "confidence", 0, V, "a number in (0, 1)"),
    ("groups_of", "bins", 0, V, POSITIVE),
    ("token_summary", "tokenizer", "split", T, "None or a callable"),
    ("token_summary", "top", 0, V, POSITIVE),
    ("token_summary", "examples", -1, V, "an int in [0, inf)"),
    ("highest_loss", "n", 0, V, POSITIVE),
    ("highest_loss", "n", True, T, POSITIVE),
    ("highest_loss", "size", 0, V, SIZE),
    ("highest_loss", "size", 1.5, V, SIZE),
    ("highest_loss", "size", "2%", T, SIZE),
    ("highest_loss", "embeddings", "emb", T, "None or array-like"),
    ("highest_loss", "progress", 3, T, "None or a callable"),
    ("highest_loss", "cancel", 3, T, CANCEL),
    ("kmeans_slices", "n", 0, V, POSITIVE),
    ("kmeans_slices", "n", 2.5, T, POSITIVE),
    ("kmeans_slices", "k", 1, V, "None or an int in [2, inf)"),
    ("kmeans_slices", "k", "10", T, "None or an int in [2, inf)"),
    ("kmeans_slices", "size", -0.5, V, "None, " + SIZE),
    ("kmeans_slices", "seed", -1, V, SEED),
    ("kmeans_slices", "seed", 1.5, T, SEED),
    ("kmeans_slices", "dim", 0, V, "None or an int in [1, inf)"),
    ("kmeans_slices", "min_size", -1, V, "a number in [0, inf)"),
    ("kmeans_slices", "n_init", 0, V, POSITIVE),
    ("kmeans_slices", "max_iter", 0, V, POSITIVE),
    ("kmeans_slices", "threads", 0, V, "None or an int in [1, inf)"),
    ("kmeans_slices", "cancel", "stop", T, CANCEL),
    ("gmm_slices", "n", 0, V, POSITIVE),
    ("gmm_slices", "k", 1, V, "None or an int in [2, inf)"),
    ("gmm_slices", "covariance_type", "round", V, "one of 'diag', 'full', 'spherical', 'tied'"),
    ("gmm_slices", "covariance_type", 3, T, "one of 'diag', 'full', 'spherical', 'tied'"),
    ("gmm_slices", "min_weight", 1.0, V, "a number in [0, 1)"),
    ("gmm_slices", "min_weight", "small", T, "a number in [0, 1)"),
    ("gmm_slices", "max_iter", 0, V, POSITIVE),
    ("planespot_slices", "n", 0, V, POSITIVE),
    ("planespot_slices", "weight", -1.0, V, "a number in [0, inf)"),
    ("planespot_slices", "min_components", 0, V, POSITIVE),
    ("planespot_slices", "max_components", 2.5, T, POSITIVE),
    ("planespot_slices", "confidence_from", "logits", V, "one of 'auto', 'loss', 'probs'"),
    ("planespot_slices", "projection", "umap", V, "one of 'pca', 'scvis', 'tsne' or array-like"),
    ("planespot_slices", "projection", 3, T, "one of 'pca', 'scvis', 'tsne' or array-like"),
    ("planespot_slices", "projection_options", [("iterations", 5)], T, "None or a dict"),
    ("domino_slices", "n", 0, V, POSITIVE),
    ("domino_slices", "k", 0, V, POSITIVE),
    ("domino_slices", "tol", -1.0, V, "a number in [0, inf)"),
    ("domino_slices", "reg_covar", "tiny", T, "a number in [0, inf)"),
    ("domino_slices", "y_log_likelihood_weight", float("inf"), V, "a number in [0, inf)"),
    ("domino_slices", "max_iter", 0, V, POSITIVE),
    ("find_slices", "method", None, T, "a str"),
    ("find_slices", "n", 0, V, POSITIVE),
    ("find_slices", "size", [0.01, 0.02], T, SIZE),
    ("find_slices", "seed", -1, V, SEED),
    ("find_slices", "progress", "bar", T, "None or a callable"),
    ("find_slices", "cancel", 1, T, CANCEL),
    ("infembed", "k", 0, V, POSITIVE),
    ("infembed", "k", 1.5, T, POSITIVE),
    ("infembed", "n", 0, V, "None or " + POSITIVE),
    ("infembed", "kind", "accuracy", V, "one of 'auto', 'correct', 'loss'"),
    ("infembed", "rank", "error", V, "one of 'loss', 'planespot'"),
    ("infembed", "min_size", 0, V, POSITIVE),
    ("infembed", "normalize", "yes", T, "a bool"),
    ("infembed", "n_init", 0, V, POSITIVE),
    ("infembed", "seed", -1, V, SEED),
    ("infembed_rule", "max_accuracy", 1.5, V, "None or a number in [0, 1]"),
    ("infembed_rule", "max_accuracy", "low", T, "None or a number in [0, 1]"),
    ("infembed_rule", "min_loss", float("nan"), V, "None or a number in (-inf, inf)"),
    ("infembed_rule", "branching", 1, V, "an int in [2, inf)"),
    ("infembed_rule", "max_depth", 0, V, POSITIVE),
    ("infembed_rule", "min_size", 2.5, T, POSITIVE),
    ("infembed_slices", "n", 0, V, POSITIVE),
    ("infembed_slices", "size", 0, V, SIZE),
    ("infembed_slices", "k", 0, V, "None or " + POSITIVE),
    ("infembed_slices", "cancel", 2, T, CANCEL),
    ("influence_embeddings", "model", "resnet", T, "a torch.nn.Module"),
    ("influence_embeddings", "loss_fn", "ce", T, "a callable"),
    ("influence_embeddings", "arnoldi_dim", 0, V, POSITIVE),
    ("influence_embeddings", "rank", 0, V, POSITIVE),
    ("influence_embeddings", "hessian_samples", 0, V, POSITIVE),
    ("influence_embeddings", "batch_size", 1.0, T, POSITIVE),
    ("influence_embeddings", "damping", -1.0, V, "a number in [0, inf)"),
    ("influence_embeddings", "eigen_rtol", "small", T, "a number in [0, inf)"),
    ("influence_embeddings", "embed_train", "yes", T, "a bool"),
    ("influence_embeddings", "progress", 3, T, "None, a bool or a callable"),
    ("influence_embeddings", "seed", -1, V, SEED),
    ("factor_hessian", "rank", 0, V, POSITIVE),
    ("factor_hessian", "damping", float("nan"), V, "a number in [0, inf)"),
    ("factor_hessian", "cache_hessian", 1, T, "a bool"),
    ("embed_examples", "batch_size", 0, V, POSITIVE),
    ("embed_examples", "factors", "factors", T, "a HessianFactors"),
    ("head_influence_embeddings", "loss", "mse", V, "one of 'bce', 'ce'"),
    ("head_influence_embeddings", "arnoldi_dim", 0, V, POSITIVE),
    ("head_influence_embeddings", "rank", "all", T, POSITIVE),
    ("head_influence_embeddings", "damping", -0.1, V, "a number in [0, inf)"),
    ("head_influence_embeddings", "hessian_samples", 0, V, POSITIVE),
    ("slice_opponents", "k", 0, V, POSITIVE),
    ("slice_opponents", "k", "10", T, POSITIVE),
    ("planted_clusters", "n_rows", 0, V, POSITIVE),
    ("planted_clusters", "n_rows", 1.5, T, POSITIVE),
    ("planted_clusters", "noise_fraction", 2.0, V, "a number in [0, 1]"),
    ("planted_clusters", "intrinsic_dim", 0, V, "None or " + POSITIVE),
    ("planted_clusters", "seed", -1, V, SEED),
    ("error_clusters", "n", 0, V, POSITIVE),
    ("error_clusters", "size", 1.5, V, SIZE),
    ("error_clusters", "k", 1, V, "an int in [2, inf)"),
    ("error_clusters", "k", 2.5, T, "an int in [2, inf)"),
    ("error_clusters", "z", -1.0, V, "a number in [0, inf)"),
    ("error_clusters", "min_cluster", 0, V, "a number in (0, inf)"),
    ("error_clusters", "split_above", 0, V, "None or a number in (0, inf)"),
    ("error_clusters", "trim", 1.5, V, "a number in [0, 1]"),
    ("error_clusters", "dims", 0, V, POSITIVE),
    ("error_clusters", "cancel", "stop", T, CANCEL),
    ("pooled_slices", "n", 0, V, POSITIVE),
    ("pooled_slices", "size", 1.5, V, SIZE),
    ("pooled_slices", "max_overlap", 1.5, V, "a number in [0, 1]"),
    ("pooled_slices", "bridge", 0, V, "a number in (0, 1]"),
    ("pooled_slices", "gmm_options", "k=3", T, "None or a dict"),
    ("pooled_slices", "progress", 3, T, None),
]

# The engine and the distributed search (rows with None: messages that say more than the form).
ROWS += [
    ("find_spotlight", "size", 0, V, None),
    ("find_spotlight", "size", "2%", T, None),
    ("find_spotlight", "barrier", 0.0, V, None),
    ("find_spotlights", "n", 0, V, POSITIVE),
    ("find_spotlights", "n", 1.5, T, POSITIVE),
    ("find_spotlights", "n", True, T, POSITIVE),
    ("find_spotlights", "size", 1.5, V, None),
    ("find_spotlights", "restarts", 0, V, None),
    ("find_spotlights", "barrier", -1.0, V, None),
    ("find_spotlights", "barrier", "high", T, None),
    ("find_spotlights", "seed", -1, V, SEED),
    ("find_spotlights", "threads", 0, V, "None or " + POSITIVE),
    ("find_spotlights", "max_steps", 0, V, None),
    ("find_spotlights", "dtype", torch.int64, V, None),
    ("find_spotlights", "preset", "slow", V, None),
    ("find_spotlights", "progress", 3, T, "None or a callable"),
    ("find_spotlights", "cancel", 3, T, CANCEL),
    ("find_spotlights_sharded", "n", 0, V, POSITIVE),
    ("find_spotlights_sharded", "restarts", 0, V, None),
    ("find_spotlights_sharded", "barrier", -1.0, V, None),
    ("find_spotlights_sharded", "threads", 0, V, "None or " + POSITIVE),
    ("find_spotlights_sharded", "cancel", 3, T, CANCEL),
]


def _param(row: tuple) -> Any:
    func, name, bad, error, _ = row
    return pytest.param(*row, id=f"{func}-{name}={bad!r}-{error.__name__}")


PARAMS = [_param(row) for row in ROWS]


@pytest.fixture(scope="module")
def process_group(tmp_path_factory):
    import torch.distributed as dist

    store = tmp_path_factory.mktemp("pg") / "store"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize(("func", "name", "bad", "error", "what"), PARAMS)
def test_every_public_function_names_a_bad_argument(func, name, bad, error, what, request):
    if func == "find_spotlights_sharded":
        request.getfixturevalue("process_group")
    call, base = BASE[func]
    with pytest.raises(error) as info:
        call(**{**base(), name: bad})
    message = str(info.value)
    what_pattern = ".+" if what is None else re.escape(what)
    got = re.escape(repr(bad)) + (re.escape(f" ({type(bad).__name__})") if error is TypeError else "")
    assert re.fullmatch(f"{func}: {name} must be {what_pattern}; got {got}", message), message


def test_every_public_function_has_rows():
    assert {row[0] for row in ROWS} == set(BASE)


# --- what the public functions accept ---------------------------------------------------


def test_numpy_scalars_and_0d_arrays_are_numbers():
    found = kmeans_slices(X, LOSSES, n=np.int64(2), k=np.array(3), size=None, min_size=np.float32(0.0))
    assert len(found) == 2 and found[0].info["k"] == 3
    assert highest_loss(None, LOSSES, n=torch.tensor(1), size=np.float64(0.1))[0].size == 4


def test_cancel_may_be_an_event_or_a_callable():
    assert len(highest_loss(None, LOSSES, n=1, cancel=threading.Event())) == 1
    assert len(highest_loss(None, LOSSES, n=1, cancel=lambda: False)) == 1


def test_the_message_shortens_long_values():
    with pytest.raises(TypeError) as info:
        kmeans_slices(X, LOSSES, n=list(range(100)))
    assert re.fullmatch(
        r"kmeans_slices: n must be an int in \[1, inf\); got \[0, 1, 2, .*\.\.\. \(list\)", str(info.value)
    )


# --- the declarations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "value", "accepted"),
    [
        (Interval(Integral, 1, None, closed="left"), 1, True),
        (Interval(Integral, 1, None, closed="left"), np.uint8(7), True),
        (Interval(Integral, 1, None, closed="left"), np.array(7), True),
        (Interval(Integral, 1, None, closed="left"), np.True_, False),
        (Interval(Integral, 1, None, closed="left"), 3.0, False),
        (Interval(Real, 0, 1, closed="neither"), 0.0, False),
        (Interval(Real, 0, 1, closed="neither"), 1, False),
        (Interval(Real, 0, 1, closed="both"), 1, True),
        (Interval(Real, 0, None, closed="left"), float("inf"), False),
        (Interval(Real, 0, None, closed="both"), float("inf"), True),
        (Interval(Real, None, None, closed="neither"), float("nan"), False),
        (Options({"a", "b"}), "a", True),
        (Options({"a", "b"}), "c", False),
        (Options({torch.float32}), torch.float32, True),
    ],
)
def test_constraints_accept_exactly_their_values(constraint, value, accepted):
    if accepted:
        check(value, "x", [constraint])
    else:
        with pytest.raises((TypeError, ValueError)):
            check(value, "x", [constraint])


def test_check_returns_python_numbers_and_names_the_caller():
    value = check(np.int32(4), "n", [Interval(Integral, 1, None)])
    assert value == 4 and type(value) is int
    assert check_params({"n": np.float64(0.5), "other": "kept"}, {"n": [Interval(Real, 0, 1)]}) == {
        "n": 0.5,
        "other": "kept",
    }
    with pytest.raises(ValueError, match=r"^f: n must be an int in \[1, inf\); got 0$"):
        check(0, "n", [Interval(Integral, 1, None)], caller="f")


def test_validate_params_keeps_the_signature_and_refuses_bad_declarations():
    @validate_params({"n": [Interval(Integral, 1, None)]})
    def f(x, *, n=3):
        """Doc."""
        return n

    assert f(0, n=np.int64(2)) == 2 and f.__doc__ == "Doc." and f.__name__ == "f"
    with pytest.raises(TypeError, match="has no parameters"):
        validate_params({"m": [None]})(lambda x: x)
    with pytest.raises(ValueError, match="default"):
        validate_params({"n": [Interval(Integral, 1, None)]})(lambda n=0: n)
    with pytest.raises(ValueError, match="unknown constraint"):
        validate_params({"n": ["positive"]})(lambda n=0: n)
