"""spotlight-widget: find where a model fails systematically, and look at it."""

from .collect import Collected, collect
from .describe import caption, describe, label_summary, token_summary
from .engine import (
    SearchCancelled,
    SearchHistory,
    SearchProgress,
    Spotlight,
    find_spotlight,
    find_spotlights,
)
from .infembed import InfluenceEmbeddings, infembed, infembed_rule, influence_embeddings, slice_opponents
from .shared_interest import behaviour_patterns, integrated_gradients, shared_interest, vanilla_gradients
from .slices import Slice, SliceLike, find_slices, gmm_slices, highest_loss, kmeans_slices

__version__ = "0.1.0"


def __getattr__(name: str):
    # The explorer pulls in anywidget and the front-end bundle; the engine needs neither.
    if name == "SpotlightExplorer":
        from .explorer import SpotlightExplorer

        return SpotlightExplorer
    raise AttributeError(f"module 'spotlight_widget' has no attribute {name!r}")


__all__ = [
    "Collected",
    "InfluenceEmbeddings",
    "SearchCancelled",
    "SearchHistory",
    "SearchProgress",
    "Slice",
    "SliceLike",
    "Spotlight",
    "SpotlightExplorer",
    "__version__",
    "behaviour_patterns",
    "caption",
    "collect",
    "describe",
    "find_slices",
    "find_spotlight",
    "find_spotlights",
    "gmm_slices",
    "highest_loss",
    "infembed",
    "infembed_rule",
    "influence_embeddings",
    "integrated_gradients",
    "kmeans_slices",
    "label_summary",
    "shared_interest",
    "slice_opponents",
    "token_summary",
    "vanilla_gradients",
]
