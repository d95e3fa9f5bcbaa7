"""Bradley-Terry maximum likelihood on the Elo scale.

P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale)), i.e. R = scale / ln(base) * theta + offset with
theta the natural log-strength. The offset puts the mean rating at init_rating, or pins one model (Chatbot
Arena pins mixtral-8x7b-instruct-v0.1 at 1114) when an anchor is given.

Ties count as half a win each way by default: that keeps the likelihood a plain binomial one, matches
Chatbot Arena and evalica, and uses the ties' information that two models are close. Davidson (1970) and
Rao-Kupper (1967) model the tie probability explicitly with one extra parameter instead.

The prior: a Gaussian on every theta with precision `prior` (standard deviation 1/sqrt(prior) natural-log
units; DEFAULT_PRIOR = 0.01 gives 10, i.e. about 1700 Elo). In curvature at the centre it equals 4 * prior
tied games against a model of average strength, so the default adds the weight of 0.04 games per model: on
real logs its effect is far below 0.1 Elo, yet a model that never lost (or never won) gets a finite rating.
prior=0 is the plain maximum-likelihood fit, which exists only if the win graph is strongly connected (Ford
1957); otherwise it is an InputError."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from judge.errors import InputError
from judge.ratings._counts import FloatArray, PairCounts, aggregate
from judge.ratings._newton import TIE_MODELS, Design, TieModel, design, maximise, single_threaded_blas

DEFAULT_PRIOR: Final = 0.01


@dataclass(frozen=True, eq=False)
class EloScale:
    """How natural log-strengths map to published ratings."""

    scale: float = 400.0
    base: float = 10.0
    init_rating: float = 1000.0
    anchor: tuple[str, float] | None = None

    @property
    def factor(self) -> float:
        return self.scale / math.log(self.base)

    def ratings(self, theta: FloatArray, models: tuple[str, ...]) -> FloatArray:
        """Map theta (..., n_models) to ratings: mean init_rating, or the anchor model at its rating."""
        if self.anchor is None:
            centred = theta - theta.mean(axis=-1, keepdims=True)
            return np.asarray(self.init_rating + self.factor * centred, dtype=np.float64)
        at = models.index(self.anchor[0])
        pinned = theta - theta[..., at : at + 1]
        return np.asarray(self.anchor[1] + self.factor * pinned, dtype=np.float64)

    def contrast(self, models: tuple[str, ...]) -> FloatArray:
        """The matrix C with ratings = C @ theta + constant (used to carry covariances to the Elo scale)."""
        n = len(models)
        c = np.eye(n)
        if self.anchor is None:
            c -= 1.0 / n
        else:
            c[:, models.index(self.anchor[0])] -= 1.0
        return self.factor * c


@dataclass(frozen=True, eq=False)
class BTFit:
    """A Bradley-Terry fit: ratings plus what sandwich intervals and bootstrap warm starts need."""

    ratings: pd.Series  # indexed by model, Elo scale
    models: tuple[str, ...]
    tie_param: (
        float | None
    )  # Davidson nu or Rao-Kupper eta (P(i>j) = pi_i / (pi_i + eta pi_j)); None for half
    ties: TieModel
    prior: float
    elo: EloScale
    fitted_ties: TieModel  # "half" when a tie model was asked for but the log has no ties
    params: FloatArray  # natural log-strengths (mean 0), then the internal tie parameter if any
    neg_hessian: FloatArray  # -Hessian of the penalised log-likelihood at params
    pairs: PairCounts

    @property
    def theta(self) -> FloatArray:
        return self.params[: len(self.models)]


def check_ties(ties: str) -> TieModel:
    if ties not in TIE_MODELS:
        raise InputError(f"unknown tie model {ties!r} (known: {', '.join(TIE_MODELS)})")
    return ties  # type: ignore[return-value]


def check_anchor(anchor: tuple[str, float] | None, models: tuple[str, ...]) -> None:
    if anchor is None:
        return
    name, rating = anchor
    if name not in models:
        shown = ", ".join(models[:20]) + (", ..." if len(models) > 20 else "")
        raise InputError(f"anchor model {name!r} does not appear in the battles (models: {shown})")
    if not math.isfinite(rating):
        raise InputError(f"anchor rating for {name!r} must be a finite number, got {rating!r}")


def check_prior(prior: float) -> None:
    if not (math.isfinite(prior) and prior >= 0):
        raise InputError(f"prior must be a finite number >= 0, got {prior!r}")


def _require_mle(pairs: PairCounts) -> None:
    """Ford's condition: without a prior the MLE is finite only if the win graph is strongly connected."""
    c = pairs.counts
    beats_ij = (c[:, 0] + c[:, 2]) > 0
    beats_ji = (c[:, 1] + c[:, 2]) > 0
    rows = np.concatenate([pairs.i[beats_ij], pairs.j[beats_ji]])
    cols = np.concatenate([pairs.j[beats_ij], pairs.i[beats_ji]])
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(pairs.n_models, pairs.n_models))
    n_parts, _ = connected_components(graph, directed=True, connection="strong")
    if n_parts > 1:
        raise InputError(
            "with prior=0 the ratings are infinite: some models never lost (or never won) against the rest, "
            "or the comparison graph is disconnected",
            hint="use a small prior (the default) to keep every rating finite",
        )


def _start(ties: TieModel, pairs: PairCounts) -> FloatArray:
    n = pairs.n_models
    if ties == "half":
        return np.zeros(n)
    f = min(pairs.counts[:, 2].sum() / pairs.counts.sum(), 0.9)
    # Tie share at equal strength: Davidson nu / (2 + nu), Rao-Kupper tanh(tau / 2).
    kappa = math.log(2 * f / (1 - f)) if ties == "davidson" else 2 * math.atanh(f)
    return np.append(np.zeros(n), kappa)


def fit_pairs(pairs: PairCounts, *, ties: TieModel, prior: float, elo: EloScale) -> BTFit:
    """fit_bt on already aggregated counts (the bootstrap reuses the aggregation)."""
    check_prior(prior)
    check_anchor(elo.anchor, pairs.models)
    if prior == 0:
        _require_mle(pairs)
    n_ties = pairs.counts[:, 2].sum()
    effective: TieModel = ties
    if ties != "half":
        if n_ties == pairs.counts.sum() and prior == 0:
            raise InputError(
                f"every battle is a tie, so with prior=0 the {ties} tie parameter is infinite",
                hint="use a small positive prior (the default)",
            )
        if n_ties == 0:
            effective = "half"  # the tie parameter sits at its boundary and the fit is plain Bradley-Terry
    des: Design = design(pairs.i, pairs.j, pairs.n_models)
    start = _start(effective, pairs)
    with single_threaded_blas():
        sol = maximise(des, effective, prior, pairs.counts[None], start[None])
    if not sol.converged[0]:
        raise InputError("the Bradley-Terry fit did not converge", hint="use a small positive prior")
    params = sol.params[0]
    tie_param: float | None = None
    if ties != "half":
        boundary = 0.0 if ties == "davidson" else 1.0
        tie_param = boundary if effective == "half" else float(np.exp(params[-1]))
    n = pairs.n_models
    ratings = pd.Series(elo.ratings(params[:n], pairs.models), index=pd.Index(pairs.models, name="model"))
    return BTFit(
        ratings=ratings.rename("rating"),
        models=pairs.models,
        tie_param=tie_param,
        ties=ties,
        prior=prior,
        elo=elo,
        fitted_ties=effective,
        params=params,
        neg_hessian=sol.neg_hessian[0],
        pairs=pairs,
    )


def fit_bt(
    battles: pd.DataFrame,
    *,
    ties: TieModel = "half",
    prior: float = DEFAULT_PRIOR,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    anchor: tuple[str, float] | None = None,
) -> BTFit:
    """Bradley-Terry ratings (penalised maximum likelihood) of every model in the battle log."""
    tie_model = check_ties(ties)
    elo = EloScale(scale=scale, base=base, init_rating=init_rating, anchor=anchor)
    return fit_pairs(aggregate(battles).pairs, ties=tie_model, prior=prior, elo=elo)
