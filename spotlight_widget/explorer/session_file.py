"""Saved explorer sessions: one file that ``SpotlightExplorer.load`` reopens on the same data.

The file is a zip archive (deflated) of JSON and NumPy ``.npy`` arrays of numbers; it holds
no pickle, so opening a shared session runs no code. Its members:

``session.json``
    A UTF-8 JSON object (strict: non-finite numbers are the strings "nan", "inf", "-inf"):

    - ``format``: "spotlight-widget-session"; ``version``: 1 (a reader refuses a higher one);
      ``package``: the spotlight-widget version that wrote it; ``saved``: the UTC time.
    - ``settings``: the search's ``seed`` and ``preset`` (its name; null for a custom
      ``Preset``), which a load uses unless given others, so "next" continues the sequence.
    - ``data``: fingerprints of the data, which is not saved: ``rows``, ``dims``, SHA-256
      digests of the embeddings (float32), losses (float64), counts, labels, predictions,
      probs, influence, each metadata column and the compared models (null: not given); a
      load checks the data it is given against them and names what differs.
    - ``view``: what the user looked at (the widget's view traits: method, current, size,
      tab, page, sort, filter, breakdown column...).
    - ``methods``: by method, ``results`` (a list of ``{"size": S, "results": [...]}``, each
      size's results in their sequence order), ``history`` (``[S, position]`` pairs, the
      position indexing that size's list), ``current`` (the history position shown, -1 for
      none), ``selection`` (an array member, or null for none) and ``notes``
      (``[{"size", "position", "text"}]``).

    A result is ``{"type": "spotlight", ...}`` (every ``Spotlight`` field) or ``{"type":
    "slice", ...}`` (every ``Slice`` field; ``info`` as ``[{"key", "value" | "real" |
    "array"}]``). Scalars are inline, arrays are member names; ``losses`` and ``counts`` are
    "inputs" when they are the explorer's own, null when absent.
``arrays/<k>.npy``
    The arrays: weights, member indices, centres, search histories, selections, array-valued
    slice info. Read with ``numpy.load(..., allow_pickle=False)``.

Everything read is checked; a file that is not a session, is damaged, or comes from a newer
format is refused with a ValueError saying so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import io
import json
import logging
import math
import os
import pathlib
import re
import secrets
import zipfile
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from .. import __version__
from ..engine import Spotlight
from ..engine.result import SearchHistory
from ..slices import Slice
from .inputs import ExplorerInputs
from .store import ResultStore

if TYPE_CHECKING:
    from .widget import SpotlightExplorer

FORMAT = "spotlight-widget-session"
VERSION = 1
SESSION = "session.json"
HISTORY_FIELDS = tuple(f.name for f in dataclasses.fields(SearchHistory))
# View traits in the order they are restored: the method first (it decides what "current"
# and "selected" refer to), the page last (changing the tab, sort or filter resets it).
VIEW_ORDER = (
    "method",
    "current",
    "selected",
    "size",
    "tab",
    "page_size",
    "breakdown_column",
    "sort_by",
    "sort_descending",
    "filter_column",
    "filter_group",
    "overlay",
    "map_color",
    "detail",
    "page",
)
_ARRAY_NAME = re.compile(r"arrays/[0-9]{1,9}\.npy")
_MAX_JSON_BYTES = 64 * 2**20
# Bytes an array member may hold beyond 8 per expected value: the .npy header, and search
# histories longer than the data is wide.
_SLACK_BYTES = 2**20
_REAL_TEXT = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

log = logging.getLogger(__name__)


# -- fingerprints -----------------------------------------------------------------------------


def data_fingerprint(inputs: ExplorerInputs) -> dict[str, Any]:
    """Digests of everything a session's results depend on or show (None: not given)."""
    fingerprint: dict[str, Any] = {
        "rows": inputs.n,
        "dims": int(inputs.embeddings.shape[1]),
        "embeddings": _array_digest(inputs.embeddings.numpy(), np.float32),
        "losses": _array_digest(inputs.losses, np.float64),
        "influence": None if inputs.influence is None else _array_digest(inputs.influence.numpy(), np.float32),
    }
    for name in ("counts", "labels", "predictions", "probs"):
        values = getattr(inputs, name)
        fingerprint[name] = None if values is None else _values_digest(values)
    meta = inputs.metadata
    fingerprint["metadata"] = (
        None if meta is None else {str(c): _values_digest(meta[c].to_numpy()) for c in meta.columns}
    )
    compared = inputs.comparison
    fingerprint["comparison"] = None
    if compared is not None:
        fingerprint["comparison"] = {"names": [str(name) for name in compared.names], "direction": compared.direction}
        for name in ("losses_old", "losses_new", "predictions_old", "predictions_new"):
            values = getattr(compared, name)
            fingerprint["comparison"][name] = None if values is None else _values_digest(values)
    return fingerprint


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between a saved fingerprint and the data given now, in words.

    Inputs given now but not at save time are not differences; metadata columns added since are not either.
    """
    found = []
    for name, before in saved.items():
        after = now.get(name)
        if before is None or before == after:
            continue
        if after is None:
            found.append(f"{name} (given when the session was saved, not now)")
        elif name in ("rows", "dims"):
            found.append(f"{name} ({before} in the session, {after} now)")
        elif name == "metadata":
            missing = [c for c in before if c not in after]
            changed = [c for c in before if c in after and before[c] != after[c]]
            found += [f"metadata column {c!r} (missing now)" for c in missing]
            found += [f"metadata column {c!r}" for c in changed]
        else:
            found.append(name)
    return found


def _array_digest(values: np.ndarray, dtype: type) -> str:
    """A digest of an array's bytes as ``dtype`` (its shape is fingerprinted apart)."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=dtype).tobytes()).hexdigest()


def _values_digest(values: Any) -> str:
    """A digest of a column of values: real numbers by their float64 bytes, anything else as text."""
    arr = np.asarray(values)
    h = hashlib.sha256(f"{arr.shape}".encode())
    if arr.dtype.kind in "biuf":
        h.update(b"real")
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    else:
        h.update(b"text")
        for value in arr.ravel():
            h.update(str(value).encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


# -- writing ----------------------------------------------------------------------------------


def save_session(path: Any, inputs: ExplorerInputs, store: ResultStore, *, view: dict) -> pathlib.Path:
    """Write a session (see the module's docstring for the format).

    The file is written next to ``path`` and then moved over it: a failed save leaves an
    earlier file whole.

    Parameters
    ----------
    path : str or path
        Where to write.
    inputs : ExplorerInputs
        The explorer's data, fingerprinted.
    store : ResultStore
        The results, histories, positions, selections and notes saved.
    view : dict
        The view traits restored on load (``SpotlightExplorer._view_state``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        For a path that is not a str or path, or a result or slice info that cannot be saved.
    """
    target = _as_path(path)
    state = store.export_state()
    preset = inputs.preset if isinstance(inputs.preset, str) else None
    # Opened by name rather than by tempfile, which would make it private to its owner.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with zipfile.ZipFile(temporary, "x", compression=zipfile.ZIP_DEFLATED) as archive:
            writer = _Writer(archive)
            document = {
                "format": FORMAT,
                "version": VERSION,
                "package": __version__,
                "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "settings": {"seed": inputs.seed, "preset": preset},
                "data": data_fingerprint(inputs),
                "view": {name: _plain(value) for name, value in view.items()},
                "methods": {method: writer.method(inputs, method, saved) for method, saved in state.items()},
            }
            archive.writestr(SESSION, json.dumps(document, allow_nan=False, indent=1))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


class _Writer:
    """Writes one session's arrays as numbered ``.npy`` members and its results as JSON."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.count = 0

    def array(self, values: Any) -> str:
        name = f"arrays/{self.count}.npy"
        self.count += 1
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(values), allow_pickle=False)
        self.archive.writestr(name, buffer.getvalue())
        return name

    def shared(self, values: np.ndarray | None, own: np.ndarray | None) -> str | None:
        """``values`` as a member, or "inputs" when they are the explorer's own (``own``)."""
        if values is None:
            return None
        if own is not None and (values is own or np.array_equal(values, own)):
            return "inputs"
        return self.array(values)

    def method(self, inputs: ExplorerInputs, method: str, saved: dict[str, Any]) -> dict[str, Any]:
        results = [
            {
                "size": int(size),
                "results": [self.result(inputs, r, f"{method} S={size} #{i}") for i, r in enumerate(found)],
            }
            for size, found in saved["results"].items()
        ]
        return {
            "results": results,
            "history": [[int(size), int(position)] for size, position in saved["history"]],
            "current": int(saved["current"]),
            "selection": self.array(np.asarray(saved["selection"], dtype=np.int64)) if saved["selection"] else None,
            "notes": [
                {"size": int(size), "position": int(position), "text": text}
                for (size, position), text in saved["notes"].items()
            ],
        }

    def result(self, inputs: ExplorerInputs, result: Any, where: str) -> dict[str, Any]:
        if type(result) is Spotlight:
            return {
                "type": "spotlight",
                "weights": self.array(result.weights),
                "indices": self.array(result.indices),
                "center": self.array(result.center),
                "history": {name: self.array(getattr(result.history, name)) for name in HISTORY_FIELDS},
                "weighted_loss": _real_out(result.weighted_loss),
                "top_loss": _real_out(result.top_loss),
                "mass": _real_out(result.mass),
                "size": int(result.size),
                "precision": _real_out(result.precision),
                "objective": _real_out(result.objective),
                "preset": str(result.preset),
                "rank": int(result.rank),
                "converged": bool(result.converged),
                "losses": self.shared(result.losses, inputs.losses),
                "counts": self.shared(result.counts, inputs.counts),
            }
        if type(result) is Slice:
            return {
                "type": "slice",
                "method": result.method,
                "weights": self.array(result.weights),
                "losses": self.shared(result.losses, inputs.losses),
                "rank": int(result.rank),
                "score": _real_out(result.score),
                "info": [self.info(key, value, where) for key, value in result.info.items()],
            }
        raise TypeError(
            f"{where}: a {type(result).__name__} cannot be saved; sessions hold Spotlight and Slice results"
        )

    def info(self, key: Any, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(key, str):
            raise TypeError(f"{where}: slice info key {key!r} is not text")
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.ndim == 1:
            return {"key": key, "array": self.array(value)}
        plain = _plain(value)
        if isinstance(plain, float) and not math.isfinite(plain):
            return {"key": key, "real": _real_out(plain)}
        try:
            json.dumps(plain, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: slice info {key!r} cannot be saved ({type(value).__name__}: {exc})") from None
        return {"key": key, "value": plain}


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones, tuples as lists, recursively."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _real_out(value: float) -> float | str:
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


# -- reading ----------------------------------------------------------------------------------

_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)
"""What zipfile raises for a file that is not a zip, is cut short, or has damaged or encrypted members."""


@contextlib.contextmanager
def _readable(name: str) -> Iterator[None]:
    """Turns zipfile's errors into a ValueError that says the file is not a readable session."""
    try:
        yield
    except _DAMAGE as exc:
        raise ValueError(f"{name} is not a readable saved session (a damaged or foreign file): {exc}") from None


class _Reader:
    """Checks a session archive as it reads it; every error names the file and what is wrong.

    ``document`` reads the JSON. ``state`` reads the results once the explorer's inputs
    exist: arrays are checked against the data given, not against sizes the file claims.
    """

    def __init__(self, archive: zipfile.ZipFile, name: str):
        self.archive = archive
        self.name = name
        self.members = {info.filename: info for info in archive.infolist()}
        self.rows = 0
        self.dims = 0

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{self.name}: {message}")

    def document(self) -> dict[str, Any]:
        """``session.json``, its format and version checked, its sections JSON objects."""
        info = self.members.get(SESSION)
        if info is None:
            raise self.fail(f"not a saved session: it has no {SESSION}")
        if info.file_size > _MAX_JSON_BYTES:
            raise self.fail(f"{SESSION} is {info.file_size:,} bytes, more than a session's {_MAX_JSON_BYTES:,}")
        try:
            document = json.loads(self.archive.read(SESSION).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.fail(f"{SESSION} is not valid JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise self.fail(f"not a saved session: {SESSION} does not declare the format {FORMAT!r}")
        version = document.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail(f"the session's format version is {version!r}, not a version number")
        if version > VERSION:
            raise self.fail(
                f"the session has format version {version}, written by spotlight-widget "
                f"{document.get('package', '(unknown)')}; this version reads up to {VERSION}: upgrade to open it"
            )
        for section in ("settings", "data", "view", "methods"):
            self.mapping(document.get(section), section)
        metadata = document["data"].get("metadata")
        if metadata is not None and not all(
            isinstance(v, str) for v in self.mapping(metadata, "data.metadata").values()
        ):
            raise self.fail("data.metadata must map each column to its digest")
        return document

    def state(self, methods: dict[str, Any], inputs: ExplorerInputs) -> dict[str, dict[str, Any]]:
        """The saved methods in the form ``ResultStore.import_state`` takes, results rebuilt on ``inputs``."""
        self.rows, self.dims = inputs.n, int(inputs.embeddings.shape[1])
        return {
            str(m): self.method(self.mapping(saved, f"methods.{m}"), f"methods.{m}", inputs)
            for m, saved in methods.items()
        }

    # -- JSON values ---------------------------------------------------------------------

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} must be a JSON object; got {type(value).__name__}")
        return value

    def listing(self, value: Any, where: str) -> list:
        if not isinstance(value, list):
            raise self.fail(f"{where} must be a JSON list; got {type(value).__name__}")
        return value

    def integer(self, value: Any, where: str, *, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where} must be an integer; got {value!r}")
        if value < low:
            raise self.fail(f"{where} is {value}, less than {low}")
        return value

    def real(self, value: Any, where: str) -> float:
        if isinstance(value, str) and value in _REAL_TEXT:
            return _REAL_TEXT[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{where} must be a number; got {value!r}")
        return float(value)

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{where} must be text; got {value!r}")
        return value

    # -- arrays ----------------------------------------------------------------------------

    def array(
        self, name: Any, where: str, kinds: str, *, length: int | None = None, most: int | None = None
    ) -> np.ndarray:
        """A 1-D numeric array member: ``kinds`` its allowed dtype kinds, of exactly ``length`` or at most ``most``."""
        if not isinstance(name, str) or not _ARRAY_NAME.fullmatch(name):
            raise self.fail(f"{where} must name an array member (arrays/<k>.npy); got {name!r}")
        info = self.members.get(name)
        if info is None:
            raise self.fail(f"{where}: the file has no member {name}")
        limit = 8 * max(length or 0, most or 0, self.rows, self.dims) + _SLACK_BYTES
        if info.file_size > limit:
            raise self.fail(f"{where}: {name} holds {info.file_size:,} bytes, more than it can ({limit:,})")
        try:
            values = np.load(io.BytesIO(self.archive.read(name)), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            # numpy refuses object arrays before unpickling anything; its message names allow_pickle.
            if "allow_pickle" in str(exc):
                raise self.fail(f"{where}: {name} holds pickled objects, which a session never does") from None
            raise self.fail(f"{where}: {name} is not a readable .npy array: {exc}") from None
        if not isinstance(values, np.ndarray) or values.dtype.kind not in kinds or values.ndim != 1:
            raise self.fail(f"{where}: {name} must be a 1-D array of kind {kinds!r}; got {values.dtype} {values.shape}")
        if length is not None and values.shape[0] != length:
            raise self.fail(f"{where}: {name} has {values.shape[0]} values, not {length}")
        if most is not None and values.shape[0] > most:
            raise self.fail(f"{where}: {name} has {values.shape[0]} values, more than {most}")
        return values

    def weights(self, name: Any, where: str) -> np.ndarray:
        values = self.array(name, where, "f", length=self.rows).astype(np.float64, copy=False)
        if not np.all((values >= 0) & (values <= 1)):
            raise self.fail(f"{where}: weights must lie in [0, 1]")
        return values

    def indices(self, name: Any, where: str) -> np.ndarray:
        values = self.array(name, where, "iu", most=self.rows).astype(np.int64, copy=False)
        if values.size and not (values.min() >= 0 and values.max() < self.rows):
            raise self.fail(f"{where}: example indices must lie in [0, {self.rows - 1}]")
        if np.unique(values).size != values.size:
            raise self.fail(f"{where}: example indices repeat")
        return values

    def shared(self, value: Any, where: str, own: np.ndarray | None) -> np.ndarray | None:
        """Losses or counts: none, the explorer's own (``own``), or an array of their own."""
        if value is None:
            return None
        if value == "inputs":
            return own
        return self.array(value, where, "f", length=self.rows).astype(np.float64, copy=False)

    # -- methods and results ---------------------------------------------------------------

    def method(self, saved: dict[str, Any], where: str, inputs: ExplorerInputs) -> dict[str, Any]:
        results: dict[int, list] = {}
        for i, group in enumerate(self.listing(saved.get("results"), f"{where}.results")):
            group = self.mapping(group, f"{where}.results[{i}]")
            size = self.integer(group.get("size"), f"{where}.results[{i}].size", low=1)
            if size in results:
                raise self.fail(f"{where}.results lists size {size} twice")
            found = self.listing(group.get("results"), f"{where}.results[{i}].results")
            results[size] = [self.result(r, f"{where}.results[{i}].results[{j}]", inputs) for j, r in enumerate(found)]
        history = []
        for i, entry in enumerate(self.listing(saved.get("history"), f"{where}.history")):
            pair = self.listing(entry, f"{where}.history[{i}]")
            if len(pair) != 2:
                raise self.fail(f"{where}.history[{i}] must be a [size, position] pair; got {pair!r}")
            history.append(
                (
                    self.integer(pair[0], f"{where}.history[{i}]", low=1),
                    self.integer(pair[1], f"{where}.history[{i}]", low=0),
                )
            )
        selection = saved.get("selection")
        notes = {}
        for i, note in enumerate(self.listing(saved.get("notes", []), f"{where}.notes")):
            note = self.mapping(note, f"{where}.notes[{i}]")
            key = (
                self.integer(note.get("size"), f"{where}.notes[{i}].size", low=1),
                self.integer(note.get("position"), f"{where}.notes[{i}].position", low=0),
            )
            notes[key] = self.text(note.get("text"), f"{where}.notes[{i}].text")
        return {
            "results": results,
            "history": history,
            "current": self.integer(saved.get("current"), f"{where}.current", low=-1),
            "selection": () if selection is None else tuple(self.indices(selection, f"{where}.selection").tolist()),
            "notes": notes,
        }

    def result(self, saved: Any, where: str, inputs: ExplorerInputs) -> Spotlight | Slice:
        saved = self.mapping(saved, where)
        kind = saved.get("type")
        if kind == "spotlight":
            return self.spotlight(saved, where, inputs)
        if kind == "slice":
            return self.slice(saved, where, inputs)
        raise self.fail(f"{where}.type must be 'spotlight' or 'slice'; got {kind!r}")

    def spotlight(self, saved: dict[str, Any], where: str, inputs: ExplorerInputs) -> Spotlight:
        center = self.array(saved.get("center"), f"{where}.center", "f", length=self.dims).astype(
            np.float64, copy=False
        )
        if not np.all(np.isfinite(center)):
            raise self.fail(f"{where}.center must be finite")
        trace = self.mapping(saved.get("history"), f"{where}.history")
        steps = {name: self.array(trace.get(name), f"{where}.history.{name}", "biuf") for name in HISTORY_FIELDS}
        if len({values.shape[0] for values in steps.values()}) > 1:
            raise self.fail(f"{where}.history: its arrays have different lengths")
        precision = self.real(saved.get("precision"), f"{where}.precision")
        if not (math.isfinite(precision) and precision > 0):
            raise self.fail(f"{where}.precision must be a positive number; got {precision}")
        converged = saved.get("converged")
        if not isinstance(converged, bool):
            raise self.fail(f"{where}.converged must be true or false; got {converged!r}")
        fields = {
            "weights": self.weights(saved.get("weights"), f"{where}.weights"),
            "indices": self.indices(saved.get("indices"), f"{where}.indices"),
            "weighted_loss": self.real(saved.get("weighted_loss"), f"{where}.weighted_loss"),
            "top_loss": self.real(saved.get("top_loss"), f"{where}.top_loss"),
            "mass": self.real(saved.get("mass"), f"{where}.mass"),
            "size": self.integer(saved.get("size"), f"{where}.size", low=1),
            "center": center,
            "precision": precision,
            "objective": self.real(saved.get("objective"), f"{where}.objective"),
            "history": SearchHistory(**steps),
            "preset": self.text(saved.get("preset"), f"{where}.preset"),
            "rank": self.integer(saved.get("rank"), f"{where}.rank", low=0),
            "converged": converged,
        }
        return Spotlight(
            **fields,
            losses=self.shared(saved.get("losses"), f"{where}.losses", inputs.losses),
            counts=self.shared(saved.get("counts"), f"{where}.counts", inputs.counts),
        )

    def slice(self, saved: dict[str, Any], where: str, inputs: ExplorerInputs) -> Slice:
        method = self.text(saved.get("method"), f"{where}.method")
        weights = self.weights(saved.get("weights"), f"{where}.weights")
        losses = self.shared(saved.get("losses"), f"{where}.losses", inputs.losses)
        rank = self.integer(saved.get("rank"), f"{where}.rank", low=0)
        score = self.real(saved.get("score"), f"{where}.score")
        info = {}
        for i, entry in enumerate(self.listing(saved.get("info", []), f"{where}.info")):
            entry = self.mapping(entry, f"{where}.info[{i}]")
            key = self.text(entry.get("key"), f"{where}.info[{i}].key")
            if "array" in entry:
                info[key] = self.array(entry["array"], f"{where}.info[{key!r}]", "biuf")
            elif "real" in entry:
                info[key] = self.real(entry["real"], f"{where}.info[{key!r}]")
            elif "value" in entry:
                info[key] = entry["value"]
            else:
                raise self.fail(f"{where}.info[{i}] has no value, real or array")
        try:
            return Slice(method, weights, losses, rank=rank, score=score, info=info)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"{where} is not a valid slice: {exc}") from None


# -- loading ----------------------------------------------------------------------------------


def load_session(
    cls: type[SpotlightExplorer], path: Any, embeddings: Any, losses: Any, items: Any = None, **options: Any
) -> SpotlightExplorer:
    """Reopen a saved session on the same data (``SpotlightExplorer.load``).

    The explorer is built with the saved results, histories, positions, selections and
    notes in place (no search runs for them), with the saved ``seed`` and ``preset`` unless
    ``options`` give others; then the saved view is restored, skipping any value this
    explorer refuses (e.g. a column no longer given).

    Raises
    ------
    ValueError
        When the file is not a readable session, or the data differs from the data it was
        saved on (the message names what differs).
    """
    source = _as_path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no session file at {source}")
    with _readable(source.name):
        archive = zipfile.ZipFile(source)
    with archive:
        reader = _Reader(archive, source.name)
        with _readable(source.name):
            document = reader.document()
        settings = document["settings"]
        if isinstance(settings.get("seed"), int) and not isinstance(settings["seed"], bool):
            options.setdefault("seed", settings["seed"])
        if isinstance(settings.get("preset"), str):
            options.setdefault("preset", settings["preset"])

        def restore(store: ResultStore) -> None:
            differ = differences(document["data"], data_fingerprint(store.inputs))
            if differ:
                raise ValueError(
                    f"the data is not the data this session was saved on; these differ: {', '.join(differ)}"
                )
            with _readable(source.name):
                state = reader.state(document["methods"], store.inputs)
            try:
                store.import_state(state)
            except ValueError as exc:
                raise ValueError(f"{source.name}: the session's results are inconsistent: {exc}") from None

        compared = document["data"].get("comparison")
        if isinstance(compared, dict):
            # A comparison reopens through ``compare``, on both models' losses, searched
            # in the direction it was saved in (its results are that direction's).
            if not (isinstance(losses, tuple | list) and len(losses) == 2):
                raise ValueError(
                    f"{source.name} compares two models: pass losses=(losses_old, losses_new) to reopen it"
                )
            names = compared.get("names")
            if isinstance(names, list) and len(names) == 2:
                options.setdefault("names", tuple(names))
            if compared.get("direction") in ("worse", "better"):
                options.setdefault("direction", compared["direction"])
            explorer = cls.compare(embeddings, losses[0], losses[1], items, **options, _restore=restore)
        else:
            explorer = cls(embeddings, losses, items, **options, _restore=restore)
    skipped = _restore_view(explorer, document["view"])
    if skipped:
        log.warning("the saved view could not be restored in full: %s", "; ".join(skipped))
    return explorer


def _restore_view(explorer: SpotlightExplorer, view: dict[str, Any]) -> list[str]:
    """Set the saved view traits in ``VIEW_ORDER``; returns why each refused one was skipped."""
    skipped = []
    for name in VIEW_ORDER:
        if name not in view:
            continue
        try:
            setattr(explorer, name, view[name])
        except (traitlets.TraitError, TypeError, ValueError) as exc:
            skipped.append(f"{name}: {exc}")
    if skipped:
        # The refusals are reported here; the widget opens without an error banner.
        explorer.error = ""
    return skipped


def _as_path(path: Any) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path; got {type(path).__name__}")
    return pathlib.Path(path)
