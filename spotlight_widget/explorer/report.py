"""The explorer's views as matplotlib figures, for reports and papers (``ex.figure``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..slices import find_slices
from .methods import METHODS

if TYPE_CHECKING:
    from .session import ExplorerSession

FIGURES = ("gallery", "breakdown", "sizes", "size-loss")


def view_figure(session: ExplorerSession, view: str, *, column: str | None = None, **options: Any):
    """A figure of one view of the session's current result (see ``SpotlightExplorer.figure``)."""
    from .. import figures

    if view not in FIGURES:
        raise ValueError(f"unknown view {view!r}; one of {', '.join(FIGURES)}")
    s = session
    sp = s.spotlight()
    if view == "gallery":
        names = {"labels": s.named("labels"), "predictions": s.named("predictions")}
        title = (
            f"{METHODS[s.method].label} #{sp.rank + 1}, S = {sp.size}: "
            f"mean loss {sp.weighted_loss:.3g} vs {s.losses.mean():.3g} overall"
        )
        return figures.gallery_figure(sp, s.items.images(), **(names | {"title": title} | options))
    if view == "breakdown":
        if not column:
            columns = s.columns()
            if not columns:
                raise ValueError("no metadata columns to break down: pass metadata=, labels= or predictions=")
            column = columns[0]
        return figures.breakdown_figure(sp, {column: s.column_values(column)}, column=column, **options)
    if view == "sizes":
        sizes = sorted({e.size for e in s.history})
        return figures.sizes_figure([s.results[size][0] for size in sizes], s.items.images(), **options)
    shown = [s.spotlight(i) for i in range(len(s.history))]
    # Paper Figure B1: every K-means cluster at the current size, against the results shown.
    clusters = find_slices("kmeans", s.embeddings, s.losses, n=s.n, size=s.current_size(), seed=s.seed)
    return figures.size_loss_figure(shown, clusters, losses=s.losses, **options)
