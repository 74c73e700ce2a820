"""What a person looks at: images (as PNG thumbnails), texts, or nothing.

PNG encoding is done here with zlib (no imaging library needed for arrays); lists of
PIL images or image files need Pillow, imported only then.
"""

from __future__ import annotations

import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


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


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Pixels of any real dtype as uint8.

    uint8 and booleans map directly; floats within [0, 1] are scaled by 255; other values
    within [0, 255] are kept; anything else is stretched from its own min to max.
    Non-finite pixels become 0.
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"image pixels must be numeric; got {arr.dtype}")
    is_float = arr.dtype.kind == "f"
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if is_float and lo >= 0 and hi <= 1:
        arr = arr * 255
    elif not (lo >= 0 and hi <= 255):
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


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


def _channels_last(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[2] not in (1, 3, 4):
        image = np.moveaxis(image, 0, -1)  # (C, H, W) as torchvision stores them
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"an image must be (H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4; got {image.shape}")
    return image


class ItemSource:
    """The items shown for each example, with a cache of encoded thumbnails.

    Parameters
    ----------
    items : array (N, H, W[, C]), list of PIL images / paths / arrays, list of str, or None
    n : int
        Number of examples (items must match it).
    side : int
        Thumbnail size in pixels (longer side).
    cache : int
        Encoded thumbnails kept in memory.
    """

    def __init__(self, items: Any, n: int, *, side: int = 96, cache: int = 512):
        self.side = side
        self._cache: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._cache_size = cache
        self.kind, self._items = self._classify(items, n)

    @staticmethod
    def _classify(items: Any, n: int) -> tuple[str, Any]:
        if items is None:
            return "table", None
        if isinstance(items, (str, bytes)):
            raise TypeError("items must be a sequence with one entry per example, not a single string")
        if hasattr(items, "detach"):  # torch tensor
            items = items.detach().cpu().numpy()
        if isinstance(items, np.ndarray) and items.dtype.kind in "biuf":
            if items.ndim not in (3, 4):
                raise ValueError(f"an image array must be (N, H, W) or (N, H, W, C); got shape {items.shape}")
            if len(items) != n:
                raise ValueError(f"items has {len(items)} entries but the embeddings have {n} rows")
            return "images", items
        if not isinstance(items, Sequence) and not isinstance(items, np.ndarray) and not hasattr(items, "__len__"):
            raise TypeError(
                f"items must be an image array, a list of images or paths, or a list of str; got {type(items).__name__}"
            )
        if len(items) != n:
            raise ValueError(f"items has {len(items)} entries but the embeddings have {n} rows")
        if n and all(isinstance(it, str) for it in items[: min(n, 50)]):
            looks_like_paths = all(Path(it).suffix.lower() in _IMAGE_SUFFIXES for it in items[: min(n, 50)])
            return ("images", list(items)) if looks_like_paths else ("texts", [str(it) for it in items])
        return "images", list(items)

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
        image = to_uint8(_channels_last(self._load(index)))
        if paint is not None:
            image = paint(image)
        data = encode_png(fit(image, self.side))
        self._cache[key] = data
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def _load(self, index: int) -> np.ndarray:
        item = self._items[index]
        if isinstance(item, np.ndarray):
            return item
        if isinstance(item, (str, Path)) or hasattr(item, "convert"):
            try:
                from PIL import Image
            except ImportError as exc:
                raise ImportError("showing image files or PIL images needs Pillow: pip install pillow") from exc
            image = Image.open(item) if isinstance(item, (str, Path)) else item
            if image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("RGBA" if "A" in image.mode else "RGB")
            return np.asarray(image)
        return np.asarray(item)


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
