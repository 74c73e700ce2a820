"""Arnoldi iteration for a symmetric operator, and the top eigenpairs of its Krylov restriction.

This is the factorisation of Schioppa et al. (AAAI 2022) that InfEmbed builds on: ``P``
matrix-vector products build an orthonormal basis ``Q`` of a Krylov subspace, the operator
restricted to it is the small ``P x P`` matrix ``Q^T A Q``, and its leading eigenpairs
(Ritz pairs) approximate the leading eigenpairs of ``A``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _orthogonalise(w: torch.Tensor, basis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Classical Gram-Schmidt twice: once loses orthogonality in floating point when w lies
    # nearly in span(basis); the second pass restores it to working precision.
    h = basis @ w
    w = w - basis.T @ h
    h2 = basis @ w
    return w - basis.T @ h2, h + h2


def arnoldi(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    dim: int,
    n_iter: int,
    *,
    dtype: torch.dtype,
    device: torch.device,
    generator: torch.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``n_iter`` steps of the Arnoldi iteration on a symmetric ``dim x dim`` operator.

    Parameters
    ----------
    matvec : callable
        ``v -> A v`` for a (dim,) vector.
    dim : int
        Size of the space; the iteration stops early once the basis spans it.
    n_iter : int
        Number of matrix-vector products (the Krylov dimension P).
    dtype, device : torch dtype and device
        Of the basis.
    generator : torch.Generator
        For the random start vector (and restarts).
    progress : callable, optional
        Called with ``(done, total)`` after each product.

    Returns
    -------
    basis : torch.Tensor
        (k, dim) orthonormal rows, k = min(n_iter, dim).
    projected : torch.Tensor
        (k, k) symmetric matrix ``basis A basis^T``.

    Notes
    -----
    When the Krylov subspace becomes invariant (the new direction vanishes), the iteration
    continues from a fresh random vector orthogonal to the basis, so that ``n_iter = dim``
    always spans the whole space and recovers every eigenpair.
    """
    k = min(n_iter, dim)
    basis = torch.zeros(k, dim, dtype=dtype, device=device)
    hess = torch.zeros(k, k, dtype=torch.float64)
    eps = torch.finfo(dtype).eps

    def random_direction(j: int) -> torch.Tensor:
        v = torch.randn(dim, generator=generator, dtype=dtype).to(device)
        if j:
            v, _ = _orthogonalise(v, basis[:j])
        return v / v.norm()

    basis[0] = random_direction(0)
    scale = 0.0
    for j in range(k):
        w = matvec(basis[j]).to(dtype)
        w, h = _orthogonalise(w, basis[: j + 1])
        hess[: j + 1, j] = h.double().cpu()
        scale = max(scale, float(h.abs().max()))
        if progress is not None:
            progress(j + 1, k)
        if j + 1 == k:
            break
        beta = float(w.norm())
        if beta <= 100 * eps * scale:
            basis[j + 1] = random_direction(j + 1)
        else:
            hess[j + 1, j] = beta
            basis[j + 1] = w / beta
    # For a symmetric operator the projection is symmetric (tridiagonal in exact arithmetic);
    # averaging with the transpose removes rounding noise before the eigendecomposition.
    return basis, (hess + hess.T) / 2


def top_eigenpairs(basis: torch.Tensor, projected: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``rank`` largest Ritz values and their Ritz vectors.

    Returns
    -------
    eigenvalues : torch.Tensor
        (rank,) float64, descending.
    vectors : torch.Tensor
        (dim, rank) orthonormal columns, in the basis' dtype and device.
    """
    values, vecs = torch.linalg.eigh(projected)
    order = torch.argsort(values, descending=True)[:rank]
    vectors = basis.T @ vecs[:, order].to(device=basis.device, dtype=basis.dtype)
    return values[order], vectors
