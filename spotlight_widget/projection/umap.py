"""UMAP (McInnes, Healy & Melville, 2018) through umap-learn, fitted on a sample and extended to every row.

umap-learn is an optional dependency: ``pip install 'spotlight-widget[umap]'``.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix
from .._params import CANCEL, PROGRESS, SEED, Interval, validate_params
from ..engine.optimize import ProgressFn
from ._common import check_cancel, report, sample_rows

INSTALL_HINT = "pip install 'spotlight-widget[umap]'"
_TRANSFORM_ROWS = 50_000


def _umap_class() -> type:
    try:
        from umap import UMAP
    except ImportError as exc:
        raise ImportError(f"the 'umap' projection needs umap-learn: {INSTALL_HINT} (or umap-learn>=0.5)") from exc
    return UMAP


@validate_params(
    {
        "embeddings": ["array-like"],
        "seed": SEED,
        "fit_rows": [None, Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 2, None, closed="left")],
        "min_dist": [Interval(Real, 0, None, closed="left")],
        "progress": PROGRESS,
        "cancel": CANCEL,
    }
)
def umap(
    embeddings: Any,
    *,
    seed: int = 0,
    fit_rows: int | None = 20_000,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    progress: ProgressFn | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """Fit UMAP on a sample of ``embeddings`` and place every other row with ``UMAP.transform``.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The data to map (N > ``n_neighbors``).
    seed : int
        umap-learn's ``random_state`` (which also makes it single-threaded) and the
        choice of the sample: the same seed gives the same map.
    fit_rows : int or None
        Rows the model is fitted on (20,000 by default); the others are placed among
        them by ``transform``, in blocks of 50,000. None fits on every row, which costs
        far more at large N (umap-learn's fit is super-linear in N and single-threaded
        when seeded).
    n_neighbors, min_dist : int, float
        umap-learn's parameters of the same names (its defaults).
    progress : callable, optional
        Receives ``SearchProgress`` with stage "umap": step 1 after the fit, then one
        step per transformed block.
    cancel : threading.Event or callable, optional
        Checked before the fit and between transformed blocks (umap-learn's fit itself
        cannot be interrupted); raises ``spotlight_widget.engine.SearchCancelled``.

    Returns
    -------
    numpy.ndarray
        (N, 2) float32 coordinates.

    Raises
    ------
    ImportError
        When umap-learn is not installed.
    """
    cls = _umap_class()
    x = as_matrix(embeddings, "embeddings", dtype=torch.float32).numpy()
    n_rows = x.shape[0]
    if n_rows <= n_neighbors:
        raise ValueError(f"umap: embeddings must have more rows than n_neighbors ({n_neighbors}); got {n_rows}")
    if fit_rows is not None and fit_rows <= n_neighbors:
        raise ValueError(f"umap: fit_rows must be above n_neighbors ({n_neighbors}); got {fit_rows}")
    fit = sample_rows(n_rows, fit_rows, seed)
    rest = None if fit is None else np.setdiff1d(np.arange(n_rows), fit.numpy(), assume_unique=True)
    blocks = 0 if rest is None else math.ceil(len(rest) / _TRANSFORM_ROWS)
    check_cancel(cancel, "umap")
    model = cls(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, n_jobs=1)
    out = np.empty((n_rows, 2), dtype=np.float32)
    with warnings.catch_warnings():
        # umap-learn warns that a seed disables its parallelism, which is what a reproducible map needs.
        warnings.filterwarnings("ignore", message=".*random_state.*", category=UserWarning)
        if fit is None:
            out[:] = model.fit_transform(x)
        else:
            out[fit.numpy()] = model.fit_transform(x[fit.numpy()])
        report(progress, "umap", 1, 1 + blocks)
        for b in range(blocks):
            check_cancel(cancel, "umap")
            rows = rest[b * _TRANSFORM_ROWS : (b + 1) * _TRANSFORM_ROWS]
            out[rows] = model.transform(x[rows])
            report(progress, "umap", 2 + b, 1 + blocks)
    return out
