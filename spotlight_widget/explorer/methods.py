"""The slice finders the explorer offers, and how the selector names them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodInfo:
    """A slice finder as the explorer offers it."""

    name: str
    label: str
    noun: str
    title: str


METHODS = {
    "spotlight": MethodInfo(
        "spotlight", "Spotlight", "spotlight", "A contiguous high-loss region of embedding space (d'Eon et al.)"
    ),
    "highest-loss": MethodInfo("highest-loss", "Highest loss", "slice", "The S examples with the highest loss"),
    "kmeans": MethodInfo("kmeans", "K-means clusters", "cluster", "K-means clusters of the embeddings, worst first"),
    "gmm": MethodInfo("gmm", "Gaussian mixture", "cluster", "Gaussian-mixture clusters of the embeddings, worst first"),
    "infembed": MethodInfo(
        "infembed", "InfEmbed", "slice", "K-means on influence embeddings (Wang et al.), highest mean loss first"
    ),
}


def check_methods(methods: Sequence[str] | None, *, has_influence: bool, has_counts: bool = False) -> tuple[str, ...]:
    """The methods to offer, the first shown first; by default InfEmbed joins when it can run.

    Only the Spotlight honours ``counts`` (example multiplicities) so far: with counts the
    companion methods would size and rank their slices as if every count were 1, so they
    are left out by default and refused when asked for.
    """
    if methods is None:
        if has_counts:
            return ("spotlight",)
        default = ["spotlight", "highest-loss", "kmeans", "gmm"]
        return tuple(default + (["infembed"] if has_influence else []))
    if isinstance(methods, str):
        methods = [methods]
    chosen = list(dict.fromkeys(methods))
    if not chosen:
        raise ValueError("methods must name at least one slice finder")
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if "infembed" in chosen and not has_influence:
        raise ValueError("the infembed method needs influence embeddings: pass influence= (see influence_embeddings)")
    ignoring = [m for m in chosen if m != "spotlight"]
    if has_counts and ignoring:
        raise ValueError(
            f"{', '.join(ignoring)} cannot take counts (only the Spotlight does); leave out counts= or them"
        )
    return tuple(chosen)
