"""``python -m benchmarks.discovery [--quick] [--seeds N] [--data NAME ...] [--out DIR]``: the discovery suite.

Prints the results table (markdown) and writes every score to ``DIR/discovery.csv``
(default ``benchmarks/out/``, which git ignores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .methods import METHODS
from .models import DATASETS
from .runner import case_table, markdown, run_suite

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "out"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.discovery", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, noisy cases only, no paper preset (CI)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; 1 with --quick)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=None)
    parser.add_argument("--data", nargs="+", choices=sorted(DATASETS), default=None, help="data sets (default all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for discovery.csv")
    args = parser.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 5)
    if seeds < 1:
        parser.error("--seeds must be at least 1")
    start = time.perf_counter()
    results = run_suite(
        range(args.first_seed, args.first_seed + seeds), quick=args.quick, methods=args.methods, datasets=args.data
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "discovery.csv"
    results.to_csv(path, index=False)
    print()
    print(case_table(results))
    print()
    print(markdown(results))
    failed = results[results["error"] != ""]
    for _, r in failed.drop_duplicates(["method", "error"]).iterrows():
        print(f"\n{r.method} failed on {r.case} (seed {r.seed}), scored 0: {r.error}")
    print(f"\n{seeds} seed(s), {time.perf_counter() - start:.0f} s; scores in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
