"""Prediction-powered ratings: the limiting cases (perfect and useless judge), a case worked by hand,
invariance to input order, and the errors for logs that can not be combined."""

from __future__ import annotations

import json
import math
import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from judge.battles import normalize_frame
from judge.cli import cli
from judge.errors import InputError
from judge.ratings import fit_bt
from judge.ratings.ppi import match_samples, ppi_leaderboard, rank_sets

FACTOR = 400 / math.log(10)


def frame(rows: list[tuple[str, str, str, str]], turn: int = 1) -> pd.DataFrame:
    """(question_id, model_a, model_b, winner) rows as a battle frame."""
    out = pd.DataFrame(rows, columns=["question_id", "model_a", "model_b", "winner"])
    out["turn"] = turn
    return normalize_frame(out)


def synthetic(
    rng: np.random.Generator, *, questions: int, human_share: float, agree: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every pair of four models on every question; humans vote on a share of the items, the judge on all,
    copying the human vote (or, where none, a fresh draw) with probability `agree`, else voting at random."""
    strength = {"a": 0.8, "b": 0.3, "c": 0.0, "d": -0.6}
    human, judge = [], []
    for q in range(questions):
        for x, y in combinations(strength, 2):
            p = 1 / (1 + math.exp(strength[y] - strength[x]))
            truth = "model_a" if rng.random() < p else "model_b"
            if rng.random() < human_share:
                human.append((str(q), x, y, truth))
            vote = truth if rng.random() < agree else str(rng.choice(["model_a", "model_b", "tie"]))
            judge.append((str(q), x, y, vote))
    return frame(human), frame(judge)


def test_perfect_judge_gives_the_pooled_fit() -> None:
    human, judge = synthetic(np.random.default_rng(1), questions=60, human_share=0.3, agree=1.0)
    n_votes, n_items = len(human), len(judge)
    pooled = fit_bt(pd.concat([human, judge], ignore_index=True), prior=0.0).ratings
    lam = n_items / (n_items + n_votes)
    result = ppi_leaderboard(human, judge, lam=lam, prior=0.0)
    ppi = result.board.set_index("model")["rating"]
    np.testing.assert_allclose(ppi[pooled.index], pooled, atol=1e-6)
    tuned = ppi_leaderboard(human, judge, prior=0.0)
    assert tuned.fit.lam == pytest.approx(lam, abs=0.1)
    assert tuned.summary()["effective_human_votes"] > 2 * n_votes


def test_judge_that_contradicts_the_humans_gets_lambda_zero() -> None:
    human, _ = synthetic(np.random.default_rng(2), questions=60, human_share=0.5, agree=1.0)
    flip = {"model_a": "model_b", "model_b": "model_a"}
    judge = human.assign(winner=human["winner"].map(flip).astype("string"))
    result = ppi_leaderboard(human, judge)
    assert result.fit.lam == 0.0
    alone = fit_bt(human).ratings
    ppi = result.board.set_index("model")["rating"]
    np.testing.assert_allclose(ppi[alone.index], alone, atol=1e-9)
    assert result.summary()["effective_human_votes"] == pytest.approx(len(human))


def test_random_judge_gets_lambda_near_zero() -> None:
    human, judge = synthetic(np.random.default_rng(3), questions=150, human_share=0.5, agree=0.0)
    result = ppi_leaderboard(human, judge)
    assert result.fit.lam < 0.1
    alone = fit_bt(human).ratings
    ppi = result.board.set_index("model")["rating"]
    assert np.abs(ppi[alone.index] - alone).max() < 25


def two_models() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Humans: A, A, A, B on questions 1-4. Judge: A on those four, then A, A, B, B on questions 5-8."""
    human = frame([(str(q), "A", "B", w) for q, w in zip(range(1, 5), "aaab", strict=True)])
    judge = frame([(str(q), "A", "B", w) for q, w in zip(range(1, 9), "aaaaaabb", strict=True)])
    for f in (human, judge):
        f["winner"] = f["winner"].map({"a": "model_a", "b": "model_b"}).astype("string")
    return human, judge


def test_two_models_worked_by_hand() -> None:
    human, judge = two_models()
    result = ppi_leaderboard(human, judge, lam=0.5, prior=0.0)
    # Objective counts for A over B: wins 3 - 0.5 * 4 + 0.5 * (4 / 8) * 6 = 2.5 out of 4 - 2 + 0.25 * 8 = 4.
    p = 2.5 / 4
    gap = FACTOR * math.log(p / (1 - p))
    board = result.board.set_index("model")
    assert board.loc["A", "rating"] == pytest.approx(1000 + gap / 2, abs=1e-6)
    assert board.loc["B", "rating"] == pytest.approx(1000 - gap / 2, abs=1e-6)
    # Scores at p: a human A-win scores 1 - p, a B-win -p; the judge predicts A on all four human items.
    u = [(1 - p) - 0.5 * (1 - p)] * 3 + [-p - 0.5 * (1 - p)]
    human_meat = sum((x - np.mean(u)) ** 2 for x in u) * 4 / 3
    # HC3: each human item has leverage (1 - 0.5) * p (1 - p) / (4 p (1 - p)) = 1/8, so its score counts 8/7.
    human_meat *= (8 / 7) ** 2
    t = [1 - p] * 6 + [-p] * 2
    judge_meat = sum((x - np.mean(t)) ** 2 for x in t) * 8 / 7
    meat = human_meat + 0.5**2 * (4 / 8) ** 2 * judge_meat
    var_gap = meat / (4 * p * (1 - p)) ** 2
    sd = FACTOR * math.sqrt(var_gap) / 2
    z = 1.959963984540054
    assert board.loc["A", "ci_upper"] - board.loc["A", "rating"] == pytest.approx(z * sd, rel=1e-6)
    assert result.summary() == {
        "lambda": 0.5,
        "human_items": 4,
        "human_votes": 4,
        "judge_items": 8,
        "paired_items": 4,
        "effective_human_votes": pytest.approx(result.fit.effective_human_votes),
    }
    # Tuned: at the lambda = 1 fit the judge's votes on the human items never vary, so they can not
    # track the humans' noise: lambda = 0.
    assert ppi_leaderboard(human, judge, prior=0.0).fit.lam == 0.0


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_file_order_and_sides_do_not_matter(ci: str) -> None:
    human, judge = synthetic(np.random.default_rng(4), questions=40, human_share=0.4, agree=0.7)
    first = ppi_leaderboard(human, judge, ci=ci, bootstrap=200)  # type: ignore[arg-type]
    rng = np.random.default_rng(5)

    def shuffled(f: pd.DataFrame) -> pd.DataFrame:
        f = f.iloc[rng.permutation(len(f))].reset_index(drop=True)
        swap = rng.random(len(f)) < 0.5
        flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
        a, b = f["model_a"].copy(), f["model_b"].copy()
        f.loc[swap, "model_a"], f.loc[swap, "model_b"] = b[swap], a[swap]
        f.loc[swap, "winner"] = f.loc[swap, "winner"].map(flip)
        return f

    halves = [judge.iloc[: len(judge) // 2], judge.iloc[len(judge) // 2 :]]
    second = ppi_leaderboard(
        shuffled(human),
        shuffled(pd.concat(halves[::-1])),
        ci=ci,
        bootstrap=200,  # type: ignore[arg-type]
    )
    pd.testing.assert_frame_equal(first.board, second.board, atol=1e-9)
    assert first.summary() == second.summary()


def test_bootstrap_and_sandwich_intervals_agree() -> None:
    human, judge = synthetic(np.random.default_rng(6), questions=200, human_share=0.3, agree=0.8)
    sandwich = ppi_leaderboard(human, judge).board.set_index("model")
    boot = ppi_leaderboard(human, judge, ci="bootstrap", bootstrap=400).board.set_index("model")
    width_s = sandwich["ci_upper"] - sandwich["ci_lower"]
    width_b = boot["ci_upper"] - boot["ci_lower"]
    np.testing.assert_allclose(width_b, width_s, rtol=0.25)
    assert 0.3 < ppi_leaderboard(human, judge).fit.lam <= 1.0


def test_rank_sets_follow_the_ellipsoid() -> None:
    rating = np.array([1100.0, 1090.0, 900.0])
    cov = np.diag([25.0, 25.0, 25.0])
    lower, upper = rank_sets(rating, cov, 0.95)
    assert lower.tolist() == [1, 1, 3]
    assert upper.tolist() == [2, 2, 3]
    board = ppi_leaderboard(
        *synthetic(np.random.default_rng(7), questions=50, human_share=0.5, agree=0.8)
    ).board
    assert (board["rank_lower"] <= board["rank"]).all()
    assert (board["rank_lower"] <= board["rank_upper"]).all()


def test_no_shared_items_is_an_error() -> None:
    human, judge = two_models()
    judge = judge.assign(question_id=judge["question_id"] + "x")
    with pytest.raises(InputError, match="share no item"):
        match_samples(human, judge)
    with pytest.raises(InputError, match="share no item"):
        match_samples(human, judge.assign(question_id=human["question_id"].iloc[0], turn=2))


def test_judge_models_the_humans_never_saw_are_named() -> None:
    human, judge = two_models()
    extra = frame([("1", "A", "C", "model_a"), ("2", "D", "B", "tie")])
    with pytest.raises(InputError, match="2 model.*never voted on: C, D"):
        match_samples(human, pd.concat([judge, extra], ignore_index=True))


def test_question_clusters_widen_nothing_when_questions_are_items() -> None:
    human, judge = two_models()
    item = ppi_leaderboard(human, judge, lam=0.5)
    question = ppi_leaderboard(human, judge, lam=0.5, cluster="question")
    pd.testing.assert_frame_equal(item.board, question.board)


def test_validate_says_what_the_judge_votes_are_worth(tmp_path: Path) -> None:
    human, judge = synthetic(np.random.default_rng(8), questions=80, human_share=0.3, agree=0.9)
    human.to_csv(tmp_path / "human.csv", index=False)
    judge.to_csv(tmp_path / "judge.csv", index=False)
    args = ["validate", "--human", str(tmp_path / "human.csv"), "--judge", str(tmp_path / "judge.csv")]
    result = CliRunner().invoke(cli, [*args, "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps long lines
    worth = re.search(r"these ([\d,]+) judge votes are worth about ([\d,]+) human votes", text)
    assert worth is not None, result.output
    assert int(worth.group(1).replace(",", "")) == len(judge)
    assert int(worth.group(2).replace(",", "")) > len(human)
    report = json.loads(CliRunner().invoke(cli, [*args, "--bootstrap", "20", "--json"]).output)
    assert report["ppi"]["lambda"] > 0.3


def test_rate_ppi_command(tmp_path: Path) -> None:
    human, judge = synthetic(np.random.default_rng(9), questions=40, human_share=0.3, agree=0.8)
    human.to_csv(tmp_path / "human.csv", index=False)
    half = len(judge) // 2
    judge.iloc[:half].to_csv(tmp_path / "judge1.csv", index=False)
    judge.iloc[half:].to_csv(tmp_path / "judge2.csv", index=False)
    args = ["rate", "--ppi", "--human", str(tmp_path / "human.csv")]
    args += ["--judge", str(tmp_path / "judge1.csv"), "--judge", str(tmp_path / "judge2.csv")]
    result = CliRunner().invoke(cli, [*args, "--json", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["method"] == "ppi" and out["bootstrap"] == 0 and out["ppi"]["ci"] == "sandwich"
    boot = json.loads(
        CliRunner().invoke(cli, [*args, "--json", "--bootstrap", "50", "--ci", "bootstrap"]).stdout
    )
    assert boot["bootstrap"] == 50 and boot["ppi"]["ci"] == "bootstrap"
    assert set(out["ppi"]) >= {
        "lambda",
        "human_items",
        "judge_items",
        "paired_items",
        "effective_human_votes",
    }
    assert out["ppi"]["judge_items"] == len(judge)
    assert sorted(m["model"] for m in out["models"]) == ["a", "b", "c", "d"]
    assert all(m["rank_set"][0] <= m["rank"] <= m["rank_set"][1] for m in out["models"])
    table = CliRunner().invoke(cli, [*args, "--ci", "sandwich"])
    assert table.exit_code == 0 and "rank set" in table.stdout and "human votes alone" in table.stdout
    unseen = tmp_path / "unseen.csv"
    frame([("1", "a", "zz", "model_a")]).to_csv(unseen, index=False)
    bad = CliRunner().invoke(cli, [*args, "--judge", str(unseen)])
    assert bad.exit_code == 2 and "never voted on: zz" in bad.output
    assert CliRunner().invoke(cli, ["rate", "--human", str(tmp_path / "human.csv")]).exit_code == 2


def test_llmfao_crowd_with_the_gpt4_judge(shared_data: Path) -> None:
    """Real votes: 500 crowd votes plus a judge's votes on the crowd's items (GPT-4, then GPT-3.5).

    The crowd is noisy (39% ties), so a judge can predict little of a single vote: lambda stays small and
    the judge is worth tens of human votes, not hundreds (docs/design/ppi.md)."""
    from judge.battles import load_battles

    crowd = load_battles(shared_data / "llmfao" / "crowd-comparisons.csv").frame
    keep = np.random.default_rng(0).choice(len(crowd), size=500, replace=False)
    human = crowd.iloc[np.sort(keep)].reset_index(drop=True)
    models = set(human["model_a"]) | set(human["model_b"])
    for name in ("gpt4-crowd-comparisons.csv", "gpt3-crowd-comparisons.csv"):
        judge = load_battles(shared_data / "llmfao" / name).frame
        judge = judge[(judge["model_a"].isin(models) & judge["model_b"].isin(models)).to_numpy(dtype=bool)]
        result = ppi_leaderboard(human, judge.reset_index(drop=True))
        s = result.summary()
        assert s["human_votes"] == 500 and s["judge_items"] == len(judge)
        assert (result.board["ci_lower"] < result.board["rating"]).all()
        assert 0 < s["lambda"] < 0.5
        assert 450 < s["effective_human_votes"] < 1000
