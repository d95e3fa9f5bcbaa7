"""Style control: Chatbot Arena's reference numbers, a simulated judge with a known length bias, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judge.errors import InputError
from judge.ratings import fit_bt
from judge.ratings import style as style_module
from judge.ratings.style import bootstrap_style, fit_style, poisson_minus_one

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def reference_battles() -> pd.DataFrame:
    return pd.read_json(GOLDEN / "style_control_battles.jsonl.gz", lines=True)


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, float]]:
    data: dict[str, dict[str, float]] = json.loads((GOLDEN / "style_control_reference.json").read_text())
    return data


def centred(values: pd.Series | dict[str, float]) -> pd.Series:
    series = pd.Series(values, dtype=float)
    return series - series.mean()


def test_matches_fastchat_compute_style_control(reference_battles, reference) -> None:
    fit = fit_style(reference_battles)
    ours, theirs = centred(fit.ratings), centred(reference["style_controlled"])
    assert (ours - theirs.reindex(ours.index)).abs().max() < 0.5
    coefficients = pd.Series(reference["coefficients"])
    assert (fit.coefficients - coefficients.reindex(fit.coefficients.index)).abs().max() < 0.005


def test_plain_bt_matches_fastchat_compute_bt(reference_battles, reference) -> None:
    ours = centred(fit_bt(reference_battles).ratings)
    theirs = centred(reference["plain_bt"])
    assert (ours - theirs.reindex(ours.index)).abs().max() < 0.5


def test_swapping_sides_changes_nothing(reference_battles) -> None:
    frame = reference_battles.iloc[:3000]
    swapped = frame.rename(
        columns={
            "model_a": "model_b",
            "model_b": "model_a",
            **{f"{f}_a": f"{f}_b" for f in ("tokens", "headers", "lists", "bold")},
            **{f"{f}_b": f"{f}_a" for f in ("tokens", "headers", "lists", "bold")},
        }
    )
    swapped["winner"] = frame["winner"].map({"model_a": "model_b", "model_b": "model_a", "tie": "tie"})
    one, two = fit_style(frame), fit_style(swapped)
    assert np.allclose(one.ratings, two.ratings, atol=1e-6)
    assert np.allclose(one.coefficients, two.coefficients, atol=1e-9)


def simulated_judge(seed: int, length_beta: float) -> pd.DataFrame:
    """Judge-shaped log: every pair on the same questions, two turns, a question effect on answer lengths,
    and a judge that prefers the longer answer by length_beta (on the standardised feature)."""
    rng = np.random.default_rng(seed)
    models = [f"m{k}" for k in range(6)]
    strength = np.linspace(-0.8, 0.8, len(models))
    verbosity = rng.lognormal(5.5, 0.3, len(models))
    rows = []
    for q in range(80):
        hardness = rng.lognormal(0.0, 0.4)
        for turn in (1, 2):
            for i in range(len(models)):
                for j in range(i + 1, len(models)):
                    t_i, t_j = rng.poisson(verbosity[[i, j]] * hardness * rng.lognormal(0, 0.3, 2))
                    rows.append((f"q{q}", turn, models[i], models[j], t_i, t_j, hardness))
    columns = ["question_id", "turn", "model_a", "model_b", "tokens_a", "tokens_b", "hardness"]
    frame = pd.DataFrame(rows, columns=columns)
    ratio = (frame.tokens_a - frame.tokens_b) / (frame.tokens_a + frame.tokens_b + 1)
    index = {m: k for k, m in enumerate(models)}
    logit = (
        strength[frame.model_a.map(index)]
        - strength[frame.model_b.map(index)]
        + length_beta * (ratio - ratio.mean()) / ratio.std()
    )
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    frame["winner"] = np.where(rng.random(len(frame)) < p, "model_a", "model_b")
    return frame


def test_recovers_a_simulated_judges_length_preference() -> None:
    truth = 0.6
    battles = simulated_judge(3, truth)
    fit = fit_style(battles, features=["length"])
    reps = bootstrap_style(battles, fit, rounds=300, rng=np.random.default_rng(0), cluster="question")
    lower, upper = np.quantile(reps.coefficients[:, 0], [0.025, 0.975])
    assert lower <= truth <= upper
    assert lower > 0.3  # and the preference is detected, not merely compatible
    assert fit.elo_for_double("length") > 0


def test_no_length_preference_gives_an_interval_around_zero() -> None:
    battles = simulated_judge(5, 0.0)
    fit = fit_style(battles, features=["length"])
    reps = bootstrap_style(battles, fit, rounds=300, rng=np.random.default_rng(0), cluster="question")
    lower, upper = np.quantile(reps.coefficients[:, 0], [0.025, 0.975])
    assert lower <= 0.0 <= upper


def test_large_log_limit_agrees_with_resampling(reference_battles, monkeypatch) -> None:
    fit = fit_style(reference_battles)
    exact = bootstrap_style(reference_battles, fit, rounds=200, rng=np.random.default_rng(1))
    assert exact.exact
    monkeypatch.setattr(style_module, "_EXACT_CELLS", 0)
    limit = bootstrap_style(reference_battles, fit, rounds=2000, rng=np.random.default_rng(1))
    assert not limit.exact
    ratio = limit.ratings.std(axis=0) / exact.ratings.std(axis=0)
    assert np.all((ratio > 0.8) & (ratio < 1.25))
    assert np.allclose(limit.coefficients.mean(axis=0), fit.coefficients, atol=0.003)


def test_bootstrap_is_reproducible_and_thread_independent(reference_battles) -> None:
    frame = reference_battles.iloc[:4000]
    fit = fit_style(frame)
    one = bootstrap_style(frame, fit, rounds=120, rng=np.random.default_rng(9), workers=1)
    two = bootstrap_style(frame, fit, rounds=120, rng=np.random.default_rng(9), workers=2)
    assert np.array_equal(one.ratings, two.ratings)


def test_poisson_weights_have_poisson_moments() -> None:
    w = poisson_minus_one(np.random.default_rng(0), (4, 250_000)).astype(np.float64) + 1
    assert set(np.unique(w)) <= set(range(20))
    assert abs(w.mean() - 1) < 0.005 and abs(w.var() - 1) < 0.01
    assert abs((w == 0).mean() - np.exp(-1)) < 0.003
    assert abs((w == 3).mean() - np.exp(-1) / 6) < 0.002


def test_missing_feature_is_a_clear_error_unless_not_asked_for(reference_battles) -> None:
    frame = reference_battles.iloc[:2000].copy()
    frame["bold_a"] = frame["bold_a"].astype("Float64")
    frame.loc[frame.index[:7], "bold_a"] = pd.NA
    with pytest.raises(InputError, match="7 of 2000 battles lack bold"):
        fit_style(frame)
    assert fit_style(frame, features=["length"]).rows.features == ("length",)
    with pytest.raises(InputError, match="lacks column"):
        fit_style(frame.drop(columns=["tokens_b"]))


def test_constant_feature_and_unknown_feature_are_errors(reference_battles) -> None:
    frame = reference_battles.iloc[:2000].copy()
    frame["bold_a"] = 0
    frame["bold_b"] = 0
    with pytest.raises(InputError, match="bold is the same in every battle"):
        fit_style(frame)
    with pytest.raises(InputError, match="unknown style feature 'emoji'"):
        fit_style(frame, features=["emoji"])
