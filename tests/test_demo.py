"""The demo's yardstick: the packaged MT-Bench expert votes, their board, a judge's agreement with them."""

from __future__ import annotations

import pandas as pd

from judge.demo.experts import compare_with_experts, expert_votes

REPLAYED = {"gpt-4", "gpt-3.5-turbo", "vicuna-13b-v1.2", "llama-13b"}


def _judge_votes(winner: str, questions: list[int]) -> pd.DataFrame:
    """A judge that votes the same way on every pair of the replayed models, turn 1."""
    models = sorted(REPLAYED)
    rows = [
        {"question_id": str(q), "model_a": a, "model_b": b, "winner": winner, "turn": 1, "judge": "j"}
        for q in questions
        for i, a in enumerate(models)
        for b in models[i + 1 :]
    ]
    return pd.DataFrame(rows)


def test_packaged_expert_votes_cover_the_replayed_models_only():
    votes = expert_votes()
    assert set(votes["model_a"]) | set(votes["model_b"]) == REPLAYED
    assert len(votes) == 1147 and votes["judge"].str.startswith("expert").all()


def test_expert_board_puts_gpt4_first_and_llama_last():
    result = compare_with_experts(_judge_votes("tie", [101, 104]), expert_votes(), bootstrap=50)
    board = result.board.set_index("model")
    assert board.loc["gpt-4", "rank"] == 1 and board["rating"].idxmin() == "llama-13b"
    assert result.expert_votes == 1147


def test_agreement_is_counted_on_the_judged_items_only():
    experts = expert_votes()
    questions = [101, 104, 107, 108, 120]
    ties = compare_with_experts(_judge_votes("tie", questions), experts, bootstrap=10)
    on_items = experts[
        experts["question_id"].astype(str).isin([str(q) for q in questions]) & (experts["turn"] == 1)
    ]
    assert ties.judge_vs_experts.total == len(on_items)
    # An all-ties judge agrees exactly with the expert ties (ties of any kind count as agreeing).
    assert ties.judge_vs_experts.agree == int(on_items["winner"].str.startswith("tie").sum())
    assert ties.experts_vs_experts.total > 0
    assert "not as a ranking" in ties.sentence("j")


def test_no_shared_item_says_so():
    result = compare_with_experts(_judge_votes("model_a", [81]).assign(turn=3), expert_votes(), bootstrap=10)
    assert result.items == 0 and "cannot be checked" in result.sentence("j")


def test_demo_prints_the_expert_board_agreement_phases_and_report_link(tmp_path, monkeypatch):
    """`judge demo`'s output, on the demo's replayed models with the echo judge standing in for the model."""
    from click.testing import CliRunner

    from judge import api
    from judge.cli import cli

    answers = api.demo_config().parent / "answers"
    config = tmp_path / "demo.yaml"
    replayed = "".join(
        f"  - {{name: {m}, provider: replay, path: {answers / (m + '.jsonl')}}}\n" for m in sorted(REPLAYED)
    )
    config.write_text(
        "name: demo\nquestions: {path: mt_bench, ids: [101, 104, 107, 108, 120], turns: 1}\n"
        f"contestants:\n{replayed}judge: {{provider: echo, answer_format: json}}\n"
    )
    monkeypatch.setattr(api, "demo_config", lambda: config)
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "expert rank" in out and "1147 votes" in out
    assert "the judge agrees with an expert's vote" in out and "two experts agree" in out
    assert "time: model fetch" in out and "judging" in out and "report " in out
    assert f"report: {(tmp_path / 'out' / 'report.html').resolve().as_uri()}" in out
