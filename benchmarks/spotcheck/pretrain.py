"""Pretrain the backbone once on generic synthetic images: the stand-in for ImageNet weights.

SpotCheck's models start from an ImageNet ResNet-18, whose features already tell colours,
textures, shapes and positions apart; an EC's blindspots are conjunctions of such
properties. Without downloads or the compute for ImageNet, the backbone here learns them
from images of a *generic* EC: every extra object and every option enabled, no blindspot.
Its task is to predict every visible attribute of an image (multi-label BCE; a
sub-option is masked out when its object is absent, relative-position when there is no
square). Every epoch draws fresh images. The result does not depend on any EC and is
cached next to the ECs.

Training each EC's CNN end to end from scratch instead was measured and rejected: with
8,192 training images a blindspot holds 20-170 flipped images, and after 20 epochs
(9 minutes on the shared 2-core machine) the model had learned the largest blindspot and
not the smallest one (test accuracy inside 0.15 and 1.00).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import EXTRA_OBJECTS, OPTIONS, RELATIVE_POSITION, ExperimentConfig, column
from .images import Geometry, render
from .models import Backbone, prepare

GENERIC = ExperimentConfig(
    seed=0,
    objects=EXTRA_OBJECTS,
    enabled=tuple((layer, option) for layer in ("background", "square", *EXTRA_OBJECTS) for option in OPTIONS[layer]),
    blindspots=(),
)


@dataclass(frozen=True)
class PretrainRecipe:
    """Settings of the backbone's pretraining.

    Attributes
    ----------
    images_per_epoch : int
        Fresh generic images drawn for every epoch.
    epochs : int
        Passes (one per fresh set).
    batch_size : int
        Images per step.
    lr : float
        Adam's initial learning rate, cosine decay to 0.
    width : int
        ``Backbone`` width.
    seed : int
        Seeds the images and the weights.
    """

    images_per_epoch: int = 16_384
    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    width: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("images_per_epoch", "epochs", "batch_size", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")


def targets() -> tuple[str, ...]:
    """The attribute columns the backbone learns to predict."""
    return tuple(c for c in GENERIC.columns() if c != column("background", "presence"))


def attribute_targets(metadata) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) float32 targets and (N, K) float32 mask (1 where the attribute is visible)."""
    names = targets()
    y = np.zeros((len(metadata), len(names)), dtype=np.float32)
    mask = np.ones_like(y)
    for k, name in enumerate(names):
        layer, option = name.split(".", 1)
        values = metadata[name].to_numpy()
        if (layer, option) == RELATIVE_POSITION:
            mask[:, k] = values >= 0
        elif option != "presence" and layer != "background":
            mask[:, k] = metadata[column(layer, "presence")].to_numpy() == 1
        y[:, k] = values > 0
    return y, mask


def pretrain_backbone(
    *, side: int = 64, recipe: PretrainRecipe | None = None, log: Callable[[str], object] | None = None
) -> Backbone:
    """Train a ``Backbone`` to predict the attributes of generic images (module docstring)."""
    recipe = recipe or PretrainRecipe()
    torch.manual_seed(recipe.seed)
    backbone = Backbone(side, width=recipe.width)
    names = targets()
    probe = nn.Linear(backbone.out_features, len(names))
    params = [*backbone.parameters(), *probe.parameters()]
    opt = torch.optim.Adam(params, lr=recipe.lr)
    steps_per_epoch = -(-recipe.images_per_epoch // recipe.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(recipe.seed)
    geometry = Geometry(side)
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        split = render(
            GENERIC, recipe.images_per_epoch, np.random.default_rng((recipe.seed, 100, epoch)), geometry=geometry
        )
        y, mask = (torch.from_numpy(a) for a in attribute_targets(split.metadata))
        x = torch.from_numpy(np.ascontiguousarray(split.images.transpose(0, 3, 1, 2)))
        backbone.train()
        order = torch.randperm(x.shape[0], generator=gen)
        total, wrong = 0.0, torch.zeros(len(names))
        for i in range(0, order.numel(), recipe.batch_size):
            idx = order[i : i + recipe.batch_size]
            logits = probe(backbone(prepare(x[idx])))
            per = nn.functional.binary_cross_entropy_with_logits(logits, y[idx], reduction="none") * mask[idx]
            loss = per.sum() / mask[idx].sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach()) * idx.numel()
            wrong += (((logits.detach() >= 0).float() != y[idx]).float() * mask[idx]).sum(0)
        if log is not None:
            err = wrong / mask.sum(0)
            worst = int(err.argmax())
            log(
                f"pretrain epoch {epoch}/{recipe.epochs}: loss {total / order.numel():.4f}, mean attribute error "
                f"{float(err.mean()):.4f} (worst {names[worst]} {float(err[worst]):.3f}), {time.perf_counter() - start:.0f} s"
            )
    backbone.eval()
    return backbone


def backbone_key(side: int, recipe: PretrainRecipe) -> str:
    """File name (without suffix) of the backbone pretrained with these settings."""
    fields = "-".join(f"{k}{v}" for k, v in asdict(recipe).items())
    return f"backbone-side{side}-{fields}"


def load_backbone(
    cache: Path, *, side: int = 64, recipe: PretrainRecipe | None = None, log: Callable[[str], object] | None = None
) -> Backbone:
    """The pretrained backbone from ``cache``, pretraining and saving it first if missing."""
    recipe = recipe or PretrainRecipe()
    path = Path(cache) / f"{backbone_key(side, recipe)}.pt"
    backbone = Backbone(side, width=recipe.width)
    if path.exists():
        backbone.load_state_dict(torch.load(path, weights_only=True))
    else:
        backbone = pretrain_backbone(side=side, recipe=recipe, log=log)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(backbone.state_dict(), tmp)
        tmp.replace(path)
    backbone.eval()
    return backbone
