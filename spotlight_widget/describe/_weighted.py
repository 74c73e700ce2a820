"""A spotlight reduced to checked weighted data, and its highest-weight rows (shared with figures.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._inputs import as_vector


@dataclass(frozen=True)
class _Weighted:
    """A spotlight reduced to what the summaries need, checked."""

    weights: np.ndarray
    counts: np.ndarray
    losses: np.ndarray | None

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])

    @property
    def kw(self) -> np.ndarray:
        return self.counts * self.weights


def _vector(value: Any, name: str) -> np.ndarray:
    return as_vector(value, name, dtype=torch.float64).numpy()


def _check_weights(weights: np.ndarray) -> None:
    outside = (weights < 0) | (weights > 1)
    if outside.any():
        first = np.flatnonzero(outside)[:5].tolist()
        raise ValueError(f"weights must lie in [0, 1]; {int(outside.sum())} entries do not (first at {first})")


def _weighted(
    weights: Any, losses: Any, counts: Any, *, allow_empty: bool = False, losses_required: bool = False
) -> _Weighted:
    w = _vector(weights, "weights")
    _check_weights(w)
    n = w.shape[0]
    loss = None
    if losses is not None:
        loss = _vector(losses, "losses")
        if loss.shape != w.shape:
            raise ValueError(f"weights {w.shape} and losses {loss.shape} differ in shape")
    elif losses_required:
        raise ValueError("losses are required")
    if counts is None:
        c = np.ones(n)
    else:
        c = _vector(counts, "counts")
        if c.shape != w.shape:
            raise ValueError(f"counts has {c.shape[0]} entries for {n} examples")
        if (c < 0).any():
            raise ValueError(f"counts must be non-negative; {int((c < 0).sum())} entries are negative")
        if not (c > 0).any():
            raise ValueError("counts are all zero: no example would count")
    if not allow_empty and not (c * w > 0).any():
        raise ValueError("the spotlight is empty: every weight (times its count) is zero")
    return _Weighted(weights=w, counts=c, losses=loss)


def _from_spotlight(spotlight: Any) -> _Weighted:
    if not hasattr(spotlight, "weights"):
        raise TypeError(
            f"expected a Spotlight or an object with .weights and .losses (a slice); got {type(spotlight).__name__}"
        )
    return _weighted(spotlight.weights, getattr(spotlight, "losses", None), getattr(spotlight, "counts", None))


def _top_rows(weights: np.ndarray, k: int) -> np.ndarray:
    members = np.flatnonzero(weights > 0)
    order = members[np.argsort(-weights[members], kind="stable")]
    return order[:k]
