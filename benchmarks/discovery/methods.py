"""The slice finders compared, each as ``method(case, n=..., seed=...) -> list of slices``.

Every method gets the same slice size S (``case.size``, 2 % of the data) and returns its
first ``n`` slices, worst first. Two reference methods bound the scores: "oracle" returns
the planted groups themselves (F1 = 1 by construction) and "random" returns random sets
of S examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from spotlight_widget.engine import find_spotlights
from spotlight_widget.slices import Slice, find_slices

from ..slice_methods import Method, MethodFn, hard_slice
from .cases import Case
from .prepared import discovery_inputs


def oracle(case: Case, *, n: int, seed: int) -> list[Slice]:
    """The planted groups themselves."""
    return [hard_slice("oracle", g, case, r) for r, g in enumerate(case.groups)]


def random_slices(case: Case, *, n: int, seed: int) -> list[Slice]:
    """``n`` random sets of S examples."""
    rng = np.random.default_rng(seed)
    return [hard_slice("random", rng.choice(case.n_rows, case.size, replace=False), case, r) for r in range(n)]


def neighbourhoods(case: Case, *, n: int, seed: int) -> list[Slice]:
    """The S nearest neighbours of the example whose S nearest neighbours have the highest
    mean loss; then again with the chosen examples' losses set to 0 (paper Eq. 6 for hard
    slices). A trivial contiguous-region baseline (``spotlight-method.md``)."""
    x = case.embeddings.astype(np.float64)
    x = (x - x.mean(0)) / max(float(x.std()), 1e-12)
    nbrs = NearestNeighbors(n_neighbors=case.size).fit(x).kneighbors(x, return_distance=False)
    loss = case.losses.copy()
    out = []
    for r in range(n):
        best = int(loss[nbrs].mean(1).argmax())
        out.append(hard_slice("neighbourhood", nbrs[best], case, r))
        loss[nbrs[best]] = 0.0
    return out


def _finder(name: str, embeddings: str = "embeddings", **options: Any) -> MethodFn:
    def run(case: Case, *, n: int, seed: int) -> list[Any]:
        emb = getattr(case, embeddings)
        return find_slices(name, emb, case.losses, n=n, size=case.size, seed=seed, **options)

    return run


def _spotlight(*, prepared: bool = False, size_factor: float = 1.0, **options: Any) -> MethodFn:
    def run(case: Case, *, n: int, seed: int) -> list[Any]:
        x, loss = discovery_inputs(case.embeddings, case.losses) if prepared else (case.embeddings, case.losses)
        size = max(2, round(size_factor * case.size))
        return find_spotlights(x, loss, n=n, size=size, seed=seed, **options)

    return run


# Sizes the paper's tuning tries, as multiples of S (the paper: 10 to 100 points for a
# 50-point group).
TUNED_SIZES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def spotlight_tuned(case: Case, *, n: int, seed: int, **options: Any) -> list[Any]:
    """The paper's size tuning (Section 4.6, footnote 4): search several sizes and keep the
    one whose first spotlight (its top-S set) best predicts the misclassified examples (F1);
    needs no knowledge of the planted group."""
    sizes = [max(2, round(m * case.size)) for m in TUNED_SIZES]
    found = find_spotlights(case.embeddings, case.losses, n=n, size=sizes, seed=seed, **options)
    wrong = np.flatnonzero(case.errors)

    def f1_errors(spots: list[Any]) -> float:
        top = np.asarray(spots[0].top_indices)
        hits = np.isin(top, wrong).sum()
        return 2 * hits / (top.size + wrong.size) if wrong.size else 0.0

    return max(found, key=f1_errors)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("oracle", "reference", oracle),
        Method("random", "reference", random_slices),
        Method("highest-loss", "baseline", _finder("highest-loss")),
        Method("neighbourhood", "baseline", neighbourhoods),
        Method("kmeans", "clustering", _finder("kmeans")),
        Method("gmm", "clustering", _finder("gmm")),
        Method("error-clusters", "clustering", _finder("error-clusters")),
        Method("pooled", "clustering", _finder("pooled")),
        Method("infembed", "infembed", _finder("infembed", embeddings="influence")),
        Method("spotlight", "spotlight", _spotlight()),
        Method("spotlight-paper", "spotlight", _spotlight(preset="paper")),
        Method("spotlight-restarts", "spotlight", _spotlight(restarts=8)),
        # Sizes other than the groups' (about S): each slice is scored on its own top
        # members, so half the size caps F1 at 2/3.
        Method("spotlight-half-size", "spotlight", _spotlight(size_factor=0.5)),
        Method("spotlight-double-size", "spotlight", _spotlight(size_factor=2.0)),
        Method("spotlight-tuned", "spotlight", spotlight_tuned),
        # Default settings on ``prepared.discovery_inputs`` (per-dimension scaled
        # embeddings, log1p losses): the candidate improvement of the defaults.
        Method("spotlight-prepared", "spotlight", _spotlight(prepared=True)),
    )
}
# The quick mode leaves out the slow variant (the paper preset's 5,000 fixed steps) and
# the other sizes.
QUICK_METHODS = tuple(
    m for m in METHODS if m not in ("spotlight-paper", "spotlight-half-size", "spotlight-double-size")
)
