"""Input conversion and the errors users see for bad data."""

import numpy as np
import pandas as pd
import pytest
import torch

from spotlight_widget import find_spotlight

RNG = np.random.default_rng(0)
EMB = RNG.normal(size=(200, 8)).astype(np.float32)
LOSS = RNG.random(200).astype(np.float32)


def run(emb=EMB, loss=LOSS, **kw):
    kw.setdefault("size", 10)
    kw.setdefault("max_steps", 30)
    return find_spotlight(emb, loss, **kw)


@pytest.mark.parametrize(
    "emb, loss, message",
    [
        (EMB[:, 0], LOSS, "must be 2-D"),
        (EMB[None], LOSS, "must be 2-D"),
        (np.zeros((0, 8)), np.zeros(0), "empty"),
        (np.zeros((200, 0)), LOSS, "empty"),
        (EMB, LOSS[:150], "150 entries but the embeddings have 200 rows"),
        (EMB, LOSS[:, None].repeat(2, 1), "must be 1-D"),
        (EMB[:1], LOSS[:1], "at least 2 examples"),
    ],
)
def test_shape_errors_name_the_problem(emb, loss, message):
    with pytest.raises(ValueError, match=message):
        run(emb, loss, size=0.5)


def test_nan_rows_are_counted_and_located():
    emb = EMB.copy()
    emb[[3, 17, 40], 2] = np.nan
    emb[41, 0] = np.inf
    with pytest.raises(ValueError, match=r"4 rows with NaN or infinite values \(first at \[3, 17, 40, 41\]\)"):
        run(emb)
    loss = LOSS.copy()
    loss[7] = np.nan
    with pytest.raises(ValueError, match=r"losses has 1 entries with NaN.*\[7\]"):
        run(EMB, loss)


@pytest.mark.parametrize("size", [0, -3, 0.0, -0.1, 200, 250, 1.5, float("nan"), True, "big"])
def test_bad_sizes(size):
    with pytest.raises((ValueError, TypeError), match="size"):
        run(size=size)


@pytest.mark.parametrize(
    "size, expected",
    [
        (np.array(0.05), 10),
        (np.float64(0.05), 10),
        (np.float32(0.05), 10),
        (np.int64(7), 7),
        (np.array(7), 7),
        (torch.tensor(7), 7),
    ],
    ids=["0-d float array", "float64", "float32", "int64", "0-d int array", "0-d tensor"],
)
def test_numpy_scalars_and_0d_arrays_are_single_sizes(size, expected):
    sp = run(size=size)
    assert not isinstance(sp, list)
    assert sp.size == expected and len(sp.top_indices) == expected


def test_a_1d_array_of_sizes_is_a_batch():
    for sizes in (np.array([5, 10]), np.array([0.025, 0.05])):
        spots = run(size=sizes)
        assert isinstance(spots, list)
        assert [sp.size for sp in spots] == [5, 10]


SIZE_RULE = r"find_spotlight: size must be a float in \(0, 1\) \(a fraction of the data\) or an int >= 1 \(a number of examples\)"


@pytest.mark.parametrize("size", [True, np.bool_(True), np.array(False), [5, True]])
def test_booleans_are_not_sizes(size):
    with pytest.raises(TypeError, match=SIZE_RULE + "; got .*(True|False)"):
        run(size=size)


@pytest.mark.parametrize("size", [1.0, np.float64(1.0), np.array(3.0), [0.1, 2.0]])
def test_a_float_of_one_or_more_is_refused_with_the_rule(size):
    with pytest.raises(ValueError, match=SIZE_RULE + r"; got [123]\.0$"):
        run(size=size)


def test_a_2d_array_is_not_a_size():
    with pytest.raises(ValueError, match=r"1-d sequence.*shape \(1, 2\)"):
        run(size=np.array([[0.01, 0.02]]))


def test_non_numeric_and_complex_inputs_are_refused():
    with pytest.raises(TypeError, match="numeric"):
        run(np.array([["a", "b"]] * 200), LOSS)
    with pytest.raises(TypeError, match="complex"):
        run(EMB.astype(np.complex64), LOSS)
    with pytest.raises(TypeError, match="required"):
        run(None, LOSS)


def test_bad_counts():
    with pytest.raises(ValueError, match="non-negative"):
        run(counts=np.full(200, -1.0))
    with pytest.raises(ValueError, match="all zero"):
        run(counts=np.zeros(200))
    with pytest.raises(ValueError, match="counts has 3 entries"):
        run(counts=[1, 2, 3])


def test_other_bad_options():
    with pytest.raises(ValueError, match="preset must be one of 'fast', 'paper' or a Preset; got 'slow'"):
        run(preset="slow")
    with pytest.raises(ValueError, match="restarts"):
        run(restarts=0)
    with pytest.raises(ValueError, match="barrier"):
        run(barrier=-1)
    with pytest.raises(ValueError, match="dtype"):
        run(dtype=torch.float16)
    with pytest.raises(TypeError, match="cancel"):
        run(cancel=42)


def test_constant_losses_or_embeddings_are_refused():
    with pytest.raises(ValueError, match="all losses are equal"):
        run(EMB, np.ones(200))
    with pytest.raises(ValueError, match="all embeddings are identical"):
        run(np.ones((200, 4)), LOSS)


@pytest.mark.parametrize(
    "convert",
    [
        lambda e, l: (e.astype(np.float64), l.astype(np.float64)),
        lambda e, l: (torch.from_numpy(e), torch.from_numpy(l)),
        lambda e, l: (pd.DataFrame(e), pd.Series(l)),
        lambda e, l: (e.tolist(), l.tolist()),
        lambda e, l: ((e * 100).astype(np.int64), (l * 100).astype(np.int32)),
        lambda e, l: (e.astype(np.float16), l[:, None]),
        lambda e, l: (np.asfortranarray(e), l[::-1].copy()[::-1]),
    ],
    ids=["float64", "torch", "pandas", "lists", "ints", "float16+column", "fortran+strided"],
)
def test_every_input_kind_gives_a_spotlight(convert):
    emb, loss = convert(EMB, LOSS)
    sp = run(emb, loss)
    assert sp.weights.shape == (200,)
    assert sp.size == 10 and len(sp.top_indices) == 10
    assert np.isfinite(sp.weights).all() and sp.mass > 0


def test_inputs_are_not_modified():
    emb, loss = EMB.copy(), LOSS.copy()
    t_emb = torch.from_numpy(emb.copy())
    run(emb, loss)
    run(t_emb, loss)
    np.testing.assert_array_equal(emb, EMB)
    np.testing.assert_array_equal(loss, LOSS)
    np.testing.assert_array_equal(t_emb.numpy(), EMB)


def test_read_only_memory_map(tmp_path):
    path = tmp_path / "emb.npy"
    np.save(path, EMB)
    mm = np.load(path, mmap_mode="r")
    sp = run(mm, LOSS)
    assert sp.weights.shape == (200,)


def test_warm_start_needs_the_fast_preset():
    start = run()
    with pytest.raises(ValueError, match="init .* needs preset='fast'"):
        run(preset="paper", init=start)
    with pytest.raises(TypeError, match="Spotlight"):
        run(init=["not a spotlight"])
