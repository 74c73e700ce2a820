"""What the front end receives, built by pure functions of the inputs and a result.

Each function reads an ``ExplorerInputs`` and a result (or a ``MethodView``) and returns
JSON-ready rows; none of them keeps or changes state, so the widget can build them in any
thread and a failure in one part never leaves another part half-updated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..describe import breakdown, caption
from ..slices import SliceLike
from ..slices.result import members_frame
from .arrange import Arrangement, arrange
from .inputs import ExplorerInputs, display
from .methods import METHODS, method_info
from .probing import image_shape
from .store import MethodView

TEXT_PREVIEW = 400
"""Characters of a text shown on a gallery card (the detail view shows all of it)."""


def caption_of(inputs: ExplorerInputs, result: SliceLike) -> str:
    """The one-line description of a result the history strip shows (plain text).

    A comparison's caption starts with both models' mean loss over the result's top S; a
    pooled region shown because no distinct one was left starts with the region it is
    another cut of.
    """
    text = caption(result, inputs.metadata, labels=inputs.named("labels"), predictions=inputs.named("predictions"))
    parts = [comparison_text(inputs, result), alternative_text(result), text]
    return "; ".join(part for part in parts if part)


def alternative_text(result: SliceLike) -> str:
    """ "another cut of region 1" for a near-duplicate the pooled regions return last ("" otherwise)."""
    info = getattr(result, "info", None) or {}
    rank = info.get("alternative_to")
    if rank is None:
        return ""
    method = getattr(result, "method", "")
    noun = method_info(method).noun if method in METHODS else "result"
    return f"another cut of {noun} {int(rank)}"


def comparison_text(inputs: ExplorerInputs, result: SliceLike) -> str:
    """ "new model's loss 2.3 vs 0.4 for the old model here" ("" unless comparing two models)."""
    comparison = inputs.comparison
    top = np.asarray(result.top_indices)
    if comparison is None or not len(top):
        return ""
    old, new = comparison.mean_losses(top)
    old_name, new_name = comparison.names
    return f"{new_name}'s loss {new:.3g} vs {old:.3g} for the {old_name} here"


def history_rows(inputs: ExplorerInputs, view: MethodView, captions: Sequence[str]) -> list[dict]:
    """The history strip: one row per result seen with a method."""
    noun = method_info(view.method).noun
    rows = []
    for sp, text in zip(view.results, captions, strict=True):
        top = sp.top_indices
        rows.append(
            {
                "rank": sp.rank,
                "size": sp.size,
                "fraction": sp.size / inputs.total,
                "weighted_loss": sp.weighted_loss,
                "top_loss": float(inputs.losses[top].mean()) if len(top) else float("nan"),
                "mass": float(np.sum(sp.weights)),
                "members": len(sp.indices),
                "caption": text,
                "label": noun,
                **_model_losses(inputs, top),
            }
        )
    return rows


def gallery_order(
    inputs: ExplorerInputs,
    tab: str,
    result: SliceLike | None,
    arrangement: Arrangement,
    opponents: pd.DataFrame | None = None,
) -> np.ndarray:
    """Example indices of a gallery tab, sorted and filtered as ``arrangement`` says.

    The opponents tab lists training examples, in ``opponents``' order (never arranged:
    the arrangement's columns describe the explored examples).
    """
    if tab == "opponents":
        return np.empty(0, dtype=np.int64) if opponents is None else opponents["index"].to_numpy()
    if tab == "spotlight":
        listed = result.indices if result is not None else np.empty(0, dtype=np.int64)
    elif tab == "highest":
        listed = inputs.loss_order
    elif tab == "random":
        listed = inputs.random_order
    else:
        raise ValueError(f"unknown tab {tab!r}; one of {', '.join(inputs.tabs())}")
    a = arrangement
    keep = inputs.groups(a.filter_column) == a.filter_group if a.filter_column and a.filter_group else None
    weights = None if result is None else result.weights
    key = inputs.sort_key(a.sort, weights) if a.sort else None
    return arrange(listed, sort_key=key, descending=a.descending, keep=keep)


def page_items(
    inputs: ExplorerInputs,
    tab: str,
    result: SliceLike | None,
    order: np.ndarray,
    page: int,
    page_size: int,
    opponents: pd.DataFrame | None = None,
) -> list[dict]:
    """The cards of one gallery page."""
    start = page * page_size
    if tab == "opponents":
        if opponents is None:
            return []
        frame = opponents.iloc[start : start + page_size]
        return [train_item(inputs, int(i), float(v)) for i, v in zip(frame["index"], frame["influence"])]
    weights = None if result is None else result.weights
    return [item(inputs, int(i), weights, preview=True) for i in order[start : start + page_size]]


def item(inputs: ExplorerInputs, index: int, weights: np.ndarray | None, *, preview: bool = False) -> dict:
    """One example as a gallery card shows it."""
    text = inputs.items.text(index)
    if preview and text is not None and len(text) > TEXT_PREVIEW:
        text = text[:TEXT_PREVIEW] + "…"
    out = {
        "index": index,
        "weight": None if weights is None else float(weights[index]),
        "loss": float(inputs.losses[index]),
        "label": inputs.name(inputs.labels, index),
        "prediction": inputs.name(inputs.predictions, index),
        "text": text,
    }
    comparison = inputs.comparison
    if comparison is not None:
        out["model_losses"] = [float(comparison.losses_old[index]), float(comparison.losses_new[index])]
        if comparison.predictions_old is not None and comparison.predictions_new is not None:
            out["model_predictions"] = [
                inputs.name(comparison.predictions_old, index),
                inputs.name(comparison.predictions_new, index),
            ]
    return out


def _model_losses(inputs: ExplorerInputs, members: np.ndarray) -> dict:
    """Both models' mean loss over some examples, for a comparison ({} otherwise)."""
    if inputs.comparison is None or not len(members):
        return {}
    return {"model_losses": list(inputs.comparison.mean_losses(np.asarray(members)))}


def train_item(inputs: ExplorerInputs, index: int, influence: float) -> dict:
    """A training example in the opponents list: no loss or weight in this data, its influence instead."""
    return {
        "index": index,
        "source": "train",
        "influence": influence,
        "weight": None,
        "loss": None,
        "label": None,
        "prediction": None,
        "text": inputs.train_items.text(index),
    }


def detail(inputs: ExplorerInputs, index: int, result: SliceLike | None) -> dict:
    """Everything known about one example, metadata as display strings."""
    inputs.check_index(index)
    out = item(inputs, index, None if result is None else result.weights)
    meta = inputs.metadata
    out["fields"] = {} if meta is None else {str(k): display(v) for k, v in meta.iloc[index].items()}
    if inputs.probe_fn is not None:
        # The front end maps a region drawn on the thumbnail to the image's own pixels.
        out["image_shape"] = list(image_shape(np.asarray(inputs.items.images()[index])))
    return out


def breakdown_frame(inputs: ExplorerInputs, result: SliceLike, column: str) -> pd.DataFrame:
    """``describe.breakdown`` of one column for a result, most over-represented group first.

    A comparison adds each model's own mean loss per group, inside the result and overall
    (``loss_old_in``, ``loss_old_all``, ``loss_new_in``, ``loss_new_all``).
    """
    values = inputs.column_values(column)
    frame = breakdown(result.weights, inputs.losses, values, counts=inputs.counts)
    comparison = inputs.comparison
    if comparison is not None:
        for model, losses in (("old", comparison.losses_old), ("new", comparison.losses_new)):
            own = breakdown(result.weights, losses, values, counts=inputs.counts).set_index("group")
            frame[f"loss_{model}_in"] = frame["group"].map(own["loss_in"])
            frame[f"loss_{model}_all"] = frame["group"].map(own["loss_all"])
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as JSON-ready dicts (NaN as None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def breakdown_rows(inputs: ExplorerInputs, result: SliceLike | None, column: str) -> list[dict]:
    """The breakdown of one column for a result, as the widget shows it."""
    if result is None or not column:
        return []
    return records(breakdown_frame(inputs, result, column))


def selection(result: SliceLike, mode: str, threshold: float | None = None) -> list[int]:
    """Indices for the selection buttons: "top" (top-S set), "above" (weight >= threshold), "none"."""
    if mode == "none":
        return []
    if mode == "top":
        return sorted(int(i) for i in result.top_indices)
    if mode == "above":
        if threshold is None:
            raise ValueError("selecting by weight needs a threshold")
        w = result.weights
        return [int(i) for i in np.flatnonzero((w >= threshold) & (w > 0))]
    raise ValueError(f"unknown selection mode {mode!r}; one of top, above, none")


def export_frame(inputs: ExplorerInputs, indices: Sequence[int], result: SliceLike | None) -> pd.DataFrame:
    """Examples as every export has them (``FRAME_COLUMNS``), then label, prediction, metadata.

    ``weight`` and ``in_top`` (whether the example is among the result's top S) are the
    result's; NaN and False without one. ``count`` is 1 without ``counts=``.
    """
    idx = np.asarray([inputs.check_index(int(i)) for i in indices], dtype=np.int64)
    if result is None:
        frame = members_frame(idx, np.full(inputs.n, np.nan), inputs.losses, inputs.counts, np.empty(0, np.int64))
    else:
        frame = members_frame(idx, np.asarray(result.weights), inputs.losses, inputs.counts, result.top_indices)
    if inputs.labels is not None:
        frame["label"] = [inputs.name(inputs.labels, i) for i in idx]
    if inputs.predictions is not None:
        frame["prediction"] = [inputs.name(inputs.predictions, i) for i in idx]
    comparison = inputs.comparison
    if comparison is not None:
        frame["loss_old"] = comparison.losses_old[idx]
        frame["loss_new"] = comparison.losses_new[idx]
        if comparison.predictions_old is not None:
            frame["prediction_old"] = [inputs.name(comparison.predictions_old, i) for i in idx]
    if inputs.metadata is not None:
        meta = inputs.metadata.iloc[idx].reset_index(drop=True)
        taken = set(frame.columns)
        meta.columns = [f"meta_{c}" if c in taken else c for c in meta.columns]
        frame = pd.concat([frame, meta], axis=1)
    return frame
