"""What a person looks at: images (as PNG thumbnails), texts, or nothing.

PNG encoding is done here with zlib (no imaging library needed for arrays); lists of
PIL images or image files need Pillow, imported only then.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
_CHANNELS = tuple(_COLOR_TYPES)
# Pixel ranges: the share of extreme values left out on either side, the most pixels
# looked at, and the conventions tried first, in order.
_OUTLIER_SHARE = 0.01
_SAMPLE_PIXELS = 1 << 20
_USUAL_RANGES = ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0))
# Items looked at to tell texts from image paths, and to decide a list's pixel range.
_SAMPLE_ITEMS = 64


def encode_png(image: np.ndarray) -> bytes:
    """Encode an (H, W) or (H, W, C) uint8 array (C = 1, 3 or 4) as PNG bytes."""
    if image.dtype != np.uint8:
        raise TypeError(f"encode_png needs uint8 pixels; got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    h, w, c = image.shape
    if c not in _COLOR_TYPES:
        raise ValueError(f"images need 1, 3 or 4 channels; got {c}")
    raw = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[c], 0, 0, 0)
    return _PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def to_uint8(image: np.ndarray, *, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Pixels of any real dtype as uint8.

    Parameters
    ----------
    image : numpy.ndarray
        Pixels of a bool, integer or float dtype.
    value_range : (float, float), optional
        The values shown as black and white: ``low`` maps to 0, ``high`` to 255, values
        outside are clipped. By default decided from this image alone by
        :func:`pixel_range`; :class:`ItemSource` decides it once for a whole data set, so
        that every image of it is scaled alike.

    Returns
    -------
    numpy.ndarray
        uint8 pixels of the same shape. uint8 pixels are returned as they are and booleans
        as 0 and 255, whatever ``value_range`` says; non-finite pixels become 0.

    Raises
    ------
    TypeError
        Pixels that are not real numbers.
    ValueError
        A ``value_range`` that is not two finite numbers, low below high.
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"image pixels must be real numbers; got {arr.dtype}")
    lo, hi = pixel_range(arr) if value_range is None else _check_range(value_range)
    values = arr.astype(np.float64)
    scaled = (values - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(values)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def pixel_range(pixels: np.ndarray) -> tuple[float, float]:
    """The values to show as black and white for images holding ``pixels``.

    The finite values, all but the extreme 1 % on either side (at most 2**20 of them,
    drawn at random with a fixed seed), are compared with the usual conventions in turn:
    [0, 1], [-1, 1], [0, 255]. The first that holds them, give or take half a grey level,
    is the range; otherwise that central range itself, so that a few outliers are clipped
    instead of darkening everything else.

    Parameters
    ----------
    pixels : numpy.ndarray
        Pixel values of any shape and real dtype: one image, or a whole data set.

    Returns
    -------
    (float, float)
        ``(low, high)``, for :func:`to_uint8`'s ``value_range``; ``(0.0, 1.0)`` when no
        pixel is finite.
    """
    sample = _sample_pixels(np.asarray(pixels), _SAMPLE_PIXELS)
    sample = sample[np.isfinite(sample)]
    if not sample.size:
        return 0.0, 1.0
    # "lower" and "higher" pick actual pixel values: a small image keeps its own min and max.
    low = float(np.quantile(sample, _OUTLIER_SHARE, method="lower"))
    high = float(np.quantile(sample, 1 - _OUTLIER_SHARE, method="higher"))
    for lo, hi in _USUAL_RANGES:
        slack = (hi - lo) / 510
        if low >= lo - slack and high <= hi + slack:
            return lo, hi
    return low, high


def _sample_pixels(pixels: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` of the pixels as float64, drawn before converting: a data set may not fit twice in memory."""
    if pixels.size <= limit:
        return pixels.reshape(-1).astype(np.float64)
    return pixels.flat[np.random.default_rng(0).integers(0, pixels.size, limit)].astype(np.float64)


def _check_range(value_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be two finite numbers (low, high) with low < high; got {value_range!r}")
    return lo, hi


def fit(image: np.ndarray, side: int) -> np.ndarray:
    """Scale so the longer side is close to ``side``: whole-pixel repeats up, block means down."""
    h, w = image.shape[:2]
    longest = max(h, w)
    if longest < side:
        k = max(1, side // longest)
        return image.repeat(k, axis=0).repeat(k, axis=1)
    k = -(-longest // side)
    if k == 1:
        return image
    hh, ww = h // k * k, w // k * k
    if hh == 0 or ww == 0:
        return image[::k, ::k]
    blocks = image[:hh, :ww].reshape(hh // k, k, ww // k, k, *image.shape[2:]).astype(np.float32)
    return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)


def _channels_first(shape: tuple[int, ...]) -> bool:
    """(C, H, W) as torchvision stores images: a channel count first and none last."""
    return len(shape) == 3 and shape[0] in _CHANNELS and shape[2] not in _CHANNELS


def _check_image_shape(shape: tuple[int, ...], what: str) -> None:
    if len(shape) == 2 or (len(shape) == 3 and (shape[2] in _CHANNELS or _channels_first(shape))):
        return
    raise ValueError(
        f"{what} must be (H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4 channels; got shape {tuple(shape)}"
    )


def _channels_last(image: np.ndarray) -> np.ndarray:
    _check_image_shape(image.shape, "an image")
    if _channels_first(image.shape):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def _spread(n: int, k: int) -> np.ndarray:
    """At most ``k`` indices spread evenly over ``range(n)``, first and last included."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int)) if n else np.empty(0, int)


class ItemSource:
    """The items shown for each example, with a cache of encoded thumbnails.

    Parameters
    ----------
    items : array, list or None
        What is shown for each of the ``n`` examples:

        - an image array (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1, 3 or 4, of any
          real dtype (a torch tensor too);
        - a list of images: arrays (or tensors) as above, PIL images, or image files given
          as :class:`pathlib.Path` (or any ``os.PathLike``);
        - a list of str: texts (None for a missing one), unless every entry is a str that
          ends in an image suffix (.png, .jpg, ...) and names an existing file (checked on
          up to 64 strings spread over the list), when they are image files;
        - None: nothing to show (a table).
    n : int
        Number of examples (items must match it).
    side : int
        Thumbnail size in pixels (longer side).
    cache : int
        Encoded thumbnails kept in memory.
    value_range : (float, float), optional
        The pixel values shown as black and white for images that are neither uint8 nor
        bool (uint8 is shown as it is, booleans as black and white). By default it is
        decided once for the data set by :func:`pixel_range`: over the whole array, or
        over up to 64 images spread over a list (with the first image shown that needs
        it). Every image is then scaled alike and values outside are clipped.

    Raises
    ------
    ValueError
        Items that do not match ``n``; images of another shape (2 or 5 channels, say) or
        of complex pixels; strings that look like image paths of which only some exist;
        a bad ``value_range``.
    TypeError
        A single string, or something that is neither an array nor a list.
    """

    def __init__(
        self,
        items: Any,
        n: int,
        *,
        side: int = 96,
        cache: int = 512,
        value_range: tuple[float, float] | None = None,
    ):
        self.side = side
        self._cache: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._cache_size = cache
        self.kind, self._items = self._classify(items, n)
        self._value_range = None if value_range is None else _check_range(value_range)

    @staticmethod
    def _classify(items: Any, n: int) -> tuple[str, Any]:
        if items is None:
            return "table", None
        if isinstance(items, (str, bytes)):
            raise TypeError("items must be a sequence with one entry per example, not a single string")
        if hasattr(items, "detach"):  # torch tensor
            items = items.detach().cpu().numpy()
        if isinstance(items, np.ndarray) and items.dtype.kind in "biufc":
            if items.ndim not in (3, 4):
                raise ValueError(f"an image array must be (N, H, W) or (N, H, W, C); got shape {items.shape}")
            if len(items) != n:
                raise ValueError(f"items has {len(items)} entries but the embeddings have {n} rows")
            _check_pixels(items.dtype, "items")
            _check_image_shape(items.shape[1:], "each image of items")
            return "images", items
        if not isinstance(items, Sequence) and not isinstance(items, np.ndarray) and not hasattr(items, "__len__"):
            raise TypeError(
                f"items must be an image array, a list of images or paths, or a list of str; got {type(items).__name__}"
            )
        if len(items) != n:
            raise ValueError(f"items has {len(items)} entries but the embeddings have {n} rows")
        sample = [items[i] for i in _spread(n, _SAMPLE_ITEMS)]
        if any(isinstance(it, str) for it in sample) and all(isinstance(it, str) or it is None for it in sample):
            if _name_image_files(items):
                return "images", list(items)
            return "texts", ["" if it is None else str(it) for it in items]
        listed = list(items)
        for i, item in enumerate(listed):
            if isinstance(item, (str, os.PathLike)) or hasattr(item, "convert"):
                continue
            _check_pixels(getattr(item, "dtype", None), f"items[{i}]")
            _check_image_shape(tuple(np.shape(item)), f"items[{i}]")
        return "images", listed

    def images(self) -> Sequence[np.ndarray]:
        """The images as a sequence of arrays, each loaded only when indexed (for figures)."""
        if self.kind != "images":
            raise ValueError("these examples have no images")
        return _LazyImages(self)

    def text(self, index: int) -> str | None:
        return self._items[index] if self.kind == "texts" else None

    def png(self, index: int, paint: Callable[[np.ndarray], np.ndarray] | None = None, tag: str = "") -> bytes:
        """PNG thumbnail of example ``index`` (images only).

        ``paint`` draws on the full-size uint8 image before it is scaled (e.g. an overlay);
        ``tag`` names what it draws, so each version has its own cache entry.
        """
        if self.kind != "images":
            raise ValueError("these examples have no images")
        key = (index, tag)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        image = _channels_last(self._load(index))
        scale = None if image.dtype in (np.uint8, np.bool_) else self._range(index)
        image = to_uint8(image, value_range=scale)
        if paint is not None:
            image = paint(image)
        data = encode_png(fit(image, self.side))
        self._cache[key] = data
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def _range(self, index: int) -> tuple[float, float]:
        """The data set's value range, decided at the first image that needs one (see the class)."""
        if self._value_range is None:
            if isinstance(self._items, np.ndarray):
                self._value_range = pixel_range(self._items)
            else:
                shown = [self._load(int(i)) for i in {*_spread(len(self._items), _SAMPLE_ITEMS), index}]
                scaled = [im for im in shown if im.dtype not in (np.uint8, np.bool_)]
                per_image = _SAMPLE_PIXELS // len(scaled)
                self._value_range = pixel_range(np.concatenate([_sample_pixels(im, per_image) for im in scaled]))
        return self._value_range

    def _load(self, index: int) -> np.ndarray:
        item = self._items[index]
        if isinstance(item, np.ndarray):
            return item
        if isinstance(item, (str, os.PathLike)) or hasattr(item, "convert"):
            try:
                from PIL import Image
            except ImportError as exc:
                raise ImportError("showing image files or PIL images needs Pillow: pip install pillow") from exc
            image = Image.open(item) if isinstance(item, (str, os.PathLike)) else item
            if image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("RGBA" if "A" in image.mode else "RGB")
            return np.asarray(image)
        if hasattr(item, "detach"):  # torch tensor
            return item.detach().cpu().numpy()
        return np.asarray(item)


def _check_pixels(dtype: Any, what: str) -> None:
    if isinstance(dtype, np.dtype) and dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real pixel values (bool, int or float); got {dtype}")


def _name_image_files(strings: Sequence[Any]) -> bool:
    """Whether a list of str names image files rather than holding texts.

    Every entry must be a str, end in an image suffix and those checked must all exist. When the
    suffixes all fit but only some of the checked files exist, the list is taken for
    paths gone wrong rather than texts: ValueError.
    """
    if not all(isinstance(s, str) and os.path.splitext(s)[1].lower() in _IMAGE_SUFFIXES for s in strings):
        return False
    checked = [strings[i] for i in _spread(len(strings), _SAMPLE_ITEMS)]
    missing = [s for s in checked if not os.path.isfile(s)]
    if len(missing) == len(checked):
        return False
    if missing:
        raise ValueError(
            f"items look like image files, but {len(missing)} of the {len(checked)} checked do not exist, "
            f"e.g. {missing[0]!r} (relative paths are read from {os.getcwd()!r})"
        )
    return True


class _LazyImages(Sequence):
    def __init__(self, source: ItemSource):
        self._source = source

    def __len__(self) -> int:
        return len(self._source._items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return np.asarray(self._source._load(int(index)))


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
