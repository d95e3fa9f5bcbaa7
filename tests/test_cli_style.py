"""`judge rate --style / --baseline` and style counts in the battle log (Arena conv_metadata, generic)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from judge.battles import load_battles
from judge.cli import cli

GOLDEN = Path(__file__).parent / "golden"


def run(*args: str | Path):
    return CliRunner().invoke(cli, ["rate", *map(str, args)])


@pytest.fixture(scope="module")
def reference_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("style") / "battles.jsonl"
    path.write_bytes(gzip.decompress((GOLDEN / "style_control_battles.jsonl.gz").read_bytes()))
    return path


def test_rate_style_json_matches_the_reference(reference_log: Path) -> None:
    result = run(reference_log, "--style", "--json", "--bootstrap", "40")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    reference = json.loads((GOLDEN / "style_control_reference.json").read_text())
    assert out["style"]["features"] == ["length", "headers", "lists", "bold"]
    for name, value in reference["coefficients"].items():
        c = out["style"]["coefficients"][name]
        assert abs(c["value"] - value) < 0.005
        assert c["ci_lower"] < c["value"] < c["ci_upper"]
    ours = pd.Series({m["model"]: m["rating"] for m in out["models"]})
    theirs = pd.Series(reference["style_controlled"])
    assert ((ours - ours.mean()) - (theirs - theirs.mean())).abs().max() < 0.5
    assert out["style"]["coefficients"]["length"]["elo_2x"] > 0


def test_rate_style_by_group_and_question_cluster(reference_log: Path, tmp_path: Path) -> None:
    frame = pd.read_json(reference_log, lines=True)
    frame["category"] = ["coding" if k % 2 else "writing" for k in range(len(frame))]
    path = tmp_path / "grouped.jsonl"
    frame.iloc[:6000].to_json(path, orient="records", lines=True)
    result = run(
        path, "--style", "length", "--by", "category", "--cluster", "question", "--json", "--bootstrap", "20"
    )
    assert result.exit_code == 0, result.stderr
    groups = json.loads(result.stdout)["groups"]
    assert set(groups) == {"coding", "writing"}
    assert all(list(g["style"]["coefficients"]) == ["length"] for g in groups.values())


def test_baseline_scores_with_and_without_style(reference_log: Path) -> None:
    for extra in ([], ["--style"]):
        result = run(reference_log, "--baseline", "model-d", "--json", "--bootstrap", "40", *extra)
        assert result.exit_code == 0, result.stderr
        models = json.loads(result.stdout)["models"]
        by_name = {m["model"]: m for m in models}
        assert by_name["model-d"]["score"] == pytest.approx(50.0)
        assert all(m["score_lower"] <= m["score"] <= m["score_upper"] for m in models)
        # Rows in the board's order: rank, then rating (so, within a rank, the score falls).
        keys = [(m["rank"], -m["score"]) for m in models]
        assert keys == sorted(keys)
    table = run(reference_log, "--baseline", "model-d", "--ci", "sandwich")
    assert table.exit_code == 0, table.stderr
    assert "score %" in table.stdout


def test_missing_features_are_counted_and_length_alone_still_works(tmp_path: Path) -> None:
    path = tmp_path / "battles.jsonl"
    rows = [
        {"model_a": "x", "model_b": "y", "winner": w, "tokens_a": ta, "tokens_b": tb}
        for w, ta, tb in [("model_a", 300, 100), ("model_b", 50, 200), ("tie", 80, 90), ("model_a", 10, 20)]
        * 5
    ]
    rows[0].update(headers_a=1, headers_b=0)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run(path, "--style", "length", "--bootstrap", "10").exit_code == 0
    result = run(path, "--style", "--bootstrap", "10")
    assert result.exit_code == 2
    assert "19 of 20 battles lack headers (headers_a/headers_b)" in result.stderr
    assert "hint: choose features every battle has, e.g. --style length" in result.stderr
    for args, message in (
        (["--style", "emoji"], "unknown style feature 'emoji'"),
        (["--style", "length", "--method", "elo"], "style control is a Bradley-Terry fit"),
        (["--style", "length", "--ci", "sandwich"], "bootstrap intervals only"),
        (["--baseline", "nobody"], "baseline model 'nobody' does not appear"),
    ):
        result = run(path, *args, "--bootstrap", "10")
        assert result.exit_code == 2, args
        assert message in result.stderr


def test_arena_conv_metadata_fills_style_counts(tmp_path: Path) -> None:
    meta = {
        "sum_assistant_a_tokens": 120,
        "sum_assistant_b_tokens": 40,
        "header_count_a": {"h1": 1, "h2": 2, "h3": 0},
        "header_count_b": {"h1": 0},
        "list_count_a": {"ordered": 3, "unordered": 4},
        "list_count_b": {"ordered": 0, "unordered": 1},
        "bold_count_a": {"**": 2, "__": 1},
        "bold_count_b": {"**": 0, "__": 0},
    }
    record = {"question_id": "q", "model_a": "x", "model_b": "y", "winner": "model_a", "anony": True}
    path = tmp_path / "arena.json"
    path.write_text(json.dumps([{**record, "conv_metadata": meta}, record]))
    frame = load_battles(path).frame
    first = frame.iloc[0]
    assert (first.tokens_a, first.tokens_b, first.headers_a, first.headers_b) == (120, 40, 3, 0)
    assert (first.lists_a, first.lists_b, first.bold_a, first.bold_b) == (7, 1, 3, 0)
    assert frame.iloc[1][["tokens_a", "bold_b"]].isna().all()  # no metadata: unknown, not zero
    lines = tmp_path / "arena.jsonl"
    lines.write_text(json.dumps({**record, "conv_metadata": meta}) + "\n" + json.dumps(record) + "\n")
    assert load_battles(lines).frame.iloc[0].lists_a == 7


def test_bad_style_count_is_located(tmp_path: Path) -> None:
    path = tmp_path / "battles.csv"
    path.write_text("model_a,model_b,winner,tokens_a,tokens_b\nx,y,model_a,10,20\nx,y,model_b,-3,4\n")
    result = run(path)
    assert result.exit_code == 2
    assert "battles.csv:3: tokens_a must be a whole number >= 0, not '-3'" in result.stderr


def test_validate_compares_style_controlled_boards(reference_log: Path, tmp_path: Path) -> None:
    frame = pd.read_json(reference_log, lines=True).iloc[:4000]
    judge_path, human_path = tmp_path / "judge.jsonl", tmp_path / "human.jsonl"
    frame.assign(judge="gpt-judge", source="judge").to_json(judge_path, orient="records", lines=True)
    # The humans voted on the same answers; their log has no style counts: validate borrows the judge's.
    humans = frame[["question_id", "model_a", "model_b", "winner"]].assign(judge="human_1", source="human")
    humans.to_json(human_path, orient="records", lines=True)
    result = CliRunner().invoke(
        cli,
        ["validate", "--human", str(human_path), "--judge", str(judge_path), "--style", "--json"]
        + ["--bootstrap", "20"],
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["style_features"] == ["length", "headers", "lists", "bold"]
    assert out["rank_style"]["spearman"] == pytest.approx(1.0)  # the same votes on both sides
    assert "After style control of both boards" in out["verdict"]
    alone = CliRunner().invoke(cli, ["validate", "--human", str(human_path), "--style"])
    assert alone.exit_code == 2 and "give --judge FILE too" in alone.stderr
