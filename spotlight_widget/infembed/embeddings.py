"""Influence embeddings (paper Eq. 6, Algorithm 1 GetEmbeddings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import torch
from torch import nn

from .._inputs import resolve_device
from .._params import InstanceOf, Interval, validate_params
from ._data import Examples, as_examples
from ._functional import FunctionalLoss, LossFn, eval_mode
from ._params import select_parameters
from ._progress import PROGRESS_ARG, ProgressArg, Reporter
from .factor import FACTOR_PARAMS, HessianFactors, factor_hessian


@dataclass(frozen=True, repr=False)
class InfluenceEmbeddings:
    """Influence embeddings of test (and optionally training) examples.

    The dot product of two embeddings is the practical influence of paper Eq. 3,
    ``I(z', z) = grad L(z')^T H^-1 grad L(z) = mu(z') . mu(z)``: about N' times the change in
    the test loss of ``z`` when the training example ``z'`` is *removed* and the model
    retrained (N' training examples). Negative means ``z'`` hurts ``z``. Koh and Liang's
    "upweighting" influence is the negative of it.

    Attributes
    ----------
    test : numpy.ndarray
        (N, D) embeddings of the test examples, in order.
    train : numpy.ndarray or None
        (N', D) embeddings of the training examples, when requested.
    factors : HessianFactors
        The inverse-Hessian factorisation used; embed more data with :func:`embed_examples`.
    test_losses : numpy.ndarray
        (N,) per-example test losses, computed on the way.
    train_losses : numpy.ndarray or None
        (N',) per-example training losses, when requested.
    """

    test: np.ndarray
    train: np.ndarray | None
    factors: HessianFactors
    test_losses: np.ndarray
    train_losses: np.ndarray | None

    @property
    def dim(self) -> int:
        return int(self.test.shape[1])

    def __repr__(self) -> str:
        train = "none" if self.train is None else str(self.train.shape[0])
        return f"InfluenceEmbeddings(test={self.test.shape[0]}, train={train}, dim={self.dim})"


def _embed(
    f: FunctionalLoss, factors: HessianFactors, examples: Examples, batch_size: int, report: Reporter
) -> tuple[np.ndarray, np.ndarray]:
    name = examples.name
    embs, losses, done = [], [], 0
    try:
        for i, (x, y) in enumerate(examples.batches(batch_size)):
            if i == 0:
                f.check(x, y)
            g, loss = f.gradients(x, y)
            embs.append(factors.project(g).cpu())
            losses.append(loss.cpu())
            done += int(x.shape[0])
            report(name, done, examples.length)
    finally:
        report.close()
    return torch.cat(embs).double().numpy(), torch.cat(losses).double().numpy()


@validate_params(
    {
        "model": [InstanceOf(nn.Module, "torch.nn.Module")],
        "loss_fn": [callable],
        "factors": [HessianFactors],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "progress": PROGRESS_ARG,
    }
)
def embed_examples(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    factors: HessianFactors,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: ProgressArg = None,
) -> np.ndarray:
    """Influence embeddings of ``data`` with an existing factorisation.

    Parameters
    ----------
    model, loss_fn
        As given to :func:`factor_hessian`.
    data : tuple, Dataset or DataLoader
        Examples to embed, in the forms :func:`factor_hessian` accepts for ``train``.
    factors : HessianFactors
        From :func:`factor_hessian` (or ``InfluenceEmbeddings.factors``).
    batch_size, device, progress
        As in :func:`influence_embeddings`.

    Returns
    -------
    numpy.ndarray
        (N, D) float64 embeddings.
    """
    space = select_parameters(model, list(factors.parameters))
    if space.numel != factors.vectors.shape[0]:
        raise ValueError(
            f"the model's parameters {list(factors.parameters)} have {space.numel} entries "
            f"but the factors were made for {factors.vectors.shape[0]}"
        )
    device = resolve_device(device, factors.vectors)
    factors = _on_device(factors, device)
    with eval_mode(model):
        f = FunctionalLoss(model, loss_fn, space, device)
        emb, _ = _embed(f, factors, as_examples(data, "data"), batch_size, Reporter(progress))
    return emb


def _on_device(factors: HessianFactors, device: torch.device) -> HessianFactors:
    if factors.vectors.device == device:
        return factors
    return HessianFactors(
        factors.vectors.to(device),
        factors.eigenvalues,
        factors.parameters,
        factors.ritz_values,
        factors.damping,
        factors.n_samples,
    )


@validate_params({**FACTOR_PARAMS, "embed_train": [bool]})
def influence_embeddings(
    model: nn.Module,
    loss_fn: LossFn,
    train: Any,
    test: Any,
    *,
    layers: str | Sequence[str] | None = None,
    arnoldi_dim: int = 500,
    rank: int = 100,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    hessian_samples: int = 1000,
    cache_hessian: bool = True,
    damping: float = 0.0,
    eigen_rtol: float = 1e-6,
    embed_train: bool = False,
    progress: ProgressArg = None,
    seed: int = 0,
) -> InfluenceEmbeddings:
    """Influence embeddings ``mu(z) = lambda^-1/2 M^T grad L(z)`` (Wang et al., NeurIPS 2023).

    First factors the inverse Hessian of the mean training loss on a sample of ``train``
    (:func:`factor_hessian`: Arnoldi iteration on Hessian-vector products), then embeds
    every test example (and every training example with ``embed_train=True``) from its
    per-example gradient, computed with ``torch.func.vmap``.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model; run in eval mode, never modified, may live on any device.
    loss_fn : callable
        ``loss_fn(outputs, targets)``, e.g. ``nn.CrossEntropyLoss()``; it is called on
        batches of one example, so its reduction does not matter.
    train, test : tuple, Dataset or DataLoader
        Each an ``(inputs, targets)`` pair of tensors or arrays (same first dimension), a
        map-style Dataset of ``(input, target)`` items, or a DataLoader of
        ``(inputs, targets)`` batches. Inputs must be a single tensor per batch; floating
        inputs and targets are cast to the parameters' dtype. Test embeddings come back in
        the order the test data yields its examples.
    layers : str or list of str, optional
        Restrict the influence to these modules or parameters (e.g. ``["layer4", "fc"]``);
        default every parameter that requires grad.
    arnoldi_dim, rank : int
        P Arnoldi iterations (Hessian-vector products) and the D top eigenpairs kept;
        defaults are the paper's (P = 500, D = 100), both capped at the parameter count.
    batch_size : int
        Examples per vectorised pass. Memory grows with ``batch_size`` times the number of
        selected parameters (per-example gradients).
    device : str or torch.device, optional
        Default CUDA when available.
    hessian_samples : int
        Training examples in the Hessian's sample.
    cache_hessian : bool
        Keep the sample's autograd graphs between Hessian-vector products (faster; set
        False when the sample's activations do not fit in memory), see :func:`factor_hessian`.
    damping : float
        Added to the Hessian; set it to the training weight decay, if any.
    eigen_rtol : float
        Eigenvalues at or below this fraction of the largest (including every negative
        one) are dropped, with a RuntimeWarning, leaving fewer than ``rank`` dimensions.
    embed_train : bool
        Also embed every training example (needed for :func:`slice_opponents`).
    progress : bool or callable, optional
        True for tqdm bars; a callable receives ``SearchProgress`` updates (stages
        "hessian", "test" and "train"; ``step`` of ``total`` units done).
    seed : int
        Seeds the Hessian sample and the Arnoldi start vector.

    Returns
    -------
    InfluenceEmbeddings
    """
    # Checked before the factorisation, which is the slow part.
    test_examples = as_examples(test, "test")
    train_examples = as_examples(train, "train")
    factors = factor_hessian(
        model,
        loss_fn,
        train,
        layers=layers,
        arnoldi_dim=arnoldi_dim,
        rank=rank,
        hessian_samples=hessian_samples,
        damping=damping,
        eigen_rtol=eigen_rtol,
        batch_size=batch_size,
        cache_hessian=cache_hessian,
        device=device,
        progress=progress,
        seed=seed,
    )
    space = select_parameters(model, list(factors.parameters))
    report = Reporter(progress)
    with eval_mode(model):
        f = FunctionalLoss(model, loss_fn, space, factors.vectors.device)
        test_emb, test_losses = _embed(f, factors, test_examples, batch_size, report)
        train_emb = train_losses = None
        if embed_train:
            train_emb, train_losses = _embed(f, factors, train_examples, batch_size, report)
    return InfluenceEmbeddings(test_emb, train_emb, factors, test_losses, train_losses)
