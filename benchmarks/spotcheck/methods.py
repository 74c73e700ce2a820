"""The blindspot discovery methods compared, each as ``run(audit, n=..., seed=...) -> slices``.

A method receives the whole ``Audit`` view it is evaluated on (by default the positive
test images), so that it can use the embeddings, the probabilities and the true labels,
and also the train-split embeddings and the head's weights (for InfEmbed). It returns
its ranked slices, worst first; the groups scored are their ``top_indices`` (a cluster's
members; a spotlight's or a soft cluster's S highest-weight members).

Every method's slice size is S = 2 % of the rows evaluated (``spotcheck.md`` §6.10) and
the losses are the binary cross-entropy of P(square) against the true label. Two
reference methods bound the scores: "oracle" returns the blindspots themselves and
"random" returns random sets of S rows.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from spotlight_widget.engine import find_spotlights, get_preset
from spotlight_widget.infembed import head_influence_embeddings
from spotlight_widget.projection import scvis
from spotlight_widget.slices import Slice, find_slices

from ..slice_methods import Method, MethodFn, hard_slice
from .audit import Audit, default_cache

SLICE_FRACTION = 0.02
# spotcheck.md §6.10: domino's Spotlight settings (the comparison papers' baseline).
DOMINO_SPOTLIGHT = {"steps": 1000, "lr": 1e-3, "n": 5}


def slice_size(audit: Audit) -> int:
    """S: 2 % of the rows evaluated, at least 2."""
    return max(2, round(SLICE_FRACTION * audit.n_rows))


def oracle(audit: Audit, *, n: int, seed: int) -> list[Slice]:
    """The blindspots themselves (those with at least one row in the view)."""
    return [hard_slice("oracle", rows, audit, r) for r, rows in enumerate(b for b in audit.blindspots if b.size)]


def random_slices(audit: Audit, *, n: int, seed: int) -> list[Slice]:
    """``n`` random sets of S rows."""
    rng = np.random.default_rng(seed)
    s = slice_size(audit)
    return [hard_slice("random", rng.choice(audit.n_rows, s, replace=False), audit, r) for r in range(n)]


def _finder(name: str, **options: Any) -> MethodFn:
    def run(audit: Audit, *, n: int, seed: int) -> list[Any]:
        return find_slices(name, audit.embeddings, audit.losses, n=n, size=slice_size(audit), seed=seed, **options)

    return run


def spotlight_domino_settings(audit: Audit, *, n: int, seed: int) -> list[Any]:
    """The Spotlight as the comparison papers ran it (domino's defaults, §6.10): the
    paper's optimiser with 1000 steps at learning rate 1e-3, 5 slices of 2 %."""
    preset = get_preset(
        "paper", lr=DOMINO_SPOTLIGHT["lr"], anneal_steps=DOMINO_SPOTLIGHT["steps"], max_steps=DOMINO_SPOTLIGHT["steps"]
    )
    count = min(n, DOMINO_SPOTLIGHT["n"])
    return find_spotlights(audit.embeddings, audit.losses, n=count, size=slice_size(audit), seed=seed, preset=preset)


# PlaneSpot's scvis map is the slow part (about 30 s at 1,000 steps, 50 s at scvis's own
# 3,000 on one 3,000-row view of this CPU); it depends only on the embeddings, the seed
# and the steps, so it is cached beside the audits.
def _scvis_map(audit: Audit, *, seed: int, iterations: int | None) -> np.ndarray:
    key = hashlib.sha1(np.ascontiguousarray(audit.embeddings).tobytes()).hexdigest()[:16]
    path = default_cache() / "maps" / f"{key}-scvis-{iterations or 'default'}-seed{seed}.npy"
    if path.exists():
        return np.load(path)
    z = scvis(audit.embeddings, seed=seed, iterations=iterations, threads=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, z)
    return z


def _planespot(projection: str, iterations: int | None = None) -> MethodFn:
    def run(audit: Audit, *, n: int, seed: int) -> list[Any]:
        # The reference seeds scvis and the mixtures the same way for every EC (§4).
        z = _scvis_map(audit, seed=0, iterations=iterations) if projection == "scvis" else projection
        # P(square) is the probability of the true label on the positive images (§4).
        return find_slices("planespot", audit.embeddings, audit.losses, n=n, seed=0, probs=audit.probs, projection=z)

    return run


def domino_style(audit: Audit, *, n: int, seed: int) -> list[Any]:
    """The Domino-style mixture (§6.10: PCA to 128, 25 diagonal components with label and
    prediction likelihoods), its components ranked by error rate."""
    return find_slices(
        "domino-style", audit.embeddings, audit.losses, n=n, seed=seed, labels=audit.labels, probs=audit.probs
    )


def _infembed(**settings: Any) -> MethodFn:
    """InfEmbed on influence embeddings of the final Linear layer alone (§6.9), fitted on
    the training split with its flipped labels, as the model was trained."""
    damping = settings.pop("damping", 0.0)

    def run(audit: Audit, *, n: int, seed: int) -> list[Any]:
        influence = head_influence_embeddings(
            audit.train_embeddings,
            audit.train_labels,
            audit.embeddings,
            audit.labels,
            weight=audit.head_weight,
            bias=audit.head_bias,
            damping=damping,
            seed=seed,
        )
        return find_slices("infembed", influence, audit.losses, n=n, seed=seed, **settings)

    return run


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("oracle", "reference", oracle),
        Method("random", "reference", random_slices),
        Method("highest-loss", "baseline", _finder("highest-loss")),
        Method("kmeans", "clustering", _finder("kmeans")),
        Method("gmm", "clustering", _finder("gmm")),
        Method("error-clusters", "clustering", _finder("error-clusters")),
        Method("pooled", "clustering", _finder("pooled")),
        Method("spotlight", "spotlight", _finder("spotlight")),
        Method("spotlight-domino-settings", "spotlight", spotlight_domino_settings),
        # scvis at 1,000 steps: a third of the reference's 3,000 (``planespot-reference``),
        # which costs 50 CPU-seconds per view here.
        Method("planespot", "clustering", _planespot("scvis", iterations=1000)),
        Method("planespot-reference", "clustering", _planespot("scvis")),
        Method("planespot-pca", "clustering", _planespot("pca")),
        Method("domino-style", "clustering", domino_style),
        # The paper's settings as far as they are known (§6.9): P = 500, D = 100, K = 25,
        # normalised K-means, clusters ranked by the PlaneSpot score.
        Method("infembed", "infembed", _infembed(k=25, rank="planespot")),
        # What the diagnosis (infembed_diagnosis.py) found to work on this rebuild: a damped
        # Hessian (its head is near-singular) and plain K-means with K = 10.
        Method("infembed-damped", "infembed", _infembed(damping=1e-2, k=10, normalize=False, rank="planespot")),
    )
}
# The quick mode leaves out the slow variants: 1000 fixed steps per slice, and scvis
# (PlaneSpot runs there on its PCA ablation).
QUICK_METHODS = tuple(m for m in METHODS if m not in ("spotlight-domino-settings", "planespot", "planespot-reference"))
