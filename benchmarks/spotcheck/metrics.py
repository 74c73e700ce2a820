"""SpotCheck's discovery rate (DR) and false discovery rate (FDR), with the error filter.

Definitions (``shared/notes/spotcheck.md`` §3 and §6.1-6.2), for true blindspots
T_1..T_m and the groups H_1..H_k a method returns (sets of row ids):

- prec(H, T) = |H & T| / |H|; H *covers* T when prec(H, T) >= λp (``strict``: > λp);
- rec(T) = |union of (H & T) over the H covering T| / |T|; T is *discovered* when
  rec(T) >= λr (``strict``: > λr). Several groups may share a blindspot;
- DR = discovered / m;
- FDR = share of the H that cover no blindspot (best precision below λp). A method that
  returns no group makes no false discovery: FDR 0 (its DR is 0 too).

The error filter: of a method's ranked groups (its top 10), only those whose error rate
(share of members the model gets wrong) is at least 0.5 count, for DR and FDR alike.
FDR is also reported on all the groups, without the filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

THRESHOLDS = ((0.8, 0.8), (0.5, 0.5))
MIN_ERROR = 0.5


def _ids(group: object, what: str) -> np.ndarray:
    arr = np.asarray(group)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-d array of row ids; got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{what} must hold integer row ids; got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    if arr.min() < 0:
        raise ValueError(f"{what} has negative row ids")
    return np.unique(arr.astype(np.int64))


def _check_threshold(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got {value}")
    return value


@dataclass(frozen=True)
class Discovery:
    """DR and FDR of one method on one EC.

    Attributes
    ----------
    dr : float
        Share of the blindspots discovered.
    fdr : float
        Share of the groups covering no blindspot (0 when there are no groups).
    discovered : tuple of bool
        Per blindspot.
    best_precision : tuple of float
        Per group, its highest precision over the blindspots.
    """

    dr: float
    fdr: float
    discovered: tuple[bool, ...]
    best_precision: tuple[float, ...]

    @property
    def n_groups(self) -> int:
        return len(self.best_precision)


def discovery(
    groups: Sequence[np.ndarray],
    blindspots: Sequence[np.ndarray],
    *,
    min_precision: float = 0.8,
    min_recall: float = 0.8,
    strict: bool = False,
) -> Discovery:
    """DR and FDR of ``groups`` against ``blindspots`` (module docstring).

    Parameters
    ----------
    groups : sequence of array of int
        The returned groups H (row ids; each non-empty). May be empty.
    blindspots : sequence of array of int
        The true blindspots T (row ids; at least one, each non-empty).
    min_precision, min_recall : float
        λp and λr in [0, 1].
    strict : bool
        Compare with > instead of >= (the InfEmbed code's choice).

    Returns
    -------
    Discovery
    """
    lp = _check_threshold(min_precision, "min_precision")
    lr = _check_threshold(min_recall, "min_recall")
    hs = [_ids(g, f"group {i}") for i, g in enumerate(groups)]
    ts = [_ids(t, f"blindspot {j}") for j, t in enumerate(blindspots)]
    if not ts:
        raise ValueError("need at least one blindspot")

    def passes(value: float, threshold: float) -> bool:
        return value > threshold if strict else value >= threshold

    best = np.zeros(len(hs))
    covered_rows: list[list[np.ndarray]] = [[] for _ in ts]
    for i, h in enumerate(hs):
        for j, t in enumerate(ts):
            common = np.intersect1d(h, t, assume_unique=True)
            precision = common.size / h.size
            best[i] = max(best[i], precision)
            if passes(precision, lp):
                covered_rows[j].append(common)
    discovered = tuple(
        bool(rows) and passes(np.unique(np.concatenate(rows)).size / t.size, lr) for rows, t in zip(covered_rows, ts)
    )
    false = sum(not passes(p, lp) for p in best)
    return Discovery(
        dr=sum(discovered) / len(ts),
        fdr=false / len(hs) if hs else 0.0,
        discovered=discovered,
        best_precision=tuple(float(p) for p in best),
    )


def error_rates(groups: Sequence[np.ndarray], errors: np.ndarray) -> np.ndarray:
    """Share of each group's members the model gets wrong (``errors``: (N,) bool)."""
    errors = np.asarray(errors)
    if errors.ndim != 1 or errors.dtype != bool:
        raise TypeError(f"errors must be a 1-d bool array; got {errors.dtype} of shape {errors.shape}")
    out = np.empty(len(groups))
    for i, g in enumerate(groups):
        ids = _ids(g, f"group {i}")
        if ids.max() >= errors.size:
            raise ValueError(f"group {i} has row ids beyond the {errors.size} rows")
        out[i] = errors[ids].mean()
    return out


def score_groups(
    groups: Sequence[np.ndarray],
    blindspots: Sequence[np.ndarray],
    errors: np.ndarray,
    *,
    thresholds: Sequence[tuple[float, float]] = THRESHOLDS,
    min_error: float = MIN_ERROR,
    strict: bool = False,
) -> dict[str, float]:
    """Every score of one method on one EC, as one flat row.

    Keys: ``dr@P/R`` and ``fdr@P/R`` (after the error filter) for each (λp, λr) in
    ``thresholds`` (e.g. ``dr@0.8/0.8``), ``fdr_all@P`` (all groups, no filter),
    ``n_groups`` and ``n_kept`` (groups passing the filter).
    """
    rates = error_rates(groups, errors)
    kept = [g for g, r in zip(groups, rates) if r >= min_error]
    row: dict[str, float] = {"n_groups": float(len(groups)), "n_kept": float(len(kept))}
    for lp, lr in thresholds:
        found = discovery(kept, blindspots, min_precision=lp, min_recall=lr, strict=strict)
        row[f"dr@{lp:g}/{lr:g}"] = found.dr
        row[f"fdr@{lp:g}/{lr:g}"] = found.fdr
        row[f"fdr_all@{lp:g}"] = discovery(groups, blindspots, min_precision=lp, min_recall=lr, strict=strict).fdr
    return row


def mean_and_se(values: pd.Series) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n); 0 for a single value)."""
    v = values.to_numpy(dtype=float)
    if v.size == 0:
        raise ValueError("no values to average")
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se
