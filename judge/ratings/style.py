"""Style control: Bradley-Terry with answer length and markdown as covariates (Chatbot Arena's default board).

P(a beats b) = sigmoid(theta_a - theta_b + x . beta), where x holds one entry per style feature: the
difference of the two answers' counts over their sum plus one, (a - b) / (a + b + 1), standardised over the
log (mean 0, population standard deviation 1). theta is then a model's strength at equal style and beta what
style alone buys. Ties count as half a win; the L2 penalty is Chatbot Arena's, reg / 4 * (|r|^2 + |beta|^2)
with r = theta / ln(base) the ratings in their natural units (reg = 0.5 by default), so the same battles give
the same numbers as FastChat's `compute_style_control`.

The rows do not collapse into pair counts (the covariates are continuous), but the parameter vector is small:
Newton's method with a gradient and Hessian summed per pair segment (rows sorted by pair) converges in a
handful of passes over the log.

Bootstrap. While rounds x battles is modest, each replicate gets Poisson(1) weights per battle (or per
question) and is refitted: the one-step linearisation delta = H^-1 sum_k (w_k - 1) s_k (s_k the score of row
k at the fit) as start, then one exact Newton step on its own weighted rows, which leaves an error of about
1e-4 Elo on 30,000 battles (Newton converges quadratically). On Arena-sized logs that is too many row
passes; there the replicates are drawn from the large-sample limit of the same linearised bootstrap:
sum_k (w_k - 1) s_k is a sum of very many independent terms, so it is drawn as N(0, M), M the sum of outer
products of per-unit summed scores (the multiplier bootstrap with Gaussian weights; its intervals are those
of the cluster-robust sandwich). benchmarks/style.py measures what this leaves out against full refits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit
from scipy.stats import poisson

from judge.errors import InputError
from judge.ratings._counts import FloatArray, IntArray, _require_columns, aggregate, question_codes
from judge.ratings._newton import single_threaded_blas
from judge.ratings.bt import EloScale, check_anchor

STYLE_FEATURES: Final = ("length", "headers", "lists", "bold")
STYLE_COLUMNS: Final = {
    "length": ("tokens_a", "tokens_b"),
    "headers": ("headers_a", "headers_b"),
    "lists": ("lists_a", "lists_b"),
    "bold": ("bold_a", "bold_b"),
}
DEFAULT_REG: Final = 0.5

_TOL: Final = 1e-10
_MAX_ITER: Final = 100
_CHUNK: Final = 50  # bootstrap rounds per task; part of what a seed reproduces
_EXACT_CELLS: Final = 50_000_000  # rounds x battles up to which replicates are resampled and refitted
# Replicates evaluated together (block x battles arrays): 16, or fewer on a big log so that each such array
# stays ~2 MB (they are a 1M-call run's peak memory).
_BLOCK: Final = 16
_BLOCK_CELLS: Final = 250_000


@dataclass(frozen=True, eq=False)
class StyleRows:
    """The log as the style fit reads it: model codes, outcome of model_a, standardised features."""

    models: tuple[str, ...]
    features: tuple[str, ...]
    a: IntArray
    b: IntArray
    y: FloatArray  # 1 = model_a won, 0.5 = tie, 0 = model_b won
    x: FloatArray  # (N, d), standardised
    mean: FloatArray  # (d,) of the raw ratio features
    std: FloatArray  # (d,)
    order: IntArray  # rows are sorted by ordered pair (model_a, model_b); order[k] = row k's place in the log
    starts: IntArray  # first row of each pair segment
    pa: IntArray  # model_a of each segment
    pb: IntArray  # model_b of each segment


@dataclass(frozen=True, eq=False)
class StyleFit:
    """A style-controlled Bradley-Terry fit."""

    ratings: pd.Series  # Elo scale, indexed by model
    coefficients: pd.Series  # beta per feature (natural log-odds per standard deviation of the feature)
    rows: StyleRows
    params: FloatArray  # theta (natural, mean 0), then beta
    neg_hessian: FloatArray  # of the penalised objective at params
    elo: EloScale
    reg: float

    @property
    def models(self) -> tuple[str, ...]:
        return self.rows.models

    def elo_for_double(self, feature: str) -> float:
        """Elo that twice the feature's count (e.g. a 2x longer answer) is worth, at large counts.

        (2c - c) / (2c + c + 1) tends to 1/3, so the logit moves by beta / 3 / std against equal counts.
        """
        at = self.rows.features.index(feature)
        return float(self.elo.factor * self.coefficients[feature] / (3.0 * self.rows.std[at]))


def check_features(features: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(features))
    unknown = [f for f in chosen if f not in STYLE_FEATURES]
    if unknown or not chosen:
        name = unknown[0] if unknown else "(none)"
        raise InputError(f"unknown style feature {name!r} (known: {', '.join(STYLE_FEATURES)})")
    return chosen


def varying_features(battles: pd.DataFrame) -> tuple[str, ...]:
    """The style features every battle has and that are not the same in every battle (the fittable ones)."""
    found = []
    for feature in STYLE_FEATURES:
        columns = STYLE_COLUMNS[feature]
        if not all(c in battles.columns for c in columns) or len(battles) == 0:
            continue
        left, right = (_numbers(battles[c]) for c in columns)
        if left.isna().any() or right.isna().any():
            continue
        ratio = (left - right) / (left + right + 1.0)
        if float(ratio.std(ddof=0)) > 0:
            found.append(feature)
    return tuple(found)


def style_rows(battles: pd.DataFrame, features: Sequence[str] = STYLE_FEATURES) -> StyleRows:
    """Check the log and build the covariates; a battle without a needed count is an InputError."""
    chosen = check_features(features)
    columns = tuple(c for f in chosen for c in STYLE_COLUMNS[f])
    _require_columns(battles, columns)
    agg = aggregate(battles)  # checks winners and names
    models = agg.pairs.models
    a, b = (_codes(battles[column], models) for column in ("model_a", "model_b"))
    codes, values = pd.factorize(battles["winner"])
    score = {"model_a": 1.0, "model_b": 0.0}
    y = np.array([score.get(str(v), 0.5) for v in values])[codes]
    raw = np.empty((len(battles), len(chosen)))
    for k, feature in enumerate(chosen):
        left, right = (_numbers(battles[c]) for c in STYLE_COLUMNS[feature])
        missing = (left.isna() | right.isna()).to_numpy(dtype=bool)
        if missing.any():
            raise InputError(
                f"{int(missing.sum())} of {len(battles)} battles lack {feature} "
                f"({'/'.join(STYLE_COLUMNS[feature])}), e.g. battle {battles.index[np.argmax(missing)]!r}",
                hint="choose features every battle has, e.g. --style length",
            )
        va, vb = left.to_numpy(dtype=np.float64), right.to_numpy(dtype=np.float64)
        negative = (va < 0) | (vb < 0)
        if negative.any():
            raise InputError(f"{int(negative.sum())} battles have a negative {feature} count")
        raw[:, k] = (va - vb) / (va + vb + 1.0)
    mean = raw.mean(axis=0)
    std = raw.std(axis=0)
    flat = [f for f, s in zip(chosen, std, strict=True) if not s > 0]
    if flat:
        raise InputError(
            f"style feature {flat[0]} is the same in every battle, so its effect can not be estimated",
            hint=f"leave it out: --style {','.join(f for f in chosen if f not in flat) or 'length'}",
        )
    n = len(models)
    pair = a * n + b
    order = np.argsort(pair, kind="stable")
    keys, starts = np.unique(pair[order], return_index=True)
    x = (raw - mean) / std
    return StyleRows(
        models, chosen, a[order], b[order], y[order], x[order], mean, std, order, starts, keys // n, keys % n
    )


def _codes(names: pd.Series, models: tuple[str, ...]) -> IntArray:
    """Index of each battle's model in the sorted model list (factorize first: few distinct names)."""
    codes, values = pd.factorize(names)
    at = np.searchsorted(np.array(models, dtype=object), np.asarray(values, dtype=str).astype(object))
    return np.asarray(at[codes], dtype=np.int64)


def _numbers(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column
    return pd.to_numeric(column, errors="coerce")


def _penalty(rows: StyleRows, reg: float, base: float) -> FloatArray:
    """Gaussian prior precision per parameter: FastChat's reg / 2 on r = theta / ln(base) and on beta."""
    n, d = len(rows.models), len(rows.features)
    return np.concatenate([np.full(n, reg / 2.0 / math.log(base) ** 2), np.full(d, reg / 2.0)])


@dataclass(frozen=True, eq=False)
class _Terms:
    """Penalised log-likelihood (if asked), gradient and -Hessian for m weighted replicates at once."""

    f: FloatArray  # (m,) or empty
    grad: FloatArray  # (m, p)
    neg_hessian: FloatArray  # (m, p, p)


def _evaluate(
    rows: StyleRows, w: FloatArray | None, penalty: FloatArray, q: FloatArray, with_f: bool = True
) -> _Terms:
    """Everything is summed per pair segment first (rows are sorted by pair), then spread over models."""
    n, d = len(rows.models), len(rows.features)
    m = len(q)
    # In place where it can be: on a big log each of these (m, N) arrays is a few MB.
    z = q[:, rows.a]
    z -= q[:, rows.b]
    z += q[:, n:] @ rows.x.T
    f = np.empty(0)
    if with_f:
        ll = rows.y * z - np.logaddexp(0.0, z)
        f = (ll if w is None else ll * w).sum(axis=1) - 0.5 * (penalty * q * q).sum(axis=1)
        del ll
    h = expit(z, out=z)  # p, then p (1 - p)
    r = rows.y - h
    h *= 1.0 - h
    if w is not None:
        r *= w
        h *= w
    hx = h[:, :, None] * rows.x[None]
    r_pair = np.add.reduceat(r, rows.starts, axis=1)
    h_pair = np.add.reduceat(h, rows.starts, axis=1)
    hx_pair = np.add.reduceat(hx, rows.starts, axis=1)
    reps = np.arange(m)[:, None] * n
    grad = np.empty_like(q)
    grad[:, :n] = _spread(reps + rows.pa, r_pair, m * n) - _spread(reps + rows.pb, r_pair, m * n)
    grad[:, n:] = r @ rows.x
    grad -= penalty * q
    hess = np.zeros((m, n + d, n + d))
    link = _spread(reps * n + rows.pa * n + rows.pb, h_pair, m * n * n).reshape(m, n, n)
    link += link.transpose(0, 2, 1)
    hess[:, :n, :n] = -link
    diag = np.arange(n)
    hess[:, diag, diag] = link.sum(axis=2)
    cross = np.stack(
        [
            _spread(reps + rows.pa, hx_pair[..., k], m * n) - _spread(reps + rows.pb, hx_pair[..., k], m * n)
            for k in range(d)
        ],
        axis=2,
    ).reshape(m, n, d)
    hess[:, :n, n:] = cross
    hess[:, n:, :n] = cross.transpose(0, 2, 1)
    for k in range(m):
        hess[k, n:, n:] = hx[k].T @ rows.x
    hess[:, np.arange(n + d), np.arange(n + d)] += penalty
    return _Terms(f, grad, hess)


def _spread(index: IntArray, values: FloatArray, size: int) -> FloatArray:
    """Sum values into `size` slots by index (index broadcast to values' shape), as (m, size / m)."""
    flat = np.broadcast_to(index, values.shape).ravel()
    return np.asarray(np.bincount(flat, values.ravel(), size), dtype=np.float64).reshape(values.shape[0], -1)


def _solve(neg_hessian: FloatArray, grad: FloatArray, n: int) -> FloatArray:
    """Newton steps; a rank-one term along theta's all-ones direction fixes the gauge when reg = 0."""
    h = neg_hessian.copy()
    scale = np.maximum(np.trace(h[:, :n, :n], axis1=1, axis2=2) / n, 1e-12)
    h[:, :n, :n] += scale[:, None, None] / n
    return np.asarray(np.linalg.solve(h, grad[..., None])[..., 0])


def _maximise(rows: StyleRows, penalty: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Newton ascent with step halving on the full log; returns the parameters and the -Hessian there."""
    n = len(rows.models)
    q = np.zeros((1, n + len(rows.features)))
    terms = _evaluate(rows, None, penalty, q)
    for _ in range(_MAX_ITER):
        step = _solve(terms.neg_hessian, terms.grad, n)
        alpha = 1.0
        for _ in range(40):
            trial = _evaluate(rows, None, penalty, q + alpha * step)
            if trial.f[0] >= terms.f[0] - 1e-12 * abs(terms.f[0]):
                break
            alpha *= 0.5
        else:
            break
        q, terms = q + alpha * step, trial
        if alpha * np.abs(step).max() < _TOL:
            return q[0], terms.neg_hessian[0]
    raise InputError(
        "the style-controlled Bradley-Terry fit did not converge",
        hint="with reg=0 a model that never lost (or never won) has no finite rating; keep the default reg",
    )


def fit_style(
    battles: pd.DataFrame,
    *,
    features: Sequence[str] = STYLE_FEATURES,
    reg: float = DEFAULT_REG,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
) -> StyleFit:
    """Style-controlled ratings and the style coefficients (penalised maximum likelihood)."""
    if not (math.isfinite(reg) and reg >= 0):
        raise InputError(f"reg must be a finite number >= 0, got {reg!r}")
    rows = style_rows(battles, features)
    check_anchor(anchor, rows.models)
    elo = EloScale(scale=scale, base=base, init_rating=init_rating, anchor=anchor)
    return _fit_rows(rows, reg, elo)


def _fit_rows(rows: StyleRows, reg: float, elo: EloScale) -> StyleFit:
    n = len(rows.models)
    penalty = _penalty(rows, reg, elo.base)
    with single_threaded_blas():
        q, neg_hessian = _maximise(rows, penalty)
    q[:n] -= q[:n].mean()  # the likelihood ignores a shift of theta; with reg > 0 the mean is 0 already
    index = pd.Index(rows.models, name="model")
    return StyleFit(
        ratings=pd.Series(elo.ratings(q[:n], rows.models), index=index, name="rating"),
        coefficients=pd.Series(q[n:], index=pd.Index(rows.features, name="feature"), name="coefficient"),
        rows=rows,
        params=q,
        neg_hessian=neg_hessian,
        elo=elo,
        reg=reg,
    )


@dataclass(frozen=True, eq=False)
class StyleReplicates:
    """Bootstrap replicates of a style fit: ratings (rounds x models, Elo) and coefficients (rounds x d)."""

    ratings: FloatArray
    coefficients: FloatArray
    exact: bool  # True: resampled and refitted; False: the Gaussian large-log limit


def bootstrap_style(
    battles: pd.DataFrame,
    fit: StyleFit,
    *,
    rounds: int,
    rng: np.random.Generator,
    cluster: str = "battle",
    workers: int | None = None,
) -> StyleReplicates:
    """Replicates of fit on resampled battles (or whole questions), fitted together in chunks of rounds.

    Each chunk has its own child generator spawned from rng, so a seed gives the same result on any number of
    threads. `battles` must be the frame fit was made from (for question codes).
    """
    if cluster not in ("battle", "question"):
        raise InputError(f"unknown bootstrap cluster {cluster!r} (known: battle, question)")
    if rounds < 1:
        raise InputError(f"bootstrap rounds must be at least 1, got {rounds}")
    rows = fit.rows
    n = len(rows.models)
    codes = question_codes(battles)[rows.order] if cluster == "question" else None
    exact = rounds * len(rows.y) <= _EXACT_CELLS
    if exact:
        sizes = [min(_CHUNK, rounds - s) for s in range(0, rounds, _CHUNK)]
        children = rng.spawn(len(sizes))
        tasks = [_replicate_task(fit, codes, c, size) for c, size in zip(children, sizes, strict=True)]
        n_workers = min(workers or os.cpu_count() or 1, len(tasks))
        with single_threaded_blas():
            if n_workers <= 1:
                params = np.concatenate([task() for task in tasks])
            else:
                with ThreadPoolExecutor(max_workers=n_workers) as pool:
                    params = np.concatenate(list(pool.map(lambda task: task(), tasks)))
    else:
        params = fit.params + _gaussian_deltas(fit, codes, rounds, rng)
    theta = params[:, :n] - params[:, :n].mean(axis=1, keepdims=True)
    return StyleReplicates(fit.elo.ratings(theta, rows.models), params[:, n:], exact)


def _scores(fit: StyleFit) -> tuple[FloatArray, FloatArray]:
    """Per row: the residual y - p at the fit, and r * x (the model part of a score is r at a, -r at b)."""
    rows = fit.rows
    n = len(rows.models)
    q = fit.params
    resid = rows.y - expit(q[rows.a] - q[rows.b] + rows.x @ q[n:])
    return resid, rows.x * resid[:, None]


def _replicate_task(
    fit: StyleFit, codes: IntArray | None, rng: np.random.Generator, size: int
) -> Callable[[], FloatArray]:
    """Replicates from Poisson(1) weights per battle (or per question): the one-step linearisation
    delta = H^-1 sum_k (w_k - 1) s_k, then one exact Newton step on each replicate's own weighted rows."""
    rows = fit.rows
    n = len(rows.models)
    q = fit.params
    resid, rx = _scores(fit)
    inverse = np.linalg.inv(_gauged(fit.neg_hessian, n))
    penalty = _penalty(rows, fit.reg, fit.elo.base)
    step = max(1, min(_BLOCK, _BLOCK_CELLS // len(resid)))
    reps = np.arange(step)[:, None] * n

    def run() -> FloatArray:
        out = np.empty((size, len(q)))
        for lo in range(0, size, step):
            m = min(step, size - lo)
            if codes is None:
                centred = poisson_minus_one(rng, (m, len(resid))).astype(np.float64)
            else:
                centred = poisson_minus_one(rng, (m, int(codes.max()) + 1)).astype(np.float64)[:, codes]
            per_pair = np.add.reduceat(centred * resid, rows.starts, axis=1)
            grad = np.empty((m, len(q)))
            grad[:, :n] = _spread(reps[:m] + rows.pa, per_pair, m * n) - _spread(
                reps[:m] + rows.pb, per_pair, m * n
            )
            grad[:, n:] = centred @ rx
            block = q + grad @ inverse
            centred += 1.0  # the weights themselves from here on
            terms = _evaluate(rows, centred, penalty, block, with_f=False)
            out[lo : lo + m] = block + _solve(terms.neg_hessian, terms.grad, n)
        return out

    return run


def _gaussian_deltas(
    fit: StyleFit, codes: IntArray | None, rounds: int, rng: np.random.Generator
) -> FloatArray:
    """The large-log limit of the linearised bootstrap: sum_k (w_k - 1) s_k is a sum of many independent
    terms, so it is drawn as N(0, M) with M = sum over units (battles or questions) of S_u S_u^T, S_u the
    unit's summed score; delta = H^-1 of that (the multiplier bootstrap with Gaussian weights)."""
    rows = fit.rows
    n, p = len(rows.models), len(fit.params)
    resid, rx = _scores(fit)
    unit = np.arange(len(resid)) if codes is None else codes
    n_units = int(unit.max()) + 1
    d = rx.shape[1]
    cols = np.concatenate([rows.a, rows.b, *(np.full(len(resid), n + k) for k in range(d))])
    vals = np.concatenate([resid, -resid, *(rx[:, k] for k in range(d))])
    scores = sp.csr_matrix((vals, (np.tile(unit, 2 + d), cols)), shape=(n_units, p))
    meat = np.asarray((scores.T @ scores).toarray())
    inverse = np.linalg.inv(_gauged(fit.neg_hessian, n))
    cov = inverse @ meat @ inverse.T
    cov = (cov + cov.T) / 2.0
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return np.asarray(rng.standard_normal((rounds, p)) @ root.T)


def _gauged(neg_hessian: FloatArray, n: int) -> FloatArray:
    h = neg_hessian.copy()
    h[:n, :n] += max(float(np.trace(h[:n, :n])) / n, 1e-12) / n
    return h


# Poisson(1) by table look-up on 16 random bits: bucket u covers [u, u + 1) / 65536 of the CDF. A bucket that
# lies inside one value's share maps to it; the few buckets that straddle a boundary (and the tail) are marked
# and redrawn exactly by inverting the CDF, so the weights are exact Poisson(1) draws.
_CDF: Final = poisson.cdf(np.arange(40), 1.0)
_EDGES: Final = np.searchsorted(_CDF * 65536.0, np.arange(65537), side="right")
_LUT: Final = np.where(_EDGES[:-1] == _EDGES[1:], _EDGES[:-1], -99).astype(np.float32) - 1.0


def poisson_minus_one(rng: np.random.Generator, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Poisson(1) - 1 draws as float32 (the centred bootstrap weights), 3-4x faster than rng.poisson."""
    bits = np.frombuffer(rng.bytes(2 * shape[0] * shape[1]), dtype=np.uint16).reshape(shape)
    out = _LUT[bits]
    odd = np.flatnonzero(out.ravel() < -50)
    if len(odd):
        u = (bits.ravel()[odd] + rng.random(len(odd))) / 65536.0
        out.ravel()[odd] = np.minimum(np.searchsorted(_CDF, u, side="right"), len(_CDF)) - 1.0
    return out
