"""One result type for every slice finder, and the baselines the Spotlight is compared with.

A *slice* is a weighted set of examples a method flags as a place where the model fails:
0/1 weights for hard slices (highest-loss examples, K-means clusters, InfEmbed), membership
probabilities for soft ones (Gaussian-mixture responsibilities). PlaneSpot and the
Domino-style mixture also use the model's true labels and predicted probabilities, which
``find_slices`` accepts as ``labels=`` and ``probs=``. The engine's ``Spotlight``
(kernel weights) satisfies the same ``SliceLike`` protocol, so the explorer, the summaries
and the exports treat every method alike.
"""

from .baselines import gmm_slices, highest_loss, kmeans_slices
from .domino import domino_slices
from .error_clusters import error_clusters
from .planespot import planespot_slices
from .pooled import pooled_slices
from .predictions import check_predictions, true_class_probability
from .registry import EXTRA_INPUTS, SliceFinder, available_methods, find_slices, register_method
from .result import Slice, SliceLike

__all__ = [
    "EXTRA_INPUTS",
    "Slice",
    "SliceFinder",
    "SliceLike",
    "available_methods",
    "check_predictions",
    "domino_slices",
    "error_clusters",
    "find_slices",
    "gmm_slices",
    "highest_loss",
    "kmeans_slices",
    "planespot_slices",
    "pooled_slices",
    "register_method",
    "true_class_probability",
]
