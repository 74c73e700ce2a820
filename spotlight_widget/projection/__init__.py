"""2-D maps of embeddings: PCA and scvis (a VAE with a t-SNE cost, the map PlaneSpot clusters).

:func:`project` is the entry point; :func:`pca` and :func:`scvis` are the methods.
"""

from .api import METHODS, project
from .pca import pca
from .scvis import default_iterations, scvis

__all__ = ["METHODS", "default_iterations", "pca", "project", "scvis"]
