"""Render the images of an EC, scaled down from SpotCheck's 224 px, with their ground truth.

Every length of the original generator (``shared/notes/spotcheck.md`` §1) is multiplied by
``side / 224`` and rounded, with floors that keep the textures visible at 64 px:

============================  ==========  ==============  ===========================
feature                       224 px      64 px (default)  rule
============================  ==========  ==============  ===========================
square (large / small)        40 / 20     11 / 6           round(x * scale)
rectangle (large / small)     50x30/25x15 14x9 / 7x4       round(x * scale)
circle box (large / small)    40 / 20     11 / 6           round(x * scale)
text font size (0 / 1)        25 / 50     7 / 14           round(x * scale)
stripe width (on and off)     5           2                max(2, round(5 * scale))
clearance between boxes       5           2                max(2, round(5 * scale))
relative-position row         112         32               side / 2
background texture            10 % of pixels set to grey 100 (per pixel: not scaled)
============================  ==========  ==============  ===========================

Other differences: the text is drawn in DejaVu Sans (matplotlib's bundled font) instead
of Arial, which is not free; images stay uint8 arrays in memory, without the JPEG round
trip. Pillow draws each shape's mask once (circle, text); numpy paints them, so that
thousands of images take about a second.

Images are drawn iid: every enabled attribute is a fair coin per image, so each bucket is
filled only in expectation. Layers are painted in order: background, square(s), then the
EC's extra objects. A shape's top-left corner is uniform over the positions where it fits,
redrawn until its box is at least the clearance away (in x or in y) from every box placed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from .config import RELATIVE_POSITION, ExperimentConfig, column

ORIGINAL_SIDE = 224
BACKGROUND = (255, 200)  # value 0 white, value 1 light grey
TEXTURE_GREY = 100
TEXTURE_SHARE = 0.1
COLORS = ((31, 119, 180), (255, 127, 14))  # value 0 blue, value 1 orange
# Original sizes by the value of the "size" option: (height, width) in px, or font size.
SQUARE = ((40, 40), (20, 20))
RECTANGLE = ((30, 50), (15, 25))
CIRCLE = ((40, 40), (20, 20))
FONT_SIZES = (25, 50)
STRIPE = 5
CLEARANCE = 5
CANDIDATES = 16
MAX_ROUNDS = 200


def font_path() -> str:
    """DejaVu Sans from matplotlib's bundled fonts (Arial, the original font, is not free)."""
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    if not os.path.exists(path):
        raise FileNotFoundError(f"DejaVu Sans not found at {path}")
    return path


@dataclass(frozen=True)
class Geometry:
    """Pixel sizes of every feature for an image side (default 64 px instead of 224)."""

    side: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.side, bool) or not isinstance(self.side, (int, np.integer)) or self.side < 32:
            raise ValueError(f"side must be an int >= 32 (smaller squares lose their texture); got {self.side!r}")

    @property
    def scale(self) -> float:
        """side / 224."""
        return self.side / ORIGINAL_SIDE

    def length(self, px: int, *, floor: int = 1) -> int:
        """An original length in pixels, scaled and rounded, at least ``floor``."""
        return max(floor, round(px * self.scale))

    @property
    def stripe(self) -> int:
        """Width of a texture stripe and of the gap between two (5 px at 224)."""
        return self.length(STRIPE, floor=2)

    @property
    def clearance(self) -> int:
        """Least gap between two shapes' boxes, in x or in y (5 px at 224)."""
        return self.length(CLEARANCE, floor=2)

    @property
    def middle(self) -> float:
        """Rows whose centre lies above this are in the top half (row 112 of 224)."""
        return self.side / 2

    def box(self, sizes: tuple[tuple[int, int], ...], value: int) -> tuple[int, int]:
        """(height, width) of a shape whose "size" option is ``value``."""
        h, w = sizes[value]
        return self.length(h), self.length(w)

    def font_size(self, value: int) -> int:
        """Font size of the text whose "size" option is ``value`` (1: the larger)."""
        return self.length(FONT_SIZES[value])


@lru_cache(maxsize=64)
def _mask(kind: str, value: int, side: int) -> np.ndarray:
    """Alpha (h, w) float32 of a shape in [0, 1]; text is anti-aliased, as Pillow draws it."""
    geo = Geometry(side)
    if kind in ("square", "rectangle"):
        return np.ones(geo.box(SQUARE if kind == "square" else RECTANGLE, value), dtype=np.float32)
    if kind == "circle":
        h, w = geo.box(CIRCLE, value)
        img = Image.new("L", (w, h), 0)
        ImageDraw.Draw(img).ellipse([0, 0, w - 1, h - 1], fill=255)
        return np.asarray(img, dtype=np.float32) / 255
    if kind == "text":
        font = ImageFont.truetype(font_path(), geo.font_size(value))
        left, top, right, bottom = font.getbbox("text")
        img = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(img).text((-left, -top), "text", fill=255, font=font)
        return np.asarray(img, dtype=np.float32) / 255
    raise ValueError(f"unknown shape {kind!r}")


@dataclass(frozen=True, eq=False)
class Split:
    """Images of one split with their ground truth.

    Attributes
    ----------
    images : numpy.ndarray
        (N, side, side, 3) uint8 RGB.
    metadata : pandas.DataFrame
        One int8 column per attribute (``config.columns()``: every option of the EC's
        layers, 0 when disabled; ``background.relative-position`` is -1 without a square).
    true_labels : numpy.ndarray
        (N,) int8, 1 when a square is present.
    labels : numpy.ndarray
        (N,) int8 training labels: the true ones, except square images inside a blindspot,
        which get 0 when the split is ``flipped`` (train and val).
    membership : numpy.ndarray
        (N, B) bool, image i is inside blindspot b.
    """

    images: np.ndarray
    metadata: pd.DataFrame
    true_labels: np.ndarray
    labels: np.ndarray
    membership: np.ndarray

    @property
    def contained(self) -> list[tuple[int, ...]]:
        """The ids of the blindspots each image lies in (SpotCheck's ``contained``)."""
        return [tuple(np.flatnonzero(row).tolist()) for row in self.membership]


def _place(
    rng: np.random.Generator, boxes: list[np.ndarray], rows: np.ndarray, hw: np.ndarray, geo: Geometry
) -> np.ndarray:
    """Top-left corners (len(rows), 2) for boxes of sizes ``hw`` clear of the boxes placed;
    -1 where no clear position turned up (the layout is then at a dead end).

    ``boxes`` holds one (N, 4) array (y, x, h, w; NaN where absent) per earlier shape.
    Candidates are drawn in batches; the first clear one of each row is the rejection
    sampler's answer.
    """
    out = np.full((rows.size, 2), -1, dtype=np.int64)
    todo = np.arange(rows.size)
    c = geo.clearance
    for _ in range(MAX_ROUNDS):
        if todo.size == 0:
            break
        h, w = hw[todo, 0:1], hw[todo, 1:2]
        y = np.floor(rng.random((todo.size, CANDIDATES)) * (geo.side - h + 1))
        x = np.floor(rng.random((todo.size, CANDIDATES)) * (geo.side - w + 1))
        ok = np.ones((todo.size, CANDIDATES), dtype=bool)
        for placed in boxes:
            by, bx, bh, bw = (placed[rows[todo], k : k + 1] for k in range(4))
            gap_y = np.maximum(by - (y + h), y - (by + bh))
            gap_x = np.maximum(bx - (x + w), x - (bx + bw))
            # NaN (no shape there) compares False, so only real boxes can block.
            ok &= ~((gap_y < c) & (gap_x < c))
        found = ok.any(axis=1)
        first = ok.argmax(axis=1)
        hit = todo[found]
        out[hit, 0] = y[found, first[found]]
        out[hit, 1] = x[found, first[found]]
        todo = todo[~found]
    return out


def _layout(
    rng: np.random.Generator, shapes: list[tuple[np.ndarray, np.ndarray]], n: int, geo: Geometry
) -> list[np.ndarray]:
    """One (N, 4) box array (y, x, h, w; NaN where absent) per shape, placed in order.

    ``shapes`` lists (rows, hw) per shape: the images that have it and its sizes there.
    An image whose shapes reach a dead end (no clear position left) is laid out again
    from its first shape.
    """
    boxes = [np.full((n, 4), np.nan) for _ in shapes]
    pending = np.ones(n, dtype=bool)
    for _ in range(MAX_ROUNDS):
        failed = np.zeros(n, dtype=bool)
        for k, (rows, hw) in enumerate(shapes):
            todo = pending[rows] & ~failed[rows]
            corners = _place(rng, boxes[:k], rows[todo], hw[todo], geo)
            bad = corners[:, 0] < 0
            boxes[k][rows[todo]] = np.column_stack([corners, hw[todo]])
            failed[rows[todo][bad]] = True
        if not failed.any():
            return boxes
        for b in boxes:
            b[failed] = np.nan
        pending = failed
    raise RuntimeError(f"could not lay out the shapes of {int(pending.sum())} images")


def _paint(
    canvas: np.ndarray, alpha: np.ndarray, color: tuple[int, int, int], y: int, x: int, phase: int | None, stripe: int
) -> None:
    h, w = alpha.shape
    paint = np.empty((h, w, 3), dtype=np.float32)
    paint[:] = color
    if phase is not None:
        on = ((np.arange(w) + phase) // stripe) % 2 == 0
        paint[:, on] = 0.0
    region = canvas[y : y + h, x : x + w].astype(np.float32)
    a = alpha[:, :, None]
    canvas[y : y + h, x : x + w] = np.rint(region * (1 - a) + paint * a).astype(np.uint8)


def draw_attributes(config: ExperimentConfig, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The coin flips of ``n`` images: every attribute of ``config.attributes`` is a fair coin,
    disabled options are 0, background.presence is 1 (relative-position is filled in when
    the squares are placed)."""
    meta = {name: np.zeros(n, dtype=np.int8) for name in config.columns()}
    meta[column("background", "presence")][:] = 1
    for layer, option in config.attributes:
        meta[column(layer, option)] = rng.integers(0, 2, size=n, dtype=np.int8)
    return pd.DataFrame(meta)


def render(
    config: ExperimentConfig,
    n: int,
    rng: np.random.Generator,
    *,
    geometry: Geometry | None = None,
    flipped: bool = False,
) -> Split:
    """Draw ``n`` iid images of ``config``.

    Parameters
    ----------
    config : ExperimentConfig
        The EC.
    n : int
        Number of images (>= 1).
    rng : numpy.random.Generator
        Source of every random choice.
    geometry : Geometry, optional
        Pixel sizes (default 64 px images).
    flipped : bool
        Give square images inside a blindspot the label 0 (train and val splits).

    Returns
    -------
    Split
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    geo = geometry or Geometry()
    meta = draw_attributes(config, n, rng)
    side = geo.side
    canvas = np.empty((n, side, side, 3), dtype=np.uint8)
    canvas[:] = np.asarray(BACKGROUND, dtype=np.uint8)[meta[column("background", "color")].to_numpy()][
        :, None, None, None
    ]
    textured = np.flatnonzero(meta[column("background", "texture")].to_numpy() == 1)
    if textured.size:
        dots = rng.random((textured.size, side, side)) >= 1 - TEXTURE_SHARE
        sub = canvas[textured]
        sub[dots] = TEXTURE_GREY
        canvas[textured] = sub

    has_square = meta[column("square", "presence")].to_numpy() == 1
    two = meta[column("square", "number")].to_numpy() == 1
    layers = [("square", np.flatnonzero(has_square)), ("square", np.flatnonzero(has_square & two))]
    layers += [(layer, np.flatnonzero(meta[column(layer, "presence")].to_numpy() == 1)) for layer in config.objects]
    shapes = []  # (rows, hw, size) of each shape, in painting order
    for layer, rows in layers:
        size = meta[column(layer, "size")].to_numpy()[rows]
        shapes.append((rows, np.array([_mask(layer, 0, side).shape, _mask(layer, 1, side).shape])[size], size))
    boxes = _layout(rng, [(rows, hw) for rows, hw, _ in shapes], n, geo)

    top_centre = np.full(n, np.inf)
    for (layer, _), (rows, hw, size), placed in zip(layers, shapes, boxes):
        corners = placed[rows, :2].astype(np.int64)
        color = meta[column(layer, "color")].to_numpy()[rows]
        texture = meta[column(layer, "texture")].to_numpy()[rows]
        phases = rng.integers(0, 2 * geo.stripe, size=rows.size)
        for j, i in enumerate(rows):
            phase = int(phases[j]) if texture[j] == 1 else None
            _paint(
                canvas[i],
                _mask(layer, int(size[j]), side),
                COLORS[color[j]],
                corners[j, 0],
                corners[j, 1],
                phase,
                geo.stripe,
            )
        if layer == "square":
            top_centre[rows] = np.minimum(top_centre[rows], corners[:, 0] + hw[:, 0] / 2)

    relpos = np.where(top_centre < geo.middle, 1, 0).astype(np.int8)
    relpos[~has_square] = -1
    meta[column(*RELATIVE_POSITION)] = relpos
    membership = (
        np.column_stack([b.mask(meta) for b in config.blindspots]) if config.blindspots else np.zeros((n, 0), bool)
    )
    true_labels = has_square.astype(np.int8)
    labels = true_labels.copy()
    if flipped:
        labels[membership.any(axis=1)] = 0
    return Split(canvas, meta, true_labels, labels, membership)
