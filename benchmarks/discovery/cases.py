"""Cases with a known failing group: a trained model, its evaluation data, and the truth.

Each generator trains a small MLP on half of a data set (``models.DATASETS``: MNIST, or the
synthetic blobs) and evaluates it on the other half, with a failure planted in a known
group of evaluation examples ("digit" is the class, "subclass" the fine class):

- ``paper``: the paper's protocol (Section 4.6). The model learns the 60 fine classes
  (6 subclasses per digit) and is scored on the coarse task (the digit); one subclass's
  evaluation labels are randomised, without retraining.
- ``rare``: one digit keeps 2 % of its training examples and is 2 % of the evaluation data.
- ``spurious``: a cue (MNIST: a bright corner patch) marks 40 % of one digit's training
  images and no others; in evaluation it marks 2.5 % of the *other* digits (the failing group).
- ``label-noise``: one subclass's training labels are random; the group is that subclass
  in evaluation.
- ``multi``: the paper's protocol with three subclasses (of different digits) randomised.

``noise`` adds incoherent errors: that share of the other evaluation examples gets a
random wrong label, scattered over the whole data, which a slice finder should not chase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from . import models

# Every method is asked for slices of this share of the evaluation data: the Spotlight's
# default size (2 %), close to the planted groups' sizes (1.5-2.5 %).
SLICE_FRACTION = 0.02
DEFAULT_NOISE = 0.05


@dataclass(frozen=True, eq=False)
class Case:
    """One evaluation set with planted failing groups.

    Attributes
    ----------
    name : str
        Case name with its data set (but MNIST's) and noise level, e.g. "paper+noise" or
        "blobs:paper+noise".
    kind : str
        Generator name ("paper", "rare", "spurious", "label-noise", "multi").
    data : str
        Data set name (``models.DATASETS``).
    seed : int
        Seed of the data split, the planted group and the model.
    embeddings : numpy.ndarray
        (N, 64) float32 penultimate-layer activations of the evaluation examples.
    losses : numpy.ndarray
        (N,) cross-entropy of each evaluation example.
    errors : numpy.ndarray
        (N,) bool: the model's prediction is wrong.
    groups : tuple of numpy.ndarray
        Row indices of each planted group (disjoint).
    noise_rows : numpy.ndarray
        Rows given a random wrong label as incoherent noise.
    size : int
        S: the slice size every method is asked for.
    influence : numpy.ndarray or None
        (N, D) influence embeddings of the evaluation examples (``influence=True``).
    labels : numpy.ndarray or None
        (N,) evaluation labels as scored (noise rows' labels changed).
    probs : numpy.ndarray or None
        (N, 10) the model's class probabilities.
    """

    name: str
    kind: str
    data: str
    seed: int
    embeddings: np.ndarray
    losses: np.ndarray
    errors: np.ndarray
    groups: tuple[np.ndarray, ...]
    noise_rows: np.ndarray
    size: int
    influence: np.ndarray | None = None
    labels: np.ndarray | None = None
    probs: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.losses.shape[0])

    def error_rates(self) -> tuple[float, float]:
        """Error rate inside the planted groups and outside them (noise rows included)."""
        inside = np.zeros(self.n_rows, dtype=bool)
        for g in self.groups:
            inside[g] = True
        return float(self.errors[inside].mean()), float(self.errors[~inside].mean())


@dataclass
class _Setup:
    """What a generator decides before training: data, labels and the planted truth."""

    x_train: np.ndarray
    y_train: np.ndarray
    n_train_classes: int
    x_eval: np.ndarray
    y_eval: np.ndarray
    groups: list[np.ndarray]
    coarse: bool = False  # the model learns subclasses and is scored on digits


def _split(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


def _random_labels(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 10, size=size)


def _paper(data: models.Digits, rng: np.random.Generator, n_groups: int = 1) -> _Setup:
    train, ev = _split(rng, data.digit.size)
    digits = rng.choice(10, size=n_groups, replace=False)
    chosen = digits * models.SUBCLASSES_PER_DIGIT + rng.integers(0, models.SUBCLASSES_PER_DIGIT, size=n_groups)
    y_eval = data.digit[ev].copy()
    groups = []
    for s in chosen:
        rows = np.flatnonzero(data.subclass[ev] == s)
        # As in the paper: a uniformly random superclass (10 % keep their true label).
        y_eval[rows] = _random_labels(rng, rows.size)
        groups.append(rows)
    return _Setup(
        data.images[train],
        data.subclass[train],
        10 * models.SUBCLASSES_PER_DIGIT,
        data.images[ev],
        y_eval,
        groups,
        coarse=True,
    )


def _rare(data: models.Digits, rng: np.random.Generator) -> _Setup:
    train, ev = _split(rng, data.digit.size)
    rare = int(rng.integers(10))
    is_rare = data.digit[train] == rare
    kept = rng.random(train.size) < 0.02
    train = train[~is_rare | kept]
    rare_eval = ev[data.digit[ev] == rare]
    others = ev[data.digit[ev] != rare]
    n_rare = round(0.02 * others.size / 0.98)
    ev = np.sort(np.concatenate([others, rng.choice(rare_eval, size=n_rare, replace=False)]))
    y_eval = data.digit[ev]
    return _Setup(data.images[train], data.digit[train], 10, data.images[ev], y_eval, [np.flatnonzero(y_eval == rare)])


def _patch(images: np.ndarray, columns: np.ndarray) -> np.ndarray:
    out = images.copy()
    out[:, columns] = 1.0
    return out


def _spurious(data: models.Digits, rng: np.random.Generator) -> _Setup:
    train, ev = _split(rng, data.digit.size)
    cue = int(rng.integers(10))
    x_train = data.images[train].copy()
    marked = (data.digit[train] == cue) & (rng.random(train.size) < 0.4)
    x_train[marked] = _patch(x_train[marked], data.cue_columns)
    x_eval = data.images[ev].copy()
    y_eval = data.digit[ev]
    others = np.flatnonzero(y_eval != cue)
    group = np.sort(rng.choice(others, size=round(0.025 * ev.size), replace=False))
    x_eval[group] = _patch(x_eval[group], data.cue_columns)
    return _Setup(x_train, data.digit[train], 10, x_eval, y_eval, [group])


def _label_noise(data: models.Digits, rng: np.random.Generator) -> _Setup:
    train, ev = _split(rng, data.digit.size)
    s = int(rng.integers(10 * models.SUBCLASSES_PER_DIGIT))
    y_train = data.digit[train].copy()
    noisy = data.subclass[train] == s
    y_train[noisy] = _random_labels(rng, int(noisy.sum()))
    y_eval = data.digit[ev]
    return _Setup(data.images[train], y_train, 10, data.images[ev], y_eval, [np.flatnonzero(data.subclass[ev] == s)])


GENERATORS: dict[str, Callable[[models.Digits, np.random.Generator], _Setup]] = {
    "paper": _paper,
    "rare": _rare,
    "spurious": _spurious,
    "label-noise": _label_noise,
    "multi": lambda data, rng: _paper(data, rng, n_groups=3),
}


def make_case(
    kind: str, seed: int, *, noise: float = DEFAULT_NOISE, influence: bool = True, data: str = "mnist"
) -> Case:
    """Generate one case: plant the failure, train the model, evaluate it.

    Parameters
    ----------
    kind : str
        One of ``GENERATORS``.
    seed : int
        Seeds the split, the planted group, the noise and the model.
    noise : float
        Share of the evaluation examples outside the groups given a random wrong label.
    influence : bool
        Also compute the evaluation examples' influence embeddings (for InfEmbed).
    data : str
        The data set (``models.DATASETS``).

    Returns
    -------
    Case
    """
    if kind not in GENERATORS:
        raise ValueError(f"unknown case {kind!r}; choose one of {sorted(GENERATORS)}")
    if data not in models.DATASETS:
        raise ValueError(f"unknown data set {data!r}; choose one of {sorted(models.DATASETS)}")
    if not 0 <= noise < 1:
        raise ValueError(f"noise must be in [0, 1); got {noise!r}")
    # MNIST's cases keep the seeds they had before the blobs came.
    stream = [seed, sorted(GENERATORS).index(kind)] + ([] if data == "mnist" else [sorted(models.DATASETS).index(data)])
    rng = np.random.default_rng(stream)
    setup = GENERATORS[kind](models.DATASETS[data](), rng)
    y_eval = setup.y_eval.copy()
    outside = np.ones(y_eval.size, dtype=bool)
    for g in setup.groups:
        outside[g] = False
    noise_rows = np.sort(rng.choice(np.flatnonzero(outside), size=round(noise * outside.sum()), replace=False))
    # A random *wrong* label: every noise row becomes an error the model cannot explain.
    y_eval[noise_rows] = (y_eval[noise_rows] + rng.integers(1, 10, size=noise_rows.size)) % 10

    fine = models.train_mlp(setup.x_train, setup.y_train, setup.n_train_classes, seed=seed)
    model: nn.Module = models.CoarseHead(fine, 10, models.SUBCLASSES_PER_DIGIT) if setup.coarse else fine
    emb, losses, errors, probs = models.evaluate(model, setup.x_eval, y_eval)
    infl = None
    if influence:
        y_train = setup.y_train // models.SUBCLASSES_PER_DIGIT if setup.coarse else setup.y_train
        infl = influence_of(model, (setup.x_train, y_train), (setup.x_eval, y_eval), seed=seed)
    n = y_eval.size
    return Case(
        name=("" if data == "mnist" else data + ":") + kind + ("+noise" if noise > 0 else ""),
        kind=kind,
        data=data,
        seed=seed,
        embeddings=emb,
        losses=losses,
        errors=errors,
        groups=tuple(setup.groups),
        noise_rows=noise_rows,
        size=round(SLICE_FRACTION * n),
        influence=infl,
        labels=y_eval,
        probs=probs,
        info={"noise": noise},
    )


def influence_of(
    model: nn.Module, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], *, seed: int
):
    """Influence embeddings of ``test`` through the model's last layer (InfEmbed's usual
    restriction for speed), with the Hessian of the coarse training loss."""
    from spotlight_widget.infembed import influence_embeddings

    layer = "fine.out" if isinstance(model, models.CoarseHead) else "out"
    emb = influence_embeddings(
        model,
        nn.CrossEntropyLoss(),
        (torch.from_numpy(train[0]), torch.from_numpy(train[1])),
        (torch.from_numpy(test[0]), torch.from_numpy(test[1])),
        layers=[layer],
        arnoldi_dim=60,
        rank=30,
        batch_size=500,
        hessian_samples=500,
        device="cpu",
        seed=seed,
    )
    return emb.test.astype(np.float32)


def make_cases(
    seed: int,
    *,
    kinds: tuple[str, ...] | None = None,
    noises: tuple[float, ...] = (0.0, DEFAULT_NOISE),
    influence: bool = True,
    data: str = "mnist",
) -> list[Case]:
    """Every ``kind`` (default all) at every noise level, for one seed and data set."""
    return [
        make_case(k, seed, noise=z, influence=influence, data=data)
        for k in (kinds or tuple(GENERATORS))
        for z in noises
    ]
