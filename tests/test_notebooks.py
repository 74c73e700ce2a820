"""The notebooks in notebooks/ run from top to bottom and tell the story they claim."""

import re
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("mlxtend")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run(name: str):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}
    ).execute()
    return nb


def text_output(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") or "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_explorer_demo_finds_the_sevens():
    nb = run("explorer_demo.ipynb")
    found = re.search(r"spotlight 0: (\d+) digits, (\d+)% sevens \(vs (\d+)% overall\)", text_output(nb))
    assert found, text_output(nb)
    size, share, base = map(int, found.groups())
    assert size == 100 and share >= 4 * base
    widget_outputs = [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widget_outputs, "the explorer did not render as a widget"
