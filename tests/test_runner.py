"""The runner's policy against the Provider protocol: what is retried, how long it waits, how much at once.

A scripted provider plays back failures; waits are recorded through the runner's injected sleep (no timing).
The same policy against a real misbehaving HTTP server is in test_answers.py.
"""

from __future__ import annotations

import asyncio

import pytest

from judge.config import Prices, RetryConfig
from judge.providers.base import CallFailed, Completion, Endpoint, ErrorKind, Message, Request
from judge.runner import Failed, Job, Runner, Success, request_key

ENDPOINT = Endpoint("echo", "m")
REQUEST = Request(model="m", messages=(Message("user", "hi"),))
NO_WAIT = RetryConfig(attempts=4, initial_wait=0, max_wait=0, jitter=0)


class Scripted:
    """Raises the scripted failures in order, then answers; counts calls and the most in flight at once."""

    name = "scripted"

    def __init__(self, *failures: CallFailed, gate: asyncio.Event | None = None) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = gate

    async def complete(self, request: Request) -> Completion:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.failures:
                raise self.failures.pop(0)
            return Completion(text="answer", input_tokens=1000, output_tokens=2000)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        pass


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run_one(provider: Scripted, retries: RetryConfig = NO_WAIT, sleep=None, **job):
    outcomes = []

    async def main():
        runner = Runner(lambda endpoint: provider, retries, sleep=sleep if sleep is not None else Sleeps())
        return await runner.execute(Job("k", ENDPOINT, lambda: REQUEST, outcomes.append, **job))

    outcome = asyncio.run(main())
    assert outcomes == [outcome]  # on_result saw exactly what execute returned
    return outcome


@pytest.mark.parametrize("kind", [ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT, ErrorKind.TIMEOUT])
def test_retryable_kinds_are_retried(kind):
    provider = Scripted(CallFailed(kind, "once"), CallFailed(kind, "twice"))
    outcome = run_one(provider)
    assert isinstance(outcome, Success) and provider.calls == 3
    assert [(c.attempt, c.ok, c.error_kind) for c in outcome.calls] == [
        (1, False, str(kind)),
        (2, False, str(kind)),
        (3, True, None),
    ]


@pytest.mark.parametrize("kind", [ErrorKind.AUTH, ErrorKind.BAD_REQUEST, ErrorKind.CONTEXT_TOO_LONG])
def test_permanent_kinds_are_not_retried(kind):
    provider = Scripted(CallFailed(kind, "no"))
    outcome = run_one(provider)
    assert isinstance(outcome, Failed) and provider.calls == 1
    assert (outcome.kind, outcome.message, outcome.attempts) == (str(kind), "no", 1)


def test_gives_up_after_the_last_try_and_reports_the_reason():
    provider = Scripted(*[CallFailed(ErrorKind.TRANSIENT, f"HTTP 500 #{i}") for i in range(10)])
    outcome = run_one(provider)
    assert isinstance(outcome, Failed) and provider.calls == 4
    assert (outcome.kind, outcome.message, outcome.attempts) == ("transient", "HTTP 500 #3", 4)


def test_backoff_is_exponential_up_to_max_wait():
    sleeps = Sleeps()
    provider = Scripted(*[CallFailed(ErrorKind.TRANSIENT, "x") for _ in range(5)])
    run_one(provider, RetryConfig(attempts=6, initial_wait=1, max_wait=5, jitter=0), sleep=sleeps)
    assert sleeps == [1, 2, 4, 5, 5]


def test_retry_after_is_honoured_up_to_max_wait():
    sleeps = Sleeps()
    failures = [
        CallFailed(ErrorKind.RATE_LIMITED, "429", retry_after=3),
        CallFailed(ErrorKind.RATE_LIMITED, "429", retry_after=99),
    ]
    run_one(
        Scripted(*failures), RetryConfig(attempts=3, initial_wait=0.5, max_wait=10, jitter=0), sleep=sleeps
    )
    assert sleeps == [3, 10]


def test_cost_from_prices_per_million_tokens():
    outcome = run_one(Scripted(), prices=Prices(input=3, output=15))
    assert isinstance(outcome, Success)
    (call,) = outcome.calls
    assert (call.input_tokens, call.output_tokens) == (1000, 2000)
    assert call.cost_usd == pytest.approx(0.003 + 0.030)


def test_concurrency_limit_per_endpoint():
    gate = asyncio.Event()
    provider = Scripted(gate=gate)
    done = []

    async def main():
        runner = Runner(lambda endpoint: provider, NO_WAIT)
        jobs = [Job(f"k{i}", ENDPOINT, lambda: REQUEST, done.append, concurrency=2) for i in range(6)]

        async def open_gate():
            while provider.in_flight < 2:
                await asyncio.sleep(0)
            for _ in range(20):  # let any job that could wrongly start do so
                await asyncio.sleep(0)
            gate.set()

        await runner.gather([open_gate(), *(runner.execute(job) for job in jobs)])

    asyncio.run(main())
    assert provider.most_in_flight == 2 and len(done) == 6


def test_rpm_spaces_request_starts():
    sleeps = Sleeps()
    provider = Scripted()

    async def main():
        runner = Runner(lambda endpoint: provider, NO_WAIT, sleep=sleeps, clock=lambda: 100.0)
        for i in range(3):
            await runner.execute(Job(f"k{i}", ENDPOINT, lambda: REQUEST, lambda o: None, rpm=30))

    asyncio.run(main())
    assert sleeps == [2.0, 4.0]  # a frozen clock: each start waits 60/30 s more than the one before


def test_a_bug_in_a_job_is_not_swallowed():
    def broken(outcome):
        raise RuntimeError("bug in on_result")

    async def main():
        runner = Runner(lambda endpoint: Scripted(), NO_WAIT)
        await runner.gather([runner.execute(Job("k", ENDPOINT, lambda: REQUEST, broken))])

    with pytest.raises(ExceptionGroup) as caught:
        asyncio.run(main())
    assert caught.group_contains(RuntimeError, match="bug in on_result")


def test_request_key_is_content_addressed_and_never_holds_the_api_key():
    base = request_key("a1:", Endpoint("openai", "m", api_key="sk-one"), REQUEST)
    assert base.startswith("a1:") and len(base) == 3 + 64
    assert base == request_key("a1:", Endpoint("openai", "m", api_key="sk-two", timeout_s=5), REQUEST)
    assert base != request_key("a1:", Endpoint("anthropic", "m"), REQUEST)
    assert base != request_key("a1:", Endpoint("openai", "m", base_url="http://127.0.0.1:1/v1"), REQUEST)
    warmer = Request(model="m", messages=REQUEST.messages, temperature=0.7)
    assert base != request_key("a1:", Endpoint("openai", "m"), warmer)
    assert base != request_key("a1:", Endpoint("openai", "m"), REQUEST, {"question_id": "81"})
