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


def __getattr__(name: str):
    # The explorer pulls in anywidget and the front-end bundle; the engine needs neither.
    if name == "SpotlightExplorer":
        from .explorer import SpotlightExplorer

        return SpotlightExplorer
    raise AttributeError(f"module 'spotlight_widget' has no attribute {name!r}")


__all__ = [
    "SearchCancelled",
    "SearchHistory",
    "SearchProgress",
    "Spotlight",
    "SpotlightExplorer",
    "__version__",
    "find_spotlight",
    "find_spotlights",
]
