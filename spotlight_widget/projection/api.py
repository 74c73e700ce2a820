"""``project``: one entry point for every 2-D map of the embeddings."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..engine.optimize import ProgressFn
from .pca import pca
from .scvis import scvis

Method = Literal["pca", "scvis"]
METHODS: tuple[str, ...] = ("pca", "scvis")


def project(
    embeddings: Any,
    method: Method = "pca",
    *,
    seed: int = 0,
    progress: ProgressFn | None = None,
    **options: Any,
) -> np.ndarray:
    """Map ``embeddings`` to 2-D.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The data to map.
    method : {"pca", "scvis"}
        "pca": the first two principal axes (deterministic, milliseconds). "scvis": the
        posterior means of a trained scvis model (:func:`scvis`; seconds to minutes,
        keeps clusters apart as t-SNE does).
    seed : int
        Seeds scvis; PCA is deterministic.
    progress : callable, optional
        Receives ``SearchProgress`` while scvis trains.
    **options
        Passed to :func:`scvis` (``iterations``, ``batch_size``, ``perplexity``,
        ``learning_rate``, ``device``, ``threads``, ``cancel``); PCA takes none.

    Returns
    -------
    numpy.ndarray
        (N, 2) float32.
    """
    if method == "pca":
        if options:
            raise TypeError(f"project(method='pca') takes no options; got {sorted(options)}")
        return pca(embeddings, dims=2)
    if method == "scvis":
        return scvis(embeddings, seed=seed, progress=progress, **options)
    raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
