"""Influence embeddings of a model's final Linear layer, computed from its input features.

SpotCheck's InfEmbed protocol takes the influence with respect to the last layer only (a
Linear(d -> 1) head on a ResNet's 512-d features, trained with BCE on one logit). Then the
backbone is fixed and only its features matter: the head alone, fed the features, has the
same per-example gradients and the same Hessian as the full model restricted to the head.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .._inputs import as_matrix, as_vector
from .._params import SEED, Interval, Options, validate_params
from .embeddings import influence_embeddings

HeadLoss = Literal["bce", "ce"]


def _bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # One logit: p = sigmoid(logit). A softmax over a single logit would be 1 everywhere,
    # with zero loss and zero gradient.
    return nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), targets, reduction="sum")


def _ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, targets, reduction="sum")


def _flat(value: Any) -> Any:
    """A scalar or any array as 1-D, for the bias."""
    if isinstance(value, torch.Tensor):
        return value.detach().reshape(-1)
    return np.reshape(np.asarray(value), -1)


def _head(weight: Any, bias: Any, loss: HeadLoss) -> nn.Linear:
    if loss not in ("bce", "ce"):
        raise ValueError(f"loss must be 'bce' (one logit, sigmoid) or 'ce' (C >= 2 logits, softmax); got {loss!r}")
    if isinstance(weight, torch.Tensor):
        weight = weight.detach()
    if loss == "bce" and np.ndim(weight) == 1:
        weight = weight[None]
    w = as_matrix(weight, "weight", dtype=torch.float64)
    if loss == "bce" and w.shape[0] != 1:
        raise ValueError(f"loss='bce' needs one logit: weight of shape (1, d) or (d,); got {tuple(w.shape)}")
    if loss == "ce" and w.shape[0] < 2:
        raise ValueError(f"loss='ce' needs C >= 2 logits: weight of shape (C, d); got {tuple(w.shape)}")
    b = as_vector(_flat(bias), "bias", dtype=torch.float64)
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"bias has {b.shape[0]} entries but weight has {w.shape[0]} rows (one per logit)")
    head = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(w)
        head.bias.copy_(b)
    return head


def _examples(features: Any, labels: Any, name: str, d: int, loss: HeadLoss, n_logits: int):
    x = as_matrix(features, f"{name}_features", dtype=torch.float64)
    if x.shape[1] != d:
        raise ValueError(f"{name}_features have {x.shape[1]} columns but the head's weight has {d}")
    y = as_vector(labels, f"{name}_labels", dtype=torch.float64)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{name}_labels has {y.shape[0]} entries but {name}_features has {x.shape[0]} rows")
    if loss == "bce":
        if ((y < 0) | (y > 1)).any():
            raise ValueError(f"{name}_labels must lie in [0, 1] for loss='bce' (1 = positive class)")
        return x, y
    if (y != y.round()).any() or (y < 0).any() or (y >= n_logits).any():
        raise ValueError(f"{name}_labels must be class indices in [0, {n_logits}) for loss='ce'")
    return x, y.long()


_POSITIVE = [Interval(Integral, 1, None, closed="left")]


@validate_params(
    {
        "loss": [Options({"bce", "ce"})],
        "arnoldi_dim": _POSITIVE,
        "rank": _POSITIVE,
        "hessian_samples": _POSITIVE,
        "damping": [Interval(Real, 0, None, closed="left")],
        "batch_size": _POSITIVE,
        "seed": SEED,
    }
)
def head_influence_embeddings(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    *,
    weight: Any,
    bias: Any,
    loss: HeadLoss = "bce",
    arnoldi_dim: int = 500,
    rank: int = 100,
    hessian_samples: int = 5000,
    damping: float = 0.0,
    batch_size: int = 512,
    seed: int = 0,
) -> np.ndarray:
    """Influence embeddings of test examples through a final Linear layer, from its features.

    Builds ``Linear(d -> C)`` with the given ``weight`` and ``bias``, feeds it the features
    (the backbone's output, e.g. a ResNet's 512-d average pool) and calls
    :func:`influence_embeddings` on it: the per-example gradients are those of the head's
    ``C (d + 1)`` parameters, e.g. ``(p - y) [h, 1]`` for BCE, and the Hessian is the mean
    training loss Hessian of the head, ``mean p (1 - p) [h, 1][h, 1]^T`` for BCE. This is
    the SpotCheck protocol of InfEmbed (P = 500 Arnoldi steps, D = min(100, d + 1)).

    Parameters
    ----------
    train_features, test_features : array-like, (N', d) and (N, d)
        Inputs of the head: the training examples for the Hessian, the examples to embed.
    train_labels, test_labels : array-like, (N',) and (N,)
        "bce": targets in [0, 1] (1 = positive). "ce": class indices in [0, C).
    weight : array-like
        The head's weight: (1, d) or (d,) for "bce", (C, d) for "ce".
    bias : array-like
        Its bias: a scalar or (1,) for "bce", (C,) for "ce".
    loss : {"bce", "ce"}
        "bce": one logit, ``p = sigmoid(logit)``, binary cross-entropy (never a softmax
        over one logit). "ce": C >= 2 logits, softmax cross-entropy; its Hessian is
        singular along the d + 1 directions that move every logit together, which are
        dropped with a RuntimeWarning when ``rank`` reaches them.
    arnoldi_dim, rank : int
        P and D, capped at the head's parameter count ``C (d + 1)``.
    hessian_samples : int
        Training examples the Hessian is averaged over (a random subset when fewer than
        N'); 5,000 as in the InfEmbed authors' SpotCheck code.
    damping : float
        Added to the Hessian (the head's weight decay, if it had one).
    batch_size : int
        Examples per vectorised pass.
    seed : int
        Seeds the Hessian's sample and the Arnoldi start.

    Returns
    -------
    numpy.ndarray
        (N, D) float64 influence embeddings of the test examples, in order: their dot
        products approximate ``g_i^T H^-1 g_j`` with H^-1 truncated to its D largest-
        curvature directions. Computed in float64 on the CPU.
    """
    head = _head(weight, bias, loss)
    n_logits, d = head.weight.shape
    train = _examples(train_features, train_labels, "train", d, loss, n_logits)
    test = _examples(test_features, test_labels, "test", d, loss, n_logits)
    arnoldi_dim = min(arnoldi_dim, n_logits * (d + 1))
    rank = min(rank, arnoldi_dim)
    emb = influence_embeddings(
        head,
        _bce if loss == "bce" else _ce,
        train,
        test,
        arnoldi_dim=arnoldi_dim,
        rank=rank,
        batch_size=batch_size,
        device="cpu",
        hessian_samples=hessian_samples,
        damping=damping,
        seed=seed,
    )
    return emb.test
