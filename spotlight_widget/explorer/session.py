"""The explorer's state and logic, without any widget: testable in plain Python.

A session holds the data, every spotlight found so far (per size, in sequence), the
history of what the user looked at, and the current selection. The widget forwards
user actions here and publishes the results.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._inputs import as_matrix, as_vector, resolve_size
from ..describe import breakdown
from ..engine import SearchProgress, Spotlight, find_spotlights
from .thumbnails import ItemSource

TABS = ("spotlight", "highest", "random")
MIN_FRACTION, MAX_FRACTION = 0.001, 0.1


@dataclass(frozen=True)
class HistoryEntry:
    """One spotlight the user has seen: its size key and its rank in that size's sequence."""

    size: int
    rank: int


class ExplorerSession:
    """Data, spotlights and selection behind a ``SpotlightExplorer``.

    See ``SpotlightExplorer`` for the parameters.
    """

    def __init__(
        self,
        embeddings: Any,
        losses: Any,
        items: Any = None,
        *,
        metadata: pd.DataFrame | None = None,
        labels: Any = None,
        predictions: Any = None,
        class_names: Sequence[str] | dict | None = None,
        counts: Any = None,
        preset: str = "fast",
        device: str | torch.device | None = None,
        seed: int = 0,
        thumbnail_size: int = 96,
    ):
        self.embeddings = as_matrix(embeddings, "embeddings", dtype=torch.float32, device="cpu")
        n = self.embeddings.shape[0]
        self.losses = as_vector(losses, "losses", length=n, dtype=torch.float64).numpy()
        self.counts = None if counts is None else as_vector(counts, "counts", length=n, dtype=torch.float64).numpy()
        self.n = n
        self.items = ItemSource(items, n, side=thumbnail_size)
        self.metadata = _check_metadata(metadata, n)
        self.labels = _check_column(labels, "labels", n)
        self.predictions = _check_column(predictions, "predictions", n)
        self.class_names = class_names
        self.preset = preset
        self.device = device
        self.seed = seed
        # Guards results, history and current: searches finish in a worker thread.
        self.lock = threading.RLock()
        self.results: dict[int, list[Spotlight]] = {}
        self.history: list[HistoryEntry] = []
        self.current = -1
        rng = np.random.default_rng(seed)
        self._random_order = rng.permutation(n)
        self._loss_order = np.argsort(-self.losses, kind="stable")

    # -- sizes and searches -------------------------------------------------------------

    def size_count(self, fraction: float) -> int:
        """S for a requested fraction, clipped to the control's range [0.1 %, 10 %]."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not math.isfinite(fraction):
            raise ValueError(f"size must be a number; got {fraction!r}")
        if fraction >= 1:
            return int(resolve_size(int(fraction), float(self.n), self.n))
        clipped = min(max(float(fraction), MIN_FRACTION), MAX_FRACTION)
        return int(resolve_size(clipped, float(self.n), self.n))

    def search(
        self,
        size: int,
        *,
        next_rank: bool = False,
        progress: Callable[[SearchProgress], Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> HistoryEntry:
        """Find (or recall) the first spotlight of ``size``, or the next one in its sequence.

        Results already computed come back at once; a new size warm-starts from the
        spotlight being shown. Adds the result to the history and makes it current.
        """
        with self.lock:
            found = list(self.results.get(size, []))
            rank = len(found) if next_rank else 0
            init = self.spotlight() if (not found and self.history and self.preset == "fast") else None
        if rank >= len(found):
            # The slow part runs without the lock, so the gallery stays usable meanwhile.
            (new,) = find_spotlights(
                self.embeddings,
                self.losses,
                n=1,
                size=size,
                counts=self.counts,
                preset=self.preset,
                init=init,
                after=found,
                device=self.device,
                seed=self.seed,
                progress=progress,
                cancel=cancel,
            )
        with self.lock:
            stored = self.results.setdefault(size, [])
            if rank == len(stored):
                stored.append(new)
            entry = HistoryEntry(size, rank)
            if entry not in self.history:
                self.history.append(entry)
            self.current = self.history.index(entry)
            return entry

    def spotlight(self, position: int | None = None) -> Spotlight:
        """The spotlight at a history position (default: the current one)."""
        position = self.current if position is None else position
        if not self.history:
            raise LookupError("no spotlight has been found yet")
        if not -len(self.history) <= position < len(self.history):
            raise IndexError(f"no spotlight #{position}: {len(self.history)} found so far")
        entry = self.history[position]
        return self.results[entry.size][entry.rank]

    def history_rows(self) -> list[dict]:
        """The history strip: one row per spotlight seen."""
        rows = []
        for entry in self.history:
            sp = self.results[entry.size][entry.rank]
            rows.append(
                {
                    "rank": sp.rank,
                    "size": sp.size,
                    "fraction": sp.size / self.n,
                    "weighted_loss": sp.weighted_loss,
                    "top_loss": sp.top_loss,
                    "mass": sp.mass,
                    "members": len(sp.indices),
                    "caption": "",
                }
            )
        return rows

    # -- gallery --------------------------------------------------------------------------

    def order(self, tab: str) -> np.ndarray:
        """Examples in gallery order for a tab."""
        if tab == "spotlight":
            return self.spotlight().indices if self.history else np.empty(0, dtype=np.int64)
        if tab == "highest":
            return self._loss_order
        if tab == "random":
            return self._random_order
        raise ValueError(f"unknown tab {tab!r}; one of {TABS}")

    def page(self, tab: str, page: int, page_size: int) -> tuple[list[dict], int]:
        """Items of one gallery page, and the number of items in the tab."""
        order = self.order(tab)
        start = max(0, page) * page_size
        weights = self.spotlight().weights if self.history else None
        return [self.item(int(i), weights) for i in order[start : start + page_size]], len(order)

    def item(self, index: int, weights: np.ndarray | None = None) -> dict:
        return {
            "index": index,
            "weight": None if weights is None else float(weights[index]),
            "loss": float(self.losses[index]),
            "label": self._name(self.labels, index),
            "prediction": self._name(self.predictions, index),
            "text": self.items.text(index),
        }

    def detail(self, index: int) -> dict:
        """Everything known about one example, as display strings for metadata."""
        self.check_index(index)
        out = self.item(index, self.spotlight().weights if self.history else None)
        fields = {} if self.metadata is None else {str(k): _display(v) for k, v in self.metadata.iloc[index].items()}
        out["fields"] = fields
        return out

    def _name(self, column: np.ndarray | None, index: int) -> str | None:
        if column is None:
            return None
        value = column[index]
        names = self.class_names
        try:
            if isinstance(names, dict):
                return str(names.get(value, names.get(int(value), value)))
            if names is not None and float(value).is_integer() and 0 <= int(value) < len(names):
                return str(names[int(value)])
        except (TypeError, ValueError):
            pass
        return _display(value)

    def check_index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"an example index must be an integer; got {index!r}")
        if not 0 <= index < self.n:
            raise ValueError(f"example index {index} is out of range (0 to {self.n - 1})")
        return int(index)

    # -- selection and export -------------------------------------------------------------

    def select(self, mode: str, threshold: float | None = None) -> list[int]:
        """Indices for the selection buttons: "top" (top-S set), "above" (weight >= threshold), "none"."""
        if mode == "none":
            return []
        sp = self.spotlight()
        if mode == "top":
            return sorted(int(i) for i in sp.top_indices)
        if mode == "above":
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
                raise ValueError(f"threshold must be a number; got {threshold!r}")
            return sorted(int(i) for i in np.flatnonzero(sp.weights >= threshold) if sp.weights[i] > 0)
        raise ValueError(f"unknown selection mode {mode!r}; one of top, above, none")

    def to_dataframe(self, indices: Sequence[int] | None = None, spotlight: Spotlight | None = None) -> pd.DataFrame:
        """Examples with index, weight, loss, label, prediction and every metadata column.

        ``indices`` default to the members of ``spotlight`` (highest weight first); the
        weight column is that spotlight's (default: the current one, if any).
        """
        if spotlight is None and self.history:
            spotlight = self.spotlight()
        if indices is None:
            if spotlight is None:
                raise LookupError("no spotlight has been found yet")
            indices = spotlight.indices
        idx = np.asarray([self.check_index(int(i)) for i in indices], dtype=np.int64)
        frame = pd.DataFrame({"index": idx})
        frame["weight"] = spotlight.weights[idx] if spotlight is not None else np.nan
        frame["loss"] = self.losses[idx]
        if self.labels is not None:
            frame["label"] = [self._name(self.labels, i) for i in idx]
        if self.predictions is not None:
            frame["prediction"] = [self._name(self.predictions, i) for i in idx]
        if self.metadata is not None:
            meta = self.metadata.iloc[idx].reset_index(drop=True)
            taken = set(frame.columns)
            meta.columns = [f"meta_{c}" if c in taken else c for c in meta.columns]
            frame = pd.concat([frame, meta], axis=1)
        return frame

    # -- breakdown ------------------------------------------------------------------------

    def columns(self) -> list[str]:
        cols = [] if self.metadata is None else [str(c) for c in self.metadata.columns]
        if self.labels is not None:
            cols.append("label")
        if self.predictions is not None:
            cols.append("prediction")
        return cols

    def breakdown_rows(self, column: str) -> list[dict]:
        """The breakdown of one column for the current spotlight, as JSON-ready rows."""
        if not self.history or not column:
            return []
        if self.metadata is not None and column in [str(c) for c in self.metadata.columns]:
            values = self.metadata[self.metadata.columns[[str(c) for c in self.metadata.columns].index(column)]]
        elif column == "label" and self.labels is not None:
            values = [self._name(self.labels, i) for i in range(self.n)]
        elif column == "prediction" and self.predictions is not None:
            values = [self._name(self.predictions, i) for i in range(self.n)]
        else:
            raise ValueError(f"unknown column {column!r}")
        frame = breakdown(self.spotlight().weights, self.losses, values, counts=self.counts)
        frame = frame.replace({np.nan: None})
        return frame.to_dict(orient="records")


def _check_metadata(metadata: Any, n: int) -> pd.DataFrame | None:
    if metadata is None:
        return None
    if not isinstance(metadata, pd.DataFrame):
        try:
            metadata = pd.DataFrame(metadata)
        except Exception as exc:
            raise TypeError(f"metadata must be a pandas DataFrame (or convertible to one): {exc}") from exc
    if len(metadata) != n:
        raise ValueError(f"metadata has {len(metadata)} rows but the embeddings have {n}")
    return metadata.reset_index(drop=True)


def _check_column(values: Any, name: str, n: int) -> np.ndarray | None:
    if values is None:
        return None
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one per example); got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but the embeddings have {n} rows")
    return arr


def _display(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (np.floating,)):
        return f"{float(value):.4g}"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
