"""Invariants of the rating engine, checked on generated battle logs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.ratings import fit_bt, online_elo, predicted_win_matrix

NAMES = ["alpha", "beta", "gamma", "delta", "eps"]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]
FLIP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}


@st.composite
def battle_logs(draw: st.DrawFn, min_size: int = 1) -> pd.DataFrame:
    n_models = draw(st.integers(2, len(NAMES)))
    pair = st.tuples(st.integers(0, n_models - 1), st.integers(1, n_models - 1))
    rows = draw(st.lists(st.tuples(pair, st.sampled_from(WINNERS)), min_size=min_size, max_size=40))
    records = [(NAMES[a], NAMES[(a + step) % n_models], w) for (a, step), w in rows]
    return pd.DataFrame(records, columns=["model_a", "model_b", "winner"])


tie_models = st.sampled_from(["half", "davidson", "rao-kupper"])
common = settings(max_examples=40, deadline=None)


@common
@given(battle_logs(), st.randoms(use_true_random=False), tie_models)
def test_shuffling_battles_leaves_bt_unchanged(log: pd.DataFrame, rnd, ties: str) -> None:
    order = list(range(len(log)))
    rnd.shuffle(order)
    before = fit_bt(log, ties=ties).ratings  # type: ignore[arg-type]
    after = fit_bt(log.iloc[order], ties=ties).ratings  # type: ignore[arg-type]
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), atol=1e-6)


@common
@given(battle_logs(), tie_models)
def test_swapping_sides_and_flipping_winner_leaves_ratings_unchanged(log: pd.DataFrame, ties: str) -> None:
    swapped = pd.DataFrame(
        {"model_a": log["model_b"], "model_b": log["model_a"], "winner": log["winner"].map(FLIP)}
    )
    np.testing.assert_allclose(
        fit_bt(swapped, ties=ties).ratings.to_numpy(),  # type: ignore[arg-type]
        fit_bt(log, ties=ties).ratings.to_numpy(),  # type: ignore[arg-type]
        atol=1e-6,
    )


@common
@given(battle_logs(), st.permutations(["zulu", "yank", "xray", "whisky", "victor"]))
def test_renaming_models_permutes_ratings(log: pd.DataFrame, new_names: list[str]) -> None:
    rename = dict(zip(NAMES, new_names, strict=True))
    renamed = log.assign(model_a=log["model_a"].map(rename), model_b=log["model_b"].map(rename))
    before = fit_bt(log).ratings
    after = fit_bt(renamed).ratings
    for old, value in before.items():
        assert abs(after[rename[str(old)]] - value) < 1e-6


@common
@given(battle_logs(), tie_models)
def test_balanced_record_gives_equal_ratings(log: pd.DataFrame, ties: str) -> None:
    # Every battle is answered by the same pair with the opposite result.
    mirror = log.assign(winner=log["winner"].map(FLIP))
    ratings = fit_bt(pd.concat([log, mirror], ignore_index=True), ties=ties).ratings  # type: ignore[arg-type]
    np.testing.assert_allclose(ratings.to_numpy(), 1000.0, atol=1e-6)


@common
@given(
    st.lists(st.floats(0, 3000, allow_nan=False), min_size=2, max_size=8), st.sampled_from([10.0, np.e, 2.0])
)
def test_predicted_win_probabilities_of_a_pair_sum_to_one(values: list[float], base: float) -> None:
    ratings = pd.Series(values, index=[f"m{k}" for k in range(len(values))])
    prob = predicted_win_matrix(ratings, base=base).to_numpy()
    off = ~np.eye(len(values), dtype=bool)
    np.testing.assert_allclose((prob + prob.T)[off], 1.0, atol=1e-12)
    assert ((prob[off] >= 0) & (prob[off] <= 1)).all()


@common
@given(battle_logs(), st.floats(0.5, 64))
def test_online_elo_keeps_the_rating_sum(log: pd.DataFrame, k: float) -> None:
    ratings = online_elo(log, k=k)
    assert abs(ratings.sum() - 1000.0 * len(ratings)) < 1e-8 * len(log) * k
