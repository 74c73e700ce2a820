"""Sharded spotlight search on torch.distributed (gloo, 1 to 4 processes on this machine).

One set of 4 spawned processes runs every API scenario (module fixture ``runs``); each
scenario uses a sub-group of them (1, 2 or 4 processes; disjoint groups run side by side)
and is compared here with the single-process search on the concatenated shards. The
launcher is run once under ``torchrun`` with 3 processes.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from spotlight_widget import find_spotlights
from spotlight_widget.engine import get_preset
from spotlight_widget.synthetic import planted_clusters

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed with gloo"
)

ROOT = Path(__file__).resolve().parents[1]
WORLD = 4
F64 = torch.float64


def dataset(name: str):
    if name == "two":
        return planted_clusters(n_rows=3000, dim=64, fractions=(0.03, 0.02), n_clusters=20, seed=2)
    raise KeyError(name)


def example_counts(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4, n).astype(np.float64)


# The fast preset with a first stage on a sample from 2,000 rows on (instead of 100,000).
SAMPLING = replace(get_preset("fast"), coarse_rows=1000)
SHORT = dict(dtype=F64, max_steps=20)

# name -> (ranks of the group, rows per rank, data set, options). Every process walks the
# list in order and runs the scenarios its rank belongs to.
SCENARIOS = {
    "even": ((0, 1), [1500, 1500], "two", dict(n=1, size=0.02, dtype=F64)),
    "uneven_counts_sizes": ((2, 3), [2600, 400], "two", dict(n=1, size=[0.02, 0.05], dtype=F64, max_steps=80)),
    "empty_rank_sequential_restarts": (
        (0, 1, 2, 3),
        [1200, 0, 1000, 800],
        "two",
        dict(n=2, size=0.02, restarts=2, dtype=F64, max_steps=25),
    ),
    "paper": ((0, 1), [1000, 2000], "two", dict(n=1, size=0.02, preset="paper", restarts=2, dtype=F64, max_steps=60)),
    "sampled": ((2, 3), [1400, 1600], "two", dict(n=1, size=0.02, preset=SAMPLING, dtype=F64, max_steps=30)),
    # One start (the fast preset's default is two): the sharded search without anchors.
    "after": ((0, 1), [1700, 1300], "two", dict(n=1, size=0.02, restarts=1, dtype=F64, max_steps=30)),
    "block_draws_2": ((2, 3), [1500, 1500], "two", dict(n=1, size=0.02, preset=SAMPLING, restarts=2, **SHORT)),
    "block_draws_1": ((0,), [3000], "two", dict(n=1, size=0.02, preset=SAMPLING, restarts=2, **SHORT)),
    # The defaults (float32, converged stopping), shards of unequal sizes, two spotlights.
    "float32_two": ((0, 1), [1900, 1100], "two", dict(n=2, size=0.02)),
    "float32_three": ((1, 2, 3), [1000, 1300, 700], "two", dict(n=2, size=0.02)),
}
ERRORS = ("nan_on_rank_1", "different_size_on_rank_3", "cancel_on_rank_2", "width_on_rank_0", "bad_n_everywhere")


def _summary(found):
    found = found if isinstance(found[0], list) else [found]
    return [
        [
            {
                "weights": sp.weights,
                "indices": sp.indices,
                "top": sp.top_indices,
                "offset": sp.row_offset,
                "center": sp.center,
                "precision": sp.precision,
                "weighted_loss": sp.weighted_loss,
                "top_loss": sp.top_loss,
                "mass": sp.mass,
                "objective": sp.objective,
                "history": np.stack([sp.history.objective, sp.history.mass, sp.history.lr, sp.history.width]),
                "stage": sp.history.stage,
                "members": sp.members,
                "top_rows": sp.top_rows,
                "size": sp.size,
                "rank": sp.rank,
                "repr": repr(sp),
                "frame_columns": list(sp.to_frame().columns),
            }
            for sp in spots
        ]
        for spots in found
    ]


def _shard(name, splits, rank_in_group, data_name, options):
    data = dataset(data_name)
    bounds = np.concatenate([[0], np.cumsum(splits)])
    rows = slice(int(bounds[rank_in_group]), int(bounds[rank_in_group + 1]))
    opts = dict(options)
    if name == "uneven_counts_sizes":
        opts["counts"] = example_counts(len(data.losses))[rows]
    return data.embeddings[rows], data.losses[rows], opts


def _worker(rank: int, init: str, out: str) -> None:
    from spotlight_widget.engine import SearchCancelled, space

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD, timeout=timedelta(seconds=60))
    groups = {}
    for ranks, *_ in SCENARIOS.values():
        if ranks not in groups:
            groups[ranks] = dist.group.WORLD if len(ranks) == WORLD else dist.new_group(list(ranks))
    short = dist.new_group(list(range(WORLD)), timeout=timedelta(seconds=3))
    results: dict = {}

    for name, (ranks, splits, data_name, options) in SCENARIOS.items():
        if rank not in ranks:
            continue
        try:
            emb, loss, opts = _shard(name, splits, ranks.index(rank), data_name, options)
            start = time.perf_counter()
            if name.startswith("block_draws"):
                space.EXACT_DRAW_MAX_ROWS = 0
            if name == "after":
                first = find_spotlights(emb, loss, process_group=groups[ranks], **opts)
                second = find_spotlights(emb, loss, after=first, process_group=groups[ranks], **opts)
                found = first + second
            else:
                found = find_spotlights(emb, loss, process_group=groups[ranks], **opts)
            results[name] = {"found": _summary(found), "seconds": time.perf_counter() - start}
        except Exception:
            results[name] = {"error": traceback.format_exc()}
        finally:
            space.EXACT_DRAW_MAX_ROWS = 1 << 26

    # Failures: every process must raise the same error, and quickly.
    data = dataset("two")
    part = slice(rank * 750, (rank + 1) * 750)
    emb, loss = data.embeddings[part].copy(), data.losses[part]
    for name in ERRORS:
        kwargs = dict(n=1, size=0.02, max_steps=40, process_group=dist.group.WORLD)
        x = emb
        if name == "nan_on_rank_1" and rank == 1:
            x = emb.copy()
            x[3, 5] = np.nan
        if name == "different_size_on_rank_3" and rank == 3:
            kwargs["size"] = 0.03
        if name == "cancel_on_rank_2" and rank == 2:
            kwargs["cancel"] = lambda: True
        if name == "width_on_rank_0" and rank == 0:
            x = emb[:, :63]
        if name == "bad_n_everywhere":
            kwargs["n"] = 0
        dist.barrier()
        start = time.perf_counter()
        try:
            find_spotlights(x, loss, **kwargs)
            results[name] = {"error": None}
        except SearchCancelled as exc:
            results[name] = {"type": "SearchCancelled", "message": str(exc), "seconds": time.perf_counter() - start}
        except Exception as exc:
            results[name] = {"type": type(exc).__name__, "message": str(exc), "seconds": time.perf_counter() - start}

    # A process that never joins: the others time out (3 s group) instead of hanging.
    dist.barrier()
    start = time.perf_counter()
    if rank != 3:
        try:
            find_spotlights(emb, loss, n=1, size=0.02, process_group=short)
            results["absent_rank"] = {"error": None}
        except Exception as exc:
            results["absent_rank"] = {"runtime": isinstance(exc, RuntimeError), "message": str(exc)[:300]}
        results["absent_rank"]["seconds"] = time.perf_counter() - start
    with open(Path(out) / f"rank{rank}.pkl", "wb") as f:
        pickle.dump(results, f)
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    """Start torchrun with 3 processes (a .npy shard, an empty .npy shard, a .parquet shard) in
    the background: it runs while the spawned processes of ``runs`` do (the machine has 2 cores
    and both mostly wait on each other's messages)."""
    import pandas as pd

    tmp = tmp_path_factory.mktemp("launch")
    data = dataset("two")
    counts = example_counts(3000)
    cuts = [(0, 1800), (1800, 1800), (1800, 3000)]
    np.save(tmp / "emb-0.npy", data.embeddings[:1800])
    np.save(tmp / "emb-1.npy", data.embeddings[1800:1800])
    pd.DataFrame(data.embeddings[1800:], columns=[f"f{i}" for i in range(64)]).to_parquet(tmp / "emb-2.parquet")
    for r, (a, b) in enumerate(cuts):
        pd.DataFrame({"id": np.arange(a, b), "loss": data.losses[a:b]}).to_parquet(tmp / f"loss-{r}.parquet")
        np.save(tmp / f"counts-{r}.npy", counts[a:b])
    out = tmp / "out"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=3",
        "-m", "spotlight_widget.distributed", "find",
        f"{tmp}/emb-0.npy,{tmp}/emb-1.npy,{tmp}/emb-2.parquet", str(tmp / "loss-*.parquet"),
        "--loss-column", "loss", "--counts", str(tmp / "counts-{rank}.npy"),
        "--size", "0.02", "-n", "2", "--max-steps", "30", "--dtype", "float64", "--timeout", "120",
        "-o", str(out),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    yield {"popen": popen, "out": out, "data": data, "counts": counts, "tmp": tmp}
    if popen.poll() is None:
        popen.kill()
        popen.communicate()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, launch):
    import multiprocessing

    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("dist")
    start = time.perf_counter()
    # A fork server imports torch and this module once, then forks the 4 processes: four
    # imports of torch side by side take ~20 s on 2 busy cores.
    multiprocessing.set_forkserver_preload([__name__])
    mp.start_processes(
        _worker, args=(f"file://{out}/store", str(out)), nprocs=WORLD, join=True, start_method="forkserver"
    )
    per_rank = [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]
    return {"ranks": per_rank, "seconds": time.perf_counter() - start}


def _reference(name):
    ranks, splits, data_name, options = SCENARIOS[name]
    data = dataset(data_name)
    opts = dict(options)
    if name == "uneven_counts_sizes":
        opts["counts"] = example_counts(len(data.losses))
    if name == "after":
        opts["n"] = 2
    found = find_spotlights(data.embeddings, data.losses, **opts)
    return found if isinstance(found[0], list) else [found]


def _scenario(runs, name):
    ranks = SCENARIOS[name][0]
    parts = [runs["ranks"][r][name] for r in ranks]
    for r, part in zip(ranks, parts):
        assert "error" not in part, f"rank {r} failed:\n{part['error']}"
    return [p["found"] for p in parts]


def jaccard(a, b) -> float:
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b)


def _check_matches(parts, reference, *, rtol=1e-7):
    """Sharded results (one list per process) against the single-process spotlights."""
    for i, spots in enumerate(reference):
        for k, ref in enumerate(spots):
            mine = [p[i][k] for p in parts]
            first = mine[0]
            for other in mine[1:]:  # every process has the same spotlight, to the bit
                for key in ("center", "history"):
                    np.testing.assert_array_equal(other[key], first[key])
                for key in ("precision", "weighted_loss", "top_loss", "mass", "objective", "members", "top_rows"):
                    assert other[key] == first[key], key
            np.testing.assert_allclose(first["center"], ref.center, rtol=0, atol=1e-8 * (1 + np.abs(ref.center).max()))
            assert first["precision"] == pytest.approx(ref.precision, rel=rtol)
            assert first["weighted_loss"] == pytest.approx(ref.weighted_loss, rel=rtol)
            assert first["top_loss"] == pytest.approx(ref.top_loss, rel=rtol)
            assert first["mass"] == pytest.approx(ref.mass, rel=rtol)
            assert first["size"] == ref.size and first["rank"] == ref.rank
            assert first["history"].shape[1] == ref.history.steps
            np.testing.assert_array_equal(first["stage"], ref.history.stage)
            ref_hist = np.stack([ref.history.objective, ref.history.mass, ref.history.lr, ref.history.width])
            np.testing.assert_allclose(first["history"], ref_hist, rtol=1e-6, atol=1e-9)
            # Weights of each process's own rows; local indices and top sets in global terms.
            weights = np.concatenate([m["weights"] for m in mine])
            np.testing.assert_allclose(weights, ref.weights, atol=1e-9)
            top = np.concatenate([m["top"] + m["offset"] for m in mine])
            assert jaccard(top, ref.top_indices) >= 0.99
            assert len(top) == len(ref.top_indices) == first["top_rows"]
            members = np.concatenate([m["indices"] + m["offset"] for m in mine])
            assert first["members"] == len(ref.indices) == len(members)
            for m in mine:  # local indices: members of the shard, highest weight first
                assert np.all(np.diff(m["weights"][m["indices"]]) <= 0)
                assert np.array_equal(m["top"], m["indices"][: len(m["top"])])


@pytest.mark.parametrize(
    "name", ["even", "uneven_counts_sizes", "empty_rank_sequential_restarts", "paper", "sampled", "after"]
)
def test_sharded_search_matches_one_process(runs, name):
    _check_matches(_scenario(runs, name), _reference(name))


@pytest.mark.parametrize("name", ["float32_two", "float32_three"])
def test_float32_shards_of_unequal_sizes_match_one_process(runs, name):
    # The per-step sums accumulate in float64, so how the rows are split changes them by
    # float64 rounding only. Summed in float32, these splits moved both centres by about
    # 3e-3 (relative): the optimiser's stopping rule amplified the last-digit differences.
    parts = _scenario(runs, name)
    reference = _reference(name)[0]
    assert len(reference) == 2
    for k, ref in enumerate(reference):
        mine = [p[0][k] for p in parts]
        scale = np.abs(ref.center).max()
        for m in mine:
            np.testing.assert_allclose(m["center"], ref.center, rtol=0, atol=1e-5 * scale)
        assert mine[0]["history"].shape[1] == ref.history.steps
        top = np.concatenate([m["top"] + m["offset"] for m in mine])
        np.testing.assert_array_equal(np.sort(top), np.sort(ref.top_indices))


def test_sharded_spotlight_describes_its_shard(runs):
    parts = _scenario(runs, "empty_rank_sequential_restarts")
    empty = parts[1][0][0]
    assert empty["weights"].shape == (0,) and empty["indices"].shape == (0,) and empty["top"].shape == (0,)
    assert empty["offset"] == 1200 and parts[3][0][0]["offset"] == 2200
    assert "shard 1 of 4: rows 1200..1200" in empty["repr"] and "of 3000" in empty["repr"]
    assert parts[0][0][0]["frame_columns"][:3] == ["index", "global_index", "weight"]


def test_block_draws_do_not_depend_on_the_number_of_processes(runs):
    # Above EXACT_DRAW_MAX_ROWS (set to 0 here) the sample and the anchors come from
    # per-block streams: 2 processes and 1 process find the same spotlight.
    two = _scenario(runs, "block_draws_2")
    one = _scenario(runs, "block_draws_1")[0][0][0]
    a = two[0][0][0]
    np.testing.assert_allclose(a["center"], one["center"], atol=1e-8)
    assert a["stage"][0] == 0, "expected a first stage on a sample"
    np.testing.assert_allclose(a["history"], one["history"], rtol=1e-6, atol=1e-9)
    top_two = np.concatenate([p[0][0]["top"] + p[0][0]["offset"] for p in two])
    assert jaccard(top_two, one["top"]) >= 0.99


def test_input_errors_are_raised_on_every_process(runs):
    for name, needle in [
        ("nan_on_rank_1", "rank 1: ValueError: embeddings has 1 rows with NaN"),
        ("different_size_on_rank_3", "different arguments (ranks [3]"),
        ("width_on_rank_0", "different widths"),
    ]:
        for rank, res in enumerate(runs["ranks"]):
            got = res[name]
            assert got.get("type") == "ShardError", (name, rank, got)
            assert needle in got["message"], (name, got["message"])
            assert got["seconds"] < 20


def test_an_error_every_process_has_is_raised_as_on_one_process(runs):
    for res in runs["ranks"]:
        got = res["bad_n_everywhere"]
        assert got.get("type") == "ValueError", got
        assert got["message"] == "find_spotlights: n must be an int in [1, inf); got 0"


def test_cancel_on_one_process_stops_all(runs):
    for res in runs["ranks"]:
        assert res["cancel_on_rank_2"]["type"] == "SearchCancelled"


def test_a_missing_process_gives_a_timeout_not_a_hang(runs):
    for rank in range(WORLD - 1):
        got = runs["ranks"][rank]["absent_rank"]
        assert got.get("runtime"), got
        assert got["seconds"] < 30


# ---------------------------------------------------------------------------------------------
# The launcher


@pytest.fixture(scope="module")
def launched(launch):
    """Waits for the torchrun run started by ``launch``."""
    stdout, stderr = launch["popen"].communicate(timeout=300)
    return dict(
        launch, proc=subprocess.CompletedProcess(launch["popen"].args, launch["popen"].returncode, stdout, stderr)
    )


def test_launcher_writes_the_documented_files(launched):
    import pandas as pd

    proc, out = launched["proc"], launched["out"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    S = round(0.02 * launched["counts"].sum())
    assert f"size 0.02 (S={S}) spotlight 1" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "centers.npy", "history.parquet", "run.json", "spotlights.parquet", "weights",
    ]  # fmt: skip
    assert sorted(p.name for p in (out / "weights").iterdir()) == [f"part-0000{r}.parquet" for r in range(3)]
    meta = json.loads((out / "run.json").read_text())
    assert meta["world_size"] == 3 and meta["rows"] == 3000 and meta["dim"] == 64
    assert [s["rows"] for s in meta["shards"]] == [1800, 0, 1200]
    assert [s["offset"] for s in meta["shards"]] == [0, 1800, 1800]
    assert meta["restarts"] == 2, "run.json records the preset's restarts when --restarts is not given"
    summary = pd.read_parquet(out / "spotlights.parquet")
    assert list(summary["spotlight"]) == [0, 1] and list(summary["size"]) == [S, S]
    assert np.load(out / "centers.npy").shape == (2, 64)
    part = pd.read_parquet(out / "weights" / "part-00002.parquet")
    assert list(part.columns) == ["size", "spotlight", "index", "weight", "loss", "count", "in_top"]
    assert part["index"].between(1800, 2999).all() and (part["weight"] > 0).all()
    assert len(pd.read_parquet(out / "weights" / "part-00001.parquet")) == 0


def test_launcher_run_loads_back_as_the_single_process_result(launched):
    from spotlight_widget.distributed import load_run

    assert launched["proc"].returncode == 0, launched["proc"].stderr[-3000:]
    data, counts = launched["data"], launched["counts"]
    reference = find_spotlights(
        data.embeddings, data.losses, n=2, size=0.02, counts=counts, max_steps=30, dtype=torch.float64
    )
    view = load_run(launched["out"])
    assert view.embeddings.shape == (3000, 64) and np.array_equal(view.rows, np.arange(3000))
    np.testing.assert_allclose(view.losses, data.losses, rtol=1e-6)
    np.testing.assert_array_equal(view.counts, counts)
    for ref, sp in zip(reference, view.spotlights[0]):
        np.testing.assert_allclose(sp.weights, ref.weights, atol=1e-9)
        np.testing.assert_allclose(sp.center, ref.center, atol=1e-8)
        assert sp.size == ref.size and sp.rank == ref.rank
        assert jaccard(sp.top_indices, ref.top_indices) >= 0.99
        assert sp.weighted_loss == pytest.approx(ref.weighted_loss, rel=1e-7)
        assert sp.history.steps == ref.history.steps
    row = view.summary.iloc[1]
    assert row["top_loss"] == pytest.approx(reference[1].top_loss, rel=1e-7)
    # On a sample: the run's weights for those rows, the size scaled to the sample.
    sample = load_run(launched["out"], sample=600, seed=1)
    assert sample.embeddings.shape == (600, 64) and sample.rows.shape == (600,)
    sp = sample.spotlights[0][0]
    np.testing.assert_allclose(sp.weights, reference[0].weights[sample.rows], atol=1e-9)
    assert abs(sp.size - reference[0].size * counts[sample.rows].sum() / counts.sum()) <= 0.5
    assert list(sample.results) == [sp.size]


def test_explorer_opens_a_run_on_a_sample(launched):
    import pandas as pd

    from spotlight_widget import SpotlightExplorer
    from spotlight_widget.distributed import load_run

    assert launched["proc"].returncode == 0, launched["proc"].stderr[-3000:]
    data = launched["data"]
    meta = pd.DataFrame({"cluster": data.cluster})
    ex = SpotlightExplorer.from_run(launched["out"], sample=600, seed=1, metadata=meta)
    view = load_run(launched["out"], sample=600, seed=1)
    assert ex.n == 600 and len(ex.history) == 2 and ex.current == 0 and ex.status["state"] == "idle"
    for shown, loaded in zip(ex.spotlights, view.spotlights[0]):
        np.testing.assert_array_equal(shown.weights, loaded.weights)
        np.testing.assert_array_equal(shown.center, loaded.center)
    frame = ex.to_dataframe(1)
    np.testing.assert_array_equal(frame["row"], view.rows[frame["index"]])
    np.testing.assert_array_equal(frame["cluster"], data.cluster[frame["row"]])
    with pytest.raises(ValueError, match="3000 rows"):
        SpotlightExplorer.from_run(launched["out"], sample=600, metadata=meta.iloc[:10])


def test_launcher_reports_a_missing_shard(tmp_path):
    np.save(tmp_path / "loss.npy", np.ones(10))
    proc = subprocess.run(
        [sys.executable, "-m", "spotlight_widget.distributed", "find", str(tmp_path / "nope.npy"),
         str(tmp_path / "loss.npy"), "-o", str(tmp_path / "out"), "--timeout", "20"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    # One process, so its own error as it was raised (several processes would name their ranks).
    assert "error: " in proc.stderr and "nope.npy: no such file" in proc.stderr, proc.stderr[-2000:]


def test_shard_files_resolve_in_rank_order(tmp_path):
    from spotlight_widget.cli import CliError
    from spotlight_widget.distributed.launcher import shard_files

    for i in (0, 1, 2, 10):
        np.save(tmp_path / f"e-{i}.npy", np.zeros((1, 2)))
    expect = [tmp_path / f"e-{i}.npy" for i in (0, 1, 2, 10)]
    assert shard_files(str(tmp_path), 4, "embeddings") == expect
    assert shard_files(str(tmp_path / "e-*.npy"), 4, "embeddings") == expect
    assert shard_files(str(tmp_path / "e-{rank}.npy"), 2, "embeddings") == expect[:2]
    with pytest.raises(CliError, match="names 4 file"):
        shard_files(str(tmp_path), 3, "embeddings")
