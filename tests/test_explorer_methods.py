"""The explorer offers PlaneSpot and the Domino-style mixture when it has the model's probabilities."""

import threading

import numpy as np
import pytest

from spotlight_widget import SpotlightExplorer
from spotlight_widget.engine import SearchCancelled
from spotlight_widget.explorer.inputs import ExplorerInputs
from spotlight_widget.explorer.store import ResultStore
from spotlight_widget.synthetic import planted_clusters

BASE = ["pooled", "spotlight", "error-clusters", "highest-loss", "kmeans", "gmm"]
# A few scvis steps and mixtures: enough to exercise PlaneSpot in the explorer in seconds.
QUICK = {"planespot": {"projection_options": {"iterations": 20}, "max_components": 8}}


@pytest.fixture(scope="module")
def data():
    d = planted_clusters(n_rows=300, dim=8, n_clusters=6, fractions=(0.08,), seed=5)
    labels = d.cluster % 3
    # Probabilities consistent with cross-entropy losses: the true label gets exp(-loss).
    true = np.exp(-d.losses)
    probs = np.tile(((1 - true) / 2)[:, None], (1, 3))
    probs[np.arange(len(labels)), labels] = true
    return d, labels, probs


def make(data, **kw):
    d, labels, probs = data
    ex = SpotlightExplorer(
        d.embeddings, d.losses, labels=labels, probs=probs, class_names=["zero", "one", "two"], size=0.08, **kw
    )
    assert ex.wait(60)
    return ex


def test_default_methods_follow_the_inputs(data):
    d, labels, probs = data
    with_probs = ExplorerInputs.build(d.embeddings, d.losses, labels=labels, probs=probs)
    assert list(with_probs.methods) == [*BASE, "planespot", "domino-style"]
    rows = {row["name"]: row for row in with_probs.method_rows()}
    assert rows["planespot"]["label"] == "PlaneSpot" and rows["planespot"]["noun"] == "cluster"
    assert "scvis" in rows["planespot"]["title"] and "Plumb" in rows["planespot"]["title"]
    assert rows["domino-style"]["label"] == "Domino-style mixture" and rows["domino-style"]["noun"] == "cluster"
    assert "reimplementation" in rows["domino-style"]["title"]
    # The front end receives exactly the properties js/types.js declares for MethodInfo.
    assert all(set(row) == {"name", "label", "noun", "title"} for row in rows.values())
    assert list(ExplorerInputs.build(d.embeddings, d.losses, labels=labels).methods) == BASE
    assert list(ExplorerInputs.build(d.embeddings, d.losses, probs=probs).methods) == BASE
    influence = np.ones((len(labels), 2))
    both = ExplorerInputs.build(d.embeddings, d.losses, labels=labels, probs=probs, influence=influence)
    assert list(both.methods) == [*BASE, "infembed", "planespot", "domino-style"]
    counted = ExplorerInputs.build(d.embeddings, d.losses, labels=labels, probs=probs, counts=np.ones(len(labels)))
    assert counted.methods == ("spotlight",)
    # Spotlights found earlier are what the explorer opens on.
    preloaded = ExplorerInputs.build(d.embeddings, d.losses, has_spotlights=True)
    assert list(preloaded.methods) == ["spotlight", "pooled", *BASE[2:]]
    asked = ExplorerInputs.build(d.embeddings, d.losses, methods=["kmeans", "spotlight"], has_spotlights=True)
    assert asked.methods == ("kmeans", "spotlight")


def test_planespot_in_the_explorer(data):
    ex = make(data, method_options=QUICK)
    messages = []
    ex.observe(lambda change: messages.append(change["new"]["message"]), names=["status"])
    ex.method = "planespot"
    assert ex.wait(60)
    assert ex.status["state"] == "idle", ex.status
    first = ex.spotlight
    assert first.method == "planespot" and first.rank == 0 and first.info["k"] <= 8
    assert len(ex.history) == 1 and ex.history[0]["label"] == "cluster"
    # The progress bar follows the fit through scvis's training.
    assert any("PlaneSpot" in m and "scvis" in m for m in messages), messages
    # The class ids are still shown by name.
    assert {item["label"] for item in ex.page_items} <= {"zero", "one", "two"}
    # PlaneSpot ignores S: another size shows the same clusters without training scvis again.
    messages.clear()
    ex.size = 0.05
    assert ex.wait(10)
    assert ex.spotlight is first and len(ex.history) == 2
    assert not any("scvis" in m for m in messages), messages
    second = ex.next()
    assert second.method == "planespot" and second.rank == 1
    assert second.score <= first.score


def test_domino_style_with_a_binary_model(data):
    d, _, _ = data
    labels = (d.cluster % 2).astype(np.int64)
    true = np.exp(-d.losses)
    p_one = np.where(labels == 1, true, 1 - true)
    ex = SpotlightExplorer(d.embeddings, d.losses, labels=labels, probs=p_one, size=0.08, methods=["domino-style"])
    assert ex.wait(60) and ex.status["state"] == "idle", ex.status
    top = ex.spotlight
    assert top.method == "domino-style" and ex.history[0]["label"] == "cluster"
    # The worst component's error rate is far above the data's: it holds the planted failure.
    assert top.info["error_rate"] > 2 * (1 - true).mean()
    assert np.isin(top.indices, d.planted[0]).mean() > 0.5


def test_other_methods_still_run_with_probs(data):
    ex = make(data)
    ex.method = "kmeans"
    assert ex.wait(60) and ex.status["state"] == "idle", ex.status
    assert ex.spotlight.method == "kmeans"


def test_cancel_stops_planespot_during_scvis(data):
    d, labels, probs = data
    options = {"planespot": {"projection_options": {"iterations": 3000}}}
    inputs = ExplorerInputs.build(d.embeddings, d.losses, labels=labels, probs=probs, method_options=options)
    store = ResultStore(inputs)
    cancel = threading.Event()
    steps = []

    def progress(update):
        if update.stage == "scvis":
            steps.append(update.step)
            cancel.set()

    with pytest.raises(SearchCancelled):
        store.find("planespot", 20, progress=progress, cancel=cancel)
    # Training stopped at the first check after the cancel, far from its 3,000 steps.
    assert steps and max(steps) < 300, steps
    view = store.view("planespot")
    assert view.entries == () and view.result is None


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"methods": ["planespot"]}, ValueError, r"planespot method needs labels=.* and probs="),
        ({"labels": "ids", "methods": ["planespot"]}, ValueError, r"planespot method needs probs="),
        ({"probs": "probs", "methods": ["domino-style"]}, ValueError, r"domino-style method needs labels="),
        ({"probs": "short"}, ValueError, "probs has 299 rows"),
        ({"probs": "too-high"}, ValueError, r"probabilities in \[0, 1\]"),
        ({"probs": "nan"}, ValueError, "NaN"),
        ({"labels": "names"}, ValueError, r"integer class ids in \[0, 2\].*class_names"),
        ({"labels": "too-many-classes"}, ValueError, r"integer class ids in \[0, 2\]"),
        ({"labels": "fractional"}, ValueError, "integer class ids"),
        ({"method_options": {"spotlight": {}}}, ValueError, "preset="),
        ({"method_options": {"planespot": {"n": 3}}}, ValueError, r"cannot set \['n'\]"),
        ({"method_options": {"infembed": {}}}, ValueError, "does not offer"),
        ({"method_options": {"planespot": 20}}, TypeError, "dict of keyword options"),
    ],
)
def test_bad_predictions_are_refused_at_construction(data, kw, error, match):
    d, labels, probs = data
    bad_probs = probs.copy()
    bad_probs[4, 1] = np.nan
    values = {
        "ids": labels,
        "probs": probs,
        "short": probs[:-1],
        "too-high": probs * 2,
        "nan": bad_probs,
        "names": np.array(["zero", "one", "two"])[labels],
        "too-many-classes": labels + 1,
        "fractional": labels + 0.5,
    }
    inputs = {"labels": labels, "probs": probs}
    for name in ("labels", "probs"):
        if name in kw:
            inputs[name] = values[kw.pop(name)]
        elif "methods" in kw:
            # The missing-input cases leave out whatever the case does not name.
            inputs[name] = None
    with pytest.raises(error, match=match):
        ExplorerInputs.build(d.embeddings, d.losses, **inputs, **kw)


def test_the_widget_checks_probs_too(data):
    d, labels, probs = data
    with pytest.raises(ValueError, match="labels must be integer class ids"):
        SpotlightExplorer(d.embeddings, d.losses, labels=np.array(["a", "b", "c"])[labels], probs=probs)
    with pytest.raises(ValueError, match="needs labels="):
        SpotlightExplorer(d.embeddings, d.losses, probs=probs, methods=["spotlight", "planespot"])
