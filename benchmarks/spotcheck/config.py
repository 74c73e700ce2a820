"""Experimental configurations (ECs) of the SpotCheck benchmark: features, options and blindspots.

An EC says which extra objects are painted, which binary options vary from image to
image, and which blindspots (conjunctions of attribute values) the model will be taught
to get wrong. The sampler follows ``SyntheticEC()`` as described in
``shared/notes/spotcheck.md`` §1 (Plumb et al., TMLR 2023):

- extra objects F ~ U{1, 2, 3}, drawn from rectangle, circle and text;
- O = U{5, 6, 7} - F enabled options, each enabled by picking a layer that still has a
  disabled option (uniformly), then one of its disabled options (uniformly);
- A = O + F + 1 binary attributes (the options, the objects' presence and the square's
  presence, which is the label), hence 2^A buckets;
- B ~ U{1, 2, 3} blindspots of s ~ U{4, 5, 6} extra clauses each (sorted ascending), on
  top of background.presence = 1 and square.presence = 1;
- a new blindspot must contradict every earlier one on at least 2 of the earlier one's
  clauses; after 10,000 failed draws all blindspots are drawn again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EXTRA_OBJECTS = ("rectangle", "circle", "text")
# Options of each layer that an EC may enable (presence is handled apart).
OPTIONS: Mapping[str, tuple[str, ...]] = {
    "background": ("color", "texture"),
    "square": ("size", "color", "texture", "number"),
    "rectangle": ("size", "color", "texture"),
    "circle": ("size", "color", "texture"),
    "text": ("size", "color", "texture"),
}
RELATIVE_POSITION = ("background", "relative-position")
MAX_FAILURES = 10_000
MAX_RESTARTS = 100


def column(layer: str, option: str) -> str:
    """The metadata column of an attribute, e.g. ``column("square", "color") == "square.color"``."""
    return f"{layer}.{option}"


@dataclass(frozen=True)
class Clause:
    """One condition of a blindspot: ``layer.option == value``."""

    layer: str
    option: str
    value: int

    @property
    def key(self) -> tuple[str, str]:
        """(layer, option)."""
        return (self.layer, self.option)

    def __str__(self) -> str:
        return f"{column(self.layer, self.option)}={self.value}"


@dataclass(frozen=True)
class Blindspot:
    """A conjunction of clauses; an image is inside when it satisfies all of them."""

    clauses: tuple[Clause, ...]

    def contradictions(self, other: Blindspot) -> int:
        """How many of ``other``'s clauses this blindspot sets to a different value."""
        mine = {c.key: c.value for c in self.clauses}
        return sum(1 for c in other.clauses if c.key in mine and mine[c.key] != c.value)

    def mask(self, metadata: pd.DataFrame) -> np.ndarray:
        """(N,) bool: which rows of ``metadata`` (one column per ``layer.option``) are inside."""
        inside = np.ones(len(metadata), dtype=bool)
        for c in self.clauses:
            name = column(c.layer, c.option)
            if name not in metadata:
                raise ValueError(f"metadata has no column {name!r} for the clause {c}")
            inside &= metadata[name].to_numpy() == c.value
        return inside

    def __str__(self) -> str:
        return " & ".join(str(c) for c in self.clauses)


@dataclass(frozen=True)
class ExperimentConfig:
    """One SpotCheck EC.

    Attributes
    ----------
    seed : int
        Seed it was sampled with (also the seed of its images and model).
    objects : tuple of str
        The extra objects, in painting order.
    enabled : tuple of (str, str)
        The enabled options ``(layer, option)``, in the order they were enabled.
    blindspots : tuple of Blindspot
        The blindspots, smallest number of clauses first.
    """

    seed: int
    objects: tuple[str, ...]
    enabled: tuple[tuple[str, str], ...]
    blindspots: tuple[Blindspot, ...]

    @property
    def layers(self) -> tuple[str, ...]:
        """Painted layers in order: background, square, then the extra objects."""
        return ("background", "square", *self.objects)

    @property
    def attributes(self) -> tuple[tuple[str, str], ...]:
        """The A attributes drawn by a fair coin per image: square presence, the objects'
        presence and the enabled options."""
        return (("square", "presence"), *((o, "presence") for o in self.objects), *self.enabled)

    @property
    def n_buckets(self) -> int:
        """2^A: the combinations of the coin-flip attributes."""
        return 2 ** len(self.attributes)

    def columns(self) -> tuple[str, ...]:
        """Every metadata column an image of this EC has (disabled options included, as 0)."""
        cols = [column(*RELATIVE_POSITION)]
        for layer in self.layers:
            cols.append(column(layer, "presence"))
            cols.extend(column(layer, o) for o in OPTIONS[layer])
        return tuple(cols)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``from_dict`` reads it back)."""
        return {
            "seed": self.seed,
            "objects": list(self.objects),
            "enabled": [list(p) for p in self.enabled],
            "blindspots": [[[c.layer, c.option, c.value] for c in b.clauses] for b in self.blindspots],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """Read a dictionary written by ``to_dict``; ValueError when it is not one."""
        try:
            return cls(
                seed=int(data["seed"]),
                objects=tuple(data["objects"]),
                enabled=tuple((str(a), str(b)) for a, b in data["enabled"]),
                blindspots=tuple(
                    Blindspot(tuple(Clause(str(l), str(o), int(v)) for l, o, v in b)) for b in data["blindspots"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an ExperimentConfig dictionary: {exc}") from exc

    def to_json(self) -> str:
        """``to_dict`` as a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        """Read a string written by ``to_json``."""
        return cls.from_dict(json.loads(text))

    def __str__(self) -> str:
        lines = [
            f"EC seed {self.seed}: objects {', '.join(self.objects)}; A = {len(self.attributes)} "
            f"({self.n_buckets} buckets); enabled {', '.join(column(*p) for p in self.enabled)}"
        ]
        lines += [f"  blindspot {i}: {b}" for i, b in enumerate(self.blindspots)]
        return "\n".join(lines)


def _choice(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _enable_options(rng: np.random.Generator, layers: Sequence[str], count: int) -> list[tuple[str, str]]:
    enabled: list[tuple[str, str]] = []
    for _ in range(count):
        open_layers = [l for l in layers if any((l, o) not in enabled for o in OPTIONS[l])]
        if not open_layers:
            raise ValueError(f"cannot enable {count} options on the layers {list(layers)}")
        layer = _choice(rng, open_layers)
        enabled.append((layer, _choice(rng, [o for o in OPTIONS[layer] if (layer, o) not in enabled])))
    return enabled


def _draw_blindspot(
    rng: np.random.Generator, objects: Sequence[str], enabled: Sequence[tuple[str, str]], size: int
) -> Blindspot:
    active = [RELATIVE_POSITION, *enabled, *((o, "presence") for o in objects)]
    values: dict[tuple[str, str], int] = {("background", "presence"): 1, ("square", "presence"): 1}
    for _ in range(size):
        # An object's sub-options only become drawable once its presence is a clause.
        drawable = [
            p
            for p in active
            if p not in values and (p[0] not in objects or p[1] == "presence" or (p[0], "presence") in values)
        ]
        if not drawable:
            raise ValueError(f"a blindspot of {size} clauses needs more active attributes than {len(active)}")
        pair = _choice(rng, drawable)
        values[pair] = int(rng.integers(2))
        if pair[0] in objects and pair[1] != "presence":
            values[(pair[0], "presence")] = 1
    return Blindspot(tuple(Clause(l, o, v) for (l, o), v in values.items()))


def _draw_blindspots(
    rng: np.random.Generator, objects: Sequence[str], enabled: Sequence[tuple[str, str]], sizes: Sequence[int]
) -> tuple[Blindspot, ...]:
    for _ in range(MAX_RESTARTS):
        found: list[Blindspot] = []
        failures = 0
        while len(found) < len(sizes) and failures < MAX_FAILURES:
            candidate = _draw_blindspot(rng, objects, enabled, sizes[len(found)])
            if all(candidate.contradictions(earlier) >= 2 for earlier in found):
                found.append(candidate)
            else:
                failures += 1
        if len(found) == len(sizes):
            return tuple(found)
    raise ValueError(f"no separated blindspots of sizes {list(sizes)} after {MAX_RESTARTS} restarts")


def sample_config(
    seed: int,
    *,
    n_objects: int | None = None,
    n_options: int | None = None,
    blindspot_sizes: Sequence[int] | None = None,
) -> ExperimentConfig:
    """Sample one EC as ``SyntheticEC()`` does by default.

    Parameters
    ----------
    seed : int
        Seeds a ``numpy.random.Generator`` (stream 0 of the EC's seed).
    n_objects : int, optional
        |F|, the number of extra objects (1-3); default U{1, 2, 3}.
    n_options : int, optional
        |O|, the number of enabled options; default U{5, 6, 7} - |F|.
    blindspot_sizes : sequence of int, optional
        Extra clauses of each blindspot (each >= 1); default B ~ U{1, 2, 3} sizes drawn
        from U{4, 5, 6}, sorted ascending.

    Returns
    -------
    ExperimentConfig
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int; got {seed!r}")
    rng = np.random.default_rng((int(seed), 0))
    f = int(rng.integers(1, 4)) if n_objects is None else n_objects
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or not 1 <= f <= len(EXTRA_OBJECTS):
        raise ValueError(f"n_objects must be 1, 2 or 3; got {n_objects!r}")
    objects = [str(o) for o in rng.permutation(EXTRA_OBJECTS)[:f]]
    o = int(rng.integers(5, 8)) - f if n_options is None else n_options
    if isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 0:
        raise ValueError(f"n_options must be a non-negative int; got {n_options!r}")
    enabled = _enable_options(rng, ["background", "square", *objects], o)
    if blindspot_sizes is None:
        sizes = sorted(int(s) for s in rng.integers(4, 7, size=int(rng.integers(1, 4))))
    else:
        sizes = [int(s) for s in blindspot_sizes]
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"blindspot_sizes must be a non-empty list of positive ints; got {blindspot_sizes!r}")
    blindspots = _draw_blindspots(rng, objects, enabled, sizes)
    return ExperimentConfig(int(seed), tuple(objects), tuple(enabled), blindspots)
