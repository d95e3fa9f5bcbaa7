"""`judge run` end to end where the words do not matter: echo contestants, an echo or fault-server judge.

Reruns and added contestants are counted at the store (calls per run) and, for the fault server, at the
server itself. Judge failures (unreadable outputs, 500s) must end as failures, never as ties or battles.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge import api, load_config
from judge.cli import cli
from judge.errors import ProviderError
from judge.judging import UNUSABLE_AFTER
from tests.fault_server import FaultServer, Step

FAST_RETRIES = "retries: {attempts: 2, initial_wait: 0, max_wait: 0, jitter: 0}\n"
ECHO_PAIR = """\
  - {name: echo-a, provider: echo}
  - {name: echo-b, provider: echo, temperature: 0.5}
"""


def write_config(tmp_path: Path, judge: str, contestants: str = ECHO_PAIR, limit: int = 2) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(
        f"name: t\nquestions: {{path: mt_bench, limit: {limit}, turns: 1}}\ncontestants:\n{contestants}"
        f"judge: {judge}\n{FAST_RETRIES}"
    )
    return path


def without_time(battles) -> list[dict]:
    return [{k: v for k, v in b.to_record().items() if k != "tstamp"} for b in battles]


def calls_of_run(db: Path, run_id: int) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT COUNT(*) FROM calls WHERE run_id = ?", (run_id,)).fetchone()[0])
    finally:
        con.close()


def test_rerun_makes_no_call_and_gives_the_same_battles(tmp_path):
    config = write_config(tmp_path, "{provider: echo, answer_format: json}")
    out = tmp_path / "out"
    first = api.run(config, out=out, env={}, bootstrap=20, write_html=False)
    assert first.outcome.judging.judged == 2 * 2 and first.outcome.battles

    again = api.run(config, out=out, env={}, bootstrap=20, write_html=False)
    o = again.outcome
    assert (o.answers.progress.asked, o.judging.judged, o.judging.failed) == (0, 0, 0)
    assert o.judging.reused == 4 and o.answers.progress.reused == 4
    assert calls_of_run(out / "judge.sqlite", o.judge_run_id) == 0
    assert without_time(o.battles) == without_time(first.outcome.battles)
    assert (
        again.diagnostics["judge"]["position_consistency"]
        == first.diagnostics["judge"]["position_consistency"]
    )


def test_added_contestant_pays_only_for_its_own_answers_and_pairings(tmp_path):
    out = tmp_path / "out"
    judge = "{provider: echo, answer_format: json}"
    api.run(write_config(tmp_path, judge), out=out, env={}, bootstrap=0, write_html=False)
    third = ECHO_PAIR + "  - {name: echo-c, provider: echo, temperature: 0.9}\n"
    grown = api.run(write_config(tmp_path, judge, third), out=out, env={}, bootstrap=0, write_html=False)
    o = grown.outcome
    assert (o.answers.progress.asked, o.answers.progress.reused) == (2, 4)  # echo-c on 2 questions
    # 2 new pairs (a-c, b-c) x 2 questions x 2 orders are judged; a-b's 2 x 2 judgements are reused.
    assert (o.judging.judged, o.judging.reused, o.judging.failed) == (8, 4, 0)
    assert calls_of_run(out / "judge.sqlite", o.judge_run_id) == 8
    assert {b.model_a for b in o.battles} | {b.model_b for b in o.battles} == {"echo-a", "echo-b", "echo-c"}


def test_files_and_leaderboard_in_the_exact_rate_json_shape(tmp_path):
    config = write_config(tmp_path, "{provider: echo, answer_format: json}")
    out = tmp_path / "out"
    result = api.run(config, out=out, env={}, bootstrap=30, seed=3)
    names = {p.name for p in result.files}
    assert names == {
        "battles.jsonl",
        "details.jsonl",
        "diagnostics.json",
        "leaderboard.json",
        "leaderboard_by_category.json",
        "report.html",
    }
    assert all((out / name).is_file() for name in names)
    rated = CliRunner().invoke(
        cli, ["rate", str(out / "battles.jsonl"), "--json", "--bootstrap", "30", "--seed", "3"]
    )
    assert rated.exit_code == 0, rated.output
    board = json.loads((out / "leaderboard.json").read_text())
    rate_out = json.loads(rated.stdout)
    assert board == rate_out
    details = [json.loads(line) for line in (out / "details.jsonl").read_text().splitlines()]
    assert len(details) == 2 and all(len(d["judgments"]) == 2 for d in details)
    assert all(j["raw"] for d in details for j in d["judgments"])


def test_single_combine_judges_one_order_per_item(tmp_path):
    both = api.run(
        write_config(tmp_path, "{provider: echo, answer_format: json}", limit=3),
        out=tmp_path / "both",
        env={},
        bootstrap=0,
        write_html=False,
    )
    single = api.run(
        write_config(tmp_path, "{provider: echo, answer_format: json, combine: single}", limit=3),
        out=tmp_path / "single",
        env={},
        bootstrap=0,
        write_html=False,
    )
    assert both.outcome.judging.judged == 6 and single.outcome.judging.judged == 3
    assert len(single.outcome.battles) == 3
    assert single.diagnostics["judge"]["calls"] == 3


def test_unreadable_judge_output_is_retried_then_a_parse_failure_not_a_tie(tmp_path):
    with FaultServer() as server:
        server.script(*[Step.ok("I cannot decide") for _ in range(50)])
        judge = f'{{provider: openai, model: j, base_url: "{server.openai_url}", parse_retries: 2}}'
        out = tmp_path / "out"
        result = api.run(write_config(tmp_path, judge, limit=1), out=out, env={}, write_html=False)
        assert server.count == 2 * 3  # both orders, each asked 1 + parse_retries times
        # A rerun does not pay again for outputs that were stored, readable or not.
        again = api.run(write_config(tmp_path, judge, limit=1), out=out, env={}, write_html=False)
        assert server.count == 6 and again.outcome.battles == ()
        assert again.diagnostics["judge"]["parse_failures"] == 2
        assert again.diagnostics["judge"]["failed_calls"] == 0
    o = result.outcome
    assert o.battles == () and result.leaderboard is None
    assert (o.judging.judged, o.judging.failed) == (0, 2)
    assert result.diagnostics["judge"]["parse_failures"] == 2
    assert result.diagnostics["judge"]["failed_calls"] == 0
    assert result.diagnostics["judge"]["tie_rate"] is None
    con = sqlite3.connect(out / "judge.sqlite")
    kinds = [k for (k,) in con.execute("SELECT kind FROM failures WHERE stage = 'judge'")]
    stored = con.execute("SELECT raw, preference FROM judgements").fetchall()
    con.close()
    assert kinds == ["parse", "parse"]
    assert stored == [("I cannot decide", None)] * 6
    assert (out / "battles.jsonl").read_text() == ""


def test_judge_server_errors_past_retries_are_failures_without_battles(tmp_path):
    with FaultServer() as server:
        server.script(*[Step.server_error() for _ in range(4)])  # 2 orders x 2 attempts
        judge = f'{{provider: openai, model: j, base_url: "{server.openai_url}"}}'
        out = tmp_path / "out"
        result = api.run(write_config(tmp_path, judge, limit=1), out=out, env={}, write_html=False)
        assert server.count == 4
        o = result.outcome
        assert o.battles == () and (o.judging.judged, o.judging.failed) == (0, 2)
        assert result.diagnostics["judge"]["failed_calls"] == 2
        assert result.diagnostics["judge"]["parse_failures"] == 0
        con = sqlite3.connect(out / "judge.sqlite")
        kinds = [k for (k,) in con.execute("SELECT kind FROM failures WHERE stage = 'judge'")]
        judgements = con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]
        con.close()
        assert kinds == ["transient", "transient"] and judgements == 0

        # The failures are asked again on a rerun (the server now answers), and only they are.
        server.script(Step.ok("Fine.\nVERDICT: A"), Step.ok("Fine.\nVERDICT: B"))
        again = api.run(write_config(tmp_path, judge, limit=1), out=out, env={}, write_html=False)
        assert server.count == 6
        assert again.outcome.judging.judged == 2 and len(again.outcome.battles) == 1


def test_cli_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: bad\nquestions: demo\ncontestants:\n  - {name: a, provider: opnai}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(config), "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]  # no progress bars drawn
    first = lines[0]
    assert first.startswith("judge: error: ") and "bad.yaml:4" in first and "opnai" in first
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))
    assert "Traceback" not in result.output and not out.exists()


def test_cli_run_prints_leaderboard_consistency_and_results_path(tmp_path):
    config = write_config(tmp_path, "{provider: echo, answer_format: json}")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(config), "--out", str(out), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "t: " in text and "battles, Bradley-Terry" in text
    assert "echo-a" in text and "echo-b" in text
    assert "position consistency" in text
    assert f"results in {out}/" in text
    assert "judgements: made 4, reused 0, failed 0" in text


def test_a_run_without_battles_leaves_no_stale_leaderboard(tmp_path):
    out = tmp_path / "out"
    first = api.run(write_config(tmp_path, "{provider: echo, answer_format: json}", limit=1), out=out, env={})
    assert (out / "leaderboard.json").exists() and (out / "report.html").exists() and first.outcome.battles
    with FaultServer() as server:
        server.script(*[Step.server_error() for _ in range(4)])
        judge = f'{{provider: openai, model: j, base_url: "{server.openai_url}"}}'
        result = api.run(write_config(tmp_path, judge, limit=1), out=out, env={})
    assert result.outcome.battles == () and result.leaderboard is None
    assert not (out / "leaderboard.json").exists() and not (out / "report.html").exists()
    assert (out / "battles.jsonl").read_text() == ""


def test_head_to_head_schedule_reports_its_decision(tmp_path):
    config = tmp_path / "h2h.yaml"
    config.write_text(
        "name: h2h\nquestions: {path: mt_bench, limit: 12, turns: 1}\ncontestants:\n"
        + ECHO_PAIR
        + "judge: {provider: echo, answer_format: json}\n"
        + "schedule: {kind: head-to-head, candidate: echo-b, baseline: echo-a, batch: 4}\n"
        + FAST_RETRIES
    )
    result = api.run(config, out=tmp_path / "out", env={}, bootstrap=0, write_html=False)
    decision = result.outcome.decision
    assert decision is not None and decision["candidate"] == "echo-b"
    assert decision["decision"] in ("worse", "better", "no-difference", "undecided")
    assert decision["judge_calls"] == 2 * result.outcome.pairs  # both orders of every pair it asked for
    assert 0 <= decision["ci_low"] <= decision["ci_high"] <= 1
    on_disk = json.loads((tmp_path / "out" / "diagnostics.json").read_text())
    assert on_disk["head_to_head"] == decision


def test_human_votes_add_the_humans_and_the_prediction_powered_boards(tmp_path):
    three = ECHO_PAIR + "  - {name: echo-c, provider: echo, temperature: 0.9}\n"
    config = write_config(tmp_path, "{provider: echo, answer_format: json}", three, limit=6)
    out = tmp_path / "out"
    first = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    rows = ["question_id,model_a,model_b,winner,turn,judge"]
    for k, b in enumerate(first.outcome.battles):
        rows.append(
            f"{b.question_id},{b.model_a},{b.model_b},{flip[b.winner] if k % 3 == 0 else b.winner},1,h"
        )
    (tmp_path / "human.csv").write_text("\n".join(rows) + "\n")
    with_human = config.read_text() + "human: human.csv\n"
    config.write_text(with_human)
    result = api.run(config, out=out, env={}, bootstrap=20)
    ppi = json.loads((out / "leaderboard_ppi.json").read_text())
    assert ppi["method"] == "ppi" and ppi["ppi"]["paired_items"] == len(first.outcome.battles)
    assert {m["model"] for m in ppi["models"]} == {"echo-a", "echo-b", "echo-c"}
    assert json.loads((out / "leaderboard_human.json").read_text())["n_battles"] == len(rows) - 1
    assert out / "leaderboard_ppi.json" in result.files
    assert 'id="ppi-table"' in (out / "report.html").read_text()

    # Human votes that never saw echo-c: the run says which model, exit 2, and keeps no stale PPI board.
    (tmp_path / "human.csv").write_text("\n".join(r for r in rows if "echo-c" not in r) + "\n")
    bad = CliRunner().invoke(cli, ["run", str(config), "--out", str(out), "--bootstrap", "0"])
    assert bad.exit_code == 2
    assert "human votes: the judge votes cover 1 model(s) the humans never voted on: echo-c" in bad.output
    assert not (out / "leaderboard_ppi.json").exists()

    config.write_text(with_human.replace("human: human.csv", "human: missing.csv"))
    missing = CliRunner().invoke(cli, ["run", str(config), "--out", str(out)])
    assert missing.exit_code == 2 and "no such file: missing.csv" in missing.output


def test_a_judge_that_never_writes_a_verdict_fails_fast_with_advice(tmp_path):
    """Eight unreadable outputs before any readable one end the run, instead of paying for every pair."""
    with FaultServer() as server:
        server.script(*[Step.ok("I cannot decide") for _ in range(200)])
        judge = f'{{provider: openai, model: j, base_url: "{server.openai_url}", concurrency: 1}}'
        with pytest.raises(ProviderError) as info:
            api.run(write_config(tmp_path, judge, limit=10), out=tmp_path / "out", env={}, write_html=False)
        # 10 questions x 2 orders x 3 tries would be 60; a call already waiting for its slot may still go
        assert UNUSABLE_AFTER <= server.count <= UNUSABLE_AFTER + 2
    assert "no readable verdict in its first 8 replies" in info.value.message
    assert "answer_format: token" in (info.value.hint or "")


def test_run_reports_its_phases(tmp_path):
    result = api.run(
        write_config(tmp_path, "{provider: echo, answer_format: json}"), out=tmp_path / "o", env={}
    )
    assert [name for name, _ in result.phases] == ["model fetch", "answers", "judging", "rating", "report"]
    assert all(seconds >= 0 for _, seconds in result.phases)


def test_positions_round_trip_through_run_battles_file_and_validate(tmp_path):
    """first_shown and the per-order verdicts go from judging to battles.jsonl and back into validate."""
    out = tmp_path / "out"
    for combine in ("score", "conservative"):
        judge = f"{{provider: echo, answer_format: json, combine: {combine}}}"
        result = api.run(
            write_config(tmp_path, judge), out=out / combine, env={}, bootstrap=0, write_html=False
        )
        log = out / combine / "battles.jsonl"
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        if combine == "score":  # one game per order, each naming who was shown first
            assert len(rows) == len(result.outcome.battles) >= 4
            assert {r["first_shown"] for r in rows} == {"echo-a", "echo-b"}
            assert all((r["verdict_ab"] is None) != (r["verdict_ba"] is None) for r in rows)
        else:
            assert all(r["first_shown"] is None and r["verdict_ab"] and r["verdict_ba"] for r in rows)
        report = api.validate([log], [log], bootstrap=0).to_json()["diagnostics"]["judge"]
        assert report["first_position"]["n"] > 0 and report["first_position"]["value"] is not None
        assert report["position_consistency"]["n"] > 0


def run_cli(config: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["run", str(config), "--out", str(out), "--bootstrap", "20", *extra])


DEAD = '"http://127.0.0.1:9/v1"'  # the discard port: nothing listens, every call fails to connect


def test_exit_5_when_no_battle_could_be_decided_even_with_allow_failures(tmp_path):
    # Every judge call 500, 400 or unreadable: the run used to exit 0 with an empty leaderboard.
    for step in (Step.server_error(), Step.error(400, "bad"), Step.ok("I cannot decide")):
        with FaultServer() as server:
            server.script(*[step for _ in range(30)])
            judge = f'{{provider: openai, model: j, base_url: "{server.openai_url}", parse_retries: 0}}'
            config = write_config(tmp_path, judge, limit=1)
            for extra in ((), ("--allow-failures",)):
                result = run_cli(config, tmp_path / "out", *extra)
                assert result.exit_code == 5, result.output
                error = [line for line in result.stderr.splitlines() if line.startswith("judge: error:")]
                assert error == [f"judge: error: run incomplete: {2} judgement(s) failed"
                                 + (" (2 unreadable)" if step.action == "ok" else "")
                                 + "; no battle was decided"]  # fmt: skip
                assert "Traceback" not in result.output


def test_exit_5_when_every_contestant_is_unreachable(tmp_path):
    contestants = (
        f"  - {{name: a, provider: openai, model: m, base_url: {DEAD}}}\n"
        f"  - {{name: b, provider: openai, model: n, base_url: {DEAD}}}\n"
    )
    config = write_config(tmp_path, "{provider: echo, answer_format: json}", contestants, limit=1)
    result = run_cli(config, tmp_path / "out")
    assert result.exit_code == 5, result.output
    assert "run incomplete: 2 answer(s) failed after retries; no answers from a, b;" in result.stderr
    assert "no battle was decided" in result.stderr


def test_one_unreachable_contestant_fails_the_run_unless_accepted(tmp_path):
    contestants = ECHO_PAIR + f"  - {{name: gone, provider: openai, model: m, base_url: {DEAD}}}\n"
    config = write_config(tmp_path, "{provider: echo, answer_format: json}", contestants)
    out = tmp_path / "out"
    result = run_cli(config, out)
    assert result.exit_code == 5, result.output
    assert "run incomplete: 2 answer(s) failed after retries; no answers from gone; " in result.stderr
    assert "8 judgement(s) not made for want of an answer" in result.stderr  # 2 pairs x 2 orders x 2 q
    diag = json.loads((out / "diagnostics.json").read_text())["run"]
    assert diag["complete"] is False and "no answers from gone" in diag["problems"]

    accepted = run_cli(config, out, "--allow-failures")
    assert accepted.exit_code == 0, accepted.output
    assert "judge: warning: partial run accepted (--allow-failures): " in accepted.stderr
    board = json.loads((out / "leaderboard.json").read_text())
    assert {m["model"] for m in board["models"]} == {"echo-a", "echo-b"}


def test_bar_summary_and_diagnostics_report_the_same_counts(tmp_path):
    with FaultServer() as server:
        # One order readable, one unreadable both times: 1 made, 1 failed (unreadable).
        server.script(Step.ok("Fine.\nVERDICT: A"), *[Step.ok("no idea") for _ in range(10)])
        url = server.openai_url
        judge = f'{{provider: openai, model: j, base_url: "{url}", parse_retries: 1, concurrency: 1}}'
        config = write_config(tmp_path, judge, limit=1)
        out = tmp_path / "out"
        for expected in ("made 1, reused 0, failed 1 (1 unreadable), skipped 0",
                         "made 0, reused 1, failed 1 (1 unreadable), skipped 0"):  # fmt: skip
            result = run_cli(config, out, "--allow-failures")
            assert result.exit_code == 5  # no battle: one order alone decides nothing
            assert f"judgements: {expected}" in result.stdout
            bar = [line for line in result.stderr.splitlines() if line.startswith("judging")]
            assert bar and bar[-1].rstrip().endswith(expected)
            counts = json.loads((out / "diagnostics.json").read_text())
            assert counts["run"]["judgements"]["failed"] == counts["judge"]["parse_failures"] == 1


def test_a_rerun_without_calls_rewrites_byte_identical_files(tmp_path):
    # Battle tstamps used to be the time of writing, so no resumed run ever matched a clean one.
    config = write_config(tmp_path, "{provider: echo, answer_format: json}")
    out = tmp_path / "out"
    api.run(config, out=out, env={}, bootstrap=20)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith(("judge.sqlite", ".")))
    first = {name: (out / name).read_bytes() for name in names}
    reruns = []
    for _ in range(2):
        again = api.run(config, out=out, env={}, bootstrap=20)
        assert calls_of_run(out / "judge.sqlite", again.outcome.judge_run_id) == 0
        reruns.append({name: (out / name).read_bytes() for name in names})
    assert reruns[0] == reruns[1]
    # Against the first run, only diagnostics.json's `run` counts differ: they say what each run did.
    assert {n: b for n, b in reruns[0].items() if n != "diagnostics.json"} == {
        n: b for n, b in first.items() if n != "diagnostics.json"
    }
    diag = [json.loads(files["diagnostics.json"]) for files in (first, reruns[0])]
    assert diag[0]["run"]["answers"]["asked"] == diag[1]["run"]["answers"]["reused"] == 4
    assert {**diag[0], "run": None} == {**diag[1], "run": None}
    assert "report.html" in names and "battles.jsonl" in names
    con = sqlite3.connect(out / "judge.sqlite")
    stored = max(c for (c,) in con.execute("SELECT created_at FROM judgements"))
    con.close()
    latest = max(json.loads(line)["tstamp"] for line in first["battles.jsonl"].decode().splitlines())
    assert abs(latest - datetime.fromisoformat(stored).timestamp()) < 1e-3  # the time verdicts were stored
    # The run renders its report from its in-memory battles; `judge report` reads battles.jsonl back.
    assert CliRunner().invoke(cli, ["report", str(out)]).exit_code == 0
    assert (out / "report.html").read_bytes() == first["report.html"]


def test_long_answers_are_cut_in_judge_prompts_marked_counted_and_warned_once(tmp_path):
    # A 5 MB answer used to go whole into every judge prompt it appeared in.
    huge = "word " * 1_000_000
    with FaultServer() as server:
        server.script(Step.ok(huge), Step.ok("Fine.\nVERDICT: A"), Step.ok("Fine.\nVERDICT: B"))
        contestants = f'  - {{name: big, provider: openai, model: m, base_url: "{server.openai_url}"}}\n' + (
            "  - {name: echo-a, provider: echo}\n"
        )
        judge = f'{{provider: openai, model: j, base_url: "{server.openai_url}", max_answer_chars: 3000}}'
        config = write_config(tmp_path, judge, contestants, limit=1)
        result = run_cli(config, tmp_path / "out")
        assert result.exit_code == 0, result.output
        prompts = [r.body["messages"][-1]["content"] for r in server.requests[1:]]
    assert len(prompts) == 2 and all(len(p) < 3000 + 5000 for p in prompts)
    assert all("[answer cut for judging: the first 3,000 of 5,000,000 characters]" in p for p in prompts)
    warning = "judge: warning: 1 answer(s) longer than judge.max_answer_chars (3000) were cut"
    assert result.stderr.count(warning) == 1
    judge_diag = json.loads((tmp_path / "out" / "diagnostics.json").read_text())["judge"]
    assert (judge_diag["answers_cut"], judge_diag["max_answer_chars"]) == (1, 3000)
    assert load_config(config, {}).judge.max_answer_chars == 3000
    assert load_config(write_config(tmp_path, "{provider: echo}"), {}).judge.max_answer_chars == 20_000


def test_rounds_judged_in_small_chunks_give_the_same_battles_and_counts(tmp_path, monkeypatch):
    """A round is judged chunk by chunk (its per-order verdicts dropped as each chunk's battles are decided):
    the battles, their order and the judge's diagnostics do not depend on the chunk size."""
    import judge.judging

    contestants = ECHO_PAIR + "  - {name: echo-c, provider: echo, temperature: 0.9}\n"
    config = write_config(tmp_path, "{provider: echo, answer_format: json, concurrency: 1}", contestants, 8)
    whole = api.run(config, out=tmp_path / "whole", env={}, bootstrap=0, write_html=False)
    monkeypatch.setattr(judge.judging, "CHUNK_PAIRS", 1)  # chunks of 2 pairs (the workers' width)
    chunked = api.run(config, out=tmp_path / "chunked", env={}, bootstrap=0, write_html=False)
    assert len(whole.outcome.battles) == 8 * 3
    assert without_time(chunked.outcome.battles) == without_time(whole.outcome.battles)
    untimed = [{k: v for k, v in r.diagnostics["judge"].items() if k != "seconds"} for r in (whole, chunked)]
    assert untimed[0] == untimed[1]
    assert chunked.outcome.stats == whole.outcome.stats and whole.outcome.stats.pairs_with_both_orders == 24


def test_a_big_run_browses_an_evenly_spaced_subset_of_its_details(tmp_path, monkeypatch):
    """The report's battle browser holds at most MAX_BROWSED details (a 1M-call run has 500,000)."""
    from judge.report import rundir

    monkeypatch.setattr(rundir, "MAX_BROWSED", 3)
    three = ECHO_PAIR + "  - {name: echo-c, provider: echo, temperature: 0.9}\n"
    config = write_config(tmp_path, "{provider: echo, answer_format: json}", contestants=three, limit=3)
    out = tmp_path / "out"
    api.run(config, out=out, env={}, bootstrap=0)
    data = rundir.load_run_dir(out)
    assert (data.details_total, data.details_every, len(data.details)) == (9, 3, 3)
    lines = (out / "details.jsonl").read_text().splitlines()
    assert [d.question_id for d in data.details] == [json.loads(lines[i])["question_id"] for i in (0, 3, 6)]
    assert "Showing 3 of 9 battles: one in every\n    3," in (out / "report.html").read_text()
