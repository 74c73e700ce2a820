"""Label summaries: a classifier's labels, predictions and confusion inside a spotlight against the data set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._weighted import _from_spotlight, _Weighted
from .stats import _group_stats


@dataclass(frozen=True)
class LabelSummary:
    """A classifier's labels and mistakes inside a spotlight against the data set.

    Attributes
    ----------
    labels : pandas.DataFrame
        One row per true label, as :func:`describe` orders groups: ``label``, ``count``,
        ``share_in``, ``share_all``, ``lift``, ``lift_low``, ``lift_high``, ``p_value``,
        ``loss_in``, ``loss_out``, ``loss_all``.
    predictions : pandas.DataFrame or None
        The same for predicted labels (column ``prediction``).
    confusion_in : pandas.DataFrame or None
        Rows: true label, columns: prediction; each cell the share of the spotlight's
        weight (sums to 1).
    confusion_all : pandas.DataFrame or None
        The same over the data set (with counts).
    accuracy_in : float
        Weighted accuracy inside (NaN without predictions).
    accuracy_all : float
        Accuracy over the data set (NaN without predictions).
    """

    labels: pd.DataFrame
    predictions: pd.DataFrame | None
    confusion_in: pd.DataFrame | None
    confusion_all: pd.DataFrame | None
    accuracy_in: float
    accuracy_all: float


def _column_values(values: Any, n: int, name: str) -> pd.Series:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must hold one value per example, not a single string")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    series = pd.Series(values).reset_index(drop=True)
    if len(series) != n:
        raise ValueError(f"{name} has {len(series)} values for {n} examples")
    return series


def _classes(values: pd.Series, name: str) -> tuple[np.ndarray, list]:
    if values.isna().any():
        first = np.flatnonzero(values.isna().to_numpy())[:5].tolist()
        raise ValueError(f"{name} has {int(values.isna().sum())} missing values (first at {first})")
    codes, uniques = pd.factorize(values, sort=False)
    return codes, list(uniques)


def _sorted_union(*groups: list) -> list:
    seen = list(dict.fromkeys(v for g in groups for v in g))
    try:
        return sorted(seen)
    except TypeError:
        return seen


def _class_table(values: pd.Series, name: str, data: _Weighted) -> pd.DataFrame:
    codes, uniques = _classes(values, name)
    stats = _group_stats(codes, pd.Index(uniques), data, 0.95)
    return pd.DataFrame({name: stats.pop("group"), **stats})


def label_summary(spotlight: Any, labels: Any, predictions: Any = None) -> LabelSummary:
    """Labels and confusion of a classifier inside a spotlight against the whole data set.

    Parameters
    ----------
    spotlight : Spotlight or slice
        Anything with ``.weights`` (and optionally ``.losses``, ``.counts``).
    labels : array-like
        (N,) true labels (ints, strings, any hashable values; no missing values).
    predictions : array-like, optional
        (N,) predicted labels, comparable with ``labels``.

    Returns
    -------
    LabelSummary
    """
    data = _from_spotlight(spotlight)
    y = _column_values(labels, data.n, "labels")
    table = _class_table(y, "label", data)
    if predictions is None:
        return LabelSummary(table, None, None, None, float("nan"), float("nan"))
    yhat = _column_values(predictions, data.n, "predictions")
    pred_table = _class_table(yhat, "prediction", data)
    y_codes, y_classes = _classes(y, "labels")
    p_codes, p_classes = _classes(yhat, "predictions")
    classes = _sorted_union(y_classes, p_classes)
    position = {v: i for i, v in enumerate(classes)}
    rows = np.array([position[v] for v in y_classes])[y_codes]
    cols = np.array([position[v] for v in p_classes])[p_codes]
    k = len(classes)

    def confusion(weights: np.ndarray) -> pd.DataFrame:
        cells = np.bincount(rows * k + cols, weights=weights, minlength=k * k).reshape(k, k) / weights.sum()
        index = pd.Index(classes, name="label")
        return pd.DataFrame(cells, index=index, columns=pd.Index(classes, name="prediction"))

    kw, c = data.kw, data.counts
    correct = rows == cols
    return LabelSummary(
        labels=table,
        predictions=pred_table,
        confusion_in=confusion(kw),
        confusion_all=confusion(c),
        accuracy_in=float(kw[correct].sum() / kw.sum()),
        accuracy_all=float(c[correct].sum() / c.sum()),
    )
