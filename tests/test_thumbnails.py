"""Images of any dtype and layout become PNG thumbnails; texts and tables are recognised."""

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from spotlight_widget.explorer.thumbnails import ItemSource, encode_png, fit, pixel_range, to_uint8


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
    with pytest.raises(TypeError, match="real numbers"):
        to_uint8(np.array([["a"]]))
    with pytest.raises(TypeError, match="real numbers"):
        to_uint8(np.array([[1 + 1j]]))


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
    with pytest.raises(TypeError, match="single string"):
        ItemSource("abc", 3)


def test_image_files(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    path = tmp_path / "a.png"
    pil.fromarray(np.full((6, 6, 3), 200, np.uint8)).save(path)
    src = ItemSource([str(path), str(path)], 2, side=12)
    assert src.kind == "images"
    assert (decode(src.png(0)) == 200).all()


# -- one scale per data set -----------------------------------------------------------------


def float_images(high, seed=0):
    return np.random.default_rng(seed).uniform(0, high, size=(10, 8, 8))


@pytest.mark.parametrize("as_list", [False, True])
def test_a_pixel_just_over_one_keeps_a_0_1_data_set_in_scale(as_list):
    images = float_images(1.0)
    images[3, 0, 0] = 1.0000001  # rounding spill, as a resize or a sum of floats leaves it
    images[5, 0, :3] = 3.0  # outliers: clipped, they do not darken the rest
    src = ItemSource(list(images) if as_list else images, 10, side=8)
    expected = np.clip(np.rint(images * 255), 0, 255)
    assert np.array_equal(decode(src.png(3)), expected[3])
    assert np.array_equal(decode(src.png(5)), expected[5])
    assert decode(src.png(5))[0, :3].tolist() == [255, 255, 255]


@pytest.mark.parametrize("as_list", [False, True])
def test_a_dark_image_of_a_0_255_data_set_stays_dark(as_list):
    images = float_images(255.0)
    images[2] = float_images(1.0, seed=1)[0]  # a night shot: every pixel below 1 on the 0-255 scale
    src = ItemSource(list(images) if as_list else images, 10, side=8)
    assert np.array_equal(decode(src.png(2)), np.rint(images[2]))
    assert decode(src.png(2)).max() <= 1
    assert np.array_equal(decode(src.png(0)), np.rint(images[0]))


def test_every_image_of_a_data_set_is_scaled_alike():
    # Standardised images (no usual convention): one range, the data set's, for all of them.
    images = np.random.default_rng(4).normal(size=(20, 8, 8))
    images[7] *= 0.1  # a flat image must stay flat, not be stretched to full contrast
    src = ItemSource(images, 20, side=8)
    lo, hi = pixel_range(images)
    assert -3.5 < lo < -1.5 and 1.5 < hi < 3.5
    assert np.array_equal(decode(src.png(7)), to_uint8(images[7], value_range=(lo, hi)))
    assert np.ptp(decode(src.png(7))) < 0.25 * np.ptp(decode(src.png(0)))


def test_pixel_range_follows_the_usual_conventions_and_leaves_outliers_out():
    rng = np.random.default_rng(5)
    assert pixel_range(rng.uniform(0, 1, 1000)) == (0.0, 1.0)
    assert pixel_range(rng.uniform(-1, 1, 1000)) == (-1.0, 1.0)
    assert pixel_range(rng.uniform(0, 200, 1000)) == (0.0, 255.0)
    assert pixel_range(rng.integers(0, 2, 1000)) == (0.0, 1.0)  # a mask: black and white
    wide = np.concatenate([rng.uniform(100, 4000, 1000), [1e6, -1e6, np.nan, np.inf]])
    lo, hi = pixel_range(wide)
    assert 100 <= lo < 200 and 3900 < hi <= 4000
    assert pixel_range(np.full(4, np.nan)) == (0.0, 1.0)


def test_a_value_range_given_overrides_the_data_set():
    images = float_images(1.0)
    src = ItemSource(images, 10, side=8, value_range=(0, 2))
    assert np.array_equal(decode(src.png(1)), np.rint(images[1] * 127.5))
    uint8 = ItemSource(np.full((2, 4, 4), 9, np.uint8), 2, side=4, value_range=(0, 2))
    assert (decode(uint8.png(0)) == 9).all()  # uint8 pixels are shown as they are
    for bad in [(1, 1), (2, 0), (0, np.nan), "ab", 3]:
        with pytest.raises(ValueError, match="value_range must be two finite numbers"):
            ItemSource(images, 10, value_range=bad)


# -- what the items are -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, thumbnail", [((5, 6), (10, 12)), ((5, 6, 1), (10, 12)), ((5, 6, 3), (10, 12, 3)), ((4, 5, 6), (10, 12, 4))]
)
def test_one_three_or_four_channels_either_side(shape, thumbnail):
    image = np.random.default_rng(6).integers(0, 256, size=shape, dtype=np.uint8)
    for items in (np.stack([image, image]), [image, image]):
        assert decode(ItemSource(items, 2, side=12).png(1)).shape == thumbnail


@pytest.mark.parametrize("shape", [(5, 5, 2), (2, 5, 5), (5, 5, 5), (5,), (2, 5, 5, 3)])
def test_other_channel_counts_are_refused_when_given(shape):
    got = re.escape(f"got shape {shape}")
    with pytest.raises(ValueError, match=got):
        ItemSource([np.zeros(shape), np.zeros(shape)], 2)
    if len(shape) == 3:
        with pytest.raises(ValueError, match=r"each image of items must be .* 1, 3, 4 .*" + got):
            ItemSource(np.zeros((2, *shape)), 2)
    with pytest.raises(ValueError, match=r"items\[1\] must be"):
        ItemSource([np.zeros((4, 4)), np.zeros(shape)], 2)


def test_complex_pixels_are_refused_when_given():
    with pytest.raises(ValueError, match="real pixel values.*complex128"):
        ItemSource(np.zeros((2, 4, 4), complex), 2)
    with pytest.raises(ValueError, match=r"items\[0\] must hold real pixel values"):
        ItemSource([np.zeros((4, 4), complex)], 1)


def test_strings_are_texts_unless_they_name_existing_image_files(tmp_path, monkeypatch):
    pil = pytest.importorskip("PIL.Image")
    monkeypatch.chdir(tmp_path)
    pil.fromarray(np.full((4, 4), 50, np.uint8)).save("a.png")
    # Texts that happen to end in .png, even if a file of that name exists, as long as any does not.
    captions = ["screenshot.png"] * 60 + ["a review of the film"]
    assert ItemSource(captions, 61).kind == "texts"
    assert ItemSource(["a.png"] * 60 + ["no suffix"], 61).kind == "texts"
    assert ItemSource(["nowhere.png", "gone.jpg"], 2).text(1) == "gone.jpg"
    with_missing = ItemSource(["a.png"] * 70 + [None], 71)
    assert with_missing.kind == "texts" and with_missing.text(70) == ""
    files = ItemSource(["a.png", "a.png"], 2, side=4)
    assert files.kind == "images" and (decode(files.png(1)) == 50).all()
    with pytest.raises(ValueError, match="1 of the 2 checked do not exist, e.g. 'typo.png'"):
        ItemSource(["a.png", "typo.png"], 2)
    paths = ItemSource([Path("a.png"), tmp_path / "a.png"], 2, side=4)
    assert paths.kind == "images" and (decode(paths.png(0)) == 50).all()
