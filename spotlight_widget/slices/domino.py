"""Domino-style slices: a mixture over embeddings, true labels and predictions, fitted by EM.

Our reimplementation of the error-aware mixture of Domino (Eyuboglu et al., ICLR 2022)
as configured in the SpotCheck comparisons (``shared/notes/spotcheck.md`` section 6.10),
written from that description, not from Domino's package: the embeddings are reduced by
PCA to 128 dimensions; each of 25 components has a diagonal Gaussian over them, a
categorical distribution over the true label and one over the predicted class; the label
and prediction log-likelihoods enter each responsibility with weight 1; EM starts from
k-means and runs at most 100 iterations. Every example goes to its most likely component,
and the components with the highest error rates are the slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, SIZE, THREADS, Interval, validate_params
from ..engine.optimize import ProgressFn
from .baselines import _data, _reduce, _report
from .predictions import check_predictions, n_classes, true_class_probability
from .result import Slice

_FLOOR = 1e-10  # keeps categorical probabilities and component masses away from log(0) and 0/0


@dataclass(frozen=True)
class _Fit:
    responsibilities: np.ndarray
    converged: bool
    n_iter: int


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    out = np.zeros((labels.shape[0], classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def _class_probs(probs: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - probs, probs]) if probs.ndim == 1 else probs


def _log_gaussian(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """(N, K) log densities of diagonal Gaussians, by matrix products rather than an (N, K, D) array."""
    precision = 1.0 / variances
    quad = (x**2) @ precision.T - 2.0 * x @ (means * precision).T + (means**2 * precision).sum(1)
    return -0.5 * (x.shape[1] * np.log(2 * np.pi) + np.log(variances).sum(1) + quad)


def _em(
    x: np.ndarray,
    y: np.ndarray,
    y_hat: np.ndarray,
    initial: np.ndarray,
    *,
    k: int,
    y_weight: float,
    y_hat_weight: float,
    max_iter: int,
    tol: float,
    reg_covar: float,
) -> _Fit:
    """EM for the joint mixture from the hard assignment ``initial``."""
    resp = _one_hot(initial, k)
    bound = -np.inf
    for n_iter in range(1, max_iter + 1):
        mass = resp.sum(0) + _FLOOR
        weights = mass / mass.sum()
        means = resp.T @ x / mass[:, None]
        variances = np.maximum(resp.T @ (x**2) / mass[:, None] - means**2, 0.0) + reg_covar
        y_probs = resp.T @ y + _FLOOR
        y_hat_probs = resp.T @ y_hat + _FLOOR
        log_joint = (
            np.log(weights)
            + _log_gaussian(x, means, variances)
            + y_weight * y @ np.log(y_probs / y_probs.sum(1, keepdims=True)).T
            + y_hat_weight * y_hat @ np.log(y_hat_probs / y_hat_probs.sum(1, keepdims=True)).T
        )
        top = log_joint.max(1, keepdims=True)
        log_norm = top + np.log(np.exp(log_joint - top).sum(1, keepdims=True))
        resp = np.exp(log_joint - log_norm)
        previous, bound = bound, float(log_norm.mean())
        if abs(bound - previous) < tol:
            return _Fit(resp, True, n_iter)
    return _Fit(resp, False, max_iter)


_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "n": N_RESULTS,
        "size": [None, *SIZE],
        "seed": SEED,
        "progress": PROGRESS,
        "k": [Interval(Integral, 1, None, closed="left")],
        "dim": [None, Interval(Integral, 1, None, closed="left")],
        "y_log_likelihood_weight": _NON_NEGATIVE,
        "y_hat_log_likelihood_weight": _NON_NEGATIVE,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": _NON_NEGATIVE,
        "reg_covar": _NON_NEGATIVE,
        "threads": THREADS,
        "cancel": CANCEL,
    }
)
def domino_slices(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 5,
    size: float | int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    labels: Any = None,
    probs: Any = None,
    k: int = 25,
    dim: int | None = 128,
    y_log_likelihood_weight: float = 1.0,
    y_hat_log_likelihood_weight: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    threads: int | None = 1,
    cancel: Any = None,
) -> list[Slice]:
    """The Domino-style mixture's ``n`` components with the highest error rates, as hard slices.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The model's last-layer representation.
    losses : array-like, (N,)
        Per-example losses, stored in the slices.
    n : int
        Slices returned (Domino's default is 5).
    size : float or int, optional
        Ignored: the mixture chooses the sizes (accepted for ``find_slices``).
    seed : int
        Seeds the PCA and the k-means initialisation.
    progress : callable, optional
        Receives ``SearchProgress`` at the stages "reduce", "fit" and "rank".
    labels : array-like, (N,)
        True class ids. Required.
    probs : array-like, (N, C) or (N,)
        Predicted class probabilities; (N,) is P(class 1) of a binary model. Required.
    k : int
        Mixture components (25), at most N.
    dim : int or None
        PCA dimensions the Gaussians live in (128; None or d <= dim: the embeddings as
        they are).
    y_log_likelihood_weight, y_hat_log_likelihood_weight : float
        Weights of the true-label and predicted-class log-likelihoods next to the
        embeddings' (1 and 1). The prediction term uses ``probs`` as soft counts.
    max_iter : int
        EM iterations at most (100).
    tol : float
        EM stops when the mean log-likelihood changes by less than this.
    reg_covar : float
        Added to every variance.
    threads : int or None
        CPU threads for scikit-learn's PCA and k-means (None: its default).
    cancel : threading.Event or callable, optional
        Checked between stages; raises ``SearchCancelled`` when set.

    Returns
    -------
    list of Slice
        Method "domino-style", 0/1 weights, highest ``score`` first: the component's
        error rate, the mean of ``1 - P(true label)`` over its members (ties: larger
        first). ``info`` holds "k", "dim", "component", "error_rate",
        "hard_error_rate" (share misclassified by the arg-max class), "converged" and
        "n_iter". Fewer than ``n`` when fewer components received examples.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x, loss = _data(embeddings, losses)
    if k > x.shape[0]:
        raise ValueError(f"domino_slices: k ({k}) cannot exceed the number of examples ({x.shape[0]})")
    for name, value in (("labels", labels), ("probs", probs)):
        if value is None:
            raise ValueError(f"domino-style needs {name} (true labels and predicted probabilities); got None")
    labels, probs = check_predictions(labels, probs, length=x.shape[0])
    classes = n_classes(probs)
    p_true = true_class_probability(probs, labels)
    predicted = (probs >= 0.5).astype(np.int64) if probs.ndim == 1 else probs.argmax(1)
    with threadpool_limits(limits=threads):
        _report(progress, cancel, 0, 3, "reduce")
        z = _reduce(x, dim, seed).astype(np.float64)
        _report(progress, cancel, 1, 3, "fit")
        initial = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(z).labels_
        fit = _em(
            z,
            _one_hot(labels, classes),
            _class_probs(probs),
            initial,
            k=k,
            y_weight=float(y_log_likelihood_weight),
            y_hat_weight=float(y_hat_log_likelihood_weight),
            max_iter=max_iter,
            tol=float(tol),
            reg_covar=float(reg_covar),
        )
    _report(progress, cancel, 2, 3, "rank")
    component = fit.responsibilities.argmax(1)
    count = np.bincount(component, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.bincount(component, weights=1.0 - p_true, minlength=k) / count
        wrong = np.bincount(component, weights=(predicted != labels).astype(np.float64), minlength=k) / count
    used = np.flatnonzero(count > 0)
    order = used[np.lexsort((used, -count[used], -error[used]))][:n]
    info = {"k": k, "dim": z.shape[1], "converged": fit.converged, "n_iter": fit.n_iter}
    found = [
        Slice(
            "domino-style",
            component == c,
            loss,
            rank=r,
            score=float(error[c]),
            info={**info, "component": int(c), "error_rate": float(error[c]), "hard_error_rate": float(wrong[c])},
        )
        for r, c in enumerate(order)
    ]
    _report(progress, None, 3, 3, "rank")
    return found
