"""Provider batches end to end through the official SDKs against a fake batch server on loopback.

A whole tournament in batches (OpenAI contestants, an Anthropic judge), partial errors and an expired batch
retried as classified errors, --no-wait then a rerun that finishes, and a kill -9 after submission: the
rerun polls the open batch, resubmits nothing and ingests every result once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge import api
from judge.batches import custom_id
from judge.cli import cli
from judge.errors import BatchesPending
from tests.batch_server import BatchServer

ROOT = Path(__file__).resolve().parent.parent
RETRIES = "retries: {attempts: 3, initial_wait: 0, max_wait: 0, jitter: 0}\n"


def write_config(
    tmp_path: Path,
    server: BatchServer,
    *,
    schedule: str = "",
    limit: int = 3,
    turns: int = 1,
    judge_batch: str = "",
) -> Path:
    batch = "{poll_seconds: 0.05}"
    judge_batch = judge_batch or batch
    path = tmp_path / "t.yaml"
    path.write_text(
        f"name: t\nquestions: {{path: mt_bench, limit: {limit}, turns: {turns}}}\n"
        "prices: {m1: {input: 2.0, output: 8.0}, judge-m: {input: 3.0, output: 15.0}}\n"
        "contestants:\n"
        f"  - {{name: a, provider: openai, model: m1, base_url: '{server.openai_url}', batch: {batch}}}\n"
        f"  - {{name: b, provider: openai, model: m2, base_url: '{server.openai_url}', batch: true}}\n"
        f"judge: {{provider: anthropic, model: judge-m, base_url: '{server.anthropic_url}', "
        f"batch: {judge_batch}}}\n"
        f"{schedule}{RETRIES}"
    )
    # contestant b polls at the default interval: make it quick too
    path.write_text(path.read_text().replace("batch: true", "batch: {poll_seconds: 0.05}"))
    return path


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_custom_ids_fit_both_providers():
    key = "j1:" + "f" * 64 + "#2"
    cid = custom_id(key)
    assert len(cid) <= 64 and cid.startswith("j1-") and cid.endswith("-2")
    assert custom_id("a1:" + "0" * 64) != custom_id("a1:" + "1" + "0" * 63)
    assert all(ch.isalnum() or ch in "-_" for ch in cid)


def test_a_whole_tournament_in_batches(tmp_path):
    with BatchServer() as server:
        config = write_config(tmp_path, server)
        out = tmp_path / "out"
        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked == 6 and o.answers.progress.failed == 0
        assert o.judging.judged == 6 and o.battles
        assert server.live_calls == 0
        assert not [c for c, n in Counter(server.submitted).items() if n > 1]  # nothing sent twice
        # one batch per contestant for the answers, one for the judge's only round
        assert len(rows(out / "judge.sqlite", "SELECT * FROM batches")) == 3
        judge = result.diagnostics["judge"]
        assert judge["batch_calls"] == judge["calls"] == 6
        live = 6 * (100 * 3.0 + 10 * 15.0) / 1e6
        assert judge["batch_cost_usd"] == pytest.approx(live / 2)
        a = result.diagnostics["contestants"]["a"]
        assert a["batch_calls"] == 3 and a["batch_cost_usd"] == pytest.approx(3 * (200 + 80) / 1e6 / 2)

        page = api.report(out).read_text(encoding="utf-8")
        assert "(batch: 6 calls, $" in page  # batch spend shown apart in the report's cost table

        again = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        assert again.outcome.answers.progress.reused == 6 and again.outcome.judging.reused == 6
        assert len(server.submitted) == 12  # the rerun submitted nothing


def test_partial_errors_and_an_expired_batch_are_retried_as_classified_errors(tmp_path):
    with BatchServer() as server:
        server.plan.extend(["partial", "expire"])  # contestant a's batch, then contestant b's
        config = write_config(tmp_path, server, limit=4)
        out = tmp_path / "out"
        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked == 8 and o.answers.progress.failed == 0
        failed = rows(out / "judge.sqlite", "SELECT error_kind, COUNT(*) FROM calls WHERE ok = 0 GROUP BY 1")
        assert failed == [("transient", 2 + 2)]  # 2 server errors in a's batch, 2 expired in b's
        items = dict(rows(out / "judge.sqlite", "SELECT state, COUNT(*) FROM batch_items GROUP BY 1"))
        assert items["retried"] == 4
        counts = Counter(server.submitted)
        assert sorted(counts.values()).count(2) == 4  # exactly the failed items went out a second time


def test_a_whole_batch_failing_ends_as_failures_not_answers(tmp_path):
    with BatchServer() as server:
        server.plan.extend(["fail"] * 3 + ["fail"] * 3)
        config = write_config(tmp_path, server, limit=2)
        result = api.run(config, out=tmp_path / "out", env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked == 0 and o.answers.progress.failed == 4
        assert {f.kind for f in o.answers.failures} == {"transient"}
        assert not o.battles


def test_no_wait_submits_and_exits_then_a_rerun_finishes(tmp_path):
    with BatchServer(polls_to_end=3) as server:
        config = write_config(tmp_path, server)
        out = tmp_path / "out"
        with pytest.raises(BatchesPending):
            api.run(config, out=out, env={}, bootstrap=0, write_html=False, no_wait=True)
        assert len(server.submitted) == 6
        cli_run = CliRunner().invoke(cli, ["status", str(out)])
        assert cli_run.exit_code == 0, cli_run.output
        assert "open batch" in cli_run.output and "2 open" in cli_run.output

        cli_run = CliRunner().invoke(
            cli, ["run", str(config), "--out", str(out), "--no-wait", "--bootstrap", "0"]
        )
        assert cli_run.exit_code == 0, cli_run.output  # still open: says so and exits cleanly
        assert "run the same command again" in cli_run.output

        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        assert result.outcome.answers.progress.asked == 6 and result.outcome.battles
        assert not [c for c, n in Counter(server.submitted).items() if n > 1]
        assert "0 open" in CliRunner().invoke(cli, ["status", str(out)]).output


@pytest.mark.parametrize(
    ("schedule", "pairs_per_round"),
    [
        ("schedule: {kind: swiss, rounds: 3}\n", 1),
        ("schedule: {kind: head-to-head, candidate: a, baseline: b, batch: 2}\n", 2),
    ],
)
def test_a_multi_round_schedule_sends_one_judge_batch_per_round(tmp_path, schedule, pairs_per_round):
    with BatchServer() as server:
        config = write_config(tmp_path, server, schedule=schedule, limit=6)
        out = tmp_path / "out"
        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        rounds = -(-result.outcome.pairs // pairs_per_round)
        assert rounds >= 2 and result.outcome.battles
        judge = rows(out / "judge.sqlite", "SELECT requests FROM batches WHERE provider = 'anthropic'")
        assert len(judge) == rounds and sum(n for (n,) in judge) == result.outcome.judging.judged


def _start_run(config, out):
    """`judge run` in its own process, so a test can kill it -9."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "judge", "run", str(config), "--out", str(out), "--bootstrap", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_kill_9_after_submission_then_resume_pays_nothing_twice(tmp_path):
    with BatchServer() as server:
        server.hold.set()  # batches stay in progress until released
        config = write_config(tmp_path, server)
        out = tmp_path / "out"
        proc = _start_run(config, out)
        db = out / "judge.sqlite"
        deadline = time.monotonic() + 240  # a loaded machine takes long to import the SDKs
        while time.monotonic() < deadline:
            if db.exists() and len(set(server.submitted)) == 6:
                try:
                    if rows(db, "SELECT COUNT(*) FROM batch_items")[0][0] == 6:
                        break
                except sqlite3.OperationalError:
                    pass
            time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()
            pytest.fail("the run never submitted its batches")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        server.hold.clear()

        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked == 6 and o.judging.judged == 6
        assert not [c for c, n in Counter(server.submitted).items() if n > 1]  # nothing resubmitted
        answers = rows(db, "SELECT key, COUNT(*) FROM answers GROUP BY key")
        assert len(answers) == 6 and all(n == 1 for _, n in answers)  # each result ingested once
        calls = rows(db, "SELECT COUNT(*) FROM calls WHERE batch_id IS NOT NULL AND ok = 1")
        assert calls[0][0] == 12


def test_config_rejects_batch_where_it_cannot_work(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\nquestions: {path: mt_bench, limit: 1}\ncontestants:\n"
        "  - {name: a, provider: echo, batch: true}\n  - {name: b, provider: echo, temperature: 0.5}\n"
        "judge: {provider: echo, answer_format: json}\n"
    )
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2 and "has no batch API" in result.output


U1, U2 = "http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"
M = "name: a, provider: openai, model: m"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"{{{M}, base_url: ['{U1}', 'ftp://x']}}", "base_url[1]"),
        (f"{{{M}, base_url: ['{U1}', '{U1}']}}", "listed twice"),
        (f"{{{M}, base_url: []}}", "empty list"),
        (f"{{{M}, base_url: '{U1}', batch: {{max_requests: 60000}}}}", "at most 50,000"),
        (f"{{{M}, base_url: '{U1}', batch: {{window: 1h}}}}", "window"),
        (f"{{{M}, base_url: ['{U1}', '{U2}'], batch: true}}", "pool"),
        (f"{{{M}, base_url: '{U1}', prices: {{input: 1, output: 2, batch_discount: 2}}}}", "between 0 and 1"),
    ],
)
def test_config_checks_pools_batches_and_batch_prices(tmp_path, line, message):
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\nquestions: {path: mt_bench, limit: 1}\ncontestants:\n"
        f"  - {line}\n  - {{name: b, provider: echo}}\njudge: {{provider: echo, answer_format: json}}\n"
    )
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2 and message in result.output, result.output


def test_batch_prices_default_to_half_and_can_be_given():
    from judge.config import Prices

    assert Prices(2.0, 8.0).cost(1000, 100, batch=True) == pytest.approx(Prices(2.0, 8.0).cost(1000, 100) / 2)
    explicit = Prices(2.0, 8.0, batch_input=0.5, batch_output=1.0)
    assert explicit.cost(1_000_000, 1_000_000, batch=True) == pytest.approx(1.5)


def _run_killed_at_creation(tmp_path, server, nth):
    """Start `judge run` in a process that is killed -9 the moment the provider creates its nth batch,
    before the reply with the batch's id reaches it."""
    config = write_config(tmp_path, server)
    out = tmp_path / "out"
    proc = _start_run(config, out)
    created = []

    def kill(batch_id):
        created.append(batch_id)
        if len(created) == nth:
            proc.send_signal(signal.SIGKILL)

    server.on_create = kill
    try:
        proc.wait(timeout=240)  # a loaded machine takes long to import the SDKs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    server.on_create = None
    # Both contestants' batches are created at once: the kill may land after the second too.
    assert proc.returncode == -signal.SIGKILL and len(created) >= nth
    return config, out


@pytest.mark.parametrize("nth", [1, 3])  # an OpenAI answers batch (metadata), the Anthropic judge batch
def test_kill_9_between_batch_creation_and_its_record_pays_nothing_twice(tmp_path, nth):
    with BatchServer() as server:
        config, out = _run_killed_at_creation(tmp_path, server, nth)
        db = out / "judge.sqlite"
        intents = rows(
            db, "SELECT batch_id, provider_status FROM batches WHERE batch_id LIKE 'judge-intent-%'"
        )
        assert intents and {s for _, s in intents} == {"creating"}  # recorded before the provider was asked

        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked + o.answers.progress.reused == 6 and o.judging.judged == 6
        assert not [c for c, n in Counter(server.submitted).items() if n > 1]  # nothing resubmitted
        assert len(set(server.submitted)) == 12
        assert not rows(db, "SELECT * FROM batches WHERE batch_id LIKE 'judge-intent-%'")
        assert len(rows(db, "SELECT * FROM batches")) == 3  # the orphan was adopted, not sent again


@pytest.mark.parametrize("fault", ["refuse", "lose"])
@pytest.mark.parametrize("which", ["openai", "anthropic"])
def test_a_batch_creation_whose_reply_is_lost_is_found_not_sent_twice(tmp_path, fault, which):
    with BatchServer() as server:
        # Answers go first (two OpenAI batches at once), the judge's Anthropic batch last.
        server.create_faults.extend([fault] if which == "openai" else ["ok", "ok", fault])
        config = write_config(tmp_path, server)
        out = tmp_path / "out"
        result = api.run(config, out=out, env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked == 6 and o.judging.judged == 6 and o.battles
        assert not [c for c, n in Counter(server.submitted).items() if n > 1]  # a found batch is not resent
        failed = rows(out / "judge.sqlite", "SELECT error_kind FROM calls WHERE ok = 0")
        # refused: nothing was created, so the attempt failed and the runner retried it in a new batch;
        # lost: the batch the provider did create was found by its tag (or its size and time) and used.
        assert failed == ([("transient",)] * (3 if which == "openai" else 6) if fault == "refuse" else [])
        assert not rows(out / "judge.sqlite", "SELECT * FROM batches WHERE batch_id LIKE 'judge-intent-%'")


def test_no_wait_lets_live_calls_of_a_mixed_run_finish(tmp_path):
    with BatchServer(polls_to_end=3, delay_s=1.0) as server:
        path = tmp_path / "t.yaml"
        path.write_text(
            "name: t\nquestions: {path: mt_bench, limit: 3, turns: 1}\ncontestants:\n"
            f"  - {{name: a, provider: openai, model: m1, base_url: '{server.openai_url}', "
            "batch: {poll_seconds: 0.05}}\n"
            f"  - {{name: b, provider: openai, model: m2, base_url: '{server.openai_url}'}}\n"
            f"judge: {{provider: anthropic, model: judge-m, base_url: '{server.anthropic_url}'}}\n{RETRIES}"
        )
        out = tmp_path / "out"
        with pytest.raises(BatchesPending):  # the batch is still open after the first poll
            api.run(path, out=out, env={}, bootstrap=0, write_html=False, no_wait=True)
        # b's live calls (a second each) were in flight when the open batch was met: they finished
        live = rows(out / "judge.sqlite", "SELECT contestant, COUNT(*) FROM answers GROUP BY 1")
        assert live == [("b", 3)] and server.live_calls == 3

        result = api.run(path, out=out, env={}, bootstrap=0, write_html=False)
        p = result.outcome.answers.progress
        assert p.asked == 3 and p.reused == 3 and result.outcome.battles
        assert server.live_calls == 3 + 6  # b's answers were not asked again; the live judge judged 6
        assert not [c for c, n in Counter(server.submitted).items() if n > 1]
