"""Group breakdowns: metadata columns cut into groups, each compared inside the spotlight and overall."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from .._params import InstanceOf, Interval, validate_params
from ._weighted import _from_spotlight, _Weighted, _weighted
from .stats import _group_stats, _n_eff

_BINS = [Interval(Integral, 1, None, closed="left")]
_CONFIDENCE = [Interval(Real, 0, 1, closed="neither")]

# Numeric columns with more distinct values than this are binned by quantiles.
_MAX_NUMERIC_GROUPS = 12
_MISSING = "(missing)"
_DESCRIBE_COLUMNS = [
    "column", "group", "count", "share_in", "share_all", "lift", "lift_low", "lift_high", "p_value",
    "loss_in", "loss_out", "loss_all",
]  # fmt: skip


def metadata_frame(metadata: Any, n: int, *, against: str | None = None) -> pd.DataFrame:
    """``metadata`` (a DataFrame, a dict of columns or a Series) as a DataFrame of ``n`` rows
    with a fresh 0..n-1 index; ``against`` names what the rows must match in the error
    (default "the spotlight has n examples")."""
    if isinstance(metadata, pd.DataFrame):
        frame = metadata
    elif isinstance(metadata, pd.Series):
        frame = metadata.to_frame(name=metadata.name if metadata.name is not None else "value")
    else:
        try:
            frame = pd.DataFrame(metadata)
        except Exception as exc:
            raise TypeError(f"metadata must be a DataFrame, a dict of columns or a Series: {exc}") from exc
    if len(frame) != n:
        raise ValueError(f"metadata has {len(frame)} rows but {against or f'the spotlight has {n} examples'}")
    return frame.reset_index(drop=True)


@validate_params({"bins": _BINS})
def groups_of(values: Any, *, bins: int = 5) -> pd.Series:
    """Group label of every example: many-valued numbers in quantile bins, anything else by its text.

    - Real numbers of any integer or float dtype (float16 and long double are read as
      float64, nullable integers too) with more than 12 distinct finite values are cut into
      ``bins`` quantile bins of the finite values (fewer when quantiles coincide), labelled
      "low to high"; ``+inf`` and ``-inf`` each form a group of their own, "inf" and "-inf".
    - Booleans, categories, strings and numbers with at most 12 distinct values give one
      group per value present (a categorical's unused categories give none).
    - Values without an order (complex numbers, tuples, dicts, lists, objects of mixed
      types) give one group per distinct value, named by its text (``str``).
    - Missing values (None, NaN, NA, NaT) form the group "(missing)".

    Parameters
    ----------
    values : array-like
        (N,) one column: a Series, a 1-D array or a list.
    bins : int
        Quantile bins for many-valued numbers.

    Returns
    -------
    pandas.Series
        (N,) group names (str), indexed 0..N-1.

    Raises
    ------
    ValueError
        ``bins`` is not a positive int, ``values`` is not one column (a table or an array of
        more than one dimension), or values whose text cannot be computed (the error names
        the column and its dtype).
    """
    series = _column(values)
    if series.dtype.kind in "iuf":
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(numbers)
        if len(np.unique(numbers[finite])) > _MAX_NUMERIC_GROUPS:
            return _binned(numbers, finite, bins, series.name)
    return _by_text(series)


def _column(values: Any) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        raise ValueError(f"expected one column; got a table with columns {list(values.columns)}")
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"expected one column (a 1-D array); got an array of shape {values.shape}")
    return pd.Series(values).reset_index(drop=True)


def _binned(numbers: np.ndarray, finite: np.ndarray, bins: int, name: Any) -> pd.Series:
    binned = pd.qcut(numbers[finite], q=bins, duplicates="drop")
    labels = np.full(len(numbers), _MISSING, dtype=object)
    labels[finite] = np.asarray(_interval_labels(binned.categories), dtype=object)[binned.codes]
    labels[numbers == np.inf] = "inf"
    labels[numbers == -np.inf] = "-inf"
    return pd.Series(labels, name=name).astype(str)


def _interval_labels(intervals: pd.IntervalIndex) -> list[str]:
    """Bin names, "low to high", with 4 significant digits or more where 4 would give two bins one name."""
    for digits in range(4, 17):
        labels = [f"{iv.left:.{digits}g} to {iv.right:.{digits}g}" for iv in intervals]
        if len(set(labels)) == len(labels):
            return labels
    # 17 significant digits tell any two float64 apart.
    return [f"{iv.left:.17g} to {iv.right:.17g}" for iv in intervals]


def _by_text(series: pd.Series) -> pd.Series:
    missing = series.isna().to_numpy(dtype=bool)
    try:
        text = series.astype(object).astype(str)
    except Exception as exc:  # str() of an arbitrary object may raise anything
        column = "the column" if series.name is None else f"column {series.name!r}"
        raise ValueError(f"{column} ({series.dtype}) holds values that cannot be shown as text: {exc!r}") from exc
    return text.where(~missing, _MISSING)


@validate_params({"bins": _BINS, "confidence": _CONFIDENCE})
def breakdown(
    weights: np.ndarray,
    losses: np.ndarray,
    values: Any,
    *,
    counts: np.ndarray | None = None,
    bins: int = 5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of each group inside a spotlight (weighted by its kernel) against the data set.

    Parameters
    ----------
    weights : numpy.ndarray
        (N,) spotlight weights k_i in [0, 1]; all zero (an empty spotlight) is allowed and
        gives zero shares and NaN statistics.
    losses : numpy.ndarray
        (N,) per-example losses.
    values : array-like
        (N,) one metadata column: categories, numbers (of any real dtype, infinities
        included), booleans, or values grouped by their text; missing values allowed. See
        :func:`groups_of`.
    counts : numpy.ndarray, optional
        (N,) example multiplicities.
    bins : int
        Quantile bins for numeric columns with many values (see :func:`groups_of`).
    confidence : float
        Coverage of the lift interval.

    Returns
    -------
    pandas.DataFrame
        One row per group, most over-represented first (highest lift, then most examples),
        with columns ``group``, ``count`` (examples in the data set), ``share_in`` (weighted
        share inside the spotlight), ``share_all`` (share of the data set), ``lift``
        (share_in / share_all), ``loss_in`` (weighted mean loss of the group inside),
        ``loss_all`` (the group's mean loss in the data set), then ``lift_low``,
        ``lift_high``, ``p_value`` and ``loss_out`` as in :func:`describe`.
    """
    w = np.asarray(weights, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if w.shape != loss.shape:
        raise ValueError(f"weights {w.shape} and losses {loss.shape} differ in shape")
    groups = groups_of(values, bins=bins)
    if len(groups) != len(w):
        raise ValueError(f"the column has {len(groups)} values for {len(w)} examples")
    data = _weighted(w, loss, counts, allow_empty=True)
    codes, names = pd.factorize(groups, sort=False)
    out = pd.DataFrame(_group_stats(codes, names, data, confidence))
    cols = ["group", "count", "share_in", "share_all", "lift", "loss_in", "loss_all"]
    out = out[cols + ["lift_low", "lift_high", "p_value", "loss_out"]]
    return out.sort_values(["lift", "count"], ascending=[False, False], kind="stable").reset_index(drop=True)


@validate_params(
    {
        "columns": [None, str, InstanceOf(Sequence, "sequence of column names")],
        "bins": _BINS,
        "confidence": _CONFIDENCE,
        "min_count": [Interval(Real, 0, None, closed="left")],
    }
)
def describe(
    spotlight: Any,
    metadata: Any,
    *,
    columns: Sequence[Any] | str | None = None,
    bins: int = 5,
    confidence: float = 0.95,
    min_count: float = 1,
) -> pd.DataFrame:
    """Which groups of each metadata column the spotlight over- or under-represents.

    Parameters
    ----------
    spotlight : Spotlight or slice
        A :class:`~spotlight_widget.Spotlight`, or any object with ``.weights`` (N,) in
        [0, 1], ``.losses`` (N,) or None, and optionally ``.counts`` (N,).
    metadata : pandas.DataFrame, dict of columns or pandas.Series
        N rows of side information the search never saw (the columns may be categories,
        numbers, booleans, with missing values).
    columns : list or str, optional
        The columns to describe, in this order; all by default.
    bins : int
        Numeric columns with more than 12 distinct values are cut into this many quantile
        bins; infinities and missing values form groups of their own, and values without an
        order (complex numbers, tuples, mixed types) are grouped by their text. See
        :func:`groups_of`.
    confidence : float
        Coverage of the interval ``lift_low`` to ``lift_high``.
    min_count : float
        Leave out groups with fewer (counted) examples in the data set.

    Returns
    -------
    pandas.DataFrame
        One row per (column, group), the columns in the order asked, within each column the
        most surprising group first (smallest p-value, then largest ``|log lift|``):

        - ``column``, ``group`` (str), ``count`` (examples in the data set, with counts);
        - ``share_in``: the group's share of the spotlight's weight, ``sum c w [g] / sum c w``;
        - ``share_all``: its share of the data set; ``lift = share_in / share_all``;
        - ``lift_low``, ``lift_high``: exact (Clopper-Pearson) interval of ``share_in`` at
          the spotlight's effective size ``n_eff``, divided by ``share_all``;
        - ``p_value``: two-sided test of ``share_in == share_all`` at size ``n_eff``
          (``p_value < 1 - confidence`` exactly when ``1`` is outside the lift interval);
        - ``loss_in``: the group's weighted mean loss inside (weights ``c w``);
        - ``loss_out``: its mean loss *outside* the spotlight (weights ``c (1 - w)``);
        - ``loss_all``: its mean loss over the whole data set.

        ``attrs`` holds ``n_eff``, ``mass`` (``sum c w``), ``loss_in`` and ``loss_all`` (the
        spotlight's and the data set's mean loss).

    Notes
    -----
    ``n_eff`` is Kish's effective sample size ``(sum c w)^2 / sum c w^2``. Counting every
    example with a positive weight as a full member would overstate the evidence (faint
    members carry little), and the mass ``sum c w`` would understate it; ``n_eff`` gives
    the weighted share exactly the variance it has when the group is unrelated to the
    weights. See the module docstring.

    Raises
    ------
    ValueError
        Length mismatch, NaN or out-of-range weights, an empty spotlight, unknown columns,
        a column whose values cannot be grouped (see :func:`groups_of`).
    TypeError
        ``spotlight`` without weights, ``metadata`` that is not a table.
    """
    data = _from_spotlight(spotlight)
    frame = metadata_frame(metadata, data.n)
    if columns is None:
        columns = list(frame.columns)
    elif isinstance(columns, str) or not isinstance(columns, Iterable):
        columns = [columns]
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise ValueError(f"unknown columns {unknown}; metadata has {list(frame.columns)}")
    parts: dict[str, list] = {key: [] for key in _DESCRIBE_COLUMNS}
    for column in columns:
        codes, names = pd.factorize(groups_of(frame[column], bins=bins), sort=False)
        stats = _group_stats(codes, np.asarray(names, dtype=object), data, confidence, min_count=min_count)
        stats["column"] = np.full(len(stats["group"]), column, dtype=object)
        for key, values in stats.items():
            parts[key].append(values)
    out = pd.DataFrame({key: np.concatenate(values) if values else [] for key, values in parts.items()})
    out.attrs.update(_overall(data))
    return out


def _overall(data: _Weighted) -> dict[str, float]:
    kw, c = data.kw, data.counts
    mass = float(kw.sum())
    stats = {"n_eff": _n_eff(data), "mass": mass, "loss_in": float("nan"), "loss_all": float("nan")}
    if data.losses is not None:
        stats["loss_in"] = float(kw @ data.losses / mass) if mass > 0 else float("nan")
        stats["loss_all"] = float(c @ data.losses / c.sum())
    return stats
