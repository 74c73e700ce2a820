"""Statistics of weighted data: effective size, binomial tails and intervals, per-group shares and lifts.

The method is explained in the package docstring (:mod:`spotlight_widget.describe`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from ._weighted import _Weighted, _weighted


def effective_size(weights: Any, counts: Any = None) -> float:
    """Kish's effective sample size of a weighted set: ``(sum c w)^2 / sum c w^2``.

    Parameters
    ----------
    weights : array-like
        (N,) weights in [0, 1] (a spotlight's kernel weights).
    counts : array-like, optional
        (N,) multiplicities: example i stands for ``c_i`` copies of weight ``w_i``.

    Returns
    -------
    float
        The number of equally weighted examples that would give a weighted mean the same
        variance; the number of members for 0/1 weights, 0 for an empty spotlight.
    """
    data = _weighted(weights, None, counts, allow_empty=True)
    return _n_eff(data)


def _n_eff(data: _Weighted) -> float:
    kw = data.kw
    second = float((kw * data.weights).sum())
    return float(kw.sum() ** 2 / second) if second > 0 else 0.0


def _binomial_tails(x: np.ndarray, n: float, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(X >= x) and P(X <= x) for X ~ Binomial(n, p), continuous in x and n."""
    upper = np.ones_like(x)
    lower = np.ones_like(x)
    pos, below = x > 0, x < n
    upper[pos] = special.betainc(x[pos], n - x[pos] + 1, p[pos])
    lower[below] = special.betainc(n - x[below], x[below] + 1, 1 - p[below])
    return upper, lower


def _share_test(
    share_in: np.ndarray, share_all: np.ndarray, n_eff: float, confidence: float, alternative: str = "two-sided"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval for the spotlight's share of each group, and a p-value against its share overall."""
    share_in = np.asarray(share_in, dtype=np.float64)
    share_all = np.asarray(share_all, dtype=np.float64)
    if n_eff <= 0:
        nan = np.full(share_in.shape, np.nan)
        return nan, nan.copy(), nan.copy()
    # Sums of weights can overshoot 1 in the last bit; the beta functions need x in [0, n].
    x = np.clip(share_in, 0.0, 1.0) * n_eff
    x[np.isclose(x, n_eff, rtol=1e-12, atol=0)] = n_eff
    tail = (1 - confidence) / 2
    low = np.zeros_like(x)
    high = np.ones_like(x)
    pos, below = x > 0, x < n_eff
    low[pos] = special.betaincinv(x[pos], n_eff - x[pos] + 1, tail)
    high[below] = special.betaincinv(x[below] + 1, n_eff - x[below], 1 - tail)
    upper, lower = _binomial_tails(x, n_eff, np.clip(share_all, 0.0, 1.0))
    if alternative == "greater":
        p = upper
    else:
        p = np.minimum(1.0, 2 * np.minimum(upper, lower))
    return low, high, p


def _group_stats(
    codes: np.ndarray, names: Any, data: _Weighted, confidence: float, *, min_count: float = 0.0
) -> dict[str, Any]:
    """Per-group shares, lift with its interval, p-value and mean losses, most surprising first.

    Groups with no (counted) examples, or fewer than ``min_count``, are left out. The order:
    smallest p-value, then largest ``|log lift|``, then most examples.
    """
    n_groups = len(names)
    c, w, kw = data.counts, data.weights, data.kw
    count = np.bincount(codes, weights=c, minlength=n_groups)
    mass_in = np.bincount(codes, weights=kw, minlength=n_groups)
    mass_out = np.bincount(codes, weights=c * (1 - w), minlength=n_groups)
    total_in, total_all = float(kw.sum()), float(c.sum())
    share_in = mass_in / total_in if total_in > 0 else np.zeros(n_groups)
    share_all = count / total_all
    low, high, p = _share_test(share_in, share_all, _n_eff(data), confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = share_in / share_all
        columns = {
            "count": count,
            "share_in": share_in,
            "share_all": share_all,
            "lift": lift,
            "lift_low": low / share_all,
            "lift_high": high / share_all,
            "p_value": p,
        }
        for name, numerator, denominator in (
            ("loss_in", kw, mass_in),
            ("loss_out", c * (1 - w), mass_out),
            ("loss_all", c, count),
        ):
            if data.losses is None:
                columns[name] = np.full(n_groups, np.nan)
            else:
                mean = np.bincount(codes, weights=numerator * data.losses, minlength=n_groups) / denominator
                columns[name] = np.where(np.isfinite(mean), mean, np.nan)
        distance = np.abs(np.log(lift))
    keep = np.flatnonzero((count > 0) & (count >= min_count))
    order = keep[np.lexsort((-count[keep], -distance[keep], p[keep]))]
    return {"group": names[order], **{key: value[order] for key, value in columns.items()}}


