"""How well a region of a given shape *could* recover each planted group: oracle fits.

``python -m benchmarks.discovery.ceilings [--seeds N] [--data NAME ...]``

For every planted group, a region of each shape is fitted to the group itself (which no
slice finder can do: it does not know the group), and its top-S members (the S examples
nearest to the group's centre under the shape's distance) are scored like any slice:

- ``exact``: the group itself, cut or padded to S examples: the cap that any slice of S
  members meets when the group holds more or fewer than S examples;
- ``ball``: Euclidean distance (the Spotlight's spherical kernel) from the group's mean;
- ``best-ball``: the best of the N balls of S nearest neighbours around every example;
- ``diagonal``: the group's per-dimension variances (an axis-aligned ellipsoid);
- ``full``: the group's covariance (Ledoit-Wolf shrinkage): any ellipsoid.

A spotlight's centre may lie anywhere, even outside the data, so ``ball`` and ``best-ball``
do not bound it from above; but a method whose scores sit near a shape's oracle fit is
limited by the shape, not by its optimiser. Embeddings are standardised first, as the
fast preset does.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.covariance import LedoitWolf

from . import cases as cases_mod
from . import models

SHAPES = ("exact", "ball", "best-ball", "diagonal", "full")


def _f1(members: np.ndarray, group: np.ndarray) -> float:
    hits = int(np.isin(members, group).sum())
    return 2 * hits / (members.size + group.size)


def _nearest(dist: np.ndarray, size: int) -> np.ndarray:
    return np.argsort(dist, kind="stable")[:size]


def _standardize(embeddings: np.ndarray) -> np.ndarray:
    x = embeddings.astype(np.float64)
    return (x - x.mean(0)) / max(float(x.std()), 1e-12)


def _balls(x: np.ndarray, size: int, block: int = 512) -> np.ndarray:
    """(N, S) indices: the S nearest neighbours of every example (itself included)."""
    sq = (x**2).sum(1)
    parts = []
    for start in range(0, x.shape[0], block):
        d = sq[start : start + block, None] - 2 * x[start : start + block] @ x.T + sq[None, :]
        parts.append(np.argpartition(d, size - 1, axis=1)[:, :size])
    return np.concatenate(parts)


def _ceilings(x: np.ndarray, balls: np.ndarray, group: np.ndarray) -> dict[str, float]:
    size = balls.shape[1]
    z = x - x[group].mean(0)
    var = x[group].var(0) + 1e-3 * x.var(0).mean()
    precision = LedoitWolf().fit(x[group]).precision_
    in_group = np.zeros(x.shape[0], dtype=bool)
    in_group[group] = True
    return {
        "exact": 2 * min(size, group.size) / (size + group.size),
        "ball": _f1(_nearest((z**2).sum(1), size), group),
        "best-ball": 2 * int(in_group[balls].sum(1).max()) / (size + group.size),
        "diagonal": _f1(_nearest((z**2 / var).sum(1), size), group),
        "full": _f1(_nearest(np.einsum("ij,jk,ik->i", z, precision, z), size), group),
    }


def group_ceilings(embeddings: np.ndarray, group: np.ndarray, size: int) -> dict[str, float]:
    """F1 of each shape's oracle fit to one group (``SHAPES``), at slice size ``size``."""
    x = _standardize(embeddings)
    return _ceilings(x, _balls(x, size), group)


def case_ceilings(case: cases_mod.Case) -> dict[str, float]:
    """Each shape's oracle F1, averaged over the case's groups."""
    x = _standardize(case.embeddings)
    balls = _balls(x, case.size)
    per_group = [_ceilings(x, balls, g) for g in case.groups]
    return {s: float(np.mean([g[s] for g in per_group])) for s in SHAPES}


def run(seeds: Sequence[int], datasets: Sequence[str]) -> pd.DataFrame:
    """Oracle fits on the noisy cases (noise does not move them: the groups' embeddings do
    not depend on evaluation labels) of every kind, data set and seed."""
    torch.set_num_threads(1)
    rows = []
    for seed in seeds:
        for data in datasets:
            for kind in cases_mod.GENERATORS:
                case = cases_mod.make_case(kind, seed, influence=False, data=data)
                rows.append({"case": case.name, "data": data, "seed": seed, **case_ceilings(case)})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """Mean oracle F1 per case and shape, and over each data set's cases."""
    by_case = table.groupby("case", sort=False)[list(SHAPES)].mean()
    by_data = table.groupby("data", sort=False)[list(SHAPES)].mean()
    by_data.index = [f"mean ({d})" for d in by_data.index]
    out = pd.concat([by_case, by_data])
    lines = ["| case | " + " | ".join(SHAPES) + " |", "|---|" + "---:|" * len(SHAPES)]
    for name, r in out.iterrows():
        lines.append(f"| {name} | " + " | ".join(f"{r[s]:.2f}" for s in SHAPES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.discovery.ceilings", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data", nargs="+", choices=sorted(models.DATASETS), default=list(models.DATASETS))
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    start = time.perf_counter()
    print(markdown(run(range(args.seeds), args.data)))
    print(f"\n{args.seeds} seed(s), {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
