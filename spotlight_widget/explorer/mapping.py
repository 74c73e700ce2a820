"""The map: 2-D coordinates of every example, and what is drawn on them.

Pure functions of numpy arrays (no widget): the colour codes sent to the front end as one
byte per point, the outline of a result, and which points a lasso or a box encloses.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MISSING = 255
"""Colour code of a point with no value (NaN, missing category)."""
SCALE_TOP = 254
"""Colour codes 0..254 place a point on a continuous scale."""
MAX_CATEGORIES = 20
"""Categories coloured one by one; the rest share an "other" colour."""


@dataclass(frozen=True)
class Colors:
    """One byte per point and the legend that says what the bytes mean."""

    codes: np.ndarray
    legend: dict


def continuous(values: np.ndarray, label: str, *, lo: float | None = None, hi: float | None = None) -> Colors:
    """Codes 0..254 along [lo, hi] (default: the 1st and 99th percentiles), 255 for NaN.

    Values outside [lo, hi] take the end colour: one outlier must not wash out the scale.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if lo is None or hi is None:
        ends = np.percentile(v[finite], [1, 99]) if finite.any() else np.array([0.0, 1.0])
        lo = float(ends[0]) if lo is None else lo
        hi = float(ends[1]) if hi is None else hi
    span = hi - lo if hi > lo else 1.0
    scaled = np.clip((np.where(finite, v, lo) - lo) / span, 0.0, 1.0)
    codes = np.rint(scaled * SCALE_TOP).astype(np.uint8)
    codes[~finite] = MISSING
    return Colors(codes, {"kind": "continuous", "label": label, "min": float(lo), "max": float(hi)})


def categorical(values: Any, label: str) -> Colors:
    """Codes 0..k-1 for the k most frequent categories (k <= 20, the last one "other" when
    there are more), 255 for missing values."""
    series = pd.Series(values).reset_index(drop=True)
    missing = series.isna().to_numpy()
    names = series.astype(str).to_numpy()
    names[missing] = ""
    kept, counts = np.unique(names[~missing], return_counts=True)
    order = kept[np.argsort(-counts, kind="stable")]
    if len(order) > MAX_CATEGORIES:
        shown = [str(c) for c in order[: MAX_CATEGORIES - 1]]
        categories = [*shown, "other"]
    else:
        shown = [str(c) for c in order]
        categories = shown
    lookup = {name: i for i, name in enumerate(shown)}
    other = len(shown) if len(categories) > len(shown) else MISSING
    codes = np.array([lookup.get(name, other) for name in names], dtype=np.uint8)
    codes[missing] = MISSING
    return Colors(codes, {"kind": "categorical", "label": label, "categories": categories})


def column_colors(values: Any, label: str) -> Colors:
    """A metadata column's colours: real numbers with many values on a scale, anything else by category."""
    series = pd.Series(values).reset_index(drop=True)
    if series.dtype.kind in "iuf" and series.nunique(dropna=True) > MAX_CATEGORIES:
        return continuous(series.to_numpy(dtype=np.float64, na_value=np.nan), label)
    return categorical(series, label)


def hull(points: np.ndarray) -> list[list[float]]:
    """The convex hull of 2-D points, counter-clockwise (fewer than 3 distinct points: them)."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) < 3:
        return pts.tolist()
    # Andrew's monotone chain on the points sorted by x, then y.
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]

    def chain(seq: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2:
                (ax, ay), (bx, by) = out[-2], out[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                    break
                out.pop()
            out.append(p)
        return out

    lower, upper = chain(pts), chain(pts[::-1])
    return np.array(lower[:-1] + upper[:-1]).tolist()


def outline_points(coords: np.ndarray, members: np.ndarray, *, limit: int = 20_000, seed: int = 0) -> np.ndarray:
    """The members to outline: all of them, or a fixed sample when there are more than ``limit``."""
    members = np.asarray(members, dtype=np.int64)
    if len(members) > limit:
        members = np.sort(np.random.default_rng(seed).choice(members, size=limit, replace=False))
    return coords[members]


def inside_polygon(coords: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Indices of the points inside a polygon (even-odd rule; edges may fall either side)."""
    poly = np.asarray(polygon, dtype=np.float64)
    x, y = coords[:, 0].astype(np.float64), coords[:, 1].astype(np.float64)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    candidates = np.flatnonzero((x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]))
    px, py = x[candidates], y[candidates]
    inside = np.zeros(len(candidates), dtype=bool)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        crosses = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < at)
    return candidates[inside]


def inside_box(coords: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the points inside an axis-aligned box [x0, y0, x1, y1] (either corner order)."""
    x0, y0, x1, y1 = box
    (x0, x1), (y0, y1) = sorted((x0, x1)), sorted((y0, y1))
    x, y = coords[:, 0], coords[:, 1]
    return np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))


def combine(current: list[int], chosen: np.ndarray, mode: str) -> list[int]:
    """A selection after a lasso or box: replaced by, extended with, or reduced by ``chosen``."""
    if mode == "replace":
        return np.unique(chosen).tolist()
    if mode == "add":
        return np.union1d(current, chosen).astype(np.int64).tolist()
    if mode == "remove":
        return np.setdiff1d(current, chosen).astype(np.int64).tolist()
    raise ValueError(f"mode must be replace, add or remove; got {mode!r}")


def check_coords(coords: Any, n: int) -> np.ndarray:
    """Coordinates a user brings: (N, 2), finite, as float32."""
    if hasattr(coords, "detach"):
        coords = coords.detach().cpu().numpy()
    arr = np.asarray(coords)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"coords must be numbers; got dtype {arr.dtype}")
    if arr.shape != (n, 2):
        raise ValueError(f"coords must have shape ({n}, 2), one 2-D point per example; got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"coords has {int(bad.sum())} rows with NaN or inf, e.g. row {int(np.flatnonzero(bad)[0])}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def fingerprint(embeddings: np.ndarray, *parts: Any) -> str:
    """A cheap key for the same embeddings: shape, dtype and a strided sample of rows."""
    rows = embeddings[:: max(1, len(embeddings) // 1024)]
    digest = hashlib.blake2b(np.ascontiguousarray(rows).tobytes(), digest_size=16)
    digest.update(repr((embeddings.shape, str(embeddings.dtype), *parts)).encode())
    return digest.hexdigest()


class ProjectionCache:
    """The last few projections, so a new explorer on the same embeddings opens with its map."""

    def __init__(self, size: int = 4):
        self._size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def has(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        value.flags.writeable = False
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


CACHE = ProjectionCache()
