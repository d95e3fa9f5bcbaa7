"""HTTP worker processes: an endpoint's model calls made by N child processes, so one judge process's CPU no
longer bounds how many calls per second a fast pool of servers can answer.

At a few hundred calls in flight the official SDKs spend 1.5-2 ms of client CPU per call; one Python process
then tops out near 500 calls/s whatever the servers could do. `workers: N` on a contestant or judge starts
N child processes (`judge.providers.workers.child`), each building the real provider (one endpoint or a pool)
in its own asyncio loop; `WorkerProvider.complete` sends each call to the child with the fewest calls in
flight and awaits its reply. What crosses the pipes is small: a request's fields and a completion's (or a
CallFailed's kind, message and retry_after), pickled, several per write. The child's pool counts ride along
with its replies, so per-replica counts in diagnostics stay exact (peak_in_flight becomes the sum of the
children's peaks, an upper bound).

A child that dies fails its calls in flight as TRANSIENT errors (the runner retries them) and is started
again on the next call. Streaming (the live arena) stays in this process, on a provider built here.
The endpoint, API key included, reaches a child pickled through its stdin pipe: never a file or argv.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import pickle
import signal
import struct
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from judge.providers.base import (
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Message,
    Provider,
    Request,
    stream_text,
)

MAX_AUTO_WORKERS = 8  # `workers: auto` = cores - 1, at least 1 and at most this
_HEADER = struct.Struct("<I")  # every frame: its length, then one pickle
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_OK, _FAILED, _BROKEN = 0, 1, 2  # reply kinds: a completion, a CallFailed, an unexpected exception (a bug)
_CANCEL = None  # a request slot of None cancels that call (the runner's timeout gave up on it)
_CHILD = "from judge.providers.workers import child; child()"  # a child's command (python -c)
_START_S = 120.0  # a child that has not said ready by then (importing the SDK on a busy machine) is killed
_STOP_S = 5.0  # how long a child gets to close its connections before it is killed


def auto_workers() -> int:
    """`workers: auto`: one child per core but one (the judge process keeps a core), 1 to MAX_AUTO_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, MAX_AUTO_WORKERS))


def _encode(request: Request) -> tuple[Any, ...]:
    """A request as plain fields: a tuple pickles in a fraction of a dataclass's time."""
    return (
        request.model,
        tuple((m.role, m.content) for m in request.messages),
        request.system,
        request.temperature,
        request.max_tokens,
        request.seed,
        request.json_schema,
        request.logprobs,
        request.question_id,
        request.turn,
    )


def _decode(fields: tuple[Any, ...]) -> Request:
    model, messages, *rest = fields
    return Request(model, tuple(Message(role, content) for role, content in messages), *rest)


def _frame(value: object) -> bytes:
    data = pickle.dumps(value, _PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


class _Worker:
    """One child process, its calls in flight, and the last pool counts it reported."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future[Completion]] = {}
        self.outbox: list[tuple[int, tuple[Any, ...] | None]] = []
        self.counts: list[dict[str, Any]] | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.starting: asyncio.Task[None] | None = None
        self.alive = False
        self.load = 0  # calls given to it and not yet answered (starting ones too): least loaded first

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid


class WorkerProvider:
    """Forwards `complete` to N worker processes, least loaded first; `stream` runs in this process."""

    name = "workers"

    def __init__(self, endpoint: Endpoint, inline: Provider) -> None:
        """`inline` is the same endpoint's provider built here: it streams, and building it checked the
        endpoint (a missing SDK or key fails at once, as without workers)."""
        self.endpoint = endpoint
        self._child_endpoint = replace(endpoint, workers=0)
        self._inline = inline
        self._workers = [_Worker(i) for i in range(endpoint.workers)]
        self._ids = itertools.count()
        self._retired: list[list[dict[str, Any]]] = []  # counts of children that died
        self.restarts = 0
        self._closed = False

    # -- calls -------------------------------------------------------------------------------------------

    async def complete(self, request: Request) -> Completion:
        """The reply of the least busy child; a child that dies first makes this a TRANSIENT failure."""
        worker = min(self._workers, key=lambda w: w.load)
        worker.load += 1
        try:
            if not worker.alive:
                await self._start(worker)
            call_id = next(self._ids)
            future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
            worker.pending[call_id] = future
            self._send(worker, (call_id, _encode(request)))
            try:
                return await future
            except asyncio.CancelledError:
                if worker.pending.pop(call_id, None) is not None and worker.alive:
                    self._send(worker, (call_id, _CANCEL))
                raise
        finally:
            worker.load -= 1

    async def start(self) -> None:
        """Start every child now (they otherwise start on the first calls), so start-up is timed apart."""
        await asyncio.gather(*(self._start(w) for w in self._workers if not w.alive))

    async def stream(self, request: Request) -> AsyncIterator[str]:
        async for piece in stream_text(self._inline, request):
            yield piece

    def _send(self, worker: _Worker, item: tuple[int, tuple[Any, ...] | None]) -> None:
        """Queue one item; everything queued in this turn of the event loop goes out as one write."""
        if not worker.outbox:
            asyncio.get_running_loop().call_soon(self._flush, worker)
        worker.outbox.append(item)

    def _flush(self, worker: _Worker) -> None:
        items, worker.outbox = worker.outbox, []
        process = worker.process
        if not worker.alive or process is None or process.stdin is None:
            return  # the reader task fails these calls when it sees the child gone
        process.stdin.write(_frame(items))

    # -- children ----------------------------------------------------------------------------------------

    async def _start(self, worker: _Worker) -> None:
        """Start (or restart) one child; concurrent callers wait for the same start."""
        if worker.starting is None:
            worker.starting = asyncio.ensure_future(self._spawn(worker))
        task = worker.starting
        try:
            await asyncio.shield(task)
        finally:
            if task.done() and worker.starting is task:
                worker.starting = None

    async def _spawn(self, worker: _Worker) -> None:
        if self._closed:
            raise CallFailed(ErrorKind.TRANSIENT, "the provider's workers are shut down")
        if worker.process is not None:
            self.restarts += 1
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this same judge
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(_frame(self._child_endpoint))
        try:
            status, detail = await asyncio.wait_for(_read_frame(process.stdout), _START_S)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            if process.returncode is None:
                process.kill()
            code = await process.wait()
            raise CallFailed(
                ErrorKind.TRANSIENT, f"provider worker {worker.index} did not start (exit code {code})"
            ) from exc
        if status != "ready":
            process.kill()
            await process.wait()
            raise CallFailed(ErrorKind.TRANSIENT, f"provider worker {worker.index} could not start: {detail}")
        worker.process, worker.alive = process, True
        worker.reader_task = asyncio.ensure_future(self._read(worker, process))

    async def _read(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        """Resolve the child's replies as they come; when it exits, fail what it still owed."""
        assert process.stdout is not None
        pending = worker.pending
        try:
            while True:
                replies, counts = await _read_frame(process.stdout)
                if counts is not None:
                    worker.counts = counts
                for call_id, kind, value in replies:
                    future = pending.pop(call_id, None)
                    if future is None or future.done():
                        continue  # given up on (cancelled) before the reply came
                    if kind == _OK:
                        future.set_result(Completion(*value))
                    elif kind == _FAILED:
                        error, message, retry_after = value
                        future.set_exception(CallFailed(ErrorKind(error), message, retry_after=retry_after))
                    else:
                        future.set_exception(RuntimeError(f"provider worker {worker.index}: {value}"))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError, EOFError):
            pass
        # Before any await: calls made from now on go to a fresh child and its own table of calls.
        worker.alive, worker.pending = False, {}
        if worker.counts is not None:
            self._retired.append(worker.counts)
            worker.counts = None
        owed = list(pending.values())
        code = await process.wait()
        message = f"provider worker {worker.index} (pid {process.pid}) exited (code {code}) mid-call"
        for future in owed:
            if not future.done():
                future.set_exception(CallFailed(ErrorKind.TRANSIENT, message))

    def in_flight(self) -> int:
        """Calls sent to children and not yet answered or given up on."""
        return sum(len(w.pending) for w in self._workers)

    def pids(self) -> list[int]:
        """The running children's process ids (tests kill one)."""
        return [w.pid for w in self._workers if w.alive and w.pid is not None]

    # -- counts and shutdown -----------------------------------------------------------------------------

    def counts(self) -> list[dict[str, object]] | None:
        """Per-replica counts summed over the children (and this process's streams); None if not a pool."""
        inline = getattr(self._inline, "counts", None)
        reports = [w.counts for w in self._workers if w.counts is not None] + self._retired
        if inline is None:
            return None
        total: list[dict[str, object]] = [dict(row) for row in inline()]
        for report in reports:
            for row, add in zip(total, report, strict=True):
                for name, value in add.items():
                    if name != "base_url":
                        row[name] = int(row[name]) + int(value)  # type: ignore[call-overload]
        return total

    async def aclose(self) -> None:
        """Ask every child to close its connections and exit (stdin closed); kill those that linger."""
        self._closed = True
        for worker in self._workers:
            if worker.starting is not None:
                with contextlib.suppress(BaseException):
                    await worker.starting
            process = worker.process
            if process is None or process.returncode is not None:
                continue
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), _STOP_S)
            except TimeoutError:
                process.kill()
                await process.wait()
            if worker.reader_task is not None:
                await worker.reader_task
        await self._inline.aclose()


# -- the child ---------------------------------------------------------------------------------------------


def _reply(call_id: int, outcome: Completion | BaseException) -> tuple[int, int, Any]:
    if isinstance(outcome, Completion):
        c = outcome
        return call_id, _OK, (c.text, c.input_tokens, c.output_tokens, c.latency_s, c.model, c.top_logprobs)
    if isinstance(outcome, CallFailed):
        return call_id, _FAILED, (outcome.kind.value, outcome.message, outcome.retry_after)
    return call_id, _BROKEN, f"{type(outcome).__name__}: {outcome}"


async def _serve(reader: asyncio.StreamReader, write: Callable[[bytes], None]) -> None:
    """The child's loop: build the provider, then answer calls until stdin closes."""
    from judge.providers import ProviderHub  # here, not at the top: the package imports this module

    loop = asyncio.get_running_loop()
    endpoint: Endpoint = await _read_frame(reader)
    async with ProviderHub() as hub:
        try:
            provider = hub.get(endpoint)
        except Exception as exc:  # a bad endpoint: say why, then exit
            write(_frame(("error", f"{type(exc).__name__}: {exc}")))
            return
        write(_frame(("ready", None)))
        counts = getattr(provider, "counts", None)
        tasks: dict[int, asyncio.Task[Completion]] = {}
        outbox: list[tuple[int, int, Any]] = []

        def flush() -> None:
            replies = outbox[:]
            outbox.clear()
            write(_frame((replies, None if counts is None else counts())))

        def done(call_id: int, task: asyncio.Task[Completion]) -> None:
            tasks.pop(call_id, None)
            if task.cancelled():
                return
            exc = task.exception()
            if not outbox:
                loop.call_soon(flush)
            outbox.append(_reply(call_id, task.result() if exc is None else exc))

        while True:
            try:
                items = await _read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break  # the parent closed our stdin: shut down
            for call_id, fields in items:
                if fields is _CANCEL:
                    task = tasks.pop(call_id, None)
                    if task is not None:
                        task.cancel()
                    continue
                task = loop.create_task(provider.complete(_decode(fields)))
                tasks[call_id] = task
                task.add_done_callback(functools.partial(done, call_id))
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _child_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", 0))
    # Replies go out on a private copy of stdout; fd 1 then points at stderr, so a stray print cannot
    # corrupt the stream of frames.
    out = os.dup(1)
    os.dup2(2, 1)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(out, "wb", 0))
    try:
        await _serve(reader, transport.write)
    finally:
        transport.close()


def child() -> None:
    """A worker process's entry point. Ctrl-C is the parent's to handle: it closes our stdin to stop us."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_child_main())
