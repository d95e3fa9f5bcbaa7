"""Runs model-call jobs concurrently, within per-endpoint concurrency and requests-per-minute limits.

Generic over jobs (a key, a request builder and an on_result callback) so that the answer stage and the
judging stage share it. Providers classify failures into ErrorKinds; this module alone decides what is
retried (tenacity): rate_limited, transient, timeout (and a judge's unparseable reply) are, with exponential
backoff plus jitter, honouring a server's Retry-After up to `retries.max_wait`; auth, bad_request and
context_too_long never are. After the last try the failure goes to on_result as data, never raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from judge.config import Prices, RetryConfig
from judge.errors import BatchesPending, JudgeError
from judge.providers.base import CallFailed, Completion, Endpoint, ErrorKind, Provider, Request
from judge.redaction import NO_SECRETS, Redactor
from judge.store import Call

if TYPE_CHECKING:
    from judge.batches import BatchQueue

Sleep = Callable[[float], Awaitable[None]]
P = TypeVar("P", bound="StageProgress")


class StageProgress(Protocol):
    """A frozen dataclass of counters, with how many items settled and what happened last."""

    @property
    def done(self) -> int: ...

    @property
    def last(self) -> str: ...


def counted(progress: P, last: str, **counts: int) -> P:
    """A stage's progress after some items settled: the named counters and `done` go up, `last` says what."""
    bumped = {name: getattr(progress, name) + n for name, n in counts.items()}
    done = progress.done + sum(counts.values())
    return replace(progress, done=done, last=last, **bumped)  # type: ignore[type-var]


def request_key(
    prefix: str, endpoint: Endpoint, request: Request, extra: Mapping[str, Any] | None = None
) -> str:
    """prefix + sha256 of the canonical JSON of everything that shapes the answer; never the API key."""
    canonical = {
        "provider": endpoint.provider,
        "base_url": endpoint.base_url,
        "model": request.model,
        "system": request.system,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "messages": [[m.role, m.content] for m in request.messages],
        "json_schema": request.json_schema,
        "logprobs": request.logprobs,
        **(extra or {}),
    }
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Success:
    key: str
    completion: Completion
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Failed:
    key: str
    kind: str
    message: str
    calls: tuple[Call, ...]

    @property
    def attempts(self) -> int:
        return len(self.calls)


Outcome = Success | Failed


@dataclass(frozen=True)
class Job:
    """One model call to make. Jobs on equal endpoints share the first job's concurrency and rpm limits."""

    key: str
    endpoint: Endpoint
    request: Callable[[], Request]
    on_result: Callable[[Outcome], None]
    concurrency: int = 4
    rpm: float | None = None
    prices: Prices | None = None
    lane: Hashable | None = field(default=None, compare=False)  # defaults to the endpoint


class _Lane:
    """The limits shared by all jobs on one endpoint: a semaphore and an evenly spaced request pace."""

    def __init__(self, concurrency: int, rpm: float | None) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.interval = 0.0 if rpm is None else 60.0 / rpm
        self.next_start = float("-inf")

    async def pace(self, clock: Callable[[], float], sleep: Sleep) -> None:
        if self.interval:
            now = clock()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
            if start > now:
                await sleep(start - now)


class Runner:
    """Makes calls through providers from `providers` (e.g. ProviderHub.get); one per stage of one run."""

    def __init__(
        self,
        providers: Callable[[Endpoint], Provider],
        retries: RetryConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        batches: BatchQueue | None = None,
        redact: Redactor = NO_SECRETS,
    ) -> None:
        """`batches` takes the calls of endpoints with `batch:` set (without it they are made live)."""
        self._providers = providers
        self._batches = batches
        self._redact = redact
        self._halted: JudgeError | None = None
        self._retries = retries
        self._sleep = sleep
        self._clock = clock
        self._lanes: dict[Hashable, _Lane] = {}
        exponential = wait_exponential(multiplier=retries.initial_wait, max=retries.max_wait)
        self._backoff = exponential + wait_random(0, retries.jitter)

    def _wait(self, state: RetryCallState) -> float:
        wait = float(self._backoff(state))
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, CallFailed) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return min(wait, self._retries.max_wait)

    async def execute(self, job: Job) -> Outcome:
        """Make one job's call with retries, hand the outcome to job.on_result, and return it."""
        lane_key = job.lane if job.lane is not None else job.endpoint
        lane = self._lanes.get(lane_key)
        if lane is None:
            lane = self._lanes[lane_key] = _Lane(job.concurrency, job.rpm)
        provider = self._providers(job.endpoint)
        request = job.request()
        calls: list[Call] = []
        batched = self._batches is not None and job.endpoint.batch is not None

        async def attempt() -> Completion:
            if batched:
                return await self._batch_attempt(job, request, calls)
            return await self._attempt(job, lane, provider, request, calls)

        outcome: Outcome
        try:
            try:
                completion = await attempt()
            except CallFailed as first:
                # Most calls succeed at once: tenacity (whose set-up costs more client CPU than the rest of
                # the runner) is only started for the retries, with the first failure as its attempt 1.
                if not first.kind.retryable or self._retries.attempts < 2:
                    raise
                completion = await self._retry(first, attempt, batched)
            outcome = Success(job.key, completion, tuple(calls))
        except CallFailed as exc:
            # A server may quote the key it was sent: the message is cleaned before anyone stores or shows it.
            message = Redactor.of([job.endpoint.api_key])(self._redact(exc.message))
            outcome = Failed(job.key, str(exc.kind), message, tuple(calls))
        job.on_result(outcome)
        return outcome

    async def _retry(
        self, first: CallFailed, attempt: Callable[[], Awaitable[Completion]], batched: bool
    ) -> Completion:
        """Attempts 2.. of a call whose first attempt failed with `first` (retryable), with backoff."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retries.attempts),
            wait=(lambda state: 0.0) if batched else self._wait,  # a batch is slow enough as it is
            retry=retry_if_exception(lambda e: isinstance(e, CallFailed) and e.kind.retryable),
            sleep=self._sleep,
            reraise=True,
        )
        pending: list[CallFailed] = [first]
        async for state in retrying:
            with state:
                if pending:  # attempt 1 already happened: tenacity sees its failure, then waits
                    raise pending.pop()
                return await attempt()
        raise AssertionError("tenacity stops by raising")  # pragma: no cover

    async def _attempt(
        self, job: Job, lane: _Lane, provider: Provider, request: Request, calls: list[Call]
    ) -> Completion:
        async with lane.slots:
            await lane.pace(self._clock, self._sleep)
            if self._halted is not None:  # another job's result could not be stored: call nothing more
                raise self._halted
            started = self._clock()
            try:
                # A safety net above the provider's own timeout, so a stuck call cannot stall a run.
                async with asyncio.timeout(job.endpoint.timeout_s + 10.0):
                    completion = await provider.complete(request)
            except CallFailed as exc:
                calls.append(Call(job.key, len(calls) + 1, False, self._clock() - started, str(exc.kind)))
                raise
            except TimeoutError as exc:
                calls.append(Call(job.key, len(calls) + 1, False, self._clock() - started, ErrorKind.TIMEOUT))
                raise CallFailed(ErrorKind.TIMEOUT, f"no answer in {job.endpoint.timeout_s:g} s") from exc
        latency = completion.latency_s or (self._clock() - started)
        cost = None
        if job.prices is not None:
            cost = job.prices.cost(completion.input_tokens, completion.output_tokens)
        tokens = (completion.input_tokens, completion.output_tokens)
        calls.append(Call(job.key, len(calls) + 1, True, latency, None, *tokens, cost))
        return completion

    async def _batch_attempt(self, job: Job, request: Request, calls: list[Call]) -> Completion:
        """One try through the endpoint's provider batches: no lane (the provider paces a batch itself)."""
        assert self._batches is not None
        started = self._clock()
        try:
            completion, batch_id = await self._batches.call(job.endpoint, job.key, request)
        except CallFailed as exc:
            calls.append(Call(job.key, len(calls) + 1, False, self._clock() - started, str(exc.kind)))
            raise
        cost = None
        if job.prices is not None:
            cost = job.prices.cost(completion.input_tokens, completion.output_tokens, batch=True)
        tokens = (completion.input_tokens, completion.output_tokens)
        # Latency 0: the wait for a batch says nothing about the model's time per call.
        calls.append(Call(job.key, len(calls) + 1, True, 0.0, None, *tokens, cost, batch_id))
        return completion

    async def gather(self, tasks: Iterable[Coroutine[Any, Any, Any]]) -> None:
        """Run coroutines (each usually awaiting execute) together; an error in one cancels the others.

        A failed write (a full disk) halts the runner at once, so not one more call starts (the task group's
        cancellation alone comes a step late: a call already woken would still be sent), and surfaces as its
        own JudgeError rather than an ExceptionGroup. BatchesPending (`--no-wait` met an open provider batch)
        ends only the coroutine that met it: live calls of the others go on and are stored, and it is raised
        once they are done.
        """
        pending: list[BatchesPending] = []

        async def halting(task: Coroutine[Any, Any, Any]) -> None:
            try:
                await task
            except BatchesPending as exc:
                pending.append(exc)
            except JudgeError as exc:
                self._halted = exc
                raise

        try:
            async with asyncio.TaskGroup() as group:
                for task in tasks:
                    group.create_task(halting(task))
        except BaseExceptionGroup as errors:
            first = _first_judge_error(errors)
            if first is None:
                raise
            raise first from None
        if pending:
            raise pending[0]


def _first_judge_error(errors: BaseExceptionGroup[BaseException]) -> JudgeError | None:
    for exc in errors.exceptions:
        if isinstance(exc, JudgeError):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (inner := _first_judge_error(exc)) is not None:
            return inner
    return None
