"""Which of a model's parameters the influence is taken with respect to, as one flat vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ParamSpace:
    """The chosen parameters, in the model's order, and how they map to a flat vector.

    Attributes
    ----------
    names : tuple of str
        Parameter names (as in ``model.named_parameters()``) that are differentiated.
    shapes : tuple of torch.Size
        Their shapes.
    """

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]

    @property
    def numel(self) -> int:
        return sum(s.numel() for s in self.shapes)

    def unflatten(self, vec: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat (p,) vector (or (B, p) rows) into named views with these shapes."""
        lead = vec.shape[:-1]
        parts = torch.split(vec, [s.numel() for s in self.shapes], dim=-1)
        return {n: p.reshape(*lead, *s) for n, p, s in zip(self.names, parts, self.shapes)}

    def flatten(self, tensors: dict[str, torch.Tensor], batch_dims: int = 0) -> torch.Tensor:
        """Concatenate named tensors (with ``batch_dims`` leading dimensions) into one vector."""
        return torch.cat([tensors[n].reshape(*tensors[n].shape[:batch_dims], -1) for n in self.names], dim=-1)


def _matches(name: str, selector: str) -> bool:
    return name == selector or name.startswith(selector + ".")


def select_parameters(model: nn.Module, layers: str | Sequence[str] | None) -> ParamSpace:
    """Pick the parameters named by ``layers``.

    ``None`` takes every parameter with ``requires_grad``. Otherwise each entry is a module
    name (``"fc"``, ``"layer4"``, ``"encoder.layer.11"``), selecting every parameter under
    it, or a full parameter name (``"fc.weight"``).
    """
    named = [(n, p) for n, p in model.named_parameters()]
    if not named:
        raise ValueError("the model has no parameters")
    if layers is None:
        chosen = [(n, p) for n, p in named if p.requires_grad]
        if not chosen:
            raise ValueError("no parameter of the model requires grad; pass layers=... to choose some")
    else:
        selectors = [layers] if isinstance(layers, str) else list(layers)
        if not selectors or not all(isinstance(s, str) for s in selectors):
            raise TypeError(f"layers must be a module or parameter name, or a list of them; got {layers!r}")
        missing = [s for s in selectors if not any(_matches(n, s) for n, _ in named)]
        if missing:
            modules = sorted({n.rsplit(".", 1)[0] for n, _ in named if "." in n})
            raise ValueError(f"layers {missing} match no parameter; modules with parameters: {modules}")
        chosen = [(n, p) for n, p in named if any(_matches(n, s) for s in selectors)]
    for n, p in chosen:
        if not p.is_floating_point():
            raise TypeError(f"parameter {n} has dtype {p.dtype}; influence needs floating-point parameters")
    return ParamSpace(tuple(n for n, _ in chosen), tuple(p.shape for _, p in chosen))
