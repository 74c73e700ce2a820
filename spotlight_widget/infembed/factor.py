"""FactorHessian: a low-rank factorisation of the inverse loss Hessian (paper Eq. 1-2)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from torch import nn

from .._inputs import resolve_device
from .._params import SEED, InstanceOf, Interval, validate_params
from ._data import as_examples
from ._functional import FunctionalLoss, LossFn, eval_mode
from ._params import select_parameters
from ._progress import PROGRESS_ARG, ProgressArg, Reporter
from .arnoldi import arnoldi, top_eigenpairs


@dataclass(frozen=True, repr=False)
class HessianFactors:
    """``H^-1 ~ M diag(1 / eigenvalues) M^T`` on the chosen parameters.

    Attributes
    ----------
    vectors : torch.Tensor
        M, (p, D) orthonormal columns: approximate eigenvectors of the Hessian.
    eigenvalues : numpy.ndarray
        (D,) the matching eigenvalues, damping included, descending, all positive.
    parameters : tuple of str
        Names of the p parameters' tensors, in the order of M's rows.
    ritz_values : numpy.ndarray
        Every eigenvalue of the Hessian restricted to the Krylov subspace (before damping),
        descending: a diagnostic of how much negative or tiny curvature there was.
    damping : float
        Added to every eigenvalue.
    n_samples : int
        Training examples the Hessian was averaged over.
    """

    vectors: torch.Tensor
    eigenvalues: np.ndarray
    parameters: tuple[str, ...]
    ritz_values: np.ndarray
    damping: float
    n_samples: int

    @property
    def rank(self) -> int:
        """D, the dimension of the influence embeddings."""
        return int(self.eigenvalues.shape[0])

    def project(self, gradients: torch.Tensor) -> torch.Tensor:
        """Influence embeddings ``lambda^-1/2 M^T g`` (paper Eq. 6) of (B, p) gradients."""
        scale = torch.as_tensor(self.eigenvalues**-0.5, dtype=self.vectors.dtype, device=self.vectors.device)
        return (gradients.to(self.vectors.dtype) @ self.vectors) * scale

    def __repr__(self) -> str:
        top = ", ".join(f"{v:.3g}" for v in self.eigenvalues[:3])
        return (
            f"HessianFactors(rank={self.rank}, parameters={self.vectors.shape[0]}, "
            f"eigenvalues=[{top}{', ...' if self.rank > 3 else ''}], n_samples={self.n_samples})"
        )


def _keep_positive(values: torch.Tensor, damping: float, eigen_rtol: float, rank: int) -> torch.Tensor:
    """Indices of the damped Ritz values that are safely positive; warn about the rest."""
    damped = values + damping
    top = float(damped.max())
    if top <= 0:
        raise ValueError(
            f"the Hessian has no positive curvature in the Krylov subspace (largest eigenvalue {top:.3g}); "
            "is the model trained? A damping larger than the most negative eigenvalue helps"
        )
    keep = damped > eigen_rtol * top
    n_drop = int((~keep).sum())
    if n_drop:
        warnings.warn(
            f"{n_drop} of the top {rank} Hessian eigenvalues are negative or below {eigen_rtol:g} x the largest "
            f"(smallest {float(damped.min()):.3g}); their directions are left out, so the influence embeddings "
            f"have {rank - n_drop} dimensions. Pass damping=... to keep more.",
            RuntimeWarning,
            stacklevel=3,
        )
    return torch.nonzero(keep).flatten()


_POSITIVE = [Interval(Integral, 1, None, closed="left")]
_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]
FACTOR_PARAMS = {
    "model": [InstanceOf(nn.Module, "torch.nn.Module")],
    "loss_fn": [callable],
    "arnoldi_dim": _POSITIVE,
    "rank": _POSITIVE,
    "hessian_samples": _POSITIVE,
    "damping": _NON_NEGATIVE,
    "eigen_rtol": _NON_NEGATIVE,
    "batch_size": _POSITIVE,
    "cache_hessian": [bool],
    "progress": PROGRESS_ARG,
    "seed": SEED,
}
"""Constraints of the options ``factor_hessian`` shares with ``influence_embeddings``."""


@validate_params(FACTOR_PARAMS)
def factor_hessian(
    model: nn.Module,
    loss_fn: LossFn,
    train: Any,
    *,
    layers: str | Sequence[str] | None = None,
    arnoldi_dim: int = 500,
    rank: int = 100,
    hessian_samples: int = 1000,
    damping: float = 0.0,
    eigen_rtol: float = 1e-6,
    batch_size: int = 64,
    cache_hessian: bool = True,
    device: str | torch.device | None = None,
    progress: ProgressArg = None,
    seed: int = 0,
) -> HessianFactors:
    """Factor the inverse Hessian of the mean training loss (Schioppa et al., 2022).

    ``arnoldi_dim`` Hessian-vector products, each over the same random sample of
    ``hessian_samples`` training examples, build a Krylov subspace (Arnoldi iteration);
    the ``rank`` largest eigenpairs of the Hessian restricted to it give
    ``H^-1 ~ M diag(1 / lambda) M^T``.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model; it is run in eval mode and never modified.
    loss_fn : callable
        ``loss_fn(outputs, targets)``; called on batches of one example, so any reduction
        works (``nn.CrossEntropyLoss()`` for example).
    train : tuple, Dataset or DataLoader
        Training examples: an ``(inputs, targets)`` pair of tensors or arrays, a map-style
        Dataset of ``(input, target)`` items, or a DataLoader of such batches (whose first
        batches form the sample).
    layers : str or list of str, optional
        Module names (``"fc"``) or parameter names (``"fc.weight"``) to take the influence
        with respect to; the rest of the model is held fixed. Default: every parameter that
        requires grad. Restrict to the last layers for big models: the factorisation keeps
        ``arnoldi_dim`` vectors of the selected parameters' size in memory.
    arnoldi_dim : int
        P, the number of Arnoldi iterations (capped at the parameter count). Paper: 500.
    rank : int
        D, the number of eigenpairs kept (the embedding dimension). Paper: 100.
    hessian_samples : int
        Training examples the Hessian is averaged over; they are held on ``device``
        for the whole factorisation.
    damping : float
        Added to the Hessian (``H + damping I``), as in Koh and Liang. Use it when the
        training objective had weight decay (its Hessian is ``weight_decay I``), or to
        regularise near-zero curvature.
    eigen_rtol : float
        Eigenvalues (after damping) at or below ``eigen_rtol`` times the largest are left
        out with a RuntimeWarning: negative curvature (a non-convex loss) has no real
        ``lambda^-1/2``, and near-zero curvature would blow up noise.
    batch_size : int
        Examples per vectorised forward/backward pass.
    cache_hessian : bool
        Build each Hessian batch's autograd graph once and reuse it for all
        ``arnoldi_dim`` products (default): 2-3x faster when the model is small, but the
        activations of all ``hessian_samples`` examples stay in memory. Set False for big
        models or samples; each product then runs a fresh forward and backward pass.
    device : str or torch.device, optional
        Where to compute; default CUDA when available.
    progress : bool or callable, optional
        True for a tqdm bar, or a callable receiving ``SearchProgress`` (stage
        "hessian", ``step`` Hessian-vector products of ``total``).
    seed : int
        Seeds the training sample and the Arnoldi start vector.

    Returns
    -------
    HessianFactors
    """
    if rank > arnoldi_dim:
        raise ValueError(
            f"factor_hessian: rank ({rank}) cannot exceed arnoldi_dim ({arnoldi_dim}): "
            "the Krylov subspace has P dimensions"
        )
    examples = as_examples(train, "train")
    space = select_parameters(model, layers)
    device = resolve_device(device)
    report = Reporter(progress)
    with eval_mode(model):
        f = FunctionalLoss(model, loss_fn, space, device)
        sample = examples.sample(hessian_samples, batch_size, np.random.default_rng(seed))
        f.check(*sample[0])
        sample = [f.to_device(x, y) for x, y in sample]
        generator = torch.Generator().manual_seed(seed)
        try:
            basis, projected = arnoldi(
                f.hessian_operator(sample, cache=cache_hessian),
                space.numel,
                arnoldi_dim,
                dtype=f.dtype,
                device=device,
                generator=generator,
                progress=report.stage("hessian"),
            )
        finally:
            report.close()
    values, vectors = top_eigenpairs(basis, projected, min(rank, basis.shape[0]))
    keep = _keep_positive(values, damping, eigen_rtol, int(values.shape[0]))
    ritz = torch.linalg.eigvalsh(projected).flip(0)
    return HessianFactors(
        vectors=vectors[:, keep.to(vectors.device)],
        eigenvalues=(values[keep] + damping).numpy(),
        parameters=space.names,
        ritz_values=ritz.numpy(),
        damping=damping,
        n_samples=sum(int(x.shape[0]) for x, _ in sample),
    )
