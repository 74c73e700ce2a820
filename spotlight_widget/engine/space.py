"""The embedding space a search runs in, and the per-step sums over its examples.

Everything the optimiser needs from the data is a *sum over examples* (paper Eq. 2-5 and
their gradients), computed here from one pass over the rows. A space may hold one shard of
the data set, the rows ``row_offset ...`` of the concatenated shards: its communicator
(``spotlight_widget.engine.comm``) then adds these sums across processes (one all-reduce
per step), and one process is a world of one. The sums accumulate in float64 whatever the
compute precision, so that how the rows are split among processes changes them by float64
rounding only, far below the precision they are used at; the kernel itself is computed at
the compute precision.

The random sample of large data and the loss-weighted restart anchors draw from one
generator stream over all rows, in which each process keeps its own rows, so any number of
processes draws what one process draws. Above ``EXACT_DRAW_MAX_ROWS`` rows in all, a
stream split into fixed blocks of rows is used instead (no process draws over all rows):
the same on any number of processes, including one.

Coordinates: the search works in normalised coordinates ``z = (x - shift) / scale`` where
``shift`` is the (count-weighted) mean and ``scale`` the root-mean-square spread per
coordinate. A spherical kernel is unchanged by this map (its precision is rescaled by
``scale**2``), and it makes the optimiser's step sizes independent of the units of the
embeddings. The paper preset uses ``shift = 0, scale = 1`` to reproduce the authors' runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .comm import Communicator, LocalComm

# Rows per block when preparing the data on the CPU (float64 statistics, norms): bounds
# the temporary copies. The per-step products run on the whole matrix at once.
_CPU_CHUNK_BYTES = 2 << 20
# On a GPU the data is prepared in one block up to this many bytes of temporaries, in
# blocks of that size beyond: a float64 copy of a 30 GB shard would not fit next to it.
_GPU_CHUNK_BYTES = 8 << 30

# When the mean is this many times larger (squared) than the spread, computing distances
# from norms loses too many float32 digits, so a centred copy is made instead.
_OFFSET_RATIO_FOR_COPY = 1e3

# Number of scalar sums per spotlight ahead of the two d-vectors (see ``local_sums``).
N_SCALARS = 6

# Up to this many rows in all, the sample of large data and the restart anchors are drawn
# from one stream over all rows, which costs each process a draw over all rows (8 bytes a
# row, briefly). Beyond, from per-block streams (see the module docstring).
EXACT_DRAW_MAX_ROWS = 1 << 26
# Rows per block of those per-block streams.
_DRAW_BLOCK_ROWS = 1 << 20


@dataclass
class EmbeddingSpace:
    """Embeddings prepared for the search.

    Attributes
    ----------
    x : torch.Tensor
        (N, d) rows, either the user's data (shared, never written) or a centred copy.
    shift : torch.Tensor
        (d,) subtracted from ``x`` to centre it (zero when ``x`` is already centred).
    scale : float
        Divides ``x - shift`` to give normalised coordinates.
    sqnorms : torch.Tensor
        (N,) squared norms of the normalised rows.
    counts : torch.Tensor or None
        (N,) multiplicities, or None for all ones.
    origin : torch.Tensor or None
        (d,) the mean already subtracted from ``x`` when it is a centred copy (None: the
        user's coordinates); added back to give centres in the user's coordinates.
    comm : Communicator
        Combines sums over the processes holding the other shards (``LocalComm``: none).
    row_offset : int
        Row number, in the whole data set, of this space's first row.
    total_rows : int
        Rows of the whole data set (every shard together); ``n`` when not given.
    total : float
        Counted examples of the whole data set; from ``counts`` (or ``n``) when not given.
    """

    x: torch.Tensor
    shift: torch.Tensor
    scale: float
    sqnorms: torch.Tensor
    counts: torch.Tensor | None
    origin: torch.Tensor | None = None
    comm: Communicator = field(default_factory=LocalComm)
    row_offset: int = 0
    total_rows: int | None = None
    total: float | None = None
    _x_sums_cache: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.total_rows is None:
            self.total_rows = self.n
        if self.total is None:
            self.total = float(self.n) if self.counts is None else float(self.counts.double().sum())

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    def total_count(self) -> float:
        """Counted examples of the whole data set."""
        return self.total

    def sample_rows(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """Sorted rows (of this shard) of a uniform random sample of ``rows`` of all rows."""
        lo, hi = self.row_offset, self.row_offset + self.n
        if self.total_rows <= EXACT_DRAW_MAX_ROWS:
            perm = torch.randperm(self.total_rows, generator=generator)[:rows]
            mine = perm[(perm >= lo) & (perm < hi)] - lo
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            u = _block_draws(seed, lo, hi, exponential=False)
            mine = torch.nonzero(u < rows / self.total_rows).flatten()
        return mine.sort().values.to(self.x.device)

    def anchor_points(self, loss: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """(k', d) normalised coordinates of k' = min(k, #positive) distinct rows drawn with
        probability proportional to the (non-negative part of the) loss."""
        # torch.multinomial without replacement is the top k of p / q with q ~ Exp(1) drawn
        # over all rows in one call: the same draw, each process keeping its rows' keys.
        comm, lo, n = self.comm, self.row_offset, self.n
        p = loss.clamp_min(0).double().cpu()
        positive = int(comm.sum(torch.tensor([float((p > 0).sum())], dtype=torch.float64)))
        if positive == 0:
            p = torch.ones_like(p)
            positive = self.total_rows
        k = min(k, positive)
        if self.total_rows <= EXACT_DRAW_MAX_ROWS:
            q = torch.empty(self.total_rows, dtype=torch.float64).exponential_(1, generator=generator)[lo : lo + n]
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            q = _block_draws(seed, lo, lo + n, exponential=True)
        keys = p / q
        mine = min(k, n)
        top_keys, top_rows = torch.topk(keys, mine) if mine else (keys[:0], torch.zeros(0, dtype=torch.long))
        cand = torch.full((k, 2), -math.inf, dtype=torch.float64)
        cand[:mine, 0] = top_keys
        cand[:mine, 1] = (top_rows + lo).double()
        every = comm.per_process(cand).reshape(-1, 2)
        chosen = every[torch.topk(every[:, 0], k).indices, 1].long()
        points = torch.zeros(k, self.dim, dtype=self.x.dtype, device=self.x.device)
        own = (chosen >= lo) & (chosen < lo + n)
        if bool(own.any()):
            local_rows = (chosen[own] - lo).to(self.x.device)
            points[own.to(self.x.device)] = (self.x[local_rows] - self.shift) / self.scale
        return comm.sum(points)

    @classmethod
    def build(
        cls,
        x: torch.Tensor,
        counts: torch.Tensor | None,
        *,
        normalize: bool,
        owned: bool,
        comm: Communicator | None = None,
        row_offset: int = 0,
        total_rows: int | None = None,
        total: float | None = None,
    ) -> EmbeddingSpace:
        """Prepare ``x`` for the search.

        Parameters
        ----------
        normalize
            Centre and scale (fast preset) or keep raw coordinates (paper preset).
        owned
            ``x`` is a private copy that may be centred in place; otherwise it is the
            user's memory and is only read.
        comm, row_offset, total_rows, total
            See the class's attributes; the mean and spread are those of all shards.
        """
        comm = LocalComm() if comm is None else comm
        shard = dict(comm=comm, row_offset=row_offset, total_rows=total_rows, total=total)
        d = x.shape[1]
        if not normalize:
            shift = torch.zeros(d, dtype=x.dtype, device=x.device)
            space = cls(x, shift, 1.0, torch.empty(0, dtype=x.dtype, device=x.device), counts, **shard)
            space.sqnorms = space._sqnorms()
            return space
        # Mean and spread accumulate in float64: at N = 1e6 float32 sums lose digits.
        c64 = None if counts is None else counts.to(torch.float64)
        total_sums = torch.zeros(d + 1, dtype=torch.float64, device=x.device)
        for a, b in _row_chunks(x, itemsize=8):
            xc = x[a:b].to(torch.float64)
            if c64 is None:
                total_sums[:d] += xc.sum(0)
                total_sums[d] += b - a
            else:
                total_sums[:d] += c64[a:b] @ xc
                total_sums[d] += c64[a:b].sum()
        total_sums = comm.sum(total_sums)
        mean64 = total_sums[:d] / total_sums[d]
        spread = torch.zeros(1, dtype=torch.float64, device=x.device)
        for a, b in _row_chunks(x, itemsize=8):
            dev = ((x[a:b].to(torch.float64) - mean64) ** 2).sum(1)
            spread += dev.sum() if c64 is None else c64[a:b] @ dev
        spread = comm.sum(spread)
        var = float(spread) / (float(total_sums[d]) * d)
        if not var > 0:
            raise ValueError("all embeddings are identical: no region of the space can stand out")
        scale = var**0.5
        mean = mean64.to(x.dtype)
        offset_ratio = float((mean64**2).sum()) / (var * d)
        origin = None
        if owned:
            x.sub_(mean)
            shift, origin = torch.zeros_like(mean), mean
        elif offset_ratio > _OFFSET_RATIO_FOR_COPY:
            x = x - mean
            shift, origin = torch.zeros_like(mean), mean
        else:
            shift = mean
        space = cls(x, shift, scale, torch.empty(0, dtype=x.dtype, device=x.device), counts, origin, **shard)
        space.sqnorms = space._sqnorms()
        return space

    def _sqnorms(self) -> torch.Tensor:
        out = torch.empty(self.n, dtype=self.x.dtype, device=self.x.device)
        for a, b in _row_chunks(self.x):
            out[a:b] = ((self.x[a:b] - self.shift) ** 2).sum(1)
        return out / (self.scale**2)

    def subset(self, rows: torch.Tensor) -> EmbeddingSpace:
        """The same space restricted to ``rows`` of this shard (same shift and scale); every
        process passes its own rows of one sample, together."""
        counts = None if self.counts is None else self.counts[rows]
        sizes = self.comm.per_process([float(rows.shape[0]), 0.0 if counts is None else float(counts.double().sum())])
        return EmbeddingSpace(
            self.x[rows],
            self.shift,
            self.scale,
            self.sqnorms[rows],
            counts,
            self.origin,
            comm=self.comm,
            row_offset=int(sizes[: self.comm.rank, 0].sum()),
            total_rows=int(sizes[:, 0].sum()),
            total=float(sizes[:, 0 if counts is None else 1].sum()),
        )

    def distances_to(self, center: torch.Tensor) -> torch.Tensor:
        """Squared normalised distances from every example to each centre, (N, B)."""
        dots = (self.x @ center.T - self.shift @ center.T) / self.scale
        dist = self.sqnorms[:, None] - 2 * dots + (center**2).sum(1)
        return dist.clamp_min_(0)

    def local_sums(self, dist: torch.Tensor, log_tau: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """Sums over this process's examples that determine objective and gradient, in float64.

        ``dist`` holds the (N, B) squared distances to the B centres (``distances_to``).
        With ``k_i`` the kernel weight, ``c_i`` the count, ``a_i = c_i [k_i > 0]``,
        ``D_i`` the squared distance and ``l_i`` the loss, returns a (B, 6 + 2d) tensor
        whose columns are ``sum c k, sum c k l, sum a, sum a l, sum a D, sum a l D``, then
        ``sum a z_i`` (d columns), then ``sum a l z_i`` (d columns).
        """
        n_spot, d = dist.shape[1], self.dim
        k = (1 - log_tau.exp() * dist).clamp_min_(0)
        inside = k > 0
        act = inside.to(k.dtype)
        if self.counts is not None:
            k = k * self.counts[:, None]
            act = act * self.counts[:, None]
        act_loss = act * losses
        f64 = torch.float64
        sums = torch.empty(n_spot, N_SCALARS + 2 * d, dtype=f64, device=self.x.device)
        sums[:, 0] = k.sum(0, dtype=f64)
        sums[:, 1] = (k * losses).sum(0, dtype=f64)
        sums[:, 2] = act.sum(0, dtype=f64)
        sums[:, 3] = act_loss.sum(0, dtype=f64)
        sums[:, 4] = (act * dist).sum(0, dtype=f64)
        sums[:, 5] = (act_loss * dist).sum(0, dtype=f64)
        raw_xw = self._weighted_x_sums(inside, torch.cat([act, act_loss], 1), losses)
        shifted = raw_xw - sums[:, 2:4].T.reshape(-1, 1) * self.shift.to(f64)
        sums[:, N_SCALARS : N_SCALARS + d] = shifted[:n_spot] / self.scale
        sums[:, N_SCALARS + d :] = shifted[n_spot:] / self.scale
        return sums

    def _weighted_x_sums(self, inside: torch.Tensor, weights: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """(2B, d) float64 ``weights.T @ x`` for the (N, 2B) weights ``[a, a l]`` of ``local_sums``.

        Only rows inside some spotlight have a weight. When fewer rows are outside some
        spotlight than inside one (early in the schedule, or the paper preset's wide
        kernel), the sum is taken as that of every row's full weight ``[c, c l]`` (computed
        once per ``losses``) minus the rows outside: the fewer rows are read in float64.
        Reads the two row counts back to the host.
        """
        any_inside, any_outside = inside.any(1), ~inside.all(1)
        n_inside, n_outside = torch.stack([any_inside.sum(), any_outside.sum()]).tolist()
        if n_inside <= n_outside:
            return _weighted_row_sums(weights, self.x, torch.nonzero(any_inside).flatten())
        outside = (~inside).to(weights.dtype)
        if self.counts is not None:
            outside = outside * self.counts[:, None]
        missing = _weighted_row_sums(
            torch.cat([outside, outside * losses], 1), self.x, torch.nonzero(any_outside).flatten()
        )
        return self._all_rows_x_sums(losses) - missing

    def _all_rows_x_sums(self, losses: torch.Tensor) -> torch.Tensor:
        """(2B, d) float64 sums of ``[c, c l] x`` over every row, for the search's current losses."""
        cached = self._x_sums_cache
        if cached is not None and cached[0] is losses:
            return cached[1]
        full = torch.ones_like(losses) if self.counts is None else self.counts[:, None].expand_as(losses)
        sums = _weighted_row_sums(torch.cat([full, full * losses], 1), self.x)
        # A reference to the losses themselves (not their id), so that the key cannot be reused.
        self._x_sums_cache = (losses, sums)
        return sums

    def sums(self, dist: torch.Tensor, log_tau: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """``local_sums`` added over all processes, at the compute precision."""
        return self.comm.sum(self.local_sums(dist, log_tau, losses)).to(self.x.dtype)

    def mass_and_slope(self, dist: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """(2, B): the kernel mass sum c k and its derivative in tau, -sum a D, over all
        processes (accumulated in float64, returned at the compute precision)."""
        k = (1 - tau * dist).clamp_min_(0)
        act_dist = torch.where(k > 0, dist, torch.zeros_like(dist))
        if self.counts is not None:
            k = k * self.counts[:, None]
            act_dist = act_dist * self.counts[:, None]
        local = torch.stack([k.sum(0, dtype=torch.float64), -act_dist.sum(0, dtype=torch.float64)])
        return self.comm.sum(local).to(dist.dtype)

    def mass(self, dist: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """(B,) float64: the kernel mass sum c max(1 - tau D, 0) over all processes."""
        k = (1 - tau * dist).clamp_min_(0)
        if self.counts is not None:
            k = k * self.counts[:, None]
        return self.comm.sum(k.sum(0, dtype=torch.float64))

    def weights(self, center: torch.Tensor, log_tau: torch.Tensor) -> torch.Tensor:
        """Kernel weights k_i of every example for each spotlight, (N, B)."""
        return (1 - log_tau.exp() * self.distances_to(center)).clamp_min_(0)

    def solve_log_tau(
        self,
        dist: torch.Tensor,
        target: torch.Tensor,
        log_tau: torch.Tensor,
        *,
        iterations: int = 10,
    ) -> torch.Tensor:
        """Log precision at which each spotlight's kernel mass equals ``target``.

        The mass M(tau) = sum c max(1 - tau D, 0) is convex and decreasing in tau, so
        Newton's method started anywhere lands left of the root after at most one step and
        then climbs to it monotonically. Started from the previous step's precision it
        needs a few iterations; the count is fixed so nothing waits on the host.
        """
        tau = log_tau.exp()
        for _ in range(iterations):
            mass, slope = self.mass_and_slope(dist, tau)
            # A spotlight holding nothing has no slope: restart it from tau = 0 (everything in).
            step = torch.where(slope < 0, (mass - target) / slope.clamp_max(-1e-30), tau)
            tau = torch.where(slope < 0, tau - step, torch.zeros_like(tau))
            tau = tau.clamp_min(1e-30)
        return tau.log()

    def _offset(self) -> torch.Tensor:
        """Normalised coordinates' origin in the user's coordinates."""
        return self.shift if self.origin is None else self.shift + self.origin

    def to_raw(self, center: torch.Tensor, log_tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Centres and precisions in the user's coordinates."""
        return center * self.scale + self._offset(), log_tau.exp() / self.scale**2

    def from_raw(self, center: torch.Tensor, precision: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inverse of ``to_raw``."""
        return (center - self._offset()) / self.scale, (precision * self.scale**2).log()


def _row_chunks(x: torch.Tensor, itemsize: int | None = None, rows: int | None = None):
    """(start, stop) ranges of ``rows`` (default: all of ``x``'s) rows of ``x``'s width: all
    rows on a GPU (up to a bound on the bytes), cache-sized blocks on the CPU."""
    n = x.shape[0] if rows is None else rows
    if x.device.type != "cpu":
        step = max(n, 1)
        if n * (itemsize or x.element_size()) * max(x.shape[1], 1) > _GPU_CHUNK_BYTES:
            step = max(1, _GPU_CHUNK_BYTES // ((itemsize or x.element_size()) * max(x.shape[1], 1)))
    else:
        step = max(256, _CPU_CHUNK_BYTES // ((itemsize or x.element_size()) * max(x.shape[1], 1)))
    for start in range(0, n, step):
        yield start, min(start + step, n)


def _weighted_row_sums(weights: torch.Tensor, x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    """(B, d) float64 ``weights.T @ x`` over ``rows`` (default: all), accumulated in float64.

    The rows are copied to float64 a cache-sized block at a time: the sums are exact up to
    float64 rounding whatever the compute precision, so how rows are split among processes
    (or blocks) does not show at that precision.
    """
    n = x.shape[0] if rows is None else rows.shape[0]
    out = torch.zeros(weights.shape[1], x.shape[1], dtype=torch.float64, device=x.device)
    for a, b in _row_chunks(x, itemsize=8, rows=n):
        if rows is None:
            w_block, x_block = weights[a:b], x[a:b]
        else:
            w_block, x_block = weights.index_select(0, rows[a:b]), x.index_select(0, rows[a:b])
        # W^T X rather than X^T W: the latter hits a slow BLAS path for 2 <= B < 16.
        out += w_block.double().T @ x_block.double()
    return out


def _block_draws(seed: int, lo: int, hi: int, *, exponential: bool) -> torch.Tensor:
    """Uniform or Exp(1) draws for global rows [lo, hi), from one stream per block of rows."""
    out = torch.empty(hi - lo, dtype=torch.float64)
    block = _DRAW_BLOCK_ROWS
    for b in range(lo // block, (hi - 1) // block + 1 if hi > lo else lo // block):
        g = torch.Generator().manual_seed((seed * 1_000_003 + b) % (2**63 - 1))
        vals = torch.empty(block, dtype=torch.float64)
        vals = vals.exponential_(1, generator=g) if exponential else vals.uniform_(0, 1, generator=g)
        a, z = max(lo, b * block), min(hi, (b + 1) * block)
        out[a - lo : z - lo] = vals[a - b * block : z - b * block]
    return out
