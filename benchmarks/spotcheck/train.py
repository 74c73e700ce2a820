"""Train an EC's head on the frozen backbone's features, select it on val, and read it out.

The recipe follows the spirit of SpotCheck's (``shared/notes/spotcheck.md`` §2, SPIRE's
"transfer" stage: frozen backbone, new head): Adam, one pass over val after every epoch,
keep the weights with the best val accuracy, stop after ``patience`` epochs without a
gain of ``min_gain``. The val labels are flipped like the train labels, so selection
rewards a model that has learned its blindspots. The backbone's features are computed
once per split, so an epoch costs a small MLP's pass and many epochs are cheap.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .models import Backbone, Head, prepare


@dataclass(frozen=True)
class Recipe:
    """Settings of an EC's head.

    Attributes
    ----------
    epochs : int
        Most passes over the train split.
    batch_size : int
        Images per step.
    lr : float
        Adam's initial learning rate (cosine decay to 0 over ``epochs``).
    patience : int
        Stop after this many epochs without a val-accuracy gain of ``min_gain``.
    min_gain : float
        Smallest val-accuracy gain that counts. SPIRE's 0.001 is a few val images here,
        about what learning a blindspot gains, and stopped too early: 0 (any gain).
    hidden, embedding_dim : int
        ``Head`` sizes.
    """

    epochs: int = 200
    batch_size: int = 256
    lr: float = 3e-3
    patience: int = 40
    min_gain: float = 0.0
    hidden: int = 256
    embedding_dim: int = 128

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "hidden", "embedding_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if not self.lr > 0 or not self.min_gain >= 0:
            raise ValueError(f"lr must be > 0 and min_gain >= 0; got {self.lr}, {self.min_gain}")


@dataclass(frozen=True, eq=False)
class Trained:
    """A trained head with its history (one dict per epoch: loss and val accuracy)."""

    head: Head
    history: tuple[dict[str, float], ...]
    best_epoch: int


@torch.no_grad()
def backbone_features(backbone: Backbone, images: np.ndarray, *, batch_size: int = 512) -> torch.Tensor:
    """(N, backbone.out_features) float32 features of uint8 images (N, H, W, 3)."""
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be a (N, H, W, 3) array; got {getattr(images, 'shape', type(images))}")
    backbone.eval()
    x = torch.from_numpy(images)
    return torch.cat([backbone(prepare(x[i : i + batch_size])) for i in range(0, x.shape[0], batch_size)])


@torch.no_grad()
def predict(head: Head, features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, embedding_dim) and logits (N,), float32 numpy arrays."""
    head.eval()
    emb = head.embed(features)
    return emb.numpy().astype(np.float32), head.fc(emb).squeeze(1).numpy().astype(np.float32)


def _labels(labels: np.ndarray, n: int, name: str) -> torch.Tensor:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{name} must be {n} labels in {{0, 1}}; got shape {labels.shape}")
    return torch.from_numpy(labels.astype(np.float32))


def train_head(
    train_features: torch.Tensor,
    train_labels: np.ndarray,
    val_features: torch.Tensor,
    val_labels: np.ndarray,
    *,
    recipe: Recipe | None = None,
    seed: int = 0,
    log: Callable[[str], object] | None = None,
) -> Trained:
    """Train a ``Head`` on (flipped) train labels and keep the best one on (flipped) val labels.

    Parameters
    ----------
    train_features, val_features : torch.Tensor
        (N, F) backbone features of each split.
    train_labels, val_labels : numpy.ndarray
        (N,) 0/1 training targets of each split.
    recipe : Recipe, optional
        Settings (default ``Recipe()``).
    seed : int
        Seeds the initial weights and the batch order.
    log : callable, optional
        Receives a line every 10 epochs.

    Returns
    -------
    Trained
    """
    recipe = recipe or Recipe()
    if train_features.ndim != 2 or val_features.ndim != 2 or train_features.shape[1] != val_features.shape[1]:
        raise ValueError(
            f"features must be (N, F) with the same F; got {tuple(train_features.shape)}, {tuple(val_features.shape)}"
        )
    y_train = _labels(train_labels, train_features.shape[0], "train_labels")
    y_val = _labels(val_labels, val_features.shape[0], "val_labels")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    head = Head(train_features.shape[1], hidden=recipe.hidden, embedding_dim=recipe.embedding_dim)
    head.standardize_on(train_features)
    opt = torch.optim.Adam(head.parameters(), lr=recipe.lr)
    steps = recipe.epochs * -(-train_features.shape[0] // recipe.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    best, best_acc, best_epoch, stale = copy.deepcopy(head.state_dict()), -1.0, 0, 0
    history = []
    for epoch in range(1, recipe.epochs + 1):
        head.train()
        order = torch.randperm(train_features.shape[0], generator=gen)
        total = 0.0
        for i in range(0, order.numel(), recipe.batch_size):
            idx = order[i : i + recipe.batch_size]
            loss = nn.functional.binary_cross_entropy_with_logits(head(train_features[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach()) * idx.numel()
        head.eval()
        with torch.no_grad():
            acc = float(((head(val_features) >= 0).float() == y_val).float().mean())
        history.append({"epoch": epoch, "loss": total / order.numel(), "val_accuracy": acc})
        if log is not None and epoch % 10 == 0:
            log(f"  epoch {epoch}: loss {total / order.numel():.4f}, val accuracy {acc:.4f}")
        if acc > best_acc + recipe.min_gain:
            best, best_acc, best_epoch, stale = copy.deepcopy(head.state_dict()), acc, epoch, 0
        else:
            stale += 1
            if stale >= recipe.patience:
                break
    head.load_state_dict(best)
    head.eval()
    return Trained(head, tuple(history), best_epoch)
