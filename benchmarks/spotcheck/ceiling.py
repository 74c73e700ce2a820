"""How far a selector over the pooled regions' candidates could go on SpotCheck.

``pooled`` keeps 10 of the candidates error clusters and the Gaussian mixture propose. A
blindspot's discovery only grows as groups are added (each group's precision on it is its
own; more covering groups only add recall), so the discovery rate of *every* candidate
together is the most any choice among them reaches: no selector, however good, does
better. Printed per candidate pool, beside what ``pooled`` returns, as mean ± standard
error over the cached ECs (``python -m benchmarks.spotcheck`` builds them):

    .venv/bin/python -m benchmarks.spotcheck.ceiling [--limit N] [--extra 0 10 40] [--tree]

``--tree`` adds a pool no finder proposes today: every node of a Ward tree over the
examples error clusters keep as high-loss (between their smallest cluster and 4 S members,
trimmed as they trim), which holds cuts between adjacent blindspots that HDBSCAN's and the
Fiedler cut's do not.
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
from spotlight_widget.slices.error_clusters import _damp
from spotlight_widget.slices.neighbourhoods import neighbourhoods

from .infembed_diagnosis import DEFAULT_CACHES, find_cases
from .methods import slice_size
from .metrics import mean_and_se, score_groups
from .runner import N_SLICES


def _dr_fdr(found: Sequence[object], view) -> tuple[float, float]:
    """DR and FDR at 0.8/0.8 of these results' groups, after the benchmark's error filter."""
    groups = [np.asarray(s.top_indices, dtype=np.int64) for s in found]
    scores = score_groups(groups, [b for b in view.blindspots if b.size], view.errors)
    return scores["dr@0.8/0.8"], scores["fdr@0.8/0.8"]


def tree_nodes(view, *, size: int, seed: int, k: int = 15, z: float = 3.0) -> list[np.ndarray]:
    """Every node of a Ward tree over the high-local-loss examples, as error clusters find
    them (same ``k``, ``z``, projection and trim), of 0.15 S to 4 S members."""
    from scipy.cluster.hierarchy import linkage, to_tree

    near = neighbourhoods(view.embeddings, k=k, dims=50, seed=seed)
    damped = _damp(np.asarray(view.losses, dtype=np.float64))
    mean, spread = damped.mean(), damped.std()
    local = np.concatenate([damped[:, None], damped[near.indices]], axis=1).mean(1)
    high = np.flatnonzero(local > mean + z * spread / np.sqrt(k + 1))
    smallest = max(5, round(0.15 * size))
    if high.size < smallest:
        return []
    nodes, todo = [], [to_tree(linkage(near.points.numpy()[high], method="ward"))]
    while todo:
        node = todo.pop()
        if node.count < smallest:
            continue
        if node.count <= 4 * size:
            members = np.sort(high[node.pre_order()])
            inside = np.isin(near.indices[members], members).mean(1)
            kept = members[(inside >= 0.5) | (damped[members] > mean + spread)]
            if kept.size >= smallest:
                nodes.append(kept)
        if not node.is_leaf():
            todo += [node.left, node.right]
    return nodes


def ceilings(view, *, seed: int, extras: Sequence[int], tree: bool = False) -> dict[str, float]:
    """DR at 0.8/0.8 of ``pooled`` and of every candidate of pools of n + extra per source
    (and, with ``tree``, of the n per source plus ``tree_nodes``)."""
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
    if tree:
        pool = [
            *find_slices("error-clusters", view.embeddings, view.losses, n=N_SLICES, size=size, seed=seed),
            *find_slices("gmm", view.embeddings, view.losses, n=N_SLICES, size=size, seed=seed),
        ]
        groups = [np.asarray(s.top_indices, dtype=np.int64) for s in pool]
        nodes = tree_nodes(view, size=size, seed=seed)
        blindspots = [b for b in view.blindspots if b.size]
        row["Ward tree nodes alone"] = score_groups(nodes, blindspots, view.errors)["dr@0.8/0.8"] if nodes else 0.0
        row["every candidate, n per source, + Ward tree nodes"] = score_groups(groups + nodes, blindspots, view.errors)[
            "dr@0.8/0.8"
        ]
    return row


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, action="append", help="cache folder (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="use the first LIMIT ECs (0: all)")
    parser.add_argument("--extra", type=int, nargs="+", default=[0, 10, 40], help="candidates per source beyond n")
    parser.add_argument("--tree", action="store_true", help="also pool the Ward tree nodes of the high-loss examples")
    args = parser.parse_args(argv)
    if args.limit < 0 or min(args.extra) < 0:
        parser.error("--limit and --extra must be >= 0")
    torch.set_num_threads(1)
    start = time.perf_counter()
    cases = find_cases(args.cache or DEFAULT_CACHES)[: args.limit or None]
    if not cases:
        raise SystemExit("no accepted cached EC found; build some with python -m benchmarks.spotcheck")
    rows = pd.DataFrame([ceilings(c.view, seed=c.seed, extras=args.extra, tree=args.tree) for c in cases])
    print(f"{len(cases)} accepted ECs; DR at 0.8/0.8 (mean ± SE)\n")
    print("| groups | DR 0.8/0.8 |")
    print("|---|---|")
    for name in rows.columns:
        mean, se = mean_and_se(rows[name])
        print(f"| {name} | {mean:.2f} ± {se:.2f} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
