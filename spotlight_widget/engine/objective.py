"""The Spotlight objective (paper Eq. 5) and its closed-form gradient, from reduced sums.

Given the sums of ``EmbeddingSpace.local_sums`` (added over all processes), everything
here is a few vector operations per spotlight: no pass over the data, no autograd graph.

With K = sum c k, f = sum c k l / K and the barrier active while K < S + w:

    objective = f - C ((K - S - w) / w)^2
    d objective / d k_i = c_i [(l_i - f) / K - slope],  slope = 2 C (K - S - w) / w^2
    d k_i / d mu = 2 tau (z_i - mu),  d k_i / d log tau = -tau D_i     (on the active set)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .space import N_SCALARS

# Guards the division by K when a spotlight holds no mass (the paper preset can get there;
# the fast preset holds the mass fixed).
_TINY = 1e-30


@dataclass
class Evaluation:
    """Objective, gradient and summary numbers of B spotlights at one step."""

    objective: torch.Tensor  # (B,)
    grad_center: torch.Tensor  # (B, d), ascent direction
    grad_log_tau: torch.Tensor  # (B,)
    mass: torch.Tensor  # (B,) K = sum c k
    weighted_loss: torch.Tensor  # (B,) f


def evaluate(
    sums: torch.Tensor,
    center: torch.Tensor,
    log_tau: torch.Tensor,
    size: torch.Tensor,
    width: torch.Tensor,
    barrier: torch.Tensor,
) -> Evaluation:
    """Objective and its gradient with respect to the centre and the log precision."""
    d = center.shape[1]
    mass, mass_loss, act, act_loss, act_dist, act_loss_dist = sums[:, :N_SCALARS].T
    sum_az = sums[:, N_SCALARS : N_SCALARS + d]
    sum_alz = sums[:, N_SCALARS + d :]
    safe_mass = mass.clamp_min(_TINY)
    f = mass_loss / safe_mass
    gap = mass - size - width
    in_barrier = gap < 0
    penalty = torch.where(in_barrier, barrier * (gap / width) ** 2, torch.zeros_like(gap))
    slope = torch.where(in_barrier, 2 * barrier * gap / width**2, torch.zeros_like(gap))
    # sum_i g_i v_i = (sum a l v) / K + coef * (sum a v), with g_i = a_i [(l_i - f)/K - slope]
    coef = -(f / safe_mass + slope)
    sum_gz = sum_alz / safe_mass[:, None] + coef[:, None] * sum_az
    sum_g = act_loss / safe_mass + coef * act
    sum_gd = act_loss_dist / safe_mass + coef * act_dist
    tau = log_tau.exp()
    grad_center = 2 * tau[:, None] * (sum_gz - center * sum_g[:, None])
    grad_log_tau = -tau * sum_gd
    return Evaluation(f - penalty, grad_center, grad_log_tau, mass, f)


def evaluate_at_mass(sums: torch.Tensor, center: torch.Tensor, log_tau: torch.Tensor) -> Evaluation:
    """Weighted loss f and its gradient along the surface where the mass is held fixed.

    The fast preset sets tau from the centre so that sum c k equals the barrier's target
    S + w exactly (``EmbeddingSpace.solve_log_tau``); the constraint then always holds
    and only the centre is optimised. By the implicit function theorem,

        df/dmu = (partial f / partial mu) - (partial f / partial tau) (partial K / partial mu) / (partial K / partial tau)

    with partial K / partial mu = 2 tau sum a (z - mu) and partial K / partial tau = -sum a D.
    """
    d = center.shape[1]
    mass, mass_loss, act, act_loss, act_dist, act_loss_dist = sums[:, :N_SCALARS].T
    sum_az = sums[:, N_SCALARS : N_SCALARS + d]
    sum_alz = sums[:, N_SCALARS + d :]
    safe_mass = mass.clamp_min(_TINY)
    f = mass_loss / safe_mass
    tau = log_tau.exp()
    # g_i = a_i (l_i - f) / K: the weighted-loss part of Evaluate's gradient, no barrier.
    sum_gz = (sum_alz - f[:, None] * sum_az) / safe_mass[:, None]
    sum_g = (act_loss - f * act) / safe_mass
    sum_gd = (act_loss_dist - f * act_dist) / safe_mass
    df_dmu = 2 * tau[:, None] * (sum_gz - center * sum_g[:, None])
    df_dtau = -sum_gd
    dk_dmu = 2 * tau[:, None] * (sum_az - center * act[:, None])
    dk_dtau = -act_dist
    ratio = df_dtau / torch.where(dk_dtau < 0, dk_dtau, torch.full_like(dk_dtau, -_TINY))
    grad_center = df_dmu - ratio[:, None] * dk_dmu
    return Evaluation(f, grad_center, torch.zeros_like(log_tau), mass, f)
