"""Behaviour of the Spotlight search that users rely on."""

import math
import threading
from functools import partial

import numpy as np
import pytest
import torch

from spotlight_widget import SearchCancelled, find_spotlight, find_spotlights
from spotlight_widget.engine import get_preset
from spotlight_widget.synthetic import planted_clusters

from .conftest import precision


def jaccard(a, b) -> float:
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b)


def test_planted_cluster_is_recovered(planted):
    sp = find_spotlight(planted.embeddings, planted.losses, size=0.02)
    assert precision(sp, planted.planted[0]) >= 0.95
    assert sp.size == 60
    # The barrier's target: the mass ends at S + 0.05 S.
    assert sp.mass == pytest.approx(1.05 * sp.size, rel=1e-3)
    assert sp.top_loss > 3 * float(planted.losses.mean())
    assert sp.converged


def test_result_fields_are_consistent(planted):
    sp = find_spotlight(planted.embeddings, planted.losses, size=0.02)
    w, losses = sp.weights, planted.losses.astype(np.float64)
    assert w.shape == (3000,) and w.min() >= 0 and w.max() <= 1
    assert np.array_equal(np.sort(sp.indices), np.flatnonzero(w > 0))
    assert np.all(np.diff(w[sp.indices]) <= 0), "indices are not sorted by weight"
    assert sp.weighted_loss == pytest.approx((w * losses).sum() / w.sum(), rel=1e-6)
    assert sp.top_loss == pytest.approx(losses[sp.indices[: sp.size]].mean(), rel=1e-6)
    assert sp.mass == pytest.approx(w.sum(), rel=1e-6)
    # The kernel of paper Eq. 1 with the reported centre and precision gives the weights.
    np.testing.assert_allclose(sp.membership(planted.embeddings), w, atol=2e-3)
    frame = sp.to_frame()
    assert list(frame.columns) == ["index", "weight", "loss", "count", "in_top"]
    assert len(frame) == len(sp.indices) and frame["weight"].is_monotonic_decreasing
    assert np.array_equal(frame.loc[frame["in_top"], "index"], sp.top_indices)
    hist = sp.history.to_frame()
    assert list(hist.columns) == ["step", "stage", "objective", "mass", "lr", "width"]
    assert len(hist) == sp.history.steps > 0
    assert hist["width"].iloc[-1] == pytest.approx(0.05 * sp.size, rel=1e-4)
    assert "Spotlight(rank=0, size=60" in repr(sp)


def test_sequential_spotlights_find_both_planted_clusters(two_planted):
    first, second = find_spotlights(two_planted.embeddings, two_planted.losses, n=2, size=0.02)
    found = {}
    for sp in (first, second):
        scores = [precision(sp, rows) for rows in two_planted.planted]
        found[sp.rank] = int(np.argmax(scores))
        assert max(scores) >= 0.9
    assert set(found.values()) == {0, 1}, "both spotlights landed on the same planted cluster"
    assert jaccard(first.top_indices, second.top_indices) == 0


def test_scale_and_offset_invariance(planted):
    emb, losses = planted.embeddings, planted.losses
    ref = find_spotlight(emb, losses, size=0.02).top_indices
    for variant_emb, variant_loss in [
        (emb * 1e-3, losses),
        (emb * 1e3, losses),
        (emb + 50.0, losses),
        (emb * 1e3 - 7e4, losses),
        (emb, losses * 1e4),
        (emb, losses * 1e-3),
    ]:
        got = find_spotlight(variant_emb, variant_loss, size=0.02).top_indices
        assert jaccard(got, ref) >= 0.95


def test_same_seed_same_result_bit_for_bit(planted):
    a = find_spotlight(planted.embeddings, planted.losses, size=0.02, restarts=3, seed=5)
    b = find_spotlight(planted.embeddings, planted.losses, size=0.02, restarts=3, seed=5)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(a.history.objective, b.history.objective)


def test_heavy_tailed_losses_and_huge_norms_never_give_empty_spotlights():
    rng = np.random.default_rng(3)
    data = planted_clusters(n_rows=2000, dim=32, n_clusters=10, seed=3)
    # A few confident mistakes with enormous cross-entropy, far away from everything.
    losses = data.losses.copy()
    losses[rng.choice(2000, 5, replace=False)] = 1e4
    emb = data.embeddings * 1e4 + 1e5  # norms far above 100: k_i = 0 at the paper's start
    for size in (5, 0.001, 0.02, 0.1):
        sp = find_spotlight(emb, losses, size=size)
        assert np.isfinite(sp.weights).all()
        assert sp.mass >= sp.size
        assert len(sp.indices) >= sp.size


def test_paper_preset_refuses_what_it_cannot_do():
    data = planted_clusters(n_rows=500, dim=8, n_clusters=5, seed=0)
    with pytest.raises(ValueError, match="every kernel weight is 0 at the paper's start"):
        find_spotlight(data.embeddings * 1e3 + 1e3, data.losses, size=0.05, preset="paper")


def test_counts_act_as_copies():
    data = planted_clusters(n_rows=1500, dim=16, n_clusters=10, seed=4)
    counts = np.random.default_rng(4).integers(1, 4, size=1500)
    rows = np.repeat(np.arange(1500), counts)
    size = 0.02
    with_counts = find_spotlight(data.embeddings, data.losses, size=size, counts=counts, dtype=torch.float64)
    copies = find_spotlight(data.embeddings[rows], data.losses[rows], size=size, dtype=torch.float64)
    assert with_counts.size == copies.size == round(size * counts.sum())
    np.testing.assert_allclose(with_counts.weights[rows], copies.weights, atol=1e-4)
    assert with_counts.mass == pytest.approx(copies.mass, rel=1e-4)
    assert with_counts.weighted_loss == pytest.approx(copies.weighted_loss, rel=1e-4)
    assert counts[with_counts.top_indices].sum() >= with_counts.size
    assert "count" in with_counts.to_frame().columns


def test_counts_change_the_answer():
    data = planted_clusters(n_rows=1500, dim=16, n_clusters=10, seed=4)
    counts = np.ones(1500)
    counts[data.planted[0]] = 0  # the failing cluster does not exist with these counts
    sp = find_spotlight(data.embeddings, data.losses, size=0.02, counts=counts)
    assert precision(sp, data.planted[0]) < 0.2


def test_batched_sizes_match_single_searches(planted):
    sizes = [0.01, 0.02, 0.05]
    batch = find_spotlight(planted.embeddings, planted.losses, size=sizes)
    assert [sp.size for sp in batch] == [30, 60, 150]
    for size, sp in zip(sizes, batch):
        alone = find_spotlight(planted.embeddings, planted.losses, size=size)
        assert jaccard(sp.top_indices, alone.top_indices) >= 0.95
    nested = find_spotlights(planted.embeddings, planted.losses, n=2, size=[0.01, 0.02])
    assert [[sp.rank for sp in row] for row in nested] == [[0, 1], [0, 1]]


def test_restarts_keep_the_best_objective(planted):
    one = find_spotlight(planted.embeddings, planted.losses, size=0.02, restarts=1)
    many = find_spotlight(planted.embeddings, planted.losses, size=0.02, restarts=4)
    assert many.objective >= one.objective - 1e-6
    assert precision(many, planted.planted[0]) >= 0.95


def far_failures(n=2000, dim=16, distance=10.0, seed=0):
    """A dense blob of zero-loss examples around the origin and 2 % of high-loss examples
    in a tight group ``distance`` away, farther than the blob's radius (about sqrt(dim)).

    The SpotCheck rebuild's shape: correct predictions everywhere, small blindspots far
    from the data's centre.
    """
    rng = np.random.default_rng(seed)
    m = round(0.02 * n)
    x = rng.normal(size=(n, dim))
    x[:m] = 0.3 * rng.normal(size=(m, dim))
    x[:m, 0] += distance
    loss = np.zeros(n)
    loss[:m] = 1.0 + rng.random(m)
    return x.astype(np.float32), loss, np.arange(m)


def test_one_start_from_the_whole_data_can_settle_on_zero_loss_the_default_does_not():
    x, loss, failing = far_failures()
    # The defect: one start from the whole data ends in the blob, where nothing fails, and
    # the discount of a zero-loss spotlight changes nothing, so the next one repeats it.
    stuck = find_spotlights(x, loss, n=2, size=0.02, restarts=1)
    for sp in stuck:
        assert sp.weighted_loss == pytest.approx(0.0, abs=1e-6)
        assert precision(sp, failing) == 0.0
    np.testing.assert_array_equal(stuck[0].weights, stuck[1].weights)
    # The fast preset's second start, at a high-loss neighbourhood, finds the failing group.
    found = find_spotlight(x, loss, size=0.02)
    assert precision(found, failing) >= 0.9
    assert found.weighted_loss > 0.5 * loss[failing].mean()
    assert found.objective > stuck[0].objective


def test_restarts_default_to_the_presets():
    assert get_preset("fast").restarts == 2
    assert get_preset("paper").restarts == 1
    x, loss, failing = far_failures(n=1000)
    paper = partial(find_spotlight, x, loss, size=0.02, preset="paper", max_steps=200, dtype=torch.float64)
    default = paper()
    np.testing.assert_array_equal(default.weights, paper(restarts=1).weights)
    # Not vacuous: a second start changes the paper preset's answer on these data.
    assert precision(default, failing) == 0.0
    assert precision(paper(restarts=2), failing) >= 0.9
    with pytest.raises(ValueError, match=r"find_spotlight: the preset's restarts must be an int in \[1, inf\); got 0"):
        find_spotlight(x, loss, size=0.02, preset=get_preset("fast", restarts=0))
    with pytest.raises(TypeError, match=r"find_spotlight: restarts must be None or an int in \[1, inf\); got 1.5"):
        find_spotlight(x, loss, size=0.02, restarts=1.5)


def test_warm_start_from_another_size_is_shorter(planted):
    cold = find_spotlight(planted.embeddings, planted.losses, size=0.05)
    start = find_spotlight(planted.embeddings, planted.losses, size=0.02)
    warm = find_spotlight(planted.embeddings, planted.losses, size=0.05, init=start)
    assert warm.history.steps < cold.history.steps
    assert jaccard(warm.top_indices, cold.top_indices) >= 0.9
    with pytest.raises(ValueError, match="init has 1 spotlights for 2 sizes"):
        find_spotlight(planted.embeddings, planted.losses, size=[0.02, 0.05], init=[start])


def test_progress_reports_and_cancel_stops(planted):
    seen = []
    find_spotlight(planted.embeddings, planted.losses, size=0.02, progress=seen.append)
    assert seen and all(p.total >= p.step > 0 for p in seen)
    assert [p.step for p in seen] == sorted(p.step for p in seen)
    assert all(math.isfinite(p.objective) for p in seen)

    event = threading.Event()
    calls = []

    def cancel_after_two(p):
        calls.append(p)
        if len(calls) == 2:
            event.set()

    with pytest.raises(SearchCancelled):
        find_spotlight(planted.embeddings, planted.losses, size=0.02, progress=cancel_after_two, cancel=event)
    assert len(calls) == 2
    with pytest.raises(SearchCancelled):
        find_spotlight(planted.embeddings, planted.losses, size=0.02, cancel=lambda: True)


def test_large_data_is_searched_on_a_sample_first():
    data = planted_clusters(n_rows=12_000, dim=16, n_clusters=20, seed=6)
    cfg = get_preset("fast", coarse_rows=3000)
    sp = find_spotlight(data.embeddings, data.losses, size=0.02, preset=cfg)
    assert set(np.unique(sp.history.stage)) == {0, 1}
    assert precision(sp, data.planted[0]) >= 0.95
    assert sp.mass == pytest.approx(1.05 * sp.size, rel=1e-3)


def test_membership_scores_held_out_data(planted):
    sp = find_spotlight(planted.embeddings, planted.losses, size=0.02)
    inside = planted.embeddings[sp.top_indices[:5]] + 1e-3
    assert (sp.membership(inside) > 0).all()
    with pytest.raises(ValueError, match="columns"):
        sp.membership(planted.embeddings[:, :3])


# ---------------------------------------------------------------------------------------------
# The paper preset against a literal implementation of the paper's equations (Section 3).


def literal_paper_spotlight(x, losses, size, steps, barrier=1.0):
    """Eq. 1-5 written directly with autograd, torch.optim.Adam and ReduceLROnPlateau."""
    x = torch.as_tensor(x, dtype=torch.float64)
    losses = torch.as_tensor(losses, dtype=torch.float64)
    n, d = x.shape
    mu = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    log_tau = torch.tensor(math.log(1e-4), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([mu, log_tau], lr=1e-2)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=10)
    widths = np.geomspace(n - size, 0.05 * size, steps)
    history = []
    for w in widths:
        k = torch.clamp(1 - log_tau.exp() * ((x - mu) ** 2).sum(1), min=0)
        total = k.sum()
        penalty = barrier * ((total - (size + w)) / w) ** 2 if total < size + w else 0.0
        objective = (k * losses).sum() / total - penalty
        history.append(objective.item())
        opt.zero_grad()
        (-objective).backward()
        opt.step()
        before = opt.param_groups[0]["lr"]
        sched.step(-objective.item())
        if opt.param_groups[0]["lr"] < before:
            sched.best = float("inf")
    with torch.no_grad():
        k = torch.clamp(1 - log_tau.exp() * ((x - mu) ** 2).sum(1), min=0)
    return k.numpy(), np.array(history)


def test_paper_preset_matches_a_literal_implementation():
    data = planted_clusters(n_rows=800, dim=12, n_clusters=8, seed=7)
    losses = np.minimum(data.losses, 3.0) / 3.0
    steps = 1500
    weights, history = literal_paper_spotlight(data.embeddings, losses, 16, steps)
    sp = find_spotlight(data.embeddings, losses, size=16, preset="paper", max_steps=steps, dtype=torch.float64)
    # The literal run anneals over `steps`; so does the preset when max_steps is shortened.
    assert sp.history.steps == steps
    # Same arithmetic: the objective agrees step by step until rounding differences flip a
    # reduce-on-plateau decision (here after about 1,000 steps)...
    np.testing.assert_allclose(sp.history.objective[:1000], history[:1000], rtol=1e-9, atol=1e-12)
    # ...and after that the two runs still end in the same spotlight.
    assert jaccard(sp.top_indices, np.argsort(-weights, kind="stable")[:16]) == 1.0
    np.testing.assert_allclose(sp.weights, weights, atol=1e-2)
    assert sp.mass == pytest.approx(weights.sum(), rel=1e-2)


def test_fast_and_paper_presets_agree_on_benign_data():
    data = planted_clusters(n_rows=1500, dim=16, n_clusters=10, seed=8)
    losses = np.minimum(data.losses, 3.0) / 3.0
    paper = find_spotlight(data.embeddings, losses, size=0.02, preset="paper", max_steps=2000)
    fast = find_spotlight(data.embeddings, losses, size=0.02)
    assert jaccard(paper.top_indices, fast.top_indices) >= 0.9
    assert fast.history.steps < paper.history.steps / 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_matches_cpu(planted):
    cpu = find_spotlight(planted.embeddings, planted.losses, size=0.02, device="cpu", dtype=torch.float64)
    gpu = find_spotlight(planted.embeddings, planted.losses, size=0.02, device="cuda", dtype=torch.float64)
    assert jaccard(cpu.top_indices, gpu.top_indices) >= 0.95
    on_device = find_spotlight(torch.from_numpy(planted.embeddings).cuda(), planted.losses, size=0.02)
    assert precision(on_device, planted.planted[0]) >= 0.95


def test_a_sequence_can_be_continued(two_planted):
    first, second = find_spotlights(two_planted.embeddings, two_planted.losses, n=2, size=0.02)
    (cont,) = find_spotlights(two_planted.embeddings, two_planted.losses, n=1, size=0.02, after=[first])
    assert cont.rank == 1
    np.testing.assert_array_equal(cont.weights, second.weights)
    with pytest.raises(ValueError, match="single size"):
        find_spotlights(two_planted.embeddings, two_planted.losses, n=1, size=[0.01, 0.02], after=[first])
    with pytest.raises(ValueError, match="spotlights of these 100 examples"):
        find_spotlights(two_planted.embeddings[:100], two_planted.losses[:100], n=1, size=5, after=[first])


def test_cpu_threads_are_restored(planted):
    before = torch.get_num_threads()
    seen = []
    find_spotlight(
        planted.embeddings,
        planted.losses,
        size=0.02,
        threads=1,
        progress=lambda p: seen.append(torch.get_num_threads()),
    )
    assert set(seen) == {1}
    assert torch.get_num_threads() == before
    with pytest.raises(SearchCancelled):
        find_spotlight(planted.embeddings, planted.losses, size=0.02, threads=1, cancel=lambda: True)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        find_spotlight(planted.embeddings, planted.losses, size=0.02, threads=0)


@pytest.mark.parametrize(
    ("cast", "options"),
    [
        (np.float64, {}),  # converted to a private float32 copy, centred in place
        (np.float32, {"dtype": torch.float64}),  # same, at float64
        (np.float32, {"offset": 50.0}),  # far from the origin: a centred copy of the user's data
    ],
)
def test_centre_is_in_the_users_coordinates_whatever_copy_the_search_made(planted, cast, options):
    options = dict(options)
    x = planted.embeddings.astype(cast) + options.pop("offset", 0.0)
    spots = find_spotlights(x, planted.losses, n=2, size=0.03, **options)
    for sp in spots:
        # The weights the search reports are the kernel at the reported centre and precision.
        np.testing.assert_allclose(sp.membership(x), sp.weights, atol=1e-4)
        inside = x[sp.top_indices]
        assert np.linalg.norm(inside.mean(0) - sp.center) < np.linalg.norm(x.mean(0) - sp.center)


def test_damped_losses_keep_to_the_coherent_group_and_report_original_losses():
    # A group with moderately high losses, and 2 % of scattered examples with huge ones (random
    # wrong labels): the search should find the group, not chase the scattered tail.
    d = planted_clusters(n_rows=3000, dim=16, n_clusters=10, fractions=(0.03,), seed=1)
    rng = np.random.default_rng(1)
    loss = rng.exponential(0.3, 3000)
    loss[d.planted[0]] = rng.exponential(0.3, len(d.planted[0])) + 2.0
    scattered = rng.choice(np.setdiff1d(np.arange(3000), d.planted[0]), 60, replace=False)
    loss[scattered] = 15 + 5 * rng.random(60)
    size = len(d.planted[0])
    damped = find_spotlight(d.embeddings, loss, size=size)
    plain = find_spotlight(d.embeddings, loss, size=size, preset=get_preset("fast", damp_losses=False))
    assert precision(damped, d.planted[0]) >= 0.9
    assert precision(damped, d.planted[0]) > precision(plain, d.planted[0]) + 0.2
    # Everything reported is in the original losses.
    w = damped.weights
    assert damped.weighted_loss == pytest.approx(float((w * loss).sum() / w.sum()), rel=1e-5)
    np.testing.assert_allclose(damped.losses, loss, rtol=1e-6)


def test_signed_losses_are_damped_above_their_least_value():
    d = planted_clusters(n_rows=1500, dim=8, n_clusters=6, fractions=(0.05,), seed=2)
    shifted = d.losses - d.losses.mean()  # e.g. a loss relative to a baseline model
    a = find_spotlight(d.embeddings, shifted, size=0.05, dtype=torch.float64)
    b = find_spotlight(d.embeddings, shifted - shifted.min(), size=0.05, dtype=torch.float64)
    undamped = find_spotlight(d.embeddings, shifted, size=0.05, preset=get_preset("fast", damp_losses=False))
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-9)
    assert not np.allclose(a.weights, undamped.weights, atol=1e-3)


def test_more_restarts_than_rows_with_a_positive_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    losses = np.zeros(300)
    losses[:3] = 5.0  # three anchors to draw from, seven asked for
    found = find_spotlights(x, losses, n=1, size=10, restarts=8)[0]
    assert found.weighted_loss > 0
    assert set(np.asarray(found.top_indices).tolist()) & {0, 1, 2}


def test_signed_losses_find_each_worse_region_once():
    # Two models' loss difference: the new model is better almost everywhere (mean -0.3) but
    # worse in two regions. Discounting a found region towards 0 would leave it above the
    # data set's mean, and later spotlights would come back to it.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8)).astype(np.float32)
    difference = rng.normal(-0.3, 0.2, size=3000)
    first = np.argsort(np.linalg.norm(x - x[0], axis=1))[:100]
    second = np.argsort(np.linalg.norm(x - x[1], axis=1))[:100]
    difference[first] += 2.0
    difference[second] += 1.5
    found = [set(sp.top_indices.tolist()) for sp in find_spotlights(x, difference, n=3, size=100)]
    assert len(found[0] & set(first)) >= 80
    assert len(found[1] & set(second)) >= 80
    # The third holds neither region: both were discounted below everything else.
    assert len(found[2] & set(first)) + len(found[2] & set(second)) <= 20
