"""Ground truth and saliency painted on thumbnails, and the explorer's overlay switch."""

import numpy as np
import pytest
import traitlets

from spotlight_widget import SpotlightExplorer
from spotlight_widget.explorer.overlays import GROUND_TRUTH_RGB, SALIENCY_RGB, Overlays
from spotlight_widget.synthetic import planted_clusters

from .test_thumbnails import decode


def masks(n=4, h=6, w=5):
    gt = np.zeros((n, h, w), dtype=bool)
    gt[:, :2, :] = True  # top two rows
    sal = np.zeros((n, h, w))
    sal[:, :, -1] = 10.0  # last column stands out (mean + std rule)
    return gt, sal


def test_paint_blends_each_mask_with_its_colour_only_where_it_is():
    gt, sal = masks()
    ov = Overlays(gt, sal, 4)
    assert ov.available() == ["none", "ground-truth", "saliency", "both"]
    image = np.full((6, 5), 100, dtype=np.uint8)
    assert ov.paint(image, 0, "none") is image
    out = ov.paint(image, 0, "ground-truth").astype(float)
    assert out.shape == (6, 5, 3)
    np.testing.assert_allclose(out[0, 0], np.rint(0.5 * 100 + 0.5 * GROUND_TRUTH_RGB))
    np.testing.assert_array_equal(out[5, 0], [100, 100, 100])
    both = ov.paint(image, 1, "both").astype(float)
    np.testing.assert_allclose(both[5, 4], np.rint(0.5 * 100 + 0.5 * SALIENCY_RGB))
    # Where both masks are, saliency is blended over ground truth.
    np.testing.assert_allclose(
        both[0, 4], np.rint(0.5 * (0.5 * 100 + 0.5 * GROUND_TRUTH_RGB) + 0.5 * SALIENCY_RGB), atol=1
    )
    np.testing.assert_array_equal(both[3, 1], [100, 100, 100])


def test_masks_at_another_resolution_are_resized_to_the_image():
    gt, _ = masks(h=3, w=3)
    ov = Overlays(gt, None, 4)
    assert ov.available() == ["none", "ground-truth"]
    out = ov.paint(np.zeros((6, 6, 3), dtype=np.uint8), 2, "ground-truth")
    painted = out.any(axis=2)
    assert painted[:4].all() and not painted[4:].any()  # two of three mask rows = four of six pixels
    with pytest.raises(ValueError, match="no 'saliency' overlay"):
        ov.paint(np.zeros((6, 6), dtype=np.uint8), 0, "saliency")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ground_truth": np.zeros((3, 4, 4), dtype=bool)}, ValueError, "3 maps"),
        ({"ground_truth": np.zeros((4, 16))}, ValueError, r"\(N, H, W\)"),
        ({"ground_truth": np.full((4, 2, 2), 0.5)}, TypeError, "boolean"),
        ({"ground_truth": np.full((4, 2, 2), 3)}, ValueError, "only 0 and 1"),
        ({"saliency": np.full((4, 2, 2), np.nan)}, ValueError, "NaN"),
        ({"saliency": np.zeros((4, 2, 2)), "threshold": "median"}, ValueError, "threshold"),
    ],
)
def test_bad_overlays_fail_clearly(kwargs, error, match):
    threshold = kwargs.pop("threshold", "mean+std")
    with pytest.raises(error, match=match):
        Overlays(kwargs.get("ground_truth"), kwargs.get("saliency"), 4, threshold=threshold)


def test_explorer_overlay_switch_changes_the_thumbnails():
    d = planted_clusters(n_rows=300, dim=8, n_clusters=5, fractions=(0.05,), seed=2)
    images = np.full((300, 6, 5), 90, dtype=np.uint8)
    gt, sal = masks(n=300)
    ex = SpotlightExplorer(d.embeddings, d.losses, images, ground_truth=gt, saliency=sal, size=0.05)
    assert ex.wait(60)
    assert ex.overlays == ["none", "ground-truth", "saliency", "both"]
    sent = []
    ex.send = lambda content, buffers=None: sent.append((content, buffers or []))

    def thumb():
        sent.clear()
        ex._on_message(ex, {"type": "thumbnails", "id": "t", "indices": [7]}, [])
        return decode(sent[0][1][0])

    plain = thumb()
    ex.overlay = "ground-truth"
    painted = thumb()
    assert painted.shape[:2] == plain.shape[:2] and painted.ndim == 3
    assert (painted[0, 0] != plain[0, 0]).any() and (painted[-1, 0] == plain[-1, 0]).all()
    ex.overlay = "none"
    assert (thumb() == plain).all()
    with pytest.raises(traitlets.TraitError, match="sparkles"):
        ex.overlay = "sparkles"
    assert ex.overlay == "none" and "sparkles" in ex.error
    with pytest.raises(ValueError, match="images"):
        SpotlightExplorer(d.embeddings, d.losses, ["a text"] * 300, ground_truth=gt)


def test_probe_ranks_the_class_whose_saliency_matches_the_drawn_region():
    d = planted_clusters(n_rows=200, dim=8, n_clusters=4, fractions=(0.05,), seed=4)
    images = np.zeros((200, 8, 12), dtype=np.uint8)
    calls = []

    def per_class(image):
        # Saliency at half the image's resolution: class 0 lights the left half, class 1 the
        # top right quarter, class 2 the bottom right quarter.
        calls.append(image.shape)
        maps = np.zeros((3, 4, 6))
        maps[0, :, :3] = 1
        maps[1, :2, 3:] = 1
        maps[2, 2:, 3:] = 1
        return maps

    ex = SpotlightExplorer(
        d.embeddings, d.losses, images, probe=per_class, class_names=["cat", "<b>dog</b>", "owl"], size=0.05
    )
    assert ex.wait(60) and ex.can_probe
    sent = []
    ex.send = lambda content, buffers=None: sent.append((content, buffers or []))

    def ask(message):
        sent.clear()
        ex._on_message(ex, {"id": "p", **message}, [])
        return sent[0][0]

    assert ask({"type": "detail", "index": 3})["image_shape"] == [8, 12]
    reply = ask({"type": "probe", "index": 3, "boxes": [[6, 0, 12, 4]]})  # top right, in image pixels
    assert calls == [(8, 12)]
    ranked = reply["classes"]
    assert [r["name"] for r in ranked] == ["<b>dog</b>", "cat", "owl"] and ranked[0]["iou"] == 1.0
    by_coverage = ask({"type": "probe", "index": 3, "boxes": [[6, 0, 12, 8]], "metric": "sc"})["classes"]
    # The right half holds classes 1 and 2 entirely: both have saliency coverage 1.
    assert {r["name"] for r in by_coverage[:2]} == {"<b>dog</b>", "owl"} and by_coverage[0]["sc"] == 1.0
    for bad, match in [
        ({"boxes": []}, "non-empty"),
        ({"boxes": [[3, 3, 3, 5]]}, "x0 < x1"),
        ({"boxes": [[-1, 0, 2, 2]]}, "non-negative"),
        ({"boxes": [[0, 0, 2, 2]], "metric": "dice"}, "metric"),
        ({"boxes": [[0, 0, 2, 2]], "index": 999}, "out of range"),
    ]:
        assert match in ask({"type": "probe", "index": 3, **bad})["error"]


def test_probe_needs_a_callable_and_images():
    d = planted_clusters(n_rows=100, dim=4, n_clusters=2, fractions=(0.1,), seed=1)
    with pytest.raises(TypeError, match="callable"):
        SpotlightExplorer(d.embeddings, d.losses, np.zeros((100, 4, 4)), probe="gradients")
    with pytest.raises(ValueError, match="images"):
        SpotlightExplorer(d.embeddings, d.losses, ["t"] * 100, probe=lambda im: im)
    ex = SpotlightExplorer(d.embeddings, d.losses, np.zeros((100, 4, 4)), size=0.1)
    assert ex.wait(60) and not ex.can_probe
    sent = []
    ex.send = lambda content, buffers=None: sent.append((content, buffers or []))
    ex._on_message(ex, {"type": "probe", "id": "p", "index": 0, "boxes": [[0, 0, 2, 2]]}, [])
    assert "no probe" in sent[0][0]["error"]
