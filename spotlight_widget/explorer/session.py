"""The explorer's state and logic, without any widget: testable in plain Python.

A session holds the data and, for each slice finder it offers (the Spotlight and the
companion methods of ``spotlight_widget.slices``), every result found so far (per size,
in sequence) and the history of what the user looked at. The widget forwards user
actions here and publishes the results.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._inputs import as_matrix, as_vector, resolve_size
from ..describe import breakdown, caption, groups_of
from ..describe.groups import metadata_frame
from ..engine import SearchCancelled, SearchProgress, Spotlight, find_spotlights
from ..slices import SliceLike, check_predictions, find_slices
from ..slices.predictions import n_classes
from .arrange import Arrangement, arrange
from .methods import METHODS, PUBLISHED, check_methods
from .overlays import Overlays
from .probing import image_shape, probe_region
from .report import view_figure
from .thumbnails import ItemSource

TABS = ("spotlight", "highest", "random", "opponents")
TAB_INFO = {
    "spotlight": ("Members", "Members of the result shown, highest weight first"),
    "highest": ("Highest loss", "The examples with the highest loss"),
    "random": ("Random", "A random sample, for comparison"),
    "opponents": (
        "Opponents",
        "Training examples whose removal would lower this result's loss most (InfEmbed's slice opponents)",
    ),
}
# Opponents listed per result: the strongest few are what a person can check by eye.
OPPONENTS = 96
MIN_FRACTION, MAX_FRACTION = 0.001, 0.1


# Companion methods return their results in ranked batches: asking for a few at once
# saves refitting a clustering for every "next".
_BATCH = 5
# What the session itself passes to every companion finder: method_options may not set these.
_RESERVED = frozenset({"n", "size", "seed", "progress", "labels", "probs", "cancel"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryEntry:
    """One result the user has seen: its size key and its rank in that size's sequence."""

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
        probs: Any = None,
        class_names: Sequence[str] | dict | None = None,
        counts: Any = None,
        preset: str = "fast",
        device: str | torch.device | None = None,
        seed: int = 0,
        thumbnail_size: int = 96,
        methods: Sequence[str] | None = None,
        method_options: dict[str, dict[str, Any]] | None = None,
        influence: Any = None,
        train_influence: Any = None,
        train_items: Any = None,
        ground_truth: Any = None,
        saliency: Any = None,
        saliency_threshold: Any = "mean+std",
        probe: Callable[[np.ndarray], Any] | None = None,
    ):
        self.embeddings = as_matrix(embeddings, "embeddings", dtype=torch.float32, device="cpu")
        n = self.embeddings.shape[0]
        self.losses = as_vector(losses, "losses", length=n, dtype=torch.float64).numpy()
        self.counts = None if counts is None else as_vector(counts, "counts", length=n, dtype=torch.float64).numpy()
        self.n = n
        self.items = ItemSource(items, n, side=thumbnail_size)
        self.overlays = Overlays(ground_truth, saliency, n, threshold=saliency_threshold)
        if self.items.kind != "images" and len(self.overlays.available()) > 1:
            raise ValueError("ground_truth and saliency overlays are drawn on images: pass images as items")
        self.overlay = "none"
        if probe is not None and not callable(probe):
            raise TypeError(
                f"probe must be a callable image -> (C, H, W) saliency per class; got {type(probe).__name__}"
            )
        if probe is not None and self.items.kind != "images":
            raise ValueError("probing draws regions on images: pass images as items")
        self.saliency_threshold = saliency_threshold
        self.probe_fn = probe
        self.metadata = None if metadata is None else metadata_frame(metadata, n, against=f"the embeddings have {n}")
        self.labels = _check_column(labels, "labels", n)
        self.predictions = _check_column(predictions, "predictions", n)
        self.class_ids, self.probs = _check_probs(probs, self.labels, n)
        self.class_names = class_names
        self.preset = preset
        self.device = device
        self.seed = seed
        self.influence = (
            None if influence is None else as_matrix(influence, "influence", dtype=torch.float32, device="cpu")
        )
        if self.influence is not None and self.influence.shape[0] != n:
            raise ValueError(f"influence has {self.influence.shape[0]} rows but the embeddings have {n}")
        given = {"influence": self.influence, "labels": self.labels, "probs": self.probs}
        self.methods = check_methods(
            methods, inputs=[k for k, v in given.items() if v is not None], has_counts=self.counts is not None
        )
        self.method_options = _check_method_options(method_options, self.methods)
        self.train_influence, self.train_items = _check_training(
            train_influence, train_items, self.influence, thumbnail_size
        )
        self.method = self.methods[0]
        # Guards results, histories and currents: searches finish in a worker thread.
        self.lock = threading.RLock()
        self._results: dict[str, dict[int, list[SliceLike]]] = {m: {} for m in self.methods}
        self._history: dict[str, list[HistoryEntry]] = {m: [] for m in self.methods}
        self._current: dict[str, int] = dict.fromkeys(self.methods, -1)
        self._captions: dict[tuple[str, int, int], str] = {}
        # Fits of methods that ignore S, by (method, n): a new size must not retrain scvis.
        self._fits: dict[tuple[str, int], list[SliceLike]] = {}
        self._opponents: dict[tuple[str, int, int], pd.DataFrame] = {}
        self._groups: dict[str, np.ndarray] = {}
        self.arrangement = Arrangement()
        self._named_columns: dict[str, np.ndarray | None] = {}
        rng = np.random.default_rng(seed)
        self._random_order = rng.permutation(n)
        self._loss_order = np.argsort(-self.losses, kind="stable")

    # -- methods --------------------------------------------------------------------------

    @property
    def results(self) -> dict[int, list[SliceLike]]:
        """The current method's results: size -> its sequence of slices."""
        return self._results[self.method]

    @property
    def history(self) -> list[HistoryEntry]:
        """What the user has seen with the current method, in order."""
        return self._history[self.method]

    @property
    def current(self) -> int:
        """History position shown for the current method (-1: none yet)."""
        return self._current[self.method]

    @current.setter
    def current(self, position: int) -> None:
        self._current[self.method] = position

    def set_method(self, name: str) -> None:
        """Switch to another offered method; its own history and results come back with it."""
        if name not in self.methods:
            raise ValueError(f"unknown method {name!r}; this explorer offers {', '.join(self.methods)}")
        self.method = name

    def method_rows(self) -> list[dict]:
        """The method selector's entries."""
        return [{key: getattr(METHODS[m], key) for key in PUBLISHED} for m in self.methods]

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
        """Find (or recall) the current method's first result at ``size``, or the next one.

        Results already computed come back at once; with the Spotlight, a new size
        warm-starts from the spotlight being shown. Adds the result to the method's
        history and makes it current.
        """
        with self.lock:
            method = self.method
            found = list(self._results[method].get(size, []))
            seen = [e.rank for e in self._history[method] if e.size == size]
            # Companion methods fetch results in batches: "next" follows what was shown.
            rank = max(seen, default=-1) + 1 if next_rank else 0
            warm = method == "spotlight" and not found and self.history and self.preset == "fast"
            init = self.spotlight() if warm else None
        if rank >= len(found):
            # The slow part runs without the lock, so the gallery stays usable meanwhile.
            if method == "spotlight":
                new = find_spotlights(
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
            else:
                new = self._companion(method, size, rank, progress=progress, cancel=cancel)[len(found) :]
                # Some companion fits cannot be interrupted: drop their result if the user moved on.
                if cancel is not None and cancel.is_set():
                    raise SearchCancelled(f"the {method} search was cancelled")
        with self.lock:
            stored = self._results[method].setdefault(size, [])
            if rank >= len(stored) and len(stored) == len(found):
                stored.extend(new)
            if rank >= len(stored):
                info = METHODS[method]
                raise LookupError(f"{info.label} has no further {info.noun} at this size")
            entry = HistoryEntry(size, rank)
            history = self._history[method]
            if entry not in history:
                history.append(entry)
            self._current[method] = history.index(entry)
            return entry

    def _companion(
        self,
        method: str,
        size: int,
        rank: int,
        *,
        progress: Callable[[SearchProgress], Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[SliceLike]:
        """The first ``rank + 1`` (at least a batch of) results of a companion method.

        ``labels`` and ``probs`` go to every method (``find_slices`` hands them only to
        those that take them), ``cancel`` to those that can stop part-way.
        """
        info = METHODS[method]
        wanted = max(rank + 1, _BATCH)
        key = (method, wanted)
        with self.lock:
            cached = None if info.sized else self._fits.get(key)
        if cached is not None:
            return cached
        embeddings = self.influence if method == "infembed" else self.embeddings
        options = dict(self.method_options.get(method, {}))
        if info.cancellable:
            options["cancel"] = cancel
        found = list(
            find_slices(
                method,
                embeddings,
                self.losses,
                n=wanted,
                size=size,
                seed=self.seed,
                progress=progress,
                labels=self.class_ids,
                probs=self.probs,
                **options,
            )
        )
        if not info.sized:
            with self.lock:
                self._fits[key] = found
        return found

    def preload(self, spotlights: Sequence[SliceLike]) -> None:
        """Show spotlights found elsewhere (the API, the command line, a distributed run).

        They are grouped by size, each size's in rank order, so "next" continues their
        sequence; the first one becomes current.
        """
        if isinstance(spotlights, Spotlight) or not isinstance(spotlights, Sequence) or not spotlights:
            raise TypeError("spotlights must be a non-empty list of Spotlight results (e.g. from find_spotlights)")
        for sp in spotlights:
            if not isinstance(sp, Spotlight):
                raise TypeError(f"spotlights must be Spotlight results; got {type(sp).__name__}")
            if sp.weights.shape != (self.n,):
                raise ValueError(
                    f"a spotlight has weights for {sp.weights.shape[0]} examples; the explorer has {self.n}"
                )
        with self.lock:
            for sp in sorted(spotlights, key=lambda sp: (sp.size, sp.rank)):
                self._results["spotlight"].setdefault(sp.size, []).append(sp)
            history = self._history["spotlight"]
            for sp in spotlights:
                by_size = self._results["spotlight"][sp.size]
                history.append(HistoryEntry(sp.size, next(i for i, x in enumerate(by_size) if x is sp)))
            self._current["spotlight"] = 0

    def current_size(self) -> int:
        """S the current result was asked for (a cluster's own size may differ)."""
        if not self.history:
            raise LookupError("no spotlight has been found yet")
        return self.history[self.current].size

    def spotlight(self, position: int | None = None) -> SliceLike:
        """The result at a history position (default: the current one) of the current method."""
        position = self.current if position is None else position
        if not self.history:
            raise LookupError("no spotlight has been found yet")
        if not -len(self.history) <= position < len(self.history):
            raise IndexError(f"no spotlight #{position}: {len(self.history)} found so far")
        entry = self.history[position]
        return self.results[entry.size][entry.rank]

    def history_rows(self) -> list[dict]:
        """The history strip: one row per result seen with the current method."""
        rows = []
        noun = METHODS[self.method].noun
        for entry in self.history:
            sp = self.results[entry.size][entry.rank]
            rows.append(
                {
                    "rank": sp.rank,
                    "size": sp.size,
                    "fraction": sp.size / self.n,
                    "weighted_loss": sp.weighted_loss,
                    "top_loss": _top_loss(sp, self.losses),
                    "mass": float(np.sum(sp.weights)),
                    "members": len(sp.indices),
                    "caption": self._caption(entry),
                    "label": noun,
                }
            )
        return rows

    def _caption(self, entry: HistoryEntry) -> str:
        key = (self.method, entry.size, entry.rank)
        if key not in self._captions:
            sp = self.results[entry.size][entry.rank]
            try:
                text = caption(sp, self.metadata, labels=self.named("labels"), predictions=self.named("predictions"))
            except (ValueError, TypeError):
                # A caption is a convenience: odd metadata must not stop the result from showing.
                log.warning("no caption for %s", sp, exc_info=True)
                text = ""
            self._captions[key] = text
        return self._captions[key]

    def named(self, which: str) -> np.ndarray | None:
        """Labels or predictions as the display names the gallery shows (cached)."""
        if which not in self._named_columns:
            column = self.labels if which == "labels" else self.predictions
            self._named_columns[which] = (
                None if column is None else np.array([self._name(column, i) for i in range(self.n)], dtype=object)
            )
        return self._named_columns[which]

    # -- gallery --------------------------------------------------------------------------

    def tabs(self) -> list[str]:
        """The gallery lists on offer: opponents only when training influence is known."""
        return [t for t in TABS if t != "opponents" or self.train_influence is not None]

    def tab_rows(self) -> list[dict]:
        return [{"name": t, "label": TAB_INFO[t][0], "title": TAB_INFO[t][1]} for t in self.tabs()]

    def opponents(self) -> pd.DataFrame:
        """The current result's strongest opponents among the training examples (``slice_opponents``)."""
        if self.train_influence is None:
            raise LookupError("no training influence embeddings: pass train_influence= to see opponents")
        entry = self.history[self.current]
        key = (self.method, entry.size, entry.rank)
        if key not in self._opponents:
            from ..infembed import slice_opponents

            self._opponents[key] = slice_opponents(self.spotlight(), self.train_influence, self.influence, k=OPPONENTS)
        return self._opponents[key]

    def order(self, tab: str) -> np.ndarray:
        """Examples in gallery order for a tab, sorted and filtered as ``arrangement`` says."""
        if tab == "spotlight":
            listed = self.spotlight().indices if self.history else np.empty(0, dtype=np.int64)
        elif tab == "highest":
            listed = self._loss_order
        elif tab == "random":
            listed = self._random_order
        else:
            return self._training_order(tab)
        a = self.arrangement
        keep = self.groups(a.filter_column) == a.filter_group if a.filter_column and a.filter_group else None
        key = self.sort_key(a.sort) if a.sort else None
        return arrange(listed, sort_key=key, descending=a.descending, keep=keep)

    def _training_order(self, tab: str) -> np.ndarray:
        if tab == "opponents" and "opponents" in self.tabs():
            if not self.history:
                return np.empty(0, dtype=np.int64)
            return self.opponents()["index"].to_numpy()
        raise ValueError(f"unknown tab {tab!r}; one of {TABS}")

    def page(self, tab: str, page: int, page_size: int) -> tuple[list[dict], int]:
        """Items of one gallery page, and the number of items in the tab."""
        order = self.order(tab)
        start = max(0, page) * page_size
        if tab == "opponents":
            frame = self.opponents().iloc[start : start + page_size] if self.history else None
            rows = [] if frame is None else list(zip(frame["index"], frame["influence"]))
            return [self.train_item(int(i), float(v)) for i, v in rows], len(order)
        weights = self.spotlight().weights if self.history else None
        return [self.item(int(i), weights) for i in order[start : start + page_size]], len(order)

    def thumbnail(self, index: int) -> bytes:
        """PNG of one example's image, with the current overlay painted on."""
        if self.overlay == "none":
            return self.items.png(index)
        overlay = self.overlay
        return self.items.png(index, lambda image: self.overlays.paint(image, index, overlay), overlay)

    def probe(self, index: int, boxes: Sequence[tuple[int, int, int, int]], metric: str = "iou") -> list[dict]:
        """Classes whose saliency on one image best matches boxes drawn on it; see ``probe_region``."""
        if self.probe_fn is None:
            raise LookupError("no probe: pass probe= (an image -> per-class saliency callable)")
        self.check_index(index)
        image = np.asarray(self.items.images()[index])
        return probe_region(
            self.probe_fn, image, boxes, metric=metric, threshold=self.saliency_threshold, class_names=self.class_names
        )

    def set_overlay(self, overlay: str) -> None:
        if overlay not in self.overlays.available():
            raise ValueError(f"no {overlay!r} overlay; choose from {', '.join(self.overlays.available())}")
        self.overlay = overlay

    def train_item(self, index: int, influence: float) -> dict:
        """A training example in the opponents list: no loss or weight in this data, its influence instead."""
        return {
            "index": index,
            "source": "train",
            "influence": influence,
            "weight": None,
            "loss": None,
            "label": None,
            "prediction": None,
            "text": self.train_items.text(index),
        }

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
        if self.probe_fn is not None:
            # The front end maps a region drawn on the thumbnail to the image's own pixels.
            out["image_shape"] = list(image_shape(np.asarray(self.items.images()[index])))
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

    def sort_options(self) -> list[str]:
        return ["weight", "loss", *self.columns()]

    def sort_key(self, name: str) -> np.ndarray:
        """One value per example to sort the gallery by: weight, loss, or a column."""
        if name == "weight":
            return self.spotlight().weights if self.history else np.zeros(self.n)
        if name == "loss":
            return self.losses
        values = pd.Series(self.column_values(name)).reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.astype(str).to_numpy()

    def groups(self, column: str) -> np.ndarray:
        """Each example's group in a column, as the breakdown names them (cached)."""
        if column not in self._groups:
            self._groups[column] = groups_of(self.column_values(column)).to_numpy(dtype=str)
        return self._groups[column]

    def group_names(self, column: str) -> list[str]:
        """The groups of a column, largest first, for the gallery's filter."""
        if not column:
            return []
        names, counts = np.unique(self.groups(column), return_counts=True)
        return [str(names[i]) for i in np.argsort(-counts, kind="stable")]

    def set_arrangement(self, sort: str, descending: bool, filter_column: str, filter_group: str) -> None:
        """Check and keep how the gallery is arranged; raises ValueError for unknown names."""
        if sort and sort not in self.sort_options():
            raise ValueError(f"cannot sort by {sort!r}; choose from {', '.join(self.sort_options())}")
        if filter_column and filter_column not in self.columns():
            raise ValueError(f"cannot filter by {filter_column!r}; choose from {', '.join(self.columns())}")
        self.arrangement = Arrangement(sort, bool(descending), filter_column, filter_group if filter_column else "")

    def column_values(self, column: str) -> Any:
        """One breakdown column's values for every example."""
        names = [str(c) for c in self.metadata.columns] if self.metadata is not None else []
        if column in names:
            return self.metadata[self.metadata.columns[names.index(column)]]
        if column == "label" and self.labels is not None:
            return self.named("labels")
        if column == "prediction" and self.predictions is not None:
            return self.named("predictions")
        raise ValueError(f"unknown column {column!r}")

    def breakdown_rows(self, column: str) -> list[dict]:
        """The breakdown of one column for the current result, as JSON-ready rows."""
        if not self.history or not column:
            return []
        frame = breakdown(self.spotlight().weights, self.losses, self.column_values(column), counts=self.counts)
        frame = frame.replace({np.nan: None})
        return frame.to_dict(orient="records")

    # -- figures --------------------------------------------------------------------------

    def figure(self, view: str, *, column: str | None = None, **options: Any):
        """A matplotlib figure of one view of the current result; see ``SpotlightExplorer.figure``."""
        return view_figure(self, view, column=column, **options)


def _top_loss(sp: SliceLike, losses: np.ndarray) -> float:
    top = sp.top_indices
    return float(losses[top].mean()) if len(top) else float("nan")


def _check_training(
    train_influence: Any, train_items: Any, influence: torch.Tensor | None, side: int
) -> tuple[torch.Tensor | None, ItemSource | None]:
    if train_influence is None:
        if train_items is not None:
            raise ValueError("train_items are shown as slice opponents, which need train_influence= too")
        return None, None
    if influence is None:
        raise ValueError("train_influence needs influence= (the explored examples' influence embeddings) too")
    train = as_matrix(train_influence, "train_influence", dtype=torch.float32, device="cpu")
    if train.shape[1] != influence.shape[1]:
        raise ValueError(
            f"train_influence has {train.shape[1]} columns but influence has {influence.shape[1]}: "
            "both must come from the same influence_embeddings() call"
        )
    return train, ItemSource(train_items, train.shape[0], side=side)


def _check_probs(probs: Any, labels: np.ndarray | None, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Class ids and probabilities for the finders that use them (None, None without probs)."""
    if probs is None:
        return None, None
    _, p = check_predictions(None, probs, length=n)
    if labels is None:
        return None, p
    top = n_classes(p) - 1
    need = f"with probs=, labels must be integer class ids in [0, {top}] (class_names names them for display)"
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"{need}; got {labels.dtype} values such as {str(labels[0])!r}")
    try:
        y, _ = check_predictions(labels, p, length=n)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{need}: {exc}") from exc
    return y, p


def _check_method_options(options: Any, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-method keyword options for ``find_slices``, checked against the methods offered."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(
            f"method_options must be a dict of method name -> dict of options; got {type(options).__name__}"
        )
    checked = {}
    for method, opts in options.items():
        if method == "spotlight":
            raise ValueError("method_options cannot set the Spotlight's search: use preset=, device= and seed=")
        if method not in methods:
            raise ValueError(
                f"method_options names {method!r}, which this explorer does not offer ({', '.join(methods)})"
            )
        if not isinstance(opts, dict) or not all(isinstance(k, str) for k in opts):
            raise TypeError(f"method_options[{method!r}] must be a dict of keyword options; got {opts!r}")
        reserved = sorted(_RESERVED & set(opts))
        if reserved:
            raise ValueError(f"method_options[{method!r}] cannot set {reserved}: the explorer sets them")
        checked[method] = dict(opts)
    return checked


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
