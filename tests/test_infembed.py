"""InfEmbed: influence embeddings against exact influence functions, slice discovery, opponents."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, hessian, vmap
from torch.utils.data import DataLoader, TensorDataset

from spotlight_widget.engine import SearchProgress
from spotlight_widget.infembed import (
    factor_hessian,
    head_influence_embeddings,
    infembed,
    infembed_rule,
    infembed_slices,
    influence_embeddings,
    normalized_kmeans,
    slice_opponents,
)
from spotlight_widget.infembed.arnoldi import arnoldi
from spotlight_widget.slices import Slice, available_methods, find_slices

WD = 1e-2
LOSS = nn.CrossEntropyLoss()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # These models are tiny: a second thread only adds contention on a shared CPU.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, wd: float = WD, max_iter: int = 1000) -> nn.Module:
    """Minimise mean cross-entropy + wd/2 |theta|^2 to high precision (float64, L-BFGS)."""
    opt = torch.optim.LBFGS(
        model.parameters(),
        max_iter=max_iter,
        tolerance_grad=1e-11,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = LOSS(model(x), y) + wd / 2 * sum((p**2).sum() for p in model.parameters())
        loss.backward()
        return loss

    opt.step(closure)
    return model


def blobs(n: int, d: int, c: int, seed: int, spread: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian classes around centres that depend only on (d, c, spread): draws of one task."""
    centres = spread * torch.randn(c, d, generator=torch.Generator().manual_seed(d * 100 + c), dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    return centres[y] + torch.randn(n, d, generator=g, dtype=torch.float64), y


def exact(model: nn.Module, names: list[str], x_hess, y_hess, damping: float):
    """Exact Hessian (+ damping) of the mean loss and a per-example gradient function, on ``names``."""
    params = dict(model.named_parameters())
    shapes = [params[n].shape for n in names]
    theta0 = torch.cat([params[n].detach().reshape(-1) for n in names])
    fixed = {n: p.detach() for n, p in params.items() if n not in names}

    def unflat(v):
        parts = torch.split(v, [s.numel() for s in shapes])
        return {n: p.reshape(s) for n, p, s in zip(names, parts, shapes)}

    def mean_loss(v, x, y):
        return LOSS(functional_call(model, (unflat(v), fixed), (x,)), y)

    h = hessian(mean_loss)(theta0, x_hess, y_hess) + damping * torch.eye(theta0.numel(), dtype=theta0.dtype)

    def gradients(x, y):
        return vmap(grad(lambda v, a, b: mean_loss(v, a[None], b[None])), in_dims=(None, 0, 0))(theta0, x, y)

    return h, gradients


@pytest.fixture(scope="module")
def logreg():
    """Multinomial logistic regression (39 parameters) trained with weight decay, and exact quantities."""
    torch.manual_seed(0)
    x, y = blobs(240, 12, 3, seed=0)
    flip = torch.arange(240) % 10 == 0  # some label noise, so that gradients are not tiny
    y = torch.where(flip, (y + 1) % 3, y)
    xt, yt = blobs(60, 12, 3, seed=1)
    model = fit(nn.Linear(12, 3).double(), x, y)
    h, gradients = exact(model, ["weight", "bias"], x, y, WD)
    g_train, g_test = gradients(x, y), gradients(xt, yt)
    influence = g_test @ torch.linalg.solve(h, g_train.T)
    return {
        "model": model,
        "train": (x, y),
        "test": (xt, yt),
        "H": h,
        "g_train": g_train,
        "g_test": g_test,
        "influence": influence.numpy(),
    }


def corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def embed(data, **kw):
    opts = {
        "arnoldi_dim": 39,
        "rank": 39,
        "damping": WD,
        "hessian_samples": 10_000,
        "embed_train": True,
        "device": "cpu",
        "batch_size": 128,
    }
    opts.update(kw)
    return influence_embeddings(data["model"], LOSS, data["train"], data["test"], **opts)


# --- influence embeddings against the exact influence function ---------------------------------


def test_full_rank_dot_products_equal_exact_influence(logreg):
    res = embed(logreg)
    approx = res.test @ res.train.T
    assert res.dim == 39 and res.train.shape == (240, 39) and res.test.shape == (60, 39)
    assert corr(approx, logreg["influence"]) > 0.9999
    np.testing.assert_allclose(approx, logreg["influence"], atol=1e-6 * np.abs(logreg["influence"]).max())
    # Per-example losses come along, matching the model's own.
    xt, yt = logreg["test"]
    own = nn.functional.cross_entropy(logreg["model"](xt), yt, reduction="none").detach().numpy()
    np.testing.assert_allclose(res.test_losses, own, rtol=1e-10)


def test_low_rank_is_the_truncated_inverse_and_degrades_gracefully(logreg):
    values, vectors = torch.linalg.eigh(logreg["H"])
    scores = []
    for rank in (3, 10, 25, 39):
        res = embed(logreg, rank=rank)
        approx = res.test @ res.train.T
        top_v, top_l = vectors[:, -rank:], values[-rank:]
        truncated = (logreg["g_test"] @ top_v) / top_l @ (logreg["g_train"] @ top_v).T
        np.testing.assert_allclose(approx, truncated.numpy(), atol=1e-6 * np.abs(truncated.numpy()).max())
        scores.append(corr(approx, logreg["influence"]))
    assert scores == sorted(scores)
    assert scores[0] < 0.9 and scores[-1] > 0.9999


def test_sign_matches_leave_one_out_retraining(logreg):
    """mu(z') . mu(z) / N' predicts the change in test loss when z' is removed and the model retrained."""
    res = embed(logreg)
    x, y = logreg["train"]
    xt, yt = logreg["test"]
    base = nn.functional.cross_entropy(logreg["model"](xt), yt, reduction="sum").item()
    v = res.test.sum(0)
    predicted = res.train @ v / x.shape[0]
    rows = np.r_[np.argsort(predicted)[:4], np.argsort(predicted)[-4:]]  # strongest opponents and proponents
    actual = []
    for i in rows:
        keep = torch.ones(x.shape[0], dtype=torch.bool)
        keep[int(i)] = False
        model = nn.Linear(12, 3).double()
        model.load_state_dict(logreg["model"].state_dict())
        fit(model, x[keep], y[keep])
        actual.append(nn.functional.cross_entropy(model(xt), yt, reduction="sum").item() - base)
    assert corr(predicted[rows], actual) > 0.95
    assert np.all(np.sign(predicted[rows]) == np.sign(actual))


@pytest.fixture(scope="module")
def mlp():
    """A tanh MLP with 123 parameters, roughly trained; its exact Hessian on the training data."""
    torch.manual_seed(1)
    x, y = blobs(200, 6, 3, seed=2)
    model = fit(nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3)).double(), x, y, wd=1e-3, max_iter=100)
    names = [n for n, _ in model.named_parameters()]
    h, _ = exact(model, names, x, y, 0.0)
    return {"model": model, "train": (x, y), "test": blobs(50, 6, 3, seed=3), "H": h}


def test_arnoldi_top_eigenpairs_match_eigh(mlp):
    factors = factor_hessian(mlp["model"], LOSS, mlp["train"], arnoldi_dim=60, rank=5, hessian_samples=10_000)
    values, vectors = torch.linalg.eigh(mlp["H"])
    np.testing.assert_allclose(factors.eigenvalues, values.flip(0)[:5].numpy(), rtol=1e-6)
    cosines = (factors.vectors.T @ vectors.flip(1)[:, :5]).diagonal().abs()
    assert torch.all(cosines > 0.999)
    assert factors.n_samples == 200 and factors.parameters == ("0.weight", "0.bias", "2.weight", "2.bias")


@pytest.mark.parametrize("spectrum", [[3.0, 3, 3, 2, 2, 1], [0.0] * 6])
def test_arnoldi_restarts_when_the_krylov_subspace_is_invariant(spectrum):
    # Few distinct eigenvalues: the Krylov subspace of any start vector stops growing early
    # (at once for the zero operator); the iteration must restart to span all 6 dimensions.
    rng = np.random.default_rng(0)
    q = torch.as_tensor(np.linalg.qr(rng.normal(size=(6, 6)))[0])
    a = q @ torch.diag(torch.tensor(spectrum, dtype=torch.float64)) @ q.T
    basis, projected = arnoldi(
        lambda v: a @ v,
        6,
        10,
        dtype=torch.float64,
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert basis.shape == (6, 6)
    np.testing.assert_allclose((basis @ basis.T).numpy(), np.eye(6), atol=1e-12)
    np.testing.assert_allclose(torch.linalg.eigvalsh(projected).numpy(), sorted(spectrum), atol=1e-12)


def test_hessian_sample_is_a_subset_of_the_training_data(mlp):
    factors = factor_hessian(mlp["model"], LOSS, mlp["train"], arnoldi_dim=20, rank=5, hessian_samples=50)
    assert factors.n_samples == 50
    full = factor_hessian(mlp["model"], LOSS, mlp["train"], arnoldi_dim=20, rank=5, hessian_samples=500)
    assert not np.allclose(factors.eigenvalues, full.eigenvalues)


def test_layer_restriction_uses_only_those_parameters(mlp):
    model = mlp["model"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    res = influence_embeddings(
        model,
        LOSS,
        mlp["train"],
        mlp["test"],
        layers="2",
        arnoldi_dim=39,
        rank=39,
        hessian_samples=10_000,
        damping=1e-3,
        embed_train=True,
    )
    assert res.factors.parameters == ("2.weight", "2.bias") and res.dim == 39
    h, gradients = exact(model, ["2.weight", "2.bias"], *mlp["train"], 1e-3)
    influence = gradients(*mlp["test"]) @ torch.linalg.solve(h, gradients(*mlp["train"]).T)
    assert corr(res.test @ res.train.T, influence) > 0.9999
    # The user's model is left as it was: same weights, back in train mode.
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()


def test_negative_curvature_is_dropped_with_a_warning():
    torch.manual_seed(3)
    x, y = blobs(100, 4, 3, seed=4)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()  # untrained: indefinite Hessian
    n_params = sum(p.numel() for p in model.parameters())
    with pytest.warns(RuntimeWarning, match="negative or below"):
        res = influence_embeddings(model, LOSS, (x, y), (x[:10], y[:10]), arnoldi_dim=n_params, rank=n_params)
    assert 0 < res.dim < n_params
    assert np.all(res.factors.eigenvalues > 0) and np.isfinite(res.test).all()
    assert res.factors.ritz_values.min() < 0


def test_datasets_and_loaders_give_the_same_embeddings(logreg):
    x, y = logreg["train"]
    xt, yt = logreg["test"]
    ref = embed(logreg)
    for train, test in [
        ((x.numpy(), y.numpy()), (xt.numpy(), yt.numpy())),
        (TensorDataset(x, y), TensorDataset(xt, yt)),
        (DataLoader(TensorDataset(x, y), batch_size=50), DataLoader(TensorDataset(xt, yt), batch_size=7)),
    ]:
        data = {**logreg, "train": train, "test": test}
        res = embed(data)
        # Eigenvectors are defined up to sign: compare the dot products.
        np.testing.assert_allclose(res.test @ res.train.T, ref.test @ ref.train.T, atol=1e-6)


def test_uncached_hessian_products_give_the_same_embeddings(logreg):
    ref = embed(logreg, rank=10)
    res = embed(logreg, rank=10, cache_hessian=False)
    np.testing.assert_allclose(res.test @ res.train.T, ref.test @ ref.train.T, atol=1e-8)


def test_progress_reports_every_stage(logreg):
    seen = []
    embed(logreg, progress=seen.append)
    last = {p.stage: p for p in seen}
    assert list(last) == ["hessian", "test", "train"]
    assert all(isinstance(p, SearchProgress) for p in seen)
    assert [(p.step, p.total) for p in last.values()] == [(39, 39), (60, 60), (240, 240)]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"train": (torch.zeros(5, 12), torch.zeros(4, dtype=torch.long))}, ValueError, "5 inputs but 4 targets"),
        ({"train": (torch.full((5, 12), float("nan")), torch.zeros(5, dtype=torch.long))}, ValueError, "NaN"),
        ({"train": (torch.zeros(0, 12), torch.zeros(0, dtype=torch.long))}, ValueError, "empty"),
        ({"train": [1, 2, 3]}, TypeError, "pair, a torch Dataset or a DataLoader"),
        ({"test": (np.array([["a"] * 12]), np.array([0]))}, TypeError, "numeric"),
        ({"rank": 40, "arnoldi_dim": 30}, ValueError, "cannot exceed arnoldi_dim"),
        ({"rank": 0}, ValueError, r"influence_embeddings: rank must be an int in \[1, inf\); got 0"),
        ({"damping": -1.0}, ValueError, "damping"),
        ({"layers": "fc"}, ValueError, "match no parameter"),
        ({"loss_fn": nn.CrossEntropyLoss(reduction="none"), "test": "oops"}, TypeError, "test must be"),
        ({"loss_fn": lambda out, y: out}, ValueError, "one loss for a batch of one"),
        ({"model": "model"}, TypeError, "torch.nn.Module"),
        ({"progress": 3}, TypeError, "progress"),
    ],
)
def test_bad_inputs_are_named(logreg, change, error, match):
    args = {"model": logreg["model"], "loss_fn": LOSS, "train": logreg["train"], "test": logreg["test"]}
    opts = {"arnoldi_dim": 5, "rank": 3}
    for key, value in change.items():
        (args if key in args else opts)[key] = value
    with pytest.raises(error, match=match):
        influence_embeddings(args["model"], args["loss_fn"], args["train"], args["test"], **opts)


def test_bad_test_data_fails_before_the_factorisation(logreg):
    seen = []
    with pytest.raises(ValueError, match="test has 3 inputs but 2 targets"):
        embed({**logreg, "test": (np.zeros((3, 12)), np.zeros(2, dtype=int))}, progress=seen.append)
    assert seen == []


def test_any_loss_reduction_gives_the_same_embeddings(logreg):
    ref = embed(logreg, rank=5)
    res = influence_embeddings(
        logreg["model"],
        nn.CrossEntropyLoss(reduction="none"),
        logreg["train"],
        logreg["test"],
        arnoldi_dim=39,
        rank=5,
        damping=WD,
        hessian_samples=10_000,
    )
    np.testing.assert_allclose(np.abs(res.test), np.abs(ref.test), rtol=1e-8, atol=1e-10)


# --- K-means with normalised centroids, InfEmbed, InfEmbed-Rule ------------------------------------


def directions(n_per: int = 150, d: int = 8, k: int = 4, seed: int = 0):
    """Examples along k directions with random norms (influence embeddings look like this)."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.normal(size=(d, k)))[0].T
    labels = np.repeat(np.arange(k), n_per)
    norms = rng.lognormal(0, 1, size=labels.size)[:, None]
    x = norms * (axes[labels] + 0.15 * rng.normal(size=(labels.size, d)))
    return x, labels


def test_normalized_kmeans_recovers_directions_and_resists_outliers():
    from sklearn.metrics import adjusted_rand_score

    x, labels = directions()
    x[0] *= 1e4  # one enormous outlier
    fit = normalized_kmeans(x, 4, seed=0)
    np.testing.assert_allclose(np.linalg.norm(fit.centroids, axis=1), 1.0)
    assert np.array_equal(fit.labels, (x @ fit.centroids.T).argmax(1))
    assert adjusted_rand_score(labels, fit.labels) > 0.95
    # Plain K-means spends a cluster on the outlier.
    plain = normalized_kmeans(x, 4, seed=0, normalize=False)
    assert adjusted_rand_score(labels, plain.labels) < adjusted_rand_score(labels, fit.labels)


@pytest.fixture(scope="module")
def planted():
    x, labels = directions(n_per=200, k=5, seed=1)
    rng = np.random.default_rng(1)
    # Group 3 is mostly wrong (accuracy ~0.2); the others mostly right (~0.9).
    correct = np.where(labels == 3, rng.random(labels.size) < 0.2, rng.random(labels.size) < 0.9)
    losses = np.where(correct, rng.exponential(0.1, labels.size), 1 + rng.exponential(1.0, labels.size))
    return x, labels, correct, losses


def test_infembed_partitions_and_ranks_by_accuracy_or_loss(planted):
    x, labels, correct, losses = planted
    by_acc = infembed(x, correct, k=5)
    assert all(isinstance(s, Slice) and s.method == "infembed" for s in by_acc)
    member = np.stack([s.weights for s in by_acc])
    assert np.array_equal(member.sum(0), np.ones(x.shape[0]))  # a partition
    accuracy = [s.info["accuracy"] for s in by_acc]
    assert accuracy == sorted(accuracy) and [s.rank for s in by_acc] == list(range(5))
    assert np.isclose(accuracy[0], correct[by_acc[0].indices].mean())
    assert np.mean(labels[by_acc[0].indices] == 3) > 0.9
    by_loss = infembed(x, losses, k=5, n=2)
    assert len(by_loss) == 2 and by_loss[0].score >= by_loss[1].score
    assert np.isclose(by_loss[0].score, losses[by_loss[0].indices].mean())
    np.testing.assert_allclose(by_loss[0].info["influence_sum"], x[by_loss[0].indices].sum(0))


@pytest.mark.parametrize(("max_accuracy", "min_size"), [(0.4, 25), (0.3, 100), (0.5, 10)])
def test_infembed_rule_returns_only_slices_meeting_the_rule(planted, max_accuracy, min_size):
    x, labels, correct, _ = planted
    found = infembed_rule(x, correct, max_accuracy=max_accuracy, min_size=min_size, branching=2)
    assert found, "the planted low-accuracy group meets every rule here"
    for s in found:
        assert s.method == "infembed-rule" and s.size >= min_size
        assert correct[s.indices].mean() <= max_accuracy
    assert np.stack([s.weights for s in found]).sum(0).max() == 1  # disjoint
    covered = np.flatnonzero(np.stack([s.weights for s in found]).sum(0))
    assert np.mean(labels[covered] == 3) > 0.8


def test_infembed_rule_with_losses_and_when_impossible(planted):
    x, _, correct, losses = planted
    for s in infembed_rule(x, losses, min_loss=1.0, min_size=20):
        assert s.size >= 20 and losses[s.indices].mean() >= 1.0
    assert infembed_rule(x, correct, max_accuracy=0.0, min_size=25) == []
    assert infembed_rule(x, correct, max_accuracy=0.4, min_size=x.shape[0] + 1) == []
    assert infembed_rule(x, losses, min_loss=losses.max() + 1, min_size=1) == []


def test_infembed_is_registered_with_find_slices(planted):
    x, labels, _, losses = planted
    assert "infembed" in available_methods()
    found = find_slices("infembed", x, losses, n=2, size=0.1, seed=0)
    assert len(found) == 2 and all(s.method == "infembed" for s in found)
    assert found[0].weighted_loss >= found[1].weighted_loss
    assert np.mean(labels[found[0].indices] == 3) > 0.9


def three_clusters():
    """Three separated clusters: 5 examples of very high loss, 100 of moderate loss, 200 of low."""
    x, labels = directions(n_per=100, k=3, seed=2)
    keep = np.flatnonzero(labels != 0)
    x, labels = np.vstack([x[labels == 0][:5], x[keep]]), np.concatenate([np.zeros(5, int), labels[keep]])
    losses = np.select([labels == 0, labels == 1], [10.0, 1.0], 0.01)
    return x, labels, losses


def test_planespot_ranking_prefers_many_errors_to_a_few_extreme_losses():
    x, labels, losses = three_clusters()
    by_loss = infembed(x, losses, k=3)
    assert [int(labels[s.indices[0]]) for s in by_loss] == [0, 1, 2]
    by_score = infembed(x, losses, k=3, rank="planespot")
    assert [int(labels[s.indices[0]]) for s in by_score] == [1, 0, 2]
    # |C| * mean(1 - exp(-loss))^2: 100 * 0.632^2 = 40 against 5 * 1.0^2 = 5.
    for s in by_score:
        err = 1 - np.exp(-losses[s.indices])
        assert np.isclose(s.score, s.size * err.mean() ** 2) and s.info["planespot"] == s.score
        assert np.isclose(s.info["mean_loss"], losses[s.indices].mean())
    # With correctness the error is the 0/1 error: 5 * 1^2 = 5 against 100 * 1^2 = 100.
    correct = labels == 2
    assert [int(labels[s.indices[0]]) for s in infembed(x, correct, k=3, rank="planespot")] == [1, 0, 2]


def test_infembed_slices_options_k_rank_and_min_size():
    x, labels, losses = three_clusters()
    # size alone asks for about N / (2 S) = 205 / 70 -> 3 clusters.
    assert [s.info["k"] for s in infembed_slices(x, losses, n=3, size=35)] == [3, 3, 3]
    assert infembed_slices(x, losses, n=5, size=35, k=5)[0].info["k"] == 5
    found = infembed_slices(x, losses, n=3, size=35, min_size=6)
    assert len(found) == 2 and min(s.size for s in found) >= 100  # the 5-example cluster is left out
    via_registry = find_slices("infembed", x, losses, n=1, size=35, k=3, rank="planespot")
    assert int(labels[via_registry[0].indices[0]]) == 1
    with pytest.raises(ValueError, match="negative losses"):
        infembed_slices(x, losses - 1, rank="planespot", k=3)
    with pytest.raises(ValueError, match="rank must be"):
        infembed_slices(x, losses, rank="accuracy", k=3)
    with pytest.raises(TypeError, match="min_size"):
        infembed_slices(x, losses, k=3, min_size=0.5)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x, c: infembed(x[:, :0], c), ValueError, "empty"),
        (lambda x, c: infembed(np.where(np.eye(*x.shape) > 0, np.nan, x), c), ValueError, "NaN"),
        (lambda x, c: infembed(x, c[:-1]), ValueError, "entries but"),
        (lambda x, c: infembed(x, c, k=x.shape[0] + 1), ValueError, "cannot exceed"),
        (lambda x, c: infembed(x, c.astype(int)), ValueError, "kind='correct'"),
        (lambda x, c: infembed(x, c * 0.5 + 0.2, kind="correct"), ValueError, "0/1"),
        (lambda x, c: infembed(x, c, kind="accuracy"), ValueError, "kind must be"),
        (lambda x, c: infembed_rule(x, c.astype(float) + 0.5), ValueError, "min_loss"),
        (lambda x, c: infembed_rule(x, c.astype(float) + 0.5, max_accuracy=0.3), ValueError, "needs correctness"),
        (lambda x, c: infembed_rule(x, c, max_accuracy=1.5), ValueError, r"\[0, 1\]"),
        (lambda x, c: infembed_rule(x, c, branching=1), ValueError, "branching"),
        (lambda x, c: infembed_rule(x, c, min_size=2.5), TypeError, "min_size"),
    ],
)
def test_discovery_bad_inputs(planted, call, error, match):
    x, _, correct, _ = planted
    with pytest.raises(error, match=match):
        call(x, correct)


# --- slice opponents -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mislabelled():
    """Logistic regression whose training data has 36 class-0 examples relabelled as class 1."""
    x, y = blobs(360, 5, 3, seed=5, spread=2.5)
    g = torch.Generator().manual_seed(6)
    class0 = torch.nonzero(y == 0).flatten()
    bad = class0[torch.randperm(class0.numel(), generator=g)[:36]]
    y_noisy = y.clone()
    y_noisy[bad] = 1
    model = fit(nn.Linear(5, 3).double(), x, y_noisy)
    xt, yt = blobs(300, 5, 3, seed=7, spread=2.5)
    res = influence_embeddings(
        model,
        LOSS,
        (x, y_noisy),
        (xt, yt),
        arnoldi_dim=18,
        rank=18,
        damping=WD,
        hessian_samples=10_000,
        embed_train=True,
    )
    correct = (model(xt).argmax(1) == yt).numpy()
    return res, bad.numpy(), correct


def test_opponents_of_the_worst_slice_are_the_mislabelled_examples(mislabelled):
    res, bad, correct = mislabelled
    worst = infembed(res.test, correct, k=4)[0]
    assert worst.info["accuracy"] < correct.mean()
    opponents = slice_opponents(worst, res.train, res.test, k=len(bad))
    assert list(opponents.columns) == ["index", "influence", "rank"]
    assert np.all(np.diff(opponents["influence"]) >= 0) and (opponents["influence"] < 0).all()
    assert np.isin(opponents["index"], bad).mean() >= 0.6  # 10% of the training examples are mislabelled
    # The slice's stored embedding sum and its indices give the same answer.
    pd.testing.assert_frame_equal(slice_opponents(worst, res.train, k=len(bad)), opponents)
    pd.testing.assert_frame_equal(slice_opponents(worst.indices, res.train, res.test, k=len(bad)), opponents)


def test_opponents_bad_inputs(mislabelled):
    res, _, correct = mislabelled
    worst = infembed(res.test, correct, k=6)[0]
    other = Slice("kmeans", worst.weights)
    with pytest.raises(ValueError, match="pass test_influence_embeddings"):
        slice_opponents(other, res.train)
    with pytest.raises(ValueError, match="rows"):
        slice_opponents(other, res.train, res.test[:-1])
    with pytest.raises(ValueError, match="dimensions"):
        slice_opponents(worst, res.train, res.test[:, :3])
    with pytest.raises(ValueError, match="lie in"):
        slice_opponents(np.array([0, 10_000]), res.train, res.test)
    with pytest.raises(TypeError, match="Slice"):
        slice_opponents(np.array([0.5]), res.train, res.test)
    with pytest.raises(ValueError, match="k must be"):
        slice_opponents(worst, res.train, k=0)
    assert len(slice_opponents(worst, res.train, k=5)) == 5


def test_influence_embeddings_emit_no_warnings_on_a_convex_model(logreg):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embed(logreg, rank=10)


# --- influence embeddings of a final Linear layer from its features ------------------------------


def head_problem(n: int = 300, d: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(n, d))
    w, b = rng.normal(size=d), 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-(h @ w + b + rng.normal(size=n))))).astype(float)
    return h, y, w, b


def bce_gradients_and_hessian(h, y, w, b, h_test, y_test):
    """Direct formulas: grad = (p - y) [h, 1] with p = sigmoid; H = mean p (1 - p) [h, 1][h, 1]^T."""

    def aug(a):
        return np.hstack([a, np.ones((len(a), 1))])

    def p_of(a):
        return 1 / (1 + np.exp(-(a @ w + b)))

    p = p_of(h)
    hess = (aug(h) * (p * (1 - p))[:, None]).T @ aug(h) / len(h)
    return (p_of(h_test) - y_test)[:, None] * aug(h_test), hess


def test_head_embeddings_of_bce_match_the_direct_inverse_hessian():
    h, y, w, b = head_problem()
    g, hess = bce_gradients_and_hessian(h, y, w, b, h[:40], y[:40])
    emb = head_influence_embeddings(h, y, h[:40], y[:40], weight=w, bias=b)
    assert emb.shape == (40, 5)  # D = min(100, d + 1)
    exact = g @ np.linalg.solve(hess, g.T)
    np.testing.assert_allclose(emb @ emb.T, exact, atol=1e-9 * np.abs(exact).max())
    # Rank 2: the inverse restricted to the two largest-curvature directions.
    values, vectors = np.linalg.eigh(hess)
    top = g @ vectors[:, -2:]
    low = head_influence_embeddings(h, y, h[:40], y[:40], weight=w[None], bias=[b], rank=2)
    np.testing.assert_allclose(low @ low.T, (top / values[-2:]) @ top.T, atol=1e-9 * np.abs(exact).max())


def test_head_embeddings_use_a_sigmoid_on_the_one_logit():
    h, y, w, b = head_problem(n=100)
    emb = head_influence_embeddings(h, y, h, y, weight=torch.tensor(w)[None], bias=torch.tensor([b]), rank=5)
    g, _ = bce_gradients_and_hessian(h, y, w, b, h, y)
    # A softmax over one logit would make every gradient zero.
    assert np.linalg.norm(emb, axis=1).min() > 0
    # An example the head gets badly wrong has a longer embedding than one it gets right.
    norm = np.linalg.norm(g, axis=1)
    big, small = norm.argmax(), norm.argmin()
    assert np.linalg.norm(emb[big]) > np.linalg.norm(emb[small])


def test_head_embeddings_of_softmax_ce_match_the_pseudo_inverse():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(200, 3))
    weight, bias = rng.normal(size=(3, 3)), rng.normal(size=3)
    y = rng.integers(0, 3, 200)
    aug = np.hstack([h, np.ones((200, 1))])
    logits = h @ weight.T + bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grads = np.einsum("nc,nd->ncd", p - np.eye(3)[y], aug).reshape(200, -1)
    curv = np.einsum("nc,ce->nce", p, np.eye(3)) - np.einsum("nc,ne->nce", p, p)
    hess = np.einsum("nce,nd,nf->ncdef", curv, aug, aug).reshape(200, 12, 12).mean(0)
    # Moving every logit together changes nothing: d + 1 = 4 flat directions, dropped.
    with pytest.warns(RuntimeWarning, match="4 of the top 12"):
        emb = head_influence_embeddings(h, y, h[:30], y[:30], weight=weight, bias=bias, loss="ce")
    assert emb.shape == (30, 8)
    exact = grads[:30] @ np.linalg.pinv(hess, rtol=1e-10) @ grads[:30].T
    np.testing.assert_allclose(emb @ emb.T, exact, atol=1e-8 * np.abs(exact).max())


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"loss": "mse"}, ValueError, "loss must be"),
        ({"weight": np.ones((2, 4))}, ValueError, "one logit"),
        ({"weight": np.ones((1, 4)), "loss": "ce"}, ValueError, "C >= 2"),
        ({"weight": np.ones(3)}, ValueError, "columns"),
        ({"bias": [0.0, 1.0]}, ValueError, "bias has 2 entries"),
        ({"weight": np.full(4, np.nan)}, ValueError, "NaN"),
        ({"train_labels": np.full(300, 2.0)}, ValueError, r"\[0, 1\]"),
        ({"test_labels": np.ones(39)}, ValueError, "test_labels has 39 entries"),
        ({"test_features": np.full((40, 4), np.inf)}, ValueError, "infinite"),
        (
            {"weight": np.ones((3, 4)), "bias": np.zeros(3), "loss": "ce", "test_labels": np.full(40, 3)},
            ValueError,
            "class indices",
        ),
        ({"rank": 0}, ValueError, "rank"),
    ],
)
def test_head_embeddings_bad_inputs(change, error, match):
    h, y, w, b = head_problem()
    kwargs = {
        "train_features": h,
        "train_labels": y,
        "test_features": h[:40],
        "test_labels": y[:40],
        "weight": w,
        "bias": b,
    }
    kwargs.update(change)
    with pytest.raises(error, match=match):
        head_influence_embeddings(**kwargs)
