"""A full disk, for real: `judge run` on a small tmpfs, mounted in a private mount namespace (no root needed
where user namespaces are allowed; skipped where they are not).

A full disk used to give a raw ExceptionGroup traceback and exit 1, leave `.details.jsonl.tmp` behind and a
battles.jsonl without its leaderboard, and keep asking models after the writes failed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from judge.report.outputs import RESULT_FILES
from tests.fault_server import FaultServer, Step

ANSWER = "x" * 20_000  # four answers fill what the ballast leaves of the disk

DRIVER = textwrap.dedent(
    """
    import json, os, sqlite3, subprocess, sys

    mnt, config = sys.argv[1], sys.argv[2]
    out, ballast = os.path.join(mnt, "out"), os.path.join(mnt, "ballast")

    def run():
        cmd = [sys.executable, "-m", "judge", "run", config, "--out", out, "--bootstrap", "10"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        con = sqlite3.connect(os.path.join(out, "judge.sqlite"))
        try:
            answers = con.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        except sqlite3.Error:
            answers = None
        con.close()
        files = sorted(os.listdir(out))
        return {"rc": done.returncode, "stderr": done.stderr, "files": files, "answers": answers}

    def fill(leave):
        st = os.statvfs(mnt)
        with open(ballast, "ab") as fh:
            fh.write(b"\\0" * max(0, st.f_bavail * st.f_frsize - leave))

    steps = []
    fill(200_000)
    steps.append(run())  # the store fills up while answers arrive
    os.remove(ballast)
    steps.append(run())  # room again: resumes, pays only for what was not stored
    fill(150_000)
    steps.append(run())  # the store fits, the result files do not
    print(json.dumps(steps))
    """
)


def namespace_mount_works(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    check = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"], capture_output=True
    )
    return check.returncode == 0


def test_disk_full_is_exit_4_one_line_no_temp_files_no_partial_set_no_more_calls(tmp_path):
    if not namespace_mount_works(tmp_path):
        pytest.skip("cannot mount a tmpfs in a user namespace here")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    with FaultServer() as server:
        server.script(*[Step.ok(ANSWER) for _ in range(100)])
        config = tmp_path / "t.yaml"
        model = f'provider: openai, model: m, base_url: "{server.openai_url}", concurrency: 1'
        config.write_text(
            "name: t\nquestions: {path: mt_bench, limit: 4, turns: 1}\ncontestants:\n"
            f"  - {{name: a, {model}}}\n  - {{name: b, {model}, temperature: 0.5}}\n"
            "judge: {provider: echo, answer_format: json}\n"
            "retries: {attempts: 2, initial_wait: 0, max_wait: 0, jitter: 0}\n"
        )
        script = f"mount -t tmpfs -o size=1m tmpfs {mnt} && exec {sys.executable} {driver} {mnt} {config}"
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr
        full_store, resumed, full_files = json.loads(done.stdout)
        first_calls = full_store["answers"] + 1  # what was stored, and the one whose write failed
        assert server.count == first_calls + (8 - full_store["answers"])

    for step in (full_store, full_files):
        assert step["rc"] == 4, step["stderr"]
        lines = [line for line in step["stderr"].splitlines() if line.startswith(("judge: ", "hint: "))]
        assert len(lines) == 2 and lines[1].startswith("hint: "), step["stderr"]
        assert "disk full" in lines[0] and "Traceback" not in step["stderr"]
        assert not [name for name in step["files"] if name.endswith((".tmp", ".partial"))]
        assert not set(step["files"]) & set(RESULT_FILES)  # no result file without the rest of its set
    assert lines[0].startswith(f"judge: error: {mnt}/out/") and "cannot write" in lines[0]
    assert 0 < full_store["answers"] < 8
    assert "judge.sqlite: disk full: cannot write the results database" in full_store["stderr"]
    # No model was called after the first failed write: the server saw exactly one call per stored answer
    # plus the one that could not be stored; the resumed run asked only for the rest.
    assert resumed["rc"] == 0, resumed["stderr"]
    assert resumed["answers"] == 8 and set(RESULT_FILES) <= set(resumed["files"])
