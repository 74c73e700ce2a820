"""Requests from the front end: checked before anything acts on them.

Every request is a dict ``{"type": ..., "id": ..., ...}``. A malformed one raises
``RequestError`` with a message for the user; the widget replies ``{"id", "error"}``
instead of letting an exception escape into the kernel's message loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_THUMBNAILS_PER_REQUEST = 200


class RequestError(ValueError):
    """A front-end request that cannot be served."""


SOURCES = ("data", "train")


@dataclass(frozen=True)
class Thumbnails:
    id: str
    indices: list[int]
    # "data": the examples explored; "train": the training examples (slice opponents).
    source: str = "data"


@dataclass(frozen=True)
class Detail:
    id: str
    index: int


@dataclass(frozen=True)
class Next:
    id: str


@dataclass(frozen=True)
class Select:
    id: str
    mode: str
    threshold: float | None


@dataclass(frozen=True)
class Probe:
    id: str
    index: int
    boxes: list[tuple[int, int, int, int]]
    metric: str


MAX_PROBE_BOXES = 32
PROBE_METRICS = {"iou": "IoU", "gtc": "region coverage", "sc": "saliency coverage"}
"""Shared Interest metrics a probe can rank classes by, with the names the front end shows."""

@dataclass(frozen=True)
class Coords:
    id: str


@dataclass(frozen=True)
class Colors:
    id: str
    by: str


@dataclass(frozen=True)
class Lasso:
    id: str
    polygon: list[tuple[float, float]]
    mode: str
    # The coordinates' version the region was drawn on (None: not said).
    version: int | None = None


@dataclass(frozen=True)
class Box:
    id: str
    box: tuple[float, float, float, float]
    mode: str
    version: int | None = None


@dataclass(frozen=True)
class Describe:
    id: str


MAX_POLYGON_VERTICES = 10_000
SELECTION_MODES = ("replace", "add", "remove")

Request = Thumbnails | Detail | Next | Select | Probe | Coords | Colors | Lasso | Box | Describe


def _index(value: Any, n: int, what: str = "index") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{what} must be an integer; got {value!r}")
    if not 0 <= value < n:
        raise RequestError(f"{what} {value} is out of range (0 to {n - 1})")
    return value


def parse(message: Any, n: int, n_train: int = 0) -> Request:
    """Check a request against the data's size ``n`` (and the training set's) and return it typed."""
    if not isinstance(message, dict):
        raise RequestError(f"a request must be an object; got {type(message).__name__}")
    kind = message.get("type")
    rid = message.get("id")
    if not isinstance(rid, str) or not rid:
        raise RequestError("a request needs a string id")
    if kind == "thumbnails":
        indices = message.get("indices")
        if not isinstance(indices, list):
            raise RequestError("thumbnails: indices must be a list")
        if len(indices) > MAX_THUMBNAILS_PER_REQUEST:
            raise RequestError(f"thumbnails: at most {MAX_THUMBNAILS_PER_REQUEST} per request; got {len(indices)}")
        source = message.get("source", "data")
        if source not in SOURCES:
            raise RequestError(f"thumbnails: source must be one of {', '.join(SOURCES)}; got {source!r}")
        if source == "train" and not n_train:
            raise RequestError("thumbnails: this explorer has no training examples")
        return Thumbnails(rid, [_index(i, n if source == "data" else n_train) for i in indices], source)
    if kind == "detail":
        return Detail(rid, _index(message.get("index"), n))
    if kind == "next":
        return Next(rid)
    if kind == "select":
        mode = message.get("mode")
        if mode not in ("top", "above", "none"):
            raise RequestError(f"select: mode must be top, above or none; got {mode!r}")
        threshold = message.get("threshold")
        if mode == "above":
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
                raise RequestError(f"select: threshold must be a number; got {threshold!r}")
            threshold = float(threshold)
        return Select(rid, mode, threshold)
    if kind == "probe":
        return Probe(rid, _index(message.get("index"), n), _boxes(message.get("boxes")), _metric(message.get("metric")))
    if kind == "coords":
        return Coords(rid)
    if kind == "describe":
        return Describe(rid)
    if kind == "colors":
        by = message.get("by")
        if not isinstance(by, str):
            raise RequestError(f"colors: by must be a string; got {by!r}")
        return Colors(rid, by)
    if kind == "lasso":
        return Lasso(rid, _polygon(message.get("polygon")), _mode(message.get("mode")), _version(message))
    if kind == "box":
        box = message.get("box")
        if not isinstance(box, list) or len(box) != 4 or not all(_finite(v) for v in box):
            raise RequestError(f"box: box must be [x0, y0, x1, y1] in map coordinates; got {box!r}")
        return Box(rid, tuple(float(v) for v in box), _mode(message.get("mode")), _version(message))
    raise RequestError(f"unknown request type {kind!r}")


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _polygon(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not 3 <= len(value) <= MAX_POLYGON_VERTICES:
        raise RequestError(f"lasso: polygon must be a list of 3 to {MAX_POLYGON_VERTICES} [x, y] points")
    points = []
    for point in value:
        if not isinstance(point, list) or len(point) != 2 or not all(_finite(v) for v in point):
            raise RequestError(f"lasso: a polygon point is [x, y] with finite numbers; got {point!r}")
        points.append((float(point[0]), float(point[1])))
    return points


def _version(message: dict) -> int | None:
    value = message.get("version")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise RequestError(f"version must be the coordinates' version (an integer); got {value!r}")


def _mode(value: Any) -> str:
    if value is None:
        return "replace"
    if value not in SELECTION_MODES:
        raise RequestError(f"mode must be one of {', '.join(SELECTION_MODES)}; got {value!r}")
    return value


def _boxes(value: Any) -> list[tuple[int, int, int, int]]:
    if not isinstance(value, list) or not value:
        raise RequestError("probe: boxes must be a non-empty list of [x0, y0, x1, y1]")
    if len(value) > MAX_PROBE_BOXES:
        raise RequestError(f"probe: at most {MAX_PROBE_BOXES} boxes; got {len(value)}")
    boxes = []
    for box in value:
        if not isinstance(box, list) or len(box) != 4:
            raise RequestError(f"probe: a box is [x0, y0, x1, y1]; got {box!r}")
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in box):
            raise RequestError(f"probe: box corners must be non-negative integers (pixels); got {box!r}")
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            raise RequestError(f"probe: a box needs x0 < x1 and y0 < y1; got {box!r}")
        boxes.append((x0, y0, x1, y1))
    return boxes


def _metric(value: Any) -> str:
    if value is None:
        return "iou"
    if value not in PROBE_METRICS:
        raise RequestError(f"probe: metric must be one of {', '.join(PROBE_METRICS)}; got {value!r}")
    return value


def request_id(message: Any) -> str | None:
    """The id to answer, even for a malformed request (None when there is none)."""
    if isinstance(message, dict) and isinstance(message.get("id"), str):
        return message["id"]
    return None
