"""Spotlight search on data sharded across processes (``torch.distributed``).

Three ways in:

- ``find_spotlights(..., process_group=group)`` (and ``find_spotlight``): call on every
  process of an initialised group with that process's rows; every process gets the same
  spotlights (see ``ShardedSpotlight`` for what refers to local rows).
- ``torchrun --nproc-per-node=G -m spotlight_widget.distributed find EMB LOSSES --size 0.01
  -n 5 -o OUT/``: one shard file per process, results written to ``OUT/`` (see
  ``spotlight_widget.distributed.launcher``).
- ``load_run(OUT, sample=...)``: read such a run back, on all rows or a sample of them.
"""

from .comm import Comm, ShardError
from .run_files import RunView, load_run
from .sharded import ShardedSpotlight, find_spotlights_sharded

__all__ = [
    "Comm",
    "RunView",
    "ShardError",
    "ShardedSpotlight",
    "find_spotlights_sharded",
    "load_run",
]
