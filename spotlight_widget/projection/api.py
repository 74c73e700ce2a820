"""``project``: one entry point for every 2-D map of the embeddings."""

from __future__ import annotations

from numbers import Integral
from typing import Any, Literal

import numpy as np

from .._params import CANCEL, PROGRESS, SEED, Interval, Options, check, validate_params
from ..engine.optimize import ProgressFn
from .pca import pca
from .scvis import scvis
from .umap import umap

Method = Literal["auto", "pca", "scvis", "umap"]
METHODS: tuple[str, ...] = ("auto", "pca", "scvis", "umap")

PCA_FIT_ROWS = 100_000
"""Rows ``project(..., "pca")`` fits the axes on; the others are projected."""
AUTO_SCVIS_MAX_ROWS = 2_000_000
"""Largest N for which ``method="auto"`` draws scvis; PCA above (see :func:`project`)."""
SCVIS_FIT_ROWS = 50_000
"""Rows ``project(..., "scvis")`` trains on by default; the others are encoded."""
SCVIS_ITERATIONS = 1000
"""Optimiser steps of ``project(..., "scvis")`` by default."""
SCVIS_THREADS = 1
"""CPU threads of ``project(..., "scvis")`` by default (see :func:`project`)."""


def auto_method(n_rows: int) -> str:
    """The method ``project(embeddings, "auto")`` uses for ``n_rows`` rows: "scvis" or "pca"."""
    n_rows = check(n_rows, "n_rows", [Interval(Integral, 1, None, closed="left")], caller="auto_method")
    return "scvis" if n_rows <= AUTO_SCVIS_MAX_ROWS else "pca"


@validate_params(
    {
        "embeddings": ["array-like"],
        "method": [Options(METHODS)],
        "seed": SEED,
        "progress": PROGRESS,
        "cancel": CANCEL,
    }
)
def project(
    embeddings: Any,
    method: Method = "auto",
    *,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: Any = None,
    **options: Any,
) -> np.ndarray:
    """Map ``embeddings`` to 2-D.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The data to map.
    method : {"auto", "pca", "scvis", "umap"}
        "pca": the first two principal axes (:func:`pca`), fitted on a random sample of
        100,000 rows (all of them when N is smaller); deterministic for a seed, seconds
        at N = 1M. "scvis": a VAE with a t-SNE cost (:func:`scvis`), trained for 1,000
        steps on one CPU thread on a random sample of 50,000 rows, then every row
        encoded; keeps clusters apart as t-SNE does. "umap": umap-learn fitted on a
        sample of 20,000 rows, the others placed by ``transform`` (:func:`umap`; needs
        ``pip install 'spotlight-widget[umap]'``). "auto" (the default): scvis up to
        2,000,000 rows, PCA above; :func:`auto_method` says which.
    seed : int
        Seeds the samples and the training of scvis and UMAP.
    progress : callable, optional
        Receives ``spotlight_widget.SearchProgress``; ``stage`` names the method
        ("pca", "scvis", "umap").
    cancel : threading.Event or callable, optional
        Checked while the map is computed; raises
        ``spotlight_widget.engine.SearchCancelled`` when set.
    **options
        Passed to the method, overriding the defaults above: :func:`scvis`
        (``iterations``, ``fit_rows``, ``threads``, ``batch_size``, ``perplexity``,
        ``learning_rate``, ``device``) or :func:`umap` (``fit_rows``, ``n_neighbors``,
        ``min_dist``). "pca" and "auto" take none (name the method to tune it).

    Returns
    -------
    numpy.ndarray
        (N, 2) float32.

    Raises
    ------
    ImportError
        For "umap" when umap-learn is not installed.

    Notes
    -----
    Why "auto" is scvis, measured by ``benchmarks/bench_projection.py`` on the
    project's shared 2-core CPU at N = 10k, 100k and 1M (figures in
    ``benchmarks/README.md``):

    - Quality (trustworthiness at k = 10). On real 384-d sentence embeddings PCA
      scores 0.79-0.80 and scvis 0.96; on clustered 64-d data (``planted_clusters``)
      PCA 0.71-0.72 at every N, scvis 0.98-0.99, UMAP 0.98-0.99. On the MNIST demo's
      32-d embeddings, which lie close to a plane, PCA is already at 0.99 and scvis
      matches it: scvis was never below PCA. 300 steps instead of 1,000 take a third
      of the time and lose about 0.02.
    - Time. Training on a sample is fixed work, about 20 ms a step on one thread
      whatever N; encoding adds ~2 s per million 64-d rows: 21-22 s at N = 1M, well
      inside the explorer's 60 s for the map. On two threads the same training was
      no faster on the shared CPU and sometimes 5-20x slower, hence one thread.
    - UMAP is as faithful but opt-in: umap-learn compiles its kernels on first use in
      a process (47-73 s here) and its ``transform`` placed 2,000-5,000 rows a
      second, minutes at N = 1M.
    - Above 2M rows, beyond what was measured, "auto" takes PCA (under a second per
      million rows), whose cost is the most predictable.
    """
    if method in ("auto", "pca") and options:
        raise TypeError(f"project: method {method!r} takes no options; got {sorted(options)}")
    if method == "auto":
        n_rows = _n_rows(embeddings)
        # No rows: any method reports the empty input the same way.
        method = auto_method(n_rows) if n_rows else "pca"
    if method == "pca":
        return pca(embeddings, fit_rows=PCA_FIT_ROWS, seed=seed, progress=progress, cancel=cancel)
    if method == "scvis":
        options = {"fit_rows": SCVIS_FIT_ROWS, "iterations": SCVIS_ITERATIONS, "threads": SCVIS_THREADS, **options}
        return scvis(embeddings, seed=seed, progress=progress, cancel=cancel, **options)
    return umap(embeddings, seed=seed, progress=progress, cancel=cancel, **options)


def _n_rows(embeddings: Any) -> int:
    """Row count without converting the data (the chosen method converts and checks it)."""
    shape = getattr(embeddings, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else 0
    return len(embeddings)
