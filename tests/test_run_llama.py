"""`judge run` end to end on the real local model: SmolLM2-135M answers and judges on a llama.cpp server.

Small on purpose (two contestants, two questions, first turn, both orders). The words are real, so the
test checks the pipeline's promises rather than who wins: every file written, every judge output stored
raw, failures kept apart from ties, and a rerun that makes no model call.
"""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from judge import api
from judge.cli import cli


def config_text(llama_url: str) -> str:
    model = f'provider: openai, model: smollm2-135m, base_url: "{llama_url}/v1", max_tokens: 24'
    return (
        "name: llama-run\n"
        "questions: {path: mt_bench, ids: [81, 82], turns: 1}\n"
        "contestants:\n"
        f"  - {{name: cold, {model}, temperature: 0}}\n"
        f"  - {{name: terse, {model}, temperature: 0, system: 'Answer in five words.'}}\n"
        f'judge: {{provider: openai, model: smollm2-135m, base_url: "{llama_url}/v1", name: smol-judge, '
        "answer_format: token}\n"
        "retries: {attempts: 2, initial_wait: 0, max_wait: 0, jitter: 0}\n"
    )


def test_run_on_the_real_model_writes_everything_and_reruns_for_free(tmp_path, llama_url):
    config = tmp_path / "llama.yaml"
    config.write_text(config_text(llama_url))
    out = tmp_path / "out"
    result = api.run(config, out=out, env={}, bootstrap=50)
    o = result.outcome
    assert o.answers.progress.asked == 4 and o.answers.progress.failed == 0
    assert o.judging.total == 2 * 2  # 2 questions x 1 pair x 2 orders

    expected = {
        "battles.jsonl",
        "details.jsonl",
        "diagnostics.json",
        "leaderboard.json",
        "leaderboard_by_category.json",
        "report.html",
    }
    if not o.battles:  # the tiny judge may fail to give a verdict at all; then no board is rated
        expected -= {"leaderboard.json", "leaderboard_by_category.json", "report.html"}
    assert {p.name for p in result.files} == expected
    assert all((out / name).stat().st_size > 0 or name == "battles.jsonl" for name in expected)

    judge = json.loads((out / "diagnostics.json").read_text())["judge"]
    assert judge["name"] == "smol-judge" and judge["answer_format"] == "token"
    for key in ("position_consistency", "first_position_preference", "tie_rate", "parse_failures"):
        assert key in judge
    assert judge["calls"] >= 4 and judge["input_tokens"] > 0

    con = sqlite3.connect(out / "judge.sqlite")
    stored = con.execute("SELECT base_key, raw, preference FROM judgements").fetchall()
    parse_failures = con.execute("SELECT COUNT(*) FROM failures WHERE kind = 'parse'").fetchone()[0]
    con.close()
    assert stored and all(raw is not None for _, raw, _ in stored)
    read = {base for base, _, pref in stored if pref is not None}
    # One set of counts everywhere: the outcome (what the bars and the summary print), diagnostics.json and
    # the store agree, and every item is exactly one of made, reused, failed or skipped.
    j = o.judging
    assert j.judged + j.reused + j.failed + j.skipped == j.total == j.done
    run = json.loads((out / "diagnostics.json").read_text())["run"]
    assert run["judgements"] == {
        "total": j.total, "made": j.judged, "reused": j.reused, "failed": j.failed,
        "unreadable": j.parse_failed, "skipped": j.skipped,
    }  # fmt: skip
    assert j.parse_failed == parse_failures == judge["parse_failures"] == o.stats.parse_failures
    assert len(read) + j.failed == 4
    assert run["complete"] == (j.failed == 0 and len(o.battles) == 2)
    # Battles only from items whose every order was read: a failure never becomes a tie.
    assert len(o.battles) <= 2
    if o.battles:
        assert len(read) >= 2 * len(o.battles)
        board = json.loads((out / "leaderboard.json").read_text())
        assert {m["model"] for m in board["models"]} == {"cold", "terse"}
        assert board["n_battles"] == len(o.battles)
        rated = CliRunner().invoke(
            cli, ["rate", str(out / "battles.jsonl"), "--json", "--bootstrap", "50", "--seed", "0"]
        )
        assert rated.exit_code == 0, rated.output
        assert board == json.loads(rated.stdout)  # exactly what `judge rate --json` prints
        assert all(b.judge == "smol-judge" and b.source == "judge" for b in o.battles)

    # A rerun asks the model nothing and gives the same battles; unreadable outputs stay failures (exit 5
    # unless accepted, and never accepted when no battle was decided).
    args = ["run", str(config), "--out", str(out), "--bootstrap", "50", "--allow-failures"]
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == (0 if o.battles else 5), again.output
    assert "answers: asked 0, reused 4" in again.stdout
    assert f"judgements: made 0, reused {4 - j.failed}, failed {j.failed}" in again.stdout
    assert "position consistency" in again.stdout
    con = sqlite3.connect(out / "judge.sqlite")
    last_run = con.execute("SELECT MAX(run_id) FROM runs").fetchone()[0]
    new_calls = con.execute("SELECT COUNT(*) FROM calls WHERE run_id = ?", (last_run,)).fetchone()[0]
    con.close()
    assert new_calls == 0
    rerun_battles = [json.loads(line) for line in (out / "battles.jsonl").read_text().splitlines()]
    strip = [{k: v for k, v in b.to_record().items() if k != "tstamp"} for b in o.battles]
    assert [{k: v for k, v in b.items() if k != "tstamp"} for b in rerun_battles] == strip


def test_the_readme_local_judge_runs_to_battles_with_its_defaults(tmp_path):
    """The README's embedded judge, as written there (provider, model, combine only), decides battles."""
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The tournament config", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    judge_line = next(line for line in section.splitlines() if line.startswith("judge: {provider: local"))
    answers = Path(api.demo_config()).parent / "answers"
    config = tmp_path / "t.yaml"
    config.write_text(
        "name: readme-judge\nquestions: {path: mt_bench, ids: [104], turns: 1}\ncontestants:\n"
        f"  - {{name: gpt-4, provider: replay, path: {answers / 'gpt-4.jsonl'}}}\n"
        f"  - {{name: llama-13b, provider: replay, path: {answers / 'llama-13b.jsonl'}}}\n"
        f"{judge_line}\n"
    )
    result = api.run(config, out=tmp_path / "out", env={}, bootstrap=20, write_html=False)
    assert result.outcome.judging.failed == 0 and len(result.outcome.battles) == 1
    judge = json.loads((tmp_path / "out" / "diagnostics.json").read_text())["judge"]
    assert judge["answer_format"] == "token" and judge["calls"] == 2
