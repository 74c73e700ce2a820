"""Every example's nearest neighbours, for the finders that follow neighbourhoods (error clusters, pooled regions).

The exact search is quadratic: at N = 50,000 it writes 2.5 billion distances, over 10 s on
a 2-core CPU, most of it memory traffic rather than arithmetic. Above ``EXACT_UP_TO`` rows
the neighbours are searched cell by cell instead (an inverted file, as vector databases
do): K-means cuts the points into about sqrt(N) cells, and each cell's points look for
their neighbours only among the points of the ``PROBE`` cells nearest to it. Failures are
regions of embedding space, so their members' neighbours lie in the same or adjacent
cells; measured on planted clusters at 50,000 x 512 (``benchmarks/README.md``), 99.96 % of
the exact neighbours are found in a quarter of the time. On structureless data (isotropic
noise) far fewer are, but there neighbourhoods carry no failure to find.

The search depends on the embeddings but not on the losses or the requested size, so the
last result is kept (keyed by the embeddings' content): the explorer's size changes, and
a sweep of sizes through the API, reuse it.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..engine.optimize import SearchCancelled
from .baselines import _is_cancelled

EXACT_UP_TO = 20_000
"""Largest number of rows searched exactly; larger inputs are searched cell by cell."""
PROBE = 8
"""Cells whose points a cell's points compare themselves with (their own and the nearest others)."""
_KMEANS_STEPS = 8
# Points per cell the cells' K-means is fitted on: enough for stable centroids, a
# fraction of the search's own cost.
_SAMPLE_PER_CELL = 32


@dataclass(frozen=True)
class Neighbourhoods:
    """Standardised points and every point's nearest neighbours.

    Attributes
    ----------
    points : torch.Tensor, (N, dims)
        The embeddings centred, reduced to their top principal directions and scaled to
        unit mean norm (float32).
    indices : np.ndarray, (N, k)
        Row i holds its k nearest other rows (in no particular order).
    """

    points: torch.Tensor
    indices: np.ndarray


_last: tuple[tuple[Any, ...], Neighbourhoods] | None = None
_lock = threading.Lock()


def neighbourhoods(x_np: np.ndarray, *, k: int, dims: int, seed: int, cancel: Any = None) -> Neighbourhoods:
    """The standardised points of ``x_np`` and their ``k`` nearest neighbours, reusing the last result when it fits.

    Parameters
    ----------
    x_np : np.ndarray, (N, d) float32
        Checked embeddings, N >= 2.
    k : int
        Neighbours per point (at most N - 1).
    dims : int
        Principal directions kept.
    seed : int
        Seeds the principal directions' randomised solver and the cells' K-means.
    cancel : optional
        Checked between blocks of the search; raises ``SearchCancelled`` once set.
    """
    global _last
    key = (x_np.shape, hashlib.blake2b(np.ascontiguousarray(x_np).data, digest_size=16).digest(), k, dims, seed)
    with _lock:
        if _last is not None and _last[0] == key:
            return _last[1]
    points = standardise(torch.from_numpy(x_np), dims, seed)
    found = Neighbourhoods(points, nearest(points, k, cancel=cancel, seed=seed))
    with _lock:
        _last = (key, found)
    return found


def clear_cache() -> None:
    """Forget the last search (it holds about (dims + k) x 4 bytes per example)."""
    global _last
    with _lock:
        _last = None


def standardise(x: torch.Tensor, dims: int, seed: int) -> torch.Tensor:
    """Centred, reduced to ``dims`` principal directions, scaled to unit mean norm (float32)."""
    x = x.float() - x.float().mean(0)
    if x.shape[1] > dims:
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            _, _, v = torch.pca_lowrank(x, q=dims, center=False, niter=4)
        finally:
            torch.random.set_rng_state(state)
        x = x @ v
    scale = x.norm(dim=1).mean()
    return x / scale if scale > 0 else x


def nearest(
    x: torch.Tensor, k: int, *, cancel: Any = None, seed: int = 0, exact_up_to: int = EXACT_UP_TO
) -> np.ndarray:
    """(N, k) indices of every row's ``k`` nearest other rows: exact up to ``exact_up_to`` rows, by cells above."""
    if x.shape[0] <= exact_up_to:
        return _exact(x, k, cancel)
    return _by_cells(x, k, cancel, seed)


def _squared_distances(a: torch.Tensor, b: torch.Tensor, b_squared: torch.Tensor, out: torch.Tensor | None = None):
    # |a - b|^2 less |a|^2, which is the same along a row: one fused multiply-add.
    return torch.addmm(b_squared[None], a, b.T, alpha=-2, out=out)


def _check(cancel: Any) -> None:
    if cancel is not None and _is_cancelled(cancel):
        raise SearchCancelled("cancelled while finding neighbours")


def _exact(x: torch.Tensor, k: int, cancel: Any, block: int = 2048) -> np.ndarray:
    n = x.shape[0]
    squared = (x * x).sum(1)
    out = np.empty((n, k), dtype=np.int64)
    # One buffer for every block: a fresh one each time costs more in page faults than the
    # multiplication itself.
    buffer = torch.empty(min(block, n), n)
    for start in range(0, n, block):
        _check(cancel)
        rows = slice(start, min(start + block, n))
        d = _squared_distances(x[rows], x, squared, out=buffer[: rows.stop - start])
        d[torch.arange(d.shape[0]), torch.arange(rows.start, rows.stop)] = float("inf")
        out[rows] = d.topk(k, largest=False, sorted=False).indices.numpy()
    return out


def _by_cells(x: torch.Tensor, k: int, cancel: Any, seed: int) -> np.ndarray:
    n = x.shape[0]
    cells = max(1, round(math.sqrt(n)))
    home = _cells(x, cells, seed)
    centroids = torch.zeros(cells, x.shape[1]).index_add_(0, home, x)
    sizes = torch.bincount(home, minlength=cells)
    centroids /= sizes.clamp(min=1)[:, None]
    centroids[sizes == 0] = float("inf")
    between = _squared_distances(centroids, centroids, (centroids * centroids).sum(1)).nan_to_num(float("inf"))
    # A cell's own points come first, whatever the rounding of its distance to itself.
    between.fill_diagonal_(-float("inf"))
    probed = between.topk(min(PROBE, cells), largest=False).indices
    order = torch.argsort(home, stable=True)
    ends = np.cumsum(sizes.numpy())
    starts = ends - sizes.numpy()
    squared = (x * x).sum(1)
    out = torch.empty((n, k), dtype=torch.int64)
    for c in np.flatnonzero(sizes.numpy()):
        _check(cancel)
        queries = order[starts[c] : ends[c]]
        candidates = torch.cat([order[starts[j] : ends[j]] for j in probed[c].tolist()])
        if candidates.numel() <= k:
            candidates = torch.arange(n)
        d = _squared_distances(x[queries], x[candidates], squared[candidates])
        # Each query is among its own candidates: take one more and drop it.
        found = candidates[d.topk(k + 1, largest=False).indices]
        other = found != queries[:, None]
        other[other.all(1), -1] = False
        out[queries] = found[other].view(-1, k)
    return out.numpy()


def _cells(x: torch.Tensor, cells: int, seed: int) -> torch.Tensor:
    """Each row's cell: the nearest of ``cells`` K-means centroids fitted on a sample."""
    generator = torch.Generator().manual_seed(seed)
    sample = x[torch.randperm(x.shape[0], generator=generator)[: cells * _SAMPLE_PER_CELL]]
    centroids = sample[:cells].clone()
    for _ in range(_KMEANS_STEPS):
        assigned = _squared_distances(sample, centroids, (centroids * centroids).sum(1)).argmin(1)
        sums = torch.zeros_like(centroids).index_add_(0, assigned, sample)
        counts = torch.bincount(assigned, minlength=cells)
        kept = counts > 0
        centroids[kept] = sums[kept] / counts[kept, None]
    return _squared_distances(x, centroids, (centroids * centroids).sum(1)).argmin(1)
