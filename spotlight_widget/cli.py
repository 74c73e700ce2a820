"""Command line: ``spotlight-widget find EMB LOSSES --size 0.02 -n 5 -o spotlights.csv``
(the Spotlight) and ``spotlight-widget slices EMB LOSSES -o slices.csv`` (any slice finder,
by default the explorer's first, the pooled regions)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .engine import SearchProgress, find_spotlights
from .slices.result import FRAME_COLUMNS

_READABLE = (".npy", ".csv", ".parquet")


class CliError(Exception):
    """A problem with the command line's inputs, reported without a traceback."""


def read_table(path: Path, *, column: str | None = None, vector: bool = False) -> np.ndarray:
    """Read a .npy, .csv or .parquet file as a numeric array.

    For tables, ``column`` picks one column (for losses or counts); without it a vector
    file must have exactly one numeric column, and a matrix uses every numeric column.
    """
    suffix = path.suffix.lower()
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if suffix == ".npy":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if column is not None:
            raise CliError(f"{path}: --*-column only applies to .csv and .parquet files")
        return arr
    if suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(path)
    elif suffix == ".parquet":
        try:
            import pandas as pd

            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise CliError(f"reading {path} needs pyarrow: pip install 'spotlight-widget[io]' ({exc})") from exc
    else:
        raise CliError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(_READABLE)}")
    if column is not None:
        if column not in frame.columns:
            raise CliError(f"{path}: no column {column!r}; columns are {list(frame.columns)[:20]}")
        return frame[column].to_numpy()
    numeric = frame.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        raise CliError(f"{path}: no numeric columns")
    if vector:
        if numeric.shape[1] != 1:
            raise CliError(f"{path}: {numeric.shape[1]} numeric columns; pick one with the matching --*-column option")
        return numeric.iloc[:, 0].to_numpy()
    return numeric.to_numpy()


def _parse_size(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value >= 1 and value.is_integer():
        return int(value)
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spotlight-widget",
        description="Find where a model fails systematically (the Spotlight, d'Eon et al., FAccT 2022).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    find = sub.add_parser(
        "find",
        help="find spotlights in embeddings and losses",
        description="Find sequential spotlights and write one row per (spotlight, member example).",
    )
    _add_files(find)
    find.add_argument("--counts", type=Path, help="optional (N,) multiplicity of each example")
    add_search_options(find)
    find.add_argument("--device", help="torch device, e.g. cpu or cuda (default: CUDA when available)")
    add_slices_command(sub)
    return parser


def _add_files(command: argparse.ArgumentParser) -> None:
    command.add_argument("embeddings", type=Path, help="(N, d) embeddings: .npy, .csv or .parquet")
    command.add_argument("losses", type=Path, help="(N,) per-example losses: .npy, .csv or .parquet")
    command.add_argument("-o", "--output", type=Path, required=True, help="output file: .csv or .parquet")


def add_slices_command(sub: argparse._SubParsersAction) -> None:
    """``slices``: any registered slice finder, as ``find_slices`` runs it."""
    from .slices import available_methods

    slices = sub.add_parser(
        "slices",
        help="find slices with any method (default: pooled regions, the explorer's first)",
        description="Run one slice finder (find_slices) and write one row per (slice, member example).",
    )
    _add_files(slices)
    slices.add_argument(
        "--method", choices=available_methods(), default="pooled", help="slice finder (default: pooled)"
    )
    slices.add_argument(
        "--size",
        type=_parse_size,
        default=0.02,
        help="S: a fraction in (0, 1) or a number of examples; the scale of every method (default: 0.02)",
    )
    slices.add_argument("-n", "--n", dest="n", type=int, default=5, help="most slices returned (default: 5)")
    slices.add_argument("--labels", type=Path, help="(N,) true class ids, for planespot and domino-style")
    slices.add_argument("--probs", type=Path, help="(N, C) or (N,) predicted probabilities, for the same")
    slices.add_argument("--loss-column", help="column of the loss file to use (tables)")
    slices.add_argument("--labels-column", help="column of the label file to use (tables)")
    slices.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    slices.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def add_search_options(find: argparse.ArgumentParser) -> None:
    """The options every ``find`` command shares (this one and the distributed launcher's)."""
    find.add_argument(
        "--size",
        type=_parse_size,
        nargs="+",
        default=[0.02],
        help="spotlight size: a fraction in (0, 1) or a number of examples; several sizes are searched together "
        "(default: 0.02)",
    )
    find.add_argument("-n", "--n", dest="n", type=int, default=3, help="sequential spotlights per size (default: 3)")
    find.add_argument("--loss-column", help="column of the loss files to use (tables)")
    find.add_argument("--counts-column", help="column of the count files to use (tables)")
    find.add_argument("--preset", choices=["fast", "paper"], default="fast", help="search settings (default: fast)")
    find.add_argument(
        "--restarts", type=int, help="starting points per size (default: the preset's; fast: 2, paper: 1)"
    )
    find.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    find.add_argument("--min-weight", type=float, default=0.0, help="only write members above this weight")
    find.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _progress_bar(quiet: bool):
    if quiet:
        return None, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None, lambda: None
    bar = tqdm(total=1, unit="step", file=sys.stderr, dynamic_ncols=True)

    def update(p: SearchProgress) -> None:
        bar.total = p.total
        bar.n = p.step
        # Slice finders report stages without an objective (NaN).
        objective = f" objective {p.objective:.4g}" if np.isfinite(p.objective) else ""
        bar.set_description(f"{p.stage}{objective}")
        bar.refresh()

    return update, bar.close


def run_find(args: argparse.Namespace) -> int:
    _check_output(args.output)
    emb = read_table(args.embeddings)
    losses = read_table(args.losses, column=args.loss_column, vector=True)
    counts = None if args.counts is None else read_table(args.counts, column=args.counts_column, vector=True)
    progress, close = _progress_bar(args.quiet)
    try:
        found = find_spotlights(
            emb,
            losses,
            n=args.n,
            size=list(args.size),
            counts=counts,
            preset=args.preset,
            restarts=args.restarts,
            device=args.device,
            seed=args.seed,
            progress=progress,
        )
    finally:
        close()
    import pandas as pd

    frames = []
    for size_arg, spots in zip(args.size, found):
        for sp in spots:
            frame = sp.to_frame()
            frame = frame[frame["weight"] > args.min_weight]
            frame.insert(0, "spotlight", sp.rank)
            frame.insert(0, "size", sp.size)
            frames.append(frame)
            if not args.quiet:
                print(
                    f"size {size_arg} (S={sp.size}) spotlight {sp.rank}: weighted loss {sp.weighted_loss:.4g}, "
                    f"top-S loss {sp.top_loss:.4g} vs mean {float(np.mean(losses)):.4g}; "
                    f"{len(sp.indices)} members",
                    file=sys.stderr,
                )
    _write(pd.concat(frames, ignore_index=True), args.output, args.quiet)
    return 0


def run_slices(args: argparse.Namespace) -> int:
    from .slices import find_slices

    _check_output(args.output)
    emb = read_table(args.embeddings)
    losses = read_table(args.losses, column=args.loss_column, vector=True)
    labels = None if args.labels is None else read_table(args.labels, column=args.labels_column, vector=True)
    probs = None if args.probs is None else read_table(args.probs)
    progress, close = _progress_bar(args.quiet)
    try:
        found = find_slices(
            args.method,
            emb,
            losses,
            n=args.n,
            size=args.size,
            seed=args.seed,
            labels=labels,
            probs=probs,
            progress=progress,
        )
    finally:
        close()
    import pandas as pd

    overall = float(np.mean(losses))
    frames = []
    for result in found:
        frame = result.to_frame()
        frame.insert(0, "slice", result.rank)
        frames.append(frame)
        if not args.quiet:
            print(
                f"slice {result.rank}: {len(result.top_indices)} examples, mean loss {result.top_loss:.4g} "
                f"vs {overall:.4g} overall",
                file=sys.stderr,
            )
    if frames:
        out = pd.concat(frames, ignore_index=True)
    else:
        out = pd.DataFrame(columns=["slice", *FRAME_COLUMNS])
        if not args.quiet:
            print(f"{args.method} found no slice at this size: none stands out", file=sys.stderr)
    _write(out, args.output, args.quiet)
    return 0


def _check_output(path: Path) -> None:
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise CliError(f"{path}: output must end in .csv or .parquet")


def _write(out, path: Path, quiet: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        out.to_csv(path, index=False)
    else:
        try:
            out.to_parquet(path, index=False)
        except ImportError as exc:
            raise CliError(f"writing parquet needs pyarrow: pip install 'spotlight-widget[io]' ({exc})") from exc
    if not quiet:
        print(f"wrote {len(out)} rows to {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spotlight-widget`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "find":
            return run_find(args)
        if args.command == "slices":
            return run_slices(args)
    except (CliError, ValueError, TypeError) as exc:
        print(f"spotlight-widget: error: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
