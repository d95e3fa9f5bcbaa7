"""Prediction-powered Bradley-Terry ratings: a few human votes, many judge votes, intervals that stay honest.

The target is the humans' Bradley-Terry fit. The judge's votes enter only through a correction that has mean
zero whatever the judge's bias (Angelopoulos et al. 2023, "Prediction-Powered Inference"; PPI++, Angelopoulos,
Duchi and Zrnic 2023). With l(theta; c) the half-tie Bradley-Terry log-likelihood of outcome counts c, the
estimate maximises

    sum over human items k of l(theta; h_k)
      + lambda * (V / N * sum_{judge items j} l(theta; f_j) - sum_{paired items k} m_k l(theta; f_k))

where h_k are the human votes on item k (m_k of them), f_j the judge's verdict on item j as shares of its
votes (several judge votes on one item, e.g. both orders, are averaged), N the judge's items and V the human
votes on paired items (items both voted on). An item is a question, an unordered pair and a turn, matched as
`judge validate` matches them. lambda = 0 is the humans' fit; a judge that agrees with the humans earns a
lambda near N / (N + V), which is the pooled fit of both logs. lambda is power-tuned (PPI++): the value in [0,
1] that minimises the trace of the ratings' sandwich covariance. The log-likelihood is linear in the counts,
so the whole objective is one Bradley-Terry fit on signed, weighted pair counts (negative cells cut at zero,
see _proper), solved by the same Newton code; for lambda <= 1 every pair's weight stays >= 0, so the objective
stays concave.

Intervals: the sandwich H^-1 (M_h + lambda^2 M_j) H^-1 with M_h the covariance of each human unit's score
minus lambda times its judge-predicted score and M_j that of the judge units' scores, the two samples taken as
independent (their covariance through the paired items is of order V / N and vanishes at the tuned lambda); or
a bootstrap that resamples human units and judge units separately at the fitted lambda. A unit is an item, or
with cluster="question" all items of one question. Rank-sets follow Chatzi et al. 2024 ("Prediction-Powered
Ranking of Large Language Models"): a simultaneous confidence ellipsoid for the ratings, and each model's
ranks between 1 + (models surely above it) and K - (models surely below it).

Ties count as half a win (the only tie model here)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit
from scipy.stats import chi2, norm

from judge.errors import InputError
from judge.items import ITEM, canonical_votes
from judge.ratings._counts import FloatArray, IntArray
from judge.ratings._newton import Design, bread, design, maximise, maximise_near, single_threaded_blas
from judge.ratings.bt import DEFAULT_PRIOR, EloScale, check_anchor, check_prior
from judge.ratings.leaderboard import LEADERBOARD_COLUMNS, _rank, board_order

PpiCluster = Literal["item", "question"]
PpiCi = Literal["sandwich", "bootstrap"]
PPI_COLUMNS: Final = (*LEADERBOARD_COLUMNS, "rank_lower", "rank_upper")

_CHUNK: Final = 50


@dataclass(frozen=True, eq=False)
class Samples:
    """Human and judge votes as per-item outcome tables over one set of model pairs.

    Counts are (first won, second won, tie) seen from models[i[pair]] (the lower index). Human items carry
    the judge's prediction for each of their m_k human votes (zero when the judge never voted there)."""

    models: tuple[str, ...]
    des: Design
    human_pair: IntArray  # (n_h,) pair row of each human item
    human_counts: FloatArray  # (n_h, 3)
    human_pred: FloatArray  # (n_h, 3) m_k * judge shares; zeros when unpaired
    human_unit: IntArray  # (n_h,) resampling unit of each human item
    judge_pair: IntArray  # (N,)
    judge_shares: FloatArray  # (N, 3), rows sum to 1
    judge_unit: IntArray  # (N,)
    paired_items: int

    @property
    def paired_votes(self) -> float:
        """V: human votes on items the judge also voted on."""
        return float(self.human_pred.sum())

    @property
    def human_votes(self) -> int:
        return int(self.human_counts.sum())


@dataclass(frozen=True, eq=False)
class PPIFit:
    """A prediction-powered fit: ratings on the Elo scale, lambda, and the sandwich covariance."""

    ratings: pd.Series
    lam: float
    params: FloatArray
    neg_hessian: FloatArray
    cov: FloatArray  # Elo-scale covariance of the ratings (models x models)
    human_only_cov: FloatArray  # the same for lambda = 0 (fitted on the human votes alone)
    samples: Samples
    elo: EloScale
    prior: float

    @property
    def effective_human_votes(self) -> float:
        """Human votes that alone would give intervals as narrow (variance scales as 1 / votes)."""
        ppi, human = float(np.trace(self.cov)), float(np.trace(self.human_only_cov))
        return self.samples.human_votes * human / ppi if ppi > 0 else math.inf


def _items(votes: pd.DataFrame) -> pd.DataFrame:
    """Outcome counts per item: columns ITEM + (won_first, won_second, tie)."""
    coded = votes.assign(
        w1=(votes["outcome"] == 1).astype(np.float64),
        w2=(votes["outcome"] == -1).astype(np.float64),
        t=(votes["outcome"] == 0).astype(np.float64),
    )
    grouped = coded.groupby(list(ITEM), sort=True, observed=True)[["w1", "w2", "t"]].sum()
    return grouped.reset_index()


def match_samples(human: pd.DataFrame, judge: pd.DataFrame, *, cluster: PpiCluster = "item") -> Samples:
    """Pair the human and judge votes by item; raise InputError if they can not be combined."""
    if cluster not in ("item", "question"):
        raise InputError(
            f"unknown cluster {cluster!r} for prediction-powered ratings (known: item, question)"
        )
    if len(human) == 0:
        raise InputError("no human votes: prediction-powered ratings need some")
    if len(judge) == 0:
        raise InputError("no judge votes: prediction-powered ratings need some")
    h = _items(canonical_votes(human, side="human votes"))
    j = _items(canonical_votes(judge, side="judge votes"))
    human_models = set(h["first"]) | set(h["second"])
    unseen = sorted((set(j["first"]) | set(j["second"])) - human_models)
    if unseen:
        shown = ", ".join(unseen[:10]) + (f" and {len(unseen) - 10} more" if len(unseen) > 10 else "")
        raise InputError(
            f"the judge votes cover {len(unseen)} model(s) the humans never voted on: {shown}",
            hint="prediction-powered ratings can only rate models the humans rated; drop their judge votes",
        )
    keys = list(ITEM)
    merged = h.merge(j, on=keys, how="left", suffixes=("", "_j"), indicator=True)
    paired = (merged["_merge"] == "both").to_numpy()
    if not paired.any():
        raise InputError(
            f"the human votes ({len(h)} items) and the judge votes ({len(j)} items) share no item "
            "(question, model pair, turn)",
            hint="both files must use the same question ids, model names and turns",
        )
    models = tuple(sorted(human_models))
    index = {m: k for k, m in enumerate(models)}
    pair_keys = pd.concat([h[["first", "second"]], j[["first", "second"]]]).drop_duplicates()
    pair_keys = pair_keys.sort_values(["first", "second"]).reset_index(drop=True)
    pi = pair_keys["first"].map(index).to_numpy(dtype=np.int64)
    pj = pair_keys["second"].map(index).to_numpy(dtype=np.int64)
    row_of = {(a, b): r for r, (a, b) in enumerate(zip(pair_keys["first"], pair_keys["second"], strict=True))}

    def pair_rows(frame: pd.DataFrame) -> IntArray:
        return np.array([row_of[(a, b)] for a, b in zip(frame["first"], frame["second"], strict=True)])

    human_counts = merged[["w1", "w2", "t"]].to_numpy(dtype=np.float64)
    judge_counts = j[["w1", "w2", "t"]].to_numpy(dtype=np.float64)
    judge_shares = judge_counts / judge_counts.sum(axis=1, keepdims=True)
    paired_counts = merged[["w1_j", "w2_j", "t_j"]].fillna(0.0).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.nan_to_num(paired_counts / paired_counts.sum(axis=1, keepdims=True))
    human_pred = shares * human_counts.sum(axis=1, keepdims=True)
    if cluster == "item":
        human_unit, judge_unit = np.arange(len(h)), np.arange(len(j))
    else:
        human_unit = pd.factorize(h["question_id"], sort=True)[0]
        judge_unit = pd.factorize(j["question_id"], sort=True)[0]
    return Samples(
        models=models,
        des=design(pi, pj, len(models)),
        human_pair=pair_rows(h),
        human_counts=human_counts,
        human_pred=human_pred,
        human_unit=np.asarray(human_unit, dtype=np.int64),
        judge_pair=pair_rows(j),
        judge_shares=judge_shares,
        judge_unit=np.asarray(judge_unit, dtype=np.int64),
        paired_items=int(paired.sum()),
    )


def _pair_table(pair: IntArray, counts: FloatArray, n_pairs: int) -> FloatArray:
    out = np.zeros((n_pairs, 3))
    np.add.at(out, pair, counts)
    return out


def _objective_counts(s: Samples, lam: float) -> FloatArray:
    """The weighted pair counts whose Bradley-Terry log-likelihood is the PPI objective (see _proper)."""
    n_pairs = len(s.des.i)
    human = _pair_table(s.human_pair, s.human_counts - lam * s.human_pred, n_pairs)
    judge = _pair_table(s.judge_pair, s.judge_shares, n_pairs)
    return _proper(human + lam * s.paired_votes / len(s.judge_pair) * judge)


def _proper(counts: FloatArray) -> FloatArray:
    """Pair counts with no negative outcome cell.

    The correction subtracts the judge's verdicts on the human items; with few human votes on a pair it can
    take more wins (or losses) away than the pair has, and a pair with more than all of its games won pulls
    its models apart without bound (on 500 LLMFAO crowd votes one model ran off to +2,800 Elo, and the
    centring spread its variance over every model). Cutting such cells at zero keeps every pair a proper
    likelihood; it binds only when a pair's human votes are few, and never at lambda = 0 or for a judge that
    agrees with the humans."""
    return np.maximum(counts, 0.0)


def _fit(s: Samples, counts: FloatArray, prior: float) -> tuple[FloatArray, FloatArray]:
    with single_threaded_blas():
        sol = maximise(s.des, "half", prior, counts[None], np.zeros((1, s.des.n_models)))
    if not sol.converged[0]:
        raise InputError("the prediction-powered fit did not converge", hint="use a small positive prior")
    return sol.params[0], sol.neg_hessian[0]


def _unit_scores(
    s: Samples,
    theta: FloatArray,
    pair: IntArray,
    counts: FloatArray,
    unit: IntArray,
    inflate: FloatArray | None = None,
) -> sp.csr_matrix:
    """units x models: each unit's score (gradient of its log-likelihood) at theta, times `inflate`."""
    p = expit(theta[s.des.i[pair]] - theta[s.des.j[pair]])
    score = counts[:, 0] + 0.5 * counts[:, 2] - counts.sum(axis=1) * p
    if inflate is not None:
        score = score * inflate
    rows = np.concatenate([unit, unit])
    cols = np.concatenate([s.des.i[pair], s.des.j[pair]])
    n_units = int(unit.max()) + 1
    return sp.csr_matrix((np.concatenate([score, -score]), (rows, cols)), shape=(n_units, s.des.n_models))


def _inflation(s: Samples, theta: FloatArray, inverse: FloatArray, lam: float) -> FloatArray | None:
    """HC3-style 1 / (1 - h) per human item, h its leverage in the objective (MacKinnon and White 1985).

    A unit's plain residual score understates its variance by about its leverage; with tens of models and a
    few hundred votes, single models have high leverage and the plain sandwich undercovers. Only for items as
    units (for question clusters the leverage is a block, left out)."""
    if not np.array_equal(s.human_unit, np.arange(len(s.human_pair))):
        return None
    i, j = s.des.i[s.human_pair], s.des.j[s.human_pair]
    p = expit(theta[i] - theta[j])
    weight = (s.human_counts.sum(axis=1) - lam * s.human_pred.sum(axis=1)) * p * (1 - p)
    quad = inverse[i, i] + inverse[j, j] - inverse[i, j] - inverse[j, i]
    h = np.clip(weight * quad, 0.0, 0.99)
    return np.asarray(1.0 / (1.0 - h), dtype=np.float64)


def _cross(a: sp.csr_matrix, b: sp.csr_matrix) -> FloatArray:
    """Sum over units of the centred products (a_u - mean)(b_u - mean)', symmetrised, times G / (G - 1)."""
    g = a.shape[0]
    sa, sb = np.asarray(a.sum(axis=0)).ravel(), np.asarray(b.sum(axis=0)).ravel()
    m = np.asarray((a.T @ b).todense()) - np.outer(sa, sb) / g
    m = 0.5 * (m + m.T)
    return np.asarray(m * (g / (g - 1)) if g > 1 else m, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Meats:
    hh: FloatArray
    hj: FloatArray
    jj: FloatArray  # judge-predicted scores of the human units, plus the judge sample's own part


def _meats(s: Samples, theta: FloatArray, inflate: FloatArray | None = None) -> _Meats:
    h = _unit_scores(s, theta, s.human_pair, s.human_counts, s.human_unit, inflate)
    f = _unit_scores(s, theta, s.human_pair, s.human_pred, s.human_unit, inflate)
    judge = _unit_scores(s, theta, s.judge_pair, s.judge_shares, s.judge_unit)
    scale = s.paired_votes / len(s.judge_pair)
    return _Meats(_cross(h, h), _cross(h, f), _cross(f, f) + scale**2 * _cross(judge, judge))


def _covariance(s: Samples, neg_hessian: FloatArray, meat: FloatArray, elo: EloScale) -> FloatArray:
    inverse = bread(s.des, neg_hessian)
    contrast = elo.contrast(s.models)
    return np.asarray(contrast @ inverse @ meat @ inverse @ contrast.T)


def tune_lambda(s: Samples, prior: float = DEFAULT_PRIOR) -> float:
    """PPI++ power tuning: the lambda in [0, 1] minimising the trace of the ratings' sandwich covariance.

    As PPI++ does, the statistics are taken at the lambda = 1 fit; the trace is quadratic in lambda, so the
    minimiser is a ratio of two traces."""
    theta, neg_hessian = _fit(s, _objective_counts(s, 1.0), prior)
    inverse = bread(s.des, neg_hessian)
    n = s.des.n_models
    w = (np.eye(n) - 1.0 / n) @ inverse
    meats = _meats(s, theta)
    denominator = float(np.trace(w @ meats.jj @ w.T))
    if denominator <= 0:
        return 0.0
    return float(np.clip(np.trace(w @ meats.hj @ w.T) / denominator, 0.0, 1.0))


def fit_ppi(
    s: Samples,
    *,
    lam: float | None = None,
    prior: float = DEFAULT_PRIOR,
    elo: EloScale | None = None,
) -> PPIFit:
    """The prediction-powered fit at `lam` (None: power-tuned) with its sandwich covariance."""
    check_prior(prior)
    elo = elo or EloScale()
    check_anchor(elo.anchor, s.models)
    if lam is None:
        lam = tune_lambda(s, prior)
    elif not (math.isfinite(lam) and 0.0 <= lam <= 1.0):
        raise InputError(f"lambda must lie in [0, 1], got {lam!r}")
    params, neg_hessian = _fit(s, _objective_counts(s, lam), prior)
    meats = _meats(s, params, _inflation(s, params, bread(s.des, neg_hessian), lam))
    cov = _covariance(s, neg_hessian, meats.hh - 2 * lam * meats.hj + lam**2 * meats.jj, elo)
    if lam == 0.0:
        human_cov = cov
    else:
        h_params, h_hessian = _fit(s, _objective_counts(s, 0.0), prior)
        h_inflate = _inflation(s, h_params, bread(s.des, h_hessian), 0.0)
        human_cov = _covariance(s, h_hessian, _meats(s, h_params, h_inflate).hh, elo)
    ratings = pd.Series(elo.ratings(params, s.models), index=pd.Index(s.models, name="model"), name="rating")
    return PPIFit(ratings, lam, params, neg_hessian, cov, human_cov, s, elo, prior)


def bootstrap_ppi(fit: PPIFit, *, rounds: int, rng: np.random.Generator) -> FloatArray:
    """rounds x models ratings, resampling human units and judge units separately, lambda held fixed."""
    if rounds < 1:
        raise InputError(f"bootstrap rounds must be at least 1, got {rounds}")
    s, lam = fit.samples, fit.lam
    n_pairs = len(s.des.i)
    n_cells = 3 * n_pairs

    def unit_table(pair: IntArray, counts: FloatArray, unit: IntArray) -> sp.csr_matrix:
        cells = (3 * pair)[:, None] + np.arange(3)[None, :]
        rows = np.repeat(unit, 3)
        return sp.csr_matrix((counts.ravel(), (rows, cells.ravel())), shape=(int(unit.max()) + 1, n_cells))

    human = unit_table(s.human_pair, s.human_counts - lam * s.human_pred, s.human_unit)
    paired = np.bincount(s.human_unit, s.human_pred.sum(axis=1))
    judge = unit_table(s.judge_pair, s.judge_shares, s.judge_unit)
    n_h, n_j = human.shape[0], judge.shape[0]
    inverse = bread(s.des, fit.neg_hessian)
    out = []
    with single_threaded_blas():
        for start in range(0, rounds, _CHUNK):
            size = min(_CHUNK, rounds - start)
            wh = rng.multinomial(n_h, np.full(n_h, 1.0 / n_h), size=size).astype(np.float64)
            wj = rng.multinomial(n_j, np.full(n_j, 1.0 / n_j), size=size).astype(np.float64)
            scale = lam * (wh @ paired) / len(s.judge_pair)
            counts = _proper(np.asarray((human.T @ wh.T).T) + scale[:, None] * np.asarray((judge.T @ wj.T).T))
            start_params = np.tile(fit.params, (size, 1))
            sol = maximise_near(
                s.des, "half", fit.prior, counts.reshape(size, n_pairs, 3), start_params, inverse
            )
            if not sol.converged.all():
                raise InputError(
                    "a bootstrap replicate has no finite fit", hint="use a small positive prior (the default)"
                )
            out.append(fit.elo.ratings(sol.params, s.models))
    return np.concatenate(out)


def rank_sets(rating: FloatArray, cov: FloatArray, level: float) -> tuple[IntArray, IntArray]:
    """Chatzi et al. 2024 rank-sets: model m is surely below m' when the whole `level` confidence ellipsoid of
    the ratings has m' above m. The ellipsoid lives in the K - 1 dimensions the centred ratings span."""
    k = len(rating)
    if k < 2:
        return np.ones(k, dtype=np.int64), np.ones(k, dtype=np.int64)
    radius = math.sqrt(float(chi2.ppf(level, df=k - 1)))
    var = np.diag(cov)
    sd = np.sqrt(np.clip(var[:, None] + var[None, :] - 2 * cov, 0.0, None))
    above = (rating[None, :] - rating[:, None]) > radius * sd  # above[m, m']: m' surely above m
    np.fill_diagonal(above, False)
    lower = 1 + above.sum(axis=1)
    upper = k - above.sum(axis=0)
    return lower.astype(np.int64), upper.astype(np.int64)


@dataclass(frozen=True, eq=False)
class PPIResult:
    """The board (PPI_COLUMNS, best first) and the fit behind it."""

    board: pd.DataFrame
    fit: PPIFit
    ci: PpiCi
    level: float

    def summary(self) -> dict[str, float | int]:
        s = self.fit.samples
        return {
            "lambda": self.fit.lam,
            "human_items": len(s.human_pair),
            "human_votes": s.human_votes,
            "judge_items": len(s.judge_pair),
            "paired_items": s.paired_items,
            "effective_human_votes": self.fit.effective_human_votes,
        }


def ppi_leaderboard(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    *,
    lam: float | None = None,
    ci: PpiCi = "sandwich",
    bootstrap: int = 1000,
    seed: int = 0,
    cluster: PpiCluster = "item",
    level: float = 0.95,
    prior: float = DEFAULT_PRIOR,
    anchor: tuple[str, float] | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
) -> PPIResult:
    """Prediction-powered ratings with `level` intervals, ranks from the intervals and rank-sets."""
    if ci not in ("sandwich", "bootstrap"):
        raise InputError(
            f"unknown interval method {ci!r} for prediction-powered ratings (known: sandwich, bootstrap)"
        )
    if not (math.isfinite(level) and 0 < level < 1):
        raise InputError(f"level must lie strictly between 0 and 1, got {level!r}")
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(base) and base > 1):
        raise InputError(f"scale must be > 0 and base > 1, got scale={scale!r}, base={base!r}")
    elo = EloScale(scale=scale, base=base, init_rating=init_rating, anchor=anchor)
    samples = match_samples(human, judge, cluster=cluster)
    fit = fit_ppi(samples, lam=lam, prior=prior, elo=elo)
    rating = fit.ratings.to_numpy()
    tail = (1.0 - level) / 2.0
    cov = fit.cov
    if ci == "bootstrap":
        values = bootstrap_ppi(fit, rounds=bootstrap, rng=np.random.default_rng(seed))
        lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=0)
        if bootstrap > 1:
            cov = np.cov(values, rowvar=False)
    else:
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        z = float(norm.ppf(1.0 - tail))
        lower, upper = rating - z * sd, rating + z * sd
    rank_lower, rank_upper = rank_sets(rating, cov, level)
    record = _record(samples)
    table = pd.DataFrame(
        {
            "model": list(samples.models),
            "rating": rating,
            "ci_lower": lower,
            "ci_upper": upper,
            "rank": _rank(lower, upper),
            **{c: record[c].to_numpy() for c in ("battles", "wins", "losses", "ties")},
            # Flagged as the plain board flags it; PPI's prior keeps it finite (not peeled here).
            "separated": (record["wins"].to_numpy() == 0) | (record["losses"].to_numpy() == 0),
            "rank_lower": rank_lower,
            "rank_upper": rank_upper,
        }
    )
    table = board_order(table)
    return PPIResult(table.reset_index(drop=True)[list(PPI_COLUMNS)], fit, ci, level)


def _record(s: Samples) -> pd.DataFrame:
    """Each model's human record (the votes the ratings answer to)."""
    n = s.des.n_models
    c = _pair_table(s.human_pair, s.human_counts, len(s.des.i))
    i, j = s.des.i, s.des.j
    wins = np.bincount(i, c[:, 0], n) + np.bincount(j, c[:, 1], n)
    losses = np.bincount(i, c[:, 1], n) + np.bincount(j, c[:, 0], n)
    ties = np.bincount(i, c[:, 2], n) + np.bincount(j, c[:, 2], n)
    frame = pd.DataFrame({"battles": wins + losses + ties, "wins": wins, "losses": losses, "ties": ties})
    return frame.astype("int64")
