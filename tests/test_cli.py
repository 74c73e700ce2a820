"""The command line, run as users run it."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from spotlight_widget.cli import main


@pytest.fixture()
def files(tmp_path, planted):
    emb, loss = tmp_path / "emb.npy", tmp_path / "loss.npy"
    np.save(emb, planted.embeddings)
    np.save(loss, planted.losses)
    return tmp_path, emb, loss


def test_find_writes_one_row_per_spotlight_member(files, planted, capsys):
    tmp, emb, loss = files
    out = tmp / "spots.csv"
    assert main(["find", str(emb), str(loss), "--size", "0.02", "-n", "2", "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["size", "spotlight", "index", "weight", "loss", "count", "in_top"]
    assert (frame["count"] == 1).all()
    assert sorted(frame["spotlight"].unique()) == [0, 1]
    first = frame[frame["spotlight"] == 0]
    assert first["weight"].is_monotonic_decreasing and (first["weight"] > 0).all()
    top = first.loc[first["in_top"], "index"].to_numpy()
    assert len(top) == 60
    assert np.isin(top, planted.planted[0]).mean() >= 0.95
    np.testing.assert_allclose(first["loss"], planted.losses[first["index"]], rtol=1e-6)
    err = capsys.readouterr().err
    assert "spotlight 0" in err and "wrote" in err


def test_find_reads_csv_and_parquet_and_several_sizes(tmp_path, planted):
    pd.DataFrame(planted.embeddings).add_prefix("e").to_parquet(tmp_path / "emb.parquet")
    pd.DataFrame({"id": [f"img{i}" for i in range(3000)], "loss": planted.losses}).to_csv(
        tmp_path / "l.csv", index=False
    )
    out = tmp_path / "out.parquet"
    code = main(
        [
            "find",
            str(tmp_path / "emb.parquet"),
            str(tmp_path / "l.csv"),
            "--size",
            "30",
            "0.05",
            "-n",
            "1",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    frame = pd.read_parquet(out)
    assert sorted(frame["size"].unique()) == [30, 150]
    for size, group in frame.groupby("size"):
        assert group["in_top"].sum() == size


def test_restarts_default_to_the_presets_and_can_be_overridden(tmp_path, capsys):
    # Zero-loss examples around the origin, 2 % failing far away: one start from the whole
    # data ends where nothing fails; the fast preset's default second start finds them.
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2000, 16))
    emb[:40] = 0.3 * rng.normal(size=(40, 16))
    emb[:40, 0] += 10.0
    loss = np.zeros(2000)
    loss[:40] = 1.0 + rng.random(40)
    np.save(tmp_path / "emb.npy", emb.astype(np.float32))
    np.save(tmp_path / "loss.npy", loss)
    command = ["find", str(tmp_path / "emb.npy"), str(tmp_path / "loss.npy"), "-n", "1", "-q"]
    out = tmp_path / "o.csv"

    def top_rows(*extra):
        assert main([*command, "-o", str(out), *extra]) == 0
        frame = pd.read_csv(out)
        return frame.loc[frame["in_top"], "index"].to_numpy()

    assert (top_rows() < 40).mean() >= 0.9
    assert (top_rows("--restarts", "1") < 40).mean() == 0.0
    assert main([*command, "-o", str(out), "--restarts", "0"]) == 2
    err = capsys.readouterr().err
    assert "restarts must be" in err and "got 0" in err


def test_errors_are_one_line_messages(files, capsys):
    tmp, emb, loss = files
    np.save(tmp / "short.npy", np.zeros(10))
    cases = [
        (
            ["find", str(emb), str(tmp / "short.npy"), "-o", str(tmp / "o.csv")],
            "10 entries but the embeddings have 3000",
        ),
        (["find", str(tmp / "missing.npy"), str(loss), "-o", str(tmp / "o.csv")], "no such file"),
        (["find", str(emb), str(loss), "-o", str(tmp / "o.json")], "must end in .csv or .parquet"),
        (["find", str(emb), str(loss), "--size", "3000", "-o", str(tmp / "o.csv")], "smaller than the data"),
    ]
    for argv, message in cases:
        assert main(argv + ["-q"]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    pd.DataFrame({"a": [1.0] * 3000, "b": [2.0] * 3000}).to_csv(tmp / "two.csv", index=False)
    assert main(["find", str(emb), str(tmp / "two.csv"), "-o", str(tmp / "o.csv"), "-q"]) == 2
    assert "pick one with the matching --*-column option" in capsys.readouterr().err


def test_console_script_runs_with_a_progress_bar(files):
    tmp, emb, loss = files
    out = tmp / "spots.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "spotlight_widget.cli", "find", str(emb), str(loss), "-n", "1", "-o", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "step" in proc.stderr and "objective" in proc.stderr
    assert out.exists()


def test_slices_writes_the_pooled_regions_by_default(files, planted, capsys):
    tmp, emb, loss = files
    out = tmp / "slices.csv"
    assert main(["slices", str(emb), str(loss), "--size", "0.02", "-n", "3", "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["slice", "index", "weight", "loss", "count", "in_top"]
    assert sorted(frame["slice"].unique()) == list(range(frame["slice"].nunique()))
    first = frame[frame["slice"] == 0]
    assert np.isin(first["index"], planted.planted[0]).mean() >= 0.8
    np.testing.assert_allclose(frame["loss"], planted.losses[frame["index"]], rtol=1e-6)
    err = capsys.readouterr().err
    assert "slice 0:" in err and "wrote" in err and "objective" not in err


def test_slices_runs_a_named_method_with_predictions(tmp_path, planted):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=3000)
    probs = np.where(labels == 1, 0.9, 0.1)
    probs[planted.planted[0]] = 1 - probs[planted.planted[0]]
    np.save(tmp_path / "emb.npy", planted.embeddings)
    np.save(tmp_path / "loss.npy", planted.losses)
    pd.DataFrame({"id": np.arange(3000), "label": labels}).to_csv(tmp_path / "labels.csv", index=False)
    np.save(tmp_path / "probs.npy", probs)
    out = tmp_path / "o.parquet"
    argv = ["slices", str(tmp_path / "emb.npy"), str(tmp_path / "loss.npy"), "--method", "domino-style"]
    argv += [
        "--labels",
        str(tmp_path / "labels.csv"),
        "--labels-column",
        "label",
        "--probs",
        str(tmp_path / "probs.npy"),
    ]
    assert main([*argv, "-n", "2", "-o", str(out), "-q"]) == 0
    frame = pd.read_parquet(out)
    assert 1 <= frame["slice"].nunique() <= 2


def test_slices_errors_are_one_line_messages(files, capsys):
    tmp, emb, loss = files
    np.save(tmp / "same.npy", np.ones(3000))
    np.save(tmp / "short.npy", np.zeros(10))
    cases = [
        (["slices", str(emb), str(tmp / "same.npy")], "all losses are equal"),
        (
            ["slices", str(emb), str(loss), "--probs", str(tmp / "short.npy")],
            "probs has 10 entries but the losses have 3000",
        ),
        (["slices", str(emb), str(loss), "--size", "3000"], "must be smaller than the data"),
    ]
    for argv, message in cases:
        assert main([*argv, "-o", str(tmp / "o.csv"), "-q"]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["slices", str(emb), str(loss), "--method", "no-such", "-o", str(tmp / "o.csv")])
    assert "invalid choice" in capsys.readouterr().err


def test_slices_that_find_nothing_write_an_empty_table_and_say_so(tmp_path, capsys):
    # Random losses: no neighbourhood stands out, so error clusters return nothing.
    rng = np.random.default_rng(2)
    np.save(tmp_path / "emb.npy", rng.normal(size=(600, 8)))
    np.save(tmp_path / "loss.npy", rng.random(600))
    out = tmp_path / "none.csv"
    argv = ["slices", str(tmp_path / "emb.npy"), str(tmp_path / "loss.npy"), "--method", "error-clusters"]
    assert main([*argv, "--size", "30", "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame.empty and list(frame.columns) == ["slice", "index", "weight", "loss", "count", "in_top"]
    assert "error-clusters found no slice at this size: none stands out" in capsys.readouterr().err
