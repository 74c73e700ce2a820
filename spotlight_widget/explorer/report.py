"""The explorer's views as matplotlib figures, for reports and papers (``ex.figure``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..slices import find_slices
from .methods import method_info

if TYPE_CHECKING:
    from .inputs import ExplorerInputs
    from .store import MethodView

FIGURES = ("gallery", "breakdown", "sizes", "size-loss")


def view_figure(inputs: ExplorerInputs, view: MethodView, figure: str, *, column: str | None = None, **options: Any):
    """A figure of one view of a method's shown result (see ``SpotlightExplorer.figure``)."""
    from .. import figures

    if figure not in FIGURES:
        raise ValueError(f"unknown view {figure!r}; one of {', '.join(FIGURES)}")
    sp = view.result
    if sp is None:
        raise LookupError(f"no {method_info(view.method).noun} has been found yet")
    if figure == "gallery":
        names = {"labels": inputs.named("labels"), "predictions": inputs.named("predictions")}
        title = (
            f"{method_info(view.method).label} #{sp.rank + 1}, S = {sp.size}: "
            f"mean loss {sp.weighted_loss:.3g} vs {inputs.losses.mean():.3g} overall"
        )
        return figures.gallery_figure(sp, inputs.items.images(), **(names | {"title": title} | options))
    if figure == "breakdown":
        if not column:
            columns = inputs.columns()
            if not columns:
                raise ValueError("no metadata columns to break down: pass metadata=, labels= or predictions=")
            column = columns[0]
        return figures.breakdown_figure(sp, {column: inputs.column_values(column)}, column=column, **options)
    if figure == "sizes":
        # The first result seen at each size, smallest size first.
        first: dict[int, Any] = {}
        for entry, result in sorted(zip(view.entries, view.results), key=lambda pair: (pair[0].size, pair[0].rank)):
            first.setdefault(entry.size, result)
        return figures.sizes_figure([first[size] for size in sorted(first)], inputs.items.images(), **options)
    # Paper Figure B1: every K-means cluster at the current size, against the results shown.
    clusters = find_slices("kmeans", inputs.embeddings, inputs.losses, n=inputs.n, size=view.size, seed=inputs.seed)
    return figures.size_loss_figure(list(view.results), clusters, losses=inputs.losses, **options)
