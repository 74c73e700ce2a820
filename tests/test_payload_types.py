"""The payloads Python publishes to the front end agree with their JSDoc types in js/types.js.

An explorer runs on small data while every change of the typed traits is recorded; each
recorded row must have the properties its ``@typedef`` declares (all required ones, no
undeclared ones), with values of the declared types, and every declared property must
be published by some row. A key renamed on one side only fails here instead of showing
as an empty cell in the browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spotlight_widget import SpotlightExplorer
from spotlight_widget.synthetic import planted_clusters

TYPES_JS = Path(__file__).resolve().parent.parent / "js" / "types.js"

# Which trait carries which typedef: the trait holds one payload (dict) or a list of them.
TRAITS = {
    "history": "HistoryEntry",
    "methods": "MethodInfo",
    "status": "Status",
    "page_items": "PageItem",
    "breakdown": "BreakdownRow",
    "limits": "Limits",
    "map_state": "MapState",
    "map_layers": "MapLayer",
    "comparison": "ComparisonInfo",
}


@dataclass(frozen=True)
class Property:
    """One ``@property`` of a typedef."""

    name: str
    type: str
    optional: bool


def _braced(text: str, start: int) -> tuple[str, int]:
    """The text inside the braces opening at ``start``, and the index after the closing one."""
    if text[start] != "{":
        raise ValueError(f"expected '{{' at {start}: {text[start : start + 30]!r}")
    depth = 0
    for k in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[start + 1 : k], k + 1
    raise ValueError(f"unbalanced braces from {start}")


def parse_typedefs(source: str) -> dict[str, dict[str, Property]]:
    """Object typedefs of a JSDoc source: name -> property name -> ``Property``."""
    typedefs: dict[str, dict[str, Property]] = {}
    for comment in re.findall(r"/\*\*(.*?)\*/", source, flags=re.S):
        text = re.sub(r"^\s*\* ?", "", comment, flags=re.M)
        found = re.search(r"@typedef\s+(?=\{)", text)
        if not found:
            continue
        kind, after = _braced(text, found.end())
        name = re.match(r"\s*(\w+)", text[after:])
        if name is None:
            raise ValueError(f"a @typedef without a name: {text[:60]!r}")
        if kind.strip() != "object":
            continue
        props: dict[str, Property] = {}
        for tag in re.finditer(r"@property\s+(?=\{)", text):
            ptype, after = _braced(text, tag.end())
            pname = re.match(r"\s*(\[?)(\w+)", text[after:])
            if pname is None:
                raise ValueError(f"a @property without a name in {name.group(1)}")
            props[pname.group(2)] = Property(pname.group(2), ptype.strip(), optional=pname.group(1) == "[")
        typedefs[name.group(1)] = props
    return typedefs


def _checker(jstype: str) -> Callable[[object], bool]:
    """A test of a JSON value against a JSDoc union of number, string, boolean, null, string literals, arrays and tuples."""
    alternatives = [part.strip() for part in jstype.split("|")]
    tests: list[Callable[[object], bool]] = []
    for alt in alternatives:
        if alt == "number":
            tests.append(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        elif alt == "string":
            tests.append(lambda v: isinstance(v, str))
        elif alt == "boolean":
            tests.append(lambda v: isinstance(v, bool))
        elif alt == "null":
            tests.append(lambda v: v is None)
        elif re.fullmatch(r'"[^"]*"', alt):
            tests.append(lambda v, literal=alt[1:-1]: v == literal)
        elif alt.endswith("[]"):
            item = _checker(alt[:-2])
            tests.append(lambda v, item=item: isinstance(v, list) and all(item(x) for x in v))
        elif re.fullmatch(r"\[[^\[\]]+\]", alt):
            items = [_checker(part.strip()) for part in alt[1:-1].split(",")]
            tests.append(
                lambda v, items=items: (
                    isinstance(v, list)
                    and len(v) == len(items)
                    and all(check(x) for check, x in zip(items, v, strict=True))
                )
            )
        else:
            raise ValueError(f"the payload test cannot check the JSDoc type {alt!r} (in {jstype!r}): extend _checker")
    return lambda v: any(test(v) for test in tests)


def check_row(row: object, typedef: str, props: dict[str, Property]) -> list[str]:
    """What is wrong with one published payload against its typedef (empty when nothing)."""
    if not isinstance(row, dict):
        return [f"{typedef}: a {type(row).__name__}, not an object"]
    problems = []
    missing = sorted(p.name for p in props.values() if not p.optional and p.name not in row)
    if missing:
        problems.append(f"{typedef}: Python leaves out {missing}, which js/types.js requires")
    undeclared = sorted(set(row) - set(props))
    if undeclared:
        problems.append(f"{typedef}: Python publishes {undeclared}, which js/types.js does not declare")
    for key in sorted(set(row) & set(props)):
        if not _checker(props[key].type)(row[key]):
            problems.append(f"{typedef}.{key} = {row[key]!r} ({type(row[key]).__name__}) is not {{{props[key].type}}}")
    return problems


# -- the parser itself ------------------------------------------------------------------------


def test_parser_reads_properties_optional_marks_and_nested_braces():
    source = """
    /**
     * A thing.
     * @typedef {object} Thing
     * @property {number} a      first
     * @property {string | null} [b]   second
     * @property {(x: {y: number}) => void} [c=null]
     */
    /** @typedef {(m: Model) => void} NotAnObject */
    """
    parsed = parse_typedefs(source)
    assert set(parsed) == {"Thing"}
    assert parsed["Thing"] == {
        "a": Property("a", "number", False),
        "b": Property("b", "string | null", True),
        "c": Property("c", "(x: {y: number}) => void", True),
    }


def test_check_row_names_every_kind_of_disagreement():
    props = {"a": Property("a", "number", False), "b": Property("b", '"x" | null', True)}
    assert check_row({"a": 1.5, "b": None}, "T", props) == []
    assert check_row({"a": 2}, "T", props) == []
    problems = check_row({"b": "y", "extra": 1}, "T", props)
    assert problems == [
        "T: Python leaves out ['a'], which js/types.js requires",
        "T: Python publishes ['extra'], which js/types.js does not declare",
        "T.b = 'y' (str) is not {\"x\" | null}",
    ]
    assert check_row({"a": True}, "T", props) == ["T.a = True (bool) is not {number}"]
    assert check_row([1], "T", props) == ["T: a list, not an object"]


def test_parser_refuses_types_it_cannot_check():
    with pytest.raises(ValueError, match="cannot check the JSDoc type 'Record<string, any>'"):
        _checker("Record<string, any> | null")
    with pytest.raises(ValueError, match="unbalanced braces"):
        parse_typedefs("/** @typedef {object T */")


# -- Python against js/types.js ---------------------------------------------------------------


@pytest.fixture(scope="module")
def typedefs() -> dict[str, dict[str, Property]]:
    return parse_typedefs(TYPES_JS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def published() -> dict[str, list[object]]:
    """Every value of the typed traits an explorer publishes while it is used."""
    d = planted_clusters(n_rows=400, dim=8, n_clusters=8, fractions=(0.05,), seed=3)
    rng = np.random.default_rng(0)
    n = len(d.losses)
    metadata = pd.DataFrame({"site": rng.choice(["A", "B", "C"], size=n), "age": rng.integers(18, 90, size=n)})
    labels = d.cluster % 3
    ex = SpotlightExplorer(
        d.embeddings,
        d.losses,
        [f"text {i}" for i in range(n)],
        metadata=metadata,
        labels=labels,
        predictions=(labels + 1) % 3,
        class_names=["zero", "one", "two"],
        size=0.05,
        influence=rng.normal(size=(n, 4)),
        train_influence=rng.normal(size=(50, 4)),
        train_items=[f"train {i}" for i in range(50)],
        page_size=10,
        coords="pca",
    )
    assert ex.wait(60)
    seen: dict[str, list[object]] = {trait: [getattr(ex, trait)] for trait in TRAITS}
    ex.observe(lambda change: seen[change["name"]].append(change["new"]), names=list(TRAITS))
    ex.next()
    assert ex.wait(60)
    assert ex.coords.shape == (n, 2)
    ex.breakdown_column = "age"
    ex.tab = "opponents"
    assert ex.status["state"] == "idle", ex.status
    ex.close()
    # A comparison of two models publishes both models' losses and predictions too.
    other = d.losses * rng.uniform(0.5, 1.5, size=n)
    ex = SpotlightExplorer.compare(
        d.embeddings,
        other,
        d.losses,
        metadata=metadata,
        labels=labels,
        predictions_old=labels,
        predictions_new=(labels + 1) % 3,
        size=0.05,
        coords=None,
        page_size=10,
    )
    assert ex.wait(60)
    for trait in TRAITS:
        seen[trait].append(getattr(ex, trait))
    ex.direction = "better"
    assert ex.wait(60)
    for trait in TRAITS:
        seen[trait].append(getattr(ex, trait))
    ex.close()
    return seen


def _rows(values: list[object]) -> list[object]:
    return [row for value in values for row in (value if isinstance(value, list) else [value])]


def test_every_typed_trait_has_its_typedef(typedefs):
    assert set(TRAITS.values()) <= set(typedefs), f"js/types.js lacks {set(TRAITS.values()) - set(typedefs)}"


@pytest.mark.parametrize("trait", sorted(TRAITS))
def test_published_payloads_match_js_types(trait, typedefs, published):
    typedef = TRAITS[trait]
    props = typedefs[typedef]
    rows = _rows(published[trait])
    assert rows, f"the explorer never published {trait}"
    problems = sorted({p for row in rows for p in check_row(row, typedef, props)})
    assert not problems, "\n".join(problems)
    never = sorted(set(props) - {key for row in rows if isinstance(row, dict) for key in row})
    assert not never, f"js/types.js declares {typedef} properties {never} that Python never publishes"


@pytest.mark.parametrize("trait", sorted(TRAITS))
def test_published_payloads_are_plain_json(trait, published):
    # The front end gets JSON: numpy scalars or NaN would not arrive as the types say.
    for value in published[trait]:
        json.dumps(value, allow_nan=False)


def test_status_covers_running_and_idle(published):
    states = {row["state"] for row in _rows(published["status"])}
    assert {"running", "idle"} <= states
