"""One run per results directory: a second run says who holds it, or waits; a dead run's lock is taken over.

Real processes (`python -m judge run`) against a real counting server: two runs at once used to pay for every
call twice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from judge.cli import cli
from judge.lock import LOCK_NAME
from tests.fault_server import FaultServer

FAST_RETRIES = "retries: {attempts: 2, initial_wait: 0, max_wait: 0, jitter: 0}\n"


def write_config(tmp_path: Path, url: str, judge_delay: float) -> Path:
    path = tmp_path / f"t{judge_delay:g}.yaml"
    model = f'provider: openai, model: m, base_url: "{url}"'
    path.write_text(
        "name: t\nquestions: {path: mt_bench, limit: 2, turns: 1}\ncontestants:\n"
        f"  - {{name: a, {model}}}\n  - {{name: b, {model}, temperature: 0.5}}\n"
        f"judge: {{provider: echo, answer_format: json, delay: {judge_delay}}}\n{FAST_RETRIES}"
    )
    return path


def start(config: Path, out: Path, *extra: str, log: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "judge", "run", str(config), "--out", str(out), "--bootstrap", "10"]
    if log is None:
        return subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=stderr, text=True)


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def holder(out: Path) -> dict | None:
    try:
        return json.loads((out / LOCK_NAME).read_text() or "null")
    except (OSError, ValueError):
        return None


def test_a_second_run_is_refused_or_waits_and_nothing_is_paid_twice(tmp_path):
    out = tmp_path / "out"
    with FaultServer() as server:
        config = write_config(tmp_path, server.openai_url, judge_delay=0)
        server.gate.clear()  # the first run's answers are held: it keeps the lock as long as the test needs
        first = start(config, out)
        log = tmp_path / "queued.err"
        try:
            wait_for(lambda: holder(out) is not None, "the first run to take the lock")
            refused = subprocess.run(
                [sys.executable, "-m", "judge", "run", str(config), "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=300,
            )
            queued = start(config, out, "--wait", log=log)
            wait_for(lambda: "waiting" in log.read_text(), "the queued run to wait")
            server.gate.set()
            _, first_err = first.communicate(timeout=300)
            queued_out, _ = queued.communicate(timeout=300)
        finally:
            server.gate.set()
            first.kill()
        assert first.returncode == 0, first_err
        assert refused.returncode == 4, refused.stderr
        lines = [text for text in refused.stderr.splitlines() if text.strip()]
        line = lines[0]
        assert len(lines) == 2 and lines[1].startswith("hint: ")
        assert line.startswith(f"judge: error: {out}: results directory in use by judge run {config} ")
        assert f"(pid {first.pid} on " in line and ", since 20" in line
        assert queued.returncode == 0, log.read_text()
        assert "judge: waiting for the results directory, in use by judge run" in log.read_text()
        assert "answers: asked 0, reused 4" in queued_out  # it ran after the first, reusing everything
        assert server.count == 4  # 2 contestants x 2 questions, paid once
    assert holder(out) is None  # released


def test_a_killed_runs_lock_is_taken_over_and_its_run_marked_interrupted(tmp_path):
    out = tmp_path / "out"
    with FaultServer() as server:
        slow = start(write_config(tmp_path, server.openai_url, judge_delay=60), out)
        db = out / "judge.sqlite"

        def judging_started() -> bool:
            if not db.exists():
                return False
            con = sqlite3.connect(db)
            try:
                return con.execute("SELECT COUNT(*) FROM runs WHERE stage = 'judge'").fetchone()[0] > 0
            except sqlite3.Error:
                return False
            finally:
                con.close()

        try:
            wait_for(judging_started, "the slow run to start judging")
            os.kill(
                slow.pid, signal.SIGKILL
            )  # no finally block runs: the run stays 'running', the file stays
            slow.communicate(timeout=30)
        finally:
            slow.kill()
        assert holder(out)["pid"] == slow.pid
        result = CliRunner().invoke(
            cli,
            [
                "run",
                str(write_config(tmp_path, server.openai_url, 0)),
                "--out",
                str(out),
                "--bootstrap",
                "10",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "note: 1 earlier run(s) had been interrupted (now marked so)" in result.stderr
    con = sqlite3.connect(out / "judge.sqlite")
    statuses = [s for (s,) in con.execute("SELECT status FROM runs ORDER BY run_id")]
    con.close()
    assert statuses == ["finished", "interrupted", "finished", "finished"]
