"""How well a method's slices recover the planted groups.

Definitions (per planted group G, over the first ``n`` slices a method returns):

- a slice's members are its ``top_indices``: the ``size`` highest-weight examples (a
  spotlight's top-S set, the S highest losses, a whole cluster);
- precision = |members & G| / |members|, recall = |members & G| / |G|, F1 their harmonic
  mean; the *best* slice is the one with the highest F1, and the case reports its
  precision, recall and F1;
- precision@k: k = |G|; the share of G among the k highest-weight examples of a slice
  (members ordered by weight), best over the first ``n`` slices. It judges the ranking
  inside a slice whatever size the method chose;
- discovery: some slice among the first ``n`` has precision >= ``min_precision`` and
  recall >= ``min_recall`` (0.5 each: the group is the majority of the slice and the slice
  holds the majority of the group). The discovery rate over several planted groups is the
  SpotCheck benchmark's measure (Plumb et al., 2022; InfEmbed, Section 4.2).

With several groups, a case's scores are the means over its groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GroupScore:
    """Recovery of one planted group by a list of slices."""

    precision: float
    recall: float
    f1: float
    precision_at_k: float
    discovered: bool
    best_rank: int


def _members(slice_: Any) -> np.ndarray:
    return np.asarray(slice_.top_indices, dtype=np.int64)


def score_group(
    slices: Sequence[Any], group: np.ndarray, *, min_precision: float = 0.5, min_recall: float = 0.5
) -> GroupScore:
    """Score slices (anything with ``top_indices`` and ``indices``) against one group.

    Parameters
    ----------
    slices : sequence of SliceLike
        The slices to consider, worst first (at least one).
    group : numpy.ndarray
        Row indices of the planted group (at least one).
    min_precision, min_recall : float
        Thresholds of a discovery.
    """
    if len(slices) == 0:
        raise ValueError("score_group needs at least one slice")
    group = np.unique(np.asarray(group, dtype=np.int64))
    if group.size == 0:
        raise ValueError("the planted group is empty")
    best = (-1.0, 0.0, 0.0, 0)
    p_at_k = 0.0
    discovered = False
    for rank, s in enumerate(slices):
        members = _members(s)
        hits = int(np.isin(members, group).sum())
        precision = hits / members.size if members.size else 0.0
        recall = hits / group.size
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        if f1 > best[0]:
            best = (f1, precision, recall, rank)
        ranked = np.asarray(s.indices, dtype=np.int64)[: group.size]
        p_at_k = max(p_at_k, float(np.isin(ranked, group).sum()) / group.size)
        discovered = discovered or (precision >= min_precision and recall >= min_recall)
    f1, precision, recall, rank = best
    return GroupScore(precision, recall, max(f1, 0.0), p_at_k, discovered, rank)


def score_case(slices: Sequence[Any], groups: Sequence[np.ndarray], **thresholds: float) -> dict[str, float]:
    """Mean precision, recall, F1 and precision@k over the groups, and the discovery rate."""
    scores = [score_group(slices, g, **thresholds) for g in groups]
    return {
        "precision": float(np.mean([s.precision for s in scores])),
        "recall": float(np.mean([s.recall for s in scores])),
        "f1": float(np.mean([s.f1 for s in scores])),
        "precision_at_k": float(np.mean([s.precision_at_k for s in scores])),
        "discovery_rate": float(np.mean([s.discovered for s in scores])),
    }
