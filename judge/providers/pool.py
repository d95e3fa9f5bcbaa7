"""An endpoint pool: one model served by several replicas (vLLM, SGLang, llama.cpp, Ray Serve), one Provider.

Each call goes to the replica with the fewest calls in flight (ties: the one that has served fewest), so a
slow replica gets less work. A replica whose connection fails is taken out at once, one that answers 5xx
`STRIKES` times in a row too; it cools down for `cooldown_s`, doubling while it keeps failing (up to
`max_cooldown_s`), then gets one call again. A call that hit a failing replica is tried at once on another
healthy one, so a dead replica costs a run no retries; only when every replica is out does the call fail
(transient, with a Retry-After of the soonest return) and the runner's backoff take over.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from judge.providers.base import (
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Provider,
    Request,
    stream_text,
)

STRIKES = 3  # consecutive 5xx answers that take a replica out


@dataclass
class Replica:
    """One replica's provider and what it has done (the counts go to diagnostics.json)."""

    base_url: str
    provider: Provider
    calls: int = 0
    ok: int = 0
    failed: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    cooldowns: int = 0
    strikes: int = 0
    streak: int = 0  # cool-downs since its last success: each one lasts twice as long
    out_until: float = float("-inf")

    def counts(self) -> dict[str, object]:
        return {
            "base_url": self.base_url,
            "calls": self.calls,
            "ok": self.ok,
            "failed": self.failed,
            "peak_in_flight": self.peak_in_flight,
            "cooldowns": self.cooldowns,
        }


class PoolProvider:
    """Spreads calls over replicas by load and routes around failing ones."""

    name = "pool"

    def __init__(
        self,
        endpoint: Endpoint,
        members: Sequence[tuple[str, Provider]],
        *,
        cooldown_s: float = 5.0,
        max_cooldown_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.replicas = [Replica(url, provider) for url, provider in members]
        self._cooldown_s, self._max_cooldown_s, self._clock = cooldown_s, max_cooldown_s, clock

    def _pick(self, tried: set[int]) -> int | None:
        """The index of the least busy ready replica not tried yet (one pass: this runs on every call)."""
        now = self._clock()
        best: int | None = None
        best_load = best_calls = 0
        for i, r in enumerate(self.replicas):
            if r.out_until > now or i in tried:
                continue
            if best is None or r.in_flight < best_load or (r.in_flight == best_load and r.calls < best_calls):
                best, best_load, best_calls = i, r.in_flight, r.calls
        return best

    def _take_out(self, replica: Replica) -> None:
        wait = min(self._max_cooldown_s, self._cooldown_s * 2 ** min(replica.streak, 16))
        replica.cooldowns += 1
        replica.streak += 1
        replica.strikes = 0
        replica.out_until = self._clock() + wait

    def _failed(self, replica: Replica, exc: CallFailed) -> bool:
        """Count a failure against the replica; True if it says the replica (not the request) is unwell."""
        replica.failed += 1
        if exc.kind is not ErrorKind.TRANSIENT:
            return False
        if exc.message.startswith("connection failed"):
            self._take_out(replica)
            return True
        if exc.message.startswith("HTTP 5"):
            replica.strikes += 1
            if replica.strikes >= STRIKES:
                self._take_out(replica)
            return True
        return False

    async def complete(self, request: Request) -> Completion:
        """Ask the least busy healthy replica; on a replica's failure ask the next one at once."""
        tried: set[int] = set()
        last: CallFailed | None = None
        while (replica := self._start(tried)) is not None:
            try:
                completion = await replica.provider.complete(request)
            except CallFailed as exc:
                if not self._failed(replica, exc):
                    raise
                last = exc
                continue
            finally:
                replica.in_flight -= 1
            self._succeeded(replica)
            return completion
        raise self._none_left(last)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The answer in pieces from the least busy healthy replica; a replica failing before its first
        piece is routed around like a failed call, one failing part-way through fails the stream."""
        tried: set[int] = set()
        last: CallFailed | None = None
        while (replica := self._start(tried)) is not None:
            begun = False
            try:
                async for piece in stream_text(replica.provider, request):
                    begun = True
                    yield piece
            except CallFailed as exc:
                if not self._failed(replica, exc) or begun:
                    raise
                last = exc
                continue
            finally:
                replica.in_flight -= 1
            self._succeeded(replica)
            return
        raise self._none_left(last)

    def _start(self, tried: set[int]) -> Replica | None:
        index = self._pick(tried)
        if index is None:
            return None
        tried.add(index)
        replica = self.replicas[index]
        replica.calls += 1
        replica.in_flight += 1
        if replica.in_flight > replica.peak_in_flight:
            replica.peak_in_flight = replica.in_flight
        return replica

    @staticmethod
    def _succeeded(replica: Replica) -> None:
        replica.ok += 1
        replica.strikes = 0
        replica.streak = 0

    def _none_left(self, last: CallFailed | None) -> CallFailed:
        if last is not None:
            return last
        soonest = min(r.out_until for r in self.replicas) - self._clock()
        return CallFailed(
            ErrorKind.TRANSIENT,
            f"all {len(self.replicas)} replicas are cooling down after failures",
            retry_after=max(0.0, soonest),
        )

    def counts(self) -> list[dict[str, object]]:
        return [r.counts() for r in self.replicas]

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.provider.aclose()
