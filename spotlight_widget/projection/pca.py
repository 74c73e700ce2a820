"""Principal-component projection to 2-D: the fast, deterministic map."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix
from .._params import CANCEL, PROGRESS, SEED, Interval, validate_params
from ..engine.optimize import ProgressFn
from ._common import check_cancel, report, sample_rows

_CHUNK_ROWS = 65536


@validate_params(
    {
        "embeddings": ["array-like"],
        "dims": [Interval(Integral, 1, None, closed="left")],
        "fit_rows": [None, Interval(Integral, 2, None, closed="left")],
        "seed": SEED,
        "progress": PROGRESS,
        "cancel": CANCEL,
    }
)
def pca(
    embeddings: Any,
    *,
    dims: int = 2,
    fit_rows: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """Project ``embeddings`` on their first ``dims`` principal axes.

    The axes are the top eigenvectors of the d x d scatter matrix, accumulated in float64
    blocks: O(n d^2) time for the n rows it is fitted on, O(d^2) memory beyond the data.
    Projecting is O(N d dims).

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The data to map. float64 input is projected in float64; anything else in blocks
        converted from float32, so that no float64 copy of the whole data is made.
    dims : int
        Output dimensions. When d is smaller, the missing columns are zeros, so the
        result always has ``dims`` columns.
    fit_rows : int, optional
        Fit the mean and axes on a random sample of this many rows (drawn with
        ``seed``), then project every row: the top axes of 100,000 rows are those of
        any larger set to within sampling error, and fitting costs O(d^2) per row, which
        dominates for wide embeddings. None (the default): fit on every row, exactly.
    seed : int
        Seeds the sample; unused without ``fit_rows``.
    progress : callable, optional
        Receives ``SearchProgress`` with stage "pca" after each block of 65,536 rows of
        each of the two passes (fit, then projection).
    cancel : threading.Event or callable, optional
        Checked between blocks; raises ``spotlight_widget.engine.SearchCancelled``.

    Returns
    -------
    numpy.ndarray
        (N, dims) float32 coordinates, centred on the fitted mean. Each axis's sign is
        fixed so that its largest loading is positive: the same data (and seed) always
        gives the same map.
    """
    wide = getattr(embeddings, "dtype", None) in (np.float64, torch.float64)
    x = as_matrix(embeddings, "embeddings", dtype=torch.float64 if wide else torch.float32)
    n_rows, d = x.shape
    fit = sample_rows(n_rows, fit_rows, seed)
    train = x if fit is None else x[fit]
    fit_blocks = math.ceil(train.shape[0] / _CHUNK_ROWS)
    total = fit_blocks + math.ceil(n_rows / _CHUNK_ROWS)
    mean = train.mean(0, dtype=torch.float64)
    scatter = torch.zeros(d, d, dtype=torch.float64)
    for i, a in enumerate(range(0, train.shape[0], _CHUNK_ROWS)):
        check_cancel(cancel, "pca")
        block = train[a : a + _CHUNK_ROWS].double() - mean
        scatter += block.T @ block
        report(progress, "pca", i + 1, total)
    _, vectors = torch.linalg.eigh(scatter)
    axes = vectors[:, -min(dims, d) :].flip(1)
    biggest = axes.abs().argmax(0)
    axes = axes * torch.sign(axes[biggest, torch.arange(axes.shape[1])])
    out = np.zeros((n_rows, dims), dtype=np.float32)
    for i, a in enumerate(range(0, n_rows, _CHUNK_ROWS)):
        check_cancel(cancel, "pca")
        out[a : a + _CHUNK_ROWS, : axes.shape[1]] = ((x[a : a + _CHUNK_ROWS].double() - mean) @ axes).numpy()
        report(progress, "pca", fit_blocks + i + 1, total)
    return out
