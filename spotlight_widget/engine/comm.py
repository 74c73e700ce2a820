"""How the processes of a search combine their sums: one process alone, or a ``torch.distributed`` group.

Every search runs through a communicator. On one process it is ``LocalComm``, a world of one
process whose reductions are the identity; ``find_spotlights(..., process_group=group)``
uses ``GroupComm``, whose reductions are all-reduces over the group (sums and maxima of
small tensors, plus one ``all_gather_object`` at the start of a search, where the processes
compare their arguments and report their input errors to each other).

``torch.distributed`` is imported only when a ``GroupComm`` is created.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import torch


class ShardError(ValueError):
    """A problem with the inputs of one or more processes, raised on every process alike."""


class Communicator(Protocol):
    """What the search needs from the processes it runs on.

    Attributes
    ----------
    rank, size : int
        This process's rank among the processes, and their number.
    sharded : bool
        True when the data is a shard of a larger data set (results are then
        ``ShardedSpotlight`` objects describing this process's rows).
    device : torch.device or None
        The device the reductions run on when they need one (NCCL: the current CUDA
        device); None when any device works.
    """

    rank: int
    size: int
    sharded: bool
    device: torch.device | None

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Elementwise sum of ``t`` over the processes."""
        ...

    def max(self, t: torch.Tensor) -> torch.Tensor:
        """Elementwise maximum of ``t`` over the processes."""
        ...

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is True on any."""
        ...

    def per_process(self, values: Any) -> torch.Tensor:
        """(size, ...) float64: every process's ``values``, in rank order."""
        ...

    def agree(self, error: BaseException | None, fingerprint: Any = None, info: Any = None) -> list[Any]:
        """Raise on every process when any process had an input ``error`` or a different
        ``fingerprint`` of its arguments; otherwise return every process's ``info``."""
        ...


class LocalComm:
    """One process holding all the data: every reduction is the identity."""

    rank = 0
    size = 1
    sharded = False
    device = None

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def max(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def any(self, flag: bool) -> bool:
        return bool(flag)

    def per_process(self, values: Any) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float64)[None]

    def agree(self, error: BaseException | None, fingerprint: Any = None, info: Any = None) -> list[Any]:
        # Nobody else to tell: the error reaches the caller as it was raised.
        if error is not None:
            raise error
        return [info]


class GroupComm:
    """Reductions over the processes of ``group`` (a ``torch.distributed`` process group).

    Tensors are moved to the group's device for the reduction (the current CUDA device for
    NCCL, the CPU otherwise) and the result comes back on the tensor's own device.

    Attributes
    ----------
    rank, size : int
        This process's rank in the group, and the group's size.
    calls, bytes, seconds : int, int, float
        Reductions so far, bytes of their payloads (what one process contributes) and wall
        time spent in them (including waiting for the slowest process; meaningful on CPU
        backends, where the reduction is synchronous).
    """

    sharded = True

    def __init__(self, group: Any):
        import torch.distributed as dist

        if not dist.is_available():
            raise RuntimeError("process_group needs torch.distributed, which this build of torch lacks")
        if not dist.is_initialized():
            raise RuntimeError(
                "process_group was given but torch.distributed is not initialised: call "
                "torch.distributed.init_process_group(...) first (torchrun sets up its environment)"
            )
        if not isinstance(group, dist.ProcessGroup):
            raise TypeError(
                "process_group must be a torch.distributed.ProcessGroup, e.g. torch.distributed.group.WORLD; "
                f"got {type(group).__name__}"
            )
        self._dist = dist
        self.group = group
        self.rank = dist.get_rank(group)
        if self.rank < 0:
            raise RuntimeError("this process is not a member of process_group")
        self.size = dist.get_world_size(group)
        self.backend = str(dist.get_backend(group))
        self.device = torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else None
        self.calls = 0
        self.bytes = 0
        self.seconds = 0.0

    def _reduce(self, t: torch.Tensor, op) -> torch.Tensor:
        buf = t.detach().to(self.device or "cpu").clone().contiguous()
        start = time.perf_counter()
        self._dist.all_reduce(buf, op=op, group=self.group)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.bytes += buf.numel() * buf.element_size()
        return buf.to(t.device)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        return self._reduce(t, self._dist.ReduceOp.SUM)

    def max(self, t: torch.Tensor) -> torch.Tensor:
        return self._reduce(t, self._dist.ReduceOp.MAX)

    def any(self, flag: bool) -> bool:
        return bool(self.sum(torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)) > 0)

    def per_process(self, values: Any) -> torch.Tensor:
        local = torch.as_tensor(values, dtype=torch.float64)
        buf = torch.zeros((self.size, *local.shape), dtype=torch.float64)
        buf[self.rank] = local
        return self.sum(buf)

    def objects(self, obj: Any) -> list[Any]:
        """Every process's picklable ``obj``, in rank order."""
        out: list[Any] = [None] * self.size
        start = time.perf_counter()
        self._dist.all_gather_object(out, obj, group=self.group)
        self.seconds += time.perf_counter() - start
        return out

    def agree(self, error: BaseException | None, fingerprint: Any = None, info: Any = None) -> list[Any]:
        """Exchange local errors (and a description of the arguments) among the processes.

        Every process calls this at the same point. When every process had the same error
        (e.g. the same bad argument everywhere), each raises it as it was raised, as one
        process would. When only some had one, or different ones, or the fingerprints
        differ, every process raises the same ``ShardError`` naming the ranks concerned, so
        none of them is left waiting in a later collective. Otherwise returns every
        process's ``info`` (anything picklable), in rank order.
        """
        local = None if error is None else f"{type(error).__name__}: {error}"
        gathered = self.objects((local, fingerprint, info))
        problems = [(rank, msg) for rank, (msg, _, _) in enumerate(gathered) if msg is not None]
        if error is not None and len(problems) == self.size and all(msg == local for _, msg in problems):
            raise error
        if problems:
            lines = "; ".join(f"rank {rank}: {msg}" for rank, msg in problems)
            where = "1 process" if len(problems) == 1 else f"{len(problems)} processes"
            exc = ShardError(f"{where} of {self.size} failed: {lines}")
            if error is not None:
                raise exc from error
            raise exc
        prints = [fp for _, fp, _ in gathered]
        if fingerprint is not None and any(fp != prints[0] for fp in prints):
            differ = [rank for rank, fp in enumerate(prints) if fp != prints[0]]
            raise ShardError(
                f"the processes were called with different arguments (ranks {differ} differ from rank 0): "
                f"rank 0 {prints[0]}; rank {differ[0]} {prints[differ[0]]}"
            )
        return [inf for _, _, inf in gathered]

    def barrier(self) -> None:
        # A reduction rather than dist.barrier: NCCL's barrier guesses a device.
        self.sum(torch.zeros(1))

    def counters(self) -> tuple[int, int, float]:
        return self.calls, self.bytes, self.seconds
