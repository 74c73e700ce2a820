"""Named settings of the search: the authors' ("paper") and the engineered default ("fast")."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Preset:
    """How a search runs.

    Attributes
    ----------
    name : str
        "paper" or "fast".
    normalize : bool
        Centre and scale the embeddings and divide losses by their largest value minus their mean,
        which makes the search invariant to the units of both. The paper preset works on
        the raw values, as the authors did.
    lr : float
        Adam's initial learning rate (in normalised units when ``normalize``).
    betas : tuple of float
        Adam's moment decay rates. The fast preset forgets squared gradients sooner
        (0.99): the barrier's gradients, large while it shrinks, would otherwise damp
        the steps long after the barrier has let go.
    patience, factor, threshold : int, float, float
        Reduce-on-plateau: after ``patience`` steps without a relative improvement of
        ``threshold``, multiply the learning rate by ``factor``.
    plateau_while_annealing : bool
        Whether the plateau rule may cut the learning rate while the barrier still
        shrinks (the paper: yes). The objective moves with the barrier then, so its
        plateaus say little about convergence.
    anneal_steps : int
        Steps over which the barrier width shrinks geometrically to ``final_width * S``.
    max_steps : int
        Hard cap on the number of steps.
    final_width : float
        Final barrier width as a fraction of S (the paper: 0.05).
    min_lr_ratio : float or None
        Stop once every spotlight's learning rate has fallen below ``lr * min_lr_ratio``
        after annealing; None runs all ``max_steps`` (the paper's fixed schedule).
    hold_mass : bool
        Set the precision from the centre at every step so that the kernel mass equals
        the barrier's target S + w exactly, and optimise the centre alone (fast preset).
        The constraint of paper Eq. 3 then always holds: no step can leave a spotlight
        empty, however heavy the tail of the losses. Off: optimise centre and precision
        against the barrier penalty of Eq. 4-5, as the paper did.
    check_every : int
        Steps between host-side checks (progress, cancellation, convergence).
    init_log_tau : float or None
        Fixed starting log precision (the paper: log 1e-4); None: set from the data.
    start_mass : float
        The barrier's starting target S + w0 as a fraction of the data (the paper:
        w0 = N - S, i.e. 1.0): the search starts from a spotlight holding almost all.
    coarse_rows : int or None
        When the data has more than twice this many rows, first search a random sample of
        this many rows, then refine on all of them from the sample's answer.
    refine_steps : int
        Annealing steps of that refinement (and of a warm start).
    damp_losses : bool
        Search on ``log1p(loss / mean loss)`` instead of the losses themselves (signed
        losses, such as two models' difference, are first shifted by their least value;
        reported losses are always the original ones). A spotlight should
        find where the model fails *systematically*: undamped, a few scattered examples
        with huge losses (e.g. random wrong labels, cross-entropy 10 to 20) outweigh a
        coherent group of moderately high losses. On the discovery suite
        (``benchmarks/discovery``, 8 seeds of the noisy cases) mean F1 rose from 0.51 to
        0.56 and the discovery rate from 0.46 to 0.57; the clean cases did not lose.
        Dividing by the mean keeps the answer independent of the losses' units.
    restarts : int
        Starting points per size; the one with the best final objective is kept (see
        ``find_spotlights``). The paper starts once, from the whole data set. The fast
        preset adds a start at a high-loss neighbourhood: from the whole data alone the
        search can settle on a region with no loss at all when the high-loss groups lie far
        from the data's centre (on the SpotCheck rebuild, 4 of 11 configurations; two starts
        in none, for 1.2 times the time).
    """

    name: str
    normalize: bool
    lr: float
    betas: tuple[float, float]
    patience: int
    factor: float
    threshold: float
    plateau_while_annealing: bool
    anneal_steps: int
    max_steps: int
    final_width: float
    min_lr_ratio: float | None
    hold_mass: bool
    check_every: int
    init_log_tau: float | None
    start_mass: float
    coarse_rows: int | None
    refine_steps: int
    damp_losses: bool = False
    restarts: int = 1


PAPER = Preset(
    name="paper",
    normalize=False,
    lr=1e-2,
    betas=(0.9, 0.999),
    patience=10,
    factor=0.5,
    threshold=1e-4,
    plateau_while_annealing=True,
    anneal_steps=5000,
    max_steps=5000,
    final_width=0.05,
    min_lr_ratio=None,
    hold_mass=False,
    check_every=100,
    init_log_tau=math.log(1e-4),
    start_mass=1.0,
    coarse_rows=None,
    refine_steps=0,
    restarts=1,
)

FAST = Preset(
    name="fast",
    normalize=True,
    lr=0.05,
    betas=(0.9, 0.99),
    patience=10,
    factor=0.5,
    threshold=1e-4,
    plateau_while_annealing=False,
    anneal_steps=100,
    max_steps=2000,
    final_width=0.05,
    min_lr_ratio=1 / 8,
    hold_mass=True,
    check_every=20,
    init_log_tau=None,
    start_mass=0.9,
    coarse_rows=50_000,
    refine_steps=40,
    damp_losses=True,
    restarts=2,
)

PRESETS = {p.name: p for p in (PAPER, FAST)}


def get_preset(preset: str | Preset, **overrides) -> Preset:
    """Look up a preset by name (or pass one through) and apply keyword overrides."""
    if isinstance(preset, Preset):
        base = preset
    else:
        try:
            base = PRESETS[preset]
        except KeyError:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}") from None
    overrides = {k: v for k, v in overrides.items() if v is not None}
    cfg = replace(base, **overrides) if overrides else base
    if cfg.anneal_steps > cfg.max_steps:
        # A cap below the schedule's length compresses the schedule to fit: the barrier
        # still reaches its final width (the paper's run length *is* its schedule).
        cfg = replace(cfg, anneal_steps=cfg.max_steps)
    return cfg
