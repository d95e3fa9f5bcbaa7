"""Batched Newton ascent for Bradley-Terry likelihoods over aggregated pair counts.

One call fits R count tables at once (R = 1 for a plain fit, a chunk of bootstrap replicates otherwise):
every array carries a leading replicate axis, so a thousand bootstrap fits cost a few vectorised Newton
steps instead of a thousand optimiser calls. Parameters are natural log-strengths theta (one per model) and,
for an explicit tie model, one tie parameter kappa after them.

The penalised objective is loglik(theta, kappa) - prior / 2 * (sum(theta**2) + kappa**2). The log-likelihood
is unchanged by adding a constant to theta, so its Hessian is singular along the all-ones direction; adding a
rank-one term along that direction to the Newton matrix fixes the gauge without changing any step that keeps
sum(theta) = 0."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit
from threadpoolctl import ThreadpoolController

from judge.ratings._counts import FloatArray, IntArray

TieModel = Literal["half", "davidson", "rao-kupper"]
TIE_MODELS: Final = ("half", "davidson", "rao-kupper")

_TOL: Final = 1e-9  # largest parameter change (natural-log units, ~2e-7 Elo) at convergence
_MAX_ITER: Final = 100
_MAX_HALVINGS: Final = 40
_CHORD_ITER: Final = 40
_CHORD_RATE: Final = 0.5  # a chord step must at least halve the previous one, or the row goes to full Newton


@dataclass(frozen=True, eq=False)
class Design:
    """The comparison graph shared by every replicate: who plays whom."""

    i: IntArray
    j: IntArray
    n_models: int
    incidence_t: sp.csr_matrix  # models x pairs, +1 at i and -1 at j


@dataclass(frozen=True, eq=False)
class _Terms:
    """Per-replicate objective, gradient and the per-pair second derivatives at one parameter point."""

    f: FloatArray  # (R,)
    grad: FloatArray  # (R, m)
    w: FloatArray  # (R, P): -d2l/dd2, the Laplacian weights
    ldk: FloatArray | None  # (R, P)
    lkk: FloatArray | None  # (R,)


@dataclass(frozen=True, eq=False)
class Solution:
    params: FloatArray  # (R, m)
    neg_hessian: FloatArray  # (R, m, m) of the penalised objective, without the gauge term; empty if unneeded
    converged: npt.NDArray[np.bool_]  # (R,)


def single_threaded_blas() -> contextlib.AbstractContextManager[object]:
    """Keep BLAS/LAPACK on one thread while fitting.

    The matrices are small (models x models) and many: OpenBLAS's own threads win nothing there and, on a
    busy machine, cost up to 0.1 s per call in wake-ups. Bootstrap chunks run in threads instead.
    """
    limiter: contextlib.AbstractContextManager[object] = _blas_controller().limit(limits=1, user_api="blas")
    return limiter


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """Finding the loaded BLAS libraries costs ~6 ms; do it once per process, not once per fit."""
    return ThreadpoolController()


def design(i: IntArray, j: IntArray, n_models: int) -> Design:
    n_pairs = len(i)
    rows = np.concatenate([i, j])
    cols = np.concatenate([np.arange(n_pairs), np.arange(n_pairs)])
    vals = np.concatenate([np.ones(n_pairs), -np.ones(n_pairs)])
    return Design(i, j, n_models, sp.csr_matrix((vals, (rows, cols)), shape=(n_models, n_pairs)))


def pair_terms(
    ties: TieModel, d: FloatArray, kappa: FloatArray, c: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None, FloatArray | None, FloatArray | None]:
    """Log-likelihood per pair and its derivatives in d = theta_i - theta_j and kappa.

    c[..., 0] = i won, c[..., 1] = j won, c[..., 2] = ties.
    Returns (ll, dl/dd, d2l/dd2, dl/dk, d2l/dd dk, d2l/dk2).
    """
    a, b, t = c[..., 0], c[..., 1], c[..., 2]
    n = a + b + t
    if ties == "half":
        # A tie is half a win for each side: the likelihood of (a + t/2) wins in n games. One exp and one
        # log1p per pair give both softplus terms and the win probability without overflow.
        won = a + 0.5 * t
        e = np.exp(-np.abs(d))
        log1p_e = np.log1p(e)
        p = np.where(d >= 0, 1.0, e) / (1.0 + e)
        ll = won * d - n * (np.maximum(d, 0.0) + log1p_e)
        return ll, won - n * p, -n * p * (1.0 - p), None, None, None
    k = kappa[:, None]
    if ties == "davidson":
        # Exponential family in (d, kappa) with statistics s in {+1/2, -1/2, 0} and the tie indicator.
        u = 0.5 * d
        log_z = np.logaddexp(np.logaddexp(u, -u), k)
        pa, pb, pt = np.exp(u - log_z), np.exp(-u - log_z), np.exp(k - log_z)
        ll = (a - b) * u + t * k - n * log_z
        ld = 0.5 * (a - b) - 0.5 * n * (pa - pb)
        ldd = -0.25 * n * ((pa + pb) - (pa - pb) ** 2)
        lk = t - n * pt
        ldk = 0.5 * n * pt * (pa - pb)
        lkk = -n * pt * (1.0 - pt)
        return ll, ld, ldd, lk, ldk, lkk
    # Rao-Kupper: P(i wins) = sigmoid(d - tau), P(j wins) = sigmoid(-d - tau), tie the rest; kappa = tau > 0.
    x, y = d - k, -d - k
    pa, pb = expit(x), expit(y)
    pt = np.maximum(expit(-x) - pb, np.finfo(float).tiny)
    sx, sy = pa * (1.0 - pa), pb * (1.0 - pb)
    cx, cy = sx * (1.0 - 2.0 * pa), sy * (1.0 - 2.0 * pb)
    gd, gt = (sy - sx) / pt, (sx + sy) / pt
    hdd = -(cx + cy) / pt - gd * gd
    hdt = (cx - cy) / pt - gd * gt
    htt = -(cx + cy) / pt - gt * gt
    ll = -a * np.logaddexp(0.0, -x) - b * np.logaddexp(0.0, -y) + np.where(t > 0, t * np.log(pt), 0.0)
    ld = a * (1.0 - pa) - b * (1.0 - pb) + t * gd
    lk = -a * (1.0 - pa) - b * (1.0 - pb) + t * gt
    ldd = -a * sx - b * sy + t * hdd
    ldk = a * sx - b * sy + t * hdt
    lkk = -a * sx - b * sy + t * htt
    return ll, ld, ldd, lk, ldk, lkk


def _evaluate(des: Design, ties: TieModel, prior: float, params: FloatArray, counts: FloatArray) -> _Terms:
    n = des.n_models
    theta = params[:, :n]
    kappa = params[:, n] if params.shape[1] > n else np.zeros(len(params))
    d = theta[:, des.i] - theta[:, des.j]
    ll, ld, ldd, lk, ldk, lkk = pair_terms(ties, d, kappa, counts)
    f = ll.sum(axis=1) - 0.5 * prior * np.einsum("rk,rk->r", theta, theta)
    g_theta = np.asarray(des.incidence_t @ ld.T).T - prior * theta
    if lk is None:
        return _Terms(f, g_theta, -ldd, None, None)
    assert ldk is not None and lkk is not None
    k_prior = _tie_prior(ties, prior)
    f = f - 0.5 * k_prior * kappa**2
    grad = np.concatenate([g_theta, (lk.sum(axis=1) - k_prior * kappa)[:, None]], axis=1)
    return _Terms(f, grad, -ldd, ldk, lkk.sum(axis=1) - k_prior)


def _tie_prior(ties: TieModel, prior: float) -> float:
    """The tie parameter (Davidson's log nu, Rao-Kupper's tau) gets the same Gaussian prior as theta, centred
    on 0, so it stays finite when a log (or a bootstrap replicate) is all ties; its own boundary keeps
    Rao-Kupper's tau > 0."""
    return 0.0 if ties == "half" else prior


def _neg_hessian(des: Design, prior: float, terms: _Terms) -> FloatArray:
    """-Hessian of the penalised objective for every replicate: a weighted graph Laplacian plus the prior."""
    n = des.n_models
    r = len(terms.f)
    m = n + (0 if terms.ldk is None else 1)
    h = np.zeros((r, m, m))
    h[:, des.i, des.j] = -terms.w
    h[:, des.j, des.i] = -terms.w
    diag = np.arange(n)
    h[:, diag, diag] = -h[:, :n, :n].sum(axis=2) + prior
    if terms.ldk is not None:
        assert terms.lkk is not None
        cross = -np.asarray(des.incidence_t @ terms.ldk.T).T
        h[:, :n, n] = cross
        h[:, n, :n] = cross
        h[:, n, n] = -terms.lkk
    return h


def _pick(x: FloatArray | None, rows: npt.NDArray[np.bool_]) -> FloatArray | None:
    return None if x is None else x[rows]


def _take(terms: _Terms, rows: npt.NDArray[np.bool_]) -> _Terms:
    return _Terms(
        terms.f[rows], terms.grad[rows], terms.w[rows], _pick(terms.ldk, rows), _pick(terms.lkk, rows)
    )


def _put(old: FloatArray | None, new: FloatArray | None, rows: npt.NDArray[np.bool_]) -> FloatArray | None:
    if old is None or new is None:
        return None
    out = old.copy()
    out[rows] = new
    return out


def _merge(old: _Terms, new: _Terms, rows: npt.NDArray[np.bool_]) -> _Terms:
    """old with its `rows` replaced by new (new has one entry per True in rows)."""
    f, grad, w = _put(old.f, new.f, rows), _put(old.grad, new.grad, rows), _put(old.w, new.w, rows)
    assert f is not None and grad is not None and w is not None
    return _Terms(f, grad, w, _put(old.ldk, new.ldk, rows), _put(old.lkk, new.lkk, rows))


def _feasible(ties: TieModel, params: FloatArray, n: int) -> npt.NDArray[np.bool_]:
    ok = np.asarray(np.isfinite(params).all(axis=1), dtype=np.bool_)
    if ties == "rao-kupper":
        ok = ok & np.asarray(params[:, n] > 0.0, dtype=np.bool_)
    return ok


def maximise(des: Design, ties: TieModel, prior: float, counts: FloatArray, start: FloatArray) -> Solution:
    """Newton ascent with backtracking, vectorised over replicates; rows stop independently once converged.

    counts: (R, P, 3); start: (R, m) with sum(theta) = 0 in each row.
    """
    n = des.n_models
    params = start.copy()
    m = params.shape[1]
    gauge = np.zeros((m, m))
    terms = _evaluate(des, ties, prior, params, counts)
    active = np.ones(len(params), dtype=bool)
    converged = np.zeros(len(params), dtype=bool)
    for _ in range(_MAX_ITER):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        sub = _take(terms, active)
        h = _neg_hessian(des, prior, sub)
        scale = np.maximum(np.trace(h[:, :n, :n], axis1=1, axis2=2) / n, 1e-12)
        gauge[:n, :n] = 1.0 / n
        step = np.linalg.solve(h + scale[:, None, None] * gauge, sub.grad[..., None])[..., 0]
        # A step this small needs no check: take it and stop (saves one evaluation per row).
        tiny = np.abs(step).max(axis=1) < _TOL
        if tiny.any():
            params[rows[tiny]] += step[tiny]
            converged[rows[tiny]] = True
            active[rows[tiny]] = False
            rows, step, sub = rows[~tiny], step[~tiny], _take(sub, ~tiny)
            if not len(rows):
                break
        base, alpha = params[rows], np.ones(len(rows))
        pending = np.ones(len(rows), dtype=bool)
        accepted = np.zeros(len(rows), dtype=bool)
        for _ in range(_MAX_HALVINGS):
            cand = base[pending] + alpha[pending, None] * step[pending]
            idx = np.flatnonzero(pending)
            ok = _feasible(ties, cand, n)
            trial = _evaluate(des, ties, prior, np.where(ok[:, None], cand, base[idx]), counts[rows[idx]])
            # Accept any step that does not lower the objective beyond rounding noise.
            good = ok & (trial.f >= sub.f[idx] - 1e-12 * np.abs(sub.f[idx]))
            if good.any():
                hit = np.zeros(len(params), dtype=bool)
                hit[rows[idx[good]]] = True
                params[rows[idx[good]]] = cand[good]
                terms = _merge(terms, _take(trial, good), hit)
                accepted[idx[good]] = True
                pending[idx[good]] = False
            if not pending.any():
                break
            alpha[pending] *= 0.5
        moved = np.abs(alpha[:, None] * step).max(axis=1)
        done = (moved < _TOL) | ~accepted
        converged[rows[done]] = True
        active[rows[done]] = False
    h_final = _neg_hessian(des, prior, terms)
    return Solution(params, h_final, converged & np.isfinite(params).all(axis=1))


def _gradient(
    des: Design, ties: TieModel, prior: float, params: FloatArray, counts: FloatArray, half: FloatArray | None
) -> FloatArray:
    """Gradient of the penalised objective only (the chord iteration needs nothing else).

    half: for ties="half", the precomputed (wins + ties / 2, battles) per replicate and pair, shape (2, R, P).
    """
    if half is None:
        return _evaluate(des, ties, prior, params, counts).grad
    theta = params[:, : des.n_models]
    ld = half[0] - half[1] * expit(theta[:, des.i] - theta[:, des.j])
    return np.asarray(des.incidence_t @ ld.T).T - prior * theta


def bread(des: Design, neg_hessian: FloatArray) -> FloatArray:
    """Inverse of a -Hessian with the gauge term added (valid for steps and contrasts with sum(theta) = 0)."""
    n = des.n_models
    h = neg_hessian.copy()
    h[:n, :n] += max(float(np.trace(h[:n, :n])) / n, 1e-12) / n
    return np.asarray(np.linalg.inv(h))


def maximise_near(
    des: Design, ties: TieModel, prior: float, counts: FloatArray, start: FloatArray, inverse: FloatArray
) -> Solution:
    """Fit replicates that lie close to a known fit (bootstrap resamples of its data).

    Chord-Newton: every step uses the fixed inverse Hessian of the known fit, so an iteration costs one
    gradient and one small matrix product instead of a Hessian and a factorisation per replicate. It converges
    linearly, fast when a replicate's curvature is close to the original's (large logs); replicates where it
    stalls or leaves the feasible region are finished by the full Newton method.
    """
    params = start.copy()
    n_rows = len(params)
    active = np.ones(n_rows, dtype=bool)
    converged = np.zeros(n_rows, dtype=bool)
    previous = np.full(n_rows, np.inf)
    half = None
    if ties == "half":
        half = np.stack([counts[..., 0] + 0.5 * counts[..., 2], counts.sum(axis=2)])
    for it in range(_CHORD_ITER):
        rows = np.flatnonzero(active)
        if not len(rows):
            break
        sub = None if half is None else (half if len(rows) == n_rows else half[:, rows])
        step = _gradient(des, ties, prior, params[rows], counts[rows], sub) @ inverse
        size = np.abs(step).max(axis=1)
        stalled = ~np.isfinite(size) | ((it >= 2) & (size > _CHORD_RATE * previous[rows]))
        params[rows[~stalled]] += step[~stalled]
        stalled |= ~_feasible(ties, params[rows], des.n_models)
        done = ~stalled & (size < _TOL)
        converged[rows[done]] = True
        active[rows[done | stalled]] = False
        previous[rows] = size
        params[rows[stalled]] = start[rows[stalled]]
    left = ~converged
    if not left.any():
        return Solution(params, np.empty((n_rows, 0, 0)), converged)
    rest = maximise(des, ties, prior, counts[left], params[left])
    params[left] = rest.params
    converged[left] = rest.converged
    return Solution(params, np.empty((n_rows, 0, 0)), converged)
