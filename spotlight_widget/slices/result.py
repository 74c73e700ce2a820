"""The slice result type, ``Slice``, and the ``SliceLike`` protocol every slice finder's results fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from .._inputs import as_vector
from .._params import InstanceOf, Interval, check


@runtime_checkable
class SliceLike(Protocol):
    """What every slice finder returns: ``Slice`` and the engine's ``Spotlight`` both fit.

    Attributes
    ----------
    method : str
        The method that found it ("spotlight", "highest-loss", "kmeans", "gmm", ...).
    weights : numpy.ndarray
        (N,) membership of every example, in [0, 1].
    indices : numpy.ndarray
        Members (weight > 0), highest weight first.
    losses : numpy.ndarray or None
        (N,) per-example losses the slice was found on.
    size : int
        Number of examples the slice stands for; ``top_indices`` has this many.
    rank : int
        0 for the worst slice the method found, then 1, 2, ...
    weighted_loss : float
        sum w l / sum w.
    top_indices : numpy.ndarray
        The ``size`` highest-weight members.
    """

    @property
    def method(self) -> str: ...

    @property
    def weights(self) -> np.ndarray: ...

    @property
    def indices(self) -> np.ndarray: ...

    @property
    def losses(self) -> np.ndarray | None: ...

    @property
    def size(self) -> int: ...

    @property
    def rank(self) -> int: ...

    @property
    def weighted_loss(self) -> float: ...

    @property
    def top_indices(self) -> np.ndarray: ...

    def to_frame(self) -> Any: ...

    def summary(self) -> dict[str, Any]: ...


FRAME_COLUMNS = ("index", "weight", "loss", "count", "in_top")
"""Columns of every result's ``to_frame()`` and of the exports built on it."""


def members_frame(
    indices: np.ndarray,
    weights: np.ndarray,
    losses: np.ndarray | None,
    counts: np.ndarray | None,
    top_indices: np.ndarray,
):
    """The members ``indices`` of a result as a DataFrame with the columns ``FRAME_COLUMNS``."""
    import pandas as pd

    return pd.DataFrame(
        {
            "index": indices,
            "weight": weights[indices],
            "loss": np.full(indices.shape[0], np.nan) if losses is None else losses[indices],
            "count": np.ones(indices.shape[0]) if counts is None else np.asarray(counts, dtype=np.float64)[indices],
            "in_top": np.isin(indices, top_indices),
        },
        columns=list(FRAME_COLUMNS),
    )


def _read_only_vector(value: Any, name: str) -> np.ndarray:
    arr = as_vector(value, name, dtype=torch.float64).numpy().copy()
    arr.flags.writeable = False
    return arr


# eq=False: equality of arrays has no single truth value, so slices compare by identity.
@dataclass(frozen=True, repr=False, eq=False)
class Slice:
    """A slice of the data found by one method: membership weights and the losses behind them.

    Parameters
    ----------
    method : str
        The method that found it: "highest-loss", "kmeans", "gmm", "infembed", ...
    weights : array-like, (N,)
        Membership of every example in [0, 1]: 0/1 for hard slices, probabilities for
        soft ones (e.g. Gaussian-mixture responsibilities). At least one must be positive.
    losses : array-like, (N,), optional
        Per-example losses the slice was ranked on.
    rank : int
        0 for the worst slice the method found, 1 for the next, ...
    score : float
        What the method ranked it by (mean loss, accuracy, ...); NaN when not applicable.
    info : mapping
        Method-specific details (cluster id, number of clusters, ...), stored read-only.

    Both arrays are copied to float64 and made read-only.
    """

    method: str
    weights: np.ndarray
    losses: np.ndarray | None = None
    rank: int = 0
    score: float = float("nan")
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(self.method, "method", [str], caller="Slice")
        if not self.method:
            raise ValueError("Slice: method must be a non-empty str; got ''")
        weights = _read_only_vector(self.weights, "weights")
        outside = (weights < 0) | (weights > 1)
        if outside.any():
            first = np.flatnonzero(outside)[:5].tolist()
            raise ValueError(f"weights must lie in [0, 1]; {int(outside.sum())} entries do not (first at {first})")
        if not (weights > 0).any():
            raise ValueError("weights are all zero: a slice needs at least one member")
        object.__setattr__(self, "weights", weights)
        if self.losses is not None:
            losses = _read_only_vector(self.losses, "losses")
            if losses.shape[0] != weights.shape[0]:
                raise ValueError(f"losses has {losses.shape[0]} entries but weights has {weights.shape[0]}")
            object.__setattr__(self, "losses", losses)
        object.__setattr__(self, "rank", check(self.rank, "rank", [Interval(Integral, 0, None)], caller="Slice"))
        try:
            score = float(self.score)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Slice: score must be a real number; got {self.score!r} ({type(self.score).__name__})"
            ) from exc
        object.__setattr__(self, "score", score)
        check(self.info, "info", [InstanceOf(Mapping, "mapping")], caller="Slice")
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))
        object.__setattr__(self, "_indices", self._order())

    def _order(self) -> np.ndarray:
        members = np.flatnonzero(self.weights > 0)
        loss = self.losses[members] if self.losses is not None else np.zeros(members.size)
        # lexsort sorts by its last key first: weight, then loss (both descending), then index.
        order = np.lexsort((members, -loss, -self.weights[members]))
        out = members[order]
        out.flags.writeable = False
        return out

    @property
    def indices(self) -> np.ndarray:
        """Members (weight > 0), highest weight first; ties by higher loss, then lower index."""
        return self._indices

    @property
    def is_hard(self) -> bool:
        """Every weight is 0 or 1."""
        return bool(np.all((self.weights == 0) | (self.weights == 1)))

    @property
    def mass(self) -> float:
        """Sum of the weights: the slice's effective number of examples."""
        return float(self.weights.sum())

    @property
    def size(self) -> int:
        """Number of members of a hard slice; the rounded mass (at least 1) of a soft one."""
        if self.is_hard:
            return int(self._indices.shape[0])
        return max(1, min(int(self._indices.shape[0]), round(self.mass)))

    @property
    def weighted_loss(self) -> float:
        """sum w l / sum w; NaN without losses."""
        if self.losses is None:
            return float("nan")
        return float(self.weights @ self.losses / self.weights.sum())

    @property
    def top_indices(self) -> np.ndarray:
        """The ``size`` highest-weight members."""
        return self._indices[: self.size]

    @property
    def top_loss(self) -> float:
        """Mean loss of ``top_indices``; NaN without losses."""
        if self.losses is None:
            return float("nan")
        return float(self.losses[self.top_indices].mean())

    def to_frame(self):
        """The members as a DataFrame, highest weight first (the order of ``indices``).

        Columns, the same for every result (``Spotlight.to_frame`` too): "index" (row of
        the data), "weight", "loss" (NaN without losses), "count" (1: slices do not
        weigh examples by multiplicity) and "in_top" (whether the row is one of
        ``top_indices``, the ``size`` examples the result stands for).
        """
        return members_frame(self._indices, self.weights, self.losses, None, self.top_indices)

    def summary(self) -> dict[str, Any]:
        """One row describing the slice: method, rank, size, mass, losses and score.

        ``pandas.DataFrame([s.summary() for s in slices])`` tabulates several.
        """
        return {
            "method": self.method,
            "rank": self.rank,
            "size": self.size,
            "mass": self.mass,
            "weighted_loss": self.weighted_loss,
            "top_loss": self.top_loss,
            "score": self.score,
        }

    def __repr__(self) -> str:
        n = self.weights.shape[0]
        kind = "hard" if self.is_hard else "soft"
        return (
            f"Slice(method={self.method!r}, rank={self.rank}, size={self.size} ({100 * self.size / n:.2g}% of {n}), "
            f"{kind}, mass={self.mass:.1f}, weighted_loss={self.weighted_loss:.4g}, score={self.score:.4g})"
        )
