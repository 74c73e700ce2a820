"""Saved sessions: ``SpotlightExplorer.save`` writes one open file that ``load`` reopens identically.

Every test reads a file written by a real explorer (spotlights at two sizes, K-means
clusters, a described selection, selections and notes); the damaged and foreign files are
made from it.
"""

import hashlib
import io
import json
import math
import os
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from spotlight_widget import Spotlight, SpotlightExplorer
from spotlight_widget.explorer import store as store_module
from spotlight_widget.explorer.session_file import FORMAT, VERSION
from spotlight_widget.synthetic import planted_clusters

N = 600
ROOT = pathlib.Path(__file__).resolve().parent.parent


def data_kwargs() -> dict:
    """The data every session here is saved on: the same in any process."""
    d = planted_clusters(n_rows=N, dim=8, n_clusters=8, fractions=(0.05,), seed=1)
    rng = np.random.default_rng(2)
    meta = pd.DataFrame(
        {
            "group": np.where(np.isin(np.arange(N), d.planted[0]), "planted", "other"),
            "age": rng.integers(18, 90, size=N),
        }
    )
    return {
        "embeddings": d.embeddings,
        "losses": d.losses,
        "metadata": meta,
        "labels": rng.integers(0, 3, size=N),
        "methods": ["spotlight", "kmeans"],
        "coords": None,
    }


def quiet(ex):
    """Keep the widget's messages to the front end (there is none in a test)."""
    ex.send = lambda content, buffers=None: None
    return ex


def load(path, **changes):
    kwargs = data_kwargs() | changes
    return quiet(SpotlightExplorer.load(path, kwargs.pop("embeddings"), kwargs.pop("losses"), **kwargs))


def summary(state: dict) -> dict:
    """A store's state (``export_state``) as plain JSON: digests of every array of every result."""

    def digest(values) -> str:
        return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()

    out = {}
    for method, saved in state.items():
        results = {}
        for size, found in saved["results"].items():
            results[str(size)] = [
                {
                    "weights": digest(r.weights),
                    "indices": digest(r.indices),
                    "rank": r.rank,
                    "size": r.size,
                    "center": digest(r.center) if isinstance(r, Spotlight) else None,
                    "precision": r.precision if isinstance(r, Spotlight) else None,
                }
                for r in found
            ]
        out[method] = {
            "results": results,
            "history": [list(entry) for entry in saved["history"]],
            "current": saved["current"],
            "selection": list(saved["selection"]),
            "notes": sorted([list(key), text] for key, text in saved["notes"].items()),
        }
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A saved session, with the state and view of the explorer that saved it."""
    kwargs = data_kwargs()
    ex = quiet(SpotlightExplorer(kwargs.pop("embeddings"), kwargs.pop("losses"), size=30, **kwargs))
    assert ex.wait(60)
    ex.next()
    ex.size = 50
    assert ex.wait(60)
    ex.note("a second size")
    ex.current = 1
    ex.selected = [3, 5, 8]
    ex.method = "kmeans"
    assert ex.wait(60)
    ex.next()
    ex.note("cluster with\nnewlines and <b>markup</b>")
    ex.selected = [int(i) for i in ex.spotlight.top_indices[:4]]
    ex.describe_selection()
    ex.tab = "highest"
    ex.breakdown_column = "group"
    ex.sort_by = "loss"
    ex.page_size = 24
    path = ex.save(tmp_path_factory.mktemp("session") / "audit.spotlight")
    saved = {"path": path, "state": ex._store.export_state(), "view": ex._view_state(), "notes": ex.notes}
    ex.close()
    return saved


def same_result(a, b) -> None:
    assert type(a) is type(b)
    for name in ("weights", "indices", "top_indices", "losses"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("method", "rank", "size", "weighted_loss", "top_loss", "mass"):
        assert getattr(a, name) == getattr(b, name), name
    if isinstance(a, Spotlight):
        np.testing.assert_array_equal(a.center, b.center)
        assert (a.precision, a.objective, a.preset, a.converged) == (b.precision, b.objective, b.preset, b.converged)
        for name in ("objective", "mass", "lr", "width", "stage"):
            np.testing.assert_array_equal(getattr(a.history, name), getattr(b.history, name), err_msg=name)
        assert a.counts is None and b.counts is None
    else:
        assert a.score == b.score or (math.isnan(a.score) and math.isnan(b.score))
        np.testing.assert_equal(dict(a.info), dict(b.info))


# -- reopening --------------------------------------------------------------------------


def test_load_restores_every_method_without_searching(session, monkeypatch):
    searches = []

    def no_search(*args, **kwargs):
        searches.append(kwargs.get("size"))
        raise AssertionError("a restored session must not search")

    monkeypatch.setattr(store_module, "find_spotlights", no_search)
    monkeypatch.setattr(store_module, "find_slices", no_search)
    ex = load(session["path"])
    assert ex.wait(30) and ex.status["state"] == "idle" and ex.error == ""
    assert searches == []
    state = ex._store.export_state()
    for method in ("spotlight", "kmeans", "selection"):
        saved, restored = session["state"][method], state[method]
        assert restored["history"] and restored["history"] == saved["history"], method
        assert restored["current"] == saved["current"]
        assert restored["selection"] == saved["selection"]
        assert restored["notes"] == saved["notes"]
        assert restored["results"].keys() == saved["results"].keys()
        for size, found in saved["results"].items():
            assert len(restored["results"][size]) == len(found)
            for a, b in zip(found, restored["results"][size], strict=True):
                same_result(a, b)
    # Two spotlight sizes, the K-means batch beyond what was seen, a selection of the K-means cluster.
    assert len(state["spotlight"]["results"]) == 2 and len(state["kmeans"]["results"][30]) == 5
    assert ex.notes == session["notes"] and len(ex.notes) == 2
    assert ex._view_state() == session["view"]
    assert (ex.method, ex.tab, ex.breakdown_column, ex.sort_by, ex.page_size) == (
        "selection",
        "highest",
        "group",
        "loss",
        24,
    )
    ex.close()


def test_next_after_load_continues_the_sequence(tmp_path):
    kwargs = data_kwargs() | {"methods": ["spotlight"], "seed": 7}
    ex = quiet(SpotlightExplorer(kwargs.pop("embeddings"), kwargs.pop("losses"), size=30, **kwargs))
    ex.next()
    path = ex.save(tmp_path / "s.spotlight")
    # The seed is the session's: not passed again.
    reopened = load(path, methods=["spotlight"])
    for a, b in ((ex.next(), reopened.next()), (ex.next(), reopened.next())):
        assert a.rank == b.rank
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.center, b.center)
        assert a.precision == b.precision
    # A new size warm-starts from the spotlight shown, in both.
    ex.size = reopened.size = 45
    assert ex.wait(60) and reopened.wait(60)
    np.testing.assert_array_equal(ex.spotlight.weights, reopened.spotlight.weights)
    assert [e.rank for e in reopened.spotlights] == [0, 1, 2, 3, 0]
    ex.close()
    reopened.close()


def test_slices_with_array_info_reopen_identical(tmp_path):
    # InfEmbed keeps an array in each slice's info; the explorer opens with a method other than the Spotlight.
    kwargs = data_kwargs() | {"methods": ["highest-loss", "infembed"]}
    kwargs["influence"] = np.random.default_rng(4).normal(size=(N, 6))
    ex = quiet(SpotlightExplorer(kwargs.pop("embeddings"), kwargs.pop("losses"), size=30, **kwargs))
    ex.next()
    ex.method = "infembed"
    assert ex.wait(60)
    ex.next()
    state = ex._store.export_state()
    path = ex.save(tmp_path / "infembed.spotlight")
    ex.close()
    reopened = load(path, methods=["highest-loss", "infembed"], influence=kwargs["influence"])
    assert reopened.wait(30) and reopened.method == "infembed"
    restored = reopened._store.export_state()
    assert any(isinstance(v, np.ndarray) for r in state["infembed"]["results"][30] for v in r.info.values())
    for method in ("highest-loss", "infembed"):
        assert restored[method]["history"] == state[method]["history"] and len(state[method]["history"]) == 2
        for size, found in state[method]["results"].items():
            for a, b in zip(found, restored[method]["results"][size], strict=True):
                same_result(a, b)
    reopened.close()


def test_a_session_reopens_identical_in_a_fresh_process(session):
    script = (
        "import json, sys\n"
        "from tests.test_session_file import load, summary\n"
        "ex = load(sys.argv[1])\n"
        "assert ex.wait(60)\n"
        "print(json.dumps({'state': summary(ex._store.export_state()), 'notes': {m: {str(k): v for k, v in n.items()}"
        " for m, n in ex.notes.items()}}))\n"
        "ex.close()\n"
    )
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(session["path"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reopened = json.loads(done.stdout.strip().splitlines()[-1])
    assert reopened["state"] == summary(session["state"])
    assert reopened["notes"] == {m: {str(k): v for k, v in n.items()} for m, n in session["notes"].items()}


def test_data_given_only_now_is_accepted(session):
    # Predictions were not part of the saved data: giving them adds a column, changes no result.
    ex = load(session["path"], predictions=np.zeros(N, dtype=int))
    assert ex._store.export_state()["spotlight"]["history"] == session["state"]["spotlight"]["history"]
    ex.close()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("one loss", "losses"),
        ("a row dropped", r"rows \(600 in the session, 599 now\)"),
        ("other embeddings", "embeddings"),
        ("a metadata value", "metadata column 'group'"),
        ("no metadata column", "metadata column 'age' \\(missing now\\)"),
        ("no labels", r"labels \(given when the session was saved, not now\)"),
    ],
)
def test_load_on_other_data_says_what_differs(session, change, named):
    kwargs = data_kwargs()
    if change == "one loss":
        losses = kwargs["losses"].copy()
        losses[17] += 1e-6
        changes = {"losses": losses}
    elif change == "a row dropped":
        changes = {
            "embeddings": kwargs["embeddings"][1:],
            "losses": kwargs["losses"][1:],
            "metadata": kwargs["metadata"].iloc[1:].reset_index(drop=True),
            "labels": kwargs["labels"][1:],
        }
    elif change == "other embeddings":
        changes = {"embeddings": kwargs["embeddings"] + 1e-3}
    elif change == "a metadata value":
        meta = kwargs["metadata"].copy()
        meta.loc[0, "group"] = "planted" if meta.loc[0, "group"] == "other" else "other"
        changes = {"metadata": meta}
    elif change == "no metadata column":
        changes = {"metadata": kwargs["metadata"][["group"]]}
    else:
        changes = {"labels": None}
    with pytest.raises(ValueError, match="not the data this session was saved on") as caught:
        load(session["path"], **changes)
    assert caught.match(named)


def test_load_refuses_a_method_with_results_the_explorer_does_not_offer(session):
    with pytest.raises(ValueError, match="results of 'kmeans', which this explorer does not offer"):
        load(session["path"], methods=["spotlight"])


# -- the file ---------------------------------------------------------------------------


def test_the_file_is_json_and_plain_arrays_only(session):
    with zipfile.ZipFile(session["path"]) as archive:
        names = archive.namelist()
        arrays = [name for name in names if name != "session.json"]
        assert "session.json" in names and arrays
        assert all(name.startswith("arrays/") and name.endswith(".npy") for name in arrays)

        def strict(token):
            raise AssertionError(f"session.json holds the non-JSON constant {token}")

        document = json.loads(archive.read("session.json"), parse_constant=strict)
        for name in arrays:
            raw = archive.read(name)
            assert raw.startswith(b"\x93NUMPY"), name
            values = np.load(io.BytesIO(raw), allow_pickle=False)
            assert values.dtype.kind in "biuf" and values.ndim == 1, name
            # The data is fingerprinted, not saved.
            assert values.size != N * 8
    assert (document["format"], document["version"]) == (FORMAT, VERSION)
    assert document["data"]["rows"] == N and len(document["data"]["embeddings"]) == 64
    assert set(document["data"]["metadata"]) == {"group", "age"}
    assert document["view"]["method"] == "selection"


def rewrite(source, target, *, document=None, members=None, drop=()) -> pathlib.Path:
    """A copy of a session with its JSON edited by ``document``, members replaced or dropped."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name in drop:
                continue
            data = old.read(name)
            if name == "session.json" and document is not None:
                parsed = json.loads(data)
                document(parsed)
                data = json.dumps(parsed)
            new.writestr(name, (members or {}).get(name, data))
    return target


def first_weights(path) -> str:
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("session.json"))
    return document["methods"]["spotlight"]["results"][0]["results"][0]["weights"]


class Payload:
    """Touches a file when unpickled: proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def pickled(marker: pathlib.Path) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def test_a_pickled_array_is_refused_without_running_it(session, tmp_path):
    # The payload is real: unpickling it does touch its marker.
    proof = tmp_path / "proof"
    np.load(io.BytesIO(pickled(proof)), allow_pickle=True)
    assert proof.exists()
    marker = tmp_path / "ran"
    name = first_weights(session["path"])
    bad = rewrite(session["path"], tmp_path / "bad.spotlight", members={name: pickled(marker)})
    with pytest.raises(ValueError, match=f"{name} holds pickled objects, which a session never does"):
        load(bad)
    assert not marker.exists()


def flipped(path, target) -> pathlib.Path:
    """A copy with one byte of an array member's compressed data changed."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(first_weights(path))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    return target


def out_of_range(path) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.full(N, 2.0))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("not a zip", "not a readable saved session"),
        ("truncated", "not a readable saved session"),
        ("flipped byte", "not a readable saved session"),
        ("another zip", "not a saved session: it has no session.json"),
        ("another format", "does not declare the format 'spotlight-widget-session'"),
        ("a future version", "format version 2, written by spotlight-widget 9.0; this version reads up to 1: upgrade"),
        ("not json", "session.json is not valid JSON"),
        ("a missing array", "the file has no member"),
        ("weights out of range", r"weights must lie in \[0, 1\]"),
        ("a history naming no result", "the history names result #7 of size 30, which is not there"),
        ("a shown position out of range", "shown position 9 is outside its history of 3"),
        ("a wrong type", r"methods.kmeans.current must be an integer; got 'one'"),
    ],
)
def test_damaged_or_foreign_files_are_refused(session, tmp_path, damage, message):
    path, bad = session["path"], tmp_path / "bad.spotlight"
    weights = first_weights(path)
    if damage == "not a zip":
        bad.write_text("spotlight session?")
    elif damage == "truncated":
        bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "flipped byte":
        flipped(path, bad)
    elif damage == "another zip":
        with zipfile.ZipFile(bad, "w") as archive:
            archive.writestr("readme.txt", "hello")
    elif damage == "another format":
        rewrite(path, bad, document=lambda d: d.update(format="other-tool"))
    elif damage == "a future version":
        rewrite(path, bad, document=lambda d: d.update(version=2, package="9.0"))
    elif damage == "not json":
        rewrite(path, bad, members={"session.json": b"{not json"})
    elif damage == "a missing array":
        rewrite(path, bad, drop=(weights,))
    elif damage == "weights out of range":
        rewrite(path, bad, members={weights: out_of_range(path)})
    elif damage == "a history naming no result":
        rewrite(path, bad, document=lambda d: d["methods"]["spotlight"]["history"].append([30, 7]))
    elif damage == "a shown position out of range":
        rewrite(path, bad, document=lambda d: d["methods"]["spotlight"].update(current=9))
    else:
        rewrite(path, bad, document=lambda d: d["methods"]["kmeans"].update(current="one"))
    with pytest.raises(ValueError, match=message):
        load(bad)


def test_a_view_value_the_explorer_refuses_is_skipped(session, tmp_path, caplog):
    bad = rewrite(
        session["path"], tmp_path / "view.spotlight", document=lambda d: d["view"].update(tab="nonsense", page_size=-3)
    )
    ex = load(bad)
    assert (ex.tab, ex.page_size) == ("spotlight", 48)
    # The rest of the view is restored.
    assert (ex.method, ex.breakdown_column, ex.sort_by) == ("selection", "group", "loss")
    assert ex.error == ""
    assert "tab" in caplog.text and "page_size" in caplog.text
    ex.close()


def test_save_refuses_a_path_that_is_not_one(session):
    ex = load(session["path"])
    with pytest.raises(TypeError, match="path must be a str or path"):
        ex.save(42)
    ex.close()


def test_a_comparison_reopens_in_its_direction_with_its_results(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    old = rng.gamma(2.0, 0.5, size=400)
    new = 0.8 * old
    new[:30] += 2.0
    ex = SpotlightExplorer.compare(x, old, new, names=("a", "b"), coords=None, size=20)
    try:
        ex.direction = "better"
        ex.next()
        saved = [r.weights.copy() for r in ex.spotlights]
        path = ex.save(tmp_path / "compare.spotlight")
    finally:
        ex.close()
    with pytest.raises(ValueError, match=r"losses=\(losses_old, losses_new\)"):
        SpotlightExplorer.load(path, x, new - old, coords=None)
    with pytest.raises(ValueError, match="differ"):
        SpotlightExplorer.load(path, x, (old, old), coords=None)
    back = SpotlightExplorer.load(path, x, (old, new), coords=None)
    try:
        assert back.direction == "better"
        assert back.comparison == {"names": ["a", "b"]}
        assert len(back.spotlights) == len(saved) == 2
        for before, after in zip(saved, back.spotlights, strict=True):
            np.testing.assert_array_equal(before, after.weights)
        assert back.history[0]["caption"].startswith("b's loss")
    finally:
        back.close()
