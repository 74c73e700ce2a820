"""Turn user inputs (numpy, torch, pandas, nested lists) into checked tensors.

Every error a user sees about the shape or content of their data comes from here, so
the messages are written for people: they name the argument, the problem and, for
non-finite values, how many there are and where the first ones sit.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

_MAX_ROWS_SHOWN = 5


def resolve_device(device: str | torch.device | None, *tensors: Any) -> torch.device:
    """Pick the compute device.

    ``None`` means: the device of a CUDA tensor among the inputs if there is one,
    else the first CUDA device when CUDA is available, else the CPU.
    """
    if device is not None:
        return torch.device(device)
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.device.type == "cuda":
            return t.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_array_or_tensor(value: Any, name: str) -> np.ndarray | torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if hasattr(value, "to_numpy"):  # pandas DataFrame / Series, polars, pyarrow
        try:
            value = value.to_numpy()
        except Exception as exc:  # pragma: no cover - depends on third-party types
            raise TypeError(f"{name}: could not convert {type(value).__name__} to an array: {exc}") from exc
    try:
        arr = np.asarray(value)
    except ValueError as exc:
        raise ValueError(f"{name}: could not build an array (ragged nested lists?): {exc}") from exc
    return arr


def _check_dtype(arr: np.ndarray | torch.Tensor, name: str) -> None:
    if isinstance(arr, torch.Tensor):
        if arr.is_complex():
            raise TypeError(f"{name} must be real numbers; got complex dtype {arr.dtype}")
        return
    kind = arr.dtype.kind
    if kind in "biuf":
        return
    if kind == "c":
        raise TypeError(f"{name} must be real numbers; got complex dtype {arr.dtype}")
    if kind == "O" and arr.size:
        try:
            arr.astype(np.float64)
            return
        except (TypeError, ValueError):
            pass
    raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")


def _to_tensor(arr: np.ndarray | torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(arr, torch.Tensor):
        return arr.to(device=device, dtype=dtype)
    if arr.dtype.kind == "O" or arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    if arr.dtype.byteorder not in "=|":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if any(stride < 0 for stride in arr.strides):
        arr = np.ascontiguousarray(arr)
    with warnings.catch_warnings():
        # Read-only arrays (memory maps) make torch warn; the engine never writes to its inputs.
        warnings.simplefilter("ignore", UserWarning)
        t = torch.from_numpy(arr)
    return t.to(device=device, dtype=dtype)


def _nonfinite_message(name: str, t: torch.Tensor) -> str | None:
    # Row blocks keep the boolean masks small: a whole (N, d) mask would be a quarter of
    # the embeddings' size at float32, twice over.
    rows = t.shape[0]
    if rows == 0:
        return None
    step = max(1, (1 << 24) // max(1, t[0].numel()))
    bad = torch.cat(
        [~torch.isfinite(t[a : a + step]).reshape(min(step, rows - a), -1).all(1) for a in range(0, rows, step)]
    )
    n_bad = int(bad.sum())
    if n_bad == 0:
        return None
    first = torch.nonzero(bad).flatten()[:_MAX_ROWS_SHOWN].tolist()
    more = ", ..." if n_bad > len(first) else ""
    what = "rows" if t.ndim == 2 else "entries"
    return f"{name} has {n_bad} {what} with NaN or infinite values (first at {first}{more})"


def _same_memory(arr: np.ndarray | torch.Tensor, t: torch.Tensor) -> bool:
    if isinstance(arr, torch.Tensor):
        return arr.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()
    # A bounds check: an overlap it cannot rule out counts as shared (never written to).
    return t.device.type == "cpu" and np.may_share_memory(arr, t.numpy())


def _is_empty(value: Any) -> bool:
    shape = getattr(value, "shape", None)
    if shape is None:
        try:
            return len(value) == 0
        except TypeError:
            return False
    return len(shape) >= 1 and shape[0] == 0


def as_matrix(
    value: Any,
    name: str,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    return_owned: bool = False,
    allow_empty: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, bool]:
    """Convert ``value`` to a finite 2-D tensor of shape (N, d) with N >= 1 and d >= 1.

    With ``return_owned``, also say whether the tensor is a fresh copy (True) that may be
    modified, or may share memory with the caller's data (False). With ``allow_empty``, a
    value without rows (one process's shard of a larger data set may have none) gives a
    (0, d) tensor, d = 0 when the value does not say.
    """
    if value is None:
        raise TypeError(f"{name} is required; got None")
    if allow_empty and _is_empty(value):
        shape = tuple(getattr(value, "shape", (0,)))
        d = shape[1] if len(shape) == 2 else 0
        t = torch.zeros(0, d, dtype=dtype, device=torch.device(device))
        return (t, True) if return_owned else t
    arr = _as_array_or_tensor(value, name)
    _check_dtype(arr, name)
    shape = tuple(arr.shape)
    if len(shape) == 1:
        raise ValueError(
            f"{name} must be 2-D (N examples x d features); got a 1-D array of shape {shape}. "
            f"For a single feature pass {name}[:, None]."
        )
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (N examples x d features); got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {shape}")
    t = _to_tensor(arr, dtype, torch.device(device))
    msg = _nonfinite_message(name, t)
    if msg is not None:
        raise ValueError(msg)
    if return_owned:
        return t, not _same_memory(arr, t)
    return t


def as_vector(
    value: Any,
    name: str,
    *,
    length: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Convert ``value`` to a finite 1-D tensor; (N, 1) columns are accepted and flattened.

    Empty only when ``length`` is 0 (a shard without rows).
    """
    if value is None:
        raise TypeError(f"{name} is required; got None")
    arr = _as_array_or_tensor(value, name)
    _check_dtype(arr, name)
    shape = tuple(arr.shape)
    if len(shape) == 2 and shape[1] == 1:
        arr = arr.reshape(-1)
    elif len(shape) != 1:
        raise ValueError(f"{name} must be 1-D (one value per example); got shape {shape}")
    if arr.shape[0] == 0 and length != 0:
        raise ValueError(f"{name} is empty")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} has {arr.shape[0]} entries but the embeddings have {length} rows")
    t = _to_tensor(arr, dtype, torch.device(device))
    msg = _nonfinite_message(name, t)
    if msg is not None:
        raise ValueError(msg)
    return t


def as_counts(
    value: Any,
    *,
    length: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    allow_all_zero: bool = False,
) -> torch.Tensor | None:
    """Check per-example multiplicities: finite, non-negative, not all zero (unless
    ``allow_all_zero``: one shard's counts may all be zero when another's are not)."""
    if value is None:
        return None
    t = as_vector(value, "counts", length=length, dtype=dtype, device=device)
    n_neg = int((t < 0).sum())
    if n_neg:
        rows = torch.nonzero(t < 0).flatten()[:_MAX_ROWS_SHOWN].tolist()
        raise ValueError(f"counts must be non-negative; {n_neg} entries are negative (first at {rows})")
    if not allow_all_zero and not bool((t > 0).any()):
        raise ValueError("counts are all zero: no example would count")
    return t


def _as_scalar(value: Any) -> Any:
    """A numpy scalar, or a 0-d numpy array or tensor, as the Python number it holds."""
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def resolve_size(size: Any, total: float, n_rows: int) -> float:
    """Turn a user ``size`` into S, a number of (counted) examples.

    A float in (0, 1) is a fraction of the data; an integer >= 1 is a number of examples.
    Numpy scalars and 0-d arrays count as the number they hold; booleans are refused.
    """
    size = _as_scalar(size)
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise TypeError(
            f"size must be a fraction in (0, 1) or an integer number of examples; got {size!r} ({type(size).__name__})"
        )
    if n_rows < 2:
        raise ValueError(f"finding a part of the data needs at least 2 examples; got {n_rows}")
    if isinstance(size, numbers.Integral):
        s = float(size)
        if s < 1:
            raise ValueError(f"size must be >= 1 when given as a number of examples; got {size}")
    else:
        size = float(size)
        if not np.isfinite(size) or size <= 0:
            raise ValueError(f"size must be positive; got {size}")
        if size >= 1:
            raise ValueError(
                f"size={size!r} is a float >= 1: a float is a fraction of the data, in (0, 1); "
                f"an int is a number of examples (e.g. size={max(1, round(size))})"
            )
        s = max(1.0, round(size * total))
    if s >= total:
        raise ValueError(
            f"size {s:g} must be smaller than the data ({total:g} examples): a result is a part of the data"
        )
    return s


def as_sizes(size: Any) -> tuple[list[Any], bool]:
    """Normalise ``size`` to a list; also say whether the user passed a single value.

    A number (numpy scalars and 0-d arrays included) is a single size; a sequence or a 1-d
    array holds several.
    """
    if isinstance(size, (str, bytes)):
        raise TypeError(f"size must be a number or a sequence of numbers; got {size!r}")
    if isinstance(size, (np.ndarray, torch.Tensor)):
        if size.ndim == 0:
            return [size.item()], True
        if size.ndim > 1:
            raise ValueError(
                f"size must be a number or a 1-d sequence of numbers; got an array of shape {tuple(size.shape)}"
            )
        sizes = [_as_scalar(s) for s in size]
    elif isinstance(size, Sequence):
        sizes = [_as_scalar(s) for s in size]
    else:
        return [_as_scalar(size)], True
    if not sizes:
        raise ValueError("size is an empty sequence")
    return sizes, False
