"""2-D maps of embeddings, and how faithful they are.

:func:`project` is the entry point ("auto", "pca", "scvis", "umap"); :func:`pca`,
:func:`scvis` (a VAE with a t-SNE cost, the map PlaneSpot clusters) and :func:`umap`
(umap-learn, an optional extra) are the methods. :func:`projection_quality` (and
:func:`trustworthiness`, :func:`knn_preservation`) measure a map against the embeddings.
"""

from .api import (
    AUTO_SCVIS_MAX_ROWS,
    METHODS,
    PCA_FIT_ROWS,
    SCVIS_FIT_ROWS,
    SCVIS_ITERATIONS,
    SCVIS_THREADS,
    auto_method,
    project,
)
from .pca import pca
from .quality import ProjectionQuality, knn_preservation, projection_quality, trustworthiness
from .scvis import default_iterations, scvis
from .umap import umap

__all__ = [
    "AUTO_SCVIS_MAX_ROWS",
    "METHODS",
    "PCA_FIT_ROWS",
    "SCVIS_FIT_ROWS",
    "SCVIS_ITERATIONS",
    "SCVIS_THREADS",
    "ProjectionQuality",
    "auto_method",
    "default_iterations",
    "knn_preservation",
    "pca",
    "project",
    "projection_quality",
    "scvis",
    "trustworthiness",
    "umap",
]
