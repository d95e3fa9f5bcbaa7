"""The leaderboard: one row per model with its rating, an interval, a rank and its record.

Separation: a model that never lost (or never won) has no finite Bradley-Terry maximum-likelihood rating.
With the tiny default prior its rating runs away (+800 Elo after 6-0) with a falsely tight interval, and since
ratings are mean-centred it drags every other model down. Here such a model is flagged `separated` and taken
out of the fit; the others are fitted on the remaining battles, which is exactly the limit of the maximum
likelihood fit (a certain win tells nothing about the others). The separated model is then placed against its
fitted opponents from its own record alone: its rating is the median-unbiased value, where the chance of a
record at least this one-sided is 1/2, and its interval runs from where that chance is (1 - level) / 2 to
infinity (minus infinity to that point for a model that never won), as Clopper-Pearson does for n out of n.
Separation is peeled repeatedly (a model beaten only by a separated one may be separated from the rest).
See docs/design/ratings.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from scipy.optimize import brentq
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
from judge.ratings.style import bootstrap_style, fit_style

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
    "separated",
)

CiMethod = Literal["bootstrap", "sandwich", "none"]
ClusterChoice = Literal["auto", "battle", "question"]


def resolve_cluster(battles: pd.DataFrame, cluster: str) -> Cluster:
    """`auto`: whole questions when any question_id occurs in more than one battle (judge logs, MT-Bench
    votes), single battles otherwise (Arena dumps, where every battle has its own prompt)."""
    if cluster in ("battle", "question"):
        return cluster  # type: ignore[return-value]
    if cluster != "auto":
        raise InputError(f"unknown bootstrap cluster {cluster!r} (known: auto, battle, question)")
    if "question_id" not in battles.columns:
        return "battle"
    ids = battles["question_id"].dropna()
    return "question" if bool(ids.duplicated().any()) else "battle"


def clustered(battles: pd.DataFrame, cluster: str) -> tuple[pd.DataFrame, Cluster]:
    """The unit `cluster` resolves to, and the log ready for it: under `auto`, a battle without a question_id
    becomes its own question (it shares its draw with nothing)."""
    unit = resolve_cluster(battles, cluster)
    if cluster != "auto" or unit != "question":
        return battles, unit
    ids = battles["question_id"]
    missing = ids.isna().to_numpy(dtype=bool)
    if not missing.any():
        return battles, unit
    filler = pd.Series([f"\0battle{i}" for i in range(len(battles))], index=battles.index, dtype="string")
    return battles.assign(question_id=ids.astype("string").where(~missing, filler)), unit


def separated_models(battles: pd.DataFrame) -> pd.Series:
    """True for each model that never lost or never won (ties count half a win either way), by model."""
    record = aggregate(battles).pairs.per_model()
    return (record["losses"] + record["ties"] == 0) | (record["wins"] + record["ties"] == 0)


def board_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the one order every board is shown in (CLI, JSON, report): rank, then rating (highest
    first), then name. Rank alone ties often (overlapping intervals share one); rating alone can put a
    model above one whose interval lies wholly above its own, when interval widths differ."""
    return table.sort_values(["rank", "rating", "model"], ascending=[True, False, True], kind="stable")


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
    cluster: ClusterChoice = "battle",
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
    style: Sequence[str] | None = None,
    baseline: str | None = None,
) -> pd.DataFrame:
    """Ratings with `level` intervals and ranks, best first.

    The rating is the full-data fit (for online Elo with bootstrap intervals: the bootstrap median, since one
    order-dependent Elo pass can fall outside its own interval); bootstrap intervals are percentiles of
    `bootstrap` refits with numpy.random.default_rng(seed). With ci="none" the interval collapses onto the
    rating, so the rank is the plain ordinal rank. cluster="auto" resamples questions when question ids
    repeat (resolve_cluster).
    A separated model (never lost or never won) is flagged and placed as the module docstring says (with
    style or baseline it is flagged and fitted with the prior).

    style: style features to control for (judge.ratings.style); the ratings are then style-controlled and
    table.attrs["style"] holds {"features": [...], "coefficients": {name: {value, ci_lower, ci_upper,
    elo_2x}}}. baseline: adds score / score_lower / score_upper, the predicted win rate in percent against
    that model (Arena-Hard's table), its bounds from the same bootstrap.
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
    if baseline is not None and baseline not in models:
        raise InputError(f"baseline model {baseline!r} does not appear in the battles")
    battles, cluster = clustered(battles, cluster)
    options: dict[str, object] = {
        "method": method, "bootstrap": bootstrap, "seed": seed, "cluster": cluster, "ci": ci,
        "anchor": anchor, "ties": ties, "level": level, "prior": prior, "scale": scale, "base": base,
        "init_rating": init_rating, "k": k, "workers": workers,
    }  # fmt: skip
    separated = separated_models(battles)
    if method == "bt" and style is None and baseline is None and separated.any():
        board = _peeled(battles, separated, options)
        if board is not None:
            return board
    scale_kw = {"scale": scale, "base": base, "init_rating": init_rating, "anchor": anchor}
    tail = (1.0 - level) / 2.0
    values: FloatArray | None = None  # bootstrap replicates (rounds x models), when there are any
    cov: FloatArray | None = None
    style_info: dict[str, Any] | None = None
    if style is not None:
        if method != "bt" or ties != "half":
            raise InputError(
                "style control is a Bradley-Terry fit with ties as half: use --method bt --ties half"
            )
        if ci == "sandwich":
            raise InputError("style control has bootstrap intervals only: use --ci bootstrap or --ci none")
        check_bootstrap(bootstrap, cluster, method)
        sfit = fit_style(
            battles, features=style, scale=scale, base=base, init_rating=init_rating, anchor=anchor
        )
        rating = sfit.ratings.to_numpy()
        coef_lower = coef_upper = sfit.coefficients.to_numpy()
        if ci == "bootstrap":
            reps = bootstrap_style(
                battles,
                sfit,
                rounds=bootstrap,
                rng=np.random.default_rng(seed),
                cluster=cluster,
                workers=workers,
            )
            values = reps.ratings
            coef_lower, coef_upper = np.quantile(reps.coefficients, [tail, 1.0 - tail], axis=0)
        style_info = {
            "features": list(sfit.rows.features),
            "coefficients": {
                name: {
                    "value": float(sfit.coefficients[name]),
                    "ci_lower": float(coef_lower[k]),
                    "ci_upper": float(coef_upper[k]),
                    "elo_2x": sfit.elo_for_double(name),
                }
                for k, name in enumerate(sfit.rows.features)
            },
        }
    elif method == "elo":
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
    if values is not None:
        lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=0)
    elif style_info is not None:
        lower, upper = rating.copy(), rating.copy()
    elif ci == "bootstrap" and method == "bt":
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
        values = samples.to_numpy()
        lower, median, upper = np.quantile(values, [tail, 0.5, 1.0 - tail], axis=0)
        # One pass of online Elo depends on the battle order, so it can fall outside the interval of its own
        # resamples; the bootstrap median is the rating, as in Chatbot Arena's Elo notebooks.
        rating = median
    elif ci == "sandwich":
        cov = sandwich_covariance(fit, battles, cluster=cluster).to_numpy()
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
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
            "separated": separated.to_numpy(dtype=bool),
        }
    )
    columns = list(LEADERBOARD_COLUMNS)
    if baseline is not None:
        at = models.index(baseline)
        table["score"] = _win_rate(rating - rating[at], scale, base)
        if values is not None:
            low, high = np.quantile(
                _win_rate(values - values[:, at : at + 1], scale, base), [tail, 1 - tail], axis=0
            )
        elif cov is not None:
            spread = np.sqrt(np.clip(np.diag(cov) + cov[at, at] - 2 * cov[:, at], 0, None))
            z = float(norm.ppf(1.0 - tail))
            diff = rating - rating[at]
            low, high = _win_rate(diff - z * spread, scale, base), _win_rate(diff + z * spread, scale, base)
        else:
            low = high = table["score"].to_numpy()
        table["score_lower"], table["score_upper"] = low, high
        columns += ["score", "score_lower", "score_upper"]
    table = board_order(table)
    out = table.reset_index(drop=True)[columns]
    if style_info is not None:
        out.attrs["style"] = style_info
    return out


def _win_rate(diff: FloatArray, scale: float, base: float) -> FloatArray:
    """Predicted win rate in percent of a model rated `diff` Elo above its opponent (a tie is half a win)."""
    return np.asarray(100.0 / (1.0 + base ** (-diff / scale)), dtype=np.float64)


def _peeled(battles: pd.DataFrame, separated: pd.Series, options: dict[str, object]) -> pd.DataFrame | None:
    """The leaderboard of the non-separated core plus each separated model placed from its own record.

    None when the rule does not apply (fewer than two core models, the anchor separated, or a separated
    model that met no core model): the caller then fits everything with the prior, flagged.
    """
    out = set(separated.index[separated.to_numpy(dtype=bool)])
    anchor = options["anchor"]
    core_models = [m for m in separated.index if m not in out]
    if len(core_models) < 2 or (anchor is not None and anchor[0] in out):  # type: ignore[index]
        return None
    a, b = battles["model_a"].astype(str), battles["model_b"].astype(str)
    in_core = ~(a.isin(out) | b.isin(out))
    core = leaderboard(battles[in_core.to_numpy(dtype=bool)], **options)  # type: ignore[arg-type]
    rating = core.set_index("model")["rating"]
    if set(rating.index) != set(core_models):
        return None
    record = aggregate(battles).pairs.per_model()
    tail = (1.0 - float(options["level"])) / 2.0  # type: ignore[arg-type]
    rows = []
    for model in sorted(out):
        mine = (a == model) | (b == model)
        other = np.where(a[mine] == model, b[mine], a[mine])
        met = pd.Series(other).value_counts()
        met = met[met.index.isin(core_models)]
        if met.empty:
            return None
        won = bool(record.loc[model, "wins"] > 0)
        place = _separated_place(
            rating.reindex(met.index).to_numpy(dtype=float),
            met.to_numpy(dtype=float),
            won=won,
            tail=tail,
            scale=float(options["scale"]),  # type: ignore[arg-type]
            base=float(options["base"]),  # type: ignore[arg-type]
        )
        point, bound = place
        lower, upper = (bound, math.inf) if won else (-math.inf, bound)
        if options["ci"] == "none":
            lower = upper = point
        counts = record.loc[model]
        rows.append(
            {
                "model": model,
                "rating": point,
                "ci_lower": lower,
                "ci_upper": upper,
                "rank": 0,
                "battles": int(counts["battles"]),
                "wins": int(counts["wins"]),
                "losses": int(counts["losses"]),
                "ties": int(counts["ties"]),
                "separated": True,
            }
        )
    table = pd.concat([core, pd.DataFrame(rows)], ignore_index=True)
    table["rank"] = _rank(table["ci_lower"].to_numpy(dtype=float), table["ci_upper"].to_numpy(dtype=float))
    table = table.astype({"separated": bool})
    table = board_order(table)
    return table.reset_index(drop=True)[list(LEADERBOARD_COLUMNS)]


def _separated_place(
    opponents: FloatArray, games: FloatArray, *, won: bool, tail: float, scale: float, base: float
) -> tuple[float, float]:
    """(median-unbiased rating, the finite interval end) of a model that won (or lost) every game.

    With opponents fixed at their ratings, log P(win all | R) rises from -inf to 0 as R grows: the rating
    is where it equals log 1/2, the interval end where it equals log tail.
    """
    sign = 1.0 if won else -1.0

    def log_chance(r: float) -> float:
        step = sign * (r - opponents) * math.log(base) / scale
        return float(-(games * np.logaddexp(0.0, -step)).sum())

    def solve(level: float) -> float:
        target = math.log(level)
        left, right = float(opponents.min()) - scale, float(opponents.max()) + scale
        while (log_chance(left) - target) * (log_chance(right) - target) > 0:
            left, right = left - 2 * (right - left), right + 2 * (right - left)
        return float(brentq(lambda r: log_chance(r) - target, left, right, xtol=1e-6))

    return solve(0.5), solve(tail)


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
