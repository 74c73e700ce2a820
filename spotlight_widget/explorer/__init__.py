"""The notebook explorer (needs anywidget and the built front end)."""

from .widget import SpotlightExplorer

__all__ = ["SpotlightExplorer"]
