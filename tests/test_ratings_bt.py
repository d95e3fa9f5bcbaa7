"""Bradley-Terry fits: golden numbers on real data, closed forms, tie models, degenerate input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from judge.errors import InputError
from judge.ratings import DEFAULT_PRIOR, fit_bt

GOLDEN = Path(__file__).parent / "golden" / "evalica_llmfao_bradley_terry.csv"


def battles(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def llmfao(shared_data: Path) -> pd.DataFrame:
    raw = pd.read_csv(shared_data / "llmfao" / "crowd-comparisons.csv")
    winner = raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"})
    assert winner.notna().all()
    return pd.DataFrame(
        {
            "question_id": raw["prompt"].astype(str),
            "model_a": raw["left"],
            "model_b": raw["right"],
            "winner": winner,
        }
    )


def test_llmfao_matches_evalica_golden(shared_data: Path) -> None:
    golden = pd.read_csv(GOLDEN).set_index("item")["score"]
    fit = fit_bt(llmfao(shared_data), prior=0)
    assert set(fit.models) == set(golden.index)
    expected = 400 * np.log10(golden.reindex(fit.ratings.index))
    diff = (fit.ratings - fit.ratings.mean()) - (expected - expected.mean())
    assert diff.abs().max() < 0.01


def test_golden_copy_matches_shared_data(shared_data: Path) -> None:
    shared = pd.read_csv(shared_data / "llmfao" / "evalica_llmfao-golden.csv")
    shared = shared[shared["algorithm"] == "bradley_terry"].set_index("item")["score"]
    ours = pd.read_csv(GOLDEN).set_index("item")["score"]
    pd.testing.assert_series_equal(ours.sort_index(), shared.sort_index())


def test_default_prior_moves_real_ratings_by_a_fraction_of_an_elo(shared_data: Path) -> None:
    data = llmfao(shared_data)
    gap = (fit_bt(data).ratings - fit_bt(data, prior=0).ratings).abs().max()
    assert gap < 0.5  # 8,931 battles over 59 models, about 300 per model


@pytest.mark.parametrize(("wins", "losses", "ties"), [(3, 1, 0), (7, 2, 5), (1, 4, 2)])
def test_two_models_closed_form(wins: int, losses: int, ties: int) -> None:
    rows = [("a", "b", "model_a")] * wins + [("b", "a", "model_a")] * losses + [("a", "b", "tie")] * ties
    fit = fit_bt(battles(rows), prior=0)
    expected = 400 * math.log10((wins + ties / 2) / (losses + ties / 2))
    assert fit.ratings["a"] - fit.ratings["b"] == pytest.approx(expected, abs=1e-9)
    assert fit.ratings.mean() == pytest.approx(1000.0)
    assert fit.tie_param is None


def test_scale_base_and_anchor() -> None:
    rows = (
        [("a", "b", "model_a")] * 3
        + [("a", "b", "model_b")]
        + [("b", "c", "model_a")] * 2
        + [("c", "b", "model_a")]
    )
    plain = fit_bt(battles(rows), prior=0)
    pinned = fit_bt(battles(rows), prior=0, anchor=("b", 1114.0))
    assert pinned.ratings["b"] == pytest.approx(1114.0)
    pd.testing.assert_series_equal(pinned.ratings - pinned.ratings["b"], plain.ratings - plain.ratings["b"])
    natural = fit_bt(battles(rows), prior=0, scale=1.0, base=math.e, init_rating=0.0)
    assert natural.ratings.mean() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(natural.ratings * 400 / math.log(10), plain.ratings - 1000, atol=1e-9)


def _generic_tie_fit(data: pd.DataFrame, ties: str, prior: float) -> tuple[np.ndarray, float]:
    """The same penalised likelihood written per battle and handed to a general optimiser."""
    models = sorted(set(data["model_a"]) | set(data["model_b"]))
    index = {m: k for k, m in enumerate(models)}
    a = data["model_a"].map(index).to_numpy()
    b = data["model_b"].map(index).to_numpy()
    w = data["winner"].to_numpy()
    n = len(models)

    def nll(x: np.ndarray) -> float:
        theta, k = x[:n], x[n]
        d = theta[a] - theta[b]
        if ties == "davidson":
            pa, pb, pt = np.exp(d / 2), np.exp(-d / 2), np.exp(k)
            p = np.where(w == "model_a", pa, np.where(w == "model_b", pb, pt)) / (pa + pb + pt)
        else:
            pa, pb = expit(d - k), expit(-d - k)
            p = np.where(w == "model_a", pa, np.where(w == "model_b", pb, 1 - pa - pb))
        return float(-np.log(p).sum() + prior / 2 * (theta @ theta + k * k))

    bounds = [(None, None)] * n + [(None, None) if ties == "davidson" else (1e-6, None)]
    res = minimize(nll, np.r_[np.zeros(n), 0.5], method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15})
    theta = res.x[:n]
    return 1000 + 400 / math.log(10) * (theta - theta.mean()), float(np.exp(res.x[n]))


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_tie_models_match_a_generic_optimiser(ties: str) -> None:
    rng = np.random.default_rng(3)
    names = np.array(["m0", "m1", "m2", "m3", "m4"])
    a = rng.integers(0, 5, 400)
    b = (a + rng.integers(1, 5, 400)) % 5
    winner = rng.choice(["model_a", "model_b", "tie"], 400, p=[0.45, 0.3, 0.25])
    data = pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})
    fit = fit_bt(data, ties=ties)  # type: ignore[arg-type]
    expected, tie_param = _generic_tie_fit(data, ties, DEFAULT_PRIOR)
    np.testing.assert_allclose(fit.ratings.to_numpy(), expected, atol=0.05)
    assert fit.tie_param == pytest.approx(tie_param, rel=1e-4)


def test_tie_model_without_ties_is_plain_bradley_terry() -> None:
    rows = [("a", "b", "model_a"), ("b", "a", "model_a"), ("a", "b", "model_a"), ("c", "a", "model_b")]
    half = fit_bt(battles(rows))
    for ties, boundary in (("davidson", 0.0), ("rao-kupper", 1.0)):
        fit = fit_bt(battles(rows), ties=ties)  # type: ignore[arg-type]
        assert fit.tie_param == boundary
        pd.testing.assert_series_equal(fit.ratings, half.ratings)


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_tie_model_on_a_log_of_only_ties(ties: str) -> None:
    only_ties = battles([("a", "b", "tie"), ("b", "c", "tie (bothbad)")])
    fit = fit_bt(only_ties, ties=ties)  # type: ignore[arg-type]
    np.testing.assert_allclose(fit.ratings.to_numpy(), 1000.0)
    assert fit.tie_param is not None and np.isfinite(fit.tie_param)
    with pytest.raises(InputError, match="every battle is a tie"):
        fit_bt(only_ties, ties=ties, prior=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rows",
    [
        [("a", "b", "model_a")],  # one battle: a never lost
        [("a", "b", "model_a"), ("c", "d", "model_b")],  # two disconnected components
        [("a", "b", "model_a"), ("b", "a", "model_b"), ("a", "c", "tie"), ("a", "d", "model_a")],  # d once
    ],
)
def test_degenerate_logs_get_finite_ratings_with_the_prior(rows: list[tuple[str, str, str]]) -> None:
    fit = fit_bt(battles(rows))
    assert np.isfinite(fit.ratings).all()
    assert fit.ratings.mean() == pytest.approx(1000.0)
    for ties in ("davidson", "rao-kupper"):
        assert np.isfinite(fit_bt(battles(rows), ties=ties).ratings).all()  # type: ignore[arg-type]


def test_undefeated_model_stays_finite_and_on_top() -> None:
    rows = [("a", "b", "model_a")] * 20 + [("b", "c", "model_a"), ("c", "b", "model_a")]
    fit = fit_bt(battles(rows))
    assert fit.ratings.idxmax() == "a"
    assert np.isfinite(fit.ratings["a"])


def test_plain_mle_refuses_when_it_does_not_exist() -> None:
    with pytest.raises(InputError, match="prior=0") as info:
        fit_bt(battles([("a", "b", "model_a"), ("b", "c", "tie")]), prior=0)
    assert info.value.hint is not None and "prior" in info.value.hint


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (battles([]), "empty"),
        (pd.DataFrame({"model_a": ["a"], "model_b": ["b"]}), "lacks column"),
        (battles([("a", "b", "model_a"), ("a", "b", "left")]), "battle 1: winner 'left'"),
        (battles([("a", "a", "model_a")]), "plays against itself"),
        (battles([("a", None, "model_a")]), "model_b is missing"),  # type: ignore[list-item]
    ],
)
def test_unusable_input_is_an_input_error(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        fit_bt(frame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"anchor": ("zeta", 1000.0)}, "anchor model 'zeta'"),
        ({"ties": "draw"}, "unknown tie model"),
        ({"prior": -1.0}, "prior"),
    ],
)
def test_bad_options_are_input_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        fit_bt(battles([("a", "b", "model_a"), ("b", "a", "model_a")]), **kwargs)  # type: ignore[arg-type]


def test_fit_accepts_the_full_battle_frame() -> None:
    from judge.battles import Battle, to_frame

    frame = to_frame(
        [
            Battle("q1", "a", "b", "model_a", judge="j", source="judge"),
            Battle("q1", "b", "c", "tie (bothbad)", judge="j", source="judge"),
            Battle("q2", "c", "a", "model_b", judge="j", source="judge"),
        ]
    )
    fit = fit_bt(frame)
    assert fit.models == ("a", "b", "c")
    assert fit.ratings.index.name == "model"
