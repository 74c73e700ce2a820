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
from .metrics import mean_and_se, score_groups
from .runner import N_SLICES


def _dr_fdr(found: Sequence[object], view) -> tuple[float, float]:
    """DR and FDR at 0.8/0.8 of these results' groups, after the benchmark's error filter."""
    groups = [np.asarray(s.top_indices, dtype=np.int64) for s in found]
    scores = score_groups(groups, [b for b in view.blindspots if b.size], view.errors)
    return scores["dr@0.8/0.8"], scores["fdr@0.8/0.8"]


def ceilings(view, *, seed: int, extras: Sequence[int]) -> dict[str, float]:
    """DR at 0.8/0.8 of ``pooled`` and of every candidate of pools of n + extra per source."""
    size = slice_size(view)
    row = {}
    pooled = find_slices("pooled", view.embeddings, view.losses, n=N_SLICES, size=size, seed=seed)
    row["pooled (its 10 groups)"], row["pooled's FDR"] = _dr_fdr(pooled, view)
    for extra in extras:
        n = N_SLICES + extra
        pool = [
            *find_slices("error-clusters", view.embeddings, view.losses, n=n, size=size, seed=seed),
            *find_slices("gmm", view.embeddings, view.losses, n=n, size=size, seed=seed),
        ]
        row[f"every candidate, n + {extra} per source"] = _dr_fdr(pool, view)[0]
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
