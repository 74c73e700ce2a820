"""One EC end to end (sample, render, train, read out) as an ``Audit``, cached on disk.

``load_audit(seed)`` returns the cached result of an EC or builds it: sample the EC,
render its train / val / test splits, compute the frozen backbone's features, train the
head, and keep what the slice finders and InfEmbed need. Each EC is one ``.npz`` (arrays)
and one ``.json`` (config, settings, acceptance, timings) in a folder named after the
settings, so methods can be re-evaluated without retraining.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .config import ExperimentConfig, sample_config
from .images import Geometry, render
from .pretrain import PretrainRecipe, load_backbone
from .train import Recipe, backbone_features, predict, train_head

# Bump when the generator or the training changes in a way the settings do not show,
# so that old caches are not mistaken for new ones.
VERSION = 1
SAMPLER_FIELDS = ("n_objects", "n_options", "blindspot_sizes")
MIN_ACCURACY_OUTSIDE = 0.95
MAX_ACCURACY_INSIDE = 0.2


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/spotlight-widget/spotcheck`` (``~/.cache/...`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "spotlight-widget" / "spotcheck"


@dataclass(frozen=True)
class Settings:
    """The scale of the benchmark: image side, split sizes and training recipes.

    Attributes
    ----------
    side : int
        Image side in pixels (SpotCheck: 224).
    train_per_bucket, val_per_bucket, test_per_bucket : int
        Images per bucket of each split (SpotCheck: 400 / 50 / 50).
    min_buckets : int
        A split holds ``per_bucket * max(2^A, min_buckets)`` images. A blindspot's share of
        the images, about 2^-(s+1), does not depend on A, so per-bucket sizes alone would
        leave the blindspots of a 64-bucket EC four times smaller than those of a
        256-bucket one.
    recipe : Recipe
        The EC head's training.
    pretrain : PretrainRecipe
        The shared backbone's pretraining.
    n_objects, n_options, blindspot_sizes : optional
        Fix these draws of the EC sampler (``config.sample_config``), e.g. to measure DR
        against the number of blindspots (``spotcheck.md`` §6.4); None: the defaults.
    """

    side: int = 64
    train_per_bucket: int = 48
    val_per_bucket: int = 12
    test_per_bucket: int = 24
    min_buckets: int = 256
    recipe: Recipe = field(default_factory=Recipe)
    pretrain: PretrainRecipe = field(default_factory=PretrainRecipe)
    n_objects: int | None = None
    n_options: int | None = None
    blindspot_sizes: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("side", "train_per_bucket", "val_per_bucket", "test_per_bucket", "min_buckets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        Geometry(self.side)
        if self.blindspot_sizes is not None:
            object.__setattr__(self, "blindspot_sizes", tuple(int(b) for b in self.blindspot_sizes))

    def sample(self, seed: int) -> ExperimentConfig:
        """The EC of ``seed`` under these settings' sampler overrides."""
        return sample_config(
            seed, n_objects=self.n_objects, n_options=self.n_options, blindspot_sizes=self.blindspot_sizes
        )

    def sizes(self, config: ExperimentConfig) -> tuple[int, int, int]:
        """Images in the train, val and test splits of ``config``."""
        buckets = max(config.n_buckets, self.min_buckets)
        return (self.train_per_bucket * buckets, self.val_per_bucket * buckets, self.test_per_bucket * buckets)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``from_dict`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """Read a dictionary written by ``to_dict``."""
        data = dict(data)
        return cls(**{**data, "recipe": Recipe(**data["recipe"]), "pretrain": PretrainRecipe(**data["pretrain"])})

    def key(self) -> str:
        """Folder name of this scale's cache: readable sizes and a hash of everything."""
        # Sampler overrides enter the hash only when set, so the default settings keep
        # the key they had before the overrides existed.
        fields = {k: v for k, v in self.to_dict().items() if v is not None or k not in SAMPLER_FIELDS}
        digest = hashlib.sha1(json.dumps([VERSION, fields], sort_keys=True).encode()).hexdigest()[:10]
        return (
            f"side{self.side}-tr{self.train_per_bucket}-va{self.val_per_bucket}-te{self.test_per_bucket}"
            f"-b{self.min_buckets}-{digest}"
        )


# The full scale's ECs with a third of its backbone pretraining; smaller batches learn
# more per image, which a short pretraining needs.
QUICK = Settings(pretrain=PretrainRecipe(images_per_epoch=8192, epochs=6, batch_size=32))


def acceptance(
    probs: np.ndarray,
    labels: np.ndarray,
    membership: np.ndarray,
    *,
    min_outside: float = MIN_ACCURACY_OUTSIDE,
    max_inside: float = MAX_ACCURACY_INSIDE,
) -> tuple[bool, str]:
    """Whether the model learned its blindspots (``shared/notes/spotcheck.md`` §6.5).

    Accept when test accuracy is >= ``min_outside`` on the images outside every blindspot
    and <= ``max_inside`` inside each blindspot. Returns the verdict and its reason.
    """
    correct = (probs >= 0.5) == (labels == 1)
    inside = membership.any(axis=1)
    outside_acc = float(correct[~inside].mean()) if (~inside).any() else float("nan")
    inside_acc = [
        float(correct[membership[:, b]].mean()) if membership[:, b].any() else float("nan")
        for b in range(membership.shape[1])
    ]
    problems = []
    if not outside_acc >= min_outside:
        problems.append(f"accuracy outside {outside_acc:.3f} < {min_outside}")
    for b, acc in enumerate(inside_acc):
        if not acc <= max_inside:
            problems.append(f"accuracy in blindspot {b} {acc:.3f} > {max_inside}")
    summary = f"outside {outside_acc:.3f}, inside " + "/".join(f"{a:.2f}" for a in inside_acc)
    return (not problems, "; ".join(problems) if problems else f"accepted ({summary})")


@dataclass(frozen=True, eq=False)
class Audit:
    """What a blindspot discovery method audits on one EC, and the ground truth.

    Rows are test images (all of them, or a subset such as ``positives()``).

    Attributes
    ----------
    config : ExperimentConfig
        The EC.
    settings : Settings
        The scale it was built at.
    embeddings : numpy.ndarray
        (N, d) float32 penultimate embeddings (the head's last hidden layer).
    logits : numpy.ndarray
        (N,) float32 logits of P(square).
    labels : numpy.ndarray
        (N,) int8 true labels (1: a square is present).
    membership : numpy.ndarray
        (N, B) bool, row i is inside blindspot b.
    metadata : pandas.DataFrame
        (N rows) every attribute of each image (``ExperimentConfig.columns()``).
    rows : numpy.ndarray
        (N,) the rows' ids in the whole test split.
    train_embeddings : numpy.ndarray
        (N_train, d) float32 embeddings of the train split.
    train_labels : numpy.ndarray
        (N_train,) int8 train labels as trained on (flipped inside the blindspots).
    head_weight, head_bias : numpy.ndarray
        (1, d) and (1,) float32: the final Linear layer, logit = embedding @ W.T + b.
    accepted : bool
        The EC passes ``acceptance`` (judged on the whole test split).
    reason : str
        Why (accuracies outside and inside the blindspots).
    info : mapping
        Training history summary and timings.
    """

    config: ExperimentConfig
    settings: Settings
    embeddings: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    membership: np.ndarray
    metadata: pd.DataFrame
    rows: np.ndarray
    train_embeddings: np.ndarray
    train_labels: np.ndarray
    head_weight: np.ndarray
    head_bias: np.ndarray
    accepted: bool
    reason: str
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.embeddings.shape[0]
        for name in ("logits", "labels", "rows"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},); got {getattr(self, name).shape}")
        if self.membership.shape != (n, len(self.config.blindspots)) or len(self.metadata) != n:
            raise ValueError("membership and metadata must have one row per embedding and one column per blindspot")
        if self.train_embeddings.shape[0] != self.train_labels.shape[0]:
            raise ValueError("train_embeddings and train_labels differ in length")
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def n_rows(self) -> int:
        """N, the rows audited."""
        return int(self.embeddings.shape[0])

    @property
    def probs(self) -> np.ndarray:
        """(N,) P(square) = sigmoid(logit), float64."""
        return 1.0 / (1.0 + np.exp(-self.logits.astype(np.float64)))

    @property
    def losses(self) -> np.ndarray:
        """(N,) binary cross-entropy of P(square) against the true label (computed stably)."""
        z = self.logits.astype(np.float64)
        return np.logaddexp(0.0, np.where(self.labels == 1, -z, z))

    @property
    def errors(self) -> np.ndarray:
        """(N,) bool: the prediction (P(square) >= 0.5) differs from the true label."""
        return (self.logits >= 0) != (self.labels == 1)

    @property
    def blindspots(self) -> list[np.ndarray]:
        """Row positions (0..N-1) inside each blindspot."""
        return [np.flatnonzero(self.membership[:, b]) for b in range(self.membership.shape[1])]

    def subset(self, mask: np.ndarray) -> Audit:
        """The same audit restricted to the rows where ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_rows,):
            raise ValueError(f"mask must have shape ({self.n_rows},); got {mask.shape}")
        return replace(
            self,
            embeddings=self.embeddings[mask],
            logits=self.logits[mask],
            labels=self.labels[mask],
            membership=self.membership[mask],
            metadata=self.metadata[mask].reset_index(drop=True),
            rows=self.rows[mask],
        )

    def positives(self) -> Audit:
        """The square-present test images: the main protocol (``spotcheck.md`` §6.3)."""
        return self.subset(self.labels == 1)


def build_audit(
    seed: int,
    *,
    settings: Settings | None = None,
    cache: Path | None = None,
    log: Callable[[str], object] | None = None,
) -> Audit:
    """Sample EC ``seed``, render it, train its head and read out the test split.

    Parameters
    ----------
    seed : int
        The EC's seed (config, images and weights).
    settings : Settings, optional
        Scale (default ``Settings()``).
    cache : Path, optional
        Where the pretrained backbone is kept (default ``default_cache()``).
    log : callable, optional
        Progress lines of the backbone's pretraining, when it is not cached yet.
    """
    settings = settings or Settings()
    cache = Path(cache) if cache is not None else default_cache()
    times: dict[str, float] = {}
    start = time.perf_counter()
    backbone = load_backbone(cache, side=settings.side, recipe=settings.pretrain, log=log)
    times["backbone"] = time.perf_counter() - start
    config = settings.sample(seed)
    geometry = Geometry(settings.side)
    n_train, n_val, n_test = settings.sizes(config)
    t = time.perf_counter()
    train = render(config, n_train, np.random.default_rng((seed, 1)), geometry=geometry, flipped=True)
    val = render(config, n_val, np.random.default_rng((seed, 2)), geometry=geometry, flipped=True)
    test = render(config, n_test, np.random.default_rng((seed, 3)), geometry=geometry)
    times["render"] = time.perf_counter() - t
    t = time.perf_counter()
    f_train, f_val, f_test = (backbone_features(backbone, s.images) for s in (train, val, test))
    times["features"] = time.perf_counter() - t
    t = time.perf_counter()
    trained = train_head(f_train, train.labels, f_val, val.labels, recipe=settings.recipe, seed=seed)
    times["train"] = time.perf_counter() - t
    train_emb, _ = predict(trained.head, f_train)
    emb, logits = predict(trained.head, f_test)
    ok, reason = acceptance(1 / (1 + np.exp(-logits.astype(np.float64))), test.true_labels, test.membership)
    times["total"] = time.perf_counter() - start
    info = {
        "best_epoch": trained.best_epoch,
        "epochs": len(trained.history),
        "best_val_accuracy": max(h["val_accuracy"] for h in trained.history),
        "train_in_blindspots": train.membership.sum(axis=0).tolist(),
        "seconds": times,
    }
    return Audit(
        config=config,
        settings=settings,
        embeddings=emb,
        logits=logits,
        labels=test.true_labels,
        membership=test.membership,
        metadata=test.metadata,
        rows=np.arange(n_test),
        train_embeddings=train_emb,
        train_labels=train.labels,
        head_weight=trained.head.fc.weight.detach().numpy().astype(np.float32).copy(),
        head_bias=trained.head.fc.bias.detach().numpy().astype(np.float32).copy(),
        accepted=ok,
        reason=reason,
        info=info,
    )


def audit_path(seed: int, settings: Settings, cache: Path) -> Path:
    """``cache/<settings key>/ec<seed>`` (add ``.npz`` / ``.json``)."""
    return Path(cache) / settings.key() / f"ec{seed:05d}"


def save_audit(audit: Audit, path: Path) -> None:
    """Write ``path.npz`` and ``path.json`` (each written to a temporary name, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "embeddings": audit.embeddings,
        "logits": audit.logits,
        "labels": audit.labels,
        "membership": audit.membership,
        "rows": audit.rows,
        "train_embeddings": audit.train_embeddings,
        "train_labels": audit.train_labels,
        "head_weight": audit.head_weight,
        "head_bias": audit.head_bias,
        **{f"meta:{c}": audit.metadata[c].to_numpy() for c in audit.metadata.columns},
    }
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path.with_suffix(".npz"))
    record = {
        "config": audit.config.to_dict(),
        "settings": audit.settings.to_dict(),
        "accepted": audit.accepted,
        "reason": audit.reason,
        "info": dict(audit.info),
        "metadata_columns": list(audit.metadata.columns),
    }
    tmp = path.with_name(path.name + ".tmp.json")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path.with_suffix(".json"))


def read_audit(path: Path) -> Audit:
    """Read an audit written by ``save_audit``."""
    path = Path(path)
    record = json.loads(path.with_suffix(".json").read_text())
    with np.load(path.with_suffix(".npz")) as data:
        arrays = {k: data[k] for k in data.files}
    metadata = pd.DataFrame({c: arrays.pop(f"meta:{c}") for c in record["metadata_columns"]})
    return Audit(
        config=ExperimentConfig.from_dict(record["config"]),
        settings=Settings.from_dict(record["settings"]),
        metadata=metadata,
        accepted=bool(record["accepted"]),
        reason=str(record["reason"]),
        info=record["info"],
        **arrays,
    )


def load_audit(
    seed: int,
    *,
    settings: Settings | None = None,
    cache: Path | None = None,
    build: bool = True,
    log: Callable[[str], object] | None = None,
) -> Audit:
    """The audit of EC ``seed`` at ``settings``: from the cache, else built and cached.

    Parameters
    ----------
    seed : int
        The EC's seed.
    settings : Settings, optional
        Scale (default ``Settings()``); part of the cache key.
    cache : Path, optional
        Cache folder (default ``default_cache()``).
    build : bool
        Build a missing EC; when False a missing one raises ``FileNotFoundError``.
    log : callable, optional
        Progress lines of the backbone's pretraining, when it is not cached yet.

    Returns
    -------
    Audit
        On all test images; ``.positives()`` gives the main protocol's rows.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int; got {seed!r}")
    settings = settings or Settings()
    cache = Path(cache) if cache is not None else default_cache()
    path = audit_path(int(seed), settings, cache)
    if path.with_suffix(".json").exists() and path.with_suffix(".npz").exists():
        return read_audit(path)
    if not build:
        raise FileNotFoundError(f"EC {seed} is not cached at {path}.npz")
    audit = build_audit(int(seed), settings=settings, cache=cache, log=log)
    save_audit(audit, path)
    return audit
