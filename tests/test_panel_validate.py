"""`judge validate` with several judges: one table sorted by agreement, weights fitted across questions, and
the weights file driving `panel: {combine: weighted}` in a tournament on the loopback judge server."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from judge import api
from judge.battles import normalize_frame
from judge.cli import cli
from judge.validate.panel import MAJORITY, WEIGHTED, best_margin, fit_weights, validate_panel
from tests.panel_server import JudgeServer
from tests.test_panel import ITEMS, judge_entry, write

MODELS = [f"m{i}" for i in range(6)]


def logs(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Human votes (3 per item, 85% with the truth m0 < m1 < ...) and three judges of accuracy .9, .7, .55."""
    rng = np.random.default_rng(seed)
    human, judges = [], []
    for q in range(40):
        for i in range(len(MODELS)):
            for j in range(i + 1, len(MODELS)):
                a, b = MODELS[i], MODELS[j]  # b is better
                for voter in range(3):
                    winner = "model_b" if rng.random() < 0.85 else "model_a"
                    human.append((f"q{q}", a, b, winner, f"h{voter}", "human"))
                for name, accuracy in (("good", 0.9), ("fair", 0.7), ("poor", 0.55)):
                    winner = "model_b" if rng.random() < accuracy else "model_a"
                    judges.append((f"q{q}", a, b, winner, name, "judge"))
    columns = ["question_id", "model_a", "model_b", "winner", "judge", "source"]
    return (normalize_frame(pd.DataFrame(rows, columns=columns)) for rows in (human, judges))  # type: ignore[return-value]


def test_table_sorted_by_agreement_and_weights_favour_the_accurate_judge():
    human, judges = logs()
    report = validate_panel(human, judges, bootstrap=0)
    names = [row.name for row in report.rows]
    assert set(names) == {"good", "fair", "poor", MAJORITY, WEIGHTED}
    rates = [row.agreement.with_ties.rate for row in report.rows]
    assert rates == sorted(rates, reverse=True)
    assert names.index("good") < names.index("fair") < names.index("poor")
    w = report.weights
    assert w is not None and w.weights["good"] > w.weights["fair"] > w.weights["poor"] > -0.1
    assert w.folds == 5 and w.human_votes == len(human)
    # The cross-validated weighted panel is at least as good as the best judge here (it can lean on it).
    by_name = {row.name: row for row in report.rows}
    assert by_name[WEIGHTED].agreement.with_ties.rate >= by_name["good"].agreement.with_ties.rate - 0.01
    assert report.to_json()["rows"][0]["kind"] in ("judge", "panel")


def test_fit_weights_and_margin_on_a_known_case():
    # One judge always right, one always wrong: the right one gets a positive weight, the wrong one negative.
    s = np.array([[1.0, -1.0], [-1.0, 1.0]] * 50)
    y = np.array([1.0, -1.0] * 50)
    w = fit_weights(s, y)
    assert w[0] > 0 > w[1]
    assert best_margin(np.array([2.0, 0.1, -2.0]), np.array([1, 0, -1])) == pytest.approx(1.05)


def test_cli_weights_out_and_weighted_panel_run(tmp_path):
    human, judges = logs()
    human.to_json(tmp_path / "human.jsonl", orient="records", lines=True)
    judges.to_json(tmp_path / "judges.jsonl", orient="records", lines=True)
    weights = tmp_path / "weights.json"
    result = CliRunner().invoke(
        cli,
        ["validate", "--human", str(tmp_path / "human.jsonl"), "--judge", str(tmp_path / "judges.jsonl"),
         "--bootstrap", "0", "--weights-out", str(weights), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["comparison"] == "panel-human" and len(shown["rows"]) == 5
    table = CliRunner().invoke(
        cli,
        ["validate", "--human", str(tmp_path / "human.jsonl"), "--judge", str(tmp_path / "judges.jsonl"),
         "--bootstrap", "0"],
        env={"COLUMNS": "240"},  # wide enough whatever an earlier test left in the environment
    )  # fmt: skip
    assert table.exit_code == 0, table.output
    assert "panel: majority" in table.output and "Judges and panels vs human votes" in table.output
    written = json.loads(weights.read_text())
    assert written["format_version"] == 1 and set(written["weights"]) == {"good", "fair", "poor"}

    # The same names as a tournament panel on the loopback server, weighted by the file.
    with JudgeServer() as server:
        entries = "".join(
            judge_entry(server, m, n)
            for m, n in (("acc-0.90", "good"), ("acc-0.70", "fair"), ("acc-0.55", "poor"))
        )
        config = write(tmp_path, entries, f"panel: {{combine: weighted, weights: {weights.name}}}\n")
        run = api.run(config, out=tmp_path / "out", env={}, bootstrap=0, write_html=False)
    battles = run.outcome.battles
    assert len(battles) == ITEMS and {b.judge for b in battles} == {"panel"}
    panel = run.diagnostics["panel"]
    assert panel["combine"] == "weighted" and panel["weights"] == pytest.approx(written["weights"])
    # Where the weighted vote follows the strongest judge alone, the panel says what `good` says.
    good = {(b.question_id, b.model_a, b.model_b): b.winner for b in run.outcome.by_judge["good"]}
    w = written["weights"]
    if w["good"] > w["fair"] + w["poor"] + written["tie_margin"]:
        assert all(good[(b.question_id, b.model_a, b.model_b)] == b.winner for b in battles)


def test_llmfao_two_judge_panel(shared_data):
    data = shared_data / "llmfao"
    report = api.validate_panel(
        [data / "crowd-comparisons.csv"],
        [data / "gpt4-crowd-comparisons.csv", data / "gpt3-crowd-comparisons.csv"],
        bootstrap=0,
    )
    rows = {row.name: row for row in report.rows}
    assert rows["gpt4-crowd-comparisons"].agreement.with_ties.agree == 3705  # as the single-judge example
    assert rows["gpt3-crowd-comparisons"].agreement.with_ties.agree == 3355
    assert rows[MAJORITY].agreement.with_ties.rate > rows["gpt4-crowd-comparisons"].agreement.with_ties.rate
