"""PlaneSpot (Plumb et al., TMLR 2023): Gaussian-mixture clusters of a 2-D map plus the model's confidence.

The method, step by step (``shared/notes/spotcheck.md`` section 4): map the embeddings to
2-D with scvis and keep the posterior means; min-max scale each axis to [0, 1]; append
``w * p`` with ``w = 0.025``, where ``p`` is the probability the model gave the true label;
fit a full-covariance Gaussian mixture for every K from ``n`` to 32 and keep the one with
the lowest BIC; assign every example to its most likely component; score a component C by
``|C| * mean(1 - p)^2`` (its total error times its error rate); return the ``n`` best.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix
from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, SIZE, THREADS, Interval, Options, validate_params
from ..engine.optimize import ProgressFn, SearchProgress
from ..projection import pca, scvis
from .baselines import _data, _report
from .predictions import ConfidenceSource, check_predictions, confidence
from .result import Slice

PROJECTIONS = ("scvis", "pca", "tsne")
"""Named maps PlaneSpot accepts: "scvis" (the method's), and the ablations "pca" and "tsne"."""


class _Relay:
    """Passes the projection's progress on with ``extra`` later steps in the total, and keeps its step count."""

    def __init__(self, progress: ProgressFn | None, extra: int) -> None:
        self.progress, self.extra, self.done = progress, extra, 0

    def __call__(self, update: SearchProgress) -> None:
        self.done = update.total
        if self.progress is not None:
            total = update.total + self.extra
            self.progress(SearchProgress(step=update.step, total=total, objective=update.objective, stage=update.stage))


def _project(
    x: np.ndarray,
    projection: Any,
    options: dict[str, Any],
    *,
    seed: int,
    threads: int | None,
    progress: _Relay,
    cancel: Any,
) -> tuple[np.ndarray, str]:
    is_scvis = isinstance(projection, str) and projection == "scvis"
    if options and not is_scvis:
        raise TypeError(f"projection_options only apply to projection='scvis'; got {sorted(options)}")
    if isinstance(projection, str):
        if is_scvis:
            opts = {"threads": threads, **options}
            return scvis(x, seed=seed, progress=progress, cancel=cancel, **opts), projection
        if projection == "pca":
            return pca(x), projection
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads):
            return TSNE(n_components=2, random_state=seed).fit_transform(x).astype(np.float32), projection
    z = as_matrix(projection, "projection", dtype=torch.float64).numpy()
    if z.shape != (x.shape[0], 2):
        raise ValueError(f"a projection array must have shape ({x.shape[0]}, 2); got {z.shape}")
    return z, "given"


def _min_max(z: np.ndarray) -> np.ndarray:
    low = z.min(0)
    span = z.max(0) - low
    # A constant axis carries no information: leave it at 0 instead of dividing by zero.
    return (z - low) / np.where(span > 0, span, 1.0)


_COMPONENTS = [Interval(Integral, 1, None, closed="left")]


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "n": N_RESULTS,
        "size": [None, *SIZE],
        "seed": SEED,
        "progress": PROGRESS,
        "confidence_from": [Options({"auto", "probs", "loss"})],
        "projection": [Options(PROJECTIONS), "array-like"],
        "projection_options": [None, dict],
        "weight": [Interval(Real, 0, None, closed="left")],
        "min_components": _COMPONENTS,
        "max_components": _COMPONENTS,
        "threads": THREADS,
        "cancel": CANCEL,
    }
)
def planespot_slices(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 10,
    size: float | int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    labels: Any = None,
    probs: Any = None,
    confidence_from: ConfidenceSource = "auto",
    projection: Any = "scvis",
    projection_options: dict[str, Any] | None = None,
    weight: float = 0.025,
    min_components: int = 10,
    max_components: int = 32,
    threads: int | None = 1,
    cancel: Any = None,
) -> list[Slice]:
    """PlaneSpot's ``n`` highest-scoring mixture components, as hard slices.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The model's last-layer representation.
    losses : array-like, (N,)
        Per-example losses; stored in the slices, and the source of the confidence when
        ``probs`` is not given.
    n : int
        Slices returned (the reference's ``n_slices``, 10). It does not change the fit, so
        asking for more slices later extends the same ranking.
    size : float or int, optional
        Ignored: the mixture chooses the sizes (accepted for ``find_slices``).
    seed : int
        Seeds scvis (or t-SNE) and the mixtures' k-means initialisation.
    progress : callable, optional
        Receives ``SearchProgress``: stage "project" at the start, "scvis" while the map
        trains, "mixture" once per K, then "rank".
    labels : array-like, (N,), optional
        True class ids.
    probs : array-like, (N, C) or (N,), optional
        Predicted class probabilities; (N,) is P(class 1) of a binary model.
    confidence_from : {"auto", "probs", "loss"}
        Where ``p``, the probability of the true label, comes from. "probs": from
        ``probs`` and ``labels``; binary (N,) ``probs`` without labels are used as given,
        as the reference does (right when every true label is 1, e.g. the positive
        images of SpotCheck). "loss": ``exp(-losses)``, exact for cross-entropy and
        binary cross-entropy losses. "auto" (default): "probs" when ``probs`` is given,
        else "loss".
    projection : {"scvis", "pca", "tsne"} or array-like (N, 2)
        The 2-D map. "scvis" is PlaneSpot's; "pca" and "tsne" (scikit-learn's, at its
        default perplexity 30) are ablations, as is a precomputed map.
    projection_options : dict, optional
        Passed to :func:`spotlight_widget.projection.scvis` (e.g. ``iterations``).
    weight : float
        ``w``, the scale of the confidence column next to the [0, 1]-scaled map.
    min_components, max_components : int
        The range of K tried (10 to 32 in the reference, whose smallest K is its
        ``n_slices``); both are capped at N, and the smallest at the largest.
    threads : int or None
        CPU threads for scvis and scikit-learn (None: their defaults).
    cancel : threading.Event or callable, optional
        Checked between stages and during scvis; raises ``SearchCancelled`` when set.

    Returns
    -------
    list of Slice
        Method "planespot", 0/1 weights, highest ``score`` (``|C| * mean(1 - p)^2``)
        first; ``info`` holds "k" (the K chosen), "component", "error_rate" (mean
        ``1 - p``), "hard_error_rate" (share with ``p < 0.5``), "projection" and "bic".
        Fewer than ``n`` when fewer components received examples.
    """
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    x, loss = _data(embeddings, losses)
    high = min(max_components, x.shape[0])
    if n > high:
        raise ValueError(f"planespot_slices: n={n} exceeds the largest mixture tried (min(max_components, N) = {high})")
    labels, probs = check_predictions(labels, probs, length=x.shape[0])
    p = confidence(loss, labels=labels, probs=probs, source=confidence_from, method="planespot")
    ks = range(min(min_components, high), high + 1)
    relay = _Relay(progress, len(ks) + 1)
    _report(progress, cancel, 0, len(ks) + 1, "project")
    z, name = _project(
        x, projection, dict(projection_options or {}), seed=seed, threads=threads, progress=relay, cancel=cancel
    )
    done = relay.done
    features = np.column_stack([_min_max(z.astype(np.float64)), weight * p])
    best, best_bic = None, np.inf
    with threadpool_limits(limits=threads):
        for i, k in enumerate(ks):
            _report(progress, cancel, done + i, done + len(ks) + 1, "mixture")
            model = GaussianMixture(n_components=k, covariance_type="full", random_state=seed).fit(features)
            bic = model.bic(features)
            if bic < best_bic:
                best, best_bic = model, bic
        component = best.predict(features)
    _report(progress, cancel, done + len(ks), done + len(ks) + 1, "rank")
    k = best.n_components
    count = np.bincount(component, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.bincount(component, weights=1.0 - p, minlength=k) / count
        hard = np.bincount(component, weights=(p < 0.5).astype(np.float64), minlength=k) / count
    score = count * error**2
    used = np.flatnonzero(count > 0)
    order = used[np.lexsort((used, -score[used]))][:n]
    info = {"k": int(k), "projection": name, "bic": float(best_bic)}
    found = [
        Slice(
            "planespot",
            component == c,
            loss,
            rank=r,
            score=float(score[c]),
            info={**info, "component": int(c), "error_rate": float(error[c]), "hard_error_rate": float(hard[c])},
        )
        for r, c in enumerate(order)
    ]
    _report(progress, None, done + len(ks) + 1, done + len(ks) + 1, "rank")
    return found
