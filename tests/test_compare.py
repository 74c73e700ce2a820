"""Comparing two models: spotlights on the per-example loss difference (SpotlightExplorer.compare)."""

import numpy as np
import pandas as pd
import pytest
import torch
import traitlets
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from spotlight_widget import SpotlightExplorer, collect
from spotlight_widget.explorer.methods import check_methods

N = 1500


@pytest.fixture
def two_models():
    """The new model is better everywhere (70% of the old loss) but worse in one region (60 examples)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 8)).astype(np.float32)
    old = rng.gamma(2.0, 0.5, size=N)
    new = 0.7 * old
    worse = np.argsort(np.linalg.norm(x - x[0], axis=1))[:60]
    new[worse] += 3.0
    labels = rng.integers(0, 3, size=N)
    region = np.where(np.isin(np.arange(N), worse), "A", "B")
    return x, old, new, worse, labels, pd.DataFrame({"region": region})


def open_comparison(two_models, **options):
    x, old, new, _, labels, meta = two_models
    # The planted region is a ball in structureless data: the Spotlight's own case.
    spotlight_first = list(check_methods(None, has_spotlights=True))
    options = {"labels": labels, "metadata": meta, "coords": None, "size": 60, "methods": spotlight_first} | options
    return SpotlightExplorer.compare(
        x, old, new, predictions_old=labels, predictions_new=(labels + 1) % 3, names=("v1", "v2"), **options
    )


def test_the_spotlight_finds_where_the_new_model_got_worse(two_models):
    _, old, new, worse, _, _ = two_models
    assert new.mean() < old.mean()  # better overall
    ex = open_comparison(two_models)
    try:
        assert ex.wait(60)
        sp = ex.spotlight
        assert len(set(sp.top_indices.tolist()) & set(worse.tolist())) >= 50
        # Reported losses are the searched difference; both models' own losses are shown beside them.
        np.testing.assert_allclose(sp.weighted_loss, np.average(new - old, weights=sp.weights))
        top = sp.top_indices
        caption = ex.history[0]["caption"]
        assert caption.startswith(f"v2's loss {new[top].mean():.3g} vs {old[top].mean():.3g} for the v1 here")
        np.testing.assert_allclose(ex.history[0]["model_losses"], [old[top].mean(), new[top].mean()])
        card = ex.page_items[0]
        i = card["index"]
        assert card["model_losses"] == [pytest.approx(old[i]), pytest.approx(new[i])]
        assert card["loss"] == pytest.approx(new[i] - old[i])
        assert len(card["model_predictions"]) == 2
        assert ex.comparison == {"names": ["v1", "v2"]}
    finally:
        ex.close()


def test_breakdown_and_export_show_both_models(two_models):
    _, old, new, _, _, meta = two_models
    ex = open_comparison(two_models)
    try:
        assert ex.wait(60)
        ex.breakdown_column = "region"
        rows = {row["group"]: row for row in ex.breakdown}
        in_a = meta["region"].to_numpy() == "A"
        assert rows["A"]["loss_old_all"] == pytest.approx(old[in_a].mean())
        assert rows["A"]["loss_new_all"] == pytest.approx(new[in_a].mean())
        assert rows["B"]["loss_new_all"] < rows["B"]["loss_old_all"]
        assert rows["A"]["loss_new_in"] > rows["A"]["loss_old_in"]
        frame = ex.to_dataframe(0)
        np.testing.assert_allclose(frame["loss_old"], old[frame["index"]])
        np.testing.assert_allclose(frame["loss_new"], new[frame["index"]])
        np.testing.assert_allclose(frame["loss"], (new - old)[frame["index"]])
        assert {"prediction", "prediction_old"} <= set(frame.columns)
    finally:
        ex.close()


def test_each_direction_keeps_its_own_results(two_models):
    _, old, new, worse, _, _ = two_models
    ex = open_comparison(two_models)
    try:
        assert ex.wait(60)
        first_worse = ex.spotlight
        ex.direction = "better"
        assert ex.wait(60)
        better = ex.spotlight
        # Where the new model is better: old - new is high, away from the worse region.
        assert better.weighted_loss == pytest.approx(np.average(old - new, weights=better.weights))
        assert better.weighted_loss > 0
        assert not set(better.top_indices.tolist()) & set(worse.tolist())
        ex.next()
        assert len(ex.history) == 2
        ex.direction = "worse"
        assert len(ex.history) == 1
        assert ex.spotlight is first_worse
        assert ex.history[0]["caption"].startswith("v2's loss")
    finally:
        ex.close()


def test_direction_needs_a_comparison(two_models):
    x, old, *_ = two_models
    ex = SpotlightExplorer(x, old, coords=None)
    try:
        with pytest.raises(traitlets.TraitError, match="compare"):
            ex.direction = "better"
        assert ex.direction == "worse"
        assert ex.comparison == {}
    finally:
        ex.close()


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"losses_old": np.ones(N - 1)}, ValueError, "losses_old has 1499 entries"),
        ({"losses_new": np.full(N, np.nan)}, ValueError, "losses_new"),
        ({"names": "v1"}, TypeError, "pair of str"),
        ({"names": ("v1", "")}, TypeError, "non-empty"),
        ({"direction": "sideways"}, ValueError, "direction must be one of worse, better"),
        ({"predictions_old": np.zeros(3)}, ValueError, "predictions_old has 3 entries"),
        ({"losses": np.ones(N)}, TypeError, "losses_old/losses_new"),
    ],
)
def test_bad_comparisons_are_refused(two_models, change, error, message):
    x, old, new, *_ = two_models
    arguments = {"losses_old": old, "losses_new": new, "coords": None} | change
    with pytest.raises(error, match=message):
        SpotlightExplorer.compare(x, **arguments)


def classifier(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_from_models_collects_both_models_on_the_same_rows():
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.normal(size=(300, 8)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, 3, size=300))
    old, new = classifier(0), classifier(1)
    ex = SpotlightExplorer.from_models(old, new, (x, y), names=("a", "b"), progress=False, coords=None, size=20)
    try:
        assert ex.wait(60)
        before, after = collect(old, (x, y), progress=False), collect(new, (x, y), progress=False)
        np.testing.assert_allclose(ex.to_dataframe(0)["loss_old"], before.losses[ex.to_dataframe(0)["index"]])
        np.testing.assert_allclose(ex._inputs.losses, after.losses - before.losses)
        np.testing.assert_allclose(ex._inputs.embeddings.numpy(), after.embeddings)
    finally:
        ex.close()
    with pytest.raises(ValueError, match="embeddings must be 'new' or 'old'"):
        SpotlightExplorer.from_models(old, new, (x, y), embeddings="both", progress=False)


def test_from_models_refuses_data_in_a_changing_order():
    rng = np.random.default_rng(2)
    x = torch.as_tensor(rng.normal(size=(200, 8)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, 3, size=200))
    shuffled = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    with pytest.raises(ValueError, match="fixed order"):
        SpotlightExplorer.from_models(classifier(0), classifier(1), shuffled, progress=False, coords=None)
