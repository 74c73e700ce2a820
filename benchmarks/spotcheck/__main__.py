"""``python -m benchmarks.spotcheck [--configs 50] [--quick] [--methods ...] [--cache DIR] [--threads 2]``.

Builds (or loads from the cache) ECs with seeds 0, 1, 2, ... until ``--configs`` are
accepted, runs every method on each, prints DR / FDR (mean ± SE over ECs) and writes
``DIR/spotcheck.csv`` (one row per EC and method) and ``DIR/spotcheck_ecs.csv`` (one row
per EC tried; default ``benchmarks/out/``, which git ignores). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from .audit import QUICK, Settings, default_cache
from .methods import METHODS, QUICK_METHODS
from .runner import POPULATIONS, markdown, run_benchmark

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "out"


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spotcheck", description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=None, help="accepted ECs wanted (default 50; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="2 ECs at the smaller QUICK scale, fast methods only (CI)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--max-seeds", type=int, default=None, help="give up after this many ECs (default 3 x --configs)"
    )
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=None)
    parser.add_argument("--population", choices=POPULATIONS, default="positives", help="test rows the methods audit")
    parser.add_argument("--cache", type=Path, default=None, help=f"cache folder (default {default_cache()})")
    parser.add_argument("--threads", type=int, default=2, help="torch threads while building ECs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the CSV files")
    args = parser.parse_args(argv)
    configs = args.configs if args.configs is not None else (2 if args.quick else 50)
    if configs < 1 or args.threads < 1:
        parser.error("--configs and --threads must be at least 1")
    settings = QUICK if args.quick else Settings()
    methods = args.methods or (QUICK_METHODS if args.quick else tuple(METHODS))
    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    try:
        scores, ecs = run_benchmark(
            configs,
            settings=settings,
            methods=methods,
            cache=args.cache,
            first_seed=args.first_seed,
            max_seeds=args.max_seeds,
            population=args.population,
            log=_log,
        )
    finally:
        torch.set_num_threads(before)
    args.out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(args.out / "spotcheck.csv", index=False)
    ecs.to_csv(args.out / "spotcheck_ecs.csv", index=False)
    accepted = int(ecs["accepted"].sum())
    print(f"SpotCheck ({settings.key()}), {args.population} test images, top {10} groups per method")
    print(f"ECs: {accepted} accepted, {len(ecs) - accepted} rejected (seeds {ecs['seed'].min()}-{ecs['seed'].max()})")
    for _, r in ecs[~ecs["accepted"]].iterrows():
        print(f"  rejected EC {r.seed}: {r.reason}")
    if scores.empty:
        print("no EC was accepted: nothing to score")
        return 1
    print()
    print(markdown(scores))
    failed = scores[scores["error"] != ""]
    for _, r in failed.drop_duplicates(["method", "error"]).iterrows():
        print(f"\n{r.method} failed on EC {r.seed}, scored as returning nothing: {r.error}")
    print(f"\n{time.perf_counter() - start:.0f} s; scores in {args.out / 'spotcheck.csv'}")
    return 0 if accepted == configs else 1


if __name__ == "__main__":
    raise SystemExit(main())
