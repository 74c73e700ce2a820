"""The optimisation loop: B spotlights (sizes x restarts) advanced together.

One step is one pass over the data (``EmbeddingSpace.local_sums``), one reduction of
those sums by the space's communicator (identity on one process, an all-reduce when
sharded), and a few vector operations. Between the periodic checks a step reads two
row counts back to the host (rows inside and outside the spotlights, see
``EmbeddingSpace._weighted_x_sums``); nothing else makes a GPU wait on Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .objective import evaluate, evaluate_at_mass
from .optim import AdamState, Plateau, adam_step
from .presets import Preset
from .space import EmbeddingSpace


class SearchCancelled(RuntimeError):
    """Raised inside a search when its ``cancel`` hook says to stop."""


@dataclass(frozen=True)
class SearchProgress:
    """What a progress callback receives.

    Attributes
    ----------
    step : int
        Steps done so far (over all stages of this search).
    total : int
        Steps the search is expected to take; a search that needs longer to converge
        raises it as it goes (never beyond the preset's cap).
    objective : float
        Best objective in the batch at this step.
    stage : str
        "sample" while searching a random sample of a large data set, "full" after.
    """

    step: int
    total: int
    objective: float
    stage: str


ProgressFn = Callable[[SearchProgress], object]
CancelFn = Callable[[], bool]


@dataclass
class Trajectory:
    """Where B spotlights ended and how they got there."""

    center: torch.Tensor  # (B, d) normalised coordinates
    log_tau: torch.Tensor  # (B,)
    objective: torch.Tensor  # (B,) at the final parameters and final width
    mass: torch.Tensor  # (B,)
    history: torch.Tensor  # (steps, B, 4): objective, mass, lr, width
    converged: torch.Tensor  # (B,) bool


def tau_for_mass(space: EmbeddingSpace, dist: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Log precision at which each column's kernel mass sum c max(1 - tau D, 0) is ``target``.

    The mass falls monotonically as tau grows, so a bisection on log tau finds it.
    ``dist`` is (N, B) squared distances to each centre; masses and the range of distances
    are those of all processes (a shard may be empty).
    """
    n_spot = dist.shape[1]
    positive = dist[dist > 0]
    local = [
        float(dist.max()) if dist.numel() else -math.inf,
        -float(positive.min()) if positive.numel() else -math.inf,
    ]
    d_max, neg_min = space.comm.max(torch.tensor(local, dtype=torch.float64, device=dist.device)).tolist()
    d_min = -neg_min if neg_min > -math.inf else d_max
    lo = torch.full((n_spot,), math.log(1e-6 / max(d_max, 1e-30)), dtype=dist.dtype, device=dist.device)
    hi = torch.full_like(lo, math.log(1e6 / max(d_min, 1e-30)))
    for _ in range(50):
        mid = (lo + hi) / 2
        too_big = space.mass(dist, mid.exp()) > target
        lo = torch.where(too_big, mid, lo)
        hi = torch.where(too_big, hi, mid)
    return lo


def optimize(
    space: EmbeddingSpace,
    losses: torch.Tensor,
    size: torch.Tensor,
    barrier: torch.Tensor,
    center: torch.Tensor,
    log_tau: torch.Tensor,
    start_width: torch.Tensor,
    preset: Preset,
    *,
    anneal_steps: int,
    max_steps: int,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    step_offset: int = 0,
    total_steps: int | None = None,
    stage: str = "full",
) -> Trajectory:
    """Run the search for B spotlights at once.

    Parameters
    ----------
    losses : (N, B) losses, one column per spotlight.
    size, barrier, start_width : (B,) S, C and the barrier's initial width w0.
    center, log_tau : (B, d) and (B,) starting parameters (copied, not modified).
    anneal_steps : the barrier width goes geometrically from ``start_width`` to
        ``preset.final_width * size`` over this many steps, then stays.
    """
    center = center.clone()
    log_tau = log_tau.clone()
    n_spot = center.shape[0]
    end_width = preset.final_width * size
    ratio = end_width / start_width
    lr0 = torch.full((n_spot,), preset.lr, dtype=center.dtype, device=center.device)
    plateau = Plateau.start(
        lr0,
        patience=preset.patience,
        factor=preset.factor,
        threshold=preset.threshold,
        torch_threshold=not preset.normalize,
    )
    adam = AdamState.zeros(center, log_tau)
    history = torch.zeros(max_steps, n_spot, 4, dtype=center.dtype, device=center.device)
    total = total_steps if total_steps is not None else max_steps
    converged = torch.zeros(n_spot, dtype=torch.bool, device=center.device)
    steps_done = 0
    for t in range(max_steps):
        width = start_width * ratio ** min(t / max(anneal_steps - 1, 1), 1.0)
        ev, log_tau = _evaluate(space, losses, size, barrier, center, log_tau, width, preset)
        history[t, :, 0] = ev.objective
        history[t, :, 1] = ev.mass
        history[t, :, 2] = plateau.lr
        history[t, :, 3] = width
        adam_step(center, log_tau, ev.grad_center, ev.grad_log_tau, adam, plateau.lr, t + 1, betas=preset.betas)
        if preset.plateau_while_annealing or t >= anneal_steps:
            plateau.update(ev.objective)
        steps_done = t + 1
        if steps_done % preset.check_every == 0 or steps_done == max_steps:
            if cancel is not None and cancel():
                raise SearchCancelled("search cancelled")
            if progress is not None:
                done = step_offset + steps_done
                if done >= total:
                    total = min(done + preset.check_every, step_offset + max_steps)
                progress(SearchProgress(done, total, float(ev.objective.max()), stage))
            if preset.min_lr_ratio is not None and steps_done >= anneal_steps:
                converged = plateau.lr <= lr0 * preset.min_lr_ratio
                # Summed over shards, so that every process stops at the same step.
                if not bool(space.comm.sum((~converged).to(lr0.dtype)).any()):
                    break
    if preset.min_lr_ratio is None:
        converged = torch.ones(n_spot, dtype=torch.bool, device=center.device)
    final, log_tau = _evaluate(space, losses, size, barrier, center, log_tau, end_width, preset)
    return Trajectory(center, log_tau, final.objective, final.mass, history[:steps_done], converged)


def _evaluate(space, losses, size, barrier, center, log_tau, width, preset):
    """Objective and gradient at ``center``; the fast preset first sets tau from the mass."""
    dist = space.distances_to(center)
    if preset.hold_mass:
        log_tau = space.solve_log_tau(dist, size + width, log_tau)
        return evaluate_at_mass(space.sums(dist, log_tau, losses), center, log_tau), log_tau
    return evaluate(space.sums(dist, log_tau, losses), center, log_tau, size, width, barrier), log_tau
