"""Model x model tables for reports: battles played, observed win shares, and win chances implied by
ratings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit

from judge.ratings._counts import FloatArray, PairCounts, aggregate


def _square(pairs: PairCounts, upper: FloatArray, lower: FloatArray, diagonal: float) -> pd.DataFrame:
    n = pairs.n_models
    out = np.full((n, n), np.nan)
    out[pairs.i, pairs.j] = upper
    out[pairs.j, pairs.i] = lower
    np.fill_diagonal(out, diagonal)
    index = pd.Index(pairs.models, name="model_a")
    return pd.DataFrame(out, index=index, columns=pd.Index(pairs.models, name="model_b"))


def battle_count_matrix(battles: pd.DataFrame) -> pd.DataFrame:
    """Battles (ties included, either side) between each pair of models; symmetric, 0 where they never met."""
    pairs = aggregate(battles).pairs
    total = pairs.counts.sum(axis=1)
    return _square(pairs, total, total, 0.0).fillna(0.0).astype("int64")


def win_fraction_matrix(battles: pd.DataFrame) -> pd.DataFrame:
    """Share of the decisive battles between row and column that row won (ties left out); NaN if none."""
    pairs = aggregate(battles).pairs
    a, b = pairs.counts[:, 0], pairs.counts[:, 1]
    decisive = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.where(decisive > 0, a / decisive, np.nan)
    return _square(pairs, upper, 1.0 - upper, np.nan)


def predicted_win_matrix(ratings: pd.Series, *, scale: float = 400.0, base: float = 10.0) -> pd.DataFrame:
    """P(row beats column) implied by Elo-scale ratings: 1 / (1 + base ** ((R_col - R_row) / scale))."""
    values = ratings.to_numpy(dtype=np.float64)
    # expit of the log-odds instead of 1 / (1 + base ** x): no overflow for far-apart ratings.
    prob = expit((values[:, None] - values[None, :]) * (math.log(base) / scale))
    np.fill_diagonal(prob, np.nan)
    names = [str(m) for m in ratings.index]
    return pd.DataFrame(prob, index=pd.Index(names, name="model_a"), columns=pd.Index(names, name="model_b"))
