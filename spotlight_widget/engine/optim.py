"""Adam and reduce-on-plateau for B independent spotlights held as one batch.

Written out on tensors (rather than ``torch.optim``) so that each spotlight has its own
learning rate and plateau state, steps can be masked per spotlight, and nothing ever
reads a value back to the host: on a GPU the whole search runs without synchronising.
The arithmetic follows ``torch.optim.Adam`` and ``torch.optim.lr_scheduler.ReduceLROnPlateau``
(mode "min" on the negated objective, relative threshold), so the paper preset takes the
same steps as the authors' code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class AdamState:
    """First and second moments for the centre (B, d) and the log precision (B,)."""

    m_center: torch.Tensor
    v_center: torch.Tensor
    m_log_tau: torch.Tensor
    v_log_tau: torch.Tensor

    @classmethod
    def zeros(cls, center: torch.Tensor, log_tau: torch.Tensor) -> AdamState:
        return cls(
            torch.zeros_like(center), torch.zeros_like(center), torch.zeros_like(log_tau), torch.zeros_like(log_tau)
        )

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.m_center, self.v_center, self.m_log_tau, self.v_log_tau)


def adam_step(
    center: torch.Tensor,
    log_tau: torch.Tensor,
    grad_center: torch.Tensor,
    grad_log_tau: torch.Tensor,
    state: AdamState,
    lr: torch.Tensor,
    step: int,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> None:
    """One in-place Adam ascent step (``step`` counts from 1) with a per-spotlight ``lr``."""
    b1, b2 = betas
    bias1 = 1 - b1**step
    bias2_sqrt = (1 - b2**step) ** 0.5
    for param, grad, m, v, rate in (
        (center, grad_center, state.m_center, state.v_center, lr[:, None]),
        (log_tau, grad_log_tau, state.m_log_tau, state.v_log_tau, lr),
    ):
        # Minimising the negated objective, as torch.optim.Adam would.
        g = -grad
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v.sqrt() / bias2_sqrt).add_(eps)
        param.sub_(rate / bias1 * m / denom)


@dataclass
class Plateau:
    """Halve a spotlight's learning rate when its objective stops improving.

    Mirrors ``ReduceLROnPlateau(mode="min", threshold_mode="rel")`` on the negated
    objective, except that the best value is forgotten after each cut (as in the
    authors' runs), so a new plateau is measured from the new learning rate's start.

    With ``torch_threshold`` (paper preset) an improvement must beat ``best * (1 - threshold)``
    exactly as torch computes it; for a negative ``best`` (a positive objective) that bar
    is *below* the best, so noise counts as progress. Otherwise an improvement must beat
    the best by ``threshold * |best|``.
    """

    lr: torch.Tensor
    best: torch.Tensor
    bad_steps: torch.Tensor
    patience: int
    factor: float
    threshold: float
    torch_threshold: bool = True

    @classmethod
    def start(
        cls, lr: torch.Tensor, *, patience: int, factor: float, threshold: float, torch_threshold: bool = True
    ) -> Plateau:
        return cls(
            lr=lr.clone(),
            best=torch.full_like(lr, float("inf")),
            bad_steps=torch.zeros_like(lr),
            patience=patience,
            factor=factor,
            threshold=threshold,
            torch_threshold=torch_threshold,
        )

    def update(self, objective: torch.Tensor) -> None:
        """Record one step's objective."""
        loss = -objective
        if self.torch_threshold:
            better = loss < self.best * (1 - self.threshold)
        else:
            better = loss < self.best - self.threshold * self.best.abs()
        self.best = torch.where(better, loss, self.best)
        self.bad_steps = torch.where(better, torch.zeros_like(self.bad_steps), self.bad_steps + 1)
        new_lr = self.lr * self.factor
        # torch skips cuts smaller than 1e-8; keep that so tiny learning rates match.
        cut = (self.bad_steps > self.patience) & (self.lr - new_lr > 1e-8)
        self.lr = torch.where(cut, new_lr, self.lr)
        self.best = torch.where(cut, torch.full_like(self.best, float("inf")), self.best)
        self.bad_steps = torch.where(self.bad_steps > self.patience, torch.zeros_like(self.bad_steps), self.bad_steps)
