"""Token summaries: the words of a spotlight's texts against the whole corpus."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from .._params import Interval, validate_params
from ._weighted import _from_spotlight, _top_rows
from .stats import _n_eff, _share_test

# Han ideographs and kana are written without spaces: each character is its own token.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+")


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


@validate_params(
    {
        "tokenizer": [None, callable],
        "top": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Real, 0, None, closed="left")],
        "examples": [Interval(Integral, 0, None, closed="left")],
    }
)
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
