"""The SpotCheck benchmark (benchmarks/spotcheck): sampler, rendering, metrics, cache, and a tiny run.

These check the benchmark's invariants, not the published numbers (those are in
benchmarks/README.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.spotcheck.audit import Audit, Settings, acceptance, load_audit, read_audit, save_audit
from benchmarks.spotcheck.config import (
    EXTRA_OBJECTS,
    RELATIVE_POSITION,
    Blindspot,
    Clause,
    ExperimentConfig,
    column,
    sample_config,
)
from benchmarks.spotcheck.images import COLORS, Geometry, render
from benchmarks.spotcheck.methods import QUICK_METHODS
from benchmarks.spotcheck.metrics import discovery, error_rates, mean_and_se, score_groups
from benchmarks.spotcheck.pretrain import PretrainRecipe
from benchmarks.spotcheck.runner import markdown, run_benchmark
from benchmarks.spotcheck.train import Recipe

CONFIGS = [sample_config(seed) for seed in range(200)]
BASE = (Clause("background", "presence", 1), Clause("square", "presence", 1))


def test_sampler_draws_the_published_numbers_of_objects_options_and_clauses():
    for ec in CONFIGS:
        f, o = len(ec.objects), len(ec.enabled)
        assert 1 <= f <= 3 and set(ec.objects) <= set(EXTRA_OBJECTS)
        assert 5 <= o + f <= 7
        assert len(ec.attributes) == o + f + 1
        assert ec.n_buckets == 2 ** (o + f + 1)
        assert 1 <= len(ec.blindspots) <= 3
        sizes = [len(b.clauses) - 2 for b in ec.blindspots]
        assert sizes == sorted(sizes) and all(4 <= s <= 6 for s in sizes)
    # Every value of the uniform draws occurs over 200 ECs.
    assert {len(ec.objects) for ec in CONFIGS} == {1, 2, 3}
    assert {len(ec.blindspots) for ec in CONFIGS} == {1, 2, 3}
    assert {ec.n_buckets for ec in CONFIGS} == {64, 128, 256}


def test_blindspot_clauses_are_active_and_sub_options_follow_presence():
    for ec in CONFIGS:
        active = {RELATIVE_POSITION, *ec.enabled, *((o, "presence") for o in ec.objects)}
        for b in ec.blindspots:
            assert b.clauses[:2] == BASE
            keys = [c.key for c in b.clauses[2:]]
            assert len(set(keys)) == len(keys) and set(keys) <= active
            values = {c.key: c.value for c in b.clauses}
            for layer, option in keys:
                if layer in ec.objects and option != "presence":
                    assert values[(layer, "presence")] == 1


def test_blindspots_contradict_every_earlier_one_on_two_clauses():
    for ec in CONFIGS:
        for j, later in enumerate(ec.blindspots):
            for earlier in ec.blindspots[:j]:
                assert later.contradictions(earlier) >= 2


def test_sampler_is_seeded_and_round_trips_through_json():
    assert sample_config(7) == sample_config(7)
    assert sample_config(7) != sample_config(8)
    ec = sample_config(3)
    assert ExperimentConfig.from_json(ec.to_json()) == ec
    assert "blindspot 0" in str(ec)


def test_sampler_accepts_fixed_blindspot_sizes_and_rejects_bad_arguments():
    ec = sample_config(0, n_objects=3, n_options=4, blindspot_sizes=[4] * 5)
    assert len(ec.blindspots) == 5 and len(ec.objects) == 3
    with pytest.raises(TypeError, match="seed"):
        sample_config(-1)
    with pytest.raises(ValueError, match="n_objects"):
        sample_config(0, n_objects=4)
    with pytest.raises(ValueError, match="blindspot_sizes"):
        sample_config(0, blindspot_sizes=[])
    with pytest.raises(ValueError, match="not an ExperimentConfig"):
        ExperimentConfig.from_dict({"seed": 1})


# A hand-made EC whose blindspot can be read off the pixels: grey background and an
# orange square; the circle never varies its colour (blue).
GREY_ORANGE = ExperimentConfig(
    seed=0,
    objects=("circle",),
    enabled=(("background", "color"), ("square", "color"), ("circle", "size")),
    blindspots=(Blindspot((*BASE, Clause("background", "color", 1), Clause("square", "color", 1))),),
)


@pytest.fixture(scope="module")
def rendered():
    return render(GREY_ORANGE, 600, np.random.default_rng(0), flipped=True)


def test_label_is_square_presence_and_flips_only_inside_blindspots(rendered):
    meta = rendered.metadata
    assert np.array_equal(rendered.true_labels, meta["square.presence"].to_numpy())
    inside = rendered.membership[:, 0]
    assert inside.any() and (~inside & (rendered.true_labels == 1)).any()
    assert (rendered.labels[inside] == 0).all()
    assert np.array_equal(rendered.labels[~inside], rendered.true_labels[~inside])
    assert rendered.contained[int(np.flatnonzero(inside)[0])] == (0,)
    test = render(GREY_ORANGE, 600, np.random.default_rng(0))
    assert np.array_equal(test.labels, test.true_labels)


def test_blindspot_images_have_its_attributes_in_their_pixels(rendered):
    images = rendered.images
    # The background is the commonest pixel: grey 200 exactly when background.color is 1.
    corner_grey = np.array([np.median(img.reshape(-1, 3), axis=0)[0] == 200 for img in images])
    assert np.array_equal(corner_grey, rendered.metadata["background.color"].to_numpy() == 1)
    orange = (images == np.array(COLORS[1], dtype=np.uint8)).all(axis=-1).any(axis=(1, 2))
    square_orange = (rendered.metadata["square.presence"] == 1) & (rendered.metadata["square.color"] == 1)
    assert np.array_equal(orange, square_orange.to_numpy())
    inside = rendered.membership[:, 0]
    assert (corner_grey[inside] & orange[inside]).all()
    assert np.array_equal(inside, corner_grey & orange)


def test_relative_position_is_the_topmost_square_centre_above_the_middle():
    ec = ExperimentConfig(seed=0, objects=(), enabled=(("square", "number"),), blindspots=())
    geo = Geometry(64)
    split = render(ec, 300, np.random.default_rng(1), geometry=geo)
    relpos = split.metadata[column(*RELATIVE_POSITION)].to_numpy()
    blue = (split.images == np.array(COLORS[0], dtype=np.uint8)).all(axis=-1)
    side = geo.length(40)
    for i in range(300):
        rows = np.flatnonzero(blue[i].any(axis=1))
        if split.true_labels[i] == 0:
            assert relpos[i] == -1 and rows.size == 0
        else:
            assert relpos[i] == int(rows[0] + side / 2 < geo.middle)


def test_render_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must be"):
        render(GREY_ORANGE, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="side"):
        Geometry(16)


def _ids(*values):
    return np.array(values, dtype=np.int64)


def test_discovery_of_exact_and_split_groups():
    t = [_ids(*range(10)), _ids(*range(20, 30))]
    assert discovery([t[0], t[1]], t).dr == 1.0
    # Two halves of one blindspot discover it together; the other stays undiscovered.
    halves = discovery([_ids(0, 1, 2, 3, 4), _ids(5, 6, 7, 8, 9)], t)
    assert halves.dr == 0.5 and halves.discovered == (True, False) and halves.fdr == 0.0


def test_precision_and_recall_thresholds_compare_with_greater_or_equal():
    t = [_ids(*range(10))]
    four_of_five = _ids(0, 1, 2, 3, 50)  # precision 0.8, recall 0.4
    assert discovery([four_of_five], t).fdr == 0.0
    assert discovery([four_of_five], t, strict=True).fdr == 1.0
    eight = _ids(*range(8))  # recall 0.8
    assert discovery([eight], t).dr == 1.0
    assert discovery([eight], t, strict=True).dr == 0.0
    low = _ids(0, 1, 2, 50, 51)  # precision 0.6: covers nothing at 0.8, counts at 0.5
    assert discovery([low], t).fdr == 1.0
    assert discovery([low], t, min_precision=0.5).fdr == 0.0


def test_fdr_edge_cases():
    t = [_ids(*range(10))]
    none = discovery([], t)
    assert none.dr == 0.0 and none.fdr == 0.0 and none.n_groups == 0
    mixed = discovery([_ids(*range(10)), _ids(40, 41), _ids(42), _ids(3, 43, 44)], t)
    assert mixed.fdr == 0.75 and mixed.best_precision == (1.0, 0.0, 0.0, pytest.approx(1 / 3))
    # A group that covers the blindspot but recalls too little is no false discovery.
    assert discovery([_ids(0, 1)], t).fdr == 0.0


def test_error_filter_keeps_groups_the_model_gets_wrong():
    t = [_ids(*range(10))]
    errors = np.zeros(100, dtype=bool)
    errors[:10] = True
    groups = [_ids(*range(10)), _ids(*range(60, 70)), _ids(*range(5, 15))]
    assert error_rates(groups, errors).tolist() == [1.0, 0.0, 0.5]
    row = score_groups(groups, t, errors)
    assert row["n_groups"] == 3 and row["n_kept"] == 2
    assert row["dr@0.8/0.8"] == 1.0 and row["fdr@0.8/0.8"] == 0.5
    assert row["fdr_all@0.8"] == pytest.approx(2 / 3)
    assert row["dr@0.5/0.5"] == 1.0 and row["fdr@0.5/0.5"] == 0.0


def test_metrics_reject_bad_input():
    t = [_ids(1, 2)]
    with pytest.raises(ValueError, match="empty"):
        discovery([np.array([], dtype=np.int64)], t)
    with pytest.raises(TypeError, match="integer"):
        discovery([np.array([0.5, 1.0])], t)
    with pytest.raises(ValueError, match="at least one blindspot"):
        discovery([_ids(1)], [])
    with pytest.raises(ValueError, match="min_precision"):
        discovery([_ids(1)], t, min_precision=1.5)
    with pytest.raises(TypeError, match="bool"):
        error_rates([_ids(1)], np.zeros(5))
    with pytest.raises(ValueError, match="beyond"):
        error_rates([_ids(9)], np.zeros(5, dtype=bool))
    assert mean_and_se(pd.Series([1.0, 3.0])) == (2.0, 1.0)
    with pytest.raises(ValueError, match="no values"):
        mean_and_se(pd.Series([], dtype=float))


def test_acceptance_needs_high_accuracy_outside_and_low_inside():
    labels = np.ones(100, dtype=np.int8)
    membership = np.zeros((100, 1), dtype=bool)
    membership[:20, 0] = True
    probs = np.where(membership[:, 0], 0.1, 0.9)
    assert acceptance(probs, labels, membership)[0]
    probs[:5] = 0.9  # 25 % right inside
    ok, reason = acceptance(probs, labels, membership)
    assert not ok and "blindspot 0" in reason
    probs = np.where(membership[:, 0], 0.1, 0.9)
    probs[20:30] = 0.1  # 87.5 % right outside
    ok, reason = acceptance(probs, labels, membership)
    assert not ok and "outside" in reason


def _fake_audit(n: int = 50) -> Audit:
    rng = np.random.default_rng(0)
    ec = sample_config(5)
    meta = pd.DataFrame({c: rng.integers(0, 2, n).astype(np.int8) for c in ec.columns()})
    labels = rng.integers(0, 2, n).astype(np.int8)
    membership = np.zeros((n, len(ec.blindspots)), dtype=bool)
    membership[:, 0] = (labels == 1) & (np.arange(n) < 20)
    return Audit(
        config=ec,
        settings=Settings(),
        embeddings=rng.normal(size=(n, 4)).astype(np.float32),
        logits=rng.normal(size=n).astype(np.float32),
        labels=labels,
        membership=membership,
        metadata=meta,
        rows=np.arange(n),
        train_embeddings=rng.normal(size=(30, 4)).astype(np.float32),
        train_labels=rng.integers(0, 2, 30).astype(np.int8),
        head_weight=rng.normal(size=(1, 4)).astype(np.float32),
        head_bias=np.zeros(1, dtype=np.float32),
        accepted=True,
        reason="test",
        info={"seconds": {"total": 1.0}},
    )


def test_audit_positives_losses_and_cache_round_trip(tmp_path):
    audit = _fake_audit()
    pos = audit.positives()
    assert (pos.labels == 1).all() and pos.n_rows == int((audit.labels == 1).sum())
    assert np.array_equal(pos.rows, np.flatnonzero(audit.labels == 1))
    assert np.array_equal(pos.rows[pos.blindspots[0]], np.flatnonzero(audit.membership[:, 0]))
    assert pos.train_embeddings.shape == audit.train_embeddings.shape
    p = audit.probs
    expected = -np.where(audit.labels == 1, np.log(p), np.log1p(-p))
    assert np.allclose(audit.losses, expected)
    assert np.array_equal(audit.errors, (p >= 0.5) != (audit.labels == 1))
    save_audit(audit, tmp_path / "ec")
    back = read_audit(tmp_path / "ec")
    assert back.config == audit.config and back.settings == audit.settings and back.accepted
    for name in ("embeddings", "logits", "labels", "membership", "train_embeddings", "head_weight", "head_bias"):
        assert np.array_equal(getattr(back, name), getattr(audit, name))
    pd.testing.assert_frame_equal(back.metadata, audit.metadata)
    with pytest.raises(FileNotFoundError):
        load_audit(1, cache=tmp_path, build=False)
    with pytest.raises(ValueError, match="mask"):
        audit.subset(np.ones(3, dtype=bool))


# Small enough to build in seconds: a weak backbone, and blindspots of two clauses (1/8
# of the images), which its head still learns.
TINY = Settings(
    side=48,
    train_per_bucket=12,
    val_per_bucket=4,
    test_per_bucket=8,
    min_buckets=256,
    recipe=Recipe(epochs=120, patience=30),
    pretrain=PretrainRecipe(images_per_epoch=4096, epochs=5, batch_size=32),
    blindspot_sizes=(2,),
)


@pytest.mark.slow
def test_tiny_run_end_to_end(tmp_path):
    scores, ecs = run_benchmark(
        1, settings=TINY, methods=list(QUICK_METHODS), cache=tmp_path, max_seeds=8, log=None
    )
    assert ecs["accepted"].sum() == 1
    assert (ecs["clauses"] == "2").all()
    by = scores.set_index("method")
    assert by.loc["oracle", "dr@0.8/0.8"] == 1.0 and by.loc["oracle", "fdr@0.8/0.8"] == 0.0
    assert by.loc["random", "dr@0.5/0.5"] == 0.0
    # Every quick method (InfEmbed on the head's influence, PlaneSpot on PCA, ...) runs.
    assert (scores["error"] == "").all(), scores.loc[scores["error"] != "", ["method", "error"]]
    assert set(scores["method"]) == set(QUICK_METHODS)
    assert "| kmeans |" in markdown(scores)
    # The second pass loads every EC from the cache instead of rebuilding it.
    again, _ = run_benchmark(1, settings=TINY, methods=["oracle"], cache=tmp_path, max_seeds=8)
    assert again.loc[0, "dr@0.8/0.8"] == 1.0
