"""Overhead of the judging stage: 2,000 judge calls at concurrency 64 to a server that always takes 200 ms.

A small OpenAI-compatible server (raw asyncio HTTP/1.1, in its own process) answers every chat completion
after a fixed delay with a verdict line. The judge calls go through the real path: Judging.judge_batch renders
each prompt, hashes its request key, looks the store up, calls the openai SDK through the Runner (tenacity,
lanes) and commits each output in its own transaction to an SQLite file on disk. The ideal rate is
concurrency / delay (320 calls/s); the baseline, measured in the same run against the same server, is a bare
httpx.AsyncClient loop making the same number of requests (no SDK, no prompts, no store).

The server shares the two cores with the client, so a loaded machine lowers both rows: the load average is
printed beside them.

Run:  .venv/bin/python benchmarks/judging.py [--calls 2000] [--concurrency 64] [--delay 0.2] [--json]
      [--profile FILE]   (cProfile of the judged phase, for finding hot spots; it roughly doubles that
      phase's CPU, so rates printed with it are not comparable)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from judge.config import JudgeConfig, RetryConfig
from judge.judging import Judging
from judge.pairings import Pair
from judge.providers import ProviderHub
from judge.questions import Question
from judge.runner import Runner
from judge.store import DB_NAME, Store

CONTESTANTS = ("m0", "m1", "m2", "m3", "m4")  # 10 pairs per question
ANSWER = "A plausible answer of moderate length, repeated to look like a real one. " * 20  # ~1.5 kB


# ------------------------------------------------------------------------------------------------------------
# The server (runs in a child process: `python benchmarks/judging.py --serve PORT_FILE DELAY`)


def _reply(content: str) -> bytes:
    body = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "bench-judge",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {"prompt_tokens": 400, "completion_tokens": 20, "total_tokens": 420},
        }
    ).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _serve(port_file: Path, delay: float) -> None:
    replies = [_reply(f"Both answers are fine; one is clearer.\n\nVERDICT: {v}") for v in ("A", "B", "TIE")]
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                await asyncio.sleep(delay)
                writer.write(replies[served % 3])
                served += 1
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    port_file.write_text(str(port))
    async with server:
        await server.serve_forever()


def start_server(delay: float) -> tuple[subprocess.Popen[bytes], str]:
    port_file = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), str(delay)])
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.02)
    port = int(port_file.read_text())
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    return proc, f"http://127.0.0.1:{port}/v1"


# ------------------------------------------------------------------------------------------------------------
# The two clients


async def raw_sockets(url: str, calls: int, concurrency: int) -> float:
    """Seconds for `calls` hand-written HTTP/1.1 requests on `concurrency` kept-alive sockets: the ceiling."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    body = json.dumps(
        {"model": "bench-judge", "messages": [{"role": "user", "content": ANSWER * 2}]}
    ).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    left = calls

    async def worker() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection(host, int(port))
        while left > 0:
            left -= 1
            writer.write(request)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            json.loads(await reader.readexactly(length))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bare_httpx(url: str, calls: int, concurrency: int) -> float:
    """Seconds for `calls` plain POSTs, `concurrency` at a time: the floor any client pays here."""
    payload = {"model": "bench-judge", "messages": [{"role": "user", "content": ANSWER * 2}]}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> None:
            async with gate:
                response = await client.post(url + "/chat/completions", json=payload)
                response.json()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        return time.perf_counter() - started


async def judged(url: str, calls: int, concurrency: int, db: Path) -> tuple[float, int]:
    """Seconds for `calls` judge calls through Judging.judge_batch (one order each would halve the items)."""
    items = calls // 2  # both orders per (question, pair)
    pairs = [(a, b) for i, a in enumerate(CONTESTANTS) for b in CONTESTANTS[i + 1 :]]
    n_questions = -(-items // len(pairs))
    questions = {
        f"q{i}": Question(f"q{i}", "writing", (f"Question {i}: explain something in a paragraph.",))
        for i in range(n_questions)
    }
    batch = [Pair(q, a, b) for q in questions for a, b in pairs][:items]
    answers = {(c, q, 1): f"{c} on {q}: {ANSWER}" for c in CONTESTANTS for q in questions}
    judge = JudgeConfig(
        provider="openai",
        model="bench-judge",
        base_url=url,
        api_key="bench-key",
        temperature=0.0,
        concurrency=concurrency,
        timeout=60.0,
    )
    retries = RetryConfig(attempts=3, initial_wait=0.1, max_wait=1.0, jitter=0.1)
    async with ProviderHub(cache_dir=None) as hub:
        with Store.open(db) as store:
            run_id = store.start_run("judge", "bench")
            judging = Judging(judge, store, run_id, Runner(hub.get, retries), questions, answers)
            hub.get(judge.endpoint())  # build the client (import the SDK) before the clock, as judge run does
            started = time.perf_counter()
            await judging.judge_batch(batch)
            seconds = time.perf_counter() - started
            stored = len(store.judgements())
    p = judging.progress
    if p.judged != 2 * len(batch) or p.failed:
        raise RuntimeError(f"expected {2 * len(batch)} judgements, got {p}")
    return seconds, stored


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(_serve(Path(sys.argv[2]), float(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.2, help="server seconds per request")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the judged phase here")
    args = parser.parse_args()

    ideal = args.concurrency / args.delay
    proc, url = start_server(args.delay)
    rows: list[dict[str, Any]] = []

    def measure(name: str, phase: Callable[[], tuple[float, int]]) -> None:
        cpu = time.process_time()
        seconds, calls = phase()
        cpu = time.process_time() - cpu
        rows.append(
            {"client": name, "seconds": seconds, "calls": calls, "cpu_ms_per_call": 1e3 * cpu / calls}
        )
        rows[-1]["rss_mb"] = peak_rss_mb()

    try:
        asyncio.run(bare_httpx(url, args.concurrency, args.concurrency))  # warm up the server and imports
        measure(
            "raw sockets", lambda: (asyncio.run(raw_sockets(url, args.calls, args.concurrency)), args.calls)
        )
        measure(
            "bare httpx loop",
            lambda: (asyncio.run(bare_httpx(url, args.calls, args.concurrency)), args.calls),
        )
        with tempfile.TemporaryDirectory() as tmp:
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            db = Path(tmp) / DB_NAME
            measure(
                "judge_batch + SDK + store",
                lambda: asyncio.run(judged(url, args.calls, args.concurrency, db)),
            )
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for row in rows:
        row["calls_per_s"] = row["calls"] / row["seconds"]
        row["of_ideal"] = row["calls_per_s"] / ideal
    for row in rows:
        row["vs_httpx"] = row["calls_per_s"] / rows[1]["calls_per_s"]
    info = {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "concurrency": args.concurrency,
        "delay_s": args.delay,
        "ideal_calls_per_s": ideal,
        "target_of_ideal": 0.9,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return
    load = " ".join(f"{x:.2f}" for x in info["load_average"])
    print(
        f"cpus={info['cpus']} load average {load}; {args.calls} calls, concurrency {args.concurrency}, "
        f"server delay {args.delay:g} s, ideal {ideal:.0f} calls/s (target 90%)"
    )
    header = f"{'client':<26} {'seconds':>8} {'calls/s':>8} {'of ideal':>8} {'vs httpx':>8}"
    print(header + f" {'CPU ms/call':>11} {'peak RSS':>9}")
    for row in rows:
        print(
            f"{row['client']:<26} {row['seconds']:>8.2f} {row['calls_per_s']:>8.1f} "
            f"{row['of_ideal']:>8.0%} {row['vs_httpx']:>7.2f}x {row['cpu_ms_per_call']:>11.2f} "
            f"{row['rss_mb']:>6.0f} MB"
        )


if __name__ == "__main__":
    main()
