"""Slice discovery on influence embeddings: InfEmbed (Algorithm 1) and InfEmbed-Rule (Section 3.4)."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import torch

from .._inputs import as_matrix, as_vector, resolve_size
from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, SIZE, Interval, Options, validate_params
from ..engine.optimize import ProgressFn
from ..slices import Slice
from ..slices.baselines import _report
from .kmeans import normalized_kmeans

Kind = Literal["auto", "correct", "loss"]
Ranking = Literal["loss", "planespot"]


@dataclass(frozen=True)
class _Outcomes:
    """Per-example outcomes: ``bad`` is the loss, or the 0/1 error when ``correct`` is set."""

    bad: np.ndarray
    correct: bool

    def score(self, rows: np.ndarray) -> float:
        """Accuracy of ``rows`` (correctness) or their mean loss."""
        mean = float(self.bad[rows].mean())
        return 1.0 - mean if self.correct else mean

    def planespot(self, rows: np.ndarray) -> float:
        """PlaneSpot's score ``|C| * mean(err)^2`` (total error times error rate).

        ``err`` is the 0/1 error with correctness, ``1 - exp(-loss)`` with losses: for a
        cross-entropy loss ``-log p(true label)`` that is ``1 - p(true label)``.
        """
        err = self.bad[rows] if self.correct else -np.expm1(-self.bad[rows])
        return rows.size * float(err.mean()) ** 2

    def details(self, rows: np.ndarray) -> dict[str, float]:
        if self.correct:
            return {"accuracy": self.score(rows)}
        return {"mean_loss": self.score(rows)}


_COUNT = [Interval(Integral, 1, None, closed="left")]
_KIND = [Options({"auto", "correct", "loss"})]
_RANKING = [Options({"loss", "planespot"})]


def _embeddings(embeddings: Any) -> np.ndarray:
    x = as_matrix(embeddings, "embeddings", dtype=torch.float64).numpy()
    if x.shape[0] < 2:
        raise ValueError(f"slice discovery needs at least 2 examples; got {x.shape[0]}")
    return x


def _outcomes(values: Any, n: int, kind: Kind) -> _Outcomes:
    raw = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    is_bool = getattr(np.asarray(raw), "dtype", None) == np.bool_
    v = as_vector(values, "losses", length=n, dtype=torch.float64).numpy()
    binary = bool(np.isin(v, (0.0, 1.0)).all())
    if kind == "auto":
        if is_bool:
            kind = "correct"
        elif binary and np.asarray(raw).dtype.kind in "iu":
            raise ValueError(
                "losses holds 0/1 integers: pass kind='correct' (1 = correct prediction) "
                "or kind='loss' (1 = error), or a bool array of correctness"
            )
        else:
            kind = "loss"
    if kind == "correct":
        if not binary:
            raise ValueError("kind='correct' needs 0/1 or True/False values (True = correct prediction)")
        return _Outcomes(1.0 - v, correct=True)
    return _Outcomes(v, correct=False)


def _ranking(rank: Ranking, out: _Outcomes) -> Ranking:
    if rank == "planespot" and not out.correct and (out.bad < 0).any():
        raise ValueError(
            "rank='planespot' reads losses as cross-entropy (error = 1 - exp(-loss)); "
            f"got {int((out.bad < 0).sum())} negative losses"
        )
    return rank


def _slice(
    method: str, rows: np.ndarray, x: np.ndarray, out: _Outcomes, rank: int, info: dict[str, Any], by: Ranking = "loss"
) -> Slice:
    weights = np.zeros(x.shape[0])
    weights[rows] = 1.0
    info = {**info, **out.details(rows), "influence_sum": x[rows].sum(0)}
    score = out.score(rows)
    if by == "planespot":
        score = info["planespot"] = out.planespot(rows)
    return Slice(method, weights, out.bad, rank=rank, score=score, info=info)


def _worst_first(groups: list[np.ndarray], out: _Outcomes, by: Ranking = "loss") -> list[int]:
    # Worst first: lowest accuracy / highest loss (or highest PlaneSpot score), then larger,
    # then first found.
    if by == "planespot":
        key = [(-out.planespot(g), -g.size, i) for i, g in enumerate(groups)]
    else:
        key = [(out.score(g) if out.correct else -out.score(g), -g.size, i) for i, g in enumerate(groups)]
    return [i for *_, i in sorted(key)]


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left")],
        "n": [None, *N_RESULTS],
        "kind": _KIND,
        "rank": _RANKING,
        "min_size": _COUNT,
        "normalize": [bool],
        "n_init": _COUNT,
        "max_iter": _COUNT,
        "seed": SEED,
    }
)
def infembed(
    embeddings: Any,
    losses: Any,
    *,
    k: int = 10,
    n: int | None = None,
    kind: Kind = "auto",
    rank: Ranking = "loss",
    min_size: int = 1,
    normalize: bool = True,
    n_init: int = 3,
    max_iter: int = 100,
    seed: int = 0,
) -> list[Slice]:
    """InfEmbed: K-means on influence embeddings, clusters ranked worst first (Algorithm 1).

    Parameters
    ----------
    embeddings : array-like, (N, D)
        Influence embeddings of the test examples (``InfluenceEmbeddings.test``), or any
        embeddings.
    losses : array-like, (N,)
        Per-example losses, or correctness as bools (True = correct prediction); see
        ``kind``. Slices are ranked by accuracy (lowest first) with correctness, by mean
        loss (highest first) with losses.
    k : int
        Number of clusters the test data is partitioned into, at most N.
    n : int, optional
        Return only the ``n`` worst slices; default all non-empty clusters.
    kind : {"auto", "correct", "loss"}
        How to read ``losses``. "auto": bools are correctness, floats are losses; 0/1
        integers are ambiguous and raise, asking for ``kind``.
    rank : {"loss", "planespot"}
        How clusters are ranked. "loss": lowest accuracy or highest mean loss first.
        "planespot": highest ``|C| * mean(err)^2`` first (PlaneSpot's score, Plumb et al.
        2023: total error times error rate), with ``err`` the 0/1 error, or
        ``1 - exp(-loss)`` for losses, which is ``1 - p(true label)`` only for
        cross-entropy losses (negative losses raise). It favours large clusters of errors
        over small clusters of a few very high losses.
    min_size : int
        Clusters with fewer examples are not returned.
    normalize : bool
        Normalise the centroids every iteration (the paper's recommendation); False runs
        ordinary K-means.
    n_init, max_iter : int
        K-means starts and iterations per start.
    seed : int
        Seeds the K-means starts.

    Notes
    -----
    Influence embeddings scale with the loss gradient, so those of badly wrong examples can
    be thousands of times longer than those of correct ones, and K-means then spends most
    of its clusters splitting the errors into small, pure slices (measured in
    ``benchmarks/bench_infembed.py``). :func:`infembed_rule` does not split a slice that
    already meets its rule.

    Returns
    -------
    list of Slice
        Method "infembed", hard 0/1 weights, ranked worst first (``rank`` 0, 1, ...).
        ``losses`` are the losses (or the 0/1 errors with correctness), ``score`` the
        accuracy (correctness), the mean loss, or the PlaneSpot score with
        ``rank="planespot"``; ``info`` holds "cluster", "k", "accuracy" or "mean_loss",
        "planespot" (with that ranking), and "influence_sum" (the members' summed
        embeddings, for :func:`slice_opponents`).
    """
    x = _embeddings(embeddings)
    out = _outcomes(losses, x.shape[0], kind)
    by = _ranking(rank, out)
    if k > x.shape[0]:
        raise ValueError(f"infembed: k ({k}) cannot exceed the number of examples ({x.shape[0]})")
    fit = normalized_kmeans(x, k, n_init=n_init, max_iter=max_iter, seed=seed, normalize=normalize)
    groups = [np.flatnonzero(fit.labels == c) for c in range(k)]
    clusters = [c for c in range(k) if groups[c].size >= min_size]
    order = [clusters[i] for i in _worst_first([groups[c] for c in clusters], out, by)][:n]
    return [_slice("infembed", groups[c], x, out, r, {"cluster": c, "k": k}, by) for r, c in enumerate(order)]


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "max_accuracy": [None, Interval(Real, 0, 1, closed="both")],
        "min_loss": [None, Interval(Real, None, None, closed="neither")],
        "min_size": _COUNT,
        "branching": [Interval(Integral, 2, None, closed="left")],
        "max_depth": _COUNT,
        "kind": _KIND,
        "normalize": [bool],
        "n_init": _COUNT,
        "seed": SEED,
    }
)
def infembed_rule(
    embeddings: Any,
    losses: Any,
    *,
    max_accuracy: float | None = None,
    min_loss: float | None = None,
    min_size: int = 25,
    branching: int = 3,
    max_depth: int = 10,
    kind: Kind = "auto",
    normalize: bool = True,
    n_init: int = 3,
    seed: int = 0,
) -> list[Slice]:
    """InfEmbed-Rule: split recursively until the slices meet a rule (paper Section 3.4).

    The test set is split into ``branching`` clusters by K-means on the influence
    embeddings; a cluster that meets the rule (at least ``min_size`` examples and accuracy
    at most ``max_accuracy``, or mean loss at least ``min_loss``) is returned as it is and
    not split further; one too small to meet it is dropped (its parts would be smaller);
    any other is split again, up to ``max_depth`` levels, unless no subset of it could meet
    the rule (too few errors, or too few high losses), which only saves time.

    Parameters
    ----------
    embeddings : array-like, (N, D)
        Influence embeddings of the test examples.
    losses : array-like, (N,)
        Correctness as bools (True = correct) for an accuracy rule, or losses for a loss
        rule (see ``kind``).
    max_accuracy : float, optional
        Rule with correctness: accuracy <= max_accuracy. Default 0.4 (the paper's).
    min_loss : float, optional
        Rule with losses (required then): mean loss >= min_loss.
    min_size : int
        Rule: at least this many examples. Default 25 (the paper's).
    branching : int
        B, clusters per split (>= 2). The paper uses 3; 2 gave similar results.
    max_depth : int
        Levels of splitting at most.
    kind, normalize, n_init, seed
        As in :func:`infembed`.

    Returns
    -------
    list of Slice
        Method "infembed-rule", disjoint hard slices meeting the rule, worst first; empty
        when none does. ``info`` has "depth", "path" (cluster at each level), the accuracy
        or mean loss, and "influence_sum".
    """
    x = _embeddings(embeddings)
    out = _outcomes(losses, x.shape[0], kind)
    meets, may_contain = _rule(out, max_accuracy, min_loss, min_size)
    found: list[tuple[np.ndarray, tuple[int, ...]]] = []
    calls = iter(range(1 << 30))

    def split(rows: np.ndarray, path: tuple[int, ...]) -> None:
        k = min(branching, rows.size)
        labels = normalized_kmeans(x[rows], k, n_init=n_init, seed=seed + next(calls), normalize=normalize).labels
        parts = [rows[labels == c] for c in range(k)]
        if sum(p.size > 0 for p in parts) < 2:
            return  # identical embeddings: no split separates them
        for c, part in enumerate(parts):
            if part.size < min_size:
                continue
            if meets(part):
                found.append((part, (*path, c)))
            elif len(path) + 1 < max_depth and may_contain(part):
                split(part, (*path, c))

    split(np.arange(x.shape[0]), ())
    order = _worst_first([rows for rows, _ in found], out)
    return [
        _slice("infembed-rule", found[i][0], x, out, r, {"depth": len(found[i][1]), "path": found[i][1]})
        for r, i in enumerate(order)
    ]


def _rule(out: _Outcomes, max_accuracy: float | None, min_loss: float | None, min_size: int):
    """``(meets, may_contain)``: whether rows meet the rule, and whether some subset of them could."""
    if out.correct:
        if min_loss is not None:
            raise ValueError("min_loss applies to losses; with correctness use max_accuracy")
        limit = 0.4 if max_accuracy is None else max_accuracy
        # A slice of m >= min_size rows with accuracy <= limit has at least (1 - limit) min_size errors.
        return (
            lambda rows: out.score(rows) <= limit,
            lambda rows: out.bad[rows].sum() >= (1 - limit) * min_size - 1e-9,
        )
    if max_accuracy is not None:
        raise ValueError("max_accuracy needs correctness (a bool array, or kind='correct'); with losses use min_loss")
    if min_loss is None:
        raise ValueError("with losses, pass min_loss=... (the rule: mean loss >= min_loss), or give correctness")
    # No slice of >= min_size rows has a higher mean loss than the min_size highest losses.
    return (
        lambda rows: out.score(rows) >= min_loss,
        lambda rows: np.partition(out.bad[rows], rows.size - min_size)[rows.size - min_size :].mean() >= min_loss,
    )


@validate_params(
    {
        "embeddings": ["array-like"],
        "losses": ["array-like"],
        "n": N_RESULTS,
        "size": SIZE,
        "seed": SEED,
        "progress": PROGRESS,
        "cancel": CANCEL,
        "k": [None, Interval(Integral, 1, None, closed="left")],
    }
)
def infembed_slices(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 3,
    size: float | int = 0.02,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: Any = None,
    k: int | None = None,
    rank: Ranking = "loss",
    min_size: int = 1,
    **options: Any,
) -> list[Slice]:
    """InfEmbed in the shape of ``find_slices``: the ``n`` worst clusters.

    Parameters
    ----------
    embeddings : array-like, (N, D)
        Precomputed influence embeddings (see :func:`influence_embeddings` and
        :func:`head_influence_embeddings`).
    losses : array-like, (N,)
        Per-example losses.
    n : int
        Slices returned, worst first.
    size : float or int
        S, a fraction or a count: sets ``k`` to about N / (2 S), clusters of 2 S on
        average. Influence-embedding clusters are uneven (K-means splits the long
        embeddings of errors finely), and with N / S clusters, as for the K-means baseline,
        a quarter of them held under S / 2 examples and planted groups of about S were
        split; N / (2 S) raised the discovery suite's InfEmbed F1 from 0.24 to 0.35 and
        its discovery rate from 0.01 to 0.19 (``benchmarks/discovery/infembed_diagnosis.py``).
    seed : int
        Seeds K-means.
    progress : callable, optional
        Receives ``SearchProgress`` at the stages "fit" and "rank".
    cancel : threading.Event or callable, optional
        Checked before each stage; raises ``SearchCancelled`` when set.
    k : int, optional
        Number of clusters, overriding ``size``. For the SpotCheck protocol: ``k=25`` (as
        in the InfEmbed authors' SpotCheck code) with ``rank="planespot"`` (the ranking of
        PlaneSpot, that benchmark's reference method).
    rank : {"loss", "planespot"}
        Highest mean loss first, or highest PlaneSpot score ``|C| * mean(1 - exp(-loss))^2``
        first (which assumes cross-entropy losses); see :func:`infembed`.
    min_size : int
        Clusters with fewer examples are never returned.
    **options
        Passed to :func:`infembed` (``normalize``, ``n_init``, ``max_iter``).

    Returns
    -------
    list of Slice
    """
    x = _embeddings(embeddings)
    if k is None:
        s = resolve_size(size, float(x.shape[0]), x.shape[0])
        k = int(min(x.shape[0], max(2, round(x.shape[0] / (2 * s)))))
    _report(progress, cancel, 0, 1, "fit")
    found = infembed(x, losses, k=k, n=n, kind="loss", rank=rank, min_size=min_size, seed=seed, **options)
    _report(progress, None, 1, 1, "rank")
    return found
