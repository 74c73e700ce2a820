#!/usr/bin/env python
"""Compare the slice finders: time, peak memory and recovery of a planted failing group.

Every method registered with ``spotlight_widget.slices`` (the Spotlight, the highest-loss
examples, K-means and Gaussian-mixture clusters, and any added later, e.g. InfEmbed) runs
through ``find_slices`` on the same synthetic data (``planted_clusters``: a Gaussian
mixture of intrinsic dimension 32 in 512 dimensions, one planted 2 % group where 85 % of
the points have high losses, plus 3 % scattered high losses elsewhere), at two
separations of the mixture's components: "easy" (1.5, the tests' setting) and "hard"
(0.6, the planted group overlaps its neighbours).

"infembed" (when ``spotlight_widget.infembed`` is installed) is given the same final-layer
embeddings: there is no model here to compute influence embeddings from, so it measures
InfEmbed's clustering (K-means with normalised centroids), not influence itself.

For the worst slice (rank 0) of each method it reports:

- time: wall-clock seconds of ``find_slices``, and its ratio to the Spotlight's time in
  the same run (the machine is shared and noisy; ratios are more stable than seconds);
- memory: peak resident memory during the call above the memory just before it, in MiB
  and as a multiple of the embeddings' float32 size. Each measurement runs in a fresh
  process (which first runs the method once on tiny data, so imports and lazy
  initialisation count in neither time nor memory) with a fixed glibc mmap threshold
  (so freed memory cannot hide later allocations); Linux ``/proc/self/clear_refs``
  resets the peak after that warm-up. Converting and checking the inputs
  (``_inputs.as_matrix``) counts: its finiteness check alone peaks at about 1.7x the
  embeddings (up to 2^24 values at a time);
- recovery: precision of the slice's top set (``top_indices``: the top-S examples of a
  spotlight or the highest losses, a whole cluster otherwise) against the planted group,
  its recall and F1, and the top set's size.

Means over seeds. Run from the repository root::

    .venv/bin/python benchmarks/bench_slices.py           # quick: N = 5,000, 2 seeds, ~2 minutes
    .venv/bin/python benchmarks/bench_slices.py --full    # N = 100,000, 3 seeds, ~15 minutes
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REFERENCE = "spotlight"
SCENARIOS = {"easy": 1.5, "hard": 0.6}


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(method: str, embeddings: np.ndarray, losses: np.ndarray, size: float, seed: int) -> dict:
    """Run one method once; time, extra peak memory and the rank-0 slice's top set."""
    from spotlight_widget.slices import find_slices

    gc.collect()
    can_reset = _reset_peak()
    before = _status_kb("VmRSS")
    start = time.perf_counter()
    found = find_slices(method, embeddings, losses, n=1, size=size, seed=seed)
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM")
    extra_mib = (peak - before) / 1024 if can_reset and peak is not None and before is not None else float("nan")
    return {"seconds": seconds, "extra_mib": extra_mib, "top": np.asarray(found[0].top_indices).tolist()}


def child(args) -> None:
    """One measurement in a fresh process, so no method inherits another's freed heap."""
    from spotlight_widget.synthetic import planted_clusters

    data = planted_clusters(n_rows=args.n, dim=args.dim, separation=SCENARIOS[args.scenario], seed=args.seed)
    warm = planted_clusters(n_rows=2000, dim=16, seed=99)
    # The first call pays for imports and lazy initialisation; keep that out of the numbers.
    measure(args.methods, warm.embeddings, warm.losses, args.size, 0)
    del warm
    result = measure(args.methods, data.embeddings, data.losses, args.size, args.seed)
    print("RESULT " + json.dumps(result))


def run_child(args, scenario: str, seed: int, method: str) -> dict:
    cmd = [sys.executable, __file__, "--child", "--scenario", scenario, "--methods", method]
    cmd += ["--n", str(args.n), "--dim", str(args.dim), "--size", str(args.size), "--seed", str(seed)]
    # A fixed mmap threshold returns large freed blocks to the system at once; glibc's
    # adaptive one keeps them in the heap, where a later allocation reuses them unseen.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(tail)


def recovery(top: np.ndarray, planted: np.ndarray) -> dict:
    hits = float(np.isin(top, planted).sum())
    precision = hits / max(1, top.size)
    recall = hits / planted.size
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "size": int(top.size)}


def methods_to_run(requested: str | None) -> list[str]:
    from spotlight_widget.slices import available_methods

    available = available_methods()
    if requested is None:
        return [REFERENCE] + [m for m in available if m != REFERENCE]
    chosen = [m.strip() for m in requested.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; available: {available}")
    return chosen


def run(args) -> list[dict]:
    from spotlight_widget.synthetic import planted_clusters

    methods = methods_to_run(args.methods)
    rows = []
    for scenario, separation in SCENARIOS.items():
        for seed in range(args.seed, args.seed + args.seeds):
            data = planted_clusters(n_rows=args.n, dim=args.dim, separation=separation, seed=seed)
            for method in methods:
                try:
                    m = run_child(args, scenario, seed, method)
                except RuntimeError as exc:  # a method that fails is reported, not fatal
                    print(f"  {scenario} seed {seed} {method}: FAILED {exc}", flush=True)
                    continue
                row = {"scenario": scenario, "seed": seed, "method": method, "seconds": m["seconds"]}
                row["extra_mib"] = m["extra_mib"]
                row["embeddings_mib"] = data.embeddings.nbytes / 2**20
                row.update(recovery(np.asarray(m["top"]), data.planted[0]))
                rows.append(row)
                print(
                    f"  {scenario} seed {seed} {method:>13}: {m['seconds']:7.2f} s  "
                    f"+{m['extra_mib']:6.0f} MiB  precision {row['precision']:.2f}  F1 {row['f1']:.2f}",
                    flush=True,
                )
    return rows


def table(rows: list[dict]) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    mean = df.groupby(["scenario", "method"], sort=False).mean(numeric_only=True)
    spread = df.groupby(["scenario", "method"], sort=False)["f1"].std().fillna(0.0)
    lines = [
        "| data | method | time (s) | time / spotlight | peak extra memory (MiB) | / embeddings "
        "| precision | recall | F1 (mean ± sd) | top-set size |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (scenario, method), r in mean.iterrows():
        ref = mean.loc[(scenario, REFERENCE)] if (scenario, REFERENCE) in mean.index else None
        ratio = f"{r.seconds / ref.seconds:.2f}x" if ref is not None else "n/a"
        lines.append(
            f"| {scenario} | {method} | {r.seconds:.2f} | {ratio} | {r.extra_mib:.0f} | "
            f"{r.extra_mib / r.embeddings_mib:.2f}x | {r.precision:.2f} | {r.recall:.2f} | "
            f"{r.f1:.2f} ± {spread[(scenario, method)]:.2f} | {r['size']:.0f} |"
        )
    return "\n".join(lines)


def header(args) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        head = "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"bench_slices: git {head}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load}\nN = {args.n:,}, d = {args.dim}, size = {args.size}, seeds {args.seeds} "
        f"(from {args.seed}), scenarios {SCENARIOS}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--full", action="store_true", help="N = 100,000 and 3 seeds (default: N = 5,000, 2 seeds)")
    ap.add_argument("--n", type=int, default=None, help="number of examples (overrides the mode's)")
    ap.add_argument("--dim", type=int, default=512, help="embedding dimension (default 512)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per scenario (overrides the mode's)")
    ap.add_argument("--seed", type=int, default=0, help="first seed of the synthetic data (default 0)")
    ap.add_argument("--size", type=float, default=0.02, help="slice size S as a fraction (default 0.02)")
    ap.add_argument("--methods", default=None, help="comma-separated methods (default: every registered one)")
    ap.add_argument("--json", default=None, help="write every measurement to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scenario", choices=SCENARIOS, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return 0
    args.n = args.n or (100_000 if args.full else 5_000)
    args.seeds = args.seeds or (3 if args.full else 2)
    print(header(args), flush=True)
    rows = run(args)
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
