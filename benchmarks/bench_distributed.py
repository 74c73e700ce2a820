#!/usr/bin/env python
"""Benchmark the sharded search (torch.distributed, gloo) against the single-process search.

One fixed problem (planted clusters, N x d float32, S = 2 %), searched by:

- ``baseline``: ``find_spotlights`` in one process, no process group (the engine as is);
- ``gloo xP``: P = 1, 2, 4 processes, each holding N / P rows, ``process_group=WORLD``.

Every run is a fresh process (forked from a fork server that has imported torch), reads its
rows from a memory-mapped .npy file, and runs the same fixed schedule: the fast preset
with no sampling stage and no early stop, so every run takes exactly ``--steps`` steps on
all rows. Measured per run:

- time per step: from the progress callback's timestamps (every 20 steps), after the first
  20 steps, so data preparation and the final summaries are left out; the wall time of the
  whole call is printed too;
- communication per step and process: every ``torch.distributed.all_reduce`` is wrapped
  to count calls, payload bytes (what one process contributes) and time spent inside
  (including waiting for the slowest process). A ring all-reduce sends 2 (P - 1) / P times
  the payload per process; that estimate is printed as "wire".

Also checked: every run's centre against the baseline's, and its top-S set (Jaccard).

Run from the repository root::

    .venv/bin/python benchmarks/bench_distributed.py                  # N = 200,000, d = 256
    .venv/bin/python benchmarks/bench_distributed.py --quick          # N = 40,000, d = 64
    .venv/bin/python benchmarks/bench_distributed.py --json out.json --wait-idle 900

On a 2-core machine 4 processes share 2 cores: the 4-process row measures the cost of
oversubscription as much as that of sharding.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHECK_EVERY = 20


def _preset(steps: int):
    from dataclasses import replace

    from spotlight_widget.engine import get_preset

    # All steps on all rows (no sample stage), a fixed number of them (no early stop).
    return replace(get_preset("fast"), coarse_rows=None, min_lr_ratio=None, max_steps=steps, check_every=CHECK_EVERY)


def _count_all_reduce(stats: dict) -> None:
    import torch.distributed as dist

    original = dist.all_reduce

    def counted(tensor, *args, **kwargs):
        start = time.perf_counter()
        out = original(tensor, *args, **kwargs)
        stats["seconds"] += time.perf_counter() - start
        stats["calls"] += 1
        stats["bytes"] += tensor.numel() * tensor.element_size()
        return out

    dist.all_reduce = counted


def _worker(rank: int, world: int, init: str, data_dir: str, steps: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    from spotlight_widget import find_spotlights

    stats = {"calls": 0, "bytes": 0, "seconds": 0.0}
    group = None
    if world > 0:
        from datetime import timedelta

        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world, timeout=timedelta(seconds=300))
        _count_all_reduce(stats)
        group = dist.group.WORLD
    emb = np.load(Path(data_dir) / "emb.npy", mmap_mode="r")
    losses = np.load(Path(data_dir) / "losses.npy", mmap_mode="r")
    procs = max(world, 1)
    bounds = np.linspace(0, emb.shape[0], procs + 1).astype(int)
    rows = slice(int(bounds[rank]), int(bounds[rank + 1]))
    marks: list[tuple[int, float, int, int, float]] = []

    def progress(p) -> None:
        marks.append((p.step, time.perf_counter(), stats["calls"], stats["bytes"], stats["seconds"]))

    if group is not None:
        dist.barrier()
    start = time.perf_counter()
    sp = find_spotlights(
        emb[rows], losses[rows], n=1, size=0.02, preset=_preset(steps), progress=progress, process_group=group
    )[0]
    wall = time.perf_counter() - start
    (s0, t0, c0, b0, w0), (s1, t1, c1, b1, w1) = marks[0], marks[-1]
    top = sp.top_indices + (sp.row_offset if group is not None else 0)
    result = {
        "rank": rank,
        "rows": rows.stop - rows.start,
        "wall": wall,
        "steps": sp.history.steps,
        "step_seconds": (t1 - t0) / (s1 - s0),
        "calls_per_step": (c1 - c0) / (s1 - s0),
        "bytes_per_step": (b1 - b0) / (s1 - s0),
        "comm_seconds_per_step": (w1 - w0) / (s1 - s0),
        "calls_total": stats["calls"],
        "bytes_total": stats["bytes"],
        "center": sp.center.tolist(),
        "top": top.tolist(),
        "threads": torch.get_num_threads(),
    }
    Path(out, f"{world}-{rank}.json").write_text(json.dumps(result))
    if group is not None:
        dist.barrier()
        dist.destroy_process_group()


def _run(world: int, data_dir: str, steps: int, out: str) -> list[dict]:
    import torch.multiprocessing as mp

    store = Path(tempfile.mkdtemp(prefix="bench-dist-")) / "store"
    mp.start_processes(
        _worker,
        args=(world, f"file://{store}", data_dir, steps, out),
        nprocs=max(world, 1),
        join=True,
        start_method="forkserver",
    )
    return [json.loads(Path(out, f"{world}-{r}.json").read_text()) for r in range(max(world, 1))]


def _jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / max(len(a | b), 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--procs", default="1,2,4", help="process counts to run with gloo (default: 1,2,4)")
    parser.add_argument("--quick", action="store_true", help="N = 40,000, d = 64, 60 steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the 1-minute load average to fall below 0.5",
    )
    args = parser.parse_args(argv)
    deadline = time.time() + args.wait_idle
    while os.getloadavg()[0] >= 0.5 and time.time() < deadline:
        time.sleep(5)
    if args.quick:
        args.n_rows, args.dim, args.steps = 40_000, 64, 60
    procs = [int(p) for p in args.procs.split(",") if p.strip()]

    from spotlight_widget.synthetic import planted_clusters

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    print(
        f"bench_distributed: git {git.strip() or '?'}, {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    data_dir = tempfile.mkdtemp(prefix="bench-dist-data-")
    data = planted_clusters(n_rows=args.n_rows, dim=args.dim, fractions=(0.02,), n_clusters=20, seed=args.seed)
    np.save(Path(data_dir) / "emb.npy", data.embeddings.astype(np.float32))
    np.save(Path(data_dir) / "losses.npy", data.losses.astype(np.float32))
    mb = args.n_rows * args.dim * 4 / 1e6
    print(
        f"problem: N = {args.n_rows:,}, d = {args.dim} ({mb:.0f} MB float32), S = 2 %, fast preset, "
        f"{args.steps} steps on all rows (no sample stage, no early stop), threads = 1 per process"
    )
    multiprocessing.set_forkserver_preload(["torch", "spotlight_widget", "torch.distributed"])
    out = tempfile.mkdtemp(prefix="bench-dist-out-")
    runs = {"baseline": _run(0, data_dir, args.steps, out)}
    for p in procs:
        runs[f"gloo x{p}"] = _run(p, data_dir, args.steps, out)

    base = runs["baseline"][0]
    base_step = base["step_seconds"]
    header = (
        f"{'run':<10} {'rows/proc':>10} {'ms/step':>8} {'speed-up':>8} {'wall s':>7} {'reduces/step':>12} "
        f"{'payload B/step':>14} {'wire B/step':>11} {'comm ms/step':>12} {'centre diff':>11} {'Jaccard':>7}"
    )
    print(header)
    rows_out = {}
    for name, results in runs.items():
        world = len(results) if name != "baseline" else 1
        step = max(r["step_seconds"] for r in results)
        payload = statistics.mean(r["bytes_per_step"] for r in results)
        wire = payload * 2 * (world - 1) / world if name != "baseline" else 0.0
        comm_ms = statistics.mean(r["comm_seconds_per_step"] for r in results) * 1e3
        centre = float(np.abs(np.array(results[0]["center"]) - np.array(base["center"])).max())
        top = [i for r in results for i in r["top"]]
        jac = _jaccard(top, base["top"])
        calls = statistics.mean(r["calls_per_step"] for r in results)
        print(
            f"{name:<10} {max(r['rows'] for r in results):>10,} {step * 1e3:>8.2f} {base_step / step:>7.2f}x "
            f"{max(r['wall'] for r in results):>7.2f} {calls:>12.2f} {payload:>14.0f} {wire:>11.0f} "
            f"{comm_ms:>12.3f} {centre:>11.2e} {jac:>7.3f}"
        )
        rows_out[name] = {
            "processes": world,
            "ms_per_step": step * 1e3,
            "speedup": base_step / step,
            "wall_s": max(r["wall"] for r in results),
            "reduces_per_step": calls,
            "payload_bytes_per_step": payload,
            "ring_wire_bytes_per_step": wire,
            "comm_ms_per_step": comm_ms,
            "center_max_abs_diff": centre,
            "top_jaccard": jac,
            "per_rank": [{k: v for k, v in r.items() if k not in ("center", "top")} for r in results],
        }
    print(f"load average {os.getloadavg()[0]:.2f} at the end (other processes slow every row alike)")
    print(
        "payload: bytes one process contributes to all-reduces per step; wire: a ring all-reduce's "
        "2 (P - 1) / P x payload sent per process; comm: time inside all_reduce (includes waiting)"
    )
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "runs": rows_out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
