"""Online Elo as Chatbot Arena first published it: one pass over the battles in log order.

Every model starts at init_rating; after each battle both models move by k * (score - expected score) with
expected = 1 / (1 + base ** ((R_other - R_self) / scale)) and a tie scoring 0.5. The two expected scores sum
to 1, so each update moves the two ratings by opposite amounts and the rating sum never changes. Unlike
Bradley-Terry the result depends on the order of the battles (recent battles weigh more)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge.ratings._counts import FloatArray, IntArray, aggregate


def battle_codes(battles: pd.DataFrame) -> tuple[tuple[str, ...], IntArray, IntArray, FloatArray]:
    """(models, index of model_a, index of model_b, score of model_a) per battle, in log order."""
    agg = aggregate(battles)  # validates the log and fixes the model order
    models = agg.pairs.models
    lookup = pd.Index(models)
    a = lookup.get_indexer(battles["model_a"].astype(str)).astype(np.int64)
    b = lookup.get_indexer(battles["model_b"].astype(str)).astype(np.int64)
    winner = battles["winner"].astype(str).to_numpy()
    score = np.where(winner == "model_a", 1.0, np.where(winner == "model_b", 0.0, 0.5))
    return models, a, b, score


def elo_pass(
    a: IntArray,
    b: IntArray,
    score: FloatArray,
    n_models: int,
    *,
    k: float,
    scale: float,
    base: float,
    init_rating: float,
) -> FloatArray:
    """Ratings after one sequential pass over battles (a plain loop: numpy's per-call cost would dominate)."""
    rating = [init_rating] * n_models
    for ia, ib, sa in zip(a.tolist(), b.tolist(), score.tolist(), strict=True):
        ra, rb = rating[ia], rating[ib]
        ea = 1.0 / (1.0 + base ** ((rb - ra) / scale))
        eb = 1.0 / (1.0 + base ** ((ra - rb) / scale))
        rating[ia] = ra + k * (sa - ea)
        rating[ib] = rb + k * (1.0 - sa - eb)
    return np.array(rating)


def elo_passes(
    a: IntArray,
    b: IntArray,
    score: FloatArray,
    n_models: int,
    *,
    k: float,
    scale: float,
    base: float,
    init_rating: float,
) -> FloatArray:
    """elo_pass for many independent runs at once: a, b, score are (runs, steps); returns (runs, n_models)."""
    runs, steps = a.shape
    ratings = np.full((runs, n_models), init_rating)
    row = np.arange(runs)
    for step in range(steps):
        ia, ib = a[:, step], b[:, step]
        ra, rb = ratings[row, ia], ratings[row, ib]
        ea = 1.0 / (1.0 + base ** ((rb - ra) / scale))
        eb = 1.0 / (1.0 + base ** ((ra - rb) / scale))
        sa = score[:, step]
        ratings[row, ia] = ra + k * (sa - ea)
        ratings[row, ib] = rb + k * (1.0 - sa - eb)
    return ratings


def online_elo(
    battles: pd.DataFrame,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
) -> pd.Series:
    """Online Elo ratings after one pass over the battles in the order given, indexed by model."""
    models, a, b, score = battle_codes(battles)
    ratings = elo_pass(a, b, score, len(models), k=k, scale=scale, base=base, init_rating=init_rating)
    return pd.Series(ratings, index=pd.Index(models, name="model"), name="rating")
