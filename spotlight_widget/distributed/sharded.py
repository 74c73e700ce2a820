"""The spotlight search over data sharded across the processes of a ``torch.distributed`` group.

There is one search (``spotlight_widget.engine.search``); it runs on a communicator, and here
that communicator is the process group. Every step of the search is a sum over examples
followed by the same small update on every process, so adding the sums across processes
(one all-reduce) makes the sharded search follow the single-process one; the engine's module
docstring lists how what is not a sum (input checks, draws, the top-S set) is handled. A
process may hold no rows at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..engine.comm import GroupComm
from ..engine.optimize import CancelFn, ProgressFn
from ..engine.presets import Preset
from ..engine.result import Spotlight
from ..engine.search import search
from ..engine.shards import ShardedSpotlight

__all__ = ["ShardedSpotlight", "find_spotlights_sharded"]


def find_spotlights_sharded(
    embeddings: Any,
    losses: Any,
    *,
    n: int = 3,
    size: float | Sequence[float | int] = 0.02,
    process_group: Any,
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
) -> list[ShardedSpotlight] | list[list[ShardedSpotlight]]:
    """``find_spotlights`` on this process's shard; see ``find_spotlights(process_group=...)``.

    Counts may be given on every process or on none. ``after`` holds spotlights of these
    same shards (their local weights). ``progress`` and ``cancel`` may be given on any
    processes: a cancel on one process stops all of them (each raises ``SearchCancelled``).
    """
    return search(
        embeddings,
        losses,
        comm=GroupComm(process_group),
        caller="find_spotlights_sharded",
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
    )
