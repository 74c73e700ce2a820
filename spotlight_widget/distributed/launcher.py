"""Command line for a sharded search, one process per shard, launched by ``torchrun``::

    torchrun --nproc-per-node=G [--nnodes ...] -m spotlight_widget.distributed find \\
        EMB_SHARDS LOSS_SHARDS --size 0.01 -n 5 -o OUT/

``EMB_SHARDS`` and ``LOSS_SHARDS`` name one file per process (.npy, memory-mapped, or
.parquet / .csv), in rank order: a directory (its files in natural name order), a quoted
glob pattern (``'emb-*.npy'``), a pattern with ``{rank}`` (``emb-{rank}.npy``), or a
comma-separated list. A file may hold zero rows. Without torchrun the command runs as one
process.

``OUT/`` receives (see ``RUN_FILES``):

- ``weights/part-RRRRR.parquet``, written by each process: one row per (spotlight, member
  example of its shard): ``size`` (S), ``spotlight`` (0, 1, ... in sequence), ``index``
  (global row: the shards concatenated in rank order), ``weight``, ``loss``, ``count``
  (with ``--counts``), ``in_top`` (in the global top-S set). Rows not listed have weight
  0 (or at most ``--min-weight``).
- written once, by rank 0: ``spotlights.parquet`` (one row per spotlight: size, sequence
  rank, weighted loss, top-S loss, mass, precision, objective, steps, converged, members,
  top rows; global numbers), ``centers.npy`` (the centres, same row order),
  ``history.parquet`` (size_arg, size, spotlight, then objective, mass, lr, width at every
  step of every spotlight), and
  last ``run.json`` (arguments, shard files with their row counts and offsets, timings).
  A run is complete when ``run.json`` exists.

Progress is shown on rank 0. Any process's input error is reported by every process
(exit status 2); collectives time out after ``--timeout`` seconds, so a process that dies
or stalls ends the run with an error instead of a hang.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np

from ..cli import CliError, _progress_bar, add_search_options, read_table

RUN_FILES = ("run.json", "spotlights.parquet", "centers.npy", "history.parquet", "weights/")
FORMAT = "spotlight-widget-distributed/1"
PROG = "torchrun --nproc-per-node=G -m spotlight_widget.distributed"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find spotlights in embeddings sharded over processes (torch.distributed).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    find = sub.add_parser(
        "find",
        help="find sequential spotlights in sharded data",
        description="Find sequential spotlights; every process reads one shard and writes its rows' weights.",
    )
    shards = (
        "one file per process in rank order (.npy, .parquet, .csv): a directory, a quoted glob pattern, "
        "a pattern with {rank}, or a comma-separated list"
    )
    find.add_argument("embeddings", help=f"embedding shards (N_r x d): {shards}")
    find.add_argument("losses", help=f"loss shards (N_r values): {shards}")
    find.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    find.add_argument("--counts", help="optional count shards (multiplicity of each example)")
    add_search_options(find)
    find.add_argument("--max-steps", type=int, help="cap on the steps of each search stage (default: the preset's)")
    find.add_argument(
        "--dtype", choices=["float32", "float64"], default="float32", help="compute precision (default: float32)"
    )
    find.add_argument(
        "--backend",
        choices=["auto", "gloo", "nccl"],
        default="auto",
        help="torch.distributed backend (default: nccl when CUDA is available, else gloo)",
    )
    find.add_argument("--device", help="torch device (default: cuda:LOCAL_RANK with NCCL, else cpu)")
    find.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds a process waits in a collective before the run fails (default: 900; include the time "
        "the slowest process needs to read its shard)",
    )
    find.add_argument(
        "--threads",
        type=int,
        help="CPU threads per process (default: CPU cores / processes on this node, at least 1)",
    )
    return parser


def _natural_key(path: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def shard_files(spec: str, world: int, what: str) -> list[Path]:
    """The shard files named by ``spec``, one per process, in rank order."""
    if "{rank" in spec:
        files = []
        for r in range(world):
            name = spec.format(rank=r, world_size=world)
            if any(ch in name for ch in "*?["):
                matches = glob.glob(name)
                if len(matches) != 1:
                    raise CliError(f"{what}: {name!r} matches {len(matches)} files; it must match exactly one")
                name = matches[0]
            files.append(Path(name))
        return files
    if "," in spec:
        files = [s.strip() for s in spec.split(",") if s.strip()]
    elif Path(spec).is_dir():
        files = sorted(
            (str(p) for p in Path(spec).iterdir() if p.suffix.lower() in (".npy", ".parquet", ".csv")),
            key=_natural_key,
        )
    elif any(ch in spec for ch in "*?["):
        files = sorted(glob.glob(spec), key=_natural_key)
    else:
        files = [spec]
    if len(files) != world:
        raise CliError(
            f"{what}: {spec!r} names {len(files)} file(s) for {world} process(es); give exactly one file per process"
        )
    return [Path(f) for f in files]


def _init_group(args) -> tuple[object, str, str]:
    import torch
    import torch.distributed as dist

    backend = args.backend
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() and (args.device or "cuda").startswith("cuda") else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
        device = args.device or f"cuda:{local_rank}"
    else:
        device = args.device or "cpu"
    timeout = timedelta(seconds=args.timeout)
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        dist.init_process_group(backend, timeout=timeout)
    else:  # run directly: a group of one
        store = Path(tempfile.mkdtemp(prefix="spotlight-dist-")) / "store"
        dist.init_process_group(backend, init_method=f"file://{store}", rank=0, world_size=1, timeout=timeout)
    return dist.group.WORLD, backend, device


def _default_threads() -> int:
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    return max(1, (os.cpu_count() or 1) // max(per_node, 1))


def _prepare_output(out: Path) -> None:
    """Rank 0: create OUT/weights and remove the files of an earlier run."""
    (out / "weights").mkdir(parents=True, exist_ok=True)
    for name in ("run.json", "spotlights.parquet", "centers.npy", "history.parquet"):
        (out / name).unlink(missing_ok=True)
    for part in (out / "weights").glob("part-*.parquet"):
        part.unlink()


def _part_frame(found, sizes_arg, offset: int, min_weight: float):
    import pandas as pd

    frames = []
    for spots in found:
        for sp in spots:
            w = sp.weights
            keep = sp.indices[w[sp.indices] > min_weight]
            frame = {
                "size": np.full(keep.shape[0], sp.size, dtype=np.int64),
                "spotlight": np.full(keep.shape[0], sp.rank, dtype=np.int64),
                "index": (keep + offset).astype(np.int64),
                "weight": w[keep].astype(np.float64),
                "loss": sp.losses[keep].astype(np.float64),
            }
            if sp.counts is not None:
                frame["count"] = sp.counts[keep].astype(np.float64)
            frame["in_top"] = np.arange(keep.shape[0]) < sp.top_indices.shape[0]
            frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


def _summary_frames(found, sizes_arg):
    import pandas as pd

    rows, centers, history = [], [], []
    for size_arg, spots in zip(sizes_arg, found):
        for sp in spots:
            rows.append(
                {
                    "size_arg": float(size_arg),
                    "size": sp.size,
                    "spotlight": sp.rank,
                    "weighted_loss": sp.weighted_loss,
                    "top_loss": sp.top_loss,
                    "mass": sp.mass,
                    "precision": sp.precision,
                    "objective": sp.objective,
                    "steps": sp.history.steps,
                    "converged": sp.converged,
                    "members": sp.members,
                    "top_rows": sp.top_rows,
                    "preset": sp.preset,
                }
            )
            centers.append(sp.center)
            hist = sp.history.to_frame()
            hist.insert(0, "spotlight", sp.rank)
            hist.insert(0, "size", sp.size)
            hist.insert(0, "size_arg", float(size_arg))
            history.append(hist)
    return pd.DataFrame(rows), np.stack(centers), pd.concat(history, ignore_index=True)


def run_find(args: argparse.Namespace, group, backend: str, device: str) -> int:
    import torch

    from ..engine.presets import get_preset
    from ..engine.search import find_spotlights
    from .comm import Comm, agree

    comm = Comm(group)
    rank, world = comm.rank, comm.size
    started = time.time()
    out: Path = args.output.resolve()
    error: BaseException | None = None
    info = None
    try:
        emb_path = shard_files(args.embeddings, world, "embeddings")[rank]
        loss_path = shard_files(args.losses, world, "losses")[rank]
        counts_path = None if args.counts is None else shard_files(args.counts, world, "counts")[rank]
        emb = read_table(emb_path)
        if emb.ndim != 2:
            raise CliError(f"{emb_path}: embeddings must be 2-D (rows x features); got shape {emb.shape}")
        losses = read_table(loss_path, column=args.loss_column, vector=True)
        counts = None if counts_path is None else read_table(counts_path, column=args.counts_column, vector=True)
        if rank == 0:
            _prepare_output(out)
        info = {
            "embeddings": str(emb_path.resolve()),
            "losses": str(loss_path.resolve()),
            "counts": None if counts_path is None else str(counts_path.resolve()),
            "rows": int(emb.shape[0]),
            "dim": int(emb.shape[1]),
        }
    except (CliError, ValueError, TypeError, OSError) as exc:
        error = exc
    shards = agree(comm, error, info=info)
    loaded = time.time()

    progress, close = _progress_bar(args.quiet or rank != 0)
    try:
        found = find_spotlights(
            emb,
            losses,
            n=args.n,
            size=list(args.size),
            counts=counts,
            preset=args.preset,
            restarts=args.restarts,
            device=device,
            dtype=torch.float64 if args.dtype == "float64" else torch.float32,
            seed=args.seed,
            max_steps=args.max_steps,
            progress=progress,
            threads=args.threads or _default_threads(),
            process_group=group,
        )
    finally:
        close()
    if not isinstance(found[0], list):
        found = [found]
    searched = time.time()

    offset = found[0][0].row_offset
    part = out / "weights" / f"part-{rank:05d}.parquet"
    error = None
    try:
        _part_frame(found, args.size, offset, args.min_weight).to_parquet(part, index=False)
    except (ImportError, OSError) as exc:
        error = exc
    agree(comm, error)  # every part is written (or every process reports who failed)
    local_count = float(len(losses)) if counts is None else float(np.asarray(counts, dtype=np.float64).sum())
    total_count = float(comm.sum(torch.tensor([local_count], dtype=torch.float64))[0])
    if rank != 0:
        return 0

    summary, centers, history = _summary_frames(found, args.size)
    summary.to_parquet(out / "spotlights.parquet", index=False)
    np.save(out / "centers.npy", centers)
    history.to_parquet(out / "history.parquet", index=False)
    offsets = np.concatenate([[0], np.cumsum([s["rows"] for s in shards])]).tolist()
    sp0 = found[0][0]
    meta = {
        "format": FORMAT,
        "world_size": world,
        "backend": backend,
        "rows": sp0.total_rows,
        "dim": int(sp0.center.shape[0]),
        "counts": args.counts is not None,
        "total_count": total_count,
        "shards": [dict(s, rank=r, offset=int(offsets[r])) for r, s in enumerate(shards)],
        "parts": [f"weights/part-{r:05d}.parquet" for r in range(world)],
        "sizes": [float(s) for s in args.size],
        "size_counts": [spots[0].size for spots in found],
        "n": args.n,
        "preset": args.preset,
        "restarts": get_preset(args.preset).restarts if args.restarts is None else args.restarts,
        "seed": args.seed,
        "max_steps": args.max_steps,
        "dtype": args.dtype,
        "loss_column": args.loss_column,
        "counts_column": args.counts_column,
        "min_weight": args.min_weight,
        "seconds": {"read": loaded - started, "search": searched - loaded, "write": time.time() - searched},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
    }
    (out / "run.json").write_text(json.dumps(meta, indent=1))
    if not args.quiet:
        for size_arg, spots in zip(args.size, found):
            for sp in spots:
                print(
                    f"size {size_arg} (S={sp.size}) spotlight {sp.rank}: weighted loss {sp.weighted_loss:.4g}, "
                    f"top-S loss {sp.top_loss:.4g}; {sp.members} members",
                    file=sys.stderr,
                )
        print(f"{world} process(es), {sp0.total_rows} rows: wrote {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m spotlight_widget.distributed`` (under torchrun)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    import torch.distributed as dist

    from .comm import ShardError

    group, backend, device = _init_group(args)
    rank = dist.get_rank()
    try:
        return run_find(args, group, backend, device)
    except (ShardError, CliError, ValueError, TypeError) as exc:
        # Input errors are found on every process alike (ShardError gathers the local
        # ones; the rest come from global sums): one process says it.
        if rank == 0:
            print(f"spotlight_widget.distributed: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # e.g. a collective timed out: every process says what it saw
        print(f"spotlight_widget.distributed: error on rank {rank}: {exc}", file=sys.stderr)
        return 1
    finally:
        dist.destroy_process_group()
