"""The audited model: a small CNN backbone and a per-EC head (no torchvision, no downloads).

SpotCheck fine-tunes an ImageNet ResNet-18 on 224 px images. Here the backbone is a
small CNN trained once, from scratch, on generic synthetic images (``pretrain.py``): it
stands in for the ImageNet weights, whose features already know colours, textures and
shapes. Each EC then trains a ``Head`` on the frozen backbone's pooled features (SPIRE's
"transfer" stage, see ``shared/notes/spotcheck.md`` §2): a hidden layer, whose output is
the penultimate embedding the slice finders receive, then one Linear layer to a single
logit (whose gradients InfEmbed uses), trained with BCE-with-logits.

Two choices make the blindspots learnable at this size:

- two coordinate channels (row and column, in [-1, 1]) are appended to the input, so the
  convolutions can tell where a square is: relative-position (topmost square above the
  middle row) is the clause blindspots use most, and global pooling alone is blind to it;
- the head's hidden layers: a blindspot is a conjunction of 6-8 attributes of different
  objects, which a linear function of pooled features cannot express.
"""

from __future__ import annotations

import torch
from torch import nn

# Inputs are scaled as (x / 255 - MEAN) / STD on every channel.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.25


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def prepare(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) or (N, 3, H, W) images as normalised float32 (N, 3, H, W)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8; got {images.dtype}")
    if images.ndim != 4 or 3 not in (images.shape[1], images.shape[-1]):
        raise ValueError(f"images must be (N, H, W, 3) or (N, 3, H, W); got {tuple(images.shape)}")
    if images.shape[1] != 3:
        images = images.permute(0, 3, 1, 2)
    return (images.float() / 255 - PIXEL_MEAN) / PIXEL_STD


class Backbone(nn.Module):
    """Four conv blocks (three of stride 2) on RGB + coordinates, then global average pooling.

    Parameters
    ----------
    side : int
        Image side in pixels (square RGB images).
    width : int
        Channels of the first block; each later block doubles them. The output has
        ``8 * width`` features.
    """

    def __init__(self, side: int = 64, *, width: int = 16) -> None:
        super().__init__()
        if side < 8 or width < 1:
            raise ValueError(f"need side >= 8 and width >= 1; got {side}, {width}")
        self.side = side
        self.width = width
        axis = torch.linspace(-1.0, 1.0, side)
        coords = torch.stack([axis[:, None].expand(side, side), axis[None, :].expand(side, side)])
        self.register_buffer("coords", coords[None], persistent=False)
        w = width
        self.layers = nn.Sequential(
            *_block(5, w, 2),
            *_block(w, 2 * w, 2),
            *_block(2 * w, 4 * w, 2),
            *_block(4 * w, 8 * w, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    @property
    def out_features(self) -> int:
        """Size of the pooled features."""
        return 8 * self.width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, out_features) pooled features of prepared images (N, 3, side, side)."""
        if x.ndim != 4 or x.shape[1:] != (3, self.side, self.side):
            raise ValueError(f"expected prepared images (N, 3, {self.side}, {self.side}); got {tuple(x.shape)}")
        return self.layers(torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1))


class Head(nn.Module):
    """MLP from pooled features to the embedding, then Linear -> one logit of P(square).

    Parameters
    ----------
    in_features : int
        Size of the backbone's output.
    hidden : int
        Width of the first hidden layer.
    embedding_dim : int
        Width of the second: the penultimate embedding.
    """

    def __init__(self, in_features: int, *, hidden: int = 256, embedding_dim: int = 128) -> None:
        super().__init__()
        if min(in_features, hidden, embedding_dim) < 1:
            raise ValueError(f"layer sizes must be positive; got {in_features}, {hidden}, {embedding_dim}")
        self.body = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, embedding_dim),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(embedding_dim, 1)
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("std", torch.ones(in_features))

    @torch.no_grad()
    def standardize_on(self, features: torch.Tensor) -> None:
        """Standardise inputs with the mean and standard deviation of these (training) features."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-6))

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """(N, embedding_dim) penultimate activations."""
        return self.body((features - self.mean) / self.std)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N,) logits."""
        return self.fc(self.embed(features)).squeeze(1)
