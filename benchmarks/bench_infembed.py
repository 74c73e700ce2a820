#!/usr/bin/env python
"""Time InfEmbed on a small classifier, against baselines measured in the same run.

Data: 10 Gaussian classes in 20 dimensions, each a mixture of 3 subclusters. In the
*training* data one subcluster of class 0 is labelled class 1 throughout (a planted
labelling error); the test data is labelled correctly, so the model fails on that
subcluster. A 2-hidden-layer MLP (20-64-64-10, 6.3k parameters) is trained with Adam.

Reported (the machine is shared and noisy, so each time comes with a ratio to a baseline
timed in the same process):

- ``influence_embeddings`` (Arnoldi factorisation, then test and training embeddings),
  all layers (with and without ``cache_hessian``) and the last layer only, against one
  training epoch (forward, backward and Adam step over the training set, same batch size);
- ``infembed`` (K-means with normalised centroids on the influence embeddings) and
  ``infembed_rule`` (accuracy <= 0.4, at least 25 examples: the paper's rule; B = 2 and 3) against
  scikit-learn K-means on the penultimate-layer embeddings, same K and starts;
- recovery: F1 of the worst slice against the planted subcluster's test examples, for
  both clusterings, and the share of the worst slice's top opponents that are planted
  (mislabelled) training examples (the rule's worst slice when one meets it).

Run from the repository root::

    .venv/bin/python benchmarks/bench_infembed.py           # quick: 4k train / 2k test, < 1 minute
    .venv/bin/python benchmarks/bench_infembed.py --full    # 20k / 10k, P = 300, D = 100, a few minutes

torch runs on one thread unless ``--threads`` says otherwise (on a shared CPU a second
thread mostly adds contention for models this small).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from spotlight_widget.infembed import infembed, infembed_rule, influence_embeddings, slice_opponents


def make_data(n: int, seed: int, planted_label: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Examples, labels, and whether each lies in the planted subcluster (class 0, part 0)."""
    centres = 4.0 * torch.randn(10, 3, 20, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 10, (n,), generator=g)
    part = torch.randint(0, 3, (n,), generator=g)
    x = centres[label, part] + torch.randn(n, 20, generator=g)
    planted = ((label == 0) & (part == 0)).numpy()
    y = torch.where(torch.as_tensor(planted), torch.tensor(planted_label), label)
    return x, y, planted


def train(x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int) -> tuple[nn.Module, float]:
    """Train the MLP; also return the seconds of one epoch (the influence baseline)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    epoch_s = []
    for _ in range(epochs):
        start = time.perf_counter()
        for i in torch.randperm(x.shape[0]).split(batch_size):
            opt.zero_grad()
            loss_fn(model(x[i]), y[i]).backward()
            opt.step()
        epoch_s.append(time.perf_counter() - start)
    return model.eval(), float(np.median(epoch_s))


def f1(rows: np.ndarray, planted: np.ndarray) -> float:
    hit = planted[rows].sum()
    return float(2 * hit / (rows.size + planted.sum())) if rows.size else 0.0


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="larger data, the paper's P and D")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train, n_test, p, d, n_hess, k = (
        (20_000, 10_000, 300, 100, 2000, 30) if args.full else (4000, 2000, 100, 40, 1000, 15)
    )
    batch = 128
    print(f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"train {n_train}, test {n_test}, Arnoldi P={p}, rank D={d}, Hessian sample {n_hess}, K={k}\n")

    x, y, planted_train = make_data(n_train, seed=1, planted_label=1)
    xt, yt, planted_test = make_data(n_test, seed=2, planted_label=0)
    model, epoch_s = train(x, y, epochs=15, batch_size=batch)
    loss_fn = nn.CrossEntropyLoss()
    with torch.no_grad():
        correct = (model(xt).argmax(1) == yt).numpy()
        penultimate = model[:-1](xt).numpy()
    print(
        f"test accuracy {correct.mean():.3f}; planted subcluster {planted_test.sum()} test examples, "
        f"accuracy {correct[planted_test].mean():.3f}\n"
    )

    opts = {"arnoldi_dim": p, "rank": d, "hessian_samples": n_hess, "batch_size": batch, "device": "cpu"}
    emb, t_all = timed(lambda: influence_embeddings(model, loss_fn, (x, y), (xt, yt), embed_train=True, **opts))
    _, t_nocache = timed(
        lambda: influence_embeddings(model, loss_fn, (x, y), (xt, yt), embed_train=True, cache_hessian=False, **opts)
    )
    last, t_last = timed(lambda: influence_embeddings(model, loss_fn, (x, y), (xt, yt), layers="4", **opts))
    n_params = emb.factors.vectors.shape[0]
    print("influence_embeddings (test + train embedded)     seconds   x one training epoch")
    print(f"  one training epoch (baseline)                {epoch_s:8.2f}   1.0")
    print(f"  all layers ({n_params} parameters)              {t_all:8.2f}   {t_all / epoch_s:.0f}")
    print(f"  all layers, cache_hessian=False             {t_nocache:8.2f}   {t_nocache / epoch_s:.0f}")
    print(
        f"  last layer only ({last.factors.vectors.shape[0]} parameters, test only) {t_last:8.2f}   {t_last / epoch_s:.0f}"
    )

    slices, t_inf = timed(lambda: infembed(emb.test, correct, k=k, seed=0))
    rules = {
        b: timed(lambda b=b: infembed_rule(emb.test, correct, max_accuracy=0.4, min_size=25, branching=b))
        for b in (2, 3)
    }
    plain, t_km = timed(lambda: KMeans(n_clusters=k, n_init=3, random_state=0).fit(penultimate))
    labels = plain.labels_
    worst_km = min(range(k), key=lambda c: correct[labels == c].mean() if (labels == c).any() else 2.0)
    km_rows = np.flatnonzero(labels == worst_km)
    print("\nclustering                                      seconds   x baseline   worst slice: acc, F1 vs planted")
    print(
        f"  sklearn K-means, penultimate layer (baseline) {t_km:8.3f}   1.0          "
        f"{correct[km_rows].mean():.2f}, {f1(km_rows, planted_test):.2f}"
    )
    print(
        f"  infembed (normalised centroids)               {t_inf:8.3f}   {t_inf / t_km:<10.2f}   "
        f"{slices[0].info['accuracy']:.2f}, {f1(slices[0].indices, planted_test):.2f}"
    )
    for b, (ruled, t_rule) in rules.items():
        found = (
            f"{ruled[0].info['accuracy']:.2f}, {f1(ruled[0].indices, planted_test):.2f} ({len(ruled)} slices meet it)"
            if ruled
            else "no slice meets the rule"
        )
        print(f"  infembed_rule B={b} (acc <= 0.4, >= 25)         {t_rule:8.3f}   {t_rule / t_km:<10.2f}   {found}")

    ruled = rules[2][0] or rules[3][0]
    worst = ruled[0] if ruled else slices[0]
    n_planted = int(planted_train.sum())
    opp = slice_opponents(worst, emb.train, k=n_planted)
    share = float(planted_train[opp["index"].to_numpy()].mean())
    print(
        f"\nopponents of the worst {worst.method} slice: {share:.0%} of the top {n_planted} are the mislabelled "
        f"training examples (they are {planted_train.mean():.1%} of the training data)"
    )


if __name__ == "__main__":
    main()
