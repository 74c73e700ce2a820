"""``python -m benchmarks.spotcheck.infembed_diagnosis``: why InfEmbed scores near 0 on the SpotCheck rebuild.

The InfEmbed paper reports DR 0.91 / FDR 0.15 on SpotCheck (Table 2). Its protocol as we
run it (``shared/notes/spotcheck.md`` §6.9): influence embeddings of the head's final
Linear layer (``head_influence_embeddings``: P = 500 capped at the 129 parameters,
D = 100), K-means with normalised centroids, K = 25, clusters ranked by the PlaneSpot
score, the top 10 scored after the error filter. On the cached ECs that scores DR 0.00.

For a one-logit BCE head the per-example gradient is ``(p - y) [h, 1]``: on the positive
images ``-(1 - p) [h, 1]``, the direction of ``[h, 1]`` for every image, scaled by the
error ``1 - p``. The influence embedding whitens it with the training Hessian
``mean p (1 - p) [h, 1][h, 1]^T``, which depends on the predictions only (not on the
labels, flipped or not). This script measures, on every accepted cached EC:

1. the Hessian: its spectrum, how many directions survive, how well the Arnoldi
   factorisation matches an exact eigendecomposition, that the labels do not change it,
   and how much of the errors' embedding lies in its flattest directions;
2. where each blindspot's members go among the paper-setting clusters (rank, size,
   precision, recall, error rate of the cluster holding most of them) and how heavily
   the errors outweigh the correct images;
3. the geometry: the 10-nearest-neighbour purity of each blindspot in several spaces
   (penultimate embeddings, ``[h, 1]`` raw and whitened, the influence embedding);
4. InfEmbed with one setting changed at a time (population, K, plain K-means, ranking,
   influence embedding, damping, rank D), then a few combinations, with the K-means
   baseline of the benchmark as a reference. "DR any" is the DR of the whole partition
   (every cluster, no error filter): whether the clusters isolate the blindspots at all.

Caches are read, never built; ECs with ``accepted == False`` are skipped. One thread;
about 1.5 minutes for the default 12 ECs, 3.5 for 28 (``--limit 0``).

What it showed on 28 ECs (``--limit 0``, DR and FDR at λp = λr = 0.8):

- no bug: Arnoldi matches the exact eigendecomposition (Gram error ~1e-8), the train
  labels are the flipped ones the head was trained on, and they do not enter the Hessian;
- the head is overconfident (median train p(1 - p) 3e-10 to 1e-53), so the Hessian spans
  5-10 orders of magnitude within its top 100 of 129 directions; whitening by it puts
  16-90 % of the errors' embedding in the flattest 10 % of the kept directions and drops
  the blindspots' 10-NN purity from 0.93 ([h, 1] directions) to 0.81;
- the error weight (errors carry 87-99.6 % of the embeddings' norm) puts every centroid
  on the errors, so K = 25 splits each blindspot over 3-25 clusters: without the Hessian
  the partition still isolates the blindspots (DR any 0.80) but its top 10 do not (0.12);
- K about 10 and plain K-means on the gradient, or on a damped (1e-2) or rank-10
  influence embedding, reach DR 0.76-0.81 (FDR 0.11-0.17); 0.98-1.00 at λ = 0.5. The rest is
  lost where K = 10 merges the errors of two blindspots.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from spotlight_widget.infembed import head_influence_embeddings, infembed, infembed_rule
from spotlight_widget.slices import find_slices

from .audit import Audit, default_cache, read_audit
from .methods import slice_size
from .metrics import MIN_ERROR, discovery, error_rates, mean_and_se, score_groups

DEFAULT_CACHES = (Path("/tmp/sc_cache"), default_cache())
N_SLICES = 10
NEIGHBOURS = 10
POPULATIONS = ("positives", "all")
RANKINGS = ("planespot", "loss", "error rate")


@dataclass(frozen=True, eq=False)
class Case:
    """One accepted EC, seen on one population of its test images.

    Attributes
    ----------
    name : str
        ``<cache folder>/<ec file>``, to tell apart two caches of the same seed.
    audit : Audit
        The whole test split (and the train split and head behind it).
    view : Audit
        The rows audited: ``audit.positives()`` or ``audit``.
    """

    name: str
    audit: Audit
    view: Audit
    _memo: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def blindspots(self) -> list[np.ndarray]:
        return [b for b in self.view.blindspots if b.size]

    @property
    def seed(self) -> int:
        return int(self.audit.config.seed)

    def head_inputs(self, which: str = "view") -> np.ndarray:
        """``[h, 1]`` of the view's rows (or of the train split), float64."""
        h = self.view.embeddings if which == "view" else self.audit.train_embeddings
        return np.hstack([h.astype(np.float64), np.ones((h.shape[0], 1))])

    def memo(self, key: Any, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


def find_cases(caches: Iterable[Path]) -> list[Case]:
    """Every accepted audit ``ec*.npz`` (with its ``.json``) one folder below each cache,
    on its positive test images (the main protocol)."""
    cases = []
    for cache in caches:
        for npz in sorted(Path(cache).expanduser().glob("*/ec*.npz")):
            if not npz.with_suffix(".json").exists() or npz.name.endswith(".tmp.npz"):
                continue
            audit = read_audit(npz.with_suffix(""))
            if not audit.accepted:
                continue
            cases.append(Case(f"{Path(cache).name}/{npz.stem}", audit, audit.positives()))
    return cases


def with_population(case: Case, population: str) -> Case:
    """The same EC on "positives" or "all" its test images (embeddings computed afresh)."""
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {POPULATIONS}; got {population!r}")
    view = case.audit.positives() if population == "positives" else case.audit
    return Case(case.name, case.audit, view)


# --- embeddings ------------------------------------------------------------------------


def influence(case: Case, *, train_labels: np.ndarray | None = None, **options: Any) -> np.ndarray:
    """Influence embeddings of the view through the head's fc: ``head_influence_embeddings``
    as the benchmark calls it (P = 500 capped at 129, D = 100, 5,000 Hessian samples)."""
    a, v = case.audit, case.view
    labels = a.train_labels if train_labels is None else train_labels
    key = ("influence", tuple(sorted(options.items())), None if train_labels is None else train_labels.tobytes())

    def compute() -> np.ndarray:
        with warnings.catch_warnings():
            # Dropping flat Hessian directions is reported in the Hessian table instead.
            warnings.simplefilter("ignore", RuntimeWarning)
            return head_influence_embeddings(
                a.train_embeddings,
                labels,
                v.embeddings,
                v.labels,
                weight=a.head_weight,
                bias=a.head_bias,
                seed=case.seed,
                **options,
            )

    return case.memo(key, compute)


def gradient(case: Case) -> np.ndarray:
    """The raw per-example gradient ``(p - y) [h, 1]`` (no Hessian)."""
    v = case.view
    return (v.probs - v.labels)[:, None] * case.head_inputs()


def unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def train_hessian(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of the exact BCE Hessian of the head's mean
    training loss over the whole train split, ``mean p (1 - p) [h, 1][h, 1]^T``."""

    def compute() -> np.ndarray:
        x = case.head_inputs("train")
        w = np.r_[case.audit.head_weight.ravel(), case.audit.head_bias].astype(np.float64)
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        values, vectors = np.linalg.eigh((x * (p * (1 - p))[:, None]).T @ x / x.shape[0])
        return np.vstack([values[::-1], vectors[:, ::-1]])

    both = case.memo("hessian", compute)
    return both[0], both[1:]


def exact_influence(case: Case, *, rank: int = 100, damping: float = 0.0, rtol: float = 1e-6) -> np.ndarray:
    """``lambda^-1/2 M^T g`` from ``train_hessian``: the top ``rank`` eigenpairs, ``damping``
    added, eigenvalues at or below ``rtol`` x the largest dropped (``factor_hessian``'s rule).
    Table 1 checks it against ``head_influence_embeddings``; it is used for the D and damping
    variants because one eigendecomposition serves them all."""
    values, vectors = train_hessian(case)
    values, vectors = values[:rank] + damping, vectors[:, :rank]
    keep = values > rtol * values[0]
    return (gradient(case) @ vectors[:, keep]) / np.sqrt(values[keep])


PAPER_EMBEDDING = "influence (paper: D=100)"
GRADIENT = "gradient (p-y)[h,1], no Hessian"
EMBEDDINGS: dict[str, Callable[[Case], np.ndarray]] = {
    PAPER_EMBEDDING: influence,
    "influence, exact Hessian D=100": exact_influence,
    "influence D=129 (all kept)": lambda c: exact_influence(c, rank=129),
    "influence D=50": lambda c: exact_influence(c, rank=50),
    "influence D=25": lambda c: exact_influence(c, rank=25),
    "influence D=10": lambda c: exact_influence(c, rank=10),
    "influence damping 1e-4": lambda c: exact_influence(c, damping=1e-4),
    "influence damping 1e-3": lambda c: exact_influence(c, damping=1e-3),
    "influence damping 1e-2": lambda c: exact_influence(c, damping=1e-2),
    GRADIENT: gradient,
    "unit influence (directions only)": lambda c: unit(influence(c)),
    "unit [h,1] (no Hessian, no error)": lambda c: unit(c.head_inputs()),
    "penultimate h": lambda c: c.view.embeddings.astype(np.float64),
}


def embedding(case: Case, name: str) -> np.ndarray:
    """The embedding ``EMBEDDINGS[name]`` of ``case``, computed once."""
    return case.memo(("embedding", name), lambda: EMBEDDINGS[name](case))


# --- clustering and scoring ------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One InfEmbed setting; ``k=None`` means N / S (S = 2 % of the rows)."""

    label: str
    embedding: str = PAPER_EMBEDDING
    population: str = "positives"
    k: int | None = 25
    normalize: bool = True
    ranking: str = "planespot"
    rule: bool = False  # InfEmbed-Rule as in the authors' SpotCheck code (k, ranking unused)

    def __post_init__(self) -> None:
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"unknown embedding {self.embedding!r}; choose from {list(EMBEDDINGS)}")
        if self.population not in POPULATIONS or self.ranking not in RANKINGS:
            raise ValueError(f"population must be in {POPULATIONS} and ranking in {RANKINGS}")
        if self.k is not None and self.k < 2:
            raise ValueError(f"k must be >= 2 or None (N / S); got {self.k}")


PAPER = Variant("paper setting")


def clusters(case: Case, variant: Variant) -> list[np.ndarray]:
    """Every non-empty cluster of ``variant`` on ``case``, ranked worst first (InfEmbed-Rule:
    the slices meeting its rule)."""
    v = case.view
    x = embedding(case, variant.embedding)
    if variant.rule:
        # The authors' rule (accuracy under 0.2, stop under 50 rows, depth 5, branching 2),
        # with the size halved for our test split (3,000 positives instead of 6,400).
        found = infembed_rule(
            x,
            ~v.errors,
            max_accuracy=0.2,
            min_size=25,
            branching=2,
            max_depth=5,
            normalize=variant.normalize,
            seed=case.seed,
        )
        return [np.asarray(s.top_indices, dtype=np.int64) for s in found]
    k = variant.k if variant.k is not None else round(v.n_rows / slice_size(v))
    # Correctness makes infembed rank by accuracy, i.e. by error rate.
    outcome, rank = (~v.errors, "loss") if variant.ranking == "error rate" else (v.losses, variant.ranking)
    found = infembed(x, outcome, k=k, rank=rank, normalize=variant.normalize, seed=case.seed)
    return [np.asarray(s.top_indices, dtype=np.int64) for s in found]


def score(case: Case, groups: Sequence[np.ndarray]) -> dict[str, float]:
    """The benchmark's scores of the top 10 groups, plus the partition's own DR ("dr_any")."""
    v = case.view
    row = score_groups(list(groups[:N_SLICES]), case.blindspots, v.errors)
    row["dr_any"] = discovery(list(groups), case.blindspots).dr if groups else 0.0
    row["k"] = len(groups)
    return row


def error_ceiling(case: Case) -> list[np.ndarray]:
    """Each blindspot's errors as one group: the best an error-only slicer can return.

    A gradient ``(p - y) [h, 1]`` vanishes on correct images, so InfEmbed groups them with
    the other correct images, whatever blindspot they are in; this bounds its recall."""
    wrong = np.flatnonzero(case.view.errors)
    return [g for g in (np.intersect1d(t, wrong) for t in case.blindspots) if g.size]


def kmeans_reference(case: Case) -> list[np.ndarray]:
    """The benchmark's K-means baseline (penultimate h, K = N / S, mean-loss ranking), every cluster."""
    v = case.view
    found = find_slices("kmeans", v.embeddings, v.losses, n=10**6, size=slice_size(v), seed=case.seed)
    return [np.asarray(s.top_indices, dtype=np.int64) for s in found]


# --- tables ----------------------------------------------------------------------------


def hessian_table(cases: Sequence[Case], *, checks: int = 3) -> pd.DataFrame:
    """Per EC: the Hessian's spectrum and how the embeddings are built.

    On the first ``checks`` ECs (each costs two more factorisations) also: the largest
    change of the paper embedding when the Hessian is fitted with every training label
    swapped, and the Arnoldi factorisation (every training example, D = 25) against the
    exact eigendecomposition, as the relative error of the Gram matrix of the embeddings.
    """
    rows = []
    for i, case in enumerate(cases):
        a = case.audit
        values, _ = train_hessian(case)
        logits = case.head_inputs("train") @ np.r_[a.head_weight.ravel(), a.head_bias]
        p = 1.0 / (1.0 + np.exp(-logits))
        paper = influence(case)
        errors = paper[case.view.errors]
        energy = (errors**2).sum(0) / (errors**2).sum()
        row: dict[str, Any] = {
            "ec": case.name,
            "lambda_1": values[0],
            "lambda_100": values[99],
            "l1/l100": values[0] / values[99],
            "null dims": int((values < 1e-12 * values[0]).sum()),
            "D kept": paper.shape[1],
            "train p(1-p) median": float(np.median(p * (1 - p))),
            "train acc, given labels": float(((logits >= 0) == (a.train_labels == 1)).mean()),
            "if labels were true": 1 - sum(a.info["train_in_blindspots"]) / a.train_labels.size,
            "err energy, flattest 10%": float(energy[-max(1, paper.shape[1] // 10) :].sum()),
        }
        if i < checks:
            swapped = influence(case, train_labels=(1 - a.train_labels).astype(a.train_labels.dtype))
            row["change, labels 1-y"] = float(np.abs(swapped - paper).max() / np.abs(paper).max())
            arnoldi = influence(case, rank=25, hessian_samples=a.train_labels.size)
            exact = exact_influence(case, rank=25)
            gram = exact @ exact.T
            row["gram err D=25"] = float(np.linalg.norm(arnoldi @ arnoldi.T - gram) / np.linalg.norm(gram))
        rows.append(row)
    return pd.DataFrame(rows)


def breakdown_table(cases: Sequence[Case], variant: Variant = PAPER) -> pd.DataFrame:
    """Per blindspot: where its members go among ``variant``'s clusters."""
    rows = []
    for case in cases:
        v = case.view
        groups = clusters(case, variant)
        rates = error_rates(groups, v.errors)
        x = embedding(case, variant.embedding)
        norms = np.linalg.norm(x, axis=1)
        err_mass = norms[v.errors].sum() / norms.sum()
        label = np.full(v.n_rows, -1)
        for r, g in enumerate(groups):
            label[g] = r
        for j, t in enumerate(case.blindspots):
            ranks, counts = np.unique(label[t], return_counts=True)
            main = int(ranks[np.argmax(counts)])
            g = groups[main]
            top = label[t] < N_SLICES
            kept = top & np.isin(label[t], [r for r in range(min(N_SLICES, len(groups))) if rates[r] >= MIN_ERROR])
            rows.append(
                {
                    "ec": case.name,
                    "bs": j,
                    "size": t.size,
                    "errors": int(v.errors[t].sum()),
                    "clusters": ranks.size,
                    "in top10": float(top.mean()),
                    "in kept top10": float(kept.mean()),
                    "main rank": main,
                    "main size": g.size,
                    "main prec": float(np.isin(g, t).mean()),
                    "main recall": float(counts.max() / t.size),
                    "main err rate": float(rates[main]),
                    "errors' share of norm": float(err_mass),
                }
            )
    return pd.DataFrame(rows)


def _neighbour_purity(x: np.ndarray, t: np.ndarray, *, cosine: bool) -> float:
    """Mean share of each member's ``NEIGHBOURS`` nearest rows that are members too."""
    z = unit(x) if cosine else x
    q = z[t]
    if cosine:
        dist = -(q @ z.T)
    else:
        dist = (q**2).sum(1)[:, None] - 2 * q @ z.T + (z**2).sum(1)[None, :]
    dist[np.arange(t.size), t] = np.inf
    nearest = np.argpartition(dist, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
    return float(np.isin(nearest, t).mean())


GEOMETRIES: dict[str, tuple[str, bool]] = {
    "h euclid": ("penultimate h", False),
    "h cosine": ("penultimate h", True),
    "[h,1] cosine": ("unit [h,1] (no Hessian, no error)", True),
    "infl D=100 cosine": ("influence (paper: D=100)", True),
    "infl D=25 cosine": ("influence D=25", True),
    "infl damp 1e-3 cosine": ("influence damping 1e-3", True),
    "gradient euclid": (GRADIENT, False),
}


def geometry_table(cases: Sequence[Case]) -> pd.DataFrame:
    """Per blindspot: 10-NN purity in each space, the chance level |T| / N, and their means."""
    rows = []
    for case in cases:
        for j, t in enumerate(case.blindspots):
            row: dict[str, Any] = {"ec": case.name, "bs": j, "chance": t.size / case.view.n_rows}
            for name, (space, cosine) in GEOMETRIES.items():
                x = embedding(case, space)
                row[name] = _neighbour_purity(x, t, cosine=cosine)
            rows.append(row)
    frame = pd.DataFrame(rows)
    mean = {"ec": "mean", "bs": "", **frame.drop(columns=["ec", "bs"]).mean().to_dict()}
    return pd.concat([frame, pd.DataFrame([mean])], ignore_index=True)


ONE_AT_A_TIME: tuple[Variant, ...] = (
    PAPER,
    Variant("population: all test images", population="all"),
    Variant("K=5", k=5),
    Variant("K=10", k=10),
    Variant("K=N/S (50)", k=None),
    Variant("plain K-means", normalize=False),
    Variant("ranking: mean loss", ranking="loss"),
    Variant("ranking: error rate", ranking="error rate"),
    *(Variant(f"emb: {name}", embedding=name) for name in list(EMBEDDINGS)[1:]),
)

COMBINATIONS: tuple[Variant, ...] = (
    *(Variant(f"gradient, plain, K={k}", embedding=GRADIENT, k=k, normalize=False) for k in (8, 10, 12)),
    Variant("gradient, normalised, K=10", embedding=GRADIENT, k=10),
    Variant("gradient, plain, K=10, all images", embedding=GRADIENT, k=10, normalize=False, population="all"),
    Variant("paper influence, plain, K=10", k=10, normalize=False),
    Variant("infl D=25, plain, K=10", embedding="influence D=25", k=10, normalize=False),
    Variant("infl D=10, plain, K=10", embedding="influence D=10", k=10, normalize=False),
    Variant("infl damping 1e-2, plain, K=10", embedding="influence damping 1e-2", k=10, normalize=False),
    Variant("infl damping 1e-2, normalised, K=10", embedding="influence damping 1e-2", k=10),
    Variant("InfEmbed-Rule, paper influence", rule=True),
    Variant("InfEmbed-Rule, infl D=10", embedding="influence D=10", rule=True),
)
BEST = COMBINATIONS[1]


def variant_table(cases: Sequence[Case], variants: Sequence[Variant], *, reference: bool = True) -> pd.DataFrame:
    """Mean (SE) of the scores of each variant over the ECs; the K-means baseline first."""
    by_population: dict[str, list[Case]] = {"positives": list(cases)}
    results: list[tuple[str, pd.DataFrame]] = []
    if reference:
        results.append(("ceiling: each blindspot's errors", pd.DataFrame([score(c, error_ceiling(c)) for c in cases])))
        results.append(
            ("reference: K-means on h (benchmark)", pd.DataFrame([score(c, kmeans_reference(c)) for c in cases]))
        )
    for variant in variants:
        if variant.population not in by_population:
            by_population[variant.population] = [with_population(c, variant.population) for c in cases]
        rows = [score(c, clusters(c, variant)) for c in by_population[variant.population]]
        results.append((variant.label, pd.DataFrame(rows)))
    table = []
    for label, frame in results:
        row: dict[str, Any] = {"variant": label}
        for key in ("dr@0.8/0.8", "fdr@0.8/0.8", "dr@0.5/0.5", "dr_any"):
            mean, se = mean_and_se(frame[key])
            row[key] = f"{mean:.2f} ({se:.2f})"
        row["kept"] = f"{frame['n_kept'].mean():.1f}"
        row["fdr_all@0.8"] = f"{frame['fdr_all@0.8'].mean():.2f}"
        table.append(row)
    return pd.DataFrame(table)


def _print(title: str, frame: pd.DataFrame) -> None:
    print(f"\n## {title}\n")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3g}".format):
        print(frame.to_string(index=False))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, action="append", help="cache folder (repeatable); default both")
    parser.add_argument("--limit", type=int, default=12, help="use the first LIMIT ECs (0: all; default 12)")
    parser.add_argument("--checks", type=int, default=3, help="ECs given the slow Hessian checks (default 3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.limit < 0 or args.checks < 0:
        parser.error("--limit and --checks must be >= 0")
    cases = find_cases(args.cache or DEFAULT_CACHES)[: args.limit or None]
    if not cases:
        raise SystemExit("no accepted cached EC found; build some with python -m benchmarks.spotcheck")
    print(f"{len(cases)} accepted ECs: " + ", ".join(c.name for c in cases))
    _print("1. Hessian of the head (train split, labels as trained)", hessian_table(cases, checks=args.checks))
    _print("2a. Where each blindspot goes (paper setting, positives)", breakdown_table(cases))
    _print(f"2b. The same for '{BEST.label}'", breakdown_table(cases, BEST))
    _print("3. Geometry: 10-NN purity of each blindspot (positives)", geometry_table(cases))
    _print("4. One setting changed at a time (mean (SE) over ECs)", variant_table(cases, ONE_AT_A_TIME))
    _print("5. Combinations", variant_table(cases, COMBINATIONS, reference=False))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
