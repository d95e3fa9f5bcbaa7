"""Endpoint pools: `base_url:` as a list of replicas, routed by load, around replicas that fail.

Real replicas: three fake OpenAI-compatible servers on loopback, driven through the openai SDK. One dies in
the middle of a tournament (it drops its connections, then refuses new ones): the run completes with no
failure and the dead replica is cooled down. A slow replica gets fewer calls than fast ones.
"""

from __future__ import annotations

import asyncio
import contextlib

from judge import api
from judge.providers.base import CallFailed, Completion, Endpoint, ErrorKind, Message, Request
from judge.providers.pool import PoolProvider
from tests.batch_server import BatchServer

RETRIES = "retries: {attempts: 3, initial_wait: 0, max_wait: 0, jitter: 0}\n"


def pool_config(tmp_path, urls: list[str], limit: int = 10, concurrency: int = 6):
    listed = "[" + ", ".join(f"'{u}'" for u in urls) + "]"
    path = tmp_path / "t.yaml"
    path.write_text(
        f"name: t\nquestions: {{path: mt_bench, limit: {limit}, turns: 1}}\nconcurrency: {concurrency}\n"
        "contestants:\n"
        f"  - {{name: a, provider: openai, model: m1, base_url: {listed}}}\n"
        f"  - {{name: b, provider: openai, model: m2, base_url: {listed}}}\n"
        f"judge: {{provider: openai, model: judge-m, base_url: {listed}}}\n{RETRIES}"
    )
    return path


def test_a_replica_that_dies_mid_run_costs_nothing(tmp_path):
    with BatchServer(delay_s=0.02) as r1, BatchServer(delay_s=0.02) as r2, BatchServer(delay_s=0.02) as r3:
        r2.die_after = 8
        urls = [r1.openai_url, r2.openai_url, r3.openai_url]
        result = api.run(
            pool_config(tmp_path, urls), out=tmp_path / "out", env={}, bootstrap=0, write_html=False
        )
        o = result.outcome
        assert o.answers.progress.asked == 20 and o.answers.progress.failed == 0
        assert o.judging.judged == 20 and o.judging.failed == 0 and o.battles
        replicas = result.diagnostics["judge"]["replicas"]
        contestants = result.diagnostics["contestants"]["a"]["replicas"]
        assert [r["base_url"] for r in replicas] == urls
        for counts in (replicas, contestants):
            alive = [counts[0], counts[2]]
            assert all(r["ok"] > 0 for r in alive)
        dead = [replicas[1], contestants[1], result.diagnostics["contestants"]["b"]["replicas"][1]]
        assert sum(r["cooldowns"] for r in dead) >= 1  # at least one pool saw it die and took it out
        assert r2.live_calls == 8 and r1.live_calls + r3.live_calls == 40 - 8  # no call lost or repeated


def test_calls_spread_by_load(tmp_path):
    with (
        BatchServer(delay_s=0.01) as fast1,
        BatchServer(delay_s=0.01) as fast2,
        BatchServer(delay_s=0.2) as slow,
    ):
        urls = [fast1.openai_url, fast2.openai_url, slow.openai_url]
        result = api.run(
            pool_config(tmp_path, urls, limit=12, concurrency=3), out=tmp_path / "out", env={}, bootstrap=0,
            write_html=False,
        )  # fmt: skip
        assert result.outcome.judging.failed == 0
        assert slow.live_calls < min(fast1.live_calls, fast2.live_calls)
        peaks = [r["peak_in_flight"] for r in result.diagnostics["judge"]["replicas"]]
        assert max(peaks) <= 3


class _Scripted:
    """A provider answering from a script of outcomes (routing logic only; the HTTP side is tested above)."""

    name = "scripted"

    def __init__(self, outcomes: list[str]) -> None:
        self.outcomes, self.calls = outcomes, 0

    async def complete(self, request: Request) -> Completion:
        self.calls += 1
        step = self.outcomes.pop(0) if self.outcomes else "ok"
        if step == "refused":
            raise CallFailed(ErrorKind.TRANSIENT, "connection failed: refused")
        if step == "500":
            raise CallFailed(ErrorKind.TRANSIENT, "HTTP 500: internal error")
        if step == "400":
            raise CallFailed(ErrorKind.BAD_REQUEST, "HTTP 400: bad")
        return Completion(text="ok")

    async def aclose(self) -> None:
        pass


def test_cool_down_then_back_in_service():
    now = [0.0]
    down, up = _Scripted(["refused", "refused"]), _Scripted([])
    pool = PoolProvider(
        Endpoint("openai", "m"), [("http://a", down), ("http://b", up)], cooldown_s=5, clock=lambda: now[0]
    )
    request = Request("m", (Message("user", "hi"),))

    async def go() -> None:
        assert (await pool.complete(request)).text == "ok"  # a refused, retried at once on b
        assert (down.calls, up.calls) == (1, 1)
        for _ in range(3):
            await pool.complete(request)
        assert down.calls == 1  # cooling down: b takes everything
        now[0] = 6.0
        await pool.complete(request)  # a is back and refuses again: 10 s this time
        assert down.calls == 2 and pool.replicas[0].out_until == 16.0
        now[0] = 17.0
        await pool.complete(request)
        assert down.calls == 3 and pool.replicas[0].streak == 0  # it answered: trusted again
        # A bad request is the request's fault, not the replica's: not retried elsewhere, no strike.
        down.outcomes.append("400")
        up.outcomes.append("400")
        try:
            await pool.complete(request)
        except CallFailed as exc:
            assert exc.kind is ErrorKind.BAD_REQUEST
        assert all(r.out_until <= now[0] for r in pool.replicas)

    asyncio.run(go())


def test_every_replica_out_is_a_transient_failure_with_retry_after():
    now = [0.0]
    a, b = _Scripted(["500"] * 3), _Scripted(["refused"])
    pool = PoolProvider(Endpoint("openai", "m"), [("http://a", a), ("http://b", b)], clock=lambda: now[0])
    request = Request("m", (Message("user", "hi"),))

    async def go() -> None:
        for _ in range(3):
            with contextlib.suppress(CallFailed):
                await pool.complete(request)
        try:
            await pool.complete(request)
        except CallFailed as exc:
            assert exc.kind is ErrorKind.TRANSIENT and "cooling down" in exc.message
            assert exc.retry_after is not None and 0 < exc.retry_after <= 5
        else:
            raise AssertionError("expected every replica to be out")

    asyncio.run(go())


def test_a_pool_streams_from_a_healthy_replica(tmp_path):
    from judge.providers.base import stream_text

    with BatchServer() as dead, BatchServer() as alive:
        dead.stop()
        endpoint = Endpoint(
            "openai", "m", dead.openai_url, "k", replicas=(dead.openai_url, alive.openai_url), timeout_s=5
        )
        from judge.providers import ProviderHub

        async def go() -> str:
            async with ProviderHub() as hub:
                provider = hub.get(endpoint)
                pieces = [p async for p in stream_text(provider, Request("m", (Message("user", "hi"),)))]
                counts = hub.replica_counts(endpoint)
            assert counts is not None and counts[0]["cooldowns"] == 1 and counts[1]["ok"] == 1
            return "".join(pieces)

        assert asyncio.run(go()).startswith("answer ")
