"""Pooled regions: error clusters and Gaussian-mixture components, ranked together.

No single shape fits every failure. Error clusters (``error_clusters``) follow dense
neighbourhoods of errors and take the size the data gives them; a Gaussian mixture's
elongated components hold failures spread thinly along a direction (a cue stamped on
examples of every class), which no neighbourhood does. ``pooled_slices`` asks both for
``n`` candidates and keeps the best ``n`` of the pool:

1. Every candidate is scored by the significance of its members' damped loss (the mean
   in standard deviations above the data's, its *effect*, times the square root of its
   member count), times the square root of its *coherence*: the share of its members'
   ``k`` nearest neighbours that are members too. A candidate that mixes a failure with
   unrelated examples, or cuts a failure's neighbourhood in half, loses on one or the
   other.
2. Candidates are taken best first, skipping one whose members do no worse than the data
   on average (no failure at all), one that shares at least ``bridge`` of its members with
   each of two taken candidates (it straddles two failures already reported apart), and,
   for now, one that is a near-duplicate of a candidate already taken (intersection over
   union above ``max_overlap``).
3. Slots left once the distinct candidates run out go to those near-duplicates, best first:
   another cut of a failure already reported, often a purer one (a mixture component inside
   an error cluster that also holds a neighbouring failure's edge). Each says which result
   it is an alternative to.

Measured (``benchmarks/README.md``): on SpotCheck and on the discovery suite the best of
the methods here, above both its sources and the Spotlight.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, SIZE, Interval, validate_params
from ..engine.optimize import ProgressFn
from .baselines import _data, _report, gmm_slices
from .error_clusters import _damp, clusters_and_neighbours
from .result import Slice, SliceLike

STAGES = 6
"""Progress stages: the error clusters' four, then "mixture" and "ranking"."""


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "n": N_RESULTS,
        "size": SIZE,
        "seed": SEED,
        "progress": PROGRESS,
        "cancel": CANCEL,
        "max_overlap": [Interval(Real, 0, 1, closed="both")],
        "bridge": [Interval(Real, 0, 1, closed="right")],
        "cluster_options": [None, dict],
        "gmm_options": [None, dict],
    }
)
def pooled_slices(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 5,
    size: float | int = 0.02,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: Any = None,
    max_overlap: float = 0.5,
    bridge: float = 0.1,
    cluster_options: dict[str, Any] | None = None,
    gmm_options: dict[str, Any] | None = None,
) -> list[Slice]:
    """The ``n`` best of a pool of error clusters and Gaussian-mixture components, worst first.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        Final-layer embeddings.
    losses : array-like, (N,)
        Per-example losses (signed values, e.g. two models' difference, are shifted to
        start at 0 before damping, as ``error_clusters`` does).
    n : int
        Most results returned (each source is asked for ``n``); fewer when the pool holds
        fewer candidates that do worse than the data on average.
    size : float or int
        S, a fraction of the data or a count: the scale of both sources (the clusters'
        smallest size and cut size, the mixture's number of components).
    seed : int
        Seeds both sources.
    progress, cancel
        As for every finder (``find_slices``).
    max_overlap : float
        A candidate whose intersection over union with one already taken exceeds this is
        a near-duplicate: returned only in slots no distinct candidate fills.
    bridge : float
        A candidate sharing at least this share of its members with each of two taken
        candidates is skipped.
    cluster_options, gmm_options : dict, optional
        Keyword arguments for ``error_clusters`` (``k``, ``z``, ...) and ``gmm_slices``
        (``k``, ``dim``, ...). The coherence uses the error clusters' neighbours.

    Raises
    ------
    ValueError
        When all losses are equal (nothing can stand out), as the Spotlight does.

    Returns
    -------
    list of Slice
        Method "pooled", each with its source's weights (hard clusters, soft mixture
        components: members are the ``top_indices``), ``score`` its effect x
        sqrt(members x coherence), and ``info`` with ``source`` ("error-clusters" or "gmm"),
        ``effect``, ``coherence``, ``alternative_to`` (None for a distinct region; for a
        near-duplicate, the rank of the result it overlaps most) and the source's own
        details. Distinct regions come first, worst first; then alternatives, worst first.

    Examples
    --------
    >>> found = pooled_slices(embeddings, losses, n=5, size=0.02)   # doctest: +SKIP
    >>> [f.info["source"] for f in found]                           # doctest: +SKIP
    """
    x, loss = _data(embeddings, losses)
    damped = _damp(loss)
    mean, spread = float(damped.mean()), float(damped.std())
    # Constant losses leave only rounding noise in the spread. Said as the Spotlight says
    # it: as the explorer's first method, this is the message a user sees.
    if not spread > 1e-9 * max(1.0, abs(mean)):
        raise ValueError("all losses are equal: no region of the data does worse than another")
    clusters, near = clusters_and_neighbours(
        x, loss, n=n, size=size, seed=seed, progress=progress, cancel=cancel, stages=STAGES, **(cluster_options or {})
    )
    _report(progress, cancel, 4, STAGES, "mixture")
    components = gmm_slices(x, loss, n=n, size=size, seed=seed, cancel=cancel, **(gmm_options or {}))
    _report(progress, cancel, 5, STAGES, "ranking")
    pool = []
    for candidate in [*clusters, *components]:
        members = np.asarray(candidate.top_indices, dtype=np.int64)
        effect = float(damped[members].mean() - mean) / spread
        coherence = _coherence(members, near.indices)
        pool.append((effect * np.sqrt(members.size * coherence), effect, coherence, members, candidate))
    pool.sort(key=lambda p: -p[0])
    chosen: list[tuple[float, float, float, np.ndarray, SliceLike]] = []
    alternatives = []
    for entry in pool:
        if len(chosen) == n:
            break
        if entry[1] <= 0:
            continue
        iou, shared = _overlaps(entry[3], [c[3] for c in chosen])
        if np.count_nonzero(shared >= bridge) >= 2:
            continue
        if iou.size and iou.max() > max_overlap:
            alternatives.append(entry)
        else:
            chosen.append(entry)
    distinct = len(chosen)
    alternative_to: list[int | None] = [None] * distinct
    for entry in alternatives:
        if len(chosen) == n:
            break
        iou = _overlaps(entry[3], [c[3] for c in chosen])[0]
        if iou.max() < 1:
            chosen.append(entry)
            alternative_to.append(int(np.argmax(iou[:distinct])))
    return [
        Slice(
            "pooled",
            candidate.weights,
            loss,
            rank=rank,
            score=score,
            info={
                **candidate.info,
                "source": candidate.method,
                "effect": effect,
                "coherence": coherence,
                "alternative_to": alternative_to[rank],
            },
        )
        for rank, (score, effect, coherence, _, candidate) in enumerate(chosen)
    ]


def _coherence(members: np.ndarray, neighbours: np.ndarray) -> float:
    """Share of the members' nearest neighbours that are members too."""
    inside = np.zeros(neighbours.shape[0], dtype=bool)
    inside[members] = True
    return float(inside[neighbours[members]].mean())


def _overlaps(members: np.ndarray, taken: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Intersection over union with each taken candidate, and the share of ``members`` in it."""
    common = np.array([np.intersect1d(members, other, assume_unique=True).size for other in taken], dtype=np.float64)
    sizes = np.array([other.size for other in taken], dtype=np.float64)
    return common / (members.size + sizes - common), common / members.size
