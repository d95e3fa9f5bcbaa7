"""The leaderboard: one row per model with its rating, an interval, a rank and its record."""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

from judge.errors import InputError
from judge.ratings._counts import FloatArray, IntArray, aggregate
from judge.ratings.bootstrap import (
    Cluster,
    Method,
    _bt_options,
    _bt_replicates,
    bootstrap_ratings,
    check_bootstrap,
)
from judge.ratings.bt import DEFAULT_PRIOR, check_anchor, fit_pairs
from judge.ratings.elo import online_elo
from judge.ratings.sandwich import sandwich_covariance

LEADERBOARD_COLUMNS: Final = (
    "model",
    "rating",
    "ci_lower",
    "ci_upper",
    "rank",
    "battles",
    "wins",
    "losses",
    "ties",
)

CiMethod = Literal["bootstrap", "sandwich", "none"]


def _rank(lower: FloatArray, upper: FloatArray) -> IntArray:
    """1 + the number of models whose whole interval lies above this model's interval (Arena's rule)."""
    above = lower[None, :] > upper[:, None]
    return np.asarray(1 + above.sum(axis=1), dtype=np.int64)


def leaderboard(
    battles: pd.DataFrame,
    *,
    method: Method = "bt",
    bootstrap: int = 1000,
    seed: int = 0,
    cluster: Cluster = "battle",
    ci: CiMethod = "bootstrap",
    anchor: tuple[str, float] | None = None,
    ties: str = "half",
    level: float = 0.95,
    prior: float = DEFAULT_PRIOR,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    k: float = 4.0,
    workers: int | None = None,
) -> pd.DataFrame:
    """Ratings with `level` intervals and ranks, best first.

    The rating is the full-data fit (for online Elo with bootstrap intervals: the bootstrap median, since one
    order-dependent Elo pass can fall outside its own interval); bootstrap intervals are percentiles of
    `bootstrap` refits with numpy.random.default_rng(seed). With ci="none" the interval collapses onto the
    rating, so the rank is the plain ordinal rank.
    """
    if method not in ("bt", "elo"):
        raise InputError(f"unknown rating method {method!r} (known: bt, elo)")
    if ci not in ("bootstrap", "sandwich", "none"):
        raise InputError(f"unknown interval method {ci!r} (known: bootstrap, sandwich, none)")
    if not (math.isfinite(level) and 0 < level < 1):
        raise InputError(f"level must lie strictly between 0 and 1, got {level!r}")
    agg = aggregate(battles)
    models = agg.pairs.models
    check_anchor(anchor, models)
    scale_kw = {"scale": scale, "base": base, "init_rating": init_rating, "anchor": anchor}
    if method == "elo":
        if ties != "half":
            raise InputError(
                f"online Elo always counts a tie as half a win; ties={ties!r} is for method='bt'"
            )
        if ci == "sandwich":
            raise InputError("ci='sandwich' needs a likelihood fit; use method='bt' or ci='bootstrap'")
        fit_kw: dict[str, object] = {"k": k, **scale_kw}
        rating = online_elo(battles, k=k, scale=scale, base=base, init_rating=init_rating).to_numpy()
        if anchor is not None:
            rating = rating - rating[models.index(anchor[0])] + anchor[1]
    else:
        fit_kw = {"ties": ties, "prior": prior, **scale_kw}
        fit = fit_pairs(agg.pairs, **_bt_options(ties=ties, prior=prior, **scale_kw))  # type: ignore[arg-type]
        rating = fit.ratings.to_numpy()
    tail = (1.0 - level) / 2.0
    if ci == "bootstrap" and method == "bt":
        # Same as bootstrap_ratings, reusing this call's aggregation and fit (a second pass on a big log).
        check_bootstrap(bootstrap, cluster, method)
        rng = np.random.default_rng(seed)
        values = _bt_replicates(
            battles, agg, fit, rounds=bootstrap, rng=rng, cluster=cluster, workers=workers
        )
        lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=0)
    elif ci == "bootstrap":
        samples = bootstrap_ratings(
            battles,
            method=method,
            rounds=bootstrap,
            rng=np.random.default_rng(seed),
            cluster=cluster,
            workers=workers,
            **fit_kw,
        )
        lower, median, upper = np.quantile(samples.to_numpy(), [tail, 0.5, 1.0 - tail], axis=0)
        # One pass of online Elo depends on the battle order, so it can fall outside the interval of its own
        # resamples; the bootstrap median is the rating, as in Chatbot Arena's Elo notebooks.
        rating = median
    elif ci == "sandwich":
        sd = np.sqrt(np.clip(np.diag(sandwich_covariance(fit, battles, cluster=cluster).to_numpy()), 0, None))
        z = float(norm.ppf(1.0 - tail))
        lower, upper = rating - z * sd, rating + z * sd
    else:
        lower, upper = rating.copy(), rating.copy()
    record = agg.pairs.per_model()
    table = pd.DataFrame(
        {
            "model": list(models),
            "rating": rating,
            "ci_lower": lower,
            "ci_upper": upper,
            "rank": _rank(lower, upper),
            "battles": record["battles"].to_numpy(),
            "wins": record["wins"].to_numpy(),
            "losses": record["losses"].to_numpy(),
            "ties": record["ties"].to_numpy(),
        }
    )
    table = table.sort_values(["rating", "model"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)[list(LEADERBOARD_COLUMNS)]


def leaderboards_by(
    battles: pd.DataFrame, field: str, **leaderboard_kwargs: object
) -> dict[str, pd.DataFrame]:
    """One leaderboard per distinct value of `field` (e.g. category, language, judge), keyed by str(value).

    Battles whose `field` is missing belong to no group.
    """
    if field not in battles.columns:
        raise InputError(
            f"can not group battles by {field!r}: no such column (has: {', '.join(battles.columns)})"
        )
    out: dict[str, pd.DataFrame] = {}
    for value, group in battles.groupby(field, sort=True, dropna=True):
        try:
            out[str(value)] = leaderboard(group, **leaderboard_kwargs)  # type: ignore[arg-type]
        except InputError as exc:
            raise InputError(f"{field}={value}: {exc.message}", hint=exc.hint) from exc
    return out
