"""The embedding space a search runs in, and the per-step sums over its examples.

Everything the optimiser needs from the data is a *sum over examples* (paper Eq. 2-5 and
their gradients), computed here from one pass over the rows. A search over shards held by
several processes therefore only has to add these sums across processes (one all-reduce
per step) to reproduce the single-process search exactly.

Coordinates: the search works in normalised coordinates ``z = (x - shift) / scale`` where
``shift`` is the (count-weighted) mean and ``scale`` the root-mean-square spread per
coordinate. A spherical kernel is unchanged by this map (its precision is rescaled by
``scale**2``), and it makes the optimiser's step sizes independent of the units of the
embeddings. The paper preset uses ``shift = 0, scale = 1`` to reproduce the authors' runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Reducer = Callable[[torch.Tensor], torch.Tensor]

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


def identity_reducer(t: torch.Tensor) -> torch.Tensor:
    """The single-process reducer: local sums already are the global sums."""
    return t


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
    """

    x: torch.Tensor
    shift: torch.Tensor
    scale: float
    sqnorms: torch.Tensor
    counts: torch.Tensor | None
    origin: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    # -- What a space holding one shard of the data overrides (``spotlight_widget.distributed``).
    # Here, on one process, these are the identity and the local values.

    @property
    def total_rows(self) -> int:
        """Rows of the whole data set (on every shard together)."""
        return self.n

    def reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Elementwise sum of ``t`` over the shards."""
        return t

    def reduce_max(self, t: torch.Tensor) -> torch.Tensor:
        """Elementwise maximum of ``t`` over the shards."""
        return t

    def sample_rows(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """Sorted rows (of this shard) of a uniform random sample of ``rows`` of all rows."""
        perm = torch.randperm(self.n, generator=generator)[:rows]
        return perm.sort().values.to(self.x.device)

    def anchor_points(self, loss: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """(k', d) normalised coordinates of k' = min(k, #positive) distinct rows drawn with
        probability proportional to the (non-negative part of the) loss."""
        p = loss.clamp_min(0).double().cpu()
        if not bool((p > 0).any()):
            p = torch.ones_like(p)
        k = min(k, int((p > 0).sum()))
        rows = torch.multinomial(p, k, replacement=False, generator=generator).to(loss.device)
        return (self.x[rows] - self.shift) / self.scale

    @classmethod
    def build(
        cls,
        x: torch.Tensor,
        counts: torch.Tensor | None,
        *,
        normalize: bool,
        owned: bool,
        reducer: Reducer = identity_reducer,
    ) -> EmbeddingSpace:
        """Prepare ``x`` for the search.

        Parameters
        ----------
        normalize
            Centre and scale (fast preset) or keep raw coordinates (paper preset).
        owned
            ``x`` is a private copy that may be centred in place; otherwise it is the
            user's memory and is only read.
        reducer
            Adds sums across processes when the data is sharded.
        """
        d = x.shape[1]
        if not normalize:
            shift = torch.zeros(d, dtype=x.dtype, device=x.device)
            space = cls(x, shift, 1.0, torch.empty(0, dtype=x.dtype, device=x.device), counts)
            space.sqnorms = space._sqnorms()
            return space
        # Mean and spread accumulate in float64: at N = 1e6 float32 sums lose digits.
        c64 = None if counts is None else counts.to(torch.float64)
        total = torch.zeros(d + 1, dtype=torch.float64, device=x.device)
        for a, b in _row_chunks(x, itemsize=8):
            xc = x[a:b].to(torch.float64)
            if c64 is None:
                total[:d] += xc.sum(0)
                total[d] += b - a
            else:
                total[:d] += c64[a:b] @ xc
                total[d] += c64[a:b].sum()
        total = reducer(total)
        mean64 = total[:d] / total[d]
        spread = torch.zeros(1, dtype=torch.float64, device=x.device)
        for a, b in _row_chunks(x, itemsize=8):
            dev = ((x[a:b].to(torch.float64) - mean64) ** 2).sum(1)
            spread += dev.sum() if c64 is None else c64[a:b] @ dev
        spread = reducer(spread)
        var = float(spread) / (float(total[d]) * d)
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
        space = cls(x, shift, scale, torch.empty(0, dtype=x.dtype, device=x.device), counts, origin)
        space.sqnorms = space._sqnorms()
        return space

    def _sqnorms(self) -> torch.Tensor:
        out = torch.empty(self.n, dtype=self.x.dtype, device=self.x.device)
        for a, b in _row_chunks(self.x):
            out[a:b] = ((self.x[a:b] - self.shift) ** 2).sum(1)
        return out / (self.scale**2)

    def subset(self, rows: torch.Tensor) -> EmbeddingSpace:
        """The same space restricted to ``rows`` (same shift and scale)."""
        counts = None if self.counts is None else self.counts[rows]
        return EmbeddingSpace(self.x[rows], self.shift, self.scale, self.sqnorms[rows], counts, self.origin)

    def total_count(self) -> float:
        return float(self.n) if self.counts is None else float(self.counts.sum())

    def distances_to(self, center: torch.Tensor) -> torch.Tensor:
        """Squared normalised distances from every example to each centre, (N, B)."""
        dots = (self.x @ center.T - self.shift @ center.T) / self.scale
        dist = self.sqnorms[:, None] - 2 * dots + (center**2).sum(1)
        return dist.clamp_min_(0)

    def local_sums(self, dist: torch.Tensor, log_tau: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """Sums over this process's examples that determine objective and gradient.

        ``dist`` holds the (N, B) squared distances to the B centres (``distances_to``).
        With ``k_i`` the kernel weight, ``c_i`` the count, ``a_i = c_i [k_i > 0]``,
        ``D_i`` the squared distance and ``l_i`` the loss, returns a (B, 6 + 2d) tensor
        whose columns are ``sum c k, sum c k l, sum a, sum a l, sum a D, sum a l D``, then
        ``sum a z_i`` (d columns), then ``sum a l z_i`` (d columns).
        """
        n_spot, d = dist.shape[1], self.dim
        k = (1 - log_tau.exp() * dist).clamp_min_(0)
        act = (k > 0).to(k.dtype)
        if self.counts is not None:
            k = k * self.counts[:, None]
            act = act * self.counts[:, None]
        act_loss = act * losses
        sums = torch.empty(n_spot, N_SCALARS + 2 * d, dtype=self.x.dtype, device=self.x.device)
        sums[:, 0] = k.sum(0)
        sums[:, 1] = (k * losses).sum(0)
        sums[:, 2] = act.sum(0)
        sums[:, 3] = act_loss.sum(0)
        sums[:, 4] = (act * dist).sum(0)
        sums[:, 5] = (act_loss * dist).sum(0)
        # W^T X rather than X^T W: the latter hits a slow BLAS path for 2 <= B < 16.
        raw_xw = torch.cat([act, act_loss], 1).T @ self.x
        shifted = raw_xw - sums[:, 2:4].T.reshape(-1, 1) * self.shift
        sums[:, N_SCALARS : N_SCALARS + d] = shifted[:n_spot] / self.scale
        sums[:, N_SCALARS + d :] = shifted[n_spot:] / self.scale
        return sums

    def mass_and_slope(self, dist: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """(2, B): the kernel mass sum c k and its derivative in tau, -sum a D, on this process."""
        k = (1 - tau * dist).clamp_min_(0)
        act_dist = torch.where(k > 0, dist, torch.zeros_like(dist))
        if self.counts is None:
            return torch.stack([k.sum(0), -act_dist.sum(0)])
        return torch.stack([self.counts @ k, -(self.counts @ act_dist)])

    def weights(self, center: torch.Tensor, log_tau: torch.Tensor) -> torch.Tensor:
        """Kernel weights k_i of every example for each spotlight, (N, B)."""
        return (1 - log_tau.exp() * self.distances_to(center)).clamp_min_(0)

    def solve_log_tau(
        self,
        dist: torch.Tensor,
        target: torch.Tensor,
        log_tau: torch.Tensor,
        *,
        reducer: Reducer = identity_reducer,
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
            mass, slope = reducer(self.mass_and_slope(dist, tau))
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


def _row_chunks(x: torch.Tensor, itemsize: int | None = None):
    """(start, stop) row ranges: all rows on a GPU, cache-sized blocks on the CPU."""
    n = x.shape[0]
    if x.device.type != "cpu":
        step = max(n, 1)
        if n * (itemsize or x.element_size()) * max(x.shape[1], 1) > _GPU_CHUNK_BYTES:
            step = max(1, _GPU_CHUNK_BYTES // ((itemsize or x.element_size()) * max(x.shape[1], 1)))
    else:
        step = max(256, _CPU_CHUNK_BYTES // ((itemsize or x.element_size()) * max(x.shape[1], 1)))
    for start in range(0, n, step):
        yield start, min(start + step, n)
