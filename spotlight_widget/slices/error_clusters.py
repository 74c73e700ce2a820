"""Error clusters: groups of similar examples the model gets wrong, shaped by the data rather than by a ball.

A spotlight is a ball of a fixed size S. Real failures are often neither: on the SpotCheck
rebuild (``benchmarks/spotcheck``) a blindspot's members have 91 % of their 10 nearest
neighbours inside it, yet the best ball centred on one of them covers only 82 % of the
blindspots, and blindspots range from 0.3 S to 5 S. ``error_clusters`` follows the
neighbourhoods instead:

1. The embeddings are centred, reduced to their top principal directions (``dims``) and
   scaled to unit mean norm; every example gets its ``k`` nearest neighbours (exact up to
   20,000 examples, by cells above: ``neighbourhoods``).
2. Losses are damped as the Spotlight's fast preset damps them (``log1p(l / mean)``).
   An example's *local loss* is the mean over itself and its neighbours; the examples whose
   local loss lies ``z`` standard errors above the data's mean loss are kept. Scattered
   errors (label noise) do not pass: their neighbours are right.
3. HDBSCAN (scikit-learn) groups the kept examples by density, so a cluster takes the shape
   and the size of the region; the ones it leaves out join the cluster of their nearest
   clustered neighbour.
4. A cluster larger than ``split_above`` x S is cut in two, recursively, where its own
   neighbour graph is thinnest (the sweep of the Fiedler vector with the least conductance):
   two failures side by side are then reported apart, or one large failure in pieces.
5. Members with fewer than ``trim`` of their neighbours in their cluster, and a loss not
   above the data's mean by one standard deviation, are dropped: the halo of correctly
   predicted neighbours around a failure.
6. Clusters are ranked by the significance of their damped loss,
   ``sum(l' - mean) / (std sqrt(n))``.

Measured (``benchmarks/README.md``): on SpotCheck the best discovery rate of any method here;
on the discovery suite about the Spotlight's F1.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from .._inputs import resolve_size
from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, SIZE, Interval, validate_params
from ..engine.optimize import ProgressFn
from .baselines import _data, _report
from .neighbourhoods import Neighbourhoods, nearest, neighbourhoods
from .result import Slice

STAGES = 4
# HDBSCAN's own density estimate (min_samples): small, so that a failure of a few dozen
# examples is dense enough to be a cluster.
_MIN_SAMPLES = 3
# Clusters up to this many members are cut with a dense eigendecomposition; larger ones
# with a sparse one.
_DENSE_SPLIT = 600


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "n": N_RESULTS,
        "size": SIZE,
        "seed": SEED,
        "progress": PROGRESS,
        "cancel": CANCEL,
    }
)
def error_clusters(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 5,
    size: float | int = 0.02,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: Any = None,
    k: int = 15,
    z: float = 3.0,
    min_cluster: float = 0.15,
    split_above: float | None = 2.0,
    trim: float = 0.5,
    dims: int = 50,
) -> list[Slice]:
    """Clusters of neighbouring high-loss examples, of the size the data gives them, worst first.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        Final-layer embeddings.
    losses : array-like, (N,)
        Per-example losses (signed values, e.g. two models' difference, are shifted to
        start at 0 before damping).
    n : int
        Most clusters returned; fewer when fewer regions stand out.
    size : float or int
        S, a fraction of the data or a count: the scale of the clusters (the smallest is
        ``min_cluster`` x S, at least 5; larger than ``split_above`` x S is cut).
    seed : int
        Seeds the principal directions' randomised solver.
    progress, cancel
        As for every finder (``find_slices``).
    k : int
        Neighbours that define an example's neighbourhood.
    z : float
        How many standard errors above the mean a neighbourhood's loss must be.
    min_cluster : float
        Smallest cluster, as a multiple of S.
    split_above : float or None
        Clusters above this multiple of S are cut in two where they are thinnest; None
        keeps HDBSCAN's clusters whole.
    trim : float
        Share of its neighbours a member of low loss needs inside its cluster to stay.
    dims : int
        Principal directions the neighbours are found in.

    Returns
    -------
    list of Slice
        Hard clusters (weights 0 or 1), ``score`` their significance, ``info`` with
        ``count`` (members) and ``local_loss`` (their mean local loss).

    Examples
    --------
    >>> found = error_clusters(embeddings, losses, n=5, size=0.02)   # doctest: +SKIP
    >>> found[0].indices                                             # doctest: +SKIP
    """
    x_np, loss = _data(embeddings, losses)
    found, _ = clusters_and_neighbours(
        x_np,
        loss,
        n=n,
        size=size,
        seed=seed,
        progress=progress,
        cancel=cancel,
        k=k,
        z=z,
        min_cluster=min_cluster,
        split_above=split_above,
        trim=trim,
        dims=dims,
    )
    return found


# Checked where they are used, so that options passed on by other finders (``pooled_slices``'
# cluster_options) are checked too, with messages naming error_clusters.
@validate_params(
    {
        "k": [Interval(Integral, 2, None, closed="left")],
        "z": [Interval(Real, 0, None, closed="left")],
        "min_cluster": [Interval(Real, 0, None, closed="neither")],
        "split_above": [None, Interval(Real, 0, None, closed="neither")],
        "trim": [Interval(Real, 0, 1, closed="both")],
        "dims": [Interval(Integral, 1, None, closed="left")],
    },
    caller="error_clusters",
)
def clusters_and_neighbours(
    x_np: np.ndarray,
    loss: np.ndarray,
    *,
    n: int,
    size: float | int,
    seed: int,
    progress: ProgressFn | None,
    cancel: Any,
    k: int = 15,
    z: float = 3.0,
    min_cluster: float = 0.15,
    split_above: float | None = 2.0,
    trim: float = 0.5,
    dims: int = 50,
    stages: int = STAGES,
) -> tuple[list[Slice], Neighbourhoods]:
    """``error_clusters`` on checked inputs, also returning the standardised points and neighbours it used.

    For methods that rank other candidates by the same neighbourhoods (``pooled_slices``);
    ``stages`` is the total their progress reports count to.
    """
    total = x_np.shape[0]
    s = _size(size, total)
    _report(progress, cancel, 0, stages, "neighbours")
    k = min(k, total - 1)
    near = neighbourhoods(x_np, k=k, dims=dims, seed=seed, cancel=cancel)
    x, neighbours = near.points, near.indices
    damped = _damp(loss)
    mean, spread = float(damped.mean()), float(damped.std())
    if not spread > 0:
        return [], near
    local = np.concatenate([damped[:, None], damped[neighbours]], axis=1).mean(1)
    high = np.flatnonzero(local > mean + z * spread / np.sqrt(k + 1))
    smallest = max(5, round(min_cluster * s))
    if high.size < smallest:
        return [], near
    _report(progress, cancel, 1, stages, "clusters")
    clusters = _density_clusters(x[high].numpy(), smallest)
    clusters = [high[c] for c in clusters]
    _report(progress, cancel, 2, stages, "splits")
    if split_above is not None:
        clusters = _split_large(x, clusters, split_above * s, smallest, k)
    _report(progress, cancel, 3, stages, "trim")
    found = []
    for members in clusters:
        inside = np.isin(neighbours[members], members).mean(1)
        keep = members[(inside >= trim) | (damped[members] > mean + spread)]
        if keep.size >= smallest:
            significance = float((damped[keep] - mean).sum() / (spread * np.sqrt(keep.size)))
            found.append((significance, np.sort(keep)))
    found.sort(key=lambda f: -f[0])
    slices = []
    for rank, (significance, members) in enumerate(found[:n]):
        weights = np.zeros(total)
        weights[members] = 1.0
        info = {"count": int(members.size), "local_loss": float(local[members].mean())}
        slices.append(Slice("error-clusters", weights, loss, rank=rank, score=significance, info=info))
    return slices, near


def _size(size: float | int, total: int) -> int:
    return int(resolve_size(size, total, total))


def _damp(loss: np.ndarray) -> np.ndarray:
    """The fast preset's damping, log1p(l / mean), after shifting signed losses to start at 0."""
    shifted = loss - min(float(loss.min()), 0.0)
    average = shifted.mean()
    return np.log1p(shifted / average) if average > 0 else shifted


def _density_clusters(points: np.ndarray, smallest: int) -> list[np.ndarray]:
    """HDBSCAN clusters of ``points`` (row positions); points it leaves out join their nearest cluster."""
    from sklearn.cluster import HDBSCAN

    if points.shape[0] < 2:
        return []
    fit = HDBSCAN(
        min_cluster_size=min(smallest, points.shape[0]),
        min_samples=min(_MIN_SAMPLES, points.shape[0]),
        allow_single_cluster=True,
        copy=True,
    )
    labels = fit.fit_predict(points)
    clustered, left = np.flatnonzero(labels >= 0), np.flatnonzero(labels < 0)
    if clustered.size == 0:
        return []
    if left.size:
        d = torch.cdist(torch.from_numpy(points[left]), torch.from_numpy(points[clustered]))
        labels[left] = labels[clustered[d.argmin(1).numpy()]]
    return [np.flatnonzero(labels == c) for c in np.unique(labels)]


def _split_large(
    x: torch.Tensor, clusters: list[np.ndarray], largest: float, smallest: int, k: int
) -> list[np.ndarray]:
    """Cut every cluster above ``largest`` members in two where its neighbour graph is thinnest, recursively."""
    todo, done = list(clusters), []
    while todo:
        members = todo.pop()
        if members.size > largest and members.size >= 2 * smallest:
            parts = _thinnest_cut(x[members], smallest, k)
            if parts is not None:
                todo += [members[parts[0]], members[parts[1]]]
                continue
        done.append(members)
    return done


def _thinnest_cut(points: torch.Tensor, smallest: int, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The two parts of the least-conductance sweep cut along the Fiedler vector of the kNN graph."""
    from scipy import sparse
    from scipy.sparse.linalg import eigsh

    n = points.shape[0]
    kk = min(k, n - 1)
    neighbours = nearest(points, kk)
    rows = np.repeat(np.arange(n), kk)
    graph = sparse.coo_matrix((np.ones(rows.size), (rows, neighbours.ravel())), shape=(n, n)).tocsr()
    graph = ((graph + graph.T) > 0).astype(np.float64)
    degree = np.asarray(graph.sum(1)).ravel()
    scale = sparse.diags(1 / np.sqrt(degree))
    # The Fiedler vector of the normalised Laplacian is the second-largest eigenvector of
    # the normalised adjacency.
    adjacency = scale @ graph @ scale
    if n <= _DENSE_SPLIT:
        _, vectors = np.linalg.eigh(adjacency.toarray())
        fiedler = vectors[:, -2]
    else:
        _, vectors = eigsh(adjacency, k=2, which="LA", v0=np.ones(n))
        fiedler = vectors[:, 0]
    order = np.argsort(fiedler / np.sqrt(degree), kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    # cut(prefix of i + 1) = cut(prefix of i) + degree - 2 x (edges back into the prefix).
    edges = graph.tocoo()
    back = np.zeros(n)
    earlier = position[edges.col] < position[edges.row]
    np.add.at(back, position[edges.row[earlier]], edges.data[earlier])
    cut = np.cumsum(degree[order] - 2 * back)
    volume = np.cumsum(degree[order])
    conductance = cut[:-1] / np.minimum(volume[:-1], volume[-1] - volume[:-1])
    allowed = np.arange(1, n)
    ok = (allowed >= smallest) & (n - allowed >= smallest)
    if not ok.any():
        return None
    best = int(allowed[ok][np.argmin(conductance[ok])])
    return order[:best], order[best:]
