"""Saliency for torch models that have none: vanilla gradients and integrated gradients.

Any other saliency method works with the metrics too; these two are here so that a user
with only a model and data can start. Both differentiate the model's output for a target
(by default its predicted class) with respect to the input, batch by batch, and reduce the
feature axis (image channels, embedding dimensions) so the maps line up with the
annotations: (N, C, H, W) images give (N, H, W) maps, (N, L, D) token embeddings (N, L).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

from .._inputs import _nonfinite_message

Reduce = Literal["abs_sum", "sum", "none"]
ChannelDim = int | None | Literal["auto"]


def _as_inputs(inputs: Any, model: Callable, device: str | torch.device | None) -> torch.Tensor:
    if inputs is None:
        raise TypeError("inputs are required; got None")
    x = inputs.detach() if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
    parameter = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    if not x.is_floating_point():
        raise TypeError(
            f"inputs must be floating point (gradients need real-valued inputs); got {x.dtype}. "
            "For token ids, pass the embeddings (N, L, D) and a model that takes them."
        )
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"inputs must be a non-empty batch (N, ...); got shape {tuple(x.shape)}")
    message = _nonfinite_message("inputs", x)
    if message is not None:
        raise ValueError(message)
    if parameter is not None and parameter.is_floating_point():
        # numpy hands over float64; the model's weights decide the precision and, unless
        # told otherwise, the device.
        x = x.to(dtype=parameter.dtype, device=parameter.device if device is None else device)
    elif device is not None:
        x = x.to(device)
    return x


def _resolve_channel_dim(channel_dim: ChannelDim, ndim: int) -> int | None:
    if channel_dim == "auto":
        return {4: 1, 3: 2}.get(ndim)
    if channel_dim is None:
        return None
    if isinstance(channel_dim, bool) or not isinstance(channel_dim, numbers.Integral):
        raise TypeError(f"channel_dim must be an int, None or 'auto'; got {channel_dim!r}")
    dim = int(channel_dim) % ndim if -ndim <= channel_dim < ndim else None
    if dim is None or dim == 0:
        raise ValueError(f"channel_dim {channel_dim} is not a feature axis of {ndim}-D inputs (axis 0 is the batch)")
    return dim


def _reduce(grads: torch.Tensor, reduce: Reduce, dim: int | None) -> torch.Tensor:
    if reduce not in ("abs_sum", "sum", "none"):
        raise ValueError(f"reduce must be 'abs_sum', 'sum' or 'none'; got {reduce!r}")
    if reduce == "none" or dim is None:
        return grads.abs() if reduce == "abs_sum" else grads
    return grads.abs().sum(dim) if reduce == "abs_sum" else grads.sum(dim)


def _scalar_outputs(outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """The output to explain, one scalar per example."""
    if outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1):
        if target is not None:
            raise ValueError("the model has one output per example (regression); leave target=None")
        return outputs.reshape(-1)
    if outputs.ndim != 2:
        raise ValueError(f"the model must return (N,) or (N, K) outputs; got shape {tuple(outputs.shape)}")
    if target is None:
        raise RuntimeError("a classification target must be resolved before differentiating")
    return outputs.gather(1, target[:, None]).squeeze(1)


def _targets(model: Callable, x: torch.Tensor, target: Any, batch_size: int) -> torch.Tensor | None:
    """Per-example class indices: given, broadcast from one int, or the model's prediction."""
    n = x.shape[0]
    if target is None:
        with torch.no_grad():
            outs = [model(x[a : a + batch_size]) for a in range(0, n, batch_size)]
        if outs[0].ndim == 1 or (outs[0].ndim == 2 and outs[0].shape[1] == 1):
            return None
        return torch.cat([o.argmax(1) for o in outs])
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        return torch.full((n,), int(target), dtype=torch.long, device=x.device)
    t = torch.as_tensor(target.to_numpy() if hasattr(target, "to_numpy") else target)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"target must be class indices (integers); got {t.dtype}")
    t = t.reshape(-1).to(device=x.device, dtype=torch.long)
    if t.shape[0] != n:
        raise ValueError(f"target has {t.shape[0]} entries but inputs have {n}")
    return t


def _check_target_range(outputs: torch.Tensor, target: torch.Tensor | None) -> None:
    if target is not None and outputs.ndim == 2 and outputs.shape[1] > 1:
        bad = (target < 0) | (target >= outputs.shape[1])
        if bool(bad.any()):
            raise ValueError(f"target {int(target[bad][0])} is out of range for {outputs.shape[1]} classes")


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    return int(batch_size)


def _warn_if_training(model: Callable) -> None:
    if isinstance(model, torch.nn.Module) and model.training:
        warnings.warn(
            "the model is in training mode: dropout and batch statistics make saliency random; call model.eval()",
            stacklevel=3,
        )


def vanilla_gradients(
    model: Callable[[torch.Tensor], torch.Tensor],
    inputs: Any,
    target: Any = None,
    *,
    reduce: Reduce = "abs_sum",
    channel_dim: ChannelDim = "auto",
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Vanilla gradient saliency (Simonyan et al., 2013): d output[target] / d input.

    Parameters
    ----------
    model : callable
        Maps a batch of inputs to (N, K) class scores (logits) or (N,) regression outputs.
        Call ``model.eval()`` first; a model in training mode triggers a warning.
    inputs : array-like
        (N, C, H, W) images, (N, L, D) token embeddings, (N, H, W) or (N, d); floating point.
    target : int or array-like of int, optional
        Class to explain: one for all, or one per example. Default: the model's predicted
        class. Must be None for a regression model.
    reduce : {"abs_sum", "sum", "none"}, default "abs_sum"
        How the feature axis is collapsed: the sum of absolute gradients (default: a
        gradient's sign says which way a pixel should move, not whether it matters), the
        plain sum, or nothing (the gradient's full shape).
    channel_dim : int, None or "auto", default "auto"
        The feature axis to collapse; "auto" means axis 1 of 4-D inputs (channels first)
        and the last axis of 3-D inputs (token embeddings). Pass None for (N, H, W)
        single-channel images, which need no collapsing.
    batch_size : int, default 256
        Examples per forward and backward pass.
    device : str or torch.device, optional
        Where to compute; default: the device of the model's parameters (for a
        ``torch.nn.Module``, whose parameter dtype the inputs also take), else the inputs'.
        The model must already be there.

    Returns
    -------
    torch.Tensor
        Saliency maps, detached, on the compute device: (N, H, W) for images, (N, L) for
        token embeddings.
    """
    _warn_if_training(model)
    x = _as_inputs(inputs, model, device)
    batch_size = _check_batch_size(batch_size)
    dim = _resolve_channel_dim(channel_dim, x.ndim)
    targets = _targets(model, x, target, batch_size)
    maps = []
    for a in range(0, x.shape[0], batch_size):
        chunk = x[a : a + batch_size].clone().requires_grad_(True)
        with torch.enable_grad():
            outputs = model(chunk)
            t = None if targets is None else targets[a : a + batch_size]
            _check_target_range(outputs, t)
            (grad,) = torch.autograd.grad(_scalar_outputs(outputs, t).sum(), chunk)
        maps.append(_reduce(grad, reduce, dim))
    return torch.cat(maps)


def _as_baseline(baseline: Any, x: torch.Tensor) -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    b = baseline.detach() if isinstance(baseline, torch.Tensor) else torch.as_tensor(np.asarray(baseline))
    b = b.to(device=x.device, dtype=x.dtype)
    if tuple(b.shape) == tuple(x.shape[1:]):
        b = b.expand_as(x)
    if tuple(b.shape) != tuple(x.shape):
        raise ValueError(
            f"baseline must be a number, one input of shape {tuple(x.shape[1:])} or a batch of shape "
            f"{tuple(x.shape)}; got {tuple(b.shape)}"
        )
    if not bool(torch.isfinite(b).all()):
        raise ValueError("baseline has NaN or infinite values")
    return b


def integrated_gradients(
    model: Callable[[torch.Tensor], torch.Tensor],
    inputs: Any,
    target: Any = None,
    *,
    baseline: Any = None,
    steps: int = 32,
    reduce: Reduce = "sum",
    channel_dim: ChannelDim = "auto",
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al., 2017).

    The attribution of feature i is ``(x_i - b_i)`` times the average gradient along the
    straight path from the baseline b to the input x. The path integral is computed with
    ``steps``-point Gauss-Legendre quadrature, exact for outputs that are polynomials of
    degree < 2 * steps along the path, so fewer steps are needed than with a Riemann sum
    for the same completeness error.

    Parameters
    ----------
    model : callable
        Maps a batch of inputs to (N, K) class scores or (N,) regression outputs.
    inputs : array-like
        As for :func:`vanilla_gradients`.
    target : int or array-like of int, optional
        Class to explain; default: the model's predicted class for the input.
    baseline : float or array-like, optional
        The reference input: a number, one input-shaped array, or one per example. Default 0.
    steps : int, default 32
        Quadrature points along the path.
    reduce : {"sum", "abs_sum", "none"}, default "sum"
        How the feature axis is collapsed. The signed sum (default) keeps completeness:
        the attributions of an example add up to ``f(x) - f(baseline)``, and features that
        push the output up score highest, as threshold rules expect.
    channel_dim : int, None or "auto", default "auto"
        As for :func:`vanilla_gradients`.
    batch_size : int, default 256
        Path points per forward and backward pass (examples x steps are split into chunks).
    device : str or torch.device, optional
        As for :func:`vanilla_gradients`.

    Returns
    -------
    torch.Tensor
        Attribution maps, detached: (N, H, W) for images, (N, L) for token embeddings.
    """
    _warn_if_training(model)
    x = _as_inputs(inputs, model, device)
    batch_size = _check_batch_size(batch_size)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    dim = _resolve_channel_dim(channel_dim, x.ndim)
    base = _as_baseline(baseline, x)
    targets = _targets(model, x, target, batch_size)
    nodes, weights = np.polynomial.legendre.leggauss(int(steps))
    alphas = torch.as_tensor((nodes + 1) / 2, dtype=x.dtype, device=x.device)
    alpha_weights = torch.as_tensor(weights / 2, dtype=x.dtype, device=x.device)

    n = x.shape[0]
    feature_shape = x.shape[1:]
    pairs = torch.cartesian_prod(torch.arange(n, device=x.device), torch.arange(int(steps), device=x.device))
    total = torch.zeros_like(x)
    for a in range(0, pairs.shape[0], batch_size):
        ex, st = pairs[a : a + batch_size].unbind(1)
        alpha = alphas[st].reshape(-1, *([1] * len(feature_shape)))
        points = (base[ex] + alpha * (x[ex] - base[ex])).requires_grad_(True)
        with torch.enable_grad():
            outputs = model(points)
            t = None if targets is None else targets[ex]
            _check_target_range(outputs, t)
            (grad,) = torch.autograd.grad(_scalar_outputs(outputs, t).sum(), points)
        weighted = grad * alpha_weights[st].reshape(alpha.shape)
        total.index_add_(0, ex, weighted)
    return _reduce(total * (x - base), reduce, dim)
