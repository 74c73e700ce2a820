"""spotlight-widget: find where a model fails systematically, and look at it."""

from .engine import (
    SearchCancelled,
    SearchHistory,
    SearchProgress,
    Spotlight,
    find_spotlight,
    find_spotlights,
)

__version__ = "0.1.0"

__all__ = [
    "SearchCancelled",
    "SearchHistory",
    "SearchProgress",
    "Spotlight",
    "__version__",
    "find_spotlight",
    "find_spotlights",
]
