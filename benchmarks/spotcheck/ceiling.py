"""How far a selector over the pooled regions' candidates could go on SpotCheck.

``pooled`` keeps 10 of the candidates error clusters and the Gaussian mixture propose. A
blindspot's discovery only grows as groups are added (each group's precision on it is its
own; more covering groups only add recall), so the discovery rate of *every* candidate
together is the most any choice among them reaches: no selector, however good, does
better. Printed per candidate pool, beside what ``pooled`` returns, as mean ± standard
error over the cached ECs (``python -m benchmarks.spotcheck`` builds them):

    .venv/bin/python -m benchmarks.spotcheck.ceiling [--limit N] [--extra 0 10 40]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from spotlight_widget.slices import find_slices

from .infembed_diagnosis import DEFAULT_CACHES, find_cases
from .methods import slice_size
from .metrics import MIN_ERROR, discovery, error_rates, mean_and_se
from .runner import N_SLICES


def _kept(groups: Sequence[np.ndarray], errors: np.ndarray) -> list[np.ndarray]:
    """The groups that pass the benchmark's error filter."""
    return [g for g, r in zip(groups, error_rates(groups, errors), strict=True) if r >= MIN_ERROR]


def _groups(found: Sequence[object]) -> list[np.ndarray]:
    return [np.asarray(s.top_indices, dtype=np.int64) for s in found]


def ceilings(view, *, seed: int, extras: Sequence[int]) -> dict[str, float]:
    """DR at 0.8/0.8 of ``pooled`` and of every candidate of pools of n + extra per source."""
    blindspots = [b for b in view.blindspots if b.size]
    size = slice_size(view)
    row = {}
    pooled = find_slices("pooled", view.embeddings, view.losses, n=N_SLICES, size=size, seed=seed)
    found = discovery(_kept(_groups(pooled), view.errors), blindspots)
    row["pooled (its 10 groups)"], row["pooled's FDR"] = found.dr, found.fdr
    for extra in extras:
        n = N_SLICES + extra
        pool = [
            *find_slices("error-clusters", view.embeddings, view.losses, n=n, size=size, seed=seed),
            *find_slices("gmm", view.embeddings, view.losses, n=n, size=size, seed=seed),
        ]
        row[f"every candidate, n + {extra} per source"] = discovery(_kept(_groups(pool), view.errors), blindspots).dr
    return row


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, action="append", help="cache folder (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="use the first LIMIT ECs (0: all)")
    parser.add_argument("--extra", type=int, nargs="+", default=[0, 10, 40], help="candidates per source beyond n")
    args = parser.parse_args(argv)
    if args.limit < 0 or min(args.extra) < 0:
        parser.error("--limit and --extra must be >= 0")
    torch.set_num_threads(1)
    start = time.perf_counter()
    cases = find_cases(args.cache or DEFAULT_CACHES)[: args.limit or None]
    if not cases:
        raise SystemExit("no accepted cached EC found; build some with python -m benchmarks.spotcheck")
    rows = pd.DataFrame([ceilings(c.view, seed=c.seed, extras=args.extra) for c in cases])
    print(f"{len(cases)} accepted ECs; DR at 0.8/0.8 (mean ± SE)\n")
    print("| groups | DR 0.8/0.8 |")
    print("|---|---|")
    for name in rows.columns:
        mean, se = mean_and_se(rows[name])
        print(f"| {name} | {mean:.2f} ± {se:.2f} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
