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


# --- the human baseline on the judge's own items ------------------------------------------------------------


def _many(n: int, start: int = 0, **kw: str) -> list[tuple]:
    """n items (questions) between x and y; kw: voter -> winner, the same on every item."""
    return [(f"q{start + i}", "x", "y", winner, voter) for i in range(n) for voter, winner in kw.items()]


def test_baseline_uses_the_judges_items_and_shows_all_votes_beside() -> None:
    from judge.validate import validate_battles

    # 40 items the judge shares with two agreeing humans, 10 judge items with one human, and 40 items
    # without the judge on which the two humans always disagree: the all-votes baseline is 0.5, the
    # baseline on the judge's items 1.0.
    human = _frame(
        _many(40, h1="model_a", h2="model_a")
        + _many(10, start=40, h1="model_b")
        + _many(40, start=100, h1="model_a", h2="model_b")
    )
    judge = _frame(_many(50, j="model_a"))
    report = validate_battles(human, judge, bootstrap=50)
    out = report.to_json()
    assert out["votes"]["matched_items"] == 50 and out["votes"]["baseline_items"] == 40
    assert out["human_agreement"]["all"]["with_ties"] == {"agree": 40, "total": 80, "rate": 0.5}
    baseline = out["baseline"]
    assert baseline["human"]["all"]["with_ties"] == {"agree": 40, "total": 40, "rate": 1.0}
    assert baseline["judge"]["all"]["with_ties"] == {"agree": 80, "total": 80, "rate": 1.0}
    assert out["agreement"]["all"]["with_ties"]["total"] == 90  # 80 + the 10 single-voter items
    assert baseline["standing"] == {"with_ties": "within", "without_ties": "within"}
    assert "On the 40 of these items that also have two human voters" in report.verdict
    assert "over all their votes humans agree with each other on 50%" in report.verdict
    assert "about as often as humans agree with each other" in report.verdict


def test_the_table_labels_both_human_baselines(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "h.csv", _many(40, h1="model_a", h2="model_a") + _many(5, 40, h1="tie"))
    judge = _write_csv(tmp_path / "j.csv", _many(45, j="model_a"))
    result = _cli("validate", "--human", str(human), "--judge", str(judge), "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "humans" in out and "same items" in out and "all votes" in out
    assert "the 40 items where the judge and two or more humans voted" in " ".join(out.split())
    assert "On the 40 items with two or more human voters the judge agrees" in out
    assert result.stderr == ""


# --- degenerate inputs: no warnings, no contradictions ------------------------------------------------------

DEGENERATE = {
    "all ties": (_many(40, h1="tie", h2="tie"), _many(40, j="tie")),
    "one pair decided alike": (_many(40, h1="model_a", h2="model_a"), _many(40, j="model_a")),
    "judge always first": (
        [
            (f"q{i}", a, b, w, h)
            for i in range(15)
            for a, b in (("a", "b"), ("a", "c"), ("b", "c"))
            for h, w in (("h1", "tie"), ("h2", "tie"))
        ],
        [(f"q{i}", a, b, "model_a", "j") for i in range(15) for a, b in (("a", "b"), ("a", "c"), ("b", "c"))],
    ),
    "one item": (
        [("q0", "x", "y", "model_a", "h1"), ("q0", "x", "y", "model_b", "h2")],
        _many(1, j="model_a"),
    ),
    "no second human": (_many(40, h1="model_b"), _many(40, j="model_a")),
    "no ties anywhere": (
        [(f"q{i}", "x", "y", ("model_a", "model_b")[i % 2], h) for i in range(40) for h in ("h1", "h2")],
        [(f"q{i}", "x", "y", ("model_a", "model_b")[i % 3 == 0], "j") for i in range(40)],
    ),
}


def _consistent(report: dict) -> None:
    """Every cell agrees with the others: see docs/validate.md, "Consistency"."""

    def having(node: object, keys: set[str]) -> list[dict]:
        """Every object in the report (at any depth) that has all of `keys`."""
        if isinstance(node, dict):
            found = [node] if keys <= set(node) else []
            return found + [n for v in node.values() for n in having(v, keys)]
        return []

    for figure in having(report, {"value", "lower", "upper"}):
        if figure["lower"] is not None:
            assert figure["value"] is not None and figure["lower"] <= figure["value"] <= figure["upper"]
        if figure["value"] is None:
            assert figure["note"].startswith("not defined"), figure

    for count in having(report, {"agree", "total", "rate"}):
        assert (count["rate"] is None) == (count["total"] == 0), count
        assert 0 <= count["agree"] <= count["total"]
    rank = report["rank"]
    for name, value in rank.items():
        if name not in ("models", "brier_votes", "notes") and value is None:
            assert rank["notes"][name].startswith("not defined"), name
    if rank["spearman"] is not None:
        assert rank["models"] >= 3
    ppi = report["ppi"]
    assert ppi["judge_votes_worth"] is None or 0 <= ppi["judge_votes_worth"] < float("inf")
    baseline = report["baseline"]
    if baseline["standing"] is not None:
        for side, where in baseline["standing"].items():
            diff = baseline["difference"][side]
            if where == "above":
                assert diff["value"] > 0 and (diff["lower"] is None or diff["lower"] > 0)
            if where == "below":
                assert diff["value"] < 0 and (diff["upper"] is None or diff["upper"] < 0)
    verdict = report["verdict"]
    for wrong in ("(s)", " 1 items", " 1 vote pairs", " 1 models", "n/a", "nan", "inf ", "((", "  "):
        assert wrong not in verdict, wrong


@pytest.mark.parametrize("case", list(DEGENERATE))
@pytest.mark.parametrize("bootstrap", ["0", "30"])
def test_degenerate_inputs_warn_nothing_and_stay_consistent(
    tmp_path: Path, case: str, bootstrap: str
) -> None:
    import warnings

    rows_h, rows_j = DEGENERATE[case]
    human = _write_csv(tmp_path / "h.csv", rows_h)
    judge = _write_csv(tmp_path / "j.csv", rows_j)
    args = ["validate", "--human", str(human), "--judge", str(judge), "--bootstrap", bootstrap]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any scipy / numpy / pandas warning fails the run
        table = _cli(*args)
        as_json = _cli(*args, "--json")
    assert table.exit_code == 0 and as_json.exit_code == 0, (table.output, as_json.output)
    assert as_json.stderr == ""
    assert all(line.startswith("judge: warning: only ") for line in table.stderr.splitlines()), table.stderr
    report = json.loads(as_json.stdout)
    _consistent(report)
    if bootstrap == "0":
        assert report["rank"]["separability_human"] is None
        assert all(v["lower"] is None for v in report["intervals"].values())
        assert "bootstrap intervals (" not in table.stdout  # no "95% intervals" heading over bare figures


def test_degenerate_run_leaves_stderr_clean_under_python_w_error(tmp_path: Path) -> None:
    """The whole command in a fresh interpreter with every warning an error: nothing on stderr."""
    import subprocess
    import sys

    rows_h, rows_j = DEGENERATE["all ties"]
    human = _write_csv(tmp_path / "h.csv", rows_h)
    judge = _write_csv(tmp_path / "j.csv", rows_j)
    run = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "judge",
            "validate",
            "--human",
            str(human),
            "--judge",
            str(judge),
        ]
        + ["--bootstrap", "30"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "Cohen's kappa not defined (every judge vote is a tie" in " ".join(run.stdout.split())


def test_a_judge_that_only_ties_gets_no_kappa_no_worth_and_no_rank_correlation() -> None:
    from judge.validate import validate_battles

    rows_h, rows_j = DEGENERATE["all ties"]
    report = validate_battles(_frame(rows_h), _frame(rows_j), bootstrap=30)
    assert report.intervals["kappa"].value is None
    assert report.rank is not None and report.rank.spearman is None
    assert report.rank.notes["spearman"] == "not defined: 2 shared models, fewer than 3"
    assert report.worth is not None and report.worth.worth is None
    assert "inf" not in report.worth.sentence()
    assert "without ties, there is nothing to compare (no vote pair without a tie" in report.verdict


def test_an_interval_never_excludes_its_point() -> None:
    from judge.validate.uncertainty import _interval

    widened = _interval(0.5, np.array([0.6, 0.7, 0.8, 0.9] * 10), 0.95)
    assert widened.lower == 0.5 and widened.upper is not None and widened.upper > 0.8
    sparse = _interval(0.5, np.array([0.5] * 9 + [np.nan]), 0.95)  # undefined in 10% of rounds
    assert sparse.lower is None and "not defined in 10% of the rounds" in sparse.note


# --- the verdict, case by case ------------------------------------------------------------------------------


def _agr(kind: str, ties: tuple[int, int], no_ties: tuple[int, int], items: int):
    from judge.validate.agreement import Agreement, AgreementRow, Count

    row = AgreementRow("all", Count(*ties), Count(*no_ties), items)
    return Agreement(kind=kind, by="turn", rows=(row,))  # type: ignore[arg-type]


def _base(items: int, with_ties: tuple | None, without: tuple | None = None, judge_items: int | None = None):
    from judge.validate.uncertainty import Interval
    from judge.validate.verdict import Baseline

    def interval(d: tuple | None) -> Interval:
        return (
            Interval(None, None, None, "not defined: no vote pair without a tie on one side")
            if d is None
            else Interval(*d)
        )

    judge = _agr("judge-human", (60, 100), (50, 70), items if judge_items is None else judge_items)
    human = _agr("human-human", (55, 100), (45, 70), items)
    return Baseline(
        items, judge, human, {"with_ties": interval(with_ties), "without_ties": interval(without)}
    )


def _rank(spearman: float | None, models: int = 6):
    from judge.validate.ranks import RankAgreement

    notes = {} if spearman is not None else {"spearman": f"not defined: {models} shared models, fewer than 3"}
    kendall = None if spearman is None else 0.87
    return RankAgreement(models, spearman, kendall, 0.5, 0.5, 0.8, 0.2, 100, notes)


VERSUS = _agr("judge-human", (60, 100), (50, 70), 40)
EVERYONE = _agr("human-human", (53, 100), (44, 70), 80)
UP, FLAT, DOWN = (0.10, 0.05, 0.15), (0.02, -0.03, 0.07), (-0.10, -0.15, -0.05)
VERDICT_CASES = {
    "thin overlap, 1 item": (
        _agr("judge-human", (1, 2), (1, 2), 1), EVERYONE, None, None,
        ["Only 1 item appears in both the human and the judge logs, fewer than the 30 a verdict needs"],
    ),
    "thin overlap, 29 items": (
        _agr("judge-human", (1, 2), (1, 2), 29), EVERYONE, None, None, ["Only 29 items appear in both"],
    ),
    "no item with two human voters": (
        VERSUS, None, None, _rank(0.8),
        ["No item has two human voters, so there is no human-human baseline to compare the judge with."],
    ),
    "no judge item with two human voters": (
        VERSUS, EVERYONE, _base(0, None, None), _rank(0.8),
        ["None of the judge's items has two human voters", "each other on 53% (63% without ties)."],
    ),
    "baseline on 1 item": (
        VERSUS, EVERYONE, _base(1, UP, UP), None,
        ["Only 1 item has both a judge vote and two human voters, fewer than the 30", "For reference, over"],
    ),
    "baseline on 12 items": (VERSUS, EVERYONE, _base(12, UP, UP), None, ["Only 12 items have both"]),
    "above": (
        VERSUS, EVERYONE, _base(40, UP, UP), None,
        ["So, with ties and without, the judge agrees with humans more often than humans agree with each "
         "other (+10.0 points, 95% interval +5.0 to +15.0 with ties; +10.0 points, 95% interval +5.0 to "
         "+15.0 without)."],
    ),
    "within": (
        VERSUS, EVERYONE, _base(40, FLAT, FLAT), None,
        ["about as often as humans", "+2.0 points, inside the 5-point tolerance, 95% interval -3.0 to +7"],
    ),
    "below": (VERSUS, EVERYONE, _base(40, DOWN, DOWN), None, ["less often than humans agree with each"]),
    "unclear": (
        VERSUS, EVERYONE, _base(40, (0.10, -0.02, 0.22), (0.08, -0.01, 0.2)), None,
        ["So, with ties and without, the judge's agreement with humans cannot be told apart from the humans' "
         "with each other (+10.0 points, 95% interval -2.0 to +22.0"],
    ),
    "below with ties, within without": (
        VERSUS, EVERYONE, _base(40, DOWN, FLAT), None,
        ["So, with ties counted, the judge agrees with humans less often than humans agree with each "
         "other (-10.0 points, 95% interval -15.0 to -5.0); without ties, the judge agrees with humans"],
    ),
    "no pair without a tie": (
        _agr("judge-human", (60, 100), (0, 0), 40), EVERYONE, _base(40, UP, None), None,
        ["The judge agrees with humans on 60% of 100 vote pairs (no vote pair without a tie).",
         "with ties counted, the judge agrees with humans more often",
         "without ties, there is nothing to compare (no vote pair without a tie on one side)."],
    ),
    "no bootstrap": (
        VERSUS, EVERYONE, _base(40, (0.1, None, None), (-0.1, None, None)), None,
        ["more often than humans agree with each other (+10.0 points, no interval)", "less often than"],
    ),
    "baseline on every judge item": (
        VERSUS, EVERYONE, _base(40, FLAT, FLAT), None,
        ["On the same 40 items humans agree with each other on 55% (64% without ties); over all their votes"],
    ),
    "baseline on some judge items": (
        VERSUS, EVERYONE, _base(30, FLAT, FLAT), None,
        ["On the 30 of these items that also have two human voters, the judge agrees with humans on 60%"],
    ),
    "two models, no rank correlation": (
        VERSUS, EVERYONE, _base(40, FLAT, FLAT), _rank(None, models=2),
        ["The two leaderboards have no rank correlation (2 shared models, fewer than 3)."],
    ),
    "boards agree closely": (
        VERSUS, EVERYONE, _base(40, FLAT, FLAT), _rank(0.95),
        ["Its leaderboard follows the human one closely over 6 shared models (Spearman 0.95, Kendall 0.87)."],
    ),
    "one vote pair": (
        _agr("judge-human", (1, 1), (1, 1), 30), EVERYONE, _base(30, FLAT, FLAT), None,
        ["The judge agrees with humans on 100% of 1 vote pair (100% of 1 without ties)."],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(VERDICT_CASES))
def test_verdict_reads_right_in_every_case(case: str) -> None:
    from judge.validate.verdict import judge_verdict

    versus, everyone, baseline, rank, expected = VERDICT_CASES[case]
    text = judge_verdict(versus, everyone, baseline, rank)
    for part in expected:
        assert part in text, (part, text)
    _reads_well(text)
    if versus.overall.items < 30 or baseline is None or baseline.items < 30:
        assert "So," not in text  # no comparison without enough items


def test_human_only_verdict_reads_right() -> None:
    from judge.validate.verdict import human_verdict

    text = human_verdict(_agr("human-human", (1, 1), (0, 0), 1))
    assert text == (
        "Humans agree with each other on 100% of 1 vote pair (no vote pair without a tie); "
        "chance would give 33% (50% without ties)."
    )
    _reads_well(text)


def _reads_well(text: str) -> None:
    assert text.endswith(".") and text[0].isupper()
    assert text.count("(") == text.count(")")
    for wrong in ("(s)", " 1 items", " 1 vote pairs", "n/a", "((", "))", "  ", " ,", "..", "nan", "inf "):
        assert wrong not in text, (wrong, text)


# --- --answers: files and folders ---------------------------------------------------------------------------


def _answer(question: str, model: str | None, *turns: str) -> str:
    record: dict = {"question_id": question, "choices": [{"index": 0, "turns": list(turns)}]}
    if model is not None:
        record["model_id"] = model
    return json.dumps(record) + "\n"


def test_answers_accepts_folders_and_repeats(tmp_path: Path) -> None:
    from judge.validate.lengths import load_answer_lengths

    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (first / "x.jsonl").write_text(_answer("q1", "x", "a" * 10, "b" * 3))
    (first / "notes.txt").write_text("not an answer file")
    (second / "y.jsonl").write_text(_answer("q1", None, "c" * 7))  # no model_id: the file names the model
    single = tmp_path / "z.jsonl"
    single.write_text(_answer("q2", "z", "d"))
    table = load_answer_lengths([first, second, single])
    assert table.values.tolist() == [
        ["q1", "x", 1, 10],
        ["q1", "x", 2, 3],
        ["q1", "y", 1, 7],
        ["q2", "z", 1, 1],
    ]

    human = _write_csv(
        tmp_path / "h.csv", [("q1", "x", "y", "model_a", "h1"), ("q1", "x", "y", "model_a", "h2")]
    )
    result = _cli(
        "validate", "--human", str(human), "--answers", str(first), "--answers", str(second), "--json"
    )
    assert result.exit_code == 0, result.output
    longer = json.loads(result.stdout)["diagnostics"]["human"]["longer_answer"]
    assert (longer["value"], longer["n"]) == (1.0, 2)  # x (10 characters) beat y (7) twice


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "nowhere: answers not found (no such file or folder)"),
        ("empty", "empty: the answers folder holds no *.jsonl answer files"),
        ("bad line", "bad/m.jsonl:2: not an MT-Bench model answer: choices must be a non-empty list"),
        ("not json", "bad/m.jsonl:1: not valid JSON"),
        ("empty file", "bad/m.jsonl: the answer file holds no answers"),
    ],
)
def test_answers_errors_are_exit_2_with_file_and_line(tmp_path: Path, setup: str, message: str) -> None:
    human = _write_csv(tmp_path / "h.csv", HUMAN_ROWS)
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    content = {
        "bad line": _answer("q1", "m", "ok") + '{"question_id": "q2", "choices": []}\n',
        "not json": "{oops\n",
        "empty file": "\n",
    }
    (bad / "m.jsonl").write_text(content.get(setup, ""))
    target = {"missing": "nowhere", "empty": "empty"}.get(setup, "bad")
    result = _cli("validate", "--human", str(human), "--answers", str(tmp_path / target))
    assert result.exit_code == 2, result.output
    assert f"judge: error: {tmp_path}/{message}" in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_panel_of_judges_that_only_tie_warns_nothing_and_claims_no_fit(tmp_path: Path) -> None:
    import warnings

    rows_h, _ = DEGENERATE["all ties"]
    human = _write_csv(tmp_path / "h.csv", rows_h)
    judges = _write_csv(tmp_path / "j.csv", _many(40, j1="tie", j2="tie"))
    args = ["validate", "--human", str(human), "--judge", str(judges), "--bootstrap", "20"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = _cli(*args)
        as_json = _cli(*args, "--json")
    assert table.exit_code == 0 and as_json.exit_code == 0, table.output
    assert table.stderr == "" and as_json.stderr == ""
    assert "No weights fitted (no decisive human vote)" in " ".join(table.stdout.split())
    assert all(row["kappa"] is None for row in json.loads(as_json.stdout)["rows"])  # every vote a tie


def test_thin_baseline_warns_and_gives_no_standing(tmp_path: Path) -> None:
    human = _write_csv(tmp_path / "h.csv", _many(35, h1="model_a") + _many(1, 35, h1="model_a", h2="tie"))
    judge = _write_csv(tmp_path / "j.csv", _many(36, j="model_a"))
    args = ["validate", "--human", str(human), "--judge", str(judge), "--bootstrap", "20"]
    table = _cli(*args)
    assert table.exit_code == 0, table.output
    assert table.stderr == (
        "judge: warning: only 1 item has a judge vote and two human voters "
        "(minimum 30 to compare the judge with human consistency)\n"
    )
    text = " ".join(table.stdout.split())
    assert "Only 1 item has both a judge vote and two human voters, fewer than the 30" in text
    assert "So," not in text
    report = json.loads(_cli(*args, "--json").stdout)
    assert report["baseline"]["items"] == 1 and report["baseline"]["standing"] is None
