"""Declared validation of public parameters: one way to check them, one form of message.

Each public function states what its keyword options may be, as a mapping from
parameter name to a list of constraints, and :func:`validate_params` checks the call
against it before the function body runs (in the spirit of scikit-learn's
``validate_params``, ``Interval`` and ``StrOptions``)::

    @validate_params({"n": [Interval(Integral, 1, None, closed="left")], "dim": [None, Interval(Integral, 1, None)]})
    def kmeans_slices(embeddings, losses, *, n=3, dim=32): ...

A value is accepted when it satisfies any constraint of its list. Otherwise the error is

- ``TypeError`` when no constraint accepts its *type*: ``"kmeans_slices: n must be an int in
  [1, inf); got 'a' (str)"``;
- ``ValueError`` when one does but the value is out of range or not among the options:
  ``"kmeans_slices: n must be an int in [1, inf); got 0"``.

Numbers follow one convention everywhere: ``bool`` (and ``numpy.bool_``) is never a number,
numpy scalars and 0-d arrays (numpy or torch) are, and are handed to the function as the
equivalent Python ``int`` or ``float``; NaN is never in an interval, and an infinite bound is
only reached when that side of the interval is closed. Array contents (shapes, dtypes,
non-finite values) are checked where the data are converted (``spotlight_widget._inputs``);
here "array-like" only rules out things that cannot be an array.

Constraints
-----------
``Interval(Integral | Real, left, right, closed=...)``
    A number in a range; ``None`` for an unbounded side.
``Options(values)``
    One of a fixed set (strings, or any hashable values such as ``torch.float32``).
``None``
    The value ``None``.
``bool``
    ``True`` or ``False`` (Python or numpy).
``callable``
    Any callable.
``"array-like"``
    Something ``numpy.asarray`` can take as data: an array, tensor, sequence, DataFrame.
``"cancel"``
    A ``threading.Event``-like object (with ``is_set()``) or a callable returning bool.
a class, or ``InstanceOf(cls, name)``
    An instance of it.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "CANCEL",
    "N_RESULTS",
    "PROGRESS",
    "SEED",
    "SIZE",
    "THREADS",
    "InstanceOf",
    "Interval",
    "Options",
    "check",
    "check_params",
    "validate_params",
]

_F = TypeVar("_F", bound=Callable[..., Any])
_REPR_LIMIT = 60


class _Constraint:
    """One way a value may be acceptable."""

    def accepts_type(self, value: Any) -> bool:
        """Whether ``value`` has a type this constraint is about (so a refusal is a ValueError)."""
        raise NotImplementedError

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        return self.accepts_type(value)

    def __str__(self) -> str:
        raise NotImplementedError


def _scalar(value: Any) -> Any:
    """A numpy scalar or 0-d numpy/torch array as the equivalent Python scalar; anything else unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


class Interval(_Constraint):
    """A number in a range.

    Parameters
    ----------
    kind : numbers.Integral or numbers.Real
        ``Integral`` accepts integers only; ``Real`` accepts any real number, integers
        included (so ``size`` keeps telling a count from a fraction). ``bool`` is refused
        by both.
    left, right : float or None
        Bounds; ``None`` leaves that side unbounded (``-inf`` / ``inf``).
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the interval. An unbounded side that is closed admits the
        infinity itself; open (the default for ``"left"``) it does not.
    """

    def __init__(
        self,
        kind: type,
        left: float | None,
        right: float | None,
        *,
        closed: str = "left",
    ) -> None:
        if kind not in (numbers.Integral, numbers.Real):
            raise TypeError(f"Interval kind must be numbers.Integral or numbers.Real; got {kind!r}")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"Interval closed must be 'left', 'right', 'both' or 'neither'; got {closed!r}")
        if left is not None and right is not None and left > right:
            raise ValueError(f"Interval left bound {left} is above the right bound {right}")
        self.kind = kind
        self.left = -math.inf if left is None else left
        self.right = math.inf if right is None else right
        self.closed = closed

    def accepts_type(self, value: Any) -> bool:
        value = _scalar(value)
        return not _is_bool(value) and isinstance(value, self.kind)

    def accepts(self, value: Any) -> bool:
        if not self.accepts_type(value):
            return False
        value = _scalar(value)
        if isinstance(value, float) and math.isnan(value):
            return False
        low_ok = value >= self.left if self.closed in ("left", "both") else value > self.left
        high_ok = value <= self.right if self.closed in ("right", "both") else value < self.right
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        what = "an int" if self.kind is numbers.Integral else "a number"
        lb = "[" if self.closed in ("left", "both") else "("
        rb = "]" if self.closed in ("right", "both") else ")"
        return f"{what} in {lb}{_bound(self.left)}, {_bound(self.right)}{rb}"


def _bound(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:g}"


class Options(_Constraint):
    """One of a fixed set of values, e.g. ``Options({"diag", "full"})`` or ``Options({torch.float32})``."""

    def __init__(self, values: Iterable[Any]) -> None:
        self.values = tuple(sorted(values, key=repr))
        if not self.values:
            raise ValueError("Options needs at least one value")

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, tuple({type(v) for v in self.values}))

    def accepts(self, value: Any) -> bool:
        return self.accepts_type(value) and value in self.values

    def __str__(self) -> str:
        shown = [repr(v) for v in self.values]
        return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


class _NoneConstraint(_Constraint):
    def accepts_type(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


class _Bool(_Constraint):
    def accepts_type(self, value: Any) -> bool:
        return _is_bool(value)

    def __str__(self) -> str:
        return "a bool"


class _Callable(_Constraint):
    def accepts_type(self, value: Any) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


class _ArrayLike(_Constraint):
    def accepts_type(self, value: Any) -> bool:
        if isinstance(value, (str, bytes, Mapping)) or value is None:
            return False
        return isinstance(value, (np.ndarray, Sequence)) or hasattr(value, "__array__") or hasattr(value, "to_numpy")

    def __str__(self) -> str:
        return "array-like"


class _Cancel(_Constraint):
    def accepts_type(self, value: Any) -> bool:
        return callable(getattr(value, "is_set", None)) or callable(value)

    def __str__(self) -> str:
        return "a threading.Event-like object or a callable returning bool"


class InstanceOf(_Constraint):
    """An instance of ``cls``, described in messages as ``name`` (default: the class's name).

    A bare class in a constraint list means ``InstanceOf(cls)``; give the name when the
    class's own is not the one users know (``InstanceOf(nn.Module, "torch.nn.Module")``).
    """

    def __init__(self, cls: type, name: str | None = None) -> None:
        self.cls = cls
        self.name = name or cls.__name__

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def __str__(self) -> str:
        return f"a {self.name}"


_NAMED = {"array-like": _ArrayLike(), "cancel": _Cancel()}


def _as_constraint(spec: Any) -> _Constraint:
    if isinstance(spec, _Constraint):
        return spec
    if spec is None:
        return _NoneConstraint()
    if spec is bool:
        return _Bool()
    if spec is callable:
        return _Callable()
    if isinstance(spec, str):
        if spec not in _NAMED:
            raise ValueError(f"unknown constraint {spec!r}; named constraints: {sorted(_NAMED)}")
        return _NAMED[spec]
    if isinstance(spec, type):
        return InstanceOf(spec)
    raise TypeError(f"cannot use {spec!r} as a parameter constraint")


def _describe(constraints: Sequence[_Constraint]) -> str:
    parts = [str(c) for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def check(value: Any, name: str, constraints: Sequence[Any], *, caller: str | None = None) -> Any:
    """Check one value against its constraints and return it, numbers as Python scalars.

    Parameters
    ----------
    value : object
        What the user passed.
    name : str
        The parameter's name, for the message.
    constraints : sequence
        Constraints (see the module docstring); the value must satisfy at least one.
    caller : str, optional
        The public function's name, which prefixes the message.

    Returns
    -------
    object
        ``value``, with numpy scalars and 0-d arrays turned into ``int`` / ``float``
        when a numeric constraint accepted them.

    Raises
    ------
    TypeError
        When no constraint accepts the value's type.
    ValueError
        When some constraint accepts the type but not the value.
    """
    parsed = [_as_constraint(c) for c in constraints]
    for c in parsed:
        if c.accepts(value):
            return _scalar(value) if isinstance(c, Interval) else value
    prefix = f"{caller}: " if caller else ""
    message = f"{prefix}{name} must be {_describe(parsed)}; got {_short_repr(value)}"
    if any(c.accepts_type(value) for c in parsed):
        raise ValueError(message)
    raise TypeError(f"{message} ({type(value).__name__})")


def check_params(
    values: Mapping[str, Any], constraints: Mapping[str, Sequence[Any]], *, caller: str | None = None
) -> dict[str, Any]:
    """Check several values (``{name: value}``) against ``{name: constraints}``.

    Names without constraints pass through unchecked. Returns the checked values (see
    :func:`check`), in the order of ``values``.
    """
    return {
        name: check(value, name, constraints[name], caller=caller) if name in constraints else value
        for name, value in values.items()
    }


def validate_params(constraints: Mapping[str, Sequence[Any]], *, caller: str | None = None) -> Callable[[_F], _F]:
    """Decorate a function so that its named parameters are checked on every call.

    Parameters
    ----------
    constraints : mapping
        ``{parameter name: [constraint, ...]}``; each name must be a parameter of the
        decorated function, and its default must satisfy them (both checked once, when
        the function is decorated, so a slip fails at import rather than at a call).
    caller : str, optional
        Name used in messages (default: the function's name).

    Returns
    -------
    callable
        A decorator. The wrapped function receives the checked values (numpy scalars
        as Python numbers) and keeps its signature and docstring.
    """
    parsed = {name: [_as_constraint(c) for c in cs] for name, cs in constraints.items()}

    def decorate(func: _F) -> _F:
        signature = inspect.signature(func)
        unknown = sorted(set(parsed) - set(signature.parameters))
        if unknown:
            raise TypeError(f"validate_params: {func.__qualname__} has no parameters {unknown}")
        who = caller or func.__name__
        for name, cs in parsed.items():
            default = signature.parameters[name].default
            if default is not inspect.Parameter.empty:
                check(default, name, cs, caller=f"{func.__qualname__} (default)")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            for name, cs in parsed.items():
                if name in bound.arguments:
                    bound.arguments[name] = check(bound.arguments[name], name, cs, caller=who)
            return func(*bound.args, **bound.kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# The shared vocabulary: parameters with the same name mean the same thing in every public function.
N_RESULTS = [Interval(numbers.Integral, 1, None, closed="left")]
"""``n``: the number of results (slices, spotlights), never a number of rows."""
SIZE = [Interval(numbers.Real, 0, 1, closed="neither"), Interval(numbers.Integral, 1, None, closed="left")]
"""``size``: S as a fraction of the data in (0, 1), or an int number of examples."""
SEED = [Interval(numbers.Integral, 0, None, closed="left")]
"""``seed``: a non-negative int (what numpy, scikit-learn and torch all accept)."""
THREADS = [None, Interval(numbers.Integral, 1, None, closed="left")]
"""``threads``: CPU threads, or None for the library's default."""
PROGRESS = [None, callable]
"""``progress``: None, or a callable receiving ``spotlight_widget.SearchProgress``."""
CANCEL = [None, "cancel"]
"""``cancel``: None, a ``threading.Event``-like object, or a callable returning bool."""
