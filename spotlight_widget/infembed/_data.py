"""Turn the ``train`` / ``test`` arguments into batches of ``(inputs, targets)`` tensors.

Three forms are accepted, so that users can pass whatever they already have:

- a pair ``(inputs, targets)`` of tensors or arrays with the same first dimension;
- a map-style :class:`torch.utils.data.Dataset` whose items are ``(input, target)`` pairs
  (batched here with :func:`torch.utils.data.default_collate`);
- a :class:`torch.utils.data.DataLoader` yielding ``(inputs, targets)`` batches (used as it
  batches; ``batch_size`` does not re-batch it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

Batch = tuple[torch.Tensor, torch.Tensor]


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    return torch.as_tensor(arr)


def _check_finite(t: torch.Tensor, name: str) -> None:
    if t.is_floating_point() or t.is_complex():
        bad = ~torch.isfinite(t.reshape(t.shape[0], -1)).all(1)
        n_bad = int(bad.sum())
        if n_bad:
            first = torch.nonzero(bad).flatten()[:5].tolist()
            raise ValueError(f"{name} has {n_bad} examples with NaN or infinite values (first at {first})")


@dataclass(frozen=True)
class Examples:
    """A checked source of ``(inputs, targets)`` batches; see the module docstring."""

    name: str
    source: Any
    length: int

    def batches(self, batch_size: int, indices: np.ndarray | None = None) -> Iterator[Batch]:
        """Yield batches in order; ``indices`` restricts tensors and datasets to those rows."""
        if isinstance(self.source, DataLoader):
            yield from (_split_batch(b, self.name) for b in self.source)
            return
        order = np.arange(self.length) if indices is None else indices
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            if isinstance(self.source, tuple):
                x, y = self.source
                idx = torch.as_tensor(rows)
                yield x[idx], y[idx]
            else:
                yield _split_batch(default_collate([self.source[int(i)] for i in rows]), self.name)

    def sample(self, n: int, batch_size: int, generator: np.random.Generator) -> list[Batch]:
        """At most ``n`` examples as a list of batches: a random subset of tensors and
        datasets, the first batches of a DataLoader (its own shuffling decides which)."""
        if isinstance(self.source, DataLoader):
            out, taken = [], 0
            for x, y in self.batches(batch_size):
                keep = min(n - taken, x.shape[0])
                out.append((x[:keep], y[:keep]))
                taken += keep
                if taken >= n:
                    break
            return out
        rows = generator.permutation(self.length)[:n] if n < self.length else None
        return list(self.batches(batch_size, None if rows is None else np.sort(rows)))


def _split_batch(batch: Any, name: str) -> Batch:
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)) or len(batch) != 2:
        raise TypeError(f"{name}: each batch must be an (inputs, targets) pair; got {type(batch).__name__}")
    x, y = batch
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{name}: inputs and targets must be tensors; got {type(x).__name__} and {type(y).__name__}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: a batch has {x.shape[0]} inputs but {y.shape[0]} targets")
    _check_finite(x, f"{name} inputs")
    return x, y


def as_examples(data: Any, name: str) -> Examples:
    """Check ``data`` (a pair of arrays, a Dataset or a DataLoader) and wrap it."""
    if data is None:
        raise TypeError(f"{name} is required; got None")
    if isinstance(data, DataLoader):
        try:
            length = len(data.dataset)  # type: ignore[arg-type]
        except TypeError as exc:
            raise TypeError(f"{name}: the DataLoader's dataset must have a length") from exc
        if length == 0:
            raise ValueError(f"{name} is empty")
        return Examples(name, data, length)
    if isinstance(data, Dataset):
        if not hasattr(data, "__len__"):
            raise TypeError(f"{name}: iterable-style datasets have no length; wrap it in a DataLoader")
        if len(data) == 0:  # type: ignore[arg-type]
            raise ValueError(f"{name} is empty")
        return Examples(name, data, len(data))  # type: ignore[arg-type]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x = _as_tensor(data[0], f"{name} inputs")
        y = _as_tensor(data[1], f"{name} targets")
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"{name}: inputs and targets need a first (example) dimension")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{name} has {x.shape[0]} inputs but {y.shape[0]} targets")
        if x.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        _check_finite(x, f"{name} inputs")
        _check_finite(y, f"{name} targets")
        return Examples(name, (x, y), int(x.shape[0]))
    raise TypeError(
        f"{name} must be an (inputs, targets) pair, a torch Dataset or a DataLoader; got {type(data).__name__}"
    )
