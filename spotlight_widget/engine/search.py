"""The public search API: ``find_spotlight`` and ``find_spotlights``.

One search path serves one process and the processes of a ``torch.distributed`` group
alike: it runs on a communicator (``spotlight_widget.engine.comm``), which on one process
is a world of one whose reductions are the identity. What is not a sum over examples is
handled so that a sharded search gives the one-process result on the concatenated shards
(rank order), up to float64 rounding of the per-step sums:

- inputs are checked on every process, then the processes exchange their errors and a
  description of their arguments: a bad shard or a mismatched argument raises the same
  ``ShardError`` everywhere instead of leaving the others waiting;
- data preparation (mean, spread), the loss scale (max - mean), sizes and totals use
  global sums and maxima;
- the random sample of large data and the restart anchors draw from one stream over all
  rows (``EmbeddingSpace.sample_rows``, ``anchor_points``);
- the top-S set is found globally (``shards.top_counts``), and every summary number is a
  global sum.

A process may hold no rows at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from .._inputs import as_counts, as_matrix, as_sizes, as_vector, resolve_device, resolve_size
from .._params import CANCEL, N_RESULTS, PROGRESS, SEED, THREADS, Interval, Options, check, check_params
from .comm import Communicator, GroupComm, LocalComm, ShardError
from .optimize import CancelFn, ProgressFn, optimize, tau_for_mass
from .presets import PRESETS, Preset, get_preset
from .result import SearchHistory, Spotlight
from .shards import ShardedSpotlight, top_counts
from .space import EmbeddingSpace

# Smallest spotlight worth searching for on a sample of a large data set; smaller
# spotlights make the sample bigger (or skip it).
_MIN_SAMPLE_SIZE = 25
# Width of the barrier when a search starts from a known spotlight, as a fraction of S.
_WARM_START_WIDTH = 0.25
# A restart from a neighbourhood starts with about this many times S inside.
_RESTART_MASS = 2.0


class _Fraction(Interval):
    """A size given as a fraction; messages say what a float size means."""

    def __str__(self) -> str:
        return "a float in (0, 1) (a fraction of the data)"


class _Count(Interval):
    """A size given as a number of examples; messages say what an int size means."""

    def __str__(self) -> str:
        return "an int >= 1 (a number of examples)"


_POSITIVE_INT = Interval(Integral, 1, None, closed="left")
_SIZE = [_Fraction(Real, 0, 1, closed="neither"), _Count(Integral, 1, None, closed="left")]
# The options every search checks the same way, on one process or many.
_OPTIONS = {
    "n": N_RESULTS,
    "restarts": [None, _POSITIVE_INT],
    "barrier": [Interval(Real, 0, None, closed="neither")],
    "preset": [Options(PRESETS), Preset],
    "device": [None, str, torch.device],
    "dtype": [Options({torch.float32, torch.float64})],
    "seed": SEED,
    "max_steps": [None, _POSITIVE_INT],
    "progress": PROGRESS,
    "cancel": CANCEL,
    "threads": THREADS,
}


def find_spotlight(
    embeddings: Any,
    losses: Any,
    *,
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
        Per-example losses; signed values (e.g. the difference between two models'
        losses) are searched as they are.
    size : float, int, or a sequence of them
        A float in (0, 1) is a fraction of the data, an int >= 1 a number of examples
        (S); numpy scalars and 0-d arrays count as the number they hold. A sequence (or a
        1-d array) searches all sizes together as one batched computation and returns one
        spotlight per size.
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
    found = _find(embeddings, losses, "find_spotlight", n=1, size=size, **options)
    if isinstance(found[0], list):
        return [spots[0] for spots in found]
    return found[0]


def find_spotlights(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 3,
    size: float | Sequence[float | int] = 0.02,
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
    return _find(
        embeddings,
        losses,
        "find_spotlights",
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


def _find(embeddings: Any, losses: Any, caller: str, *, process_group: Any = None, **options: Any):
    """``search`` on one process, or on the processes of ``process_group``."""
    comm = LocalComm() if process_group is None else GroupComm(process_group)
    return search(embeddings, losses, comm=comm, caller=caller, **options)


def search(
    embeddings: Any,
    losses: Any,
    *,
    comm: Communicator,
    caller: str = "find_spotlights",
    n: int = 3,
    size: float | Sequence[float | int] = 0.02,
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
) -> list[Spotlight] | list[list[Spotlight]]:
    """``find_spotlights`` on this process's rows, the processes of ``comm`` together.

    Arguments as in ``find_spotlights``; ``caller`` names the public function in error
    messages. With a sharded communicator, counts may be given on every process or on
    none, ``after`` holds spotlights of these same shards (their local weights), and
    ``progress`` and ``cancel`` may be given on any processes: a cancel on one process
    stops all of them (each raises ``SearchCancelled``).
    """
    error: BaseException | None = None
    fingerprint = None
    n_local, d_local = 0, None
    try:
        checked = check_params(
            dict(
                n=n,
                restarts=restarts,
                barrier=barrier,
                preset=preset,
                device=device,
                dtype=dtype,
                seed=seed,
                max_steps=max_steps,
                progress=progress,
                cancel=cancel,
                threads=threads,
            ),
            _OPTIONS,
            caller=caller,
        )
        # Numpy scalars and 0-d arrays come back as Python numbers.
        n, restarts, barrier, seed, max_steps, threads = (
            checked[k] for k in ("n", "restarts", "barrier", "seed", "max_steps", "threads")
        )
        cfg = get_preset(preset, max_steps=max_steps, restarts=restarts)
        check(cfg.restarts, "the preset's restarts", [_POSITIVE_INT], caller=caller)
        if init is not None and not cfg.hold_mass:
            raise ValueError("init (a warm start) needs preset='fast'; the paper preset always starts from mu = 0")
        dev = _device(device, comm, embeddings, losses)
        x, owned = as_matrix(
            embeddings, "embeddings", dtype=dtype, device=dev, return_owned=True, allow_empty=comm.sharded
        )
        n_local, d_local = x.shape[0], x.shape[1] or None
        loss = as_vector(losses, "losses", length=n_local, dtype=dtype, device=dev)
        weights = as_counts(counts, length=n_local, dtype=dtype, device=dev, allow_all_zero=comm.sharded)
        size_list, single = ([size], True) if isinstance(size, (str, bytes)) else as_sizes(size)
        size_list = [check(s, "size", _SIZE, caller=caller) for s in size_list]
        inits = _as_inits(init, len(size_list))
        after = list(after)
        if after and len(size_list) > 1:
            raise ValueError("after continues one sequence: pass a single size")
        for sp in after:
            if not isinstance(sp, Spotlight) or sp.weights.shape != (n_local,):
                where = "this process's" if comm.sharded else "these"
                raise ValueError(f"after must hold spotlights of {where} {n_local} examples")
        cancel_fn = _as_cancel(cancel)
        fingerprint = _fingerprint(n, size_list, cfg, barrier, dtype, seed, inits, after, counts is not None)
    except (ValueError, TypeError, RuntimeError) as exc:
        error = exc
    shapes = comm.agree(error, fingerprint, info=(n_local, d_local))

    # From here on every process sees the same global facts and raises the same errors.
    failure = ShardError if comm.sharded else ValueError
    rows = [r for r, _ in shapes]
    dims = sorted({d for _, d in shapes if d})
    if sum(rows) == 0:
        raise failure("no process holds any rows: the data set is empty")
    if len(dims) != 1:
        raise failure(f"the shards' embeddings have different widths: {[d for _, d in shapes]}")
    if x.shape[1] != dims[0]:
        x = x.reshape(0, dims[0])
    offset, total_rows = sum(rows[: comm.rank]), sum(rows)
    local_total = float(n_local) if weights is None else float(weights.double().sum())
    total = float(comm.sum(torch.tensor([local_total], dtype=torch.float64))[0])
    if weights is not None and not total > 0:
        raise failure("counts are all zero: no example would count")
    sizes = [resolve_size(s, total, total_rows) for s in size_list]

    def agreed_cancel() -> bool:
        # Called at the same steps on every process; one process's cancel stops them all
        # (on one process, its own).
        return comm.any(cancel_fn is not None and bool(cancel_fn()))

    with _cpu_threads(threads if dev.type == "cpu" else None):
        space = EmbeddingSpace.build(
            x,
            weights,
            normalize=cfg.normalize,
            owned=owned,
            comm=comm,
            row_offset=offset,
            total_rows=total_rows,
            total=total,
        )
        search_losses = losses_to_search(loss, weights, cfg, comm=comm)[:, None].repeat(1, len(sizes))
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
            cancel=agreed_cancel,
        )
        for rank, kernel, trajs in sequence:
            centers, precisions = space.to_raw(trajs.center, trajs.log_tau)
            spots = _make_spotlights(
                kernel, original, count_np, sizes, centers, precisions, trajs, cfg.name, rank, space
            )
            for j, sp in enumerate(spots):
                found[j].append(sp)
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
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
):
    """Yield ``(rank, kernel, trajectory)`` for ``n`` spotlights of every size, one after another.

    Each search runs on the losses discounted by the spotlights before it (paper Eq. 6),
    starting with the kernel weights in ``after``. ``losses`` holds one column per size;
    ``inits`` warm-starts the first search only. Peaks are taken over all processes: a
    process may hold no rows.
    """
    dev, dt = space.x.device, space.x.dtype

    def peak(local: torch.Tensor, empty: float) -> torch.Tensor:
        if local.shape[0] == 0:
            return space.comm.max(torch.full(local.shape[1:], empty, dtype=dt, device=dev))
        return space.comm.max(local.max(0).values)

    # Eq. 6 discounts found regions towards zero, which is the least loss only when losses
    # are non-negative. Signed losses (a difference between two models) are discounted
    # towards their minimum instead: a region discounted to 0 would still beat a data set
    # whose mean is negative, and the next search would find it again.
    floor = (-peak(-losses, -math.inf)).clamp_max(0)

    def discount(values: torch.Tensor, kernel: torch.Tensor, kernel_peak: torch.Tensor) -> torch.Tensor:
        return floor + (values - floor) * (1 - kernel / kernel_peak)

    for prior in after:
        losses = discount(losses, prior[:, None], peak(prior[:, None], -math.inf))
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
        losses = discount(losses, kernel, kernel_peak)
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
    run = partial(optimize, preset=cfg, max_steps=cfg.max_steps, progress=progress, cancel=cancel)
    if sample is None:
        center, log_tau, width = _starts(space, col_losses, size, restarts, inits, cfg, generator)
        reached = space.comm.sum((space.weights(center, log_tau) > 0).any(0).to(dt))
        if not cfg.hold_mass and not bool((reached > 0).all()):
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
        log_tau[cols] = tau_for_mass(space, dist, _RESTART_MASS * size[cols])
        width[cols] = _WARM_START_WIDTH * size[cols]
    return center, log_tau, width


def losses_to_search(
    loss: torch.Tensor,
    counts: torch.Tensor | None,
    cfg: Preset,
    *,
    comm: Communicator,
) -> torch.Tensor:
    """The losses the search optimises: the originals, or (fast preset) damped and rescaled.

    ``cfg.damp_losses`` applies ``log1p(loss / mean)`` (see ``Preset``); signed losses
    are first shifted by their least value. Then, with ``cfg.normalize``, the losses are divided by their largest value
    minus their mean (count-weighted): in these units no spotlight can gain more than 1
    over the data set's mean, so a barrier scale C of about 1 outweighs any gain from
    shrinking below S, whatever the units or the tail of the losses (paper: "C large
    relative to typical losses"). ``comm`` combines the statistics of every shard when the
    data is sharded.
    """
    if not cfg.normalize:
        return loss
    l64 = loss.double()
    w = torch.ones_like(l64) if counts is None else counts.double()
    counted = w > 0

    def extreme(values: torch.Tensor) -> float:
        local = values[counted].max() if bool(counted.any()) else torch.tensor(-math.inf, dtype=torch.float64)
        return float(comm.max(local.reshape(1).cpu())[0])

    def mean(values: torch.Tensor) -> float:
        sums = comm.sum(torch.stack([(w * values).sum(), w.sum()]).cpu())
        return float(sums[0] / sums[1])

    least = -extreme(-l64)
    if cfg.damp_losses and least < 0:
        # Signed losses (two models' difference) are damped above their least value: the
        # same order, and the same protection against a tail of high values. (Damping
        # both sides of zero instead let later spotlights return to the fringe of the first.)
        l64 = l64 - least
    if cfg.damp_losses:
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


def _device(device: Any, comm: Communicator, *tensors: Any) -> torch.device:
    """The compute device: the communicator's when it reduces on one (NCCL), else as usual."""
    if device is None and comm.device is not None:
        return comm.device
    dev = resolve_device(device, *tensors)
    if comm.device is not None and dev.type != comm.device.type:
        raise ValueError(f"this process group reduces {comm.device.type} tensors (NCCL); got device={dev}")
    return dev


def _fingerprint(n, size_list, cfg, barrier, dtype, seed, inits, after, has_counts) -> str:
    """What must be the same on every process, as text (the preset holds the restarts)."""
    starts = [None if sp is None else (np.asarray(sp.center).round(12).tolist()[:4], sp.precision) for sp in inits]
    return repr(
        {
            "n": int(n),
            "size": [float(s) if not isinstance(s, (int, np.integer)) else int(s) for s in size_list],
            "preset": cfg,
            "barrier": float(barrier),
            "dtype": str(dtype),
            "seed": int(seed),
            "init": starts,
            "after": len(after),
            "counts": has_counts,
        }
    )


def _as_cancel(cancel) -> CancelFn | None:
    if cancel is None:
        return None
    if hasattr(cancel, "is_set"):
        return cancel.is_set
    if callable(cancel):
        return cancel
    raise TypeError("cancel must be a threading.Event-like object or a callable returning bool")


def _make_spotlights(kernel, losses, counts, sizes, centers, precisions, trajs, preset, rank, space) -> list[Spotlight]:
    """One spotlight per column of ``kernel``: a ``Spotlight`` of all rows on one process, a
    ``ShardedSpotlight`` of this process's rows when sharded; summary numbers are global."""
    comm = space.comm
    w_all = kernel.double().cpu().numpy()
    n_cols = w_all.shape[1]
    c = np.ones(w_all.shape[0]) if counts is None else counts
    local = np.array(
        [[(c * w_all[:, j]).sum(), (c * w_all[:, j] * losses).sum(), (w_all[:, j] > 0).sum()] for j in range(n_cols)]
    )
    glob = comm.sum(torch.from_numpy(local)).numpy()
    int_sizes = [round(s) for s in sizes]
    orders = []
    for j in range(n_cols):
        members = np.flatnonzero(w_all[:, j] > 0)
        orders.append(members[np.argsort(-w_all[members, j], kind="stable")])
    n_top = top_counts(w_all, counts, orders, int_sizes, comm)
    tops = [order[:m] for order, m in zip(orders, n_top)]
    top_glob = comm.sum(
        torch.tensor([[(c[top] * losses[top]).sum(), c[top].sum(), top.shape[0]] for top in tops], dtype=torch.float64)
    ).numpy()
    spots: list[Spotlight] = []
    for j in range(n_cols):
        mass = float(glob[j, 0])
        fields = dict(
            weights=w_all[:, j].copy(),
            indices=orders[j],
            weighted_loss=float(glob[j, 1] / mass),
            top_loss=float(top_glob[j, 0] / top_glob[j, 1]),
            mass=mass,
            size=int_sizes[j],
            center=centers[j].double().cpu().numpy(),
            precision=float(precisions[j]),
            objective=float(trajs.objective[j]),
            history=history_of(trajs, j),
            preset=preset,
            rank=rank,
            converged=bool(trajs.converged[j]),
            counts=counts,
            losses=losses,
        )
        if not comm.sharded:
            spots.append(Spotlight(**fields))
            continue
        spots.append(
            ShardedSpotlight(
                **fields,
                shard=comm.rank,
                shards=comm.size,
                row_offset=space.row_offset,
                total_rows=space.total_rows,
                members=int(round(glob[j, 2])),
                top_rows=int(round(top_glob[j, 2])),
                local_top=tops[j],
            )
        )
    return spots


def history_of(trajs, j: int) -> SearchHistory:
    """Column ``j`` of a batched search's trajectory as the history a Spotlight keeps."""
    return SearchHistory(
        objective=trajs.history[:, j, 0],
        mass=trajs.history[:, j, 1],
        lr=trajs.history[:, j, 2],
        width=trajs.history[:, j, 3],
        stage=trajs.stage,
    )
