"""An endpoint pool's throughput, layer by layer: where a judge call's client CPU goes at concurrency 256.

`--replicas 4` OpenAI-compatible loopback servers (benchmarks/judging.py's raw asyncio server, each in its own
process) take `--delay 0.2` s per call; the ideal is concurrency / delay calls/s (1280). The same calls are
made four ways in one run, each adding a layer of judge's real path:

  raw sockets      hand-written HTTP/1.1 on kept-alive sockets, spread evenly: the machine's ceiling
  SDK + pool       PoolProvider.complete: the openai SDK (aiohttp transport), one client per replica
  + runner         Runner.execute: tenacity, the lane's semaphore, the per-call timeout, the Call rows
  judge            Judging.judge_batch: prompts rendered, keys hashed, the store looked up, every verdict
                   committed as it arrives (SQLite, WAL)
  SDK via N workers the SDK + pool layer with `workers: N`: judge's process only forwards the calls over
                   pipes (its CPU per call is the IPC cost), the children make them
  judge, N workers the judge layer with `workers: N`: its model calls made by N worker processes
                   (judge.providers.workers); the client CPU column is judge's own process, the workers'
                   CPU is shown apart
  SDK x N procs    the SDK + pool layer split over `--processes` worker processes started together (each
                   with its share of the calls and of the concurrency): what moving the HTTP calls out of
                   judge's process could at most give on this machine

For each: calls/s, its share of the ideal and of the raw-socket ceiling, the client's CPU per call (this
process) and the servers' (their /proc counters). The client is one Python process: when its CPU per call
times the ideal rate exceeds one core, the ideal cannot be reached whatever the servers do, and the line
says so. Everything shares the machine's cores (and any other load): the load average is printed.

Run:  .venv/bin/python benchmarks/pool_throughput.py [--calls 10000] [--replicas 4] [--delay 0.2]
      [--concurrency 256] [--processes 2] [--workers 1,2] [--json]
      (benchmarks/scale.py runs it as its pool section)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judging import ANSWER, raw_sockets, start_server  # noqa: E402  (the sibling benchmark's server)

from judge.config import JudgeConfig, RetryConfig  # noqa: E402
from judge.judging import Judging  # noqa: E402
from judge.pairings import Pair  # noqa: E402
from judge.providers import Message, Provider, ProviderHub, Request  # noqa: E402
from judge.providers.workers import WorkerProvider  # noqa: E402
from judge.questions import Question  # noqa: E402
from judge.runner import Job, Runner  # noqa: E402
from judge.store import DB_NAME, Store  # noqa: E402

RETRIES = RetryConfig(attempts=3, initial_wait=0.1, max_wait=1.0, jitter=0.1)
CONTESTANTS = tuple(f"m{i:02d}" for i in range(20))


@dataclass
class Layer:
    name: str
    calls: int
    seconds: float
    client_cpu_s: float
    server_cpu_s: float
    worker_cpu_s: float = 0.0  # the `judge, N workers` layer's child processes (client_cpu_s is the parent's)

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds

    @property
    def client_us_per_call(self) -> float:
        return 1e6 * self.client_cpu_s / self.calls

    @property
    def server_us_per_call(self) -> float:
        return 1e6 * self.server_cpu_s / self.calls

    @property
    def worker_us_per_call(self) -> float:
        return 1e6 * self.worker_cpu_s / self.calls


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (from /proc/PID/stat)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def judge_config(urls: list[str], concurrency: int, workers: int = 0) -> JudgeConfig:
    return JudgeConfig(
        provider="openai", model="bench-judge", base_url=urls[0], replicas=tuple(urls), api_key="bench-key",
        temperature=0.0, concurrency=concurrency, timeout=60.0, workers=workers,
    )  # fmt: skip


def judge_request() -> Request:
    """A judge-sized request (two ~1.5 kB answers), the same for every call of the lower layers."""
    text = f"Question: explain something.\n\n[A]\n{ANSWER}\n[/A]\n\n[B]\n{ANSWER}\n[/B]\n\nVERDICT?"
    return Request(model="bench-judge", messages=(Message("user", text),), temperature=0.0)


async def sdk_pool(
    urls: list[str], calls: int, concurrency: int, ready: Callable[[], Awaitable[None]] | None = None
) -> None:
    """`calls` calls through the pool's provider, `concurrency` at a time; `ready` is awaited once the
    clients are built, before the first call."""
    judge = judge_config(urls, concurrency)
    async with ProviderHub(cache_dir=None) as hub:
        provider = hub.get(judge.endpoint())
        if ready is not None:
            await ready()
        await call_all(provider, judge_request(), calls, concurrency)


async def call_all(provider: Provider, request: Request, calls: int, concurrency: int) -> None:
    """`calls` calls of `request`, `concurrency` at a time."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await provider.complete(request)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def sdk_workers(urls: list[str], calls: int, concurrency: int, n: int, watch: Stopwatch) -> None:
    """The SDK + pool layer behind `workers: n`: judge's process only forwards calls over the pipes (its CPU
    per call is the workers' IPC cost), the children make them."""
    judge = judge_config(urls, concurrency, n)
    async with ProviderHub(cache_dir=None) as hub:
        provider = hub.get(judge.endpoint())
        assert isinstance(provider, WorkerProvider)
        await provider.start()
        watch.workers = provider.pids()
        watch.start()
        await call_all(provider, judge_request(), calls, concurrency)
        watch.stop()


async def runner_pool(urls: list[str], calls: int, concurrency: int, watch: Stopwatch) -> None:
    judge = judge_config(urls, concurrency)
    request, left = judge_request(), calls
    async with ProviderHub(cache_dir=None) as hub:
        runner = Runner(hub.get, RETRIES)
        hub.get(judge.endpoint())
        watch.start()

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                job = Job(f"k{left}", judge.endpoint(), lambda: request, lambda outcome: None, concurrency)
                outcome = await runner.execute(job)
                if not hasattr(outcome, "completion"):
                    raise RuntimeError(f"runner layer: {outcome}")

        await runner.gather(worker() for _ in range(2 * concurrency))


def sdk_child(urls: list[str], calls: int, concurrency: int) -> None:
    """One worker process of the `SDK x N procs` layer: builds its clients, says ready, waits for the go
    line on stdin, makes its calls, prints its window (epoch seconds) and its CPU seconds as JSON."""

    marks: dict[str, float] = {}

    async def ready() -> None:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        marks.update(start=time.time(), cpu=time.process_time())

    asyncio.run(sdk_pool(urls, calls, concurrency, ready))
    marks.update(end=time.time(), cpu=time.process_time() - marks["cpu"])
    print(json.dumps(marks), flush=True)


def sdk_processes(urls: list[str], pids: list[int], calls: int, concurrency: int, processes: int) -> Layer:
    """The SDK + pool layer in `processes` worker processes at once (see the module docstring)."""
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--sdk-child",
                ",".join(urls),
                str(calls // processes),
                str(concurrency // processes),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(processes)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    server = cpu_seconds(pids)
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    rows = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        rows.append(json.loads(out.strip().splitlines()[-1]))
    seconds = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    done = processes * (calls // processes)
    return Layer(
        f"SDK x {processes} procs", done, seconds, sum(r["cpu"] for r in rows), cpu_seconds(pids) - server
    )


def workload(calls: int) -> tuple[dict[str, Question], list[Pair], dict[tuple[str, str, int], str]]:
    pairs = [(a, b) for i, a in enumerate(CONTESTANTS) for b in CONTESTANTS[i + 1 :]]
    items = calls // 2
    n_questions = -(-items // len(pairs))
    questions = {
        f"q{i}": Question(f"q{i}", "writing", (f"Question {i}: explain something in a paragraph.",))
        for i in range(n_questions)
    }
    batch = [Pair(q, a, b) for q in questions for a, b in pairs][:items]
    texts = {c: f"{c}: {ANSWER}" for c in CONTESTANTS}
    return questions, batch, {(c, q, 1): texts[c] for c in CONTESTANTS for q in questions}


async def judged(
    urls: list[str], calls: int, concurrency: int, db: Path, watch: Stopwatch, workers: int = 0
) -> list[dict[str, object]]:
    """The judge layer; with `workers`, its calls made by that many child processes (started before the
    clock starts, their CPU read before they stop)."""
    questions, items, answers = workload(calls)
    judge = judge_config(urls, concurrency, workers)
    async with ProviderHub(cache_dir=None) as hub:
        with Store.open(db) as store:
            run_id = store.start_run("judge", "bench")
            judging = Judging(judge, store, run_id, Runner(hub.get, RETRIES), questions, answers)
            provider = hub.get(judge.endpoint())
            if isinstance(provider, WorkerProvider):
                await provider.start()
                watch.workers = provider.pids()
            watch.start()
            await judging.judge_batch(items)
            watch.stop()
        counts = hub.replica_counts(judge.endpoint()) or []
    if judging.progress.judged != 2 * len(items):
        raise RuntimeError(f"judge layer: {judging.progress}")
    return counts


class Stopwatch:
    """Wall, client CPU and server CPU from `start()` (called once the clients are built) to `stop()`."""

    def __init__(self, servers: list[int]) -> None:
        self.servers = servers
        self.workers: list[int] = []  # the judge's worker processes, if it has them
        self.marks: list[tuple[float, float, float, float]] = []

    def _mark(self) -> None:
        if len(self.marks) < 2:  # the first stop() counts: a phase may stop before its workers exit
            wall, cpu = time.perf_counter(), time.process_time()
            self.marks.append((wall, cpu, cpu_seconds(self.servers), cpu_seconds(self.workers)))

    start = stop = _mark

    async def ready(self) -> None:
        self._mark()


def measure(
    name: str, calls: int, servers: list[int], phase: Callable[[Stopwatch], Awaitable[Any]]
) -> tuple[Layer, Any]:
    watch = Stopwatch(servers)
    result = asyncio.run(phase(watch))
    watch.stop()
    (wall0, cpu0, server0, work0), (wall1, cpu1, server1, work1) = watch.marks
    return Layer(name, calls, wall1 - wall0, cpu1 - cpu0, server1 - server0, work1 - work0), result


def judged_with_workers(urls: list[str], pids: list[int], calls: int, concurrency: int, n: int) -> Layer:
    """The judge layer with its calls made by `n` worker processes; their replica counts must add up."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / DB_NAME
        name = f"judge, {n} worker{'s' if n > 1 else ''}"

        def phase(watch: Stopwatch) -> Awaitable[list[dict[str, object]]]:
            return judged(urls, calls, concurrency, db, watch, n)

        layer, counts = measure(name, calls, pids, phase)
    made = sum(int(str(row["ok"])) for row in counts)
    if made != calls:
        raise RuntimeError(f"{name}: the workers' replica counts add up to {made} calls, not {calls}")
    return layer


def pool_throughput(
    calls: int,
    replicas: int,
    delay: float,
    concurrency: int,
    processes: int = 2,
    workers: tuple[int, ...] = (1, 2),
) -> dict[str, Any]:
    """Run the four layers against fresh servers; the figures as one dict (see the module docstring)."""
    servers = [start_server(delay) for _ in range(replicas)]
    urls, pids = [url for _, url in servers], [proc.pid for proc, _ in servers]
    calls = 2 * (calls // 2)
    per = concurrency // replicas

    async def raw(watch: Stopwatch) -> None:
        watch.start()
        await asyncio.gather(*(raw_sockets(url, calls // replicas, per) for url in urls))

    try:
        asyncio.run(sdk_pool(urls, concurrency, concurrency))  # warm up the servers and the imports
        layers = [measure("raw sockets", calls, pids, raw)[0]]
        layers.append(
            measure("SDK + pool", calls, pids, lambda w: sdk_pool(urls, calls, concurrency, w.ready))[0]
        )
        layers.append(measure("+ runner", calls, pids, lambda w: runner_pool(urls, calls, concurrency, w))[0])
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / DB_NAME
            judge, counts = measure("judge", calls, pids, lambda w: judged(urls, calls, concurrency, db, w))
            layers.append(judge)
        if workers:
            n = max(workers)
            layers.append(
                measure(
                    f"SDK via {n} worker{'s' if n > 1 else ''}", calls, pids,
                    lambda w: sdk_workers(urls, calls, concurrency, n, w),
                )[0]
            )  # fmt: skip
        for n in workers:
            layers.append(judged_with_workers(urls, pids, calls, concurrency, n))
        if processes > 1:
            layers.append(sdk_processes(urls, pids, calls, concurrency, processes))
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=10)
    ideal = concurrency / delay
    ceiling = layers[0].calls_per_s
    rows = [
        {
            **asdict(layer),
            "calls_per_s": layer.calls_per_s,
            "of_ideal": layer.calls_per_s / ideal,
            "of_raw": layer.calls_per_s / ceiling,
            "client_us_per_call": layer.client_us_per_call,
            "server_us_per_call": layer.server_us_per_call,
            "worker_us_per_call": layer.worker_us_per_call,
            # What one core would allow at this layer's client CPU per call.
            "one_core_limit_calls_per_s": 1e6 / layer.client_us_per_call,
        }
        for layer in layers
    ]
    return {
        "replicas": replicas,
        "delay_s": delay,
        "concurrency": concurrency,
        "ideal_calls_per_s": ideal,
        "raw_sockets_calls_per_s": ceiling,
        "judge_calls_per_s": judge.calls_per_s,
        "of_ideal": judge.calls_per_s / ideal,
        "vs_raw": judge.calls_per_s / ceiling,
        "layers": rows,
        "replica_counts": counts,
        "cpus": os.cpu_count(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_table(p: dict[str, Any]) -> None:
    print(
        f"pool of {p['replicas']} x {p['delay_s']:g} s servers, concurrency {p['concurrency']}, "
        f"{p['layers'][0]['calls']:,} calls per layer: ideal {p['ideal_calls_per_s']:.0f} calls/s"
    )
    print(
        f"  {'layer':<17} {'calls/s':>8} {'of ideal':>9} {'of raw':>7} {'client CPU/call':>16} "
        f"{'workers CPU/call':>17} {'servers CPU/call':>17} {'one core allows':>16}"
    )
    for row in p["layers"]:
        workers = f"{row['worker_us_per_call']:>14.0f} us" if row["worker_cpu_s"] else f"{'-':>17}"
        print(
            f"  {row['name']:<17} {row['calls_per_s']:>8.0f} {row['of_ideal']:>9.0%} {row['of_raw']:>7.0%} "
            f"{row['client_us_per_call']:>13.0f} us {workers} {row['server_us_per_call']:>14.0f} us "
            f"{row['one_core_limit_calls_per_s']:>9.0f} calls/s"
        )
    judge = next(row for row in p["layers"] if row["name"] == "judge")
    sdk = next(row for row in p["layers"] if row["name"] == "SDK + pool")
    verdict = "met" if p["of_ideal"] >= 0.85 else "missed"
    budget = 1e6 / (0.85 * p["ideal_calls_per_s"])
    print(
        f"  judge: {p['of_ideal']:.0%} of ideal ({verdict}; goal 85%), {p['vs_raw']:.0%} of the raw-socket "
        f"ceiling. 85% of the ideal leaves one process {budget:.0f} us of CPU per call (a core to itself); "
        f"the SDK alone takes {sdk['client_us_per_call']:.0f} us, judge in all "
        f"{judge['client_us_per_call']:.0f} us"
    )
    for row in p["layers"]:
        if row["worker_cpu_s"]:
            verdict = "met" if row["of_ideal"] >= 0.85 else "missed"
            print(
                f"  {row['name']}: {row['of_ideal']:.0%} of ideal ({verdict}); the judge process spends "
                f"{row['client_us_per_call']:.0f} us a call, its workers {row['worker_us_per_call']:.0f} us"
            )
    spread = ", ".join(f"{r['calls']} (peak {r['peak_in_flight']} in flight)" for r in p["replica_counts"])
    print(f"  per replica: {spread}")
    print(f"  {p['cpus']} cores, load average {p['load_average']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--processes", type=int, default=2, help="for the SDK x N procs layer (1: skip it)")
    parser.add_argument(
        "--workers", default="1,2", help="worker processes of the `judge, N workers` layers (0: skip them)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--sdk-child", nargs=3, metavar=("URLS", "CALLS", "CONCURRENCY"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.sdk_child:
        urls, calls, concurrency = args.sdk_child
        sdk_child(urls.split(","), int(calls), int(concurrency))
        return
    workers = tuple(n for n in (int(x) for x in args.workers.split(",")) if n > 0)
    result = pool_throughput(args.calls, args.replicas, args.delay, args.concurrency, args.processes, workers)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
