"""Every result the explorer has found, per method: the only state its worker thread writes.

``ResultStore`` owns its lock. Readers take a ``MethodView``, an immutable snapshot of one
method's history, and build what they show from it; nothing outside the store holds a
reference to its mutable parts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..engine import SearchCancelled, SearchProgress, Spotlight, find_spotlights
from ..slices import Slice, SliceLike, find_slices
from .inputs import ExplorerInputs
from .methods import SELECTION, method_info

# Companion methods return their results in ranked batches: asking for a few at once
# saves refitting a clustering for every "next".
_BATCH = 5


class NothingStandsOut(LookupError):
    """A method found no result at all at a size (not just no further one)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One result the user has seen: its size key and its rank in that size's sequence."""

    size: int
    rank: int


@dataclass(frozen=True)
class MethodView:
    """A snapshot of one method's history: what it has found, which one is shown, what is selected."""

    method: str
    entries: tuple[HistoryEntry, ...]
    results: tuple[SliceLike, ...]
    current: int
    selection: tuple[int, ...]

    @property
    def result(self) -> SliceLike | None:
        """The result shown (None before the first one)."""
        return self.results[self.current] if self.results else None

    @property
    def size(self) -> int | None:
        """S the shown result was asked for (a cluster's own size may differ)."""
        return self.entries[self.current].size if self.entries else None


class ResultStore:
    """Results, histories, shown positions and selections of every method offered.

    Parameters
    ----------
    inputs : ExplorerInputs
        The data every search runs on.
    """

    def __init__(self, inputs: ExplorerInputs):
        self.inputs = inputs
        self._lock = threading.RLock()
        # The finders offered, and the selections the user asked to describe.
        methods = (*inputs.methods, SELECTION.name)
        self._results: dict[str, dict[int, list[SliceLike]]] = {m: {} for m in methods}
        self._history: dict[str, list[HistoryEntry]] = {m: [] for m in methods}
        self._current: dict[str, int] = dict.fromkeys(methods, -1)
        self._selection: dict[str, tuple[int, ...]] = dict.fromkeys(methods, ())
        # Counts the user's own moves through a method's history: a search that finishes
        # after the user picked another entry must not take the view back.
        self._moves: dict[str, int] = dict.fromkeys(methods, 0)
        # The user's notes, by method and history entry (an entry keeps its note wherever it is).
        self._notes: dict[str, dict[HistoryEntry, str]] = {m: {} for m in methods}
        # Fits of methods that ignore S, by (method, n): a new size must not retrain scvis.
        self._fits: dict[tuple[str, int], list[SliceLike]] = {}
        self._memo: dict[tuple[str, str, int, int], Any] = {}

    # -- reading --------------------------------------------------------------------------

    def view(self, method: str) -> MethodView:
        """A consistent snapshot of one method's state."""
        with self._lock:
            entries = tuple(self._history[method])
            results = tuple(self._results[method][e.size][e.rank] for e in entries)
            return MethodView(method, entries, results, self._current[method], self._selection[method])

    def moves(self, method: str) -> int:
        """How many times the user has moved through ``method``'s history (see ``find``)."""
        with self._lock:
            return self._moves[method]

    def memo(self, kind: str, method: str, entry: HistoryEntry, compute: Callable[[], Any]) -> Any:
        """A value derived from one result (its caption, its opponents), computed once."""
        key = (kind, method, entry.size, entry.rank)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            return self._memo.setdefault(key, value)

    # -- the user's moves -----------------------------------------------------------------

    def show(self, method: str, position: int) -> int:
        """Make a history position (negative counts from the end) the shown one; returns it."""
        with self._lock:
            count = len(self._history[method])
            if isinstance(position, bool) or not isinstance(position, int):
                raise TypeError(f"a history position must be an int; got {position!r}")
            if not -count <= position < count:
                raise IndexError(f"no result #{position}: {count} found so far")
            self._current[method] = position % count
            self._moves[method] += 1
            return self._current[method]

    def select(self, method: str, indices: Sequence[int]) -> None:
        """Keep a method's selection (checked, sorted example indices)."""
        with self._lock:
            self._selection[method] = tuple(indices)

    def set_note(self, method: str, position: int, text: str) -> None:
        """Attach ``text`` to a history position of ``method`` (empty text removes the note)."""
        with self._lock:
            history = self._history[method]
            if isinstance(position, bool) or not isinstance(position, int):
                raise TypeError(f"a history position must be an int; got {position!r}")
            if not -len(history) <= position < len(history):
                raise IndexError(f"no result #{position}: {len(history)} found so far")
            entry = history[position]
            if text:
                self._notes[method][entry] = text
            else:
                self._notes[method].pop(entry, None)

    def notes(self) -> dict[str, dict[int, str]]:
        """Every note, by method and history position."""
        with self._lock:
            return {
                method: {self._history[method].index(e): text for e, text in notes.items()}
                for method, notes in self._notes.items()
                if notes
            }

    # -- searches -------------------------------------------------------------------------

    def find(
        self,
        method: str,
        size: int,
        *,
        next_rank: bool = False,
        moves: int | None = None,
        progress: Callable[[SearchProgress], Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> HistoryEntry:
        """Find (or recall) a method's first result at ``size``, or the next one after those seen.

        Results already computed come back at once; a new Spotlight size warm-starts from
        the spotlight shown. The result joins the method's history, and is shown unless
        the user moved through the history since ``moves`` was read (``moves()``).

        Raises
        ------
        LookupError
            When the method has no (further) result at this size.
        SearchCancelled
            When ``cancel`` was set.
        """
        if method == SELECTION.name:
            raise LookupError("selections are described, not searched: select examples, then describe them")
        inputs = self.inputs
        with self._lock:
            found = list(self._results[method].get(size, []))
            seen = [e.rank for e in self._history[method] if e.size == size]
            rank = max(seen, default=-1) + 1 if next_rank else 0
            history, current = self._history[method], self._current[method]
            warm = method == "spotlight" and not found and history and inputs.preset == "fast"
            init = self._results[method][history[current].size][history[current].rank] if warm else None
        if rank >= len(found):
            # The slow part runs without the lock, so the gallery stays usable meanwhile.
            if method == "spotlight":
                new = find_spotlights(
                    inputs.embeddings,
                    inputs.losses,
                    n=1,
                    size=size,
                    counts=inputs.counts,
                    preset=inputs.preset,
                    init=init,
                    after=found,
                    device=inputs.device,
                    seed=inputs.seed,
                    progress=progress,
                    cancel=cancel,
                )
            else:
                new = self._companion(method, size, rank, progress=progress, cancel=cancel)[len(found) :]
            # Some fits cannot be interrupted: drop their result if the user moved on.
            if cancel is not None and cancel.is_set():
                raise SearchCancelled(f"the {method} search was cancelled")
        with self._lock:
            stored = self._results[method].setdefault(size, [])
            if rank >= len(stored) and len(stored) == len(found):
                stored.extend(new)
            if rank >= len(stored):
                info = method_info(method)
                if rank == 0:
                    raise NothingStandsOut(f"{info.label} found no {info.noun} at this size: none stands out")
                raise LookupError(f"{info.label} has no further {info.noun} at this size")
            entry = HistoryEntry(size, rank)
            history = self._history[method]
            if entry not in history:
                history.append(entry)
            if moves is None or moves == self._moves[method]:
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
        """The first ``rank + 1`` (at least a batch of) results of a companion method."""
        inputs = self.inputs
        info = method_info(method)
        wanted = max(rank + 1, _BATCH)
        key = (method, wanted)
        with self._lock:
            cached = None if info.sized else self._fits.get(key)
        if cached is not None:
            return cached
        embeddings = inputs.influence if method == "infembed" else inputs.embeddings
        # labels and probs go to every method: find_slices hands them to those that take them.
        found = list(
            find_slices(
                method,
                embeddings,
                inputs.losses,
                n=wanted,
                size=size,
                seed=inputs.seed,
                progress=progress,
                cancel=cancel,
                labels=inputs.class_ids,
                probs=inputs.probs,
                **inputs.method_options.get(method, {}),
            )
        )
        if not info.sized:
            with self._lock:
                self._fits[key] = found
        return found

    def add_selection(self, indices: Sequence[int]) -> HistoryEntry:
        """Keep a selection of examples as a result of its own (method "selection") and show it."""
        inputs = self.inputs
        members = np.unique(np.asarray(indices, dtype=np.int64))
        if members.size == 0:
            raise ValueError("nothing is selected: select examples on the map or in the gallery first")
        weights = np.zeros(inputs.n)
        weights[members] = 1.0
        method = SELECTION.name
        with self._lock:
            by_size = self._results[method].setdefault(len(members), [])
            rank = len(self._history[method])
            score = float(inputs.losses[members].mean())
            by_size.append(Slice(method, weights, inputs.losses, rank=rank, score=score, info={"count": len(members)}))
            entry = HistoryEntry(len(members), len(by_size) - 1)
            self._history[method].append(entry)
            self._current[method] = len(self._history[method]) - 1
            self._moves[method] += 1
            return entry

    def preload(self, spotlights: Sequence[SliceLike]) -> None:
        """Add spotlights found elsewhere (the API, the command line, a distributed run).

        They are grouped by size, each size's in rank order, so "next" continues their
        sequence; the first one is shown.
        """
        n = self.inputs.n
        if isinstance(spotlights, Spotlight) or not isinstance(spotlights, Sequence) or not spotlights:
            raise TypeError("spotlights must be a non-empty list of Spotlight results (e.g. from find_spotlights)")
        for sp in spotlights:
            if not isinstance(sp, Spotlight):
                raise TypeError(f"spotlights must be Spotlight results; got {type(sp).__name__}")
            if sp.weights.shape != (n,):
                raise ValueError(f"a spotlight has weights for {sp.weights.shape[0]} examples; the explorer has {n}")
        if "spotlight" not in self._results:
            raise ValueError("spotlights= needs the 'spotlight' method among the methods offered")
        with self._lock:
            for sp in sorted(spotlights, key=lambda sp: (sp.size, sp.rank)):
                self._results["spotlight"].setdefault(sp.size, []).append(sp)
            history = self._history["spotlight"]
            for sp in spotlights:
                by_size = self._results["spotlight"][sp.size]
                history.append(HistoryEntry(sp.size, next(i for i, x in enumerate(by_size) if x is sp)))
            self._current["spotlight"] = 0

    # -- saved sessions -------------------------------------------------------------------

    def export_state(self) -> dict[str, dict[str, Any]]:
        """A snapshot of every method's results, history, shown position, selection and notes.

        Returns
        -------
        dict
            By method: ``results`` ({S: [results in their sequence order]}), ``history``
            ([(S, position)]: the position indexes that size's results), ``current`` (the
            history position shown, -1 before the first result), ``selection`` (sorted
            example indices) and ``notes`` ({(S, position): text}). ``import_state`` takes it back.
        """
        with self._lock:
            return {
                method: {
                    "results": {size: list(found) for size, found in self._results[method].items()},
                    "history": [(e.size, e.rank) for e in self._history[method]],
                    "current": self._current[method],
                    "selection": tuple(self._selection[method]),
                    "notes": {(e.size, e.rank): text for e, text in self._notes[method].items()},
                }
                for method in self._results
            }

    def import_state(self, state: dict[str, dict[str, Any]]) -> None:
        """Replace the state of the methods in ``state`` (the form ``export_state`` gives).

        Everything is checked before anything changes. A method this store does not offer
        is refused when it holds results, and skipped when it is empty.

        Raises
        ------
        ValueError
            For a method not offered, a result with weights for another number of examples,
            a history entry or note naming no result, a position or example index out of range.
        """
        n = self.inputs.n
        checked = {}
        for method, saved in state.items():
            if method not in self._results:
                if saved["history"] or any(saved["results"].values()):
                    offered = ", ".join(self.inputs.methods)
                    raise ValueError(
                        f"the session has results of {method!r}, which this explorer does not offer ({offered})"
                    )
                continue
            results = {int(size): list(found) for size, found in saved["results"].items()}
            for size, found in results.items():
                if any(np.shape(r.weights) != (n,) for r in found):
                    raise ValueError(
                        f"{method}: a result of size {size} has weights for another number of examples than {n}"
                    )
            history = [HistoryEntry(int(size), int(position)) for size, position in saved["history"]]
            for entry in history:
                if not 0 <= entry.rank < len(results.get(entry.size, ())):
                    raise ValueError(
                        f"{method}: the history names result #{entry.rank} of size {entry.size}, which is not there"
                    )
            if len(set(history)) != len(history):
                raise ValueError(f"{method}: the history lists a result twice")
            current = int(saved["current"])
            if not (current == -1 and not history) and not 0 <= current < len(history):
                raise ValueError(f"{method}: shown position {current} is outside its history of {len(history)}")
            selection = tuple(sorted({int(i) for i in saved["selection"]}))
            if selection and not (0 <= selection[0] and selection[-1] < n):
                raise ValueError(f"{method}: the selection has example indices outside [0, {n - 1}]")
            notes = {HistoryEntry(int(size), int(position)): text for (size, position), text in saved["notes"].items()}
            if any(entry not in history for entry in notes):
                raise ValueError(f"{method}: a note is attached to a result that is not in its history")
            if not all(isinstance(text, str) and text for text in notes.values()):
                raise ValueError(f"{method}: notes must be non-empty text")
            checked[method] = (results, history, current, selection, notes)
        with self._lock:
            for method, (results, history, current, selection, notes) in checked.items():
                self._results[method] = results
                self._history[method] = history
                self._current[method] = current
                self._selection[method] = selection
                self._notes[method] = notes
            # What was derived from the replaced results no longer holds.
            self._memo = {key: value for key, value in self._memo.items() if key[1] not in checked}
            self._fits = {key: value for key, value in self._fits.items() if key[0] not in checked}


def opponents_of(inputs: ExplorerInputs, result: SliceLike, k: int) -> pd.DataFrame:
    """A result's strongest opponents among the training examples (``slice_opponents``)."""
    from ..infembed import slice_opponents

    if inputs.train_influence is None:
        raise LookupError("no training influence embeddings: pass train_influence= to see opponents")
    return slice_opponents(result, inputs.train_influence, inputs.influence, k=k)
