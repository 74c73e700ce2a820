#!/usr/bin/env python
"""Benchmark the Spotlight engine against a straightforward implementation of the paper.

Three targets (from the project issue), all measured in the same run:

1. N = 50,000, d = 512, planted 2 % high-loss cluster: the default search
   (``preset="fast"``) is at least 100x faster than a straightforward 5000-step run of
   the paper's optimisation, and its top-S set has precision >= 0.95 against the
   planted cluster. The straightforward run at this size would take over an hour, so a
   fixed number of its steps is timed (after warm-up steps) and extrapolated to 5000
   steps; its per-step cost does not depend on the state of the optimisation.
2. N = 1,000,000, d = 512: the default search finishes in under 5 minutes, and its peak
   memory is under 2.5x the embeddings' float32 size. Data is generated once in a
   subprocess and saved as .npy; a *fresh* subprocess loads it and runs the search, and
   reports its peak RSS (``resource.getrusage``, ``ru_maxrss``) and its RSS after loading.
3. The paper preset against the straightforward implementation, both for the full 5000
   steps on a small problem (N = 5,000, d = 128, benign losses): their top-S sets agree
   (Jaccard >= 0.95).

Run from the repository root::

    .venv/bin/python benchmarks/bench_engine.py            # full mode, ~10-25 minutes
    .venv/bin/python benchmarks/bench_engine.py --quick    # smoke run, < 2 minutes

``--quick`` uses smaller problems and fewer steps; the targets apply to the full mode
only (quick mode still prints PASS/FAIL, marked as indicative).

torch's thread count is left at its default (printed at the start).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

# torch and spotlight_widget are imported lazily (``_torch()``, ``_engine()``): target 2
# runs first, while this process is still small, because a child started with fork/vfork
# inherits the parent's peak RSS in its own ru_maxrss (Linux keeps the maximum across
# execve). Importing torch here would add a few hundred MB to every child's ru_maxrss.

BENIGN_CAP = 3.0  # benign losses: min(loss, 3) / 3, for anything involving the paper's C = 1


# ---------------------------------------------------------------------------------------------
# Helpers


def _torch():
    import torch

    return torch


def _engine():
    from spotlight_widget import find_spotlight
    from spotlight_widget.synthetic import planted_clusters

    return find_spotlight, planted_clusters


def benign(losses: np.ndarray) -> np.ndarray:
    return (np.minimum(losses, BENIGN_CAP) / BENIGN_CAP).astype(np.float32)


def precision(top: np.ndarray, planted: np.ndarray) -> float:
    """Share of the top-S set that lies in the planted cluster."""
    return float(np.isin(top, planted).mean())


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b) if (a or b) else 1.0


def log(msg: str = "") -> None:
    print(msg, flush=True)


def proc_status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS: now, VmHWM: this process's own peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


class CpuWatch:
    """CPU time used by *other* processes while a measurement runs.

    Timings on a small machine are only meaningful when nothing else runs: on 2 cores
    one concurrent test suite slowed the engine 6x and the baseline's small matrix
    products 50x (torch's threads then wait on each other). This reads the whole
    machine's busy time from /proc/stat and subtracts this process's (and its finished
    children's) CPU time; the rest, per second of wall time, is the foreign load in cores.
    """

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _busy(self) -> float:
        try:
            with open("/proc/stat") as fh:
                vals = [int(v) for v in fh.readline().split()[1:]]
        except OSError:
            return float("nan")
        user, nice, system, idle, iowait, irq, softirq, steal = (vals + [0] * 8)[:8]
        return (user + nice + system + irq + softirq + steal) / self.hz

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> CpuWatch:
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        foreign = (self._busy() - self.busy0) - (self._own() - self.own0)
        self.foreign_cores = max(foreign, 0.0) / max(self.wall, 1e-9)


FOREIGN_LIMIT = 0.25  # cores of other processes' CPU above which timings are flagged


def wait_idle(limit_s: float) -> float:
    """Wait (up to ``limit_s``) until other processes use < FOREIGN_LIMIT cores over 5 s."""
    deadline = time.perf_counter() + limit_s
    while True:
        with CpuWatch() as w:
            time.sleep(5)
        if w.foreign_cores < FOREIGN_LIMIT or time.perf_counter() >= deadline:
            return w.foreign_cores
        log(f"   waiting for the machine to be idle: other processes use {w.foreign_cores:.2f} cores")


def engine_version() -> str:
    """Git HEAD plus a hash of the engine's source, so results name the code they measured.

    The source hash catches uncommitted edits and commits made while a long run is going
    (each target imports the package when it starts).
    """
    import hashlib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root
        ).stdout.strip()
    except OSError:
        head = ""
    digest = hashlib.sha1()
    pkg = os.path.join(root, "spotlight_widget")
    engine = os.path.join(pkg, "engine")
    files = [os.path.join(pkg, f) for f in ("__init__.py", "_inputs.py", "synthetic.py")]
    files += sorted(os.path.join(engine, f) for f in os.listdir(engine) if f.endswith(".py"))
    for path in files:
        if os.path.exists(path):
            digest.update(os.path.relpath(path, pkg).encode())
            with open(path, "rb") as fh:
                digest.update(fh.read())
    return f"git {head or '?'}, engine source sha1 {digest.hexdigest()[:10]}"


# ---------------------------------------------------------------------------------------------
# The straightforward baseline: the paper's optimisation written the way the authors did it
# (dense d x d precision matrix multiplied every step, autograd, torch.optim.Adam,
# ReduceLROnPlateau). Written for this benchmark from the paper's Section 3.


class StraightforwardSpotlight:
    """Paper Eq. 1-5, optimised with Adam from mu = 0, tau = 1e-4 for ``steps`` steps."""

    def __init__(self, embeddings: np.ndarray, losses: np.ndarray, size: int, steps: int = 5000, barrier: float = 1.0):
        torch = _torch()
        self.torch = torch
        self.x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
        self.losses = torch.from_numpy(np.ascontiguousarray(losses, dtype=np.float32))
        self.n, self.d = self.x.shape
        self.size = float(size)
        self.steps = steps
        self.barrier = barrier
        self.mu = torch.zeros(self.d, requires_grad=True)
        self.log_tau = torch.tensor(math.log(1e-4), requires_grad=True)
        self.opt = torch.optim.Adam([self.mu, self.log_tau], lr=1e-2)
        self.sched = torch.optim.lr_scheduler.ReduceLROnPlateau(self.opt, mode="min", factor=0.5, patience=10)
        self.eye = torch.eye(self.d)
        self.w_start = self.n - self.size
        self.w_end = 0.05 * self.size
        self.t = 0
        self.objectives: list[float] = []

    def width(self, t: int) -> float:
        """Barrier width: geometric from N - S to 0.05 S over ``steps`` steps."""
        return self.w_start * (self.w_end / self.w_start) ** (t / max(self.steps - 1, 1))

    def kernel(self):
        precision = self.log_tau.exp() * self.eye  # dense d x d precision matrix
        diff = self.x - self.mu
        dist = ((diff @ precision) * diff).sum(1)  # diagonal of (x - mu) P (x - mu)^T
        return self.torch.relu(1 - dist)

    def step(self) -> float:
        torch = self.torch
        w = self.width(self.t)
        k = self.kernel()
        mass = k.sum()
        target = self.size + w
        penalty = torch.where(
            mass < target, self.barrier * ((mass - target) / w) ** 2, torch.zeros((), dtype=mass.dtype)
        )
        objective = (k * self.losses).sum() / mass - penalty
        loss = -objective
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        lr_before = self.opt.param_groups[0]["lr"]
        value = loss.item()
        self.sched.step(value)
        if self.opt.param_groups[0]["lr"] < lr_before:
            self.sched.best = float("inf")  # plateau memory reset after each cut
        self.objectives.append(-value)
        self.t += 1
        return -value

    def weights(self) -> np.ndarray:
        with self.torch.no_grad():
            return self.kernel().numpy().astype(np.float64)

    def top_set(self) -> np.ndarray:
        w = self.weights()
        return np.argsort(-w, kind="stable")[: int(round(self.size))]


# ---------------------------------------------------------------------------------------------
# Subprocess workers (target 2)


def worker_generate(args) -> None:
    _, planted_clusters = _engine()
    t0 = time.perf_counter()
    data = planted_clusters(args.n, dim=args.dim, fractions=(0.02,), seed=args.seed)
    gen_s = time.perf_counter() - t0
    np.save(os.path.join(args.dir, "embeddings.npy"), data.embeddings)
    np.save(os.path.join(args.dir, "losses.npy"), data.losses)
    np.save(os.path.join(args.dir, "planted.npy"), data.planted[0])
    out = {"generate_s": gen_s, "peak_rss_kb": maxrss_kb(), "emb_bytes": int(data.embeddings.nbytes)}
    print("RESULT " + json.dumps(out), flush=True)


def worker_search(args) -> None:
    start = {"ru_maxrss_kb": maxrss_kb(), "vmhwm_kb": proc_status_kb("VmHWM")}
    find_spotlight, _ = _engine()  # torch imported before the data is loaded, as in a user's session
    torch = _torch()
    after_import = {"rss_kb": proc_status_kb("VmRSS"), "ru_maxrss_kb": maxrss_kb()}
    t0 = time.perf_counter()
    emb = np.load(os.path.join(args.dir, "embeddings.npy"))
    losses = np.load(os.path.join(args.dir, "losses.npy"))
    planted = np.load(os.path.join(args.dir, "planted.npy"))
    load_s = time.perf_counter() - t0
    after_load = {"rss_kb": proc_status_kb("VmRSS"), "ru_maxrss_kb": maxrss_kb()}
    stages: dict[str, int] = {}

    def progress(p):
        stages[p.stage] = p.step

    t0 = time.perf_counter()
    sp = find_spotlight(emb, losses, size=0.02, preset="fast", progress=progress)
    search_s = time.perf_counter() - t0
    out = {
        "n": int(emb.shape[0]),
        "d": int(emb.shape[1]),
        "emb_bytes": int(emb.nbytes),
        "emb_dtype": str(emb.dtype),
        "load_s": load_s,
        "search_s": search_s,
        "start": start,
        "after_import": after_import,
        "after_load": after_load,
        "peak_ru_maxrss_kb": maxrss_kb(),
        "peak_vmhwm_kb": proc_status_kb("VmHWM"),
        "precision": precision(sp.top_indices, planted),
        "steps": sp.history.steps,
        "steps_sample": int((sp.history.stage == 0).sum()),
        "steps_full": int((sp.history.stage == 1).sum()),
        "mass": sp.mass,
        "size": sp.size,
        "threads": torch.get_num_threads(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def run_worker(kind: str, extra: list[str], timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    for line in proc.stderr.splitlines()[-20:]:
        log(f"    [{kind} stderr] {line}")
    if proc.returncode != 0:
        raise RuntimeError(f"worker {kind} failed with exit code {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"worker {kind} printed no result:\n{proc.stdout}")
    return json.loads(lines[-1][len("RESULT ") :])


# ---------------------------------------------------------------------------------------------
# The three measurements


def target_large(cfg, results: dict) -> None:
    """Target 2: N = 1e6 search time and peak memory in a fresh subprocess."""
    n, d = cfg.n_large, 512
    log(f"== Target 2: N = {n:,}, d = {d}, default search (fast preset) in a fresh process")
    parent_rss = maxrss_kb()
    log(
        f"   this process's ru_maxrss before starting workers: {parent_rss / 1024:.0f} MB "
        "(a child inherits it in its own ru_maxrss)"
    )
    tmp = tempfile.mkdtemp(prefix="bench_engine_", dir=cfg.tmpdir)
    try:
        t0 = time.perf_counter()
        gen = run_worker(
            "generate", ["--n", str(n), "--dim", str(d), "--seed", str(cfg.seed + 1), "--dir", tmp], timeout=1800
        )
        log(
            f"   generated and saved in {time.perf_counter() - t0:.1f} s "
            f"(generation {gen['generate_s']:.1f} s, generator peak RSS {gen['peak_rss_kb'] / 2**20:.1f} GB)"
        )
        res = run_worker("search", ["--dir", tmp], timeout=3600)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    emb = res["emb_bytes"]
    peak = res["peak_ru_maxrss_kb"] * 1024
    res["peak_ratio"] = peak / emb
    res["vmhwm_ratio"] = res["peak_vmhwm_kb"] * 1024 / emb
    res["parent_ru_maxrss_kb"] = parent_rss
    results["large"] = res
    log(f"   embeddings: {emb / 2**30:.2f} GiB float32 ({res['emb_dtype']}), loaded in {res['load_s']:.1f} s")
    log(
        f"   child ru_maxrss at start (inherited): {res['start']['ru_maxrss_kb'] / 1024:.0f} MB; "
        f"RSS after importing torch: {res['after_import']['rss_kb'] / 1024:.0f} MB; "
        f"after loading: {res['after_load']['rss_kb'] / 2**20:.2f} GiB"
    )
    log(
        f"   search: {res['search_s']:.1f} s, steps {res['steps']} "
        f"({res['steps_sample']} on the sample, {res['steps_full']} on all rows); "
        f"torch threads after the search {res['threads']} (the engine picks its own count during a search)"
    )
    log(
        f"   peak RSS (ru_maxrss) {peak / 2**30:.2f} GiB = {res['peak_ratio']:.2f}x the embeddings "
        f"(VmHWM {res['peak_vmhwm_kb'] / 2**20:.2f} GiB = {res['vmhwm_ratio']:.2f}x); "
        f"extra over the loaded state {(peak - res['after_load']['rss_kb'] * 1024) / 2**30:.2f} GiB"
    )
    log(f"   top-S precision {res['precision']:.3f} (S = {res['size']}, mass {res['mass']:.1f})")


def target_speed(cfg, results: dict) -> None:
    """Target 1: fast preset end to end vs the straightforward baseline (extrapolated)."""
    torch = _torch()
    find_spotlight, planted_clusters = _engine()
    n, d = cfg.n_speed, 512
    log(f"== Target 1: N = {n:,}, d = {d}, planted 2 % cluster (seed {cfg.seed})")
    t0 = time.perf_counter()
    data = planted_clusters(n, dim=d, fractions=(0.02,), seed=cfg.seed)
    log(f"   data generated in {time.perf_counter() - t0:.1f} s")
    planted = data.planted[0]
    S = int(round(0.02 * n))

    threads_before = torch.get_num_threads()
    # Fast preset, end to end (heavy-tailed losses as generated).
    times, sps = [], []
    for r in range(cfg.fast_repeats):
        t0 = time.perf_counter()
        sp = find_spotlight(data.embeddings, data.losses, size=0.02, preset="fast")
        times.append(time.perf_counter() - t0)
        sps.append(sp)
        log(
            f"   fast preset run {r + 1}/{cfg.fast_repeats}: {times[-1]:.2f} s, {sp.history.steps} steps, "
            f"precision {precision(sp.top_indices, planted):.3f}"
        )
    same = all(np.array_equal(s.top_indices, sps[0].top_indices) for s in sps)
    fast_s = statistics.median(times)
    sp = sps[0]
    prec = precision(sp.top_indices, planted)
    benign_losses = benign(data.losses)
    sp_benign = find_spotlight(data.embeddings, benign_losses, size=0.02, preset="fast")
    prec_benign = precision(sp_benign.top_indices, planted)
    log(
        f"   fast preset median {fast_s:.2f} s over {len(times)} run(s); repeat runs identical: {same}; "
        f"precision with benign losses {prec_benign:.3f}"
    )

    # The engine may set torch's thread count during a search; it must leave it as it was,
    # or the baseline below would be timed with a different number of threads.
    if torch.get_num_threads() != threads_before:
        log(
            f"   NOTE: the engine left torch's thread count at {torch.get_num_threads()} (was {threads_before}); "
            "restoring it for the baseline"
        )
        torch.set_num_threads(threads_before)
    # Straightforward baseline: time a fixed number of steps, extrapolate to 5000.
    base = StraightforwardSpotlight(data.embeddings, benign_losses, S, steps=5000)
    for _ in range(cfg.warmup_steps):
        base.step()
    step_times = []
    for _ in range(cfg.baseline_steps):
        t0 = time.perf_counter()
        base.step()
        step_times.append(time.perf_counter() - t0)
    per_step = statistics.fmean(step_times)
    base_s = 5000 * per_step
    log(
        f"   straightforward baseline: {cfg.baseline_steps} steps timed after {cfg.warmup_steps} warm-up, "
        f"mean {1e3 * per_step:.0f} ms/step (median {1e3 * statistics.median(step_times):.0f}, "
        f"min {1e3 * min(step_times):.0f}, max {1e3 * max(step_times):.0f})"
    )
    log(f"   EXTRAPOLATED to 5000 steps: {base_s:.0f} s ({base_s / 60:.1f} min); not run in full")

    # For context: the engine's paper preset per step at this size (same 5000-step schedule).
    paper_steps = cfg.paper_timing_steps
    t0 = time.perf_counter()
    spp = find_spotlight(data.embeddings, benign_losses, size=0.02, preset="paper", max_steps=paper_steps)
    paper_ms = 1e3 * (time.perf_counter() - t0) / spp.history.steps
    log(
        f"   (context) engine paper preset: {paper_ms:.1f} ms/step over {spp.history.steps} steps "
        f"-> 5000 steps ~ {5 * paper_ms:.0f} s"
    )

    results["speed"] = {
        "n": n,
        "d": d,
        "size": S,
        "fast_times_s": times,
        "fast_median_s": fast_s,
        "fast_steps": sp.history.steps,
        "fast_steps_sample": int((sp.history.stage == 0).sum()),
        "fast_repeat_identical": same,
        "precision": prec,
        "precision_benign": prec_benign,
        "baseline_ms_per_step": 1e3 * per_step,
        "baseline_ms_per_step_median": 1e3 * statistics.median(step_times),
        "baseline_timed_steps": cfg.baseline_steps,
        "baseline_warmup_steps": cfg.warmup_steps,
        "baseline_extrapolated_s": base_s,
        "speedup": base_s / fast_s,
        "paper_preset_ms_per_step": paper_ms,
        "threads": torch.get_num_threads(),
    }
    log(f"   speed-up: {base_s / fast_s:.0f}x")


def target_agreement(cfg, results: dict) -> None:
    """Target 3: paper preset vs straightforward baseline, full schedule, same problem."""
    find_spotlight, planted_clusters = _engine()
    n, d, steps = cfg.n_agree, cfg.d_agree, cfg.agree_steps
    log(
        f"== Target 3: paper preset vs straightforward baseline, N = {n:,}, d = {d}, {steps} steps each, "
        f"benign losses min(l, {BENIGN_CAP:g}) / {BENIGN_CAP:g}"
    )
    data = planted_clusters(n, dim=d, fractions=(0.02,), seed=cfg.seed + 2)
    losses = benign(data.losses)
    S = int(round(0.02 * n))

    t0 = time.perf_counter()
    sp = find_spotlight(data.embeddings, losses, size=S, preset="paper", max_steps=steps)
    paper_s = time.perf_counter() - t0
    log(f"   engine paper preset: {paper_s:.1f} s, {sp.history.steps} steps, mass {sp.mass:.1f}")

    base = StraightforwardSpotlight(data.embeddings, losses, S, steps=steps)
    first = min(30, steps)
    t0 = time.perf_counter()
    for _ in range(first):
        base.step()
    first_s = time.perf_counter() - t0
    for _ in range(steps - first):
        base.step()
    base_s = time.perf_counter() - t0
    w = base.weights()
    top = base.top_set()
    jac = jaccard(sp.top_indices, top)
    log(
        f"   straightforward baseline: {base_s:.1f} s ({1e3 * base_s / steps:.1f} ms/step; its first {first} "
        f"steps extrapolated would have said {steps * first_s / first:.1f} s), mass {w.sum():.1f}"
    )
    log(
        f"   Jaccard of top-S sets {jac:.3f}; max |k_engine - k_baseline| {np.abs(sp.weights - w).max():.4f}; "
        f"final objective engine {sp.history.objective[-1]:.5f} vs baseline {base.objectives[-1]:.5f}; "
        f"precision engine {precision(sp.top_indices, data.planted[0]):.3f}, "
        f"baseline {precision(top, data.planted[0]):.3f}"
    )
    results["agreement"] = {
        "n": n,
        "d": d,
        "steps": steps,
        "size": S,
        "paper_s": paper_s,
        "baseline_s": base_s,
        "baseline_first_steps_extrapolated_s": steps * first_s / first,
        "ratio": base_s / paper_s,
        "jaccard": jac,
        "max_abs_weight_diff": float(np.abs(sp.weights - w).max()),
        "mass_engine": sp.mass,
        "mass_baseline": float(w.sum()),
        "objective_engine": float(sp.history.objective[-1]),
        "objective_baseline": base.objectives[-1],
    }
    log(f"   time ratio baseline / paper preset: {base_s / paper_s:.1f}x")


# ---------------------------------------------------------------------------------------------
# Main


def settings(args):
    quick = args.quick
    cfg = argparse.Namespace(
        quick=quick,
        seed=args.seed,
        tmpdir=args.tmpdir,
        n_speed=args.n_speed or (20_000 if quick else 50_000),
        n_large=args.n_large or (100_000 if quick else 1_000_000),
        n_agree=5_000 if not quick else 2_000,
        d_agree=128 if not quick else 64,
        agree_steps=5000 if not quick else 1000,
        baseline_steps=args.baseline_steps or (5 if quick else 30),
        warmup_steps=1 if quick else 2,
        fast_repeats=args.repeats or (1 if quick else 3),
        paper_timing_steps=50 if quick else 200,
    )
    return cfg


def table(cfg, results: dict) -> list[tuple[str, str, str, str]]:
    rows = []

    def verdict(ok: bool) -> str:
        return ("PASS" if ok else "FAIL") + (" (quick: indicative)" if cfg.quick else "")

    if "speed" in results:
        r = results["speed"]
        rows.append(
            (
                f"1. speed-up fast vs 5000-step baseline (N={r['n']:,})",
                ">= 100x",
                f"{r['speedup']:.0f}x ({r['baseline_extrapolated_s']:.0f} s extrapolated / {r['fast_median_s']:.2f} s)",
                verdict(r["speedup"] >= 100),
            )
        )
        rows.append(
            (
                f"1. top-S precision, fast preset (N={r['n']:,})",
                ">= 0.95",
                f"{r['precision']:.3f}",
                verdict(r["precision"] >= 0.95),
            )
        )
        rows.append(
            (
                "   fast preset steps taken",
                "(info)",
                f"{r['fast_steps']}" + (f" ({r['fast_steps_sample']} on sample)" if r["fast_steps_sample"] else ""),
                "-",
            )
        )
    if "large" in results:
        r = results["large"]
        rows.append(
            (
                f"2. search time (N={r['n']:,})",
                "< 300 s",
                f"{r['search_s']:.1f} s",
                verdict(r["search_s"] < 300),
            )
        )
        rows.append(
            (
                f"2. peak RSS / embeddings bytes (N={r['n']:,})",
                "< 2.5",
                f"{r['peak_ratio']:.2f} ({r['peak_ru_maxrss_kb'] / 2**20:.2f} / {r['emb_bytes'] / 2**30:.2f} GiB)",
                "n/a in quick mode (torch alone is ~1.1x these embeddings)"
                if cfg.quick
                else verdict(r["peak_ratio"] < 2.5),
            )
        )
        rows.append(
            (
                f"   top-S precision (N={r['n']:,})",
                "(info)",
                f"{r['precision']:.3f}",
                "-",
            )
        )
        rows.append(
            (
                "   fast preset steps taken (sample + all rows)",
                "(info)",
                f"{r['steps']} ({r['steps_sample']} + {r['steps_full']})",
                "-",
            )
        )
    if "agreement" in results:
        r = results["agreement"]
        rows.append(
            (
                f"3. Jaccard paper preset vs baseline (N={r['n']:,}, d={r['d']}, {r['steps']} steps)",
                ">= 0.95",
                f"{r['jaccard']:.3f}",
                verdict(r["jaccard"] >= 0.95),
            )
        )
        rows.append(
            (
                "   times: baseline / paper preset",
                "(info)",
                f"{r['baseline_s']:.1f} s / {r['paper_s']:.1f} s = {r['ratio']:.1f}x",
                "-",
            )
        )
    return rows


def print_table(rows) -> None:
    heads = ("target", "required", "measured", "result")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    line = "  ".join(h.ljust(w) for h, w in zip(heads, widths))
    log(line)
    log("  ".join("-" * w for w in widths))
    for r in rows:
        log("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke run (< 2 min); targets apply to full mode only")
    ap.add_argument("--only", default="1,2,3", help="comma-separated targets to run (default: 1,2,3)")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the synthetic data (default 0)")
    ap.add_argument("--n-speed", type=int, default=None, help="N of target 1 (default 50,000; quick 20,000)")
    ap.add_argument("--n-large", type=int, default=None, help="N of target 2 (default 1,000,000; quick 100,000)")
    ap.add_argument(
        "--baseline-steps", type=int, default=None, help="baseline steps timed for target 1 (default 30; quick 5)"
    )
    ap.add_argument("--repeats", type=int, default=None, help="fast-preset runs in target 1 (median; default 3)")
    ap.add_argument("--tmpdir", default=None, help="where target 2 writes its .npy files (default: system temp)")
    ap.add_argument("--json", default=None, help="also write all measurements to this JSON file")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each target, wait up to this long for other processes to go quiet\n"
        "(under 0.25 cores over 5 s; default: don't wait)",
    )
    # Internal: subprocess workers of target 2.
    ap.add_argument("--worker", choices=["generate", "search"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dim", type=int, default=512, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker == "generate":
        worker_generate(args)
        return 0
    if args.worker == "search":
        worker_search(args)
        return 0

    cfg = settings(args)
    only = {int(t) for t in args.only.split(",") if t.strip()}
    started = time.perf_counter()
    log(f"bench_engine: {'QUICK mode (targets apply to the full mode only)' if cfg.quick else 'full mode'}")
    log(
        f"date {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, "
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()} {platform.processor() or ''}".rstrip()
    )
    commit = engine_version()
    log(f"engine {commit}; command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    log()

    results: dict = {"quick": cfg.quick, "settings": vars(cfg), "commit": commit}
    # Target 2 first: its subprocesses inherit this process's peak RSS (see top of file).
    results["foreign_cores"] = {}

    def measured(number, fn, key):
        if args.wait_idle > 0:
            log(f"(target {number}) other processes' load before starting: {wait_idle(args.wait_idle):.2f} cores")
        version = engine_version()
        if version.split("sha1 ")[-1] != commit.split("sha1 ")[-1]:
            log(f"   NOTE: the engine's source changed since the run started; target {number} measures {version}")
        results.setdefault("engine_per_target", {})[key] = version
        with CpuWatch() as w:
            fn(cfg, results)
        results["foreign_cores"][key] = w.foreign_cores
        flag = "  <-- OTHER PROCESSES WERE BUSY: timings are inflated" if w.foreign_cores > FOREIGN_LIMIT else ""
        log(
            f"   target {number} took {w.wall:.0f} s; other processes used {w.foreign_cores:.2f} cores on average{flag}"
        )
        log()

    if 2 in only:
        measured(2, target_large, "large")
    torch = _torch()
    log(
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()} (torch's default, not changed by this "
        "script; the baseline runs with it, the engine uses its own `threads` setting during a search)"
    )
    log()
    if 1 in only:
        measured(1, target_speed, "speed")
    if 3 in only:
        measured(3, target_agreement, "agreement")

    elapsed = time.perf_counter() - started
    results["elapsed_s"] = elapsed
    log(
        f"== Results ({'QUICK mode: smaller problems, targets apply to the full mode only' if cfg.quick else 'full mode'})"
    )
    if "speed" in results:
        r = results["speed"]
        log(
            f"Target 1's baseline time is EXTRAPOLATED: {r['baseline_timed_steps']} steps timed "
            f"(after {r['baseline_warmup_steps']} warm-up) x 5000 / {r['baseline_timed_steps']}; "
            f"the fast preset is timed end to end (median of {len(r['fast_times_s'])})."
        )
    rows = table(cfg, results)
    print_table(rows)
    busy = {k: v for k, v in results["foreign_cores"].items() if v > FOREIGN_LIMIT}
    if busy:
        log(
            "WARNING: other processes used CPU during "
            + ", ".join(f"{k} ({v:.2f} cores)" for k, v in busy.items())
            + ": those timings are inflated; rerun on an idle machine."
        )
    else:
        log(
            "Other processes stayed below "
            + f"{FOREIGN_LIMIT} cores during every measurement ("
            + ", ".join(f"{k} {v:.2f}" for k, v in results["foreign_cores"].items())
            + ")."
        )
    log(f"total wall time {elapsed / 60:.1f} min")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, default=str)
    if cfg.quick:
        return 0  # a smoke run: its verdicts are indicative only
    return 0 if all(not r[3].startswith("FAIL") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
