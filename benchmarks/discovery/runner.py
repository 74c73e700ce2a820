"""Run every method on every case over several seeds; tabulate means and spreads."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from . import cases as cases_mod
from . import models
from .methods import METHODS, QUICK_METHODS
from .scoring import score_case

SCORES = ("f1", "precision", "recall", "precision_at_k", "discovery_rate")


def slices_wanted(case: cases_mod.Case) -> int:
    """Slices each method returns: two more than the planted groups (the paper shows 3-5)."""
    return len(case.groups) + 2


def run_case(case: cases_mod.Case, methods: Sequence[str]) -> list[dict]:
    """Score each method on one case; a method that raises scores 0 and keeps its error."""
    rows = []
    n = slices_wanted(case)
    in_rate, out_rate = case.error_rates()
    for name in methods:
        start = time.perf_counter()
        error = ""
        try:
            scores = score_case(METHODS[name].run(case, n=n, seed=case.seed), case.groups)
        except (RuntimeError, ValueError) as exc:
            scores = dict.fromkeys(SCORES, 0.0)
            error = f"{type(exc).__name__}: {exc}"
        rows.append(
            {
                "case": case.name,
                "kind": case.kind,
                "data": case.data,
                "seed": case.seed,
                "method": name,
                "family": METHODS[name].family,
                **scores,
                "seconds": time.perf_counter() - start,
                "n_rows": case.n_rows,
                "size": case.size,
                "group_sizes": "/".join(str(len(g)) for g in case.groups),
                "group_error": in_rate,
                "other_error": out_rate,
                "error": error,
            }
        )
    return rows


def run_suite(
    seeds: Sequence[int],
    *,
    quick: bool = False,
    methods: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    log: Callable[[str], object] | None = print,
) -> pd.DataFrame:
    """Generate the cases for every seed and score every method on them.

    Parameters
    ----------
    seeds : sequence of int
        One set of cases (data split, planted groups, models) per seed.
    quick : bool
        Only the noisy variant of each case and the methods of ``QUICK_METHODS`` (for CI).
    methods, kinds, datasets : sequences of str, optional
        Restrict the methods (names in ``METHODS``), the case kinds or the data sets
        (``models.DATASETS``).
    log : callable, optional
        Receives one line per case.

    Returns
    -------
    pandas.DataFrame
        One row per (seed, case, method) with the scores of ``scoring.score_case``, the
        method's seconds, and the case's group sizes and error rates.
    """
    names = list(methods or (QUICK_METHODS if quick else METHODS))
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
    kinds = tuple(kinds or cases_mod.GENERATORS)
    datasets = tuple(datasets or models.DATASETS)
    noises = (cases_mod.DEFAULT_NOISE,) if quick else (0.0, cases_mod.DEFAULT_NOISE)
    # One thread: the machine is shared, and the small models gain nothing from more.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    rows: list[dict] = []
    try:
        for seed, data, kind, noise in itertools.product(seeds, datasets, kinds, noises):
            start = time.perf_counter()
            case = cases_mod.make_case(kind, seed, noise=noise, influence="infembed" in names, data=data)
            made = time.perf_counter() - start
            rows.extend(run_case(case, names))
            if log is not None:
                spent = time.perf_counter() - start - made
                log(f"seed {seed} {case.name}: case {made:.1f} s, methods {spent:.1f} s")
    finally:
        torch.set_num_threads(before)
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, score: str = "f1") -> pd.DataFrame:
    """Mean and spread of ``score`` per method and case, and over all cases.

    The spread of a case is the standard deviation over seeds; that of "all" is the
    standard deviation over seeds of each seed's mean over the cases.
    """
    by_case = results.groupby(["method", "case"], sort=False)[score].agg(["mean", "std"])
    table = by_case["mean"].unstack("case")
    spread = by_case["std"].unstack("case")
    per_seed = results.groupby(["method", "seed"], sort=False)[score].mean().groupby("method", sort=False)
    out = pd.DataFrame(index=table.index)
    out["all"] = per_seed.mean()
    out["all_std"] = per_seed.std().fillna(0.0)
    for col in table.columns:
        out[col] = table[col]
        out[col + "_std"] = spread[col].fillna(0.0)
    return out


def markdown(results: pd.DataFrame) -> str:
    """The results table: mean F1 (± spread over seeds) over all cases and per data set,
    precision, recall, precision@k and discovery rate, and each method's gap to the
    baselines; then one table of F1 per case for each data set."""
    f1 = summarize(results, "f1")
    datasets = list(results["data"].unique())
    per_data = results.groupby(["method", "data"], sort=False)["f1"].mean().unstack("data")
    overall = {s: results.groupby("method", sort=False)[s].mean() for s in SCORES}
    seconds = results.groupby("method", sort=False)["seconds"].mean()
    base = overall["f1"]
    ref_hl = base.get("highest-loss", np.nan)
    clustering = [m for m in ("kmeans", "gmm") if m in base.index]
    ref_cl = max(base[m] for m in clustering) if clustering else np.nan
    head = [
        "method",
        "F1 (all)",
        *(f"F1 {d}" for d in datasets),
        "precision",
        "recall",
        "P@k",
        "DR",
        "ΔF1 vs highest-loss",
        "ΔF1 vs best clustering",
        "s / call",
    ]
    lines = _row(head, header=True)
    for m in f1.index:
        cells = [m, f"{f1.loc[m, 'all']:.2f} ± {f1.loc[m, 'all_std']:.2f}"]
        cells += [f"{per_data.loc[m, d]:.2f}" for d in datasets]
        cells += [f"{overall[s][m]:.2f}" for s in ("precision", "recall", "precision_at_k", "discovery_rate")]
        cells += [f"{base[m] - ref_hl:+.2f}", f"{base[m] - ref_cl:+.2f}", f"{seconds[m]:.1f}"]
        lines += _row(cells)
    for d in datasets:
        cases = list(results.loc[results["data"] == d, "case"].unique())
        lines += ["", f"F1 per case on {d} (mean ± spread over seeds):", ""]
        lines += _row(["method", *cases], header=True)
        for m in f1.index:
            lines += _row([m, *(f"{f1.loc[m, c]:.2f} ± {f1.loc[m, c + '_std']:.2f}" for c in cases)])
    return "\n".join(lines)


def _row(cells: Sequence[str], *, header: bool = False) -> list[str]:
    line = "| " + " | ".join(cells) + " |"
    return [line, "|" + "---|" * len(cells)] if header else [line]


def case_table(results: pd.DataFrame) -> str:
    """How strongly each case fails: error rate inside the planted groups and elsewhere."""
    per_case = results.drop_duplicates(["case", "seed"]).groupby("case", sort=False)
    summary = per_case[["n_rows", "size", "group_error", "other_error"]].mean()
    lines = [
        "| case | N | S | group sizes (first seed) | error in groups | error elsewhere |",
        "|---|---|---|---|---|---|",
    ]
    first = results.drop_duplicates("case").set_index("case")["group_sizes"]
    for c, r in summary.iterrows():
        lines.append(
            f"| {c} | {r.n_rows:.0f} | {r['size']:.0f} | {first[c]} | {r.group_error:.2f} | {r.other_error:.2f} |"
        )
    return "\n".join(lines)
