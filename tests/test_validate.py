"""judge validate: vote agreement (MT-Bench paper), leaderboard agreement (LLMFAO), diagnostics, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judge.battles import normalize_frame
from judge.errors import InputError
from judge.validate.agreement import drop_voters, human_agreement, judge_agreement
from judge.validate.biases import first_position, longer_answer, position_consistency, self_preference
from judge.validate.ranks import brier_score, rank_agreement

GOLDEN = Path(__file__).parent / "golden"


def _frame(
    rows: list[tuple], columns: tuple[str, ...] = ("question_id", "model_a", "model_b", "winner", "judge")
):
    return normalize_frame(pd.DataFrame(rows, columns=list(columns)))


def _mt_bench(shared_data: Path) -> pd.DataFrame:
    return normalize_frame(pd.read_csv(shared_data / "mt_bench_human" / "human_judgments.csv"))


def _llmfao(path: Path, judge: str | None = None) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return normalize_frame(
        pd.DataFrame(
            {
                "question_id": raw["prompt"],
                "model_a": raw["left"],
                "model_b": raw["right"],
                "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
                "judge": raw.get("worker", judge),
            }
        )
    )


# --- vote agreement -----------------------------------------------------------------------------------------


def test_mt_bench_human_agreement_reproduces_the_paper(shared_data: Path) -> None:
    """MT-Bench paper (Zheng et al. 2023), Table 2: human vs human agreement on the first turn is 63% with
    ties (setup S1, random = 33%) and 81% without ties (S2, random = 50%); on the second turn 67% and 82%.

    Matched by counting every pair of votes on the same (question, model pair, turn) from different *expert*
    voters; the authors' votes (judge author_N) are a separate judge in the paper and are left out. With the
    authors included the first turn would give 0.64 / 0.82 instead.
    """
    votes = drop_voters(_mt_bench(shared_data), ["author_*"])
    table = human_agreement(votes, by="turn").to_json()
    assert table["1"]["with_ties"] == {"agree": 454, "total": 721, "rate": pytest.approx(454 / 721)}
    assert table["1"]["without_ties"] == {"agree": 388, "total": 479, "rate": pytest.approx(388 / 479)}
    assert round(table["1"]["with_ties"]["rate"], 2) == 0.63
    assert round(table["1"]["without_ties"]["rate"], 2) == 0.81
    assert round(table["2"]["with_ties"]["rate"], 2) == 0.67
    assert round(table["2"]["without_ties"]["rate"], 2) == 0.82
    assert table["all"]["with_ties"]["total"] == 721 + 707
    with_authors = human_agreement(_mt_bench(shared_data)).to_json()
    assert round(with_authors["1"]["with_ties"]["rate"], 2) == 0.64


def test_pairs_listed_in_opposite_orders_are_matched_and_flipped() -> None:
    human = _frame(
        [("q1", "x", "y", "model_a", "h1"), ("q1", "y", "x", "model_b", "h2"), ("q2", "x", "y", "tie", "h1")]
    )
    judge = _frame([("q1", "y", "x", "model_b", "j"), ("q2", "y", "x", "tie (bothbad)", "j")])
    versus = judge_agreement(human, judge).overall
    assert (versus.with_ties.agree, versus.with_ties.total) == (3, 3)  # any two tie kinds agree
    assert (versus.without_ties.agree, versus.without_ties.total) == (2, 2)
    between = human_agreement(human).overall
    assert (between.with_ties.agree, between.with_ties.total) == (1, 1)


def test_votes_by_the_same_voter_are_not_compared_with_each_other() -> None:
    human = _frame(
        [("q", "x", "y", "model_a", "h1"), ("q", "x", "y", "model_b", "h1"), ("q", "x", "y", "model_a", "h2")]
    )
    row = human_agreement(human).overall
    assert (row.with_ties.agree, row.with_ties.total) == (1, 2)


def test_turns_are_part_of_the_item_and_group_the_table() -> None:
    cols = ("question_id", "model_a", "model_b", "winner", "judge", "turn", "category")
    human = _frame(
        [("q", "x", "y", "model_a", "h", 1, "math"), ("q", "x", "y", "model_b", "h", 2, "math")], cols
    )
    judge = _frame([("q", "x", "y", "model_a", "j", 1, None), ("q", "x", "y", "model_a", "j", 2, None)], cols)
    by_turn = judge_agreement(human, judge, by="turn").to_json()
    assert list(by_turn) == ["1", "2", "all"]
    assert by_turn["1"]["with_ties"]["rate"] == 1.0 and by_turn["2"]["with_ties"]["rate"] == 0.0
    by_category = judge_agreement(human, judge, by="category").to_json()
    assert list(by_category) == ["math", "all"]


def test_an_unknown_winner_is_an_input_error() -> None:
    with pytest.raises(InputError, match="winner 'left'"):
        human_agreement(_frame([("q", "x", "y", "left", "h")]))


# --- leaderboard measures -----------------------------------------------------------------------------------


def _board(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model", "rating", "ci_lower", "ci_upper"])


def test_rank_agreement_counts_separated_pairs_like_arena_hard() -> None:
    human = _board([("a", 1100, 1080, 1120), ("b", 1000, 980, 1020), ("c", 900, 880, 920)])
    judge = _board([("a", 1000, 990, 1010), ("b", 1050, 1040, 1060), ("c", 990, 950, 1045), ("d", 1, 0, 2)])
    rank = rank_agreement(human, judge)
    assert rank.models == 3
    assert rank.separability_human == 1.0
    assert rank.separability_judge == pytest.approx(1 / 3)  # only a-b separate, the wrong way round
    assert rank.agreement_with_ci == pytest.approx((-1 + 0 + 0) / 3)
    assert rank.spearman == pytest.approx(0.5)
    assert rank.kendall == pytest.approx(1 / 3)


def test_brier_leaves_ties_out_and_uses_the_bt_scale() -> None:
    ratings = pd.Series({"a": 1400.0, "b": 1000.0})
    votes = _frame(
        [("q", "a", "b", "model_a", "h"), ("q", "b", "a", "model_a", "h"), ("q", "a", "b", "tie", "h")]
    )
    score, n = brier_score(ratings, votes)
    p = 1 / (1 + 10 ** (-1))  # P(a beats b) at a 400-point gap
    assert n == 2
    assert score == pytest.approx(((p - 1) ** 2 + (p - 0) ** 2) / 2)


# --- diagnostics --------------------------------------------------------------------------------------------


def test_position_consistency_needs_both_orders() -> None:
    judge = _frame(
        [
            ("q1", "x", "y", "model_a", "j"),
            ("q1", "y", "x", "model_b", "j"),  # same pick after the swap
            ("q2", "x", "y", "model_a", "j"),
            ("q2", "y", "x", "model_a", "j"),  # first position both times
        ]
    )
    # Without position columns nothing says which answer was shown first (our logs sort the pair by name).
    assert position_consistency(judge).value is None and "not available" in first_position(judge).note
    judge = judge.assign(first_shown=judge["model_a"])
    consistency = position_consistency(judge)
    assert (consistency.value, consistency.n) == (0.5, 2)
    assert first_position(judge).value == 0.75
    assert position_consistency(judge.iloc[[0, 2]]).value is None


def test_positions_from_per_order_verdicts() -> None:
    judge = _frame([("q1", "x", "y", "model_a", "j"), ("q2", "x", "y", "tie", "j")]).assign(
        verdict_ab=["A>B", "A>B"],
        verdict_ba=["B>>A", "A>B"],  # q1 consistent; q2 picks whoever is first
    )
    consistency = position_consistency(judge)
    assert (consistency.value, consistency.n) == (0.5, 2)
    measured = first_position(judge)
    assert (measured.value, measured.n) == (0.75, 4)


def test_longer_answer_uses_optional_length_columns() -> None:
    judge = _frame(
        [("q1", "x", "y", "model_a", "j"), ("q2", "x", "y", "model_b", "j"), ("q3", "x", "y", "tie", "j")]
    )
    assert longer_answer(judge).value is None
    measured = longer_answer(judge.assign(length_a=[100, 100, 5], length_b=[10, 50, 9]))
    assert (measured.value, measured.n) == (0.5, 2)


def test_self_preference_compares_with_humans_on_the_same_items() -> None:
    judge = _frame([("q1", "gpt-4", "y", "model_a", "gpt-4"), ("q2", "z", "gpt-4", "model_b", "gpt-4")])
    human = _frame([("q1", "gpt-4", "y", "model_b", "h"), ("q2", "gpt-4", "z", "model_a", "h")])
    measured = self_preference(judge, human, None)
    assert measured.value == pytest.approx(1.0 - 0.5)
    assert self_preference(judge.assign(judge="someone"), human, None).value is None
    assert self_preference(judge.assign(judge="someone"), human, "gpt-4").value == pytest.approx(0.5)


# --- LLMFAO: leaderboard agreement, pinned ------------------------------------------------------------------


def _llmfao_report(shared_data: Path, judge: str):
    from judge import api

    folder = shared_data / "llmfao"
    return api.validate(
        [folder / "crowd-comparisons.csv"], [folder / f"{judge}-crowd-comparisons.csv"], bootstrap=100, seed=0
    )


@pytest.mark.parametrize("judge", ["gpt4", "gpt3"])
def test_llmfao_judges_against_the_crowd_match_the_golden_file(shared_data: Path, judge: str) -> None:
    golden = json.loads((GOLDEN / "llmfao_validation.json").read_text(encoding="utf-8"))[judge]
    report = _llmfao_report(shared_data, judge).to_json()
    assert report["agreement"] == golden["agreement"]  # exact counts
    assert report["human_agreement"] == golden["human_agreement"]
    for name, expected in golden["rank"].items():
        # full-data fit: exact; bootstrap-based: within 0.05 (they move by ~0.03 across seeds at 100 rounds)
        tolerance = (
            0.05 if name in ("separability_human", "separability_judge", "agreement_with_ci") else 1e-6
        )
        assert report["rank"][name] == pytest.approx(expected, abs=tolerance), name
    # sanity: both judges order the 59 models broadly like the crowd, and agree with single crowd votes less
    # often than two crowd workers agree with each other
    assert 0.6 < report["rank"]["spearman"] < 0.85
    assert (
        report["agreement"]["all"]["without_ties"]["rate"]
        < report["human_agreement"]["all"]["without_ties"]["rate"]
    )
    assert report["votes"] == golden["votes"]
    # the human baseline on the judge's items (a judge vote and two crowd workers): 2,124 of its 2,139 items
    baseline = report["baseline"]
    for key in ("items", "judge", "human", "standing"):
        assert baseline[key] == golden["baseline"][key], key


# --- CLI ----------------------------------------------------------------------------------------------------


def _write_csv(path: Path, rows: list[tuple]) -> Path:
    pd.DataFrame(rows, columns=["question_id", "model_a", "model_b", "winner", "judge"]).to_csv(
        path, index=False
    )
    return path


def _cli(*args: str):
    from click.testing import CliRunner

    from judge.cli import cli

    return CliRunner().invoke(cli, list(args))


TOP_KEYS = {"format_version", "comparison", "by", "agreement", "human_agreement", "rank", "diagnostics"}
TOP_KEYS |= {"votes", "verdict", "ppi", "intervals", "baseline"}
RANK_KEYS = {"models", "spearman", "kendall", "separability_human", "separability_judge", "agreement_with_ci"}
RANK_KEYS |= {"brier", "brier_votes", "notes"}
HUMAN_ROWS = [
    ("q1", "x", "y", "model_a", "h1"),
    ("q1", "x", "y", "model_a", "h2"),
    ("q2", "y", "z", "model_b", "h1"),
    ("q2", "y", "z", "tie", "h2"),
    ("q3", "x", "z", "model_a", "h1"),
]


def test_cli_json_has_the_documented_shape(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "human.csv", HUMAN_ROWS)
    judge = _write_csv(
        tmp_path / "judge.csv", [("q1", "y", "x", "model_b", "j"), ("q3", "x", "z", "model_b", "j")]
    )
    result = _cli("validate", "--human", str(human), "--judge", str(judge), "--bootstrap", "20", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == TOP_KEYS
    assert report["comparison"] == "judge-human"
    assert report["agreement"]["all"]["with_ties"] == {"agree": 2, "total": 3, "rate": pytest.approx(2 / 3)}
    assert set(report["agreement"]["all"]) == {"with_ties", "without_ties"}
    assert set(report["rank"]) == RANK_KEYS
    assert report["votes"] == {"human": 5, "judge": 2, "matched_items": 2, "baseline_items": 1}
    assert report["baseline"]["items"] == 1 and report["baseline"]["standing"] is None  # too few to compare
    assert report["diagnostics"]["judge"]["longer_answer"]["value"] is None
    assert set(report["ppi"]) == {
        "human_votes",
        "judge_votes",
        "lambda",
        "effective_human_votes",
        "judge_votes_worth",
        "note",
    }
    intervals = report["intervals"]
    assert set(intervals) == {"with_ties", "without_ties", "kappa", "spearman", "kendall"}
    assert intervals["with_ties"]["value"] == pytest.approx(2 / 3)
    low, high = intervals["with_ties"]["lower"], intervals["with_ties"]["upper"]
    assert 0 <= low <= 2 / 3 <= high <= 1


def test_kappa_corrects_agreement_for_chance() -> None:
    from judge.validate.uncertainty import agreement_intervals

    # 4 items: x always says first-model, y agrees on 3 of them: p_o = 3/4 = p_e, so kappa is 0 by
    # construction, which says nothing about x: it is reported as not defined, with the reason.
    pairs = pd.DataFrame(
        {
            "question_id": ["1", "2", "3", "4"],
            "first": "a",
            "second": "b",
            "turn_key": 1,
            "outcome_x": [1, 1, 1, 1],
            "outcome_y": [1, 1, 1, -1],
        }
    )
    out = agreement_intervals(pairs, rounds=200, rng=np.random.default_rng(0))
    assert out["with_ties"].value == pytest.approx(0.75) and out["kappa"].value is None
    assert out["kappa"].note == (
        "not defined: every judge vote picks the first model, which makes kappa 0 by construction"
    )
    # x: +1 +1 -1 -1 against y: +1 -1 -1 -1: p_o = 3/4, p_e = (2*1 + 2*3) / 16 = 1/2, kappa = 1/2
    half = agreement_intervals(
        pairs.assign(outcome_x=[1, 1, -1, -1], outcome_y=[1, -1, -1, -1]),
        rounds=0,
        rng=np.random.default_rng(0),
    )
    assert half["kappa"].value == pytest.approx(0.5) and half["kappa"].lower is None
    perfect = agreement_intervals(
        pairs.assign(outcome_y=[1, 0, -1, 1], outcome_x=[1, 0, -1, 1]),
        rounds=50,
        rng=np.random.default_rng(0),
    )
    assert perfect["kappa"].value == pytest.approx(1.0)
    assert out["with_ties"].lower is not None and out["with_ties"].lower < 0.75 <= out["with_ties"].upper


def test_cli_table_ends_with_the_verdict(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "human.csv", HUMAN_ROWS)
    result = _cli("validate", "--human", str(human))
    assert result.exit_code == 0, result.output
    assert "Human vs human agreement" in result.output
    assert "Humans agree with each other on 50% of 2 vote pairs (100% of 1 without ties)" in result.output


def test_cli_no_overlapping_items_is_exit_2(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "human.csv", HUMAN_ROWS)
    judge = _write_csv(tmp_path / "judge.csv", [("q9", "x", "y", "model_a", "j")])
    result = _cli("validate", "--human", str(human), "--judge", str(judge))
    assert result.exit_code == 2
    assert "judge: error: no item appears in both the human and the judge battle logs" in result.output


def test_cli_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = _cli("validate", "--human", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 2
    assert "nowhere.csv" in result.output and "judge: error:" in result.output


def test_cli_no_second_human_voter_is_exit_2(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "human.csv", [("q1", "x", "y", "model_a", "h1")])
    result = _cli("validate", "--human", str(human))
    assert result.exit_code == 2
    assert "no item has votes from two different human voters" in result.output


def test_cli_bad_answers_file_is_exit_2(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "human.csv", HUMAN_ROWS)
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"question_id": "q1", "model_id": "x", "choices": [{"turns": ["a"]}]}\n{"oops": 1}\n')
    result = _cli("validate", "--human", str(human), "--answers", str(answers))
    assert result.exit_code == 2
    assert f"{answers}:2:" in result.output


# --- through the loaders ------------------------------------------------------------------------------------


def test_api_reads_mt_bench_and_reports_paper_figures_by_turn_and_category(shared_data: Path) -> None:
    from judge import api

    path = shared_data / "mt_bench_human" / "human_judgments.csv"
    report = api.validate([path], exclude_voters=["author_*"])
    table = report.to_json()
    assert report.comparison == "human-human" and table["rank"] is None
    first_turn = table["agreement"]["1"]
    assert (first_turn["with_ties"]["total"], round(first_turn["with_ties"]["rate"], 2)) == (721, 0.63)
    assert (first_turn["without_ties"]["total"], round(first_turn["without_ties"]["rate"], 2)) == (479, 0.81)
    by_category = api.validate([path], exclude_voters=["author_*"], by="category").to_json()["agreement"]
    assert len(by_category) == 9  # eight MT-Bench categories, then all
    assert by_category["all"] == table["agreement"]["all"]


def test_answers_give_the_longer_answer_preference(shared_data: Path) -> None:
    from judge import api

    answers = sorted((shared_data / "mt_bench" / "model_answer").glob("*.jsonl"))
    human = shared_data / "mt_bench_human" / "human_judgments.csv"
    report = api.validate([human], exclude_voters=["author_*"], answers=answers)
    longer = report.human_diagnostics.longer_answer
    assert longer.n > 2000
    assert 0.6 < longer.value < 0.8  # the experts favour the longer of two answers (0.69 of 2,079 votes)


def test_no_bootstrap_means_no_separability(tmp_path: Path) -> None:
    from judge import api

    human = _write_csv(tmp_path / "human.csv", HUMAN_ROWS)
    judge = _write_csv(
        tmp_path / "judge.csv", [("q1", "y", "x", "model_b", "j"), ("q3", "x", "z", "model_b", "j")]
    )
    rank = api.validate([human], [judge], bootstrap=0).rank
    assert rank is not None
    assert rank.separability_human is None and rank.agreement_with_ci is None
    assert rank.spearman is not None


def test_thin_overlap_warns_and_gives_no_verdict(tmp_path: Path) -> None:
    from judge.validate import MIN_MATCHED_ITEMS

    human = _write_csv(tmp_path / "human.csv", HUMAN_ROWS)
    judge = _write_csv(
        tmp_path / "judge.csv", [("q1", "y", "x", "model_b", "j"), ("q3", "x", "z", "model_b", "j")]
    )
    result = _cli("validate", "--human", str(human), "--judge", str(judge), "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    assert f"judge: warning: only 2 items in both logs (minimum {MIN_MATCHED_ITEMS}" in result.stderr
    assert "too thin to say" in result.stdout and "So the judge agrees" not in result.stdout
