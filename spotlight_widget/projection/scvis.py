"""scvis (Ding, Condon & Shah, Nat. Commun. 2018) in PyTorch: a VAE whose 2-D latent space also pays a t-SNE cost.

The settings are the original package's defaults, which PlaneSpot used unchanged (see
``shared/notes/spotcheck.md`` section 4): encoder 128-64-32 and decoder 32-32-32-64-128
ELU networks; a Student-t likelihood with one learned degree of freedom per input
dimension, clipped to [0.1, 10]; an in-batch t-SNE cost at perplexity 10 weighted by
min(iteration, d); the KL term of the ELBO weighted by max(0.1, d / iteration); Adam
(lr 0.01, eps 1e-3) on batches of 512; L2 1e-3 on the weight matrices; gradients clipped
to global norm 10, then to +-3 per element (+-0.3 for the encoder's variance head); the
input divided by max |X|. The map of a point is its posterior mean.

Two details follow the original code rather than the paper: each example's
log-likelihood is weighted by how much the batch's t-SNE affinities point at it
(column sums of P clipped to [0.01, 2]), and the encoder's mean weights are trained
with DropConnect at keep rate 0.9 (the map itself uses the full weights).
"""

from __future__ import annotations

import itertools
import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from torch import nn

from .._inputs import as_matrix, resolve_device
from .._params import CANCEL, PROGRESS, SEED, THREADS, Interval, validate_params
from ..engine.optimize import ProgressFn, SearchProgress
from ._affinities import conditional_affinities
from ._common import check_cancel, sample_rows

_ENCODER = (128, 64, 32)
_DECODER = (32, 32, 32, 64, 128)
_MIN_VARIANCE, _MAX_VARIANCE = 1e-6, 1e10
_DOF_RANGE = (0.1, 10.0)
_MU_KEEP = 0.9
_BIAS_INIT = 0.1
_CLIP_NORM, _CLIP_VALUE, _CLIP_SIGMA = 10.0, 3.0, 0.3
_PRIOR_MASS = 0.1  # scvis adds 0.1 / n to every affinity before the t-SNE cost
_ADAM_EPS = 1e-3
_L2 = 1e-3
_EPOCHS, _MIN_STEPS, _MAX_STEPS = 100, 3000, 30000
_PROGRESS_REPORTS = 100
_GROUP = 16  # batches whose affinities are computed together
_ENCODE_ROWS = 8192


def default_iterations(n_rows: int, batch_size: int = 512) -> int:
    """scvis's number of optimiser steps for ``n_rows`` examples.

    ``round(n / batch) * 100`` (100 epochs), raised to at least 3,000 and capped at
    max(30,000, two epochs): 3,000 for every N up to about 15,600 at batch 512.
    """
    per_epoch = max(1, round(n_rows / min(batch_size, n_rows)))
    return int(min(max(per_epoch * _EPOCHS, _MIN_STEPS), max(_MAX_STEPS, 2 * per_epoch)))


def _mlp(sizes: tuple[int, ...], generator: torch.Generator) -> nn.ModuleList:
    layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
    for layer in layers:
        _init(layer, generator)
    return layers


def _init(layer: nn.Linear, generator: torch.Generator) -> None:
    # He-scaled truncated normal weights and biases of 0.1, as scvis initialises its layers.
    std = math.sqrt(2.0 / layer.in_features)
    with torch.no_grad():
        nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
        layer.bias.fill_(_BIAS_INIT)


class _Scvis(nn.Module):
    def __init__(self, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.encoder = _mlp((dim, *_ENCODER), generator)
        self.mu = nn.Linear(_ENCODER[-1], 2)
        self.sigma = nn.Linear(_ENCODER[-1], 2)
        self.decoder = _mlp((2, *_DECODER), generator)
        self.out_mu = nn.Linear(_DECODER[-1], dim)
        self.out_sigma = nn.Linear(_DECODER[-1], dim)
        for layer in (self.mu, self.sigma, self.out_mu, self.out_sigma):
            _init(layer, generator)
        self.dof = nn.Parameter(torch.ones(dim))

    @staticmethod
    def _run(layers: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            h = nn.functional.elu(layer(h))
        return h

    def encode(self, x: torch.Tensor, mu_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._run(self.encoder, x)
        weight = self.mu.weight if mu_mask is None else self.mu.weight * mu_mask / _MU_KEEP
        mu = nn.functional.linear(h, weight, self.mu.bias)
        var = nn.functional.softplus(self.sigma(h)).clamp(_MIN_VARIANCE, _MAX_VARIANCE)
        return mu, var

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._run(self.decoder, z)
        var = nn.functional.softplus(self.out_sigma(h)).clamp(_MIN_VARIANCE, _MAX_VARIANCE)
        return self.out_mu(h), var

    def weight_matrices(self) -> list[torch.Tensor]:
        return [p for name, p in self.named_parameters() if name.endswith("weight")]


def _student_t_log_likelihood(x: torch.Tensor, mu: torch.Tensor, var: torch.Tensor, dof: torch.Tensor) -> torch.Tensor:
    """Per-row log density of independent Student-t coordinates with scale sqrt(var)."""
    half = (dof + 1) / 2
    log_norm = torch.lgamma(half) - torch.lgamma(dof / 2) - 0.5 * torch.log(math.pi * dof)
    log_kernel = -half * torch.log1p((x - mu) ** 2 / (var * dof))
    return (log_norm - 0.5 * torch.log(var) + log_kernel).sum(1)


def _tsne_targets(p: torch.Tensor) -> torch.Tensor:
    """scvis's t-SNE targets: the affinities plus 0.1 / n everywhere, renormalised per row."""
    target = p + _PRIOR_MASS / p.shape[-1]
    return target / target.sum(-1, keepdim=True)


def _tsne_cost(target: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean over rows of KL(target_i || Q_i) up to the targets' entropy; Q from a Cauchy kernel on ``z``."""
    sq = (z * z).sum(1)
    dist = (sq[:, None] + sq[None, :] - 2.0 * z @ z.T).clamp_min(0.0)
    attraction = (target * torch.log1p(dist)).sum()
    # The diagonal kernel is exactly 1: removing it leaves the sum over j != i.
    repulsion = torch.log((1.0 / (1.0 + dist)).sum(1) - 1.0).sum()
    return (attraction + repulsion) / z.shape[0]


def _regularise_and_clip(model: _Scvis) -> None:
    """Add the L2 penalty's gradient, then clip as scvis does: global norm, then per element."""
    # d/dw of l2 * ||w||^2 / 2 (TensorFlow's l2_loss) added to the gradient: the same as
    # putting the penalty in the loss, without building it into the graph every step.
    for w in model.weight_matrices():
        w.grad.add_(w.detach(), alpha=_L2)
    params = [p for p in model.parameters() if p.grad is not None]
    torch.nn.utils.clip_grad_norm_(params, _CLIP_NORM)
    sigma = {id(p) for p in model.sigma.parameters()}
    for p in params:
        bound = _CLIP_SIGMA if id(p) in sigma else _CLIP_VALUE
        p.grad.clamp_(-bound, bound)


def _batch_groups(n_rows: int, batch: int, rng: np.random.Generator):
    """Shuffled epochs cut into full batches (a shorter remainder is skipped), a few batches at a time."""
    per_epoch = n_rows // batch
    while True:
        order = rng.permutation(n_rows)[: per_epoch * batch].reshape(per_epoch, batch)
        for a in range(0, per_epoch, _GROUP):
            yield order[a : a + _GROUP]


def _prepare(x: torch.Tensor, group: np.ndarray, perplexity: float) -> list[tuple[torch.Tensor, ...]]:
    """(rows, t-SNE targets, likelihood weights) of each batch in ``group``, last batch first."""
    rows = torch.as_tensor(group, device=x.device)
    with torch.no_grad():
        p = conditional_affinities(x[rows], perplexity)
        # scvis weights each example's log-likelihood by the affinity mass pointing at it.
        weights = p.sum(-2).clamp(0.01, 2.0)
        return list(zip(rows, _tsne_targets(p), weights))[::-1]


_COUNT = [Interval(Integral, 1, None, closed="left")]
_POSITIVE = [Interval(Real, 0, None, closed="neither")]


@validate_params(
    {
        "embeddings": ["array-like"],
        "seed": SEED,
        "iterations": [None, *_COUNT],
        "batch_size": _COUNT,
        "perplexity": _POSITIVE,
        "learning_rate": _POSITIVE,
        "fit_rows": [None, Interval(Integral, 2, None, closed="left")],
        "device": [None, str, torch.device],
        "threads": THREADS,
        "progress": PROGRESS,
        "cancel": CANCEL,
    }
)
def scvis(
    embeddings: Any,
    *,
    seed: int = 0,
    iterations: int | None = None,
    batch_size: int = 512,
    perplexity: float = 10.0,
    learning_rate: float = 0.01,
    fit_rows: int | None = None,
    device: str | torch.device | None = "cpu",
    threads: int | None = None,
    progress: ProgressFn | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """Train scvis on ``embeddings`` and return each example's 2-D posterior mean.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        The data to map (N >= 2).
    seed : int
        Seeds the initial weights, the batches and the sampling noise: the same seed on
        the same device gives the same map.
    iterations : int, optional
        Optimiser steps. Default: scvis's rule for the rows trained on,
        ``round(n / 512) * 100`` raised to at least 3,000 (so 3,000 for n up to
        ~15,600) and capped at max(30,000, two epochs).
    batch_size : int
        Examples per step (512; N when N is smaller). The t-SNE cost is computed within
        each batch.
    perplexity : float
        Effective number of neighbours in each batch's t-SNE affinities.
    learning_rate : float
        Adam's step size.
    fit_rows : int, optional
        Train on a random sample of this many rows (drawn with ``seed``) and encode
        every row with the trained encoder: scvis is parametric, so the map of a row
        outside the sample is its posterior mean like any other. None (the default,
        the original method, which PlaneSpot uses) trains on all rows. Training time
        depends on ``iterations`` and ``batch_size``, not on N; encoding is linear in
        N (about 2 s per million 64-d rows on one CPU thread).
    device : str or torch.device, optional
        Where to train ("cpu" by default; None picks CUDA when available). Maps trained
        on different devices differ in rounding.
    threads : int, optional
        CPU threads for torch while training (None: torch's current setting).
    progress : callable, optional
        Receives ``SearchProgress`` (stage "scvis", objective the batch's loss) about
        100 times during training.
    cancel : threading.Event or callable, optional
        Checked with each progress report and between encoded blocks; raises
        ``spotlight_widget.engine.SearchCancelled`` when set.

    Returns
    -------
    numpy.ndarray
        (N, 2) float32 posterior means.
    """
    x = as_matrix(embeddings, "embeddings", dtype=torch.float32)
    if x.shape[0] < 2:
        raise ValueError(f"scvis: embeddings must have at least 2 rows; got {x.shape[0]}")
    fit = sample_rows(x.shape[0], fit_rows, seed)
    n_fit = x.shape[0] if fit is None else len(fit)
    batch = min(batch_size, n_fit)
    steps = default_iterations(n_fit, batch) if iterations is None else iterations
    dev = resolve_device(device, x) if device is None else torch.device(device)
    # The scale comes from all rows, so that rows outside the training sample meet the same one.
    peak = float(x.abs().max())
    scale = peak if peak > 0 else 1.0
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        train = (x if fit is None else x[fit]).to(dev) / scale
        model = _fit(train, steps, batch, perplexity, learning_rate, seed, progress, cancel)
        return _encode(model, x, scale, cancel)
    finally:
        torch.set_num_threads(before)


def _fit(
    x: torch.Tensor,
    steps: int,
    batch: int,
    perplexity: float,
    learning_rate: float,
    seed: int,
    progress: ProgressFn | None,
    cancel: Any,
) -> _Scvis:
    device = x.device
    n_rows, dim = x.shape
    init = torch.Generator().manual_seed(seed)
    model = _Scvis(dim, init).to(device)
    noise = torch.Generator(device=device).manual_seed(seed)
    groups = _batch_groups(n_rows, batch, np.random.default_rng(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, eps=_ADAM_EPS, foreach=True)
    every = max(1, steps // _PROGRESS_REPORTS)
    queue: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    whole = None
    check_cancel(cancel, "scvis")
    for step in range(1, steps + 1):
        if not queue:
            # When a batch is the whole data set every batch is the same set, in an order that
            # changes nothing: its affinities are computed once.
            queue = list(whole) if whole else _prepare(x, next(groups), perplexity)
            whole = queue[:] if batch == n_rows else None
        rows, target, weight = queue.pop()
        xb = x[rows]
        mask = torch.rand(model.mu.weight.shape, generator=noise, device=device) < _MU_KEEP
        mu, var = model.encode(xb, mask)
        z = mu + var.sqrt() * torch.randn(mu.shape, generator=noise, device=device)
        out_mu, out_var = model.decode(z)
        dof = model.dof.clamp(*_DOF_RANGE)
        log_likelihood = (_student_t_log_likelihood(xb, out_mu, out_var, dof) * weight).mean()
        kl = 0.5 * (mu**2 + var - torch.log(var) - 1).sum(1).mean() * max(0.1, dim / step)
        loss = _tsne_cost(target, z) * min(step, dim) - (log_likelihood - kl)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _regularise_and_clip(model)
        optimizer.step()
        if step % every == 0 or step == steps:
            check_cancel(cancel, "scvis")
            if progress is not None:
                progress(SearchProgress(step=step, total=steps, objective=float(loss.detach()), stage="scvis"))
    return model


def _encode(model: _Scvis, x: torch.Tensor, scale: float, cancel: Any) -> np.ndarray:
    """Posterior means of every row of ``x`` divided by ``scale``, a block at a time."""
    device = next(model.parameters()).device
    out = np.empty((x.shape[0], 2), dtype=np.float32)
    with torch.no_grad():
        for a in range(0, x.shape[0], _ENCODE_ROWS):
            check_cancel(cancel, "scvis")
            block = x[a : a + _ENCODE_ROWS].to(device) / scale
            out[a : a + len(block)] = model.encode(block)[0].cpu().numpy()
    return out
