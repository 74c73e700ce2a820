"""The model's predictions some slice finders need besides the losses: true labels and class probabilities.

``find_slices`` checks them once with :func:`check_predictions` and hands them only to the
finders registered as taking them. Methods that score groups by a confidence use
:func:`true_class_probability`, or :func:`confidence` which falls back to ``exp(-loss)``:
for cross-entropy and binary cross-entropy losses that *is* the probability the model gave
the true label, so the fallback is exact for those losses and meaningless for others.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from .._inputs import _as_array_or_tensor, as_matrix, as_vector

ConfidenceSource = Literal["auto", "probs", "loss"]


def _probs(probs: Any, length: int | None) -> np.ndarray:
    shape = tuple(_as_array_or_tensor(probs, "probs").shape)
    if len(shape) == 2 and shape[1] >= 2:
        p = as_matrix(probs, "probs", dtype=torch.float64).numpy()
        if length is not None and p.shape[0] != length:
            raise ValueError(f"probs has {p.shape[0]} rows but the losses have {length} entries")
    else:
        # (N,) and (N, 1) both mean P(class 1) of a binary model.
        p = as_vector(probs, "probs", dtype=torch.float64).numpy()
        if length is not None and p.shape[0] != length:
            raise ValueError(f"probs has {p.shape[0]} entries but the losses have {length}")
    outside = (p < 0) | (p > 1)
    if outside.any():
        rows = np.flatnonzero(outside.reshape(p.shape[0], -1).any(1))
        raise ValueError(
            f"probs must be probabilities in [0, 1]; {rows.size} rows are not (first at {rows[:5].tolist()})"
        )
    return p


def _labels(labels: Any, length: int | None, classes: int | None) -> np.ndarray:
    y = as_vector(labels, "labels", dtype=torch.float64).numpy()
    if length is not None and y.shape[0] != length:
        raise ValueError(f"labels has {y.shape[0]} entries but the losses have {length}")
    bad = y != np.round(y)
    if bad.any():
        raise ValueError(
            f"labels must be integer class ids; {int(bad.sum())} are not (first at {np.flatnonzero(bad)[:5].tolist()})"
        )
    outside = (y < 0) | (y >= (np.inf if classes is None else classes))
    if outside.any():
        where = np.flatnonzero(outside)[:5].tolist()
        bound = "non-negative" if classes is None else f"in [0, {classes - 1}] to match probs"
        raise ValueError(f"labels must be {bound}; {int(outside.sum())} are not (first at {where})")
    return y.astype(np.int64)


def n_classes(probs: np.ndarray) -> int:
    """Number of classes ``probs`` describe: 2 for (N,) binary probabilities, else C."""
    return 2 if probs.ndim == 1 else int(probs.shape[1])


def check_predictions(
    labels: Any = None, probs: Any = None, *, length: int | None = None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Check true labels and predicted probabilities, and return them as NumPy arrays.

    Parameters
    ----------
    labels : array-like, (N,), optional
        True class ids: integer-valued, non-negative, and below the number of classes of
        ``probs`` when it is given (so 0/1 for binary ``probs``).
    probs : array-like, (N, C) or (N,), optional
        Predicted class probabilities in [0, 1]; (N,) or (N, 1) means P(class 1) of a
        binary model. Rows need not sum to 1 (e.g. float16 softmax outputs).
    length : int, optional
        The number of examples both must have (the losses' length).

    Returns
    -------
    labels : numpy.ndarray of int64 or None
    probs : numpy.ndarray of float64, (N,) or (N, C), or None

    Raises
    ------
    ValueError
        On NaN or infinite values, wrong lengths or shapes, probabilities outside [0, 1],
        or labels that are not class ids of ``probs``.
    """
    p = None if probs is None else _probs(probs, length)
    y = None if labels is None else _labels(labels, length, None if p is None else n_classes(p))
    if p is not None and y is not None and p.shape[0] != y.shape[0]:
        raise ValueError(f"labels has {y.shape[0]} entries but probs has {p.shape[0]} rows")
    return y, p


def true_class_probability(probs: Any, labels: Any) -> np.ndarray:
    """The probability the model gave each example's true label.

    Parameters
    ----------
    probs : array-like, (N, C) or (N,)
        Predicted class probabilities; (N,) is P(class 1) of a binary model.
    labels : array-like, (N,)
        True class ids.

    Returns
    -------
    numpy.ndarray
        (N,) float64: ``probs[i, labels[i]]``; for binary (N,) probs, ``p`` where the label
        is 1 and ``1 - p`` where it is 0.
    """
    y, p = check_predictions(labels, probs)
    if p.ndim == 1:
        return np.where(y == 1, p, 1.0 - p)
    return p[np.arange(p.shape[0]), y]


def confidence(
    losses: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    probs: np.ndarray | None = None,
    source: ConfidenceSource = "auto",
    method: str = "this method",
) -> np.ndarray:
    """Each example's probability of the true label, from the predictions or from the losses.

    Parameters
    ----------
    losses : numpy.ndarray, (N,)
        Checked per-example losses.
    labels, probs : numpy.ndarray, optional
        Checked as by :func:`check_predictions`.
    source : {"auto", "probs", "loss"}
        "probs": :func:`true_class_probability`, except that binary (N,) ``probs``
        without labels are taken as given (the reference PlaneSpot's behaviour, right
        when every example's true label is 1). "loss": ``exp(-losses)``, exact for
        cross-entropy / binary cross-entropy losses. "auto": "probs" when ``probs`` is
        given, else "loss".
    method : str
        Named in error messages.

    Returns
    -------
    numpy.ndarray
        (N,) float64 in [0, 1].
    """
    if source not in ("auto", "probs", "loss"):
        raise ValueError(f"confidence must be 'auto', 'probs' or 'loss'; got {source!r}")
    if source == "loss" or (source == "auto" and probs is None):
        return np.clip(np.exp(-losses), 0.0, 1.0)
    if probs is None:
        raise ValueError(f"{method} with confidence='probs' needs probs (predicted class probabilities); got None")
    if labels is not None:
        return true_class_probability(probs, labels)
    if probs.ndim == 1:
        return probs
    raise ValueError(f"{method} needs labels to read the true-label probability from (N, C) probs; got None")
