"""Online Elo against its definition: a hand-worked case and a plain reference loop on real votes."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from judge.errors import InputError
from judge.ratings import online_elo


def reference_elo(
    frame: pd.DataFrame, k: float = 4, scale: float = 400, base: float = 10
) -> dict[str, float]:
    """The published definition, written as directly as possible."""
    rating: dict[str, float] = defaultdict(lambda: 1000.0)
    for model_a, model_b, winner in frame[["model_a", "model_b", "winner"]].itertuples(index=False):
        ra, rb = rating[model_a], rating[model_b]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        sa = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}[winner]
        rating[model_a] += k * (sa - ea)
        rating[model_b] += k * (1 - sa - eb)
    return dict(rating)


def test_hand_worked_three_battles() -> None:
    frame = pd.DataFrame(
        [("A", "B", "model_a"), ("B", "C", "tie"), ("C", "A", "model_b")],
        columns=["model_a", "model_b", "winner"],
    )
    # 1. A beats B at equal ratings: expected 0.5 each, so A 1000 + 4 * 0.5 = 1002, B 998.
    # 2. B (998) ties C (1000): E_B = 1 / (1 + 10 ** (2 / 400)) = 0.497122, B += 4 * (0.5 - E_B) = +0.011513.
    # 3. A (1002) beats C (999.988487): E_A = 1 / (1 + 10 ** (-2.011513 / 400)) = 0.502894, A += 1.988421.
    ratings = online_elo(frame)
    assert ratings["A"] == pytest.approx(1003.988421, abs=1e-6)
    assert ratings["B"] == pytest.approx(998.011513, abs=1e-6)
    assert ratings["C"] == pytest.approx(998.000066, abs=1e-6)
    assert ratings.sum() == pytest.approx(3000.0)


def test_matches_reference_loop_on_mt_bench_human_votes(shared_data: Path) -> None:
    votes = pd.read_csv(shared_data / "mt_bench_human" / "human_judgments.csv")
    ours = online_elo(votes)
    expected = reference_elo(votes)
    assert set(ours.index) == set(expected)
    for model, value in expected.items():
        assert ours[model] == pytest.approx(value, abs=1e-9)


def test_order_matters_and_options_apply(shared_data: Path) -> None:
    votes = pd.read_csv(shared_data / "mt_bench_human" / "human_judgments.csv")
    reversed_votes = votes.iloc[::-1]
    assert not online_elo(reversed_votes).equals(online_elo(votes))
    ours = online_elo(reversed_votes, k=32, scale=173.7, base=2.718281828)
    expected = reference_elo(reversed_votes, k=32, scale=173.7, base=2.718281828)
    assert max(abs(ours[m] - v) for m, v in expected.items()) < 1e-9


def test_init_rating_shifts_everything() -> None:
    frame = pd.DataFrame([("a", "b", "model_a"), ("b", "a", "tie")], columns=["model_a", "model_b", "winner"])
    pd.testing.assert_series_equal(online_elo(frame, init_rating=1500) - 500, online_elo(frame))


def test_bad_winner_is_an_input_error() -> None:
    frame = pd.DataFrame([("a", "b", "draw")], columns=["model_a", "model_b", "winner"])
    with pytest.raises(InputError, match="winner 'draw'"):
        online_elo(frame)
