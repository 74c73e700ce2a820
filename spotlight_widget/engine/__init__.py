"""The Spotlight search (d'Eon et al., FAccT 2022): kernel, objective, optimiser, presets."""

from .optimize import SearchCancelled, SearchProgress
from .presets import FAST, PAPER, Preset, get_preset
from .result import SearchHistory, Spotlight
from .search import find_spotlight, find_spotlights

__all__ = [
    "FAST",
    "PAPER",
    "Preset",
    "SearchCancelled",
    "SearchHistory",
    "SearchProgress",
    "Spotlight",
    "find_spotlight",
    "find_spotlights",
    "get_preset",
]
