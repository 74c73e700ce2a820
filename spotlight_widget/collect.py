"""Collect embeddings, per-example losses and predictions from a model in one pass.

:func:`collect` runs a PyTorch model over a DataLoader, a Dataset or an ``(inputs, targets)``
pair and returns a :class:`Collected` that the explorer and :func:`~spotlight_widget.find_spotlight`
take directly::

    c = collect(model, loader)
    spot = find_spotlight(c.embeddings, c.losses)
    ex = SpotlightExplorer(**c.as_kwargs(), items=images)
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ._params import InstanceOf, Interval, Options, validate_params

__all__ = ["Collected", "collect"]

LOSSES = ("binary_cross_entropy", "cross_entropy", "l1", "mse")
_INPUT_KEYS = ("input", "inputs", "x")
_TARGET_KEYS = ("target", "targets", "label", "labels", "y")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Collected:
    """What :func:`collect` returns: one row per example, in the order of the data.

    Attributes
    ----------
    embeddings : numpy.ndarray
        (N, d) float32 features of the chosen layer (pooled or flattened to one row each).
    losses : numpy.ndarray
        (N,) float64 per-example losses.
    predictions : numpy.ndarray or None
        (N,) int64 predicted classes for the classification losses; None otherwise.
    labels : numpy.ndarray or None
        (N,) targets when they are one class index per example; None otherwise.
    probs : numpy.ndarray or None
        (N, C) float32 class probabilities (softmax, or sigmoid for binary cross-entropy);
        None for regression losses and loss callables.

    Examples
    --------
    >>> c = collect(model, loader)  # doctest: +SKIP
    >>> find_spotlight(c.embeddings, c.losses)  # doctest: +SKIP
    >>> SpotlightExplorer(**c.as_kwargs(), items=images)  # doctest: +SKIP
    """

    embeddings: np.ndarray
    losses: np.ndarray
    predictions: np.ndarray | None = None
    labels: np.ndarray | None = None
    probs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.losses)

    def as_kwargs(self) -> dict[str, np.ndarray | None]:
        """The arrays as keyword arguments of :class:`~spotlight_widget.SpotlightExplorer`.

        Returns
        -------
        dict
            ``embeddings``, ``losses``, ``labels``, ``predictions`` and ``probs``.
        """
        return {
            "embeddings": self.embeddings,
            "losses": self.losses,
            "labels": self.labels,
            "predictions": self.predictions,
            "probs": self.probs,
        }


@validate_params(
    {
        "model": [InstanceOf(nn.Module, "torch.nn.Module")],
        "layer": [None, str],
        "loss": [Options(set(LOSSES)), callable],
        "device": [None, str, InstanceOf(torch.device, "torch.device")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "pool": [None, Options({"mean", "max"})],
        "progress": [bool],
    }
)
def collect(
    model: nn.Module,
    data: Any,
    *,
    layer: str | None = None,
    loss: str | LossFn = "cross_entropy",
    device: str | torch.device | None = None,
    batch_size: int = 256,
    pool: str | None = "mean",
    progress: bool = True,
) -> Collected:
    """Run ``model`` over ``data`` once and keep each example's embedding, loss and prediction.

    Parameters
    ----------
    model : torch.nn.Module
        The model. Its output may be a tensor, a tuple or list (the first element is used)
        or a dict (its ``"logits"``, or its only tensor value).
    data : DataLoader, Dataset or (inputs, targets)
        A ``torch.utils.data.DataLoader`` (used as is: keep ``shuffle=False`` so rows stay
        aligned with your images and metadata), a Dataset (batched by ``batch_size`` in
        order), or a pair of tensors or arrays with one row per example. Each batch is
        ``(inputs, targets, ...)`` (further items are ignored) or a dict with an input key
        (``"input"``, ``"inputs"`` or ``"x"``) and a target key (``"target"``, ``"targets"``,
        ``"label"``, ``"labels"`` or ``"y"``).
    layer : str, optional
        Name of the module (as in ``model.named_modules()``) whose *output* is the
        embedding. Default: the *input* of the model's last registered ``nn.Linear``, i.e.
        its penultimate features.
    loss : {"cross_entropy", "binary_cross_entropy", "mse", "l1"} or callable
        Per-example loss. ``"cross_entropy"`` takes (B, C) logits and class indices (or
        (B, C) class probabilities); ``"binary_cross_entropy"`` takes logits and 0/1
        targets of the same size (averaged over labels for multi-label outputs); ``"mse"``
        and ``"l1"`` average over each example's outputs. A callable receives
        ``(outputs, targets)`` and must return a (B,) tensor.
    device : str or torch.device, optional
        Where the model runs and batches are sent. Default: the device of the model's
        first parameter (CPU for a model without parameters). The model is not moved.
    batch_size : int
        Batch size when ``data`` is a Dataset or a pair of arrays.
    pool : {"mean", "max"} or None
        How feature maps with more than two dimensions, (B, C, ...) such as (B, C, H, W),
        become one row per example: the mean or max over the trailing (spatial)
        dimensions, or None to flatten them.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Collected
        Embeddings, losses, predictions, labels and probabilities, one row per example.

    Raises
    ------
    ValueError
        When ``layer`` names no module (close names are listed), the model has no
        ``nn.Linear`` and no ``layer`` is given, a batch has no targets, or the loss does
        not fit the model's outputs.

    Notes
    -----
    The pass runs in eval mode under ``torch.no_grad()``; every submodule's train/eval
    mode is restored afterwards, and the hook removed, also when an error is raised.
    Results are copied to host arrays batch by batch (allocated once the first batch
    tells their shapes), so memory grows with the collected outputs, not with the
    activations.
    """
    loader = _as_loader(data, batch_size)
    module, use_input = _resolve_layer(model, layer)
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    loss_fn = _LOSSES[loss] if isinstance(loss, str) else _custom_loss(loss)

    captured: list[torch.Tensor] = []

    def keep_input(_module: nn.Module, args: tuple) -> None:
        captured.append(args[0])

    def keep_output(_module: nn.Module, _args: tuple, output: Any) -> None:
        captured.append(output[0] if isinstance(output, tuple | list) else output)

    try:
        n = len(loader.dataset)  # type: ignore[arg-type]
    except TypeError:
        n = None
    rows = {name: _Rows(n) for name in ("embeddings", "losses", "predictions", "labels", "probs")}
    modes = {m: m.training for m in model.modules()}
    handle = module.register_forward_pre_hook(keep_input) if use_input else module.register_forward_hook(keep_output)
    try:
        model.eval()
        with torch.no_grad():
            for inputs, targets in _batches(loader, progress):
                captured.clear()
                outputs = _logits(model(_to(inputs, device)))
                if not captured:
                    raise ValueError(
                        f"collect: layer {_layer_name(model, module)!r} was not called by the forward pass"
                    )
                targets = torch.as_tensor(_to(targets, device))
                losses, predictions, probs = loss_fn(outputs, targets)
                rows["embeddings"].add(_features(captured[-1], pool, len(outputs)).float().cpu().numpy())
                rows["losses"].add(losses.double().cpu().numpy())
                rows["predictions"].add(None if predictions is None else predictions.long().cpu().numpy())
                rows["probs"].add(None if probs is None else probs.float().cpu().numpy())
                is_index = targets.ndim == 1 and not torch.is_floating_point(targets)
                rows["labels"].add(targets.cpu().numpy() if is_index else None)
    finally:
        handle.remove()
        for m, training in modes.items():
            m.train(training)
    if rows["losses"].data is None:
        raise ValueError("collect: data has no examples")
    return Collected(**{name: r.result() for name, r in rows.items()})


class _Rows:
    """Host rows filled batch by batch: preallocated once the first batch gives the shape."""

    def __init__(self, capacity: int | None) -> None:
        self.capacity = capacity
        self.data: np.ndarray | None = None
        self.filled = 0
        self.missing = False

    def add(self, batch: np.ndarray | None) -> None:
        if batch is None:
            self.missing = True
            return
        if self.data is None:
            self.data = np.empty((max(self.capacity or 0, len(batch)), *batch.shape[1:]), dtype=batch.dtype)
        elif batch.shape[1:] != self.data.shape[1:]:
            raise ValueError(
                f"collect: batches disagree on the shape of a row: {self.data.shape[1:]} then {batch.shape[1:]}"
            )
        end = self.filled + len(batch)
        if end > len(self.data):
            # Unknown or understated length (IterableDataset): grow geometrically.
            grown = np.empty((max(end, 2 * len(self.data)), *self.data.shape[1:]), dtype=self.data.dtype)
            self.data = np.concatenate([self.data[: self.filled], grown[self.filled :]])
        self.data[self.filled : end] = batch
        self.filled = end

    def result(self) -> np.ndarray | None:
        if self.missing or self.data is None:
            return None
        return self.data[: self.filled]


def _as_loader(data: Any, batch_size: int) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple | list) and len(data) == 2 and all(_is_array(part) for part in data):
        inputs, targets = (torch.as_tensor(np.asarray(p)) if not torch.is_tensor(p) else p for p in data)
        if len(inputs) != len(targets):
            raise ValueError(f"collect: inputs have {len(inputs)} rows but targets have {len(targets)}")
        return DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=False)
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        return DataLoader(data, batch_size=batch_size, shuffle=False)
    raise TypeError(
        "collect: data must be a torch DataLoader, a Dataset or an (inputs, targets) pair of tensors or arrays; "
        f"got {type(data).__name__}"
    )


def _is_array(value: Any) -> bool:
    return torch.is_tensor(value) or isinstance(value, np.ndarray)


def _batches(loader: DataLoader, progress: bool) -> Iterator[tuple[Any, Any]]:
    from tqdm.auto import tqdm

    try:
        total = len(loader)
    except TypeError:
        total = None
    with tqdm(total=total, unit="batch", desc="collect", disable=not progress) as bar:
        for batch in loader:
            yield _split(batch)
            bar.update()


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, Mapping):
        x = next((batch[k] for k in _INPUT_KEYS if k in batch), None)
        y = next((batch[k] for k in _TARGET_KEYS if k in batch), None)
        if x is not None and y is not None:
            return x, y
        raise ValueError(
            f"collect: a dict batch needs an input key ({', '.join(_INPUT_KEYS)}) and a target key "
            f"({', '.join(_TARGET_KEYS)}); got keys {sorted(map(str, batch))}"
        )
    if isinstance(batch, Sequence) and not isinstance(batch, str) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(
        "collect: each batch must be (inputs, targets, ...) or a dict with input and target keys; "
        f"got {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, Sequence) else "")
    )


def _to(value: Any, device: torch.device) -> Any:
    if torch.is_tensor(value):
        return value.to(device, non_blocking=True)
    if isinstance(value, np.ndarray):
        return torch.as_tensor(value, device=device)
    if isinstance(value, Mapping):
        return {k: _to(v, device) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_to(v, device) for v in value)
    return value


def _resolve_layer(model: nn.Module, layer: str | None) -> tuple[nn.Module, bool]:
    """The module to hook, and whether its input (rather than its output) is the embedding."""
    modules = dict(model.named_modules())
    if layer is None:
        linears = [m for m in modules.values() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError(
                "collect: the model has no nn.Linear whose input could serve as embedding; "
                "name a module with layer= (one of model.named_modules())"
            )
        return linears[-1], True
    if layer not in modules:
        close = difflib.get_close_matches(layer, [name for name in modules if name], n=5, cutoff=0.4)
        hint = f"; close names: {', '.join(repr(c) for c in close)}" if close else ""
        raise ValueError(f"collect: layer {layer!r} is not a module of the model{hint}")
    return modules[layer], False


def _layer_name(model: nn.Module, module: nn.Module) -> str:
    return next(name for name, m in model.named_modules() if m is module)


def _logits(outputs: Any) -> torch.Tensor:
    if torch.is_tensor(outputs):
        return outputs
    if isinstance(outputs, tuple | list) and outputs and torch.is_tensor(outputs[0]):
        return outputs[0]
    if isinstance(outputs, Mapping):
        if torch.is_tensor(outputs.get("logits")):
            return outputs["logits"]
        tensors = [v for v in outputs.values() if torch.is_tensor(v)]
        if len(tensors) == 1:
            return tensors[0]
        raise ValueError(
            f"collect: the model returned a dict without 'logits' and with {len(tensors)} tensors "
            f"(keys {sorted(map(str, outputs))}); return 'logits' or a single tensor"
        )
    raise ValueError(
        "collect: the model must return a tensor, a tuple or list starting with one, or a dict; "
        f"got {type(outputs).__name__}"
    )


def _features(features: torch.Tensor, pool: str | None, batch: int) -> torch.Tensor:
    if not torch.is_tensor(features) or features.ndim == 0 or len(features) != batch:
        got = tuple(features.shape) if torch.is_tensor(features) else type(features).__name__
        raise ValueError(
            f"collect: the layer's features must be a tensor with one row per example ({batch}); got {got}"
        )
    if features.ndim <= 2:
        return features.reshape(batch, -1)
    flat = features.flatten(2)
    if pool == "mean":
        return flat.mean(dim=2)
    if pool == "max":
        return flat.amax(dim=2)
    return flat.flatten(1)


_Computed = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]


def _mismatch(name: str, expected: str, outputs: torch.Tensor, targets: torch.Tensor) -> ValueError:
    return ValueError(
        f"collect: loss={name!r} expects {expected}; got outputs of shape {tuple(outputs.shape)} "
        f"and targets of shape {tuple(targets.shape)} ({targets.dtype})"
    )


def _cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> _Computed:
    expected = "(B, C) logits with C >= 2 and targets of (B,) class indices in [0, C) or (B, C) probabilities"
    if outputs.ndim != 2 or outputs.shape[1] < 2 or len(targets) != len(outputs):
        raise _mismatch("cross_entropy", expected, outputs, targets)
    if torch.is_floating_point(targets):
        if targets.shape != outputs.shape:
            raise _mismatch("cross_entropy", expected, outputs, targets)
    elif targets.ndim != 1 or targets.min() < 0 or targets.max() >= outputs.shape[1]:
        raise _mismatch("cross_entropy", expected, outputs, targets)
    losses = F.cross_entropy(outputs.float(), targets if targets.ndim == 1 else targets.float(), reduction="none")
    return losses, outputs.argmax(dim=1), outputs.float().softmax(dim=1)


def _binary_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> _Computed:
    expected = "logits and 0/1 targets with the same number of values per example"
    if len(targets) != len(outputs) or targets[0].numel() != outputs[0].numel():
        raise _mismatch("binary_cross_entropy", expected, outputs, targets)
    logits = outputs.reshape(len(outputs), -1).float()
    per_value = F.binary_cross_entropy_with_logits(logits, targets.reshape(logits.shape).float(), reduction="none")
    p = logits.sigmoid()
    if logits.shape[1] == 1:
        # One logit: report both classes so that probs columns match the predicted class index.
        return per_value[:, 0], (logits[:, 0] > 0).long(), torch.cat([1 - p, p], dim=1)
    return per_value.mean(dim=1), None, p


def _regression(name: str, per_value: Callable[..., torch.Tensor]) -> Callable[[torch.Tensor, torch.Tensor], _Computed]:
    def compute(outputs: torch.Tensor, targets: torch.Tensor) -> _Computed:
        if len(targets) != len(outputs) or targets[0].numel() != outputs[0].numel():
            raise _mismatch(name, "outputs and targets with the same number of values per example", outputs, targets)
        flat = outputs.reshape(len(outputs), -1).float()
        return per_value(flat, targets.reshape(flat.shape).float(), reduction="none").mean(dim=1), None, None

    return compute


def _custom_loss(fn: LossFn) -> Callable[[torch.Tensor, torch.Tensor], _Computed]:
    def compute(outputs: torch.Tensor, targets: torch.Tensor) -> _Computed:
        losses = fn(outputs, targets)
        if not torch.is_tensor(losses) or losses.shape != (len(outputs),):
            got = tuple(losses.shape) if torch.is_tensor(losses) else type(losses).__name__
            raise ValueError(
                f"collect: the loss callable must return per-example losses of shape ({len(outputs)},) "
                f"(use reduction='none'); got {got}"
            )
        return losses, None, None

    return compute


_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], _Computed]] = {
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
    "mse": _regression("mse", F.mse_loss),
    "l1": _regression("l1", F.l1_loss),
}
