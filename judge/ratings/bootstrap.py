"""Bootstrap distributions of ratings, resampling battles (Chatbot Arena's way) or whole questions.

For Bradley-Terry nothing is resampled row by row. Drawing N battles with replacement from a log whose battles
fall into pair x outcome cells is exactly a multinomial draw of N over those cells with the observed shares as
probabilities (see multinomial()); drawing questions with replacement is a multinomial over questions, and a
replicate's table is the weighted sum of per-question tables. Replicates are fitted together, starting at the
full-data fit (see _newton.maximise_near). They come in fixed-size chunks, each with its own child generator
spawned from `rng` in order, so the result for a seed does not depend on how many threads ran them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from judge.errors import InputError
from judge.ratings._counts import Aggregated, FloatArray, IntArray, aggregate, question_codes, question_table
from judge.ratings._newton import bread, design, maximise, maximise_near, single_threaded_blas
from judge.ratings.bt import DEFAULT_PRIOR, BTFit, EloScale, check_anchor, check_ties, fit_pairs
from judge.ratings.elo import battle_codes, elo_pass, elo_passes

Method = Literal["bt", "elo"]
Cluster = Literal["battle", "question"]

_CHUNK: Final = 50  # bootstrap rounds per batched fit; part of what a seed reproduces
_ELO_CELLS: Final = 4_000_000  # rounds x battles held at once by the batched online-Elo pass


def check_bootstrap(rounds: int, cluster: str, method: str) -> None:
    if method not in ("bt", "elo"):
        raise InputError(f"unknown rating method {method!r} (known: bt, elo)")
    if cluster not in ("battle", "question"):
        raise InputError(f"unknown bootstrap cluster {cluster!r} (known: battle, question)")
    if rounds < 1:
        raise InputError(f"bootstrap rounds must be at least 1, got {rounds}")


def _chunks(rounds: int, size: int) -> list[int]:
    return [min(size, rounds - start) for start in range(0, rounds, size)]


def _run(tasks: list[Callable[[], FloatArray]], workers: int | None) -> FloatArray:
    """Run independent chunks, in threads when useful (numpy's sampling and LAPACK release the GIL)."""
    n_workers = min(workers or os.cpu_count() or 1, len(tasks))
    with single_threaded_blas():
        if n_workers <= 1:
            return np.concatenate([task() for task in tasks])
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            return np.concatenate(list(pool.map(lambda task: task(), tasks)))


def multinomial(rng: np.random.Generator, n: int, shares: FloatArray, size: int) -> IntArray:
    """Exact Multinomial(n, shares) draws, `size` rows, about twice as fast as Generator.multinomial here.

    Poissonisation: Poisson(n * share) counts are a multinomial sample of a Poisson(n) total T, i.e. T
    independent labelled draws. Dropping T - n of them picked uniformly at random (or adding n - T fresh
    draws) leaves n independent draws: exactly Multinomial(n, shares). The fix-up touches about sqrt(n) draws.
    """
    counts = rng.poisson(n * shares, size=(size, len(shares)))
    cumulative = np.cumsum(shares)
    for row in counts:
        total = int(row.sum())
        if total > n:
            gone = rng.choice(total, size=total - n, replace=False)
            row -= np.bincount(np.searchsorted(np.cumsum(row), gone, side="right"), minlength=len(row))
        elif total < n:
            u = rng.random(n - total) * cumulative[-1]
            extra = np.minimum(np.searchsorted(cumulative, u, side="right"), len(row) - 1)
            row += np.bincount(extra, minlength=len(row))
    return counts


def _bt_replicates(
    battles: pd.DataFrame,
    agg: Aggregated,
    fit: BTFit,
    *,
    rounds: int,
    rng: np.random.Generator,
    cluster: Cluster,
    workers: int | None,
) -> FloatArray:
    pairs = agg.pairs
    des = design(pairs.i, pairs.j, pairs.n_models)
    flat = pairs.counts.ravel()
    cells = np.flatnonzero(flat)
    n_battles = int(flat.sum())
    shares = flat[cells] / n_battles
    table: sp.csr_matrix | None = question_table(battles, agg) if cluster == "question" else None
    inverse = bread(des, fit.neg_hessian)
    sizes = _chunks(rounds, _CHUNK)
    children = rng.spawn(len(sizes))

    def draw(child: np.random.Generator, size: int) -> FloatArray:
        if table is None:
            out = np.zeros((size, flat.size))
            out[:, cells] = multinomial(child, n_battles, shares, size)
            return out
        n_q = table.shape[0]
        weights = multinomial(child, n_q, np.full(n_q, 1.0 / n_q), size).astype(np.float64)
        return np.asarray((table.T @ weights.T).T)

    def task(child: np.random.Generator, size: int) -> Callable[[], FloatArray]:
        def run() -> FloatArray:
            counts = draw(child, size).reshape(size, -1, 3)
            start = np.tile(fit.params, (size, 1))
            if fit.fitted_ties == "half":
                sol = maximise_near(des, "half", fit.prior, counts, start, inverse)
            else:
                # The tie models' extra parameter makes chord steps stall more often than they help.
                sol = maximise(des, fit.fitted_ties, fit.prior, counts, start)
            if not sol.converged.all():
                raise InputError(
                    "a bootstrap replicate has no finite Bradley-Terry fit (prior=0 and a model that never "
                    "lost or never won in that replicate)",
                    hint="use a small positive prior (the default)",
                )
            return fit.elo.ratings(sol.params[:, : pairs.n_models], pairs.models)

        return run

    return _run([task(c, s) for c, s in zip(children, sizes, strict=True)], workers)


def _elo_replicates(
    battles: pd.DataFrame,
    *,
    rounds: int,
    rng: np.random.Generator,
    cluster: Cluster,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
) -> tuple[tuple[str, ...], FloatArray]:
    models, a, b, score = battle_codes(battles)
    opts: dict[str, Any] = {"k": k, "scale": scale, "base": base, "init_rating": init_rating}
    n = len(battles)
    if cluster == "battle":
        per = max(1, _ELO_CELLS // n)
        parts = []
        for size in _chunks(rounds, per):
            idx = rng.integers(0, n, size=(size, n))
            parts.append(elo_passes(a[idx], b[idx], score[idx], len(models), **opts))
        out = np.concatenate(parts)
    else:
        codes = question_codes(battles)
        n_q = int(codes.max()) + 1
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(n_q + 1))
        out = np.empty((rounds, len(models)))
        for r in range(rounds):
            picked = rng.integers(0, n_q, size=n_q)
            idx = np.concatenate([order[starts[q] : starts[q + 1]] for q in picked])
            idx = idx[rng.permutation(len(idx))]
            out[r] = elo_pass(a[idx], b[idx], score[idx], len(models), **opts)
    if anchor is not None:
        at = models.index(anchor[0])
        out = out - out[:, at : at + 1] + anchor[1]
    return models, out


def bootstrap_ratings(
    battles: pd.DataFrame,
    *,
    method: Method = "bt",
    rounds: int = 1000,
    rng: np.random.Generator,
    cluster: Cluster = "battle",
    workers: int | None = None,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Ratings refitted on `rounds` resamples of the log: a rounds x models frame (columns sorted by name).

    fit_kwargs go to fit_bt (ties, prior, scale, base, init_rating, anchor) or online_elo (k, scale, base,
    init_rating, plus anchor). workers caps the threads used for BT (default: all cores); it never changes
    the results.
    """
    check_bootstrap(rounds, cluster, method)
    if method == "elo":
        check_anchor(fit_kwargs.get("anchor"), aggregate(battles).pairs.models)
        models, values = _elo_replicates(battles, rounds=rounds, rng=rng, cluster=cluster, **fit_kwargs)
    else:
        agg = aggregate(battles)
        fit = fit_pairs(agg.pairs, **_bt_options(**fit_kwargs))
        models = agg.pairs.models
        values = _bt_replicates(battles, agg, fit, rounds=rounds, rng=rng, cluster=cluster, workers=workers)
    frame = pd.DataFrame(values, columns=pd.Index(models, name="model"))
    frame.index.name = "round"
    return frame


def _bt_options(
    *,
    ties: str = "half",
    prior: float = DEFAULT_PRIOR,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
) -> dict[str, Any]:
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(base) and base > 1):
        raise InputError(f"scale must be > 0 and base > 1, got scale={scale!r}, base={base!r}")
    elo = EloScale(scale=scale, base=base, init_rating=init_rating, anchor=anchor)
    return {"ties": check_ties(ties), "prior": prior, "elo": elo}


def weighted_refits(battles: pd.DataFrame, units: IntArray, weights: FloatArray) -> pd.DataFrame:
    """Bradley-Terry ratings (default options) refitted with each battle counted weights[r, units[b]] times.

    Row r of `weights` is one resample of units (questions, say) given as how often each unit was drawn; the
    caller draws them, so two logs can share one draw of their common questions (judge compare's paired
    bootstrap). Returns a rounds x models frame (columns sorted by name); a replicate with no finite fit is
    NaN. Fitted in batches, starting at the full-data fit, like bootstrap_ratings.
    """
    agg = aggregate(battles)
    fit = fit_pairs(agg.pairs, **_bt_options())
    pairs = agg.pairs
    des = design(pairs.i, pairs.j, pairs.n_models)
    inverse = bread(des, fit.neg_hessian)
    n_units = weights.shape[1]
    table = sp.csr_matrix((np.ones(len(units)), (units, agg.cell)), shape=(n_units, 3 * len(pairs.i)))
    parts = []
    with single_threaded_blas():
        for start in range(0, len(weights), _CHUNK):
            chunk = weights[start : start + _CHUNK]
            counts = np.asarray((table.T @ chunk.T).T).reshape(len(chunk), -1, 3)
            sol = maximise_near(des, "half", fit.prior, counts, np.tile(fit.params, (len(chunk), 1)), inverse)
            values = fit.elo.ratings(sol.params[:, : pairs.n_models], pairs.models)
            values[~sol.converged] = np.nan
            parts.append(values)
    return pd.DataFrame(np.concatenate(parts), columns=pd.Index(pairs.models, name="model"))
