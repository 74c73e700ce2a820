"""One result type for every slice finder, and the baselines the Spotlight is compared with.

A *slice* is a weighted set of examples a method flags as a place where the model fails:
0/1 weights for hard slices (highest-loss examples, K-means clusters, InfEmbed), membership
probabilities for soft ones (Gaussian-mixture responsibilities). The engine's ``Spotlight``
(kernel weights) satisfies the same ``SliceLike`` protocol, so the explorer, the summaries
and the exports treat every method alike.
"""

from .baselines import gmm_slices, highest_loss, kmeans_slices
from .registry import SliceFinder, available_methods, find_slices, register_method
from .result import Slice, SliceLike

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
