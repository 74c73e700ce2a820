import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from spotlight_widget import Collected, SpotlightExplorer, collect


def mlp() -> nn.Module:
    torch.manual_seed(0)
    # Dropout makes train and eval mode give different features, so eval mode is observable.
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(out)))


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.layer1 = nn.Sequential(Block(6), Block(6))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 4)

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.layer1(self.stem(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.penultimate(x))


class DictModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 5)
        self.head = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> dict:
        h = torch.tanh(self.body(x))
        return {"hidden": h, "logits": self.head(h)}


class TupleModel(DictModel):
    def forward(self, x: torch.Tensor) -> tuple:
        out = super().forward(x)
        return out["logits"], out["hidden"]


class DictDataset(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"image": i, "x": self.x[i], "label": self.y[i]}


class Stream(IterableDataset):
    """No len(): collect must grow its arrays."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __iter__(self):
        return iter(zip(self.x, self.y, strict=True))


@pytest.fixture
def tabular():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(70, 8, generator=g)
    y = torch.randint(0, 3, (70,), generator=g)
    return x, y


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(40, 1, 6, 6, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    return x, y


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_mlp_embeddings_losses_and_predictions_match_a_hand_forward(tabular):
    x, y = tabular
    model = mlp().train()
    c = collect(model, (x, y), batch_size=16, progress=False)

    assert isinstance(c, Collected) and len(c) == 70
    with torch.no_grad():
        model.eval()
        hidden = model[:3](x)
        logits = model(x)
    np.testing.assert_allclose(c.embeddings, hidden.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c.losses, F.cross_entropy(logits, y, reduction="none").numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(c.predictions, logits.argmax(1).numpy())
    np.testing.assert_array_equal(c.labels, y.numpy())
    np.testing.assert_allclose(c.probs, logits.softmax(1).numpy(), rtol=1e-6, atol=1e-7)
    assert (c.embeddings.dtype, c.losses.dtype, c.predictions.dtype) == (np.float32, np.float64, np.int64)


def test_mode_is_restored_and_hooks_removed_after_success(tabular):
    model = mlp().train()
    model[2].eval()  # a mixed mode: only the dropout is in eval
    collect(model, tabular, progress=False)
    assert model.training and model[0].training and not model[2].training
    assert no_hooks(model)


def test_mode_and_hooks_are_restored_when_the_pass_fails_midway(tabular):
    model = mlp().train()
    calls = []

    def failing(outputs, targets):
        calls.append(len(outputs))
        if len(calls) == 2:
            raise RuntimeError("boom")
        assert not model.training  # the pass runs in eval mode
        return F.cross_entropy(outputs, targets, reduction="none")

    with pytest.raises(RuntimeError, match="boom"):
        collect(model, tabular, loss=failing, batch_size=16, progress=False)
    assert len(calls) == 2
    assert all(m.training for m in model.modules())
    assert no_hooks(model)


def test_dataloader_dataset_pair_and_dict_batches_give_the_same_arrays(tabular):
    x, y = tabular
    model = mlp()
    runs = [
        collect(model, (x.numpy(), y.numpy()), batch_size=32, progress=False),
        collect(model, TensorDataset(x, y), batch_size=7, progress=False),
        collect(model, DataLoader(TensorDataset(x, y), batch_size=9), progress=False),
        collect(model, DictDataset(x, y), batch_size=20, progress=False),
        collect(model, DataLoader(Stream(x, y), batch_size=4), progress=False),
    ]
    first = runs[0].as_kwargs()
    for run in runs[1:]:
        for name, value in run.as_kwargs().items():
            np.testing.assert_allclose(value, first[name], rtol=1e-6, atol=1e-6, err_msg=name)


def test_resnet_style_model_gives_globally_pooled_penultimate_features(images):
    x, y = images
    model = TinyResNet().train()
    c = collect(model, (x, y), batch_size=16, progress=False)

    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        features = model.penultimate(x)
        logits = model(x)
    assert c.embeddings.shape == (40, 6)
    # BatchNorm with running statistics: batch-dependent features would not match this.
    np.testing.assert_allclose(c.embeddings, features.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.losses, F.cross_entropy(logits, y, reduction="none").numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.probs.sum(1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("pool", "reduce"),
    [("mean", lambda f: f.mean((2, 3))), ("max", lambda f: f.amax((2, 3))), (None, lambda f: f.flatten(1))],
)
def test_named_layer_feature_maps_are_pooled_or_flattened(images, pool, reduce):
    x, y = images
    model = SmallCNN()
    c = collect(model, (x, y), layer="features", pool=pool, progress=False)
    with torch.no_grad():
        expected = reduce(model.features(x))
    np.testing.assert_allclose(c.embeddings, expected.numpy(), rtol=1e-6, atol=1e-6)
    assert no_hooks(model)


@pytest.mark.parametrize("model_cls", [DictModel, TupleModel])
def test_dict_and_tuple_outputs_use_the_logits(tabular, model_cls):
    x, y = tabular
    torch.manual_seed(3)
    model = model_cls()
    c = collect(model, (x, y), progress=False)
    with torch.no_grad():
        hidden = torch.tanh(model.body(x))
        logits = model.head(hidden)
    np.testing.assert_allclose(c.embeddings, hidden.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c.losses, F.cross_entropy(logits, y, reduction="none").numpy(), rtol=1e-6, atol=1e-7)


def test_regression_and_binary_losses(tabular):
    x, _ = tabular
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 1))
    target = torch.randn(70)
    with torch.no_grad():
        out = model(x)[:, 0]

    mse = collect(model, (x, target), loss="mse", progress=False)
    np.testing.assert_allclose(mse.losses, ((out - target) ** 2).numpy(), rtol=1e-5)
    assert mse.predictions is None and mse.probs is None and mse.labels is None

    binary = (target > 0).long()
    bce = collect(model, (x, binary), loss="binary_cross_entropy", progress=False)
    expected = F.binary_cross_entropy_with_logits(out, binary.float(), reduction="none")
    np.testing.assert_allclose(bce.losses, expected.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(bce.predictions, (out > 0).long().numpy())
    np.testing.assert_allclose(bce.probs[:, 1], torch.sigmoid(out).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(bce.labels, binary.numpy())


def test_unknown_layer_lists_close_names(tabular):
    model = SmallCNN()
    with pytest.raises(ValueError, match=r"'featurs' is not a module.*'features'") as info:
        collect(model, (torch.randn(4, 1, 6, 6), torch.zeros(4, dtype=torch.long)), layer="featurs", progress=False)
    assert "'head'" not in str(info.value)
    assert no_hooks(model)


def test_model_without_linear_needs_a_layer():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ValueError, match="no nn.Linear.*layer="):
        collect(model, (torch.randn(4, 1, 5, 5), torch.zeros(4, dtype=torch.long)), progress=False)


@pytest.mark.parametrize(
    ("loss", "targets", "message"),
    [
        ("cross_entropy", torch.randn(70), r"loss='cross_entropy' expects .* got outputs of shape \(70, 3\)"),
        ("cross_entropy", torch.full((70,), 5), r"class indices in \[0, C\)"),
        ("mse", torch.randn(70), r"loss='mse' expects .* same number of values"),
        ("binary_cross_entropy", torch.randint(0, 2, (70,)), "loss='binary_cross_entropy'"),
    ],
)
def test_loss_that_does_not_fit_the_outputs_is_a_clear_error(tabular, loss, targets, message):
    x, _ = tabular
    model = mlp().train()
    with pytest.raises(ValueError, match=message):
        collect(model, (x, targets), loss=loss, progress=False)
    assert model.training and no_hooks(model)


def test_loss_callable_must_return_one_loss_per_example(tabular):
    with pytest.raises(ValueError, match=r"shape \(70,\).*reduction='none'"):
        collect(mlp(), tabular, loss=lambda o, t: F.cross_entropy(o, t), batch_size=100, progress=False)


def test_bad_data_and_parameters_are_refused(tabular):
    x, y = tabular
    with pytest.raises(ValueError, match="each batch must be"):
        collect(mlp(), DataLoader(x, batch_size=10), progress=False)
    with pytest.raises(ValueError, match="input key.*got keys \\['features', 'y'\\]"):
        collect(mlp(), DataLoader([{"features": x[0], "y": y[0]}]), progress=False)
    with pytest.raises(ValueError, match="70 rows but targets have 3"):
        collect(mlp(), (x, y[:3]), progress=False)
    with pytest.raises(ValueError, match=r"collect: loss must be one of .*; got 'hinge'"):
        collect(mlp(), (x, y), loss="hinge")
    with pytest.raises(ValueError, match=r"collect: batch_size must be an int in \[1, inf\); got 0"):
        collect(mlp(), (x, y), batch_size=0)
    with pytest.raises(TypeError, match="data must be a torch DataLoader"):
        collect(mlp(), 42, progress=False)


def test_from_model_opens_an_explorer_on_the_collected_rows():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(400, 8, generator=g)
    y = torch.randint(0, 3, (400,), generator=g)
    model = mlp()
    items = np.arange(400 * 16, dtype=np.uint8).reshape(400, 4, 4)
    ex = SpotlightExplorer.from_model(model, (x, y), items=items, progress=False, size=0.1, coords=None)
    assert ex.wait(60)
    assert ex.n == 400
    c = collect(model, (x, y), progress=False)
    assert ex.mean_loss == pytest.approx(c.losses.mean(), rel=1e-6)
    assert len(ex.spotlights) == 1
    assert ex.method == "pooled"
    top = ex.spotlight.top_indices
    assert len(top) >= 5
    # The first result is a high-loss region of the collected rows.
    assert c.losses[top].mean() > c.losses.mean()
    ex.close()
