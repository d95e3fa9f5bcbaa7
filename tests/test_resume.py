"""Kill -9 in the middle of `judge answers`, run it again, and get the same store as an uninterrupted run.

A real subprocess (`python -m judge answers`) against the echo provider with a per-call delay, so the kill
lands while answers are still arriving. Each answer is its own transaction, so the killed run loses only the
calls in flight, and the rerun asks exactly what is missing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from judge import api

CONFIG = """\
name: resume
questions: {path: mt_bench, limit: 10}
contestants:
  - {name: slow-a, provider: echo, delay: 0.05, concurrency: 1}
  - {name: slow-b, provider: echo, delay: 0.05, concurrency: 1, temperature: 0.3}
"""
TOTAL = 2 * 10 * 2


def rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(
            "SELECT key, contestant, question_id, turn, text FROM answers ORDER BY key"
        ).fetchall()
    finally:
        con.close()


def answer_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=10)
        try:
            return int(con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:  # created but not migrated yet
        return 0


def judge_answers(config: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "judge", "answers", str(config), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path):
    config = tmp_path / "resume.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "killed"
    db = out / "judge.sqlite"

    proc = judge_answers(config, out)
    deadline = time.monotonic() + 60
    while answer_count(db) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    at_kill = rows(db)
    assert 5 <= len(at_kill) < TOTAL

    proc = judge_answers(config, out)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    assert f"reused {len(at_kill)}," in stdout.decode()

    uninterrupted = api.answers(config, out=tmp_path / "whole", env={})
    assert uninterrupted.progress.asked == TOTAL
    resumed = rows(db)
    assert resumed == rows(tmp_path / "whole" / "judge.sqlite")
    assert len(resumed) == TOTAL and set(at_kill) <= set(resumed)

    con = sqlite3.connect(db)
    statuses = [s for (s,) in con.execute("SELECT status FROM runs ORDER BY run_id")]
    con.close()
    assert statuses == ["interrupted", "finished"]  # the killed run could not say so; the next one did
