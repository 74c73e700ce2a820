"""How faithful a 2-D map is to the embeddings: trustworthiness and k-NN preservation.

Both compare each point's neighbourhood in the map with its neighbourhood in the
embeddings (Euclidean distances in both). They are computed exactly for a random sample
of query points, whose neighbours are searched among *all* rows, chunk by chunk, so that
memory stays at O(queries x chunk) for any N (2,000 queries among 1M rows of 64-d: a
few minutes per map on a shared 2-core CPU, most of it one pass over the embeddings):

- **k-NN preservation**: the share of each query's k nearest neighbours in the
  embeddings that are also among its k nearest in the map, averaged over the queries.
  1 is perfect; a map unrelated to the data scores about k / (N - 1).
- **Trustworthiness** (Venna & Kaski, 2001; the definition of
  ``sklearn.manifold.trustworthiness``): penalises points that are among a query's k
  nearest in the map but not in the embeddings, by how far down the embeddings' ranking
  they are::

      T(k) = 1 - 2 / (n k (2N - 3k - 1)) * sum_i sum_{j in map k-NN(i)} max(0, r(i, j) - k)

  where r(i, j) is the rank of j among i's neighbours in the embeddings (1 = nearest)
  and n is the number of queries (N when every row is one, which gives exactly
  scikit-learn's value). 1 is perfect; a random map scores about 0.5.

Sampling the queries gives an unbiased estimate of the all-rows value; its standard error
is about the spread of the per-query scores over sqrt(n) (< 0.01 at n = 2,000).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix
from .._params import SEED, Interval, validate_params

# Distance blocks of at most 2^22 values (32 MiB in float64) bound memory for any N.
_BLOCK_VALUES = 1 << 22
# Above one block entry in this many below a query's largest threshold, bin the whole block.
_DENSE_SHARE = 16


@dataclass(frozen=True)
class ProjectionQuality:
    """Neighbourhood agreement between the embeddings and a map of them.

    Attributes
    ----------
    trustworthiness : float
        Venna & Kaski's trustworthiness at ``k`` (1 = no false neighbours in the map).
    knn_preservation : float
        Mean share of the embeddings' k nearest neighbours kept among the map's k nearest.
    k : int
        Neighbourhood size.
    n_queries : int
        Query points the means are over (N when every row was one).
    """

    trustworthiness: float
    knn_preservation: float
    k: int
    n_queries: int


_QUALITY_PARAMS = {
    "embeddings": ["array-like"],
    "coords": ["array-like"],
    "k": [Interval(Integral, 1, None, closed="left")],
    "sample": [None, Interval(Integral, 1, None, closed="left")],
    "seed": SEED,
}


@validate_params(_QUALITY_PARAMS)
def projection_quality(
    embeddings: Any,
    coords: Any,
    *,
    k: int = 10,
    sample: int | None = 2000,
    seed: int = 0,
) -> ProjectionQuality:
    """Trustworthiness and k-NN preservation of ``coords`` as a map of ``embeddings``.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The original points (held in float32; distances are computed in float64).
    coords : array-like, (N, m)
        Their map (m = 2 for a scatter plot; any m works).
    k : int
        Neighbourhood size; must be below N / 2 (trustworthiness's normalisation).
    sample : int or None
        Number of query points, drawn without replacement; None (or N or more) uses
        every row, which is exact and costs O(N^2 d).
    seed : int
        Seeds the choice of query points.

    Returns
    -------
    ProjectionQuality
        Both scores, from one pass over the embeddings.

    Raises
    ------
    ValueError
        When the row counts differ, or ``k`` is not below N / 2.
    """
    x = as_matrix(embeddings, "embeddings", dtype=torch.float32)
    z = as_matrix(coords, "coords", dtype=torch.float64)
    n_rows = x.shape[0]
    if z.shape[0] != n_rows:
        raise ValueError(
            f"projection_quality: coords must have one row per embedding ({n_rows}); got {z.shape[0]} rows"
        )
    if not 2 * k < n_rows:
        raise ValueError(f"projection_quality: k must be below N / 2 = {n_rows / 2:g}; got k={k}")
    if sample is None or sample >= n_rows:
        queries = torch.arange(n_rows)
    else:
        rng = np.random.default_rng(seed)
        queries = torch.from_numpy(np.sort(rng.choice(n_rows, size=sample, replace=False)))
    near_map, _ = _scan(z, queries, k)
    wanted = _distances_to(x, queries, near_map)
    near_data, closer = _scan(x, queries, k, thresholds=wanted, exclude=near_map)
    kept = (near_data[:, :, None] == near_map[:, None, :]).any(-1).sum(1)
    ranks = closer + 1
    penalty = float((ranks - k).clamp_min(0).sum())
    n_queries = len(queries)
    trust = 1.0 - penalty * 2.0 / (n_queries * k * (2.0 * n_rows - 3.0 * k - 1.0))
    return ProjectionQuality(
        trustworthiness=trust,
        knn_preservation=float(kept.sum()) / (n_queries * k),
        k=int(k),
        n_queries=n_queries,
    )


@validate_params(_QUALITY_PARAMS)
def trustworthiness(embeddings: Any, coords: Any, *, k: int = 10, sample: int | None = 2000, seed: int = 0) -> float:
    """Venna & Kaski's trustworthiness of ``coords`` at ``k``; see :func:`projection_quality`."""
    return projection_quality(embeddings, coords, k=k, sample=sample, seed=seed).trustworthiness


@validate_params(_QUALITY_PARAMS)
def knn_preservation(embeddings: Any, coords: Any, *, k: int = 10, sample: int | None = 2000, seed: int = 0) -> float:
    """Mean share of each point's k nearest neighbours kept by ``coords``; see :func:`projection_quality`."""
    return projection_quality(embeddings, coords, k=k, sample=sample, seed=seed).knn_preservation


def _distances_to(x: torch.Tensor, queries: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """(n, k) squared distances from each query to its ``others``, computed directly (no expansion)."""
    diff = x[others].double() - x[queries].double()[:, None, :]
    return (diff * diff).sum(-1)


def _scan(
    points: torch.Tensor,
    queries: torch.Tensor,
    k: int,
    *,
    thresholds: torch.Tensor | None = None,
    exclude: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pass over ``points`` in blocks: each query's k nearest other rows, and optionally ranks.

    With ``thresholds`` (n, k) squared distances to the rows ``exclude`` (n, k), also counts
    for each of them how many rows are strictly closer to the query. The excluded rows are
    compared among themselves by their exact ``thresholds`` rather than by the block's
    expanded distances, whose rounding could otherwise count a row as closer than itself.
    """
    n_rows = points.shape[0]
    n_queries = len(queries)
    # Centring makes the float64 expansion ||a||^2 + ||b||^2 - 2 a.b accurate for data far from 0;
    # appending the norms as columns computes the whole expansion in one matrix product.
    mean = points.mean(0, dtype=torch.float64)
    q = points[queries].double() - mean
    q_aug = torch.cat([-2.0 * q, (q * q).sum(1, keepdim=True), torch.ones(n_queries, 1, dtype=torch.float64)], 1)
    best_d = torch.full((n_queries, k), torch.inf, dtype=torch.float64)
    best_i = torch.zeros((n_queries, k), dtype=torch.long)
    rows = torch.arange(n_queries)
    counting = thresholds is not None and exclude is not None
    if counting:
        order = thresholds.argsort(1)
        sorted_t = thresholds.gather(1, order)
        farthest = sorted_t[:, -1:]
        histogram = torch.zeros(n_queries * (k + 1), dtype=torch.long)
    step = max(1, _BLOCK_VALUES // n_queries)
    for a in range(0, n_rows, step):
        block = points[a : a + step].double() - mean
        size = block.shape[0]
        b_aug = torch.cat([block, torch.ones(size, 1, dtype=torch.float64), (block * block).sum(1, keepdim=True)], 1)
        d = (q_aug @ b_aug.T).clamp_min_(0.0)
        own = (queries >= a) & (queries < a + size)
        d[rows[own], queries[own] - a] = torch.inf
        # Only rows that have a block entry below their current k-th distance need a new top k.
        hit = (d < best_d[:, -1:]).any(1).nonzero().squeeze(1)
        if len(hit):
            merged_d = torch.cat([best_d[hit], d[hit]], 1)
            merged_i = torch.cat([best_i[hit], torch.arange(a, a + size).expand(len(hit), -1)], 1)
            top_d, pick = merged_d.topk(k, dim=1, largest=False)
            best_d[hit] = top_d
            best_i[hit] = merged_i.gather(1, pick)
        if counting:
            inside = (exclude >= a) & (exclude < a + size)
            d[rows[:, None].expand_as(exclude)[inside], exclude[inside] - a] = torch.inf
            # Each entry falls in the bin of how many thresholds it does not beat. Only entries
            # below a query's largest threshold can land below bin k: few for a faithful map, so
            # those are binned one by one; a poor map has many, and a full binary search is faster.
            below = d < farthest
            if int(below.sum()) * _DENSE_SHARE < below.numel():
                r, c = below.nonzero(as_tuple=True)
                bins = (d[r, c][:, None] >= sorted_t[r]).sum(1)
                flat = r * (k + 1) + bins
            else:
                flat = (torch.searchsorted(sorted_t, d, right=True) + rows[:, None] * (k + 1)).view(-1)
            histogram.index_add_(0, flat, torch.ones_like(flat))
    if not counting:
        return best_i, None
    # For the j-th smallest threshold, the rows strictly below it are those in bins 0..j-1.
    below = histogram.view(n_queries, k + 1).cumsum(1)[:, :k]
    closer = torch.empty((n_queries, k), dtype=torch.long)
    closer.scatter_(1, order, below)
    closer += (thresholds[:, None, :] < thresholds[:, :, None]).sum(-1)
    return best_i, closer
