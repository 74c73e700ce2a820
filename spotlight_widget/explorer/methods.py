"""The slice finders the explorer offers, what each needs, and how the selector names them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

PUBLISHED = ("name", "label", "noun", "title")
"""The ``MethodInfo`` fields the front end receives (``MethodInfo`` in js/types.js)."""

INPUTS = {
    "influence": "influence= (influence embeddings; see influence_embeddings)",
    "labels": "labels= (true class ids, integers in [0, C))",
    "probs": "probs= (the model's predicted class probabilities)",
}
"""Explorer inputs a method may need beyond the embeddings and losses, as error messages name them."""


@dataclass(frozen=True)
class MethodInfo:
    """A slice finder as the explorer offers it.

    Attributes
    ----------
    name, label, noun, title : str
        Its ``find_slices`` name, its name in the selector, what it calls one result, and
        a one-line explanation.
    needs : tuple of str
        Keys of ``INPUTS`` it cannot run without; it is offered by default when all are given.
    sized : bool
        Whether the requested size S changes its result (False: one fit serves every size).
    """

    name: str
    label: str
    noun: str
    title: str
    needs: tuple[str, ...] = ()
    sized: bool = True


METHODS = {
    "pooled": MethodInfo(
        "pooled",
        "Pooled regions",
        "region",
        "Error clusters and Gaussian-mixture components in one ranking: high loss in closed neighbourhoods first, "
        "near-duplicates last",
    ),
    "spotlight": MethodInfo(
        "spotlight",
        "Spotlight",
        "spotlight",
        "A contiguous high-loss region of embedding space (d'Eon et al.)",
    ),
    "error-clusters": MethodInfo(
        "error-clusters",
        "Error clusters",
        "cluster",
        "Clusters of neighbouring high-loss examples, shaped and sized by the data, worst first",
    ),
    "highest-loss": MethodInfo(
        "highest-loss", "Highest loss", "slice", "The S examples with the highest loss; next, the S after them"
    ),
    "kmeans": MethodInfo("kmeans", "K-means clusters", "cluster", "K-means clusters of the embeddings, worst first"),
    "gmm": MethodInfo(
        "gmm",
        "Gaussian mixture",
        "cluster",
        "Gaussian-mixture clusters of the embeddings, worst first",
    ),
    "infembed": MethodInfo(
        "infembed",
        "InfEmbed",
        "slice",
        "K-means on influence embeddings (Wang et al.), highest mean loss first",
        needs=("influence",),
    ),
    "planespot": MethodInfo(
        "planespot",
        "PlaneSpot",
        "cluster",
        "Mixture clusters of a 2-D map (scvis) plus the model's confidence (Plumb et al.), worst first",
        needs=("labels", "probs"),
        sized=False,
    ),
    "domino-style": MethodInfo(
        "domino-style",
        "Domino-style mixture",
        "cluster",
        "Our reimplementation of Domino's error-aware mixture over embeddings, labels and predictions "
        "(Eyuboglu et al.), highest error rate first",
        needs=("labels", "probs"),
        sized=False,
    ),
}


SELECTION = MethodInfo(
    "selection",
    "Selections",
    "selection",
    "Examples you selected (on the map or in the gallery), described as a result of their own",
    sized=False,
)
"""Not a finder: the "method" that holds the selections a user asked to describe."""


def method_info(name: str) -> MethodInfo:
    """A method's entry: a finder of ``METHODS``, or ``SELECTION``."""
    return SELECTION if name == SELECTION.name else METHODS[name]


def check_methods(
    methods: Sequence[str] | None,
    *,
    inputs: Collection[str] = (),
    has_counts: bool = False,
    has_spotlights: bool = False,
) -> tuple[str, ...]:
    """The methods to offer, the first shown first.

    Parameters
    ----------
    methods : sequence of str or None
        The methods asked for; None: every method whose ``needs`` are among ``inputs``,
        in catalogue order (so InfEmbed joins with influence embeddings, PlaneSpot and the
        Domino-style mixture with labels and probabilities), the pooled regions first.
    inputs : collection of str
        The keys of ``INPUTS`` the explorer was given.
    has_counts : bool
        Whether example multiplicities were given. Only the Spotlight honours them so
        far: the companion methods would size and rank their slices as if every count
        were 1, so they are left out by default and refused when asked for.
    has_spotlights : bool
        Whether spotlights found earlier were given: by default the Spotlight then comes
        first, so the explorer opens on them rather than on a new search.

    Raises
    ------
    ValueError
        For unknown methods, and methods whose inputs are missing (naming them).
    """
    given = set(inputs)
    if methods is None:
        if has_counts:
            return ("spotlight",)
        offered = [m for m, info in METHODS.items() if set(info.needs) <= given]
        if has_spotlights:
            offered.remove("spotlight")
            offered.insert(0, "spotlight")
        return tuple(offered)
    if isinstance(methods, str):
        methods = [methods]
    chosen = list(dict.fromkeys(methods))
    if not chosen:
        raise ValueError("methods must name at least one slice finder")
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    for m in chosen:
        missing = [need for need in METHODS[m].needs if need not in given]
        if missing:
            raise ValueError(f"the {m} method needs {' and '.join(INPUTS[need] for need in missing)}")
    ignoring = [m for m in chosen if m != "spotlight"]
    if has_counts and ignoring:
        raise ValueError(
            f"{', '.join(ignoring)} cannot take counts (only the Spotlight does); leave out counts= or them"
        )
    return tuple(chosen)
