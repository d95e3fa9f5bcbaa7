"""`workers: N`: an endpoint's calls made by child processes (judge.providers.workers).

Real parts: the children run the official openai SDK against fake OpenAI-compatible servers on loopback
(tests/batch_server.py); a child is killed with SIGKILL while calls are in flight; the results go to the real
SQLite store. A replica dying mid-run is routed around inside the children, their pool counts add up in
diagnostics, and bad `workers:` values are config errors (exit 2).
"""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from judge import api, load_config
from judge.errors import ConfigError
from judge.providers import ProviderHub, stream_text
from judge.providers.base import CallFailed, Endpoint, ErrorKind, Message, Request
from judge.providers.workers import WorkerProvider, auto_workers
from judge.store import DB_NAME, Store
from tests.batch_server import BatchServer

RETRIES = "retries: {attempts: 3, initial_wait: 0, max_wait: 0, jitter: 0}\n"


def config(tmp_path: Path, urls: list[str], judge_workers: int, contestant_workers: int = 0) -> Path:
    listed = "[" + ", ".join(f"'{u}'" for u in urls) + "]"
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\nquestions: {path: mt_bench, limit: 10, turns: 1}\nconcurrency: 6\ncontestants:\n"
        f"  - {{name: a, provider: openai, model: m1, base_url: {listed}, workers: {contestant_workers}}}\n"
        f"  - {{name: b, provider: openai, model: m2, base_url: {listed}}}\n"
        f"judge: {{provider: openai, model: judge-m, base_url: {listed}, workers: {judge_workers}}}\n"
        + RETRIES
    )
    return path


def test_a_run_with_workers_routes_around_a_dying_replica_and_counts_add_up(tmp_path):
    with BatchServer(delay_s=0.02) as r1, BatchServer(delay_s=0.02) as r2, BatchServer(delay_s=0.02) as r3:
        r2.die_after = 8
        urls = [r1.openai_url, r2.openai_url, r3.openai_url]
        path = config(tmp_path, urls, judge_workers=2, contestant_workers=1)
        result = api.run(path, out=tmp_path / "out", env={}, bootstrap=0, write_html=False)
        o = result.outcome
        assert o.answers.progress.asked == 20 and o.answers.progress.failed == 0
        assert o.judging.judged == 20 and o.judging.failed == 0 and o.battles
        assert r2.live_calls == 8 and r1.live_calls + r3.live_calls == 40 - 8  # no call lost or repeated
        judge = result.diagnostics["judge"]["replicas"]
        a = result.diagnostics["contestants"]["a"]["replicas"]
        b = result.diagnostics["contestants"]["b"]["replicas"]
        assert [r["base_url"] for r in judge] == urls
        # The children's counts, summed: every successful call of each endpoint is there exactly once.
        assert sum(r["ok"] for r in judge) == 20 and sum(r["ok"] for r in a) == 10
        assert sum(r["ok"] for r in a + b + judge) == 40
        assert all(r["ok"] > 0 for r in (judge[0], judge[2]))
        dead = [judge[1], a[1], b[1]]
        assert sum(r["cooldowns"] for r in dead) >= 1  # some pool saw it die and took it out
        calls_before = r1.live_calls + r3.live_calls
        again = api.run(path, out=tmp_path / "out", env={}, bootstrap=0, write_html=False)
        assert again.outcome.judging.failed == 0 and r1.live_calls + r3.live_calls == calls_before


def test_a_killed_worker_fails_its_calls_as_transient_and_is_started_again():
    with BatchServer(delay_s=0.5) as server:
        endpoint = Endpoint("openai", "m", server.openai_url, "k", timeout_s=20, workers=2)

        async def go() -> None:
            async with ProviderHub() as hub:
                provider = hub.get(endpoint)
                assert isinstance(provider, WorkerProvider)
                await provider.start()
                first = provider.pids()
                assert len(first) == 2
                calls = [
                    asyncio.ensure_future(provider.complete(Request("m", (Message("user", f"q{i}"),))))
                    for i in range(8)
                ]
                while server.live_calls < 8:  # every call is at the server: both children are busy
                    await asyncio.sleep(0.01)
                os.kill(first[0], signal.SIGKILL)
                outcomes = await asyncio.gather(*calls, return_exceptions=True)
                failed = [o for o in outcomes if isinstance(o, BaseException)]
                assert len(failed) == 4  # the killed child's share, none answered, none a tie or answer
                assert all(isinstance(e, CallFailed) and e.kind is ErrorKind.TRANSIENT for e in failed)
                assert all("exited" in str(e) for e in failed)
                again = await asyncio.gather(
                    *(provider.complete(Request("m", (Message("user", f"r{i}"),))) for i in range(4))
                )
                assert all(c.text.startswith("answer ") for c in again)
                assert provider.restarts == 1 and len(provider.pids()) == 2
                assert first[0] not in provider.pids()
                # A call the runner gives up on (its timeout) is cancelled in the child; the rest go on.
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(provider.complete(Request("m", (Message("user", "x"),))), 0.1)
                assert (await provider.complete(Request("m", (Message("user", "y"),)))).text
                assert provider.in_flight() == 0

        asyncio.run(go())


def _worker_children() -> list[int]:
    """This process's worker children, found in /proc (the run's hub is not reachable from a test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"judge.providers.workers" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_run_whose_worker_is_killed_mid_run_still_completes(tmp_path):
    with BatchServer(delay_s=0.1) as server:
        killed: list[int] = []

        def killer() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                if server.live_calls >= 24:  # the judge's calls are under way (20 answers came first)
                    for pid in _worker_children():
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                time.sleep(0.01)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        path = config(tmp_path, [server.openai_url, server.openai_url + "/"], judge_workers=1)
        result = api.run(path, out=tmp_path / "out", env={}, bootstrap=0, write_html=False)
        thread.join(timeout=5)
        assert killed
        o = result.outcome
        assert o.judging.judged == 20 and o.judging.failed == 0 and o.battles
        assert sum(r["ok"] for r in result.diagnostics["judge"]["replicas"]) == 20
        with Store.open(tmp_path / "out" / DB_NAME) as store:  # the killed child's calls: errors, retried
            failed = [c for c in store.calls() if not c.ok]
        assert failed and all(c.error_kind == "transient" for c in failed)


def test_streaming_stays_in_process():
    with BatchServer() as server:
        endpoint = Endpoint("openai", "m", server.openai_url, "k", workers=3)

        async def go() -> str:
            async with ProviderHub() as hub:
                provider = hub.get(endpoint)
                pieces = [p async for p in stream_text(provider, Request("m", (Message("user", "hi"),)))]
                assert isinstance(provider, WorkerProvider) and provider.pids() == []  # none started
            return "".join(pieces)

        assert asyncio.run(go()).startswith("answer ")


BASE = """\
name: t
questions: {path: q.jsonl}
contestants:
  - {name: a, provider: echo}
  - {name: b, provider: echo, model: e2}
judge:
  provider: openai
  model: j
  base_url: http://127.0.0.1:9/v1
"""


@pytest.mark.parametrize(
    ("extra", "wanted"),
    [
        ("  workers: -1\n", "judge.workers: must be between 0 and 64, got -1"),
        ("  workers: 65\n", "must be between 0 and 64"),
        ("  workers: many\n", "judge.workers: must be a whole number or auto, got 'many'"),
        ("  workers: true\n", "must be a whole number or auto"),
        ("  workers: 2\n  batch: true\n", "judge.workers: cannot go with batch"),
    ],
)
def test_bad_workers_values_are_config_errors(tmp_path, extra, wanted):
    (tmp_path / "q.jsonl").write_text('{"question_id": 1, "category": "math", "turns": ["1+1?"]}\n')
    path = tmp_path / "t.yaml"
    path.write_text(BASE + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.exit_code == 2 and wanted in str(caught.value)
    assert f"{path}:" in caught.value.message  # file and line


def test_workers_on_a_provider_without_http_calls_is_a_config_error(tmp_path):
    (tmp_path / "q.jsonl").write_text('{"question_id": 1, "category": "math", "turns": ["1+1?"]}\n')
    path = tmp_path / "t.yaml"
    path.write_text(
        BASE.replace("  - {name: a, provider: echo}", "  - {name: a, provider: echo, workers: 2}")
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert "contestants[0].workers: is not used by provider echo" in str(caught.value)


def test_workers_auto_and_numbers_reach_the_endpoint(tmp_path):
    (tmp_path / "q.jsonl").write_text('{"question_id": 1, "category": "math", "turns": ["1+1?"]}\n')
    path = tmp_path / "t.yaml"
    path.write_text(BASE + "  workers: auto\n")
    assert load_config(path, {}).judge.endpoint().workers == auto_workers() >= 1
    path.write_text(BASE + "  workers: 3\n")
    judge = load_config(path, {}).judge
    assert judge.endpoint().workers == 3 and "workers" not in judge.identity()  # answers keys unchanged
    path.write_text(textwrap.dedent(BASE))
    assert load_config(path, {}).judge.endpoint().workers == 0
