"""How a spotlight differs from the whole data set, group by group."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Numeric columns with more distinct values than this are binned by quantiles.
_MAX_NUMERIC_GROUPS = 12


def groups_of(values: Any, *, bins: int = 5) -> pd.Series:
    """Group label of every example: categories as they are, many-valued numbers in quantile bins.

    Missing values form their own group, "(missing)".
    """
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("object")
    if pd.api.types.is_numeric_dtype(series) and series.nunique(dropna=True) > _MAX_NUMERIC_GROUPS:
        binned = pd.qcut(series, q=bins, duplicates="drop")
        labels = binned.astype("object").map(lambda iv: f"{iv.left:.4g} to {iv.right:.4g}", na_action="ignore")
        return labels.fillna("(missing)").astype(str)
    return series.astype("object").where(series.notna(), "(missing)").astype(str)


def breakdown(
    weights: np.ndarray,
    losses: np.ndarray,
    values: Any,
    *,
    counts: np.ndarray | None = None,
    bins: int = 5,
) -> pd.DataFrame:
    """Share of each group inside a spotlight (weighted by its kernel) against the data set.

    Parameters
    ----------
    weights : numpy.ndarray
        (N,) spotlight weights k_i.
    losses : numpy.ndarray
        (N,) per-example losses.
    values : array-like
        (N,) one metadata column (categories, numbers, booleans; missing values allowed).
    counts : numpy.ndarray, optional
        (N,) example multiplicities.
    bins : int
        Quantile bins for numeric columns with many values.

    Returns
    -------
    pandas.DataFrame
        One row per group, most over-represented first, with columns ``group``, ``count``
        (examples in the data set), ``share_in`` (weighted share inside the spotlight),
        ``share_all`` (share of the data set), ``lift`` (share_in / share_all),
        ``loss_in`` (weighted mean loss of the group inside) and ``loss_all``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if weights.shape != losses.shape:
        raise ValueError(f"weights {weights.shape} and losses {losses.shape} differ in shape")
    groups = groups_of(values, bins=bins)
    if len(groups) != len(weights):
        raise ValueError(f"the column has {len(groups)} values for {len(weights)} examples")
    c = np.ones_like(weights) if counts is None else np.asarray(counts, dtype=np.float64)
    kw = c * weights
    frame = pd.DataFrame({"group": groups, "c": c, "kw": kw, "cl": c * losses, "kwl": kw * losses})
    agg = frame.groupby("group", sort=False, observed=True).sum()
    total_in, total_all = kw.sum(), c.sum()
    out = pd.DataFrame(
        {
            "group": agg.index.astype(str),
            "count": agg["c"].to_numpy(),
            "share_in": agg["kw"].to_numpy() / total_in if total_in > 0 else 0.0,
            "share_all": agg["c"].to_numpy() / total_all,
            "loss_in": np.divide(
                agg["kwl"].to_numpy(),
                agg["kw"].to_numpy(),
                out=np.full(len(agg), np.nan),
                where=agg["kw"].to_numpy() > 0,
            ),
            "loss_all": agg["cl"].to_numpy() / agg["c"].to_numpy(),
        }
    )
    out["lift"] = out["share_in"] / out["share_all"]
    out = out[["group", "count", "share_in", "share_all", "lift", "loss_in", "loss_all"]]
    return out.sort_values(["lift", "count"], ascending=[False, False], kind="stable").reset_index(drop=True)
