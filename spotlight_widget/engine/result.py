"""The result of a spotlight search."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix


def top_set(indices: np.ndarray, counts: np.ndarray | None, size: int) -> np.ndarray:
    """The first of ``indices`` (highest weight first) whose counts add up to ``size``."""
    if counts is None:
        return indices[:size]
    cum = np.cumsum(counts[indices])
    return indices[: int(np.searchsorted(cum, size - 1e-9)) + 1]


@dataclass(frozen=True)
class SearchHistory:
    """How one spotlight's search went, one entry per optimisation step.

    Attributes
    ----------
    objective : numpy.ndarray
        Paper Eq. 5 (weighted loss minus barrier) at each step, in the units the search
        used (losses divided by their standard deviation in the fast preset).
    mass : numpy.ndarray
        Sum of kernel weights (times counts) at each step.
    lr : numpy.ndarray
        Learning rate used at each step.
    width : numpy.ndarray
        Barrier width w at each step.
    stage : numpy.ndarray
        0 for steps on a random sample of the rows (large data), 1 for steps on all rows.
    """

    objective: np.ndarray
    mass: np.ndarray
    lr: np.ndarray
    width: np.ndarray
    stage: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.objective.shape[0])

    def to_frame(self):
        """The history as a pandas DataFrame, one row per step."""
        import pandas as pd

        return pd.DataFrame(
            {
                "step": np.arange(self.steps),
                "stage": self.stage,
                "objective": self.objective,
                "mass": self.mass,
                "lr": self.lr,
                "width": self.width,
            }
        )


# eq=False: equality of arrays has no single truth value, so spotlights compare by identity.
@dataclass(frozen=True, repr=False, eq=False)
class Spotlight:
    """A spotlight: a soft, contiguous region of embedding space with high loss.

    Attributes
    ----------
    weights : numpy.ndarray
        (N,) kernel weights k_i in [0, 1] (paper Eq. 1).
    indices : numpy.ndarray
        Examples with k_i > 0, highest weight first (ties by index); ``indices[:size]``
        is the top-S set when there are no counts.
    weighted_loss : float
        sum k l / sum k over the original losses (with counts when given).
    top_loss : float
        Mean original loss of the top-S set (``top_indices``).
    mass : float
        sum k (times counts): the spotlight's effective size; about 1.05 S by design.
    size : int
        S, the size the search was asked for (counted examples).
    center : numpy.ndarray
        (d,) centre mu in the user's embedding coordinates.
    precision : float
        tau, in the user's coordinates (inverse squared distance).
    objective : float
        Final value of paper Eq. 5 in the units the search used.
    history : SearchHistory
        Objective, mass, learning rate and barrier width at every step.
    preset : str
        The preset that produced it.
    rank : int
        0 for the first spotlight, k for the k-th sequential one (paper Eq. 6).
    converged : bool
        The stopping rule was met (always True for the fixed-length paper preset).
    """

    weights: np.ndarray
    indices: np.ndarray
    weighted_loss: float
    top_loss: float
    mass: float
    size: int
    center: np.ndarray
    precision: float
    objective: float
    history: SearchHistory
    preset: str
    rank: int = 0
    converged: bool = True
    counts: np.ndarray | None = field(default=None, compare=False)
    losses: np.ndarray | None = field(default=None, compare=False)

    @property
    def top_indices(self) -> np.ndarray:
        """The highest-weight examples whose counts add up to S (the top-S set)."""
        return top_set(self.indices, self.counts, self.size)

    @property
    def method(self) -> str:
        """The method that found it, as in the slice protocol (``spotlight_widget.slices``)."""
        return "spotlight"

    @property
    def radius(self) -> float:
        """Distance from the centre at which the weight reaches zero (1 / sqrt(tau))."""
        return float(self.precision**-0.5)

    def membership(self, embeddings: Any, *, chunk_rows: int = 65536) -> np.ndarray:
        """Kernel weights in this spotlight of any examples, e.g. held-out data.

        Parameters
        ----------
        embeddings : array-like, (M, d)
            Embeddings in the same space as the ones searched.
        chunk_rows : int
            Rows converted to float64 at a time, bounding the extra memory.
        """
        x = as_matrix(embeddings, "embeddings", dtype=torch.float64)
        if x.shape[1] != self.center.shape[0]:
            raise ValueError(
                f"embeddings have {x.shape[1]} columns but the spotlight's centre has {self.center.shape[0]}"
            )
        center = torch.from_numpy(np.asarray(self.center, dtype=np.float64))
        out = np.empty(x.shape[0])
        for a in range(0, x.shape[0], chunk_rows):
            dist = ((x[a : a + chunk_rows] - center) ** 2).sum(1)
            out[a : a + chunk_rows] = (1 - self.precision * dist).clamp_min(0).numpy()
        return out

    def to_frame(self):
        """The spotlight's members as a DataFrame, highest weight first (the order of ``indices``).

        Columns, the same for every result (``spotlight_widget.slices.Slice.to_frame``
        too): "index", "weight", "loss" (NaN without losses), "count" (the example's
        multiplicity, 1 without counts) and "in_top" (whether the row is in the top-S
        set, ``top_indices``).
        """
        from ..slices.result import members_frame

        return members_frame(self.indices, self.weights, self.losses, self.counts, self.top_indices)

    def summary(self) -> dict[str, Any]:
        """One row describing the spotlight, with the same keys as ``Slice.summary``.

        ``score`` is the final objective (paper Eq. 5, in the units the search used).
        """
        return {
            "method": self.method,
            "rank": self.rank,
            "size": self.size,
            "mass": self.mass,
            "weighted_loss": self.weighted_loss,
            "top_loss": self.top_loss,
            "score": self.objective,
        }

    def __repr__(self) -> str:
        n = self.weights.shape[0]
        return (
            f"Spotlight(rank={self.rank}, size={self.size} ({100 * self.size / n:.2g}% of {n}), "
            f"mass={self.mass:.1f}, weighted_loss={self.weighted_loss:.4g}, top_loss={self.top_loss:.4g}, "
            f"members={self.indices.shape[0]}, preset={self.preset!r}, steps={self.history.steps})"
        )
