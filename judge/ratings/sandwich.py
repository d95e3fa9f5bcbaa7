"""Robust (sandwich) covariance of Bradley-Terry ratings: the fast alternative to the bootstrap.

cov(theta) = H^-1 M H^-1 with H the negative Hessian of the penalised log-likelihood at the fit and M the
sum of outer products of score vectors, one per independent unit: per battle (cluster="battle") or per
question, summing the scores of all its battles (cluster="question"), since battles on one question share
its difficulty and are not independent. Unlike the inverse Hessian alone this stays honest when the model is
misspecified (e.g. ties counted as half wins). Both sums use the small-sample factor G / (G - 1) for G
units."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from judge.errors import InputError
from judge.ratings._counts import aggregate, question_table
from judge.ratings._newton import bread, design, pair_terms
from judge.ratings.bt import BTFit


def _cell_scores(fit: BTFit) -> sp.csr_matrix:
    """(3 * pairs) x params: the score of one battle of each pair x outcome cell."""
    pairs = fit.pairs
    n = pairs.n_models
    m = len(fit.params)
    theta = fit.params[:n]
    kappa = np.array([fit.params[n]]) if m > n else np.zeros(1)
    d = np.repeat(theta[pairs.i] - theta[pairs.j], 3)[None, :]
    unit = np.tile(np.eye(3), (len(pairs.i), 1))[None]  # one battle with each outcome, per pair
    _, ld, _, lk, _, _ = pair_terms(fit.fitted_ties, d, kappa, unit)
    rows = np.arange(3 * len(pairs.i))
    cols_i, cols_j = np.repeat(pairs.i, 3), np.repeat(pairs.j, 3)
    data = [ld[0], -ld[0]]
    r = [rows, rows]
    c = [cols_i, cols_j]
    if lk is not None:
        data.append(lk[0])
        r.append(rows)
        c.append(np.full(len(rows), n))
    return sp.csr_matrix((np.concatenate(data), (np.concatenate(r), np.concatenate(c))), shape=(len(rows), m))


def sandwich_covariance(
    fit: BTFit, battles: pd.DataFrame | None = None, *, cluster: Literal["battle", "question"] = "battle"
) -> pd.DataFrame:
    """Covariance of fit.ratings (Elo units, models x models); cluster="question" needs the battles."""
    scores = _cell_scores(fit)
    counts = fit.pairs.counts.ravel()
    if cluster == "battle":
        meat = np.asarray((scores.T @ sp.diags(counts) @ scores).todense())
        units = counts.sum()
    elif cluster == "question":
        if battles is None:
            raise InputError("cluster='question' needs the battles (for their question_id)")
        agg = aggregate(battles)
        if agg.pairs.models != fit.models or not np.array_equal(agg.pairs.counts, fit.pairs.counts):
            raise InputError("these battles are not the ones the fit was made from")
        per_question = np.asarray((question_table(battles, agg) @ scores).todense())
        meat = per_question.T @ per_question
        units = float(len(per_question))
    else:
        raise InputError(f"unknown cluster {cluster!r} (known: battle, question)")
    if units > 1:
        meat *= units / (units - 1)
    inverse = bread(design(fit.pairs.i, fit.pairs.j, len(fit.models)), fit.neg_hessian)
    cov_params = inverse @ meat @ inverse
    n = len(fit.models)
    contrast = fit.elo.contrast(fit.models)
    cov = contrast @ cov_params[:n, :n] @ contrast.T
    index = pd.Index(fit.models, name="model")
    return pd.DataFrame(cov, index=index, columns=index.rename(None))
