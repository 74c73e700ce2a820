"""Captions: one plain-language line saying what a spotlight is."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import pandas as pd

from .._params import Interval, validate_params
from ._text import _plain
from ._weighted import _from_spotlight
from .groups import _overall, describe, metadata_frame
from .labels import _class_table, _column_values, label_summary

_CAPTION_ALPHA = 0.05


def _percent(share: float) -> str:
    value = 100 * share
    return f"{value:.0f}%" if value >= 9.5 or value == 0 else f"{value:.2g}%"


def _loss(value: float) -> str:
    return f"{value:.3g}"


@validate_params({"max_parts": [Interval(Integral, 0, None, closed="left")]})
def caption(
    spotlight: Any,
    metadata: Any = None,
    *,
    labels: Any = None,
    predictions: Any = None,
    max_parts: int = 2,
) -> str:
    """One plain-language line saying what a spotlight is.

    For example ``"55% label 7 vs 11% overall; mean loss 3.85 vs 0.51; accuracy 41% vs 92%"``.

    Parameters
    ----------
    spotlight : Spotlight or slice
        Anything with ``.weights`` (and optionally ``.losses``, ``.counts``).
    metadata : pandas.DataFrame, dict or Series, optional
        Columns to look for over-represented groups in (as :func:`describe`); a column
        whose values cannot be grouped is left out rather than raising.
    labels, predictions : array-like, optional
        (N,) true and predicted labels; described as "label ..." and "predicted ...".
    max_parts : int
        At most this many group descriptions ("62% label 7 vs 10% overall"). Each column
        offers its most surprising over-represented group; a group is used only if its
        p-value is below 0.05 divided by the number of groups looked at (Bonferroni), most
        surprising first. The mean loss inside vs overall follows (when the spotlight has
        losses), then the accuracy inside vs overall (with labels and predictions).

    Returns
    -------
    str
        Plain text on one line (group names have control characters replaced and are cut
        at 40 characters); escape it for HTML where it is shown. "no group stands out"
        when nothing can be said.
    """
    data = _from_spotlight(spotlight)
    tables: list[tuple[str, pd.DataFrame]] = []
    if labels is not None:
        tables.append(("label", _class_table(_column_values(labels, data.n, "labels"), "group", data)))
    if predictions is not None:
        tables.append(("predicted", _class_table(_column_values(predictions, data.n, "predictions"), "group", data)))
    if metadata is not None:
        frame = metadata_frame(metadata, data.n)
        for column in frame.columns:
            try:
                table = describe(data, frame[[column]])
            except ValueError:
                # A caption is a convenience: a column that cannot be grouped (see groups_of) is left out.
                continue
            tables.append((_plain(column), table))
    tested = sum(len(t) for _, t in tables)
    candidates = []
    for name, table in tables:
        over = table[(table["lift"] > 1) & (table["p_value"] < _CAPTION_ALPHA / max(tested, 1))]
        if len(over):
            best = over.iloc[0]
            # The group comes from its own column: a row of mixed types would turn label 7 into 7.0.
            group = over["group"].iloc[0]
            candidates.append((float(best["p_value"]), -float(best["lift"]), name, group, best))
    candidates.sort(key=lambda item: item[:2])
    parts = [
        f"{_percent(row['share_in'])} {name} {_plain(group)} vs {_percent(row['share_all'])} overall"
        for _, _, name, group, row in candidates[:max_parts]
    ]
    overall = _overall(data)
    if data.losses is not None:
        parts.append(f"mean loss {_loss(overall['loss_in'])} vs {_loss(overall['loss_all'])}")
    if labels is not None and predictions is not None:
        summary = label_summary(data, labels, predictions)
        parts.append(f"accuracy {_percent(summary.accuracy_in)} vs {_percent(summary.accuracy_all)}")
    return "; ".join(parts) if parts else "no group stands out"
