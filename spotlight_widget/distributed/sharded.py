"""The spotlight search over data sharded across the processes of a ``torch.distributed`` group.

Every step of the search is a sum over examples followed by the same small update on
every process (``spotlight_widget.engine``), so adding the sums across processes (one
all-reduce) makes the sharded search follow the single-process one. What is *not* a sum
is handled here, so that the result is the single-process result on the concatenated
shards (rank order), up to the order of floating-point additions:

- inputs are checked on every process, then the processes exchange their errors and a
  description of their arguments: a bad shard or a mismatched argument raises the same
  ``ShardError`` everywhere instead of leaving the others waiting;
- data preparation (mean, spread), the loss scale (max - mean), sizes and totals use
  global sums and maxima;
- the random sample of large data and the loss-weighted restart anchors draw from the
  same generator stream as one process would (every process draws the whole stream and
  keeps its rows; above ``EXACT_DRAW_MAX_ROWS`` rows, a stream split into fixed blocks of
  rows instead: the same on any number of processes, not the single-process draw);
- the top-S set is found globally (a bisection on the weight threshold, ties broken by
  global row number), and every summary number is a global sum.

A process may hold no rows at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix, as_sizes, as_vector, resolve_device, resolve_size
from ..engine.optimize import CancelFn, ProgressFn
from ..engine.presets import get_preset
from ..engine.result import Spotlight
from ..engine.search import (
    _as_cancel,
    _as_inits,
    _check_options,
    _check_restarts,
    _cpu_threads,
    history_of,
    losses_to_search,
    search_sequence,
)
from ..engine.space import EmbeddingSpace
from .comm import Comm, ShardError, agree

# Up to this many rows in all, the sample of large data and the restart anchors are drawn
# exactly as one process would draw them, which costs each process a draw over all rows
# (8 bytes a row, briefly). Beyond, from per-block streams (see module docstring).
EXACT_DRAW_MAX_ROWS = 1 << 26
# Rows per block of those per-block streams.
_DRAW_BLOCK_ROWS = 1 << 20

# Bits of 1.0 as a float64: kernel weights lie in [0, 1].
_ONE_BITS = int(np.float64(1.0).view(np.int64))


class ShardedSpace(EmbeddingSpace):
    """An ``EmbeddingSpace`` holding one shard of the rows; totals and draws are global."""

    comm: Comm
    row_offset: int
    global_rows: int
    global_total: float

    def attach(self, comm: Comm, row_offset: int, global_rows: int) -> ShardedSpace:
        self.comm = comm
        self.row_offset = row_offset
        self.global_rows = global_rows
        local = float(self.n) if self.counts is None else float(self.counts.double().sum())
        self.global_total = float(comm.sum(torch.tensor([local], dtype=torch.float64)))
        return self

    @property
    def total_rows(self) -> int:
        return self.global_rows

    def total_count(self) -> float:
        return self.global_total

    def reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        return self.comm.sum(t)

    def reduce_max(self, t: torch.Tensor) -> torch.Tensor:
        return self.comm.max(t)

    def subset(self, rows: torch.Tensor) -> ShardedSpace:
        counts = None if self.counts is None else self.counts[rows]
        sub = ShardedSpace(self.x[rows], self.shift, self.scale, self.sqnorms[rows], counts, self.origin)
        sizes = self.comm.per_process(float(rows.shape[0])).long().tolist()
        return sub.attach(self.comm, sum(sizes[: self.comm.rank]), sum(sizes))

    def sample_rows(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        lo, hi = self.row_offset, self.row_offset + self.n
        if self.global_rows <= EXACT_DRAW_MAX_ROWS:
            perm = torch.randperm(self.global_rows, generator=generator)[:rows]
            mine = perm[(perm >= lo) & (perm < hi)] - lo
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            u = _block_draws(seed, lo, hi, exponential=False)
            mine = torch.nonzero(u < rows / self.global_rows).flatten()
        return mine.sort().values.to(self.x.device)

    def anchor_points(self, loss: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        # torch.multinomial without replacement is top-k of p / q with q ~ Exp(1) drawn over
        # all rows in one call: the same draw here, each process keeping its rows' keys.
        comm, lo, n = self.comm, self.row_offset, self.n
        p = loss.clamp_min(0).double().cpu()
        positive = int(comm.sum(torch.tensor([float((p > 0).sum())], dtype=torch.float64)))
        if positive == 0:
            p = torch.ones_like(p)
            positive = self.global_rows
        k = min(k, positive)
        if self.global_rows <= EXACT_DRAW_MAX_ROWS:
            q = torch.empty(self.global_rows, dtype=torch.float64).exponential_(1, generator=generator)[lo : lo + n]
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            q = _block_draws(seed, lo, lo + n, exponential=True)
        keys = p / q
        mine = min(k, n)
        top_keys, top_rows = torch.topk(keys, mine) if mine else (keys[:0], torch.zeros(0, dtype=torch.long))
        cand = torch.full((k, 2), -math.inf, dtype=torch.float64)
        cand[:mine, 0] = top_keys
        cand[:mine, 1] = (top_rows + lo).double()
        every = comm.per_process(cand).reshape(-1, 2)
        chosen = every[torch.topk(every[:, 0], k).indices, 1].long()
        points = torch.zeros(k, self.dim, dtype=self.x.dtype, device=self.x.device)
        own = (chosen >= lo) & (chosen < lo + n)
        if bool(own.any()):
            local_rows = (chosen[own] - lo).to(self.x.device)
            points[own.to(self.x.device)] = (self.x[local_rows] - self.shift) / self.scale
        return comm.sum(points)


def _block_draws(seed: int, lo: int, hi: int, *, exponential: bool) -> torch.Tensor:
    """Uniform or Exp(1) draws for global rows [lo, hi), from one stream per block of rows."""
    out = torch.empty(hi - lo, dtype=torch.float64)
    block = _DRAW_BLOCK_ROWS
    for b in range(lo // block, (hi - 1) // block + 1 if hi > lo else lo // block):
        g = torch.Generator().manual_seed((seed * 1_000_003 + b) % (2**63 - 1))
        vals = torch.empty(block, dtype=torch.float64)
        vals = vals.exponential_(1, generator=g) if exponential else vals.uniform_(0, 1, generator=g)
        a, z = max(lo, b * block), min(hi, (b + 1) * block)
        out[a - lo : z - lo] = vals[a - b * block : z - b * block]
    return out


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


# ---------------------------------------------------------------------------------------------
# Inputs of one process


def _is_empty(value: Any) -> bool:
    shape = getattr(value, "shape", None)
    if shape is None:
        try:
            return len(value) == 0
        except TypeError:
            return False
    return len(shape) >= 1 and shape[0] == 0


def _local_matrix(value: Any, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, bool, int | None]:
    """(x, owned, d): the shard's embeddings; a shard may have no rows (d None if unknown)."""
    if value is not None and _is_empty(value):
        shape = tuple(getattr(value, "shape", (0,)))
        d = shape[1] if len(shape) == 2 and shape[1] > 0 else None
        return torch.zeros(0, d or 0, dtype=dtype, device=device), True, d
    x, owned = as_matrix(value, "embeddings", dtype=dtype, device=device, return_owned=True)
    return x, owned, x.shape[1]


def _local_vector(value: Any, name: str, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if n == 0:
        if value is None:
            raise TypeError(f"{name} is required; got None")
        if not _is_empty(value):
            raise ValueError(f"{name} has entries but the embeddings have 0 rows")
        return torch.zeros(0, dtype=dtype, device=device)
    return as_vector(value, name, length=n, dtype=dtype, device=device)


def _local_counts(value: Any, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """Counts of this shard: finite and non-negative (all zero is fine on one shard)."""
    if value is None:
        return None
    t = _local_vector(value, "counts", n, dtype, device)
    n_neg = int((t < 0).sum())
    if n_neg:
        rows = torch.nonzero(t < 0).flatten()[:5].tolist()
        raise ValueError(f"counts must be non-negative; {n_neg} entries are negative (first at {rows})")
    return t


def _device(device: Any, comm: Comm, *tensors: Any) -> torch.device:
    if device is None and comm.backend == "nccl":
        return comm.device
    dev = resolve_device(device, *tensors)
    if comm.backend == "nccl" and dev.type != "cuda":
        raise ValueError(f"an NCCL process group needs CUDA tensors; got device={dev}")
    return dev


def _fingerprint(n, size_list, cfg, barrier, dtype, seed, inits, after, has_counts) -> str:
    """What must be the same on every process, as text (the preset holds the restarts)."""
    starts = [None if sp is None else (np.asarray(sp.center).round(12).tolist()[:4], sp.precision) for sp in inits]
    return repr(
        {
            "n": int(n),
            "size": [float(s) if not isinstance(s, (int, np.integer)) else int(s) for s in size_list],
            "preset": cfg,
            "barrier": float(barrier),
            "dtype": str(dtype),
            "seed": int(seed),
            "init": starts,
            "after": len(after),
            "counts": has_counts,
        }
    )


# ---------------------------------------------------------------------------------------------
# The search


def find_spotlights_sharded(
    embeddings: Any,
    losses: Any,
    n: int = 3,
    size: float | Sequence[float | int] = 0.02,
    *,
    process_group: Any,
    counts: Any = None,
    preset: Any = "fast",
    restarts: int | None = None,
    barrier: float = 1.0,
    init: Spotlight | Sequence[Spotlight] | None = None,
    after: Sequence[Spotlight] = (),
    device: Any = None,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    max_steps: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | Any = None,
    threads: int | None = 1,
) -> list[ShardedSpotlight] | list[list[ShardedSpotlight]]:
    """``find_spotlights`` on this process's shard; see ``find_spotlights(process_group=...)``.

    Counts may be given on every process or on none. ``after`` holds spotlights of these
    same shards (their local weights). ``progress`` and ``cancel`` may be given on any
    processes: a cancel on one process stops all of them (each raises ``SearchCancelled``).
    """
    comm = Comm(process_group)
    error: BaseException | None = None
    fingerprint = None
    n_local, d_local = 0, None
    try:
        _check_options(n, restarts, barrier, dtype, threads)
        cfg = get_preset(preset, max_steps=max_steps, restarts=None if restarts is None else int(restarts))
        _check_restarts(cfg.restarts)
        if init is not None and not cfg.hold_mass:
            raise ValueError("init (a warm start) needs preset='fast'; the paper preset always starts from mu = 0")
        size_list, single = as_sizes(size)
        dev = _device(device, comm, embeddings, losses)
        x, owned, d_local = _local_matrix(embeddings, dtype, dev)
        n_local = x.shape[0]
        loss = _local_vector(losses, "losses", n_local, dtype, dev)
        weights = _local_counts(counts, n_local, dtype, dev)
        inits = _as_inits(init, len(size_list))
        after = list(after)
        if after and len(size_list) > 1:
            raise ValueError("after continues one sequence: pass a single size")
        for sp in after:
            if not isinstance(sp, Spotlight) or sp.weights.shape != (n_local,):
                raise ValueError(f"after must hold spotlights of this process's {n_local} examples")
        cancel_fn = _as_cancel(cancel)
        fingerprint = _fingerprint(n, size_list, cfg, barrier, dtype, seed, inits, after, counts is not None)
    except (ValueError, TypeError, RuntimeError) as exc:
        error = exc
    shapes = agree(comm, error, fingerprint, info=(n_local, d_local))

    rows = [r for r, _ in shapes]
    dims = sorted({d for _, d in shapes if d})
    if sum(rows) == 0:
        raise ShardError("no process holds any rows: the data set is empty")
    if len(dims) != 1:
        raise ShardError(f"the shards' embeddings have different widths: {[d for _, d in shapes]}")
    if x.shape[1] != dims[0]:
        x = x.reshape(0, dims[0])
    offset, total_rows = sum(rows[: comm.rank]), sum(rows)

    def agreed_cancel() -> bool:
        # Called at the same steps on every process; one process's cancel stops them all.
        return comm.any(cancel_fn is not None and bool(cancel_fn()))

    with _cpu_threads(threads if dev.type == "cpu" else None):
        if weights is not None and not comm.any(bool((weights > 0).any())):
            raise ShardError("counts are all zero: no example would count")
        space = ShardedSpace.build(x, weights, normalize=cfg.normalize, owned=owned, reducer=comm.sum)
        space = space.attach(comm, offset, total_rows)
        total = space.total_count()
        sizes = [resolve_size(s, total, total_rows) for s in size_list]
        search_losses = losses_to_search(loss, weights, cfg, reduce_sum=comm.sum, reduce_max=comm.max)
        search_losses = search_losses[:, None].repeat(1, len(sizes))
        generator = torch.Generator().manual_seed(seed)
        original = loss.double().cpu().numpy()
        count_np = None if weights is None else weights.double().cpu().numpy()

        found: list[list[ShardedSpotlight]] = [[] for _ in sizes]
        sequence = search_sequence(
            space,
            search_losses,
            sizes,
            cfg,
            n=n,
            after=[torch.as_tensor(sp.weights, dtype=dtype, device=dev) for sp in after],
            barrier=barrier,
            restarts=cfg.restarts,
            inits=inits,
            generator=generator,
            reducer=comm.sum,
            reduce_max=comm.max,
            progress=progress,
            cancel=agreed_cancel,
        )
        for rank, kernel, trajs in sequence:
            centers, precisions = space.to_raw(trajs.center, trajs.log_tau)
            spots = _make_spotlights(
                kernel, original, count_np, sizes, centers, precisions, trajs, cfg.name, rank, space
            )
            for j, sp in enumerate(spots):
                found[j].append(sp)
        return found[0] if single else found


def _top_counts(w: np.ndarray, c: np.ndarray, sizes: list[int], comm: Comm) -> np.ndarray:
    """How many of each column's local members (highest weight first) are in the global top-S set.

    The single-process top set is the longest prefix of all members, sorted by weight
    (ties by row), whose counts before each row stay below S - 1e-9. Here: a bisection on
    the bits of the weight threshold finds w*, the smallest weight whose strictly-heavier
    rows count less than that, with one all-reduce per halving; rows at w* itself are
    ties, taken in global row order (an exclusive prefix sum over the processes).
    """
    n_cols = w.shape[1]
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


def _make_spotlights(kernel, losses, counts, sizes, centers, precisions, trajs, preset, rank, space):
    comm = space.comm
    w_all = kernel.double().cpu().numpy()
    n_cols = w_all.shape[1]
    c = np.ones(w_all.shape[0]) if counts is None else counts
    local = np.array(
        [[(c * w_all[:, j]).sum(), (c * w_all[:, j] * losses).sum(), (w_all[:, j] > 0).sum()] for j in range(n_cols)]
    )
    glob = comm.sum(torch.from_numpy(local)).numpy()
    int_sizes = [round(s) for s in sizes]
    n_top = _top_counts(w_all, c, int_sizes, comm)
    orders, top_sums = [], []
    for j in range(n_cols):
        w = w_all[:, j]
        members = np.flatnonzero(w > 0)
        order = members[np.argsort(-w[members], kind="stable")]
        top = order[: n_top[j]]
        orders.append(order)
        top_sums.append([(c[top] * losses[top]).sum(), c[top].sum(), top.shape[0]])
    top_glob = comm.sum(torch.tensor(top_sums, dtype=torch.float64)).numpy()
    spots = []
    for j in range(n_cols):
        mass = float(glob[j, 0])
        spots.append(
            ShardedSpotlight(
                weights=w_all[:, j].copy(),
                indices=orders[j],
                weighted_loss=float(glob[j, 1] / mass),
                top_loss=float(top_glob[j, 0] / top_glob[j, 1]),
                mass=mass,
                size=int_sizes[j],
                center=centers[j].double().cpu().numpy(),
                precision=float(precisions[j]),
                objective=float(trajs.objective[j]),
                history=history_of(trajs, j),
                preset=preset,
                rank=rank,
                converged=bool(trajs.converged[j]),
                counts=counts,
                losses=losses,
                shard=comm.rank,
                shards=comm.size,
                row_offset=space.row_offset,
                total_rows=space.global_rows,
                members=int(round(glob[j, 2])),
                top_rows=int(round(top_glob[j, 2])),
                local_top=orders[j][: n_top[j]],
            )
        )
    return spots
