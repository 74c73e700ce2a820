"""notebooks/shared_interest.ipynb runs from top to bottom and tells the story it claims."""

import re
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("mlxtend")
pytest.importorskip("matplotlib")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "shared_interest.ipynb"


def text_output(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") or "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_shared_interest_notebook_finds_the_distractors():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells), "commit the notebook with its outputs cleared"
    # The notebook ends with its own asserts on the story; an error in any cell fails here.
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": NOTEBOOK.parent}}
    ).execute()
    text = text_output(nb)
    found = re.search(r"fooled: (\d+) of (\d+) non-sevens .*?; (\d+)% of them are distractors \(vs (\d+)% ", text)
    assert found, text
    fooled, cued, share, rest = map(int, found.groups())
    assert fooled >= 0.25 * cued and share > 50 and share > 5 * rest
    assert "all checks passed" in text
    widgets = [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets, "the explorer did not render as a widget"
