"""Images of any dtype and layout become PNG thumbnails; texts and tables are recognised."""

import struct
import zlib

import numpy as np
import pytest

from spotlight_widget.explorer.thumbnails import ItemSource, encode_png, fit, to_uint8


def decode(png: bytes) -> np.ndarray:
    """Minimal PNG reader for the files encode_png writes (one IDAT, filter 0)."""
    width, height, _, color = struct.unpack(">IIBB", png[16:26])
    channels = {0: 1, 2: 3, 6: 4}[color]
    length = struct.unpack(">I", png[33:37])[0]
    raw = np.frombuffer(zlib.decompress(png[41 : 41 + length]), np.uint8).reshape(height, 1 + width * channels)
    return raw[:, 1:].reshape(height, width, channels).squeeze()


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (5, 7, 4), (5, 7, 1)])
def test_png_round_trip(shape):
    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    assert np.array_equal(decode(encode_png(img)), img.squeeze())


def test_png_rejects_bad_pixels():
    with pytest.raises(TypeError, match="uint8"):
        encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="channels"):
        encode_png(np.zeros((2, 2, 2), np.uint8))


def test_pixel_values_of_every_dtype():
    assert to_uint8(np.array([[0.0, 0.5, 1.0]])).tolist() == [[0, 128, 255]]
    assert to_uint8(np.array([[0, 128, 255]], np.int64)).tolist() == [[0, 128, 255]]
    assert to_uint8(np.array([[-1.0, 0.0, 1.0]])).tolist() == [[0, 128, 255]]
    assert to_uint8(np.array([[0, 1000, 2000]], np.uint16)).tolist() == [[0, 128, 255]]
    assert to_uint8(np.array([[True, False]])).tolist() == [[255, 0]]
    assert to_uint8(np.array([[np.nan, 1.0, 0.0]])).tolist() == [[0, 255, 0]]
    assert to_uint8(np.full((2, 2), 7.5)).dtype == np.uint8
    with pytest.raises(TypeError, match="numeric"):
        to_uint8(np.array([["a"]]))


def test_fit_scales_toward_the_target_side():
    small = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    assert fit(small, 96).shape == (64, 96)
    big = np.full((400, 200), 9, np.uint8)
    assert fit(big, 100).shape == (100, 50) and (fit(big, 100) == 9).all()
    assert fit(np.zeros((96, 50, 3), np.uint8), 96).shape == (96, 50, 3)


def test_item_sources():
    imgs = np.random.default_rng(1).random((3, 3, 8, 8)).astype(np.float32)  # channels first
    src = ItemSource(imgs, 3, side=16)
    assert src.kind == "images"
    assert decode(src.png(1)).shape == (16, 16, 3)
    assert src.png(1) is src.png(1)  # cached
    texts = ItemSource(["a review", "another"], 2)
    assert texts.kind == "texts" and texts.text(1) == "another"
    with pytest.raises(ValueError, match="no images"):
        texts.png(0)
    assert ItemSource(None, 5).kind == "table"
    listed = ItemSource([np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8)], 2, side=8)
    assert decode(listed.png(1)).shape == (8, 8)
    with pytest.raises(ValueError, match="must be \\(H, W\\)"):
        ItemSource(np.zeros((2, 5, 5, 2)), 2).png(0)
    with pytest.raises(TypeError, match="single string"):
        ItemSource("abc", 3)


def test_image_files(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    path = tmp_path / "a.png"
    pil.fromarray(np.full((6, 6, 3), 200, np.uint8)).save(path)
    src = ItemSource([str(path), str(path)], 2, side=12)
    assert src.kind == "images"
    assert (decode(src.png(0)) == 200).all()
