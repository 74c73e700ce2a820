"""The eight behaviour patterns of Shared Interest (Boggust et al., CHI 2022, Section 4).

Decision table. A score is *high* when it is >= ``high`` and *low* when it is < ``low``.
Rules are tried in this order for every example; the first that holds wins:

====  ===========================  ====================  ====================
rule  scores                       correct               incorrect
====  ===========================  ====================  ====================
1     IoU high                     human aligned         confuser
2     SC high and GTC low          sufficient subset     insufficient subset
3     GTC high and SC low          context dependent     context confusion
4     IoU low                      sufficient context    distractor
-     none of the above            (no pattern: NaN)     (no pattern: NaN)
====  ===========================  ====================  ====================

Since IoU <= min(GTC, SC), rule 1 excludes rules 2 and 3 whenever ``high >= low``, and
rules 2 and 3 exclude each other, so the order matters only for rule 4: an example with a
subset or context shape keeps that more specific pattern even though its IoU is low too.
With ``high == low`` (the default, 0.5) the rules leave nothing out: every example with
defined scores gets exactly one pattern. With ``high > low`` the examples in between get
none. The paper gives no numbers for the cut-offs; 0.5 is the middle of the scale.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._inputs import as_vector

CORRECT_PATTERNS = ("human aligned", "sufficient subset", "sufficient context", "context dependent")
INCORRECT_PATTERNS = ("confuser", "insufficient subset", "distractor", "context confusion")
#: The eight pattern names, in the paper's order (four correct, then four incorrect).
PATTERNS = CORRECT_PATTERNS + INCORRECT_PATTERNS
# (pattern if correct, pattern if incorrect) for rules 1-4 of the decision table.
_RULES = (
    ("human aligned", "confuser"),
    ("sufficient subset", "insufficient subset"),
    ("context dependent", "context confusion"),
    ("sufficient context", "distractor"),
)


def _cutoff(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def _metric_column(metrics: Any, name: str, length: int | None) -> np.ndarray:
    try:
        column = metrics[name]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"metrics need a {name!r} column (as returned by shared_interest)") from None
    if isinstance(column, torch.Tensor):
        column = column.detach().cpu().numpy()
    try:
        values = np.asarray(column, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"metrics column {name!r} must be numbers") from None
    if length is not None and values.shape[0] != length:
        raise ValueError(f"metrics column {name!r} has {values.shape[0]} values but iou has {length}")
    finite = values[~np.isnan(values)]
    if ((finite < 0) | (finite > 1)).any():
        raise ValueError(f"metrics column {name!r} must lie in [0, 1] (NaN marks undefined scores)")
    return values


def behaviour_patterns(
    metrics: Any,
    correct: Any,
    *,
    high: float = 0.5,
    low: float = 0.5,
) -> pd.Series:
    """Assign each example one of the eight Shared Interest behaviour patterns.

    Parameters
    ----------
    metrics : pandas.DataFrame or mapping
        Columns ``iou``, ``gtc`` and ``sc``, e.g. the result of :func:`shared_interest`.
        Rows with a NaN score get no pattern.
    correct : array-like of bool
        Whether the model's output was right, one per example. For regression use
        :func:`correct_within`.
    high, low : float, default 0.5
        Cut-offs in [0, 1] with ``high >= low``: a score is high when >= ``high`` and low
        when < ``low``. See the module docstring for the decision table.

    Returns
    -------
    pandas.Series
        Categorical with the eight categories of :data:`PATTERNS` (in the paper's order,
        all present even when unused, so counts and groupings line up across data sets),
        named ``"pattern"``, indexed like ``metrics`` when it is a DataFrame.
    """
    high = _cutoff(high, "high")
    low = _cutoff(low, "low")
    if high < low:
        raise ValueError(f"high ({high}) must be >= low ({low}): a score cannot be both high and low")
    iou = _metric_column(metrics, "iou", None)
    gtc = _metric_column(metrics, "gtc", iou.shape[0])
    sc = _metric_column(metrics, "sc", iou.shape[0])
    right = _as_bool_vector(correct, "correct", iou.shape[0])

    defined = ~(np.isnan(iou) | np.isnan(gtc) | np.isnan(sc))
    with np.errstate(invalid="ignore"):
        rules = [
            iou >= high,
            (sc >= high) & (gtc < low),
            (gtc >= high) & (sc < low),
            iou < low,
        ]
    rule = np.select([r & defined for r in rules], range(len(rules)), default=-1)
    if_correct = np.array([PATTERNS.index(c) for c, _ in _RULES])
    if_incorrect = np.array([PATTERNS.index(i) for _, i in _RULES])
    codes = np.where(right, if_correct[rule.clip(0)], if_incorrect[rule.clip(0)])
    codes = np.where(rule >= 0, codes, -1)
    index = metrics.index if isinstance(metrics, pd.DataFrame) else None
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(PATTERNS)), index=index, name="pattern")


def _as_bool_vector(value: Any, name: str, length: int) -> np.ndarray:
    if value is None:
        raise TypeError(f"{name} is required; got None")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per example); got shape {arr.shape}")
    if arr.shape[0] != length:
        raise ValueError(f"{name} has {arr.shape[0]} entries but metrics have {length} rows")
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all():
        return arr.astype(bool)
    raise TypeError(f"{name} must be booleans (or 0/1 integers); got dtype {arr.dtype}")


def correct_within(predictions: Any, targets: Any, delta: float = 0.05) -> np.ndarray:
    """Correctness for regression, as in the paper: the output is within ±delta of the truth.

    Parameters
    ----------
    predictions, targets : array-like
        One number per example.
    delta : float, default 0.05
        Tolerance (the paper uses 0.05 on its 0-1 sentiment scale); the bound counts as
        correct.

    Returns
    -------
    numpy.ndarray
        Boolean, ``|prediction - target| <= delta``.
    """
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not np.isfinite(delta) or delta < 0:
        raise ValueError(f"delta must be a finite number >= 0; got {delta!r}")
    p = as_vector(predictions, "predictions", dtype=torch.float64)
    t = as_vector(targets, "targets", dtype=torch.float64)
    if p.shape != t.shape:
        raise ValueError(f"predictions have {p.shape[0]} entries but targets have {t.shape[0]}")
    # A little slack so that e.g. 0.65 vs 0.6 with delta 0.05 is not lost to rounding.
    return ((p - t).abs() <= delta * (1 + 1e-9) + 1e-12).numpy()
