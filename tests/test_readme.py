"""The README's code runs as written: its quickstart and its path from a model to a shared audit.

The snippets are executed with small stand-ins for the objects they name (a model, a
DataLoader, images, a metadata frame), and only those: a snippet that needs anything else,
such as arrays the reader has not got, fails with a NameError.
"""

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from spotlight_widget import SpotlightExplorer

README = Path(__file__).resolve().parent.parent / "README.md"
AUDIT_SECTION = "### From a model to a shared audit"
ROWS = 300


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def section(text: str, heading: str) -> str:
    assert heading in text, f"README.md has no section {heading!r}"
    start = text.index(heading) + len(heading)
    end = re.search(r"^#{1,3} ", text[start:], re.M)
    return text[start : start + end.start()] if end else text[start:]


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    """What the README's snippets assume the reader has; files they write land in tmp_path."""
    monkeypatch.chdir(tmp_path)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(ROWS, 8, generator=gen)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    names = {
        "model": mlp(1),
        "v1": mlp(2),
        "v2": mlp(1),
        "test_loader": DataLoader(TensorDataset(x, y), batch_size=64),
        "images": np.random.default_rng(0).integers(0, 256, (ROWS, 8, 8), dtype=np.uint8),
        "df": pd.DataFrame({"side": np.where(x[:, 2].numpy() > 0, "left", "right")}),
        "names": ["zero", "one", "two", "three"],
    }
    yield names, x, y
    for value in list(names.values()):
        if isinstance(value, SpotlightExplorer):
            value.close()


def run(code: str, names: dict) -> None:
    exec(compile(code, str(README), "exec"), names)


def test_quickstart_opens_the_explorer_from_a_model_and_its_dataloader(stand_ins):
    names, x, y = stand_ins
    run(python_blocks(README.read_text())[0], names)

    ex = names["ex"]
    assert isinstance(ex, SpotlightExplorer)
    ex.wait()
    members = ex.to_dataframe(0)
    with torch.no_grad():
        expected = F.cross_entropy(names["model"](x), y, reduction="none").numpy()
    np.testing.assert_allclose(members["loss"], expected[members["index"]], rtol=1e-5)
    assert set(members["label"]) <= set(names["names"])
    assert "side" in members.columns


def test_audit_path_collects_compares_saves_reopens_and_reports(stand_ins):
    names, _, _ = stand_ins
    blocks = python_blocks(section(README.read_text(), AUDIT_SECTION))
    assert blocks, f"{AUDIT_SECTION!r} has no Python snippet"
    for block in blocks:
        run(block, names)

    # The reopened explorer carries what was noted before saving.
    reopened = names["ex"]
    notes = [text for by_position in reopened.notes.values() for text in by_position.values()]
    assert notes, "the audit path notes a result, and the reopened session should hold the note"
    assert list(Path().glob("*.spotlight")), "the audit path saves a session"
    reports = list(Path().glob("*.html"))
    assert len(reports) == 1, "the audit path writes one HTML report"
    page = reports[0].read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    for text in notes:
        assert html.escape(text) in page

    # The comparison: in the "better" direction a member's loss is the old model's minus the new one's.
    comparison = next(v for v in names.values() if isinstance(v, SpotlightExplorer) and v is not reopened)
    comparison.wait()
    members = comparison.to_dataframe(0)
    sign = 1.0 if comparison.direction == "worse" else -1.0
    np.testing.assert_allclose(members["loss"], sign * (members["loss_new"] - members["loss_old"]), rtol=1e-6)
