"""Read back the output directory of a sharded run (``python -m spotlight_widget.distributed find``).

``load_run(OUT)`` loads every row; ``load_run(OUT, sample=50_000)`` a uniform random
sample of rows (or ``sample=rows``, given global row numbers), reading only those rows of
the shard files named in ``run.json`` (memory-mapped .npy files are read row by row;
.parquet and .csv shards are read whole, one at a time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cli import read_table
from ..engine.result import SearchHistory, Spotlight, top_set
from .launcher import FORMAT


@dataclass
class RunView:
    """A sharded run's spotlights on the rows loaded.

    Attributes
    ----------
    rows : numpy.ndarray
        (M,) global row numbers of the rows loaded (the shards concatenated in rank
        order), ascending.
    embeddings : numpy.ndarray
        (M, d) float32 embeddings of those rows.
    losses : numpy.ndarray
        (M,) float64 losses.
    counts : numpy.ndarray or None
        (M,) counts, when the run had them.
    spotlights : list of list of Spotlight
        ``spotlights[i][k]``: the k-th sequential spotlight of the i-th size, as a plain
        ``Spotlight`` on the rows loaded: ``weights`` are the run's weights of these rows
        (from the weight parts), ``indices`` and ``top_indices`` are positions in these
        rows, and ``size`` is the run's S scaled to the rows loaded
        (``round(S * loaded count / total count)``, so ``size / M`` is the run's fraction);
        ``weighted_loss``, ``top_loss`` and ``mass`` are computed on these rows. ``center``,
        ``precision``, ``objective``, ``history``, ``converged``, ``preset`` and ``rank``
        are the run's. Loading every row gives back the run's spotlights exactly.
    summary : pandas.DataFrame
        The run's global numbers, one row per spotlight (``spotlights.parquet``) with a
        ``center`` column added.
    meta : dict
        ``run.json``.
    """

    rows: np.ndarray
    embeddings: np.ndarray
    losses: np.ndarray
    counts: np.ndarray | None
    spotlights: list[list[Spotlight]]
    summary: Any
    meta: dict = field(repr=False)

    @property
    def total_rows(self) -> int:
        """Rows of the whole run (N)."""
        return int(self.meta["rows"])

    @property
    def results(self) -> dict[int, list[Spotlight]]:
        """``{size on these rows: [spotlight 0, 1, ...]}``, the explorer's layout of results."""
        return {spots[0].size: spots for spots in self.spotlights}


def _read_rows(path: str, rows: np.ndarray, *, column: str | None = None, vector: bool = False) -> np.ndarray:
    """``rows`` (local, ascending) of one shard file."""
    p = Path(path)
    if p.suffix.lower() == ".npy" and column is None:
        arr = np.load(p, mmap_mode="r", allow_pickle=False)
        return np.asarray(arr[rows])
    arr = read_table(p, column=column, vector=vector)
    return np.asarray(arr)[rows]


def _choose_rows(sample: Any, total: int, seed: int) -> np.ndarray:
    if sample is None:
        return np.arange(total, dtype=np.int64)
    if isinstance(sample, (int, np.integer)) and not isinstance(sample, bool):
        if not 1 <= sample:
            raise ValueError(f"sample must be at least 1 row; got {sample}")
        if sample >= total:
            return np.arange(total, dtype=np.int64)
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(total, size=int(sample), replace=False)).astype(np.int64)
    rows = np.unique(np.asarray(sample, dtype=np.int64))
    if rows.size == 0:
        raise ValueError("sample holds no rows")
    if rows[0] < 0 or rows[-1] >= total:
        raise ValueError(f"sample rows must lie in [0, {total}); got {rows[0]}..{rows[-1]}")
    return rows


def load_run(out_dir: str | Path, sample: Any = None, *, seed: int = 0) -> RunView:
    """Load a sharded run's output directory on all rows or a sample of them.

    Parameters
    ----------
    out_dir
        The ``-o`` directory of ``python -m spotlight_widget.distributed find``.
    sample : None, int or array-like of int
        None: every row. An int M: M rows drawn uniformly without replacement (``seed``).
        Array-like: these global row numbers (deduplicated, sorted).
    seed : int
        Seeds the sample.

    The shard files recorded in ``run.json`` must still be readable at their paths.
    """
    import pandas as pd

    out = Path(out_dir)
    meta_path = out / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{out}: no run.json: not the output of a (complete) sharded run")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: unknown format {meta.get('format')!r}; expected {FORMAT!r}")
    total = int(meta["rows"])
    rows = _choose_rows(sample, total, seed)

    emb_parts, loss_parts, count_parts = [], [], []
    for shard in meta["shards"]:
        lo, n = int(shard["offset"]), int(shard["rows"])
        a, b = np.searchsorted(rows, [lo, lo + n])
        local = rows[a:b] - lo
        if local.size == 0:
            continue
        emb_parts.append(_read_rows(shard["embeddings"], local).astype(np.float32, copy=False))
        loss_parts.append(_read_rows(shard["losses"], local, column=meta.get("loss_column"), vector=True))
        if meta.get("counts"):
            count_parts.append(_read_rows(shard["counts"], local, column=meta.get("counts_column"), vector=True))
    d = int(meta["dim"])
    embeddings = np.concatenate(emb_parts) if emb_parts else np.zeros((0, d), np.float32)
    losses = np.concatenate(loss_parts).astype(np.float64) if loss_parts else np.zeros(0)
    counts = np.concatenate(count_parts).astype(np.float64) if meta.get("counts") else None

    summary = pd.read_parquet(out / "spotlights.parquet")
    centers = np.load(out / "centers.npy")
    summary["center"] = list(centers)
    history = pd.read_parquet(out / "history.parquet")

    # Weights of the rows loaded, one column per (S, sequence rank). Two requested sizes
    # with the same S ran the same search and share a column.
    keys = sorted({(int(s), int(k)) for s, k in zip(summary["size"], summary["spotlight"])})
    column = {key: i for i, key in enumerate(keys)}
    weights = np.zeros((rows.shape[0], len(keys)))
    for part in meta["parts"]:
        frame = pd.read_parquet(out / part, columns=["size", "spotlight", "index", "weight"])
        idx = frame["index"].to_numpy()
        pos = np.searchsorted(rows, idx)
        hit = (pos < rows.shape[0]) & (rows[np.minimum(pos, max(rows.shape[0] - 1, 0))] == idx)
        if not hit.any():
            continue
        sizes, ranks = frame["size"].to_numpy()[hit], frame["spotlight"].to_numpy()[hit]
        cols = np.array([column[(int(s), int(k))] for s, k in zip(sizes, ranks)])
        weights[pos[hit], cols] = frame["weight"].to_numpy()[hit]

    c = np.ones(rows.shape[0]) if counts is None else counts
    every_row = rows.shape[0] == total
    scale = 1.0 if every_row else float(c.sum()) / float(meta["total_count"])
    spotlights: list[list[Spotlight]] = []
    for i, info in summary.iterrows():
        S, k = int(info["size"]), int(info["spotlight"])
        scaled = S if every_row else max(1, round(S * scale))
        hist = history[(history["size_arg"] == info["size_arg"]) & (history["spotlight"] == k)]
        w = weights[:, column[(S, k)]].copy()
        members = np.flatnonzero(w > 0)
        order = members[np.argsort(-w[members], kind="stable")]
        mass = float((c * w).sum())
        top = top_set(order, counts, scaled)
        sp = Spotlight(
            weights=w,
            indices=order,
            weighted_loss=float((c * w * losses).sum() / mass) if mass > 0 else float("nan"),
            top_loss=float((c[top] * losses[top]).sum() / c[top].sum()) if top.size else float("nan"),
            mass=mass,
            size=scaled,
            center=np.asarray(info["center"], dtype=np.float64),
            precision=float(info["precision"]),
            objective=float(info["objective"]),
            history=SearchHistory(
                objective=hist["objective"].to_numpy(),
                mass=hist["mass"].to_numpy(),
                lr=hist["lr"].to_numpy(),
                width=hist["width"].to_numpy(),
                stage=hist["stage"].to_numpy(),
            ),
            preset=str(info["preset"]),
            rank=k,
            converged=bool(info["converged"]),
            counts=counts,
            losses=losses,
        )
        if i % int(meta["n"]) == 0:
            spotlights.append([])
        spotlights[-1].append(sp)
    return RunView(rows, embeddings, losses, counts, spotlights, summary, meta)
