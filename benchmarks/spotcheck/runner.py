"""Build (or load) accepted ECs, run every method on each, and tabulate DR and FDR."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .audit import Audit, Settings, default_cache, load_audit
from .methods import METHODS
from .metrics import MIN_ERROR, THRESHOLDS, mean_and_se, score_groups

N_SLICES = 10
POPULATIONS = ("positives", "all")


def evaluate(
    audit: Audit,
    methods: Sequence[str],
    *,
    n: int = N_SLICES,
    population: str = "positives",
    thresholds: Sequence[tuple[float, float]] = THRESHOLDS,
    min_error: float = MIN_ERROR,
    strict: bool = False,
) -> list[dict]:
    """Score each method on one EC: one row per method (``metrics.score_groups``'s keys,
    plus the EC's seed, the method's seconds and the error message of a method that raised)."""
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {POPULATIONS}; got {population!r}")
    view = audit.positives() if population == "positives" else audit
    blindspots = [b for b in view.blindspots if b.size]
    errors = view.errors
    rows = []
    for name in methods:
        start = time.perf_counter()
        error = ""
        try:
            found = METHODS[name].run(view, n=n, seed=audit.config.seed)[:n]
            groups = [np.asarray(s.top_indices, dtype=np.int64) for s in found]
            scores = score_groups(groups, blindspots, errors, thresholds=thresholds, min_error=min_error, strict=strict)
        except (RuntimeError, ValueError) as exc:
            scores = score_groups([], blindspots, errors, thresholds=thresholds, min_error=min_error, strict=strict)
            error = f"{type(exc).__name__}: {exc}"
        rows.append(
            {
                "seed": audit.config.seed,
                "method": name,
                "family": METHODS[name].family,
                **scores,
                "seconds": time.perf_counter() - start,
                "n_rows": view.n_rows,
                "n_blindspots": len(blindspots),
                "error": error,
            }
        )
    return rows


def run_benchmark(
    configs: int,
    *,
    settings: Settings | None = None,
    methods: Sequence[str] | None = None,
    cache: Path | None = None,
    first_seed: int = 0,
    max_seeds: int | None = None,
    population: str = "positives",
    log: Callable[[str], object] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Take ECs with seeds ``first_seed``, ``first_seed + 1``, ... until ``configs`` are
    accepted (or ``max_seeds`` were tried, default 3 x ``configs``), and score every
    method on each accepted one.

    Returns
    -------
    scores : pandas.DataFrame
        One row per (accepted EC, method), see ``evaluate``.
    ecs : pandas.DataFrame
        One row per EC tried: seed, accepted, reason, A, blindspot clause counts and
        sizes among the evaluated rows, seconds to build (0 when cached).
    """
    if isinstance(configs, bool) or not isinstance(configs, int) or configs < 1:
        raise ValueError(f"configs must be a positive int; got {configs!r}")
    names = list(methods or METHODS)
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
    settings = settings or Settings()
    cache = Path(cache) if cache is not None else default_cache()
    max_seeds = max_seeds if max_seeds is not None else 3 * configs
    scores: list[dict] = []
    ecs: list[dict] = []
    accepted = 0
    for seed in range(first_seed, first_seed + max_seeds):
        if accepted == configs:
            break
        start = time.perf_counter()
        audit = load_audit(seed, settings=settings, cache=cache, log=log)
        built = time.perf_counter() - start
        view = audit.positives() if population == "positives" else audit
        ecs.append(
            {
                "seed": seed,
                "accepted": audit.accepted,
                "reason": audit.reason,
                "attributes": len(audit.config.attributes),
                "clauses": "/".join(str(len(b.clauses) - 2) for b in audit.config.blindspots),
                "blindspot_rows": "/".join(str(b.size) for b in view.blindspots),
                "n_rows": view.n_rows,
                "build_seconds": float(audit.info.get("seconds", {}).get("total", 0.0)),
                "load_seconds": built,
            }
        )
        if not audit.accepted:
            if log is not None:
                log(f"EC {seed}: rejected, {audit.reason} ({built:.1f} s)")
            continue
        accepted += 1
        start = time.perf_counter()
        scores.extend(evaluate(audit, names, population=population))
        if log is not None:
            log(
                f"EC {seed}: {accepted}/{configs} accepted, built/loaded {built:.1f} s, methods {time.perf_counter() - start:.1f} s"
            )
    return pd.DataFrame(scores), pd.DataFrame(ecs)


def summary(scores: pd.DataFrame, thresholds: Sequence[tuple[float, float]] = THRESHOLDS) -> pd.DataFrame:
    """Per method: mean and standard error over ECs of every DR / FDR column."""
    cols = [c for lp, lr in thresholds for c in (f"dr@{lp:g}/{lr:g}", f"fdr@{lp:g}/{lr:g}", f"fdr_all@{lp:g}")]
    out = []
    for method, group in scores.groupby("method", sort=False):
        row: dict[str, object] = {"method": method, "ecs": len(group)}
        for c in dict.fromkeys(cols):
            row[c], row[c + "_se"] = mean_and_se(group[c])
        row["n_kept"] = float(group["n_kept"].mean())
        row["seconds"] = float(group["seconds"].mean())
        out.append(row)
    return pd.DataFrame(out)


def markdown(scores: pd.DataFrame, thresholds: Sequence[tuple[float, float]] = THRESHOLDS) -> str:
    """The results table: DR and FDR (mean ± SE over ECs) at each threshold pair, FDR
    without the error filter, groups kept by the filter, seconds per EC."""
    table = summary(scores, thresholds)
    head = ["method", "ECs"]
    for lp, lr in thresholds:
        head += [f"DR {lp:g}/{lr:g}", f"FDR {lp:g}/{lr:g}", f"FDR unfiltered {lp:g}"]
    head += ["groups kept", "s / EC"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r["method"]), str(r["ecs"])]
        for lp, lr in thresholds:
            for c in (f"dr@{lp:g}/{lr:g}", f"fdr@{lp:g}/{lr:g}", f"fdr_all@{lp:g}"):
                cells.append(f"{r[c]:.2f} ± {r[c + '_se']:.2f}")
        cells += [f"{r['n_kept']:.1f}", f"{r['seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
