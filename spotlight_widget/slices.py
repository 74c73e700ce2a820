"""One result type for every slice finder, and the baselines the Spotlight is compared with.

A *slice* is a weighted set of examples a method flags as a place where the model fails:
0/1 weights for hard slices (highest-loss examples, K-means clusters, InfEmbed), membership
probabilities for soft ones (Gaussian-mixture responsibilities). The engine's ``Spotlight``
(kernel weights) satisfies the same ``SliceLike`` protocol, so the explorer, the summaries
and the exports treat every method alike.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ._inputs import as_matrix, as_vector, resolve_size
from .engine.optimize import ProgressFn, SearchCancelled, SearchProgress
from .engine.search import find_spotlights

__all__ = [
    "Slice",
    "SliceFinder",
    "SliceLike",
    "available_methods",
    "find_slices",
    "gmm_slices",
    "highest_loss",
    "kmeans_slices",
    "register_method",
]


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
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a non-empty str; got {self.method!r}")
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
        if isinstance(self.rank, bool) or not isinstance(self.rank, (int, np.integer)) or self.rank < 0:
            raise ValueError(f"rank must be a non-negative int; got {self.rank!r}")
        object.__setattr__(self, "rank", int(self.rank))
        try:
            score = float(self.score)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"score must be a real number; got {self.score!r}") from exc
        object.__setattr__(self, "score", score)
        if not isinstance(self.info, Mapping):
            raise TypeError(f"info must be a mapping; got {type(self.info).__name__}")
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
        """The members as a DataFrame (index, weight, loss), highest weight first."""
        import pandas as pd

        frame = pd.DataFrame({"index": self._indices, "weight": self.weights[self._indices]})
        if self.losses is not None:
            frame["loss"] = self.losses[self._indices]
        return frame

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


SliceFinder = Callable[..., Sequence[SliceLike]]
"""A slice finder: ``finder(embeddings, losses, *, n, size, seed, progress, **options)``."""

_METHODS: dict[str, SliceFinder] = {}
# Packages of the project that register further methods when imported.
_PLUGINS = ("spotlight_widget.infembed",)
_plugins_loaded = False


def register_method(name: str, finder: SliceFinder, *, replace: bool = False) -> None:
    """Make ``find_slices(name, ...)`` call ``finder``.

    Parameters
    ----------
    name : str
        The method's name, e.g. "infembed".
    finder : callable
        Called as ``finder(embeddings, losses, *, n, size, seed, progress, **options)``;
        returns a list of ``SliceLike`` ordered worst first (rank 0, 1, ...).
    replace : bool
        Allow replacing a method already registered under ``name``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r}")
    if not callable(finder):
        raise TypeError(f"finder must be callable; got {type(finder).__name__}")
    if name in _METHODS and not replace and _METHODS[name] is not finder:
        raise ValueError(f"a slice finder named {name!r} is already registered; pass replace=True to replace it")
    _METHODS[name] = finder


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in _PLUGINS:
        if importlib.util.find_spec(module) is None:
            continue
        try:
            importlib.import_module(module)
        except ImportError as exc:
            # A plugin whose own dependencies are missing must not take the built-in methods down.
            warnings.warn(f"slice methods of {module} are unavailable: {exc}", RuntimeWarning, stacklevel=3)


def available_methods() -> list[str]:
    """Names ``find_slices`` accepts, sorted."""
    _load_plugins()
    return sorted(_METHODS)


def _losses(losses: Any, length: int | None = None) -> np.ndarray:
    return as_vector(losses, "losses", length=length, dtype=torch.float64).numpy()


def _data(embeddings: Any, losses: Any) -> tuple[np.ndarray, np.ndarray]:
    x = as_matrix(embeddings, "embeddings", dtype=torch.float32).numpy()
    if x.shape[0] < 2:
        raise ValueError(f"slices need at least 2 examples; got {x.shape[0]}")
    return x, _losses(losses, length=x.shape[0])


def _count(value: Any, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}; got {value}")
    return int(value)


def highest_loss(losses: Any, size: float | int = 0.02) -> Slice:
    """The S examples with the highest losses: the paper's first baseline.

    Parameters
    ----------
    losses : array-like, (N,)
        Per-example losses.
    size : float or int
        A fraction in (0, 1) of the data or a number of examples (S), as in
        ``find_spotlight``.

    Returns
    -------
    Slice
        Method "highest-loss", 0/1 weights; ``score`` is the members' mean loss. Equal
        losses at the boundary are broken by lower index.
    """
    loss = _losses(losses)
    s = int(resolve_size(size, float(loss.shape[0]), loss.shape[0]))
    top = np.argsort(-loss, kind="stable")[:s]
    weights = np.zeros(loss.shape[0])
    weights[top] = 1.0
    return Slice("highest-loss", weights, loss, rank=0, score=float(loss[top].mean()))


def _n_clusters(k: int | None, size: float | int | None, n_rows: int) -> int:
    if k is not None:
        return _count(k, "k", low=2, high=n_rows)
    s = resolve_size(0.02 if size is None else size, float(n_rows), n_rows)
    # Clusters of about the requested size on average (the paper's Appendix B choice).
    return int(min(n_rows, max(2, round(n_rows / s))))


def _report(progress: ProgressFn | None, cancel: Any, step: int, total: int, stage: str) -> None:
    if cancel is not None and (cancel.is_set() if hasattr(cancel, "is_set") else cancel()):
        raise SearchCancelled(f"{stage} cancelled")
    if progress is not None:
        progress(SearchProgress(step=step, total=total, objective=float("nan"), stage=stage))


def _reduce(x: np.ndarray, dim: int | None, seed: int) -> np.ndarray:
    if dim is None or dim >= min(x.shape):
        return x
    from sklearn.decomposition import PCA

    return PCA(n_components=_count(dim, "dim", low=1), svd_solver="randomized", random_state=seed).fit_transform(x)


def _rank(mass: np.ndarray, loss_sum: np.ndarray, n: int, min_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` clusters with the highest mean loss (ties: larger, then lower id), and every mean."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = loss_sum / mass
    keep = np.flatnonzero((mass > 0) & (mass >= min_size))
    return keep[np.lexsort((keep, -mass[keep], -mean[keep]))][:n], mean


def kmeans_slices(
    embeddings: Any,
    losses: Any,
    *,
    k: int | None = None,
    size: float | int | None = None,
    n: int = 3,
    seed: int = 0,
    dim: int | None = 32,
    min_size: float | int = 0,
    n_init: int = 1,
    max_iter: int = 100,
    threads: int | None = 1,
    progress: ProgressFn | None = None,
    cancel: Any = None,
) -> list[Slice]:
    """K-means clusters of the embeddings, ranked by mean loss (hard slices).

    Clustering ignores the losses; they only rank the clusters (the paper's Appendix B
    baseline, with K-means in place of the mixture).

    Parameters
    ----------
    embeddings : array-like, (N, d)
        Final-layer embeddings.
    losses : array-like, (N,)
        Per-example losses.
    k : int, optional
        Number of clusters. Default: about N / S, so a typical cluster has the size
        asked for.
    size : float or int, optional
        S as a fraction or a count (default 2 %); only sets K when ``k`` is None.
    n : int
        Number of clusters returned, highest mean loss first.
    seed : int
        Seeds k-means++ and the projection.
    dim : int or None
        Cluster a PCA projection on this many dimensions (default 32; None: the
        embeddings themselves). On 100k x 512 planted data the projection made the fit
        4x faster and found the same cluster.
    min_size : float or int
        Skip clusters with fewer members (a one-example cluster of one outlier has the
        highest mean loss but says nothing systematic).
    n_init, max_iter : int
        Passed to ``sklearn.cluster.KMeans``.
    threads : int or None
        CPU threads for scikit-learn (None: its default, all cores).
    progress : callable, optional
        Receives ``SearchProgress`` at each stage ("reduce", "fit", "rank").
    cancel : threading.Event or callable, optional
        Checked between stages; raises ``SearchCancelled`` when set.

    Returns
    -------
    list of Slice
        Method "kmeans", ``score`` the cluster's mean loss, ``info`` with "cluster" and "k".
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x, loss = _data(embeddings, losses)
    n = _count(n, "n", low=1)
    n_clusters = _n_clusters(k, size, x.shape[0])
    with threadpool_limits(limits=threads):
        _report(progress, cancel, 0, 3, "reduce")
        z = _reduce(x, dim, seed)
        _report(progress, cancel, 1, 3, "fit")
        model = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=seed).fit(z)
    _report(progress, cancel, 2, 3, "rank")
    labels = model.labels_
    mass = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    order, mean = _rank(mass, np.bincount(labels, weights=loss, minlength=n_clusters), n, min_size)
    info = {"k": n_clusters, "dim": z.shape[1]}
    found = [
        Slice("kmeans", labels == c, loss, rank=r, score=float(mean[c]), info={**info, "cluster": int(c)})
        for r, c in enumerate(order)
    ]
    _report(progress, None, 3, 3, "rank")
    return found


def gmm_slices(
    embeddings: Any,
    losses: Any,
    *,
    k: int | None = None,
    size: float | int | None = None,
    n: int = 3,
    seed: int = 0,
    dim: int | None = 32,
    covariance_type: str = "diag",
    min_weight: float = 1e-3,
    min_size: float | int = 0,
    max_iter: int = 100,
    threads: int | None = 1,
    progress: ProgressFn | None = None,
    cancel: Any = None,
) -> list[Slice]:
    """Gaussian-mixture components of the embeddings, ranked by mean loss (soft slices).

    The paper's Appendix B baseline: fit a mixture to the representation space, ignoring
    the losses, and rank its components by their average loss.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        Final-layer embeddings.
    losses : array-like, (N,)
        Per-example losses.
    k : int, optional
        Number of components. Default: about N / S, so a typical component has the size
        asked for (the paper fit 20-50 components for spotlights of 2-5 %).
    size : float or int, optional
        S as a fraction or a count (default 2 %); only sets K when ``k`` is None.
    n : int
        Number of components returned, highest mean loss first.
    seed : int
        Seeds the projection and the mixture's initialisation.
    dim : int or None
        Fit the mixture on a PCA projection on this many dimensions (default 32; None:
        on the embeddings themselves). A full covariance in 512 dimensions has 131k
        parameters per component, far more than a component of a few hundred examples
        can estimate, and costs O(N K d^2) per iteration; final-layer representations
        keep most of their variance in a few dozen directions.
    covariance_type : {"diag", "full", "spherical", "tied"}
        Passed to ``sklearn.mixture.GaussianMixture``. "diag" (default) on the PCA axes:
        on planted 5000 x 512 data it recovered the planted group as well as or better
        than "full" (mean F1 0.32 vs 0.30 and 0.87 vs 0.85 at two separations) in a
        fifth of the time; "full" overfits components of ~100 examples.
    min_weight : float
        Responsibilities below this are set to 0, so a component's members are the
        examples it plausibly explains rather than every example with a vanishing
        probability.
    min_size : float or int
        Skip components whose total responsibility is below this.
    max_iter : int
        EM iterations at most.
    threads : int or None
        CPU threads for scikit-learn (None: its default, all cores).
    progress : callable, optional
        Receives ``SearchProgress`` at each stage ("reduce", "fit", "rank").
    cancel : threading.Event or callable, optional
        Checked between stages; raises ``SearchCancelled`` when set.

    Returns
    -------
    list of Slice
        Method "gmm", weights the responsibilities, ``score`` the responsibility-weighted
        mean loss, ``info`` with "cluster", "k", "dim" and "covariance_type".
    """
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    x, loss = _data(embeddings, losses)
    n = _count(n, "n", low=1)
    n_clusters = _n_clusters(k, size, x.shape[0])
    if covariance_type not in ("full", "diag", "spherical", "tied"):
        raise ValueError(f"covariance_type must be 'full', 'diag', 'spherical' or 'tied'; got {covariance_type!r}")
    if not 0 <= min_weight < 1:
        raise ValueError(f"min_weight must be in [0, 1); got {min_weight}")
    with threadpool_limits(limits=threads):
        _report(progress, cancel, 0, 3, "reduce")
        z = _reduce(x, dim, seed).astype(np.float64)
        _report(progress, cancel, 1, 3, "fit")
        model = GaussianMixture(
            n_components=n_clusters, covariance_type=covariance_type, max_iter=max_iter, random_state=seed
        ).fit(z)
        _report(progress, cancel, 2, 3, "rank")
        mass = np.zeros(n_clusters)
        loss_sum = np.zeros(n_clusters)
        for rows, resp in _responsibilities(model, z, min_weight):
            mass += resp.sum(0)
            loss_sum += loss[rows] @ resp
        order, mean = _rank(mass, loss_sum, n, min_size)
        # A second pass keeps only the chosen columns: all N x K responsibilities at once
        # would take 800 MB at N = 100k and K = 1000.
        weights = np.concatenate([resp[:, order] for _, resp in _responsibilities(model, z, min_weight)])
    info = {"k": n_clusters, "dim": z.shape[1], "covariance_type": covariance_type, "converged": model.converged_}
    found = [
        Slice("gmm", weights[:, r], loss, rank=r, score=float(mean[c]), info={**info, "cluster": int(c)})
        for r, c in enumerate(order)
    ]
    _report(progress, None, 3, 3, "rank")
    return found


def _responsibilities(model: Any, z: np.ndarray, min_weight: float, chunk_rows: int = 8192):
    """(rows, responsibilities) in row blocks, those below ``min_weight`` set to 0."""
    for a in range(0, z.shape[0], chunk_rows):
        resp = model.predict_proba(z[a : a + chunk_rows])
        resp[resp < min_weight] = 0.0
        np.clip(resp, 0.0, 1.0, out=resp)
        yield slice(a, a + chunk_rows), resp


def _spotlight_finder(embeddings: Any, losses: Any, *, n: int, size: Any, seed: int, progress: Any, **options: Any):
    return find_spotlights(embeddings, losses, n=n, size=size, seed=seed, progress=progress, **options)


def _highest_loss_finder(embeddings: Any, losses: Any, *, n: int, size: Any, seed: int, progress: Any, **options: Any):
    if options:
        raise TypeError(f"highest-loss takes no options; got {sorted(options)}")
    if embeddings is not None:
        _data(embeddings, losses)
    return [highest_loss(losses, size)]


def _cluster_finder(fit: Callable[..., list[Slice]]) -> SliceFinder:
    def finder(embeddings: Any, losses: Any, *, n: int, size: Any, seed: int, progress: Any, **options: Any):
        return fit(embeddings, losses, n=n, size=size, seed=seed, progress=progress, **options)

    return finder


register_method("spotlight", _spotlight_finder)
register_method("highest-loss", _highest_loss_finder)
register_method("kmeans", _cluster_finder(kmeans_slices))
register_method("gmm", _cluster_finder(gmm_slices))


def find_slices(
    method: str,
    embeddings: Any,
    losses: Any,
    *,
    n: int = 3,
    size: float | int = 0.02,
    seed: int = 0,
    progress: ProgressFn | None = None,
    **options: Any,
) -> list[SliceLike]:
    """Find slices with any registered method: one entry point for the explorer and benchmarks.

    Parameters
    ----------
    method : str
        "spotlight" (``find_spotlights``), "highest-loss" (``highest_loss``), "kmeans"
        (``kmeans_slices``), "gmm" (``gmm_slices``), or a name added with
        ``register_method``; ``available_methods()`` lists them.
    embeddings : array-like, (N, d)
        Final-layer embeddings (may be None for "highest-loss").
    losses : array-like, (N,)
        Per-example losses.
    n : int
        Number of slices wanted, worst first. "highest-loss" always gives one; the
        clustering methods give fewer when fewer clusters qualify.
    size : float or int
        S, a fraction in (0, 1) or a number of examples, as in ``find_spotlight``; the
        clustering methods aim for clusters of about this size.
    seed : int
        Seed of the method's randomness.
    progress : callable, optional
        Receives ``SearchProgress`` updates.
    **options
        Passed to the method (e.g. ``preset=`` for "spotlight", ``k=`` or ``dim=`` for
        the clustering methods).

    Returns
    -------
    list of SliceLike
        ``Spotlight`` objects for "spotlight", ``Slice`` objects for the others; rank 0
        first.
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a str; got {type(method).__name__}")
    _load_plugins()
    if method not in _METHODS:
        raise ValueError(f"unknown slice method {method!r}; available: {', '.join(available_methods())}")
    n = _count(n, "n", low=1)
    if isinstance(size, (str, bytes, Sequence, np.ndarray, torch.Tensor)):
        raise TypeError(
            f"size must be a single fraction or count; got {size!r} (find_spotlight searches several sizes)"
        )
    found = list(_METHODS[method](embeddings, losses, n=n, size=size, seed=seed, progress=progress, **options))
    wrong = [type(s).__name__ for s in found if not isinstance(s, SliceLike)]
    if wrong:
        raise TypeError(f"slice method {method!r} returned objects that are not slices: {wrong}")
    return found
