"""The registry of slice finders and ``find_slices``, the one entry point that calls any of them."""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, SIZE, Options, check, validate_params
from ..engine.optimize import ProgressFn
from ..engine.search import find_spotlights
from .baselines import _losses, gmm_slices, highest_loss, kmeans_slices
from .domino import domino_slices
from .error_clusters import error_clusters
from .planespot import planespot_slices
from .pooled import pooled_slices
from .predictions import check_predictions
from .result import SliceLike

SliceFinder = Callable[..., Sequence[SliceLike]]
"""A slice finder: ``finder(embeddings, losses, *, n, size, seed, progress, cancel, **options)``.

Finders registered with ``inputs`` also receive ``labels=`` and/or ``probs=``."""

EXTRA_INPUTS = ("labels", "probs")
"""Inputs beyond the embeddings and losses a finder may declare with ``register_method(inputs=...)``."""


@dataclass(frozen=True)
class _Method:
    finder: SliceFinder
    inputs: frozenset[str]


_METHODS: dict[str, _Method] = {}
# Packages of the project that register further methods when imported.
_PLUGINS = ("spotlight_widget.infembed",)
_plugins_loaded = False


def _inputs(inputs: Any) -> frozenset[str]:
    if isinstance(inputs, str) or not isinstance(inputs, Iterable):
        raise TypeError(f"inputs must be a tuple of names such as ('labels', 'probs'); got {inputs!r}")
    names = list(inputs)
    unknown = [name for name in names if name not in EXTRA_INPUTS]
    if unknown:
        raise ValueError(f"inputs may only name {', '.join(map(repr, EXTRA_INPUTS))}; got {unknown!r}")
    return frozenset(names)


def register_method(name: str, finder: SliceFinder, *, replace: bool = False, inputs: Iterable[str] = ()) -> None:
    """Make ``find_slices(name, ...)`` call ``finder``.

    Parameters
    ----------
    name : str
        The method's name, e.g. "infembed".
    finder : callable
        Called as ``finder(embeddings, losses, *, n, size, seed, progress, cancel, **options)``;
        returns a list of ``SliceLike`` ordered worst first (rank 0, 1, ...). ``n`` is the
        number of results wanted; ``progress`` (None or a callable) receives
        ``SearchProgress`` updates; ``cancel`` (None, a ``threading.Event``-like object
        or a callable returning bool) is a request to stop, which the finder checks
        between its stages (and within long ones where it can), raising
        ``spotlight_widget.SearchCancelled`` once it is set. Both are always passed.
    replace : bool
        Allow replacing a method already registered under ``name``.
    inputs : iterable of str
        The extra inputs the finder accepts as keyword arguments: "labels", "probs" or
        both. ``find_slices`` checks them and passes each one (possibly None) only to
        finders that declared it, so callers may pass every input to every method; a
        finder that cannot work without one raises ``ValueError`` naming it.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r}")
    if not callable(finder):
        raise TypeError(f"finder must be callable; got {type(finder).__name__}")
    entry = _Method(finder, _inputs(inputs))
    if name in _METHODS and not replace and _METHODS[name] != entry:
        raise ValueError(f"a slice finder named {name!r} is already registered; pass replace=True to replace it")
    _METHODS[name] = entry


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


def _highest_loss_finder(embeddings: Any, losses: Any, *, seed: int, **options: Any):
    # No randomness: the seed is accepted, as by every finder, and has no effect.
    return highest_loss(embeddings, losses, **options)


register_method("spotlight", find_spotlights)
register_method("highest-loss", _highest_loss_finder)
register_method("kmeans", kmeans_slices)
register_method("gmm", gmm_slices)
register_method("error-clusters", error_clusters)
register_method("pooled", pooled_slices)
register_method("planespot", planespot_slices, inputs=("labels", "probs"))
register_method("domino-style", domino_slices, inputs=("labels", "probs"))


@validate_params(
    {
        "method": [str],
        "embeddings": [None, "array-like"],
        "losses": ["array-like"],
        "n": N_RESULTS,
        "size": SIZE,
        "seed": SEED,
        "progress": PROGRESS,
        "cancel": CANCEL,
    }
)
def find_slices(
    method: str,
    embeddings: Any,
    losses: Any,
    *,
    n: int = 3,
    size: float | int = 0.02,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: Any = None,
    labels: Any = None,
    probs: Any = None,
    **options: Any,
) -> list[SliceLike]:
    """Find slices with any registered method: one entry point for the explorer and benchmarks.

    Parameters
    ----------
    method : str
        "spotlight" (``find_spotlights``), "highest-loss" (``highest_loss``), "kmeans"
        (``kmeans_slices``), "gmm" (``gmm_slices``), "planespot" (``planespot_slices``),
        "domino-style" (``domino_slices``), "error-clusters" (``error_clusters``), "pooled"
        (``pooled_slices``), or a
        name added with ``register_method``;
        ``available_methods()`` lists them.
    embeddings : array-like, (N, d)
        Final-layer embeddings (may be None for "highest-loss").
    losses : array-like, (N,)
        Per-example losses.
    n : int
        Number of slices wanted, worst first; the clustering methods give fewer when
        fewer clusters qualify.
    size : float or int
        S, a fraction in (0, 1) or a number of examples, as in ``find_spotlight``; the
        clustering methods aim for clusters of about this size.
    seed : int
        Seed of the method's randomness.
    progress : callable, optional
        Receives ``SearchProgress`` updates.
    cancel : threading.Event or callable, optional
        Passed to every method, which raises ``SearchCancelled`` once it is set.
    labels : array-like, (N,), optional
        True class ids (integers in [0, C)).
    probs : array-like, (N, C) or (N,), optional
        The model's predicted class probabilities; (N,) means P(class 1) of a binary
        model. ``labels`` and ``probs`` are checked here (lengths match the losses, finite,
        probabilities in [0, 1], labels within the classes of ``probs``) and passed only
        to methods registered with them in ``inputs`` ("planespot", "domino-style"); the
        other methods ignore them, so a caller may pass both to every method.
    **options
        Passed to the method (e.g. ``preset=`` for "spotlight", ``k=`` or ``dim=`` for
        the clustering methods).

    Returns
    -------
    list of SliceLike
        ``Spotlight`` objects for "spotlight", ``Slice`` objects for the others; rank 0
        first.
    """
    check(method, "method", [Options(available_methods())], caller="find_slices")
    entry = _METHODS[method]
    if labels is not None or probs is not None:
        labels, probs = check_predictions(labels, probs, length=_losses(losses).shape[0])
    extra = {name: value for name, value in (("labels", labels), ("probs", probs)) if name in entry.inputs}
    found = list(
        entry.finder(
            embeddings, losses, n=n, size=size, seed=seed, progress=progress, cancel=cancel, **extra, **options
        )
    )
    wrong = [type(s).__name__ for s in found if not isinstance(s, SliceLike)]
    if wrong:
        raise TypeError(f"slice method {method!r} returned objects that are not slices: {wrong}")
    return found
