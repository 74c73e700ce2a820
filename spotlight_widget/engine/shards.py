"""What one process of a sharded search sees of a spotlight, and the global top-S set."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .comm import Communicator
from .result import Spotlight, top_set

# Bits of 1.0 as a float64: kernel weights lie in [0, 1].
_ONE_BITS = int(np.float64(1.0).view(np.int64))


@dataclass(frozen=True, repr=False)
class ShardedSpotlight(Spotlight):
    """A spotlight found on sharded data, as one process sees it.

    Every number describing the spotlight (``center``, ``precision``, ``weighted_loss``,
    ``top_loss``, ``mass``, ``size``, ``objective``, ``history``, ``converged``) is global
    and the same on every process. What refers to rows refers to *this process's* rows:

    - ``weights``: (n_local,) kernel weights of this shard's rows;
    - ``indices``: local row numbers of this shard's members (weight > 0), highest weight
      first (ties by row number);
    - ``top_indices``: local row numbers of this shard's rows that belong to the *global*
      top-S set (a prefix of ``indices``; possibly empty);
    - ``counts``, ``losses``: this shard's; ``to_frame()`` adds a ``global_index`` column.

    Add ``row_offset`` to a local row number for its row in the concatenated data
    (``global_indices``, ``global_top_indices``).

    Attributes
    ----------
    shard, shards : int
        This process's rank in the group, and the number of processes.
    row_offset : int
        Global row number of this shard's first row.
    total_rows : int
        Rows on all shards together (N).
    members : int
        Rows with weight > 0 on all shards together.
    top_rows : int
        Rows in the global top-S set.
    """

    shard: int = 0
    shards: int = 1
    row_offset: int = 0
    total_rows: int = 0
    members: int = 0
    top_rows: int = 0
    local_top: np.ndarray | None = field(default=None, compare=False)

    @property
    def top_indices(self) -> np.ndarray:
        """Local row numbers of this shard's rows in the global top-S set, highest weight first."""
        return self.local_top if self.local_top is not None else np.empty(0, dtype=np.int64)

    @property
    def global_indices(self) -> np.ndarray:
        return self.indices + self.row_offset

    @property
    def global_top_indices(self) -> np.ndarray:
        return self.top_indices + self.row_offset

    def to_frame(self):
        frame = super().to_frame()
        frame.insert(1, "global_index", frame["index"].to_numpy() + self.row_offset)
        return frame

    def __repr__(self) -> str:
        n = self.total_rows
        lo = self.row_offset
        return (
            f"ShardedSpotlight(rank={self.rank}, size={self.size} ({100 * self.size / max(n, 1):.2g}% of {n}), "
            f"mass={self.mass:.1f}, weighted_loss={self.weighted_loss:.4g}, top_loss={self.top_loss:.4g}, "
            f"members={self.members}, preset={self.preset!r}, steps={self.history.steps}; "
            f"shard {self.shard} of {self.shards}: rows {lo}..{lo + self.weights.shape[0]})"
        )


def top_counts(
    w: np.ndarray, counts: np.ndarray | None, orders: list[np.ndarray], sizes: list[int], comm: Communicator
) -> np.ndarray:
    """How many of each column's local members (``orders[j]``, highest weight first) are in the
    global top-S set.

    The top set is the longest prefix of all members, sorted by weight (ties by row), whose
    counts before each row stay below S - 1e-9 (``top_set``). Over several processes: a
    bisection on the bits of the weight threshold finds w*, the smallest weight whose
    strictly-heavier rows count less than that, with one all-reduce per halving; rows at w*
    itself are ties, taken in global row order (an exclusive prefix sum over the processes).
    """
    if comm.size == 1:
        return np.array([len(top_set(order, counts, s)) for order, s in zip(orders, sizes)], dtype=np.int64)
    n_cols = w.shape[1]
    c = np.ones(w.shape[0]) if counts is None else counts
    target = np.asarray(sizes, dtype=np.float64) - 1e-9
    member_rows = (w > 0).any(1)
    wm, cm = w[member_rows], c[member_rows]

    def heavier(threshold: np.ndarray) -> np.ndarray:
        local = ((wm > threshold[None, :]) * cm[:, None]).sum(0)
        return comm.sum(torch.from_numpy(np.ascontiguousarray(local, dtype=np.float64))).numpy()

    everything = heavier(np.zeros(n_cols)) < target
    lo = np.zeros(n_cols, dtype=np.int64)
    hi = np.full(n_cols, _ONE_BITS, dtype=np.int64)
    while True:
        active = (hi - lo > 1) & ~everything
        if not active.any():
            break
        mid = lo + (hi - lo) // 2
        below = heavier(mid.view(np.float64)) < target
        hi = np.where(active & below, mid, hi)
        lo = np.where(active & ~below, mid, lo)
    w_star = hi.view(np.float64)
    above = heavier(w_star)
    ties = np.array([(cm * (wm[:, j] == w_star[j])).sum() for j in range(n_cols)], dtype=np.float64)
    before_me = comm.per_process(ties).numpy()[: comm.rank].sum(0)
    out = np.zeros(n_cols, dtype=np.int64)
    for j in range(n_cols):
        col = w[:, j]
        if everything[j]:
            out[j] = int((col > 0).sum())
            continue
        tie_rows = np.flatnonzero(col == w_star[j])
        start = above[j] + before_me[j]
        before = start + (np.cumsum(c[tie_rows]) - c[tie_rows])
        out[j] = int((col > w_star[j]).sum()) + int((before < target[j]).sum())
    return out
