"""What a spotlight is: group breakdowns with significance, token and label summaries, a caption.

Everything here compares the spotlight's *weighted* distribution (example i counts
``c_i * w_i``: its multiplicity times its kernel weight) with the whole data set's (``c_i``).

How surprising a share is
-------------------------
A spotlight's weights are soft, so its share of a group is a weighted mean of 0/1
indicators, ``p_in = sum c w y / sum c w``. If the group were unrelated to the weights
(indicators independent with probability ``p_all``), that mean would have variance
``p_all (1 - p_all) / n_eff`` with Kish's effective sample size

    n_eff = (sum_i c_i w_i)^2 / sum_i c_i w_i^2,

which is the number of members for 0/1 weights; for soft weights in [0, 1] it lies between
the mass ``sum c w`` and the number of examples with a positive weight (many faint members
carry less information than as many full ones). The tests below treat ``x = n_eff * p_in`` as a binomial count out of
``n_eff`` draws at rate ``p_all``; the binomial tails are extended to non-integer counts
through the regularized incomplete beta function, so with 0/1 weights they are exactly the
binomial test and the Clopper-Pearson interval. Drawing without replacement (a spotlight
is part of the data it is compared with) only narrows the true spread, so the p-values
err on the side of caution. They are per group and not corrected for the number of groups
looked at.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import sparse, special

from ._inputs import as_vector

__all__ = [
    "LabelSummary",
    "TokenSummary",
    "breakdown",
    "caption",
    "default_tokenizer",
    "describe",
    "effective_size",
    "groups_of",
    "label_summary",
    "token_summary",
]

# Numeric columns with more distinct values than this are binned by quantiles.
_MAX_NUMERIC_GROUPS = 12
_MISSING = "(missing)"
# Han ideographs and kana are written without spaces: each character is its own token.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+")
_DESCRIBE_COLUMNS = [
    "column", "group", "count", "share_in", "share_all", "lift", "lift_low", "lift_high", "p_value",
    "loss_in", "loss_out", "loss_all",
]  # fmt: skip
_CAPTION_ALPHA = 0.05
_CAPTION_NAME_CHARS = 40


# -- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Weighted:
    """A spotlight reduced to what the summaries need, checked."""

    weights: np.ndarray
    counts: np.ndarray
    losses: np.ndarray | None

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])

    @property
    def kw(self) -> np.ndarray:
        return self.counts * self.weights


def _vector(value: Any, name: str) -> np.ndarray:
    return as_vector(value, name, dtype=torch.float64).numpy()


def _check_weights(weights: np.ndarray) -> None:
    outside = (weights < 0) | (weights > 1)
    if outside.any():
        first = np.flatnonzero(outside)[:5].tolist()
        raise ValueError(f"weights must lie in [0, 1]; {int(outside.sum())} entries do not (first at {first})")


def _weighted(
    weights: Any, losses: Any, counts: Any, *, allow_empty: bool = False, losses_required: bool = False
) -> _Weighted:
    w = _vector(weights, "weights")
    _check_weights(w)
    n = w.shape[0]
    loss = None
    if losses is not None:
        loss = _vector(losses, "losses")
        if loss.shape != w.shape:
            raise ValueError(f"weights {w.shape} and losses {loss.shape} differ in shape")
    elif losses_required:
        raise ValueError("losses are required")
    if counts is None:
        c = np.ones(n)
    else:
        c = _vector(counts, "counts")
        if c.shape != w.shape:
            raise ValueError(f"counts has {c.shape[0]} entries for {n} examples")
        if (c < 0).any():
            raise ValueError(f"counts must be non-negative; {int((c < 0).sum())} entries are negative")
        if not (c > 0).any():
            raise ValueError("counts are all zero: no example would count")
    if not allow_empty and not (c * w > 0).any():
        raise ValueError("the spotlight is empty: every weight (times its count) is zero")
    return _Weighted(weights=w, counts=c, losses=loss)


def _from_spotlight(spotlight: Any) -> _Weighted:
    if not hasattr(spotlight, "weights"):
        raise TypeError(
            f"expected a Spotlight or an object with .weights and .losses (a slice); got {type(spotlight).__name__}"
        )
    return _weighted(spotlight.weights, getattr(spotlight, "losses", None), getattr(spotlight, "counts", None))


def _metadata_frame(metadata: Any, n: int) -> pd.DataFrame:
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
        raise ValueError(f"metadata has {len(frame)} rows but the spotlight has {n} examples")
    return frame.reset_index(drop=True)


def _column_values(values: Any, n: int, name: str) -> pd.Series:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must hold one value per example, not a single string")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    series = pd.Series(values).reset_index(drop=True)
    if len(series) != n:
        raise ValueError(f"{name} has {len(series)} values for {n} examples")
    return series


# -- statistics --------------------------------------------------------------------------


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


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    return confidence


# -- breakdowns --------------------------------------------------------------------------


def groups_of(values: Any, *, bins: int = 5) -> pd.Series:
    """Group label of every example: categories as they are, many-valued numbers in quantile bins.

    Numeric columns with more than 12 distinct values are cut into ``bins`` quantile bins
    (fewer when quantiles coincide), labelled "low to high". Missing values form their own
    group, "(missing)".
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive int; got {bins!r}")
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("object")
    if pd.api.types.is_numeric_dtype(series) and series.nunique(dropna=True) > _MAX_NUMERIC_GROUPS:
        binned = pd.qcut(series, q=bins, duplicates="drop")
        labels = binned.astype("object").map(lambda iv: f"{iv.left:.4g} to {iv.right:.4g}", na_action="ignore")
        return labels.fillna(_MISSING).astype(str)
    return series.astype("object").where(series.notna(), _MISSING).astype(str)


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
        (N,) one metadata column (categories, numbers, booleans; missing values allowed).
    counts : numpy.ndarray, optional
        (N,) example multiplicities.
    bins : int
        Quantile bins for numeric columns with many values.
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
    confidence = _check_confidence(confidence)
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
        bins; missing values form the group "(missing)".
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
        Length mismatch, NaN or out-of-range weights, an empty spotlight, unknown columns.
    TypeError
        ``spotlight`` without weights, ``metadata`` that is not a table.
    """
    confidence = _check_confidence(confidence)
    data = _from_spotlight(spotlight)
    frame = _metadata_frame(metadata, data.n)
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


# -- texts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenSummary:
    """The words of a spotlight's texts against the whole corpus (paper Figure 4).

    Attributes
    ----------
    tokens : pandas.DataFrame
        The most over-represented tokens, most surprising first: ``token``, ``count``
        (texts containing it, with counts), ``count_in`` (their weight in the spotlight,
        ``sum c w``), ``share_in`` (share of the spotlight's weight on texts containing it),
        ``share_all`` (share of all texts containing it), ``lift`` and ``p_value``
        (one-sided: more often inside than overall, at the effective size ``n_eff``).
    mean_length_in : float
        Weighted mean number of tokens per text inside the spotlight.
    mean_length_all : float
        Mean number of tokens per text overall.
    examples : list of str
        The highest-weight texts, highest first.
    example_indices : numpy.ndarray
        Their row indices.
    n_eff : float
        The spotlight's effective size (Kish).
    """

    tokens: pd.DataFrame
    mean_length_in: float
    mean_length_all: float
    examples: list[str]
    example_indices: np.ndarray
    n_eff: float


def default_tokenizer(text: str) -> list[str]:
    """Lower-cased Unicode word tokens; Han ideographs and kana one character each."""
    return _TOKEN.findall(text.lower())


def _texts(texts: Any, n: int) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a sequence of str (one per example), not a single string")
    items = list(texts.tolist() if hasattr(texts, "tolist") else texts)
    if len(items) != n:
        raise ValueError(f"texts has {len(items)} entries for {n} examples")
    out = []
    for i, item in enumerate(items):
        if item is None or (isinstance(item, float) and np.isnan(item)):
            out.append("")
        elif isinstance(item, str):
            out.append(item)
        else:
            raise TypeError(f"texts must be str; entry {i} is {type(item).__name__}")
    return out


def _top_rows(weights: np.ndarray, k: int) -> np.ndarray:
    members = np.flatnonzero(weights > 0)
    order = members[np.argsort(-weights[members], kind="stable")]
    return order[:k]


def token_summary(
    texts: Sequence[str],
    spotlight: Any,
    *,
    tokenizer: Callable[[str], Iterable[str]] | None = None,
    top: int = 20,
    min_count: float = 3,
    examples: int = 5,
) -> TokenSummary:
    """The tokens a spotlight's texts use more often than the corpus does (paper Figure 4).

    A token's share is the share of texts that contain it (at least once), weighted by the
    spotlight inside and by the counts overall, so one long text repeating a word does not
    dominate.

    Parameters
    ----------
    texts : sequence of str
        One text per example; None or NaN count as empty texts.
    spotlight : Spotlight or slice
        Anything with ``.weights`` (and optionally ``.counts``), as in :func:`describe`.
    tokenizer : callable, optional
        ``str -> list of str``. Default: lower-cased Unicode word tokens (any script; Han
        ideographs and kana one character each, as they are written without spaces).
    top : int
        Rows of ``tokens`` kept.
    min_count : float
        Leave out tokens found in fewer (counted) texts in the corpus.
    examples : int
        Highest-weight texts kept.

    Returns
    -------
    TokenSummary
        Tokens with lift > 1, smallest one-sided p-value first (then highest lift): a
        token in every spotlight text beats a rare one that happens to fall inside.
    """
    data = _from_spotlight(spotlight)
    items = _texts(texts, data.n)
    tokenize = default_tokenizer if tokenizer is None else tokenizer
    if not callable(tokenize):
        raise TypeError(f"tokenizer must be callable (str -> list of str); got {type(tokenize).__name__}")
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    lengths = np.empty(data.n)
    for i, text in enumerate(items):
        tokens = tokenize(text)
        if isinstance(tokens, str) or not isinstance(tokens, Iterable):
            raise TypeError(f"the tokenizer must return a list of str; got {type(tokens).__name__}")
        tokens = list(tokens)
        if any(not isinstance(t, str) for t in tokens):
            raise TypeError("the tokenizer must return a list of str")
        lengths[i] = len(tokens)
        ids = {vocabulary.setdefault(t, len(vocabulary)) for t in tokens}
        rows.extend([i] * len(ids))
        cols.extend(ids)
    present = sparse.csr_matrix(
        (np.ones(len(rows)), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(data.n, len(vocabulary)),
    )
    kw, c = data.kw, data.counts
    mass_in, total = float(kw.sum()), float(c.sum())
    count_in = present.T @ kw
    count = present.T @ c
    share_in, share_all = count_in / mass_in, count / total
    n_eff = _n_eff(data)
    _, _, p = _share_test(share_in, share_all, n_eff, 0.95, alternative="greater")
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = share_in / share_all
    table = pd.DataFrame(
        {
            "token": list(vocabulary),
            "count": count,
            "count_in": count_in,
            "share_in": share_in,
            "share_all": share_all,
            "lift": lift,
            "p_value": p,
        }
    )
    table = table[(table["count"] >= min_count) & (table["lift"] > 1)]
    order = np.lexsort((table["token"].to_numpy(), -table["lift"].to_numpy(), table["p_value"].to_numpy()))
    table = table.iloc[order[: max(0, int(top))]].reset_index(drop=True)
    shown = _top_rows(data.weights, max(0, int(examples)))
    return TokenSummary(
        tokens=table,
        mean_length_in=float(kw @ lengths / mass_in),
        mean_length_all=float(c @ lengths / total),
        examples=[items[i] for i in shown],
        example_indices=shown,
        n_eff=n_eff,
    )


# -- labels ------------------------------------------------------------------------------


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


# -- caption -----------------------------------------------------------------------------


def _plain(value: Any, limit: int = _CAPTION_NAME_CHARS) -> str:
    """``value`` as one line of plain text: control characters become spaces, long text is cut."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _percent(share: float) -> str:
    value = 100 * share
    return f"{value:.0f}%" if value >= 9.5 or value == 0 else f"{value:.2g}%"


def _loss(value: float) -> str:
    return f"{value:.3g}"


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
        Columns to look for over-represented groups in (as :func:`describe`).
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
    if isinstance(max_parts, bool) or not isinstance(max_parts, (int, np.integer)) or max_parts < 0:
        raise ValueError(f"max_parts must be a non-negative int; got {max_parts!r}")
    data = _from_spotlight(spotlight)
    tables: list[tuple[str, pd.DataFrame]] = []
    if labels is not None:
        tables.append(("label", _class_table(_column_values(labels, data.n, "labels"), "group", data)))
    if predictions is not None:
        tables.append(("predicted", _class_table(_column_values(predictions, data.n, "predictions"), "group", data)))
    if metadata is not None:
        described = describe(data, metadata)
        for column, table in described.groupby("column", sort=False):
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
