"""The communicator of a sharded search (defined in ``spotlight_widget.engine.comm``).

``Comm`` wraps one ``torch.distributed`` process group; ``agree`` is the exchange of input
errors at the start of a run, which the launcher also uses around its file handling.
"""

from __future__ import annotations

from typing import Any

from ..engine.comm import GroupComm as Comm
from ..engine.comm import ShardError


def agree(comm: Comm, error: BaseException | None, fingerprint: Any = None, info: Any = None) -> list[Any]:
    """``comm.agree``: raise the same ``ShardError`` on every process when any had ``error``."""
    return comm.agree(error, fingerprint, info)


__all__ = ["Comm", "ShardError", "agree"]
