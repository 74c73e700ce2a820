"""The public search API: ``find_spotlight`` and ``find_spotlights``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from .._inputs import as_counts, as_matrix, as_sizes, as_vector, resolve_device, resolve_size
from .optimize import CancelFn, ProgressFn, optimize, tau_for_mass
from .presets import Preset, get_preset
from .result import SearchHistory, Spotlight, top_set
from .space import EmbeddingSpace, Reducer, identity_reducer

# Smallest spotlight worth searching for on a sample of a large data set; smaller
# spotlights make the sample bigger (or skip it).
_MIN_SAMPLE_SIZE = 25
# Width of the barrier when a search starts from a known spotlight, as a fraction of S.
_WARM_START_WIDTH = 0.25
# A restart from a neighbourhood starts with about this many times S inside.
_RESTART_MASS = 2.0


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def find_spotlight(
    embeddings: Any,
    losses: Any,
    size: float | Sequence[float | int] = 0.02,
    **options: Any,
) -> Spotlight | list[Spotlight]:
    """Find the spotlight: the contiguous region of embedding space with the highest loss.

    Parameters
    ----------
    embeddings : array-like, (N, d)
        Final-layer embeddings: numpy, torch (any device), pandas, or nested lists; any
        real dtype.
    losses : array-like, (N,)
        Per-example losses (non-negative for sequential spotlights, see
        ``find_spotlights``).
    size : float, int, or a sequence of them
        A float in (0, 1) is a fraction of the data, an int >= 1 a number of examples
        (S). A sequence searches all sizes together as one batched computation and
        returns one spotlight per size.
    **options
        See ``find_spotlights``.

    Returns
    -------
    Spotlight, or a list of Spotlight (one per size) when ``size`` is a sequence.

    Examples
    --------
    >>> sp = find_spotlight(embeddings, losses, size=0.02)       # doctest: +SKIP
    >>> sp.indices[: sp.size]                                    # doctest: +SKIP
    """
    found = find_spotlights(embeddings, losses, n=1, size=size, **options)
    if isinstance(found[0], list):
        return [spots[0] for spots in found]
    return found[0]


def find_spotlights(
    embeddings: Any,
    losses: Any,
    n: int = 3,
    size: float | Sequence[float | int] = 0.02,
    *,
    counts: Any = None,
    preset: str | Preset = "fast",
    restarts: int | None = None,
    barrier: float = 1.0,
    init: Spotlight | Sequence[Spotlight] | None = None,
    after: Sequence[Spotlight] = (),
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    max_steps: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | Any = None,
    threads: int | None = 1,
    process_group: Any = None,
) -> list[Spotlight] | list[list[Spotlight]]:
    """Find ``n`` spotlights in turn (paper Eq. 6).

    After each spotlight the losses are scaled by ``1 - k_i / max_j k_j``, so the next
    search looks elsewhere. Reported losses (``weighted_loss``, ``top_loss``,
    ``to_frame()``) are always the original ones.

    Parameters
    ----------
    embeddings, losses, size
        As in ``find_spotlight``.
    n : int
        Number of sequential spotlights.
    counts : array-like, (N,), optional
        Multiplicity of each example (non-negative): an example with count 3 weighs as
        three copies in the kernel mass, the weighted loss and the size S.
    preset : {"fast", "paper"} or Preset
        "fast" (default): normalised coordinates and losses (invariant to their units),
        convergence-based stopping, recovery from empty spotlights, a first pass on a
        sample of large data, two starting points. "paper": the authors' settings exactly
        (mu = 0, tau = 1e-4, Adam lr 1e-2, plateau halving, 5000 steps, raw units, one
        start).
    restarts : int, optional
        Starting points per size; the one with the best final objective is kept. The
        first starts from the whole data set (as in the paper), the others from the
        neighbourhoods of high-loss examples, drawn with probability proportional to the
        loss. All run as one batch. Default: the preset's (fast: 2, paper: 1). On the
        SpotCheck rebuild (``benchmarks/spotcheck``) one start from the whole data
        converged onto a zero-loss region in 4 of 11 configurations; two starts in none,
        for 1.2 times the time. On the discovery suite (``benchmarks/discovery``) 8
        restarts raised the discovery rate from 0.66 to 0.71 and mean F1 by 0.01 over
        one, for 1.7 times the time.
    barrier : float
        C in paper Eq. 4. In the fast preset losses are first divided by their largest
        value minus their mean, so C is in those units.
    init : Spotlight or a sequence of them (one per size), optional
        Warm start from an earlier spotlight (e.g. of another size): fewer steps.
    after : sequence of Spotlight
        Continue a sequence: the spotlights already found on these data (ranks 0, 1, ...),
        whose weights discount the losses (Eq. 6) before this search. The new spotlights
        get the following ranks. Needs a single size.
    device : str or torch.device, optional
        Where to compute. Default: the device of CUDA inputs, else CUDA when available,
        else the CPU.
    dtype : torch.dtype
        Compute precision; float32 is enough in practice, float64 for exact comparisons.
    seed : int
        Seeds the sampling of large data and of restarts; with the same seed, inputs and
        thread count, CPU results are bit-for-bit repeatable.
    max_steps : int, optional
        Override the preset's cap on steps per stage.
    progress : callable, optional
        Called every few steps with a ``SearchProgress`` (step, total, objective, stage).
    cancel : threading.Event or callable, optional
        Checked every few steps; when set (or returning True) the search raises
        ``SearchCancelled``.
    threads : int or None
        CPU threads torch may use during the search (restored afterwards; torch's setting
        is process-wide). The search is memory-bound: on a 2-core machine one thread was as
        fast as two when idle, and 16x faster while another process kept one core busy
        (many small parallel operations stall when a core is taken). None keeps torch's
        setting. Ignored on GPUs.
    process_group : torch.distributed.ProcessGroup, optional
        Search data sharded over the processes of this group (e.g.
        ``torch.distributed.group.WORLD``): call on every process of the group, each with
        its own rows (its shard; possibly none) and the same other arguments. The shards,
        concatenated in the order of the processes' ranks in the group, form the data set.
        Every process gets the same spotlights (centre, precision, weighted and top-S
        loss, mass, history: those of one process on the concatenated data, up to the
        order of floating-point sums) as ``spotlight_widget.distributed.ShardedSpotlight``
        objects whose ``weights``, ``indices`` and ``top_indices`` refer to the process's
        own rows. See ``spotlight_widget.distributed``.

    Returns
    -------
    list of Spotlight (length n), or, when ``size`` is a sequence, one such list per size.
    """
    if process_group is not None:
        # Imported here: torch.distributed is only touched when a group is given.
        from ..distributed.sharded import find_spotlights_sharded

        return find_spotlights_sharded(
            embeddings,
            losses,
            n=n,
            size=size,
            counts=counts,
            preset=preset,
            restarts=restarts,
            barrier=barrier,
            init=init,
            after=after,
            device=device,
            dtype=dtype,
            seed=seed,
            max_steps=max_steps,
            progress=progress,
            cancel=cancel,
            threads=threads,
            process_group=process_group,
        )
    _check_options(n, restarts, barrier, dtype, threads)
    dev = resolve_device(device, embeddings, losses)
    with _cpu_threads(threads if dev.type == "cpu" else None):
        cfg = get_preset(preset, max_steps=max_steps, restarts=None if restarts is None else int(restarts))
        _check_restarts(cfg.restarts)
        if init is not None and not cfg.hold_mass:
            raise ValueError("init (a warm start) needs preset='fast'; the paper preset always starts from mu = 0")
        x, owned = as_matrix(embeddings, "embeddings", dtype=dtype, device=dev, return_owned=True)
        n_rows = x.shape[0]
        loss = as_vector(losses, "losses", length=n_rows, dtype=dtype, device=dev)
        weights = as_counts(counts, length=n_rows, dtype=dtype, device=dev)
        total = float(n_rows) if weights is None else float(weights.sum())
        size_list, single = as_sizes(size)
        sizes = [resolve_size(s, total, n_rows) for s in size_list]
        inits = _as_inits(init, len(sizes))
        after = list(after)
        if after and len(sizes) > 1:
            raise ValueError("after continues one sequence: pass a single size")
        for sp in after:
            if not isinstance(sp, Spotlight) or sp.weights.shape != (n_rows,):
                raise ValueError(f"after must hold spotlights of these {n_rows} examples")
        cancel_fn = _as_cancel(cancel)

        space = EmbeddingSpace.build(x, weights, normalize=cfg.normalize, owned=owned)
        search_losses = losses_to_search(loss, weights, cfg)[:, None].repeat(1, len(sizes))
        generator = torch.Generator().manual_seed(seed)
        original = loss.double().cpu().numpy()
        count_np = None if weights is None else weights.double().cpu().numpy()

        found: list[list[Spotlight]] = [[] for _ in sizes]
        sequence = search_sequence(
            space,
            search_losses,
            sizes,
            cfg,
            n=n,
            after=[torch.as_tensor(sp.weights, dtype=dtype, device=dev) for sp in after],
            barrier=barrier,
            restarts=cfg.restarts,
            inits=inits,
            generator=generator,
            progress=progress,
            cancel=cancel_fn,
        )
        for rank, kernel, trajs in sequence:
            centers, precisions = space.to_raw(trajs.center, trajs.log_tau)
            for j, s in enumerate(sizes):
                found[j].append(
                    _make_spotlight(
                        kernel[:, j],
                        original,
                        count_np,
                        round(s),
                        centers[j],
                        precisions[j],
                        trajs,
                        j,
                        cfg.name,
                        rank,
                    )
                )
        return found[0] if single else found


def search_sequence(
    space: EmbeddingSpace,
    losses: torch.Tensor,
    sizes: list[float],
    cfg: Preset,
    *,
    n: int,
    after: list[torch.Tensor],
    barrier: float,
    restarts: int,
    inits: list[Spotlight | None],
    generator: torch.Generator,
    reducer: Reducer = identity_reducer,
    reduce_max: Reducer = identity_reducer,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
):
    """Yield ``(rank, kernel, trajectory)`` for ``n`` spotlights of every size, one after another.

    Each search runs on the losses discounted by the spotlights before it (paper Eq. 6),
    starting with the kernel weights in ``after``. ``losses`` holds one column per size;
    ``inits`` warm-starts the first search only. ``reducer`` and ``reduce_max`` sum and take
    maxima over all processes (a sharded search): a process may hold no rows.
    """
    dev, dt = space.x.device, space.x.dtype

    def peak(local: torch.Tensor, empty: float) -> torch.Tensor:
        if local.shape[0] == 0:
            return reduce_max(torch.full(local.shape[1:], empty, dtype=dt, device=dev))
        return reduce_max(local.max(0).values)

    for prior in after:
        losses = losses * (1 - prior[:, None] / peak(prior[:, None], -math.inf))
    for rank in range(len(after), len(after) + n):
        trajs = run_batch(
            space,
            losses,
            sizes,
            cfg,
            barrier=barrier,
            restarts=restarts,
            inits=inits if rank == len(after) else [None] * len(sizes),
            generator=generator,
            reducer=reducer,
            progress=progress,
            cancel=cancel,
        )
        kernel = space.weights(trajs.center, trajs.log_tau)
        kernel_peak = peak(kernel, 0.0)
        if not bool((kernel_peak > 0).all()):
            raise RuntimeError(
                "the search ended with an empty spotlight (every weight is 0); "
                "the paper preset cannot recover from this: use preset='fast'"
            )
        losses = losses * (1 - kernel / kernel_peak)
        yield rank, kernel, trajs


def run_batch(
    space: EmbeddingSpace,
    losses: torch.Tensor,
    sizes: list[float],
    cfg: Preset,
    *,
    barrier: float,
    restarts: int,
    inits: list[Spotlight | None],
    generator: torch.Generator,
    reducer: Reducer = identity_reducer,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> BatchResult:
    """Search every size (times ``restarts``) together and keep each size's best restart.

    ``losses`` holds one column per size. Large data is first searched on a random
    sample, then refined on all rows from the sample's answer.
    """
    dev, dt = space.x.device, space.x.dtype
    n_sizes = len(sizes)
    size = torch.tensor(sizes, dtype=dt, device=dev).repeat_interleave(restarts)
    col_losses = losses.repeat_interleave(restarts, dim=1)
    c = torch.full_like(size, barrier)
    warm = any(i is not None for i in inits)
    sample = None if warm else _sample_rows(space, min(sizes), cfg, generator)

    # The settings every stage shares; each call adds its data, start and schedule.
    run = partial(optimize, preset=cfg, max_steps=cfg.max_steps, reducer=reducer, progress=progress, cancel=cancel)
    if sample is None:
        center, log_tau, width = _starts(space, col_losses, size, restarts, inits, cfg, generator)
        if not cfg.hold_mass and not bool((reducer((space.weights(center, log_tau) > 0).any(0).to(dt)) > 0).all()):
            raise ValueError(
                "every kernel weight is 0 at the paper's start (mu = 0, tau = 1e-4): the embeddings "
                "are too far from the origin for the paper preset; use preset='fast'"
            )
        anneal = cfg.refine_steps if warm else cfg.anneal_steps
        traj = run(
            space,
            col_losses,
            size,
            c,
            center,
            log_tau,
            width,
            anneal_steps=anneal,
            total_steps=_expected_steps(cfg, anneal),
        )
        stages = [(traj, 1)]
    else:
        sub = space.subset(sample)
        sub_size = size * (sub.total_count() / space.total_count())
        center, log_tau, width = _starts(sub, col_losses[sample], sub_size, restarts, inits, cfg, generator)
        expected = _expected_steps(cfg, cfg.anneal_steps) + _expected_steps(cfg, cfg.refine_steps)
        first = run(
            sub,
            col_losses[sample],
            sub_size,
            c,
            center,
            log_tau,
            width,
            anneal_steps=cfg.anneal_steps,
            total_steps=expected,
            stage="sample",
        )
        done = first.history.shape[0]
        traj = run(
            space,
            col_losses,
            size,
            c,
            first.center,
            first.log_tau,
            _WARM_START_WIDTH * size,
            anneal_steps=cfg.refine_steps,
            step_offset=done,
            total_steps=done + _expected_steps(cfg, cfg.refine_steps),
        )
        stages = [(first, 0), (traj, 1)]

    best = traj.objective.view(n_sizes, restarts).argmax(1)
    cols = torch.arange(n_sizes, device=dev) * restarts + best
    history = torch.cat([t.history[:, cols] for t, _ in stages])
    stage = np.concatenate([np.full(t.history.shape[0], s) for t, s in stages])
    return BatchResult(
        center=traj.center[cols],
        log_tau=traj.log_tau[cols],
        objective=traj.objective[cols],
        converged=traj.converged[cols],
        history=history.cpu().double().numpy(),
        stage=stage,
    )


@dataclass
class BatchResult:
    """The kept restart of each size: parameters (normalised), objective, history."""

    center: torch.Tensor  # (n_sizes, d)
    log_tau: torch.Tensor  # (n_sizes,)
    objective: torch.Tensor  # (n_sizes,)
    converged: torch.Tensor  # (n_sizes,) bool
    history: np.ndarray  # (steps, n_sizes, 4): objective, mass, lr, width
    stage: np.ndarray  # (steps,) 0 on the sample, 1 on all rows


def _check_options(n, restarts, barrier, dtype, threads) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    if restarts is not None:
        _check_restarts(restarts)
    if not (isinstance(barrier, (int, float)) and math.isfinite(barrier) and barrier > 0):
        raise ValueError(f"barrier must be a positive number; got {barrier!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")


def _check_restarts(restarts) -> None:
    """An explicit ``restarts``, or a custom preset's."""
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise ValueError(f"restarts must be a positive integer; got {restarts!r}")


@contextmanager
def _cpu_threads(threads: int | None):
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _expected_steps(cfg: Preset, anneal: int) -> int:
    """Steps a stage usually takes: the schedule, then the learning-rate cuts to converge."""
    if cfg.min_lr_ratio is None:
        return cfg.max_steps
    cuts = math.ceil(math.log(1 / cfg.min_lr_ratio) / math.log(1 / cfg.factor))
    return min(cfg.max_steps, anneal + (cfg.patience + 1) * cuts + cfg.check_every)


def _sample_rows(space: EmbeddingSpace, smallest: float, cfg: Preset, generator: torch.Generator):
    """Rows of a random sample for a first pass, or None when the data is small enough."""
    if cfg.coarse_rows is None:
        return None
    rows = max(cfg.coarse_rows, math.ceil(_MIN_SAMPLE_SIZE * space.total_rows / smallest))
    if space.total_rows < 2 * rows:
        return None
    return space.sample_rows(rows, generator)


def _starts(space, losses, size, restarts, inits, cfg, generator):
    """Starting centre, log precision and barrier width of every column."""
    n_cols, d = size.shape[0], space.dim
    dev, dt = space.x.device, space.x.dtype
    center = torch.zeros(n_cols, d, dtype=dt, device=dev)
    if cfg.init_log_tau is not None:
        log_tau = torch.full((n_cols,), cfg.init_log_tau, dtype=dt, device=dev)
    else:
        # Any value works: the fast preset solves tau for the target mass at each step.
        log_tau = torch.full((n_cols,), -math.log(10.0 * d), dtype=dt, device=dev)
    total = space.total_count()
    width = cfg.start_mass * total - size
    width = torch.where(width > 0, width, (total - size) / 2)
    local = torch.zeros(n_cols, dtype=torch.bool, device=dev)
    n_sizes = n_cols // restarts
    for j in range(n_sizes):
        start = inits[j]
        if start is not None:
            cj, tj = space.from_raw(
                torch.as_tensor(start.center, dtype=dt, device=dev), torch.tensor(start.precision, dtype=dt, device=dev)
            )
            center[j * restarts] = cj
            log_tau[j * restarts] = tj
            local[j * restarts] = True
        if restarts > 1:
            # Fewer rows with a positive loss than restarts asked for: the spare columns
            # keep the whole-data start.
            anchors = space.anchor_points(losses[:, j * restarts], restarts - 1, generator)
            first = j * restarts + 1
            center[first : first + anchors.shape[0]] = anchors
            local[first : first + anchors.shape[0]] = True
    if bool(local.any()):
        cols = torch.nonzero(local).flatten()
        dist = space.distances_to(center[cols])
        log_tau[cols] = tau_for_mass(
            dist, space.counts, _RESTART_MASS * size[cols], reducer=space.reduce_sum, reduce_max=space.reduce_max
        )
        width[cols] = _WARM_START_WIDTH * size[cols]
    return center, log_tau, width


def losses_to_search(
    loss: torch.Tensor,
    counts: torch.Tensor | None,
    cfg: Preset,
    *,
    reduce_sum: Callable[[torch.Tensor], torch.Tensor] = _same,
    reduce_max: Callable[[torch.Tensor], torch.Tensor] = _same,
) -> torch.Tensor:
    """The losses the search optimises: the originals, or (fast preset) damped and rescaled.

    ``cfg.damp_losses`` applies ``log1p(loss / mean)`` to non-negative losses (see
    ``Preset``). Then, with ``cfg.normalize``, the losses are divided by their largest value
    minus their mean (count-weighted): in these units no spotlight can gain more than 1
    over the data set's mean, so a barrier scale C of about 1 outweighs any gain from
    shrinking below S, whatever the units or the tail of the losses (paper: "C large
    relative to typical losses"). ``reduce_sum`` and ``reduce_max`` combine the statistics
    of every shard when the data is sharded.
    """
    if not cfg.normalize:
        return loss
    l64 = loss.double()
    w = torch.ones_like(l64) if counts is None else counts.double()
    counted = w > 0

    def extreme(values: torch.Tensor) -> float:
        local = values[counted].max() if bool(counted.any()) else torch.tensor(-math.inf, dtype=torch.float64)
        return float(reduce_max(local.reshape(1).cpu())[0])

    def mean(values: torch.Tensor) -> float:
        sums = reduce_sum(torch.stack([(w * values).sum(), w.sum()]).cpu())
        return float(sums[0] / sums[1])

    if cfg.damp_losses and -extreme(-l64) >= 0:
        average = mean(l64)
        if average > 0:
            l64 = torch.log1p(l64 / average)
    gap = extreme(l64) - mean(l64)
    if not gap > 0:
        raise ValueError("all losses are equal: no region of the data does worse than another")
    return (l64 / gap).to(loss.dtype)


def _as_inits(init, n_sizes: int) -> list[Spotlight | None]:
    if init is None:
        return [None] * n_sizes
    if isinstance(init, Spotlight):
        return [init] * n_sizes
    inits = list(init)
    if len(inits) != n_sizes:
        raise ValueError(f"init has {len(inits)} spotlights for {n_sizes} sizes")
    for sp in inits:
        if sp is not None and not isinstance(sp, Spotlight):
            raise TypeError(f"init must hold Spotlight results; got {type(sp).__name__}")
    return inits


def _as_cancel(cancel) -> CancelFn | None:
    if cancel is None:
        return None
    if hasattr(cancel, "is_set"):
        return cancel.is_set
    if callable(cancel):
        return cancel
    raise TypeError("cancel must be a threading.Event-like object or a callable returning bool")


def _make_spotlight(kernel, losses, counts, size, center, precision, trajs, j, preset, rank) -> Spotlight:
    w = kernel.double().cpu().numpy()
    members = np.flatnonzero(w > 0)
    order = members[np.argsort(-w[members], kind="stable")]
    c = np.ones_like(w) if counts is None else counts
    mass = float((c * w).sum())
    top = top_set(order, counts, size)
    return Spotlight(
        weights=w,
        indices=order,
        weighted_loss=float((c * w * losses).sum() / mass),
        top_loss=float((c[top] * losses[top]).sum() / c[top].sum()),
        mass=mass,
        size=size,
        center=center.double().cpu().numpy(),
        precision=float(precision),
        objective=float(trajs.objective[j]),
        history=history_of(trajs, j),
        preset=preset,
        rank=rank,
        converged=bool(trajs.converged[j]),
        counts=counts,
        losses=losses,
    )


def history_of(trajs, j: int) -> SearchHistory:
    """Column ``j`` of a batched search's trajectory as the history a Spotlight keeps."""
    return SearchHistory(
        objective=trajs.history[:, j, 0],
        mass=trajs.history[:, j, 1],
        lr=trajs.history[:, j, 2],
        width=trajs.history[:, j, 3],
        stage=trajs.stage,
    )
