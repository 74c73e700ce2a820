"""Principal-component projection to 2-D: the fast, deterministic map."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._inputs import as_matrix

_CHUNK_ROWS = 65536


def pca(embeddings: Any, *, dims: int = 2) -> np.ndarray:
    """Project ``embeddings`` on their first ``dims`` principal axes.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The data to map.
    dims : int
        Output dimensions. When d is smaller, the missing columns are zeros, so the
        result always has ``dims`` columns.

    Returns
    -------
    numpy.ndarray
        (N, dims) float32 coordinates, centred. Each axis's sign is fixed so that its
        largest loading is positive: the same data always gives the same map.
    """
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ValueError(f"dims must be a positive int; got {dims!r}")
    x = as_matrix(embeddings, "embeddings", dtype=torch.float64)
    n_rows, d = x.shape
    mean = x.mean(0)
    # The d x d scatter matrix, accumulated in row blocks, keeps memory at O(d^2) for any N.
    scatter = torch.zeros(d, d, dtype=torch.float64)
    for a in range(0, n_rows, _CHUNK_ROWS):
        block = x[a : a + _CHUNK_ROWS] - mean
        scatter += block.T @ block
    _, vectors = torch.linalg.eigh(scatter)
    axes = vectors[:, -min(dims, d) :].flip(1)
    biggest = axes.abs().argmax(0)
    axes = axes * torch.sign(axes[biggest, torch.arange(axes.shape[1])])
    out = np.zeros((n_rows, dims), dtype=np.float32)
    out[:, : axes.shape[1]] = ((x - mean) @ axes).numpy()
    return out
