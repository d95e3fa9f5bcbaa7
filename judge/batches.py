"""Calls to `batch:` endpoints gathered into provider batches, kept in the store from the moment they exist.

The runner hands each batch job's request here instead of to the provider. Requests queue per endpoint and go
out as one provider batch once no new one has arrived for a moment (a schedule round, a turn of every
question) or `max_requests` are waiting. Every (custom_id, key) is committed under an intent id before the
provider is asked to create the batch (the intent id is also the batch's tag, in its metadata), and the
provider's id replaces it as soon as the batch exists; results are committed as soon as it ends. A run killed
between the two finds the intent on resume and looks the batch up at the provider: found, it is polled like
any other; not found, it was never created and its requests go out again. So a call first looks in the
store: a stored success is returned without paying again, a stored failure is handed back once (the runner
classifies and retries it, in a new batch), and a request in an open (or intended) batch waits for that
batch, whichever run submitted it. `no_wait` turns waiting on an open batch into BatchesPending: submit
and exit.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from judge.errors import BatchesPending
from judge.providers.base import CallFailed, Completion, Endpoint, ErrorKind, Provider, Request
from judge.providers.batches import BatchClient, Outcome, batch_client
from judge.store import BatchRecord, Store

SETTLE_S = 0.2  # a queue that has not grown for this long goes out as a batch
INTENT = "judge-intent-"  # the store's id of a batch until the provider has given it one


def intent_id(now: float) -> str:
    """A new intent id: the prefix, when it was made (epoch seconds, to bound the search), a random part."""
    return f"{INTENT}{int(now)}-{uuid.uuid4().hex[:16]}"


def custom_id(key: str) -> str:
    """A batch custom_id from a request key ('a1:<sha256>#2' -> 'a1-<56 hex>-2'): at most 64 characters of
    [A-Za-z0-9_-], which both providers accept; the store maps it back to the key."""
    base, _, attempt = key.partition("#")
    prefix, _, digest = base.partition(":")
    text = f"{prefix}-{digest[:56]}"
    return f"{text}-{attempt}" if attempt else text


def outcome_json(outcome: Outcome) -> tuple[bool, str]:
    """What the store keeps of a batch result: (ok, JSON of the completion or the classified failure)."""
    if isinstance(outcome, CallFailed):
        return False, json.dumps({"kind": str(outcome.kind), "message": outcome.message})
    c = outcome
    fields = {"text": c.text, "input_tokens": c.input_tokens, "output_tokens": c.output_tokens}
    return True, json.dumps({**fields, "model": c.model, "top_logprobs": c.top_logprobs})


def _completion(text: str) -> Completion:
    data = json.loads(text)
    return Completion(
        text=data["text"],
        input_tokens=data.get("input_tokens"),
        output_tokens=data.get("output_tokens"),
        model=data.get("model"),
        top_logprobs=data.get("top_logprobs") or {},
    )


def _failure(text: str) -> CallFailed:
    data = json.loads(text)
    return CallFailed(ErrorKind(data["kind"]), data["message"])


@dataclass
class _Queued:
    key: str
    request: Request
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class BatchQueue:
    """One stage's batch calls: queues per endpoint, one poller per open batch."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        providers: Callable[[Endpoint], Provider],
        *,
        no_wait: bool = False,
        settle_s: float = SETTLE_S,
    ) -> None:
        self._store, self._run_id, self._providers = store, run_id, providers
        self._no_wait, self._settle_s = no_wait, settle_s
        self._queues: dict[Endpoint, dict[str, _Queued]] = {}
        self._flushers: dict[Endpoint, asyncio.Task[None]] = {}
        self._waiting: dict[str, dict[str, list[asyncio.Future[None]]]] = {}  # batch -> custom_id -> futures
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._creating: dict[str, asyncio.Future[str | None]] = {}  # intent -> the provider's id, or None
        self.submitted = 0  # provider batches this queue created

    def _client(self, endpoint: Endpoint) -> BatchClient:
        return batch_client(self._providers(endpoint))

    async def call(self, endpoint: Endpoint, key: str, request: Request) -> tuple[Completion, str]:
        """The completion for a key and the batch it came from; raises CallFailed (or BatchesPending)."""
        while True:
            item = self._store.batch_item(key)
            if item is not None and item.state == "succeeded" and item.result is not None:
                return _completion(item.result), item.batch_id
            if item is not None and item.state == "failed" and item.result is not None:
                self._store.retire_batch_item(item.batch_id, item.custom_id)
                raise _failure(item.result)
            if item is not None and item.state == "submitted":
                await self._wait(endpoint, item.batch_id, item.custom_id)
                continue
            await self._enqueue(endpoint, key, request)

    async def _wait(self, endpoint: Endpoint, batch_id: str, cid: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(batch_id, {}).setdefault(cid, []).append(future)
        if batch_id not in self._pollers:
            self._pollers[batch_id] = asyncio.create_task(self._poll(endpoint, batch_id))
        await future

    async def _enqueue(self, endpoint: Endpoint, key: str, request: Request) -> None:
        queue = self._queues.setdefault(endpoint, {})
        queued = queue.setdefault(custom_id(key), _Queued(key, request))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queued.waiters.append(future)
        flusher = self._flushers.get(endpoint)
        if flusher is None or flusher.done():
            self._flushers[endpoint] = asyncio.create_task(self._flush(endpoint))
        await future

    async def _flush(self, endpoint: Endpoint) -> None:
        """Send the endpoint's queue as batches: when it stops growing, or whenever it is full."""
        assert endpoint.batch is not None
        most = endpoint.batch.max_requests
        queue = self._queues[endpoint]
        while queue:
            size = len(queue)
            if size < most:
                await asyncio.sleep(self._settle_s)
                if len(queue) != size:
                    continue
            chunk = dict(list(queue.items())[:most])
            for cid in chunk:
                del queue[cid]
            await self._submit(endpoint, chunk)

    async def _submit(self, endpoint: Endpoint, chunk: dict[str, _Queued]) -> None:
        items = [(cid, q.request) for cid, q in chunk.items()]
        intent = intent_id(time.time())
        record = BatchRecord(
            intent, endpoint.provider, endpoint.base_url, endpoint.model, "in_progress", "creating",
            len(items), None, "", "",
        )  # fmt: skip
        # Committed before the provider is asked: a kill -9 before its answer is stored leaves this intent,
        # which the next run resolves instead of paying for the same requests twice.
        self._store.save_batch(self._run_id, record, [(cid, q.key) for cid, q in chunk.items()])
        client = self._client(endpoint)
        created: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._creating[intent] = created
        try:
            try:
                batch_id = await client.submit(items, intent)
            except CallFailed as exc:
                # A lost reply (timeout, dropped connection, 5xx) may hide a batch that was created.
                found = await self._find(client, intent, len(items)) if exc.kind.retryable else None
                if found is None:  # nothing was created: each request's attempt failed, the runner decides
                    self._store.drop_batch(intent)
                    for q in chunk.values():
                        for future in q.waiters:
                            if not future.done():
                                future.set_exception(exc)
                    return
                batch_id = found
            self._store.adopt_batch(intent, batch_id)
            created.set_result(batch_id)
        finally:
            if not created.done():
                created.set_result(None)
            del self._creating[intent]
        self.submitted += 1
        waiting = self._waiting.setdefault(batch_id, {})
        for cid, q in chunk.items():
            waiting.setdefault(cid, []).extend(q.waiters)
        self._pollers[batch_id] = asyncio.create_task(self._poll(endpoint, batch_id))

    async def _find(self, client: BatchClient, intent: str, requests: int) -> str | None:
        """The provider's id of the batch an intent stands for, or None if it was never created."""
        since = float(intent.removeprefix(INTENT).split("-")[0])
        known = {b.batch_id for b in self._store.batches()}
        for attempt in range(3):
            try:
                return await client.find(intent, since, requests, known)
            except CallFailed as exc:
                if not exc.kind.retryable or attempt == 2:
                    raise
                await asyncio.sleep(1.0 + attempt)
        return None  # pragma: no cover

    async def _resolve(self, endpoint: Endpoint, intent: str) -> str | None:
        """Settle an intent a killed run left: adopt the batch the provider made, or drop the intent."""
        record = next((b for b in self._store.batches() if b.batch_id == intent), None)
        found = None
        if record is not None:
            found = await self._find(self._client(endpoint), intent, record.requests)
        if found is None:
            self._store.drop_batch(intent)
            return None
        self._store.adopt_batch(intent, found)
        return found

    def _move_waiters(self, intent: str, batch_id: str) -> None:
        for cid, futures in self._waiting.pop(intent, {}).items():
            self._waiting.setdefault(batch_id, {}).setdefault(cid, []).extend(futures)

    async def _poll(self, endpoint: Endpoint, batch_id: str) -> None:
        """Poll one batch until it ends, commit its results, then wake everyone waiting on it."""
        assert endpoint.batch is not None
        client = self._client(endpoint)
        polled = batch_id
        try:
            if batch_id.startswith(INTENT):
                creating = self._creating.get(batch_id)  # being created by this queue right now
                adopted = await creating if creating else await self._resolve(endpoint, batch_id)
                if adopted is None:  # never created: the waiters look again and send their requests
                    self._wake(batch_id, None)
                    return
                self._move_waiters(batch_id, adopted)
                if creating:  # the batch's own poller (started by _submit) wakes them
                    return
                batch_id = adopted
                self._pollers[batch_id] = self._pollers.pop(polled)
            while True:
                try:
                    status = await client.status(batch_id)
                    self._store.update_batch(batch_id, status.status, status.counts)
                    if status.ended:
                        found = await client.results(batch_id)
                        break
                except CallFailed as exc:
                    if not exc.kind.retryable:
                        raise
                if self._no_wait:
                    await self._drained()  # submit every queued request before leaving
                    raise BatchesPending(
                        f"batch {batch_id} is still open at the provider",
                        hint="run the same command again to collect it (judge status DIR shows progress)",
                    )
                await asyncio.sleep(endpoint.batch.poll_seconds)
            results = {cid: outcome_json(outcome) for cid, outcome in found.items()}
            missing = CallFailed(ErrorKind.TRANSIENT, f"no result: batch ended as {status.status}")
            self._store.ingest_batch(batch_id, results, outcome_json(missing)[1])
        except (CallFailed, BatchesPending) as exc:
            self._wake(batch_id, exc)
        else:
            self._wake(batch_id, None)
        finally:
            self._pollers.pop(polled, None)
            self._pollers.pop(batch_id, None)

    async def _drained(self) -> None:
        """Wait until no queue is left to send (another endpoint's batch may still be gathering)."""
        while busy := [t for t in self._flushers.values() if not t.done()]:
            await asyncio.wait(busy)

    def _wake(self, batch_id: str, exc: BaseException | None) -> None:
        for futures in self._waiting.pop(batch_id, {}).values():
            for future in futures:
                if future.done():
                    continue
                if exc is None:
                    future.set_result(None)
                else:
                    future.set_exception(exc)

    async def aclose(self) -> None:
        """Stop queue and poll tasks still running (an interrupted stage); what the store holds stays."""
        tasks = [*self._flushers.values(), *self._pollers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
