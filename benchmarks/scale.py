"""Scale of the judging stage: 100,000 and 1,000,000 judge calls, and an endpoint pool's throughput.

Scale: a fast OpenAI-compatible loopback server (benchmarks/judging.py's raw asyncio server, no delay, in its
own process) answers every judge call with a verdict line. The calls go the real way: Judging.judge_batch
renders each prompt, hashes its key, looks the store up, calls the openai SDK through the Runner and commits
each output to an SQLite file, round after round of `--round` pairs as a schedule hands them out, keeping
the battles as the tournament does. Each size runs in its own process, so its peak RSS is its own; RSS is
also sampled after every round, so the growth per call can be read off (and extrapolated when 1M is not run).
Goal: RSS at 1M within 1.5x of RSS at 100k, calls/s within 20%.

Pool: `--replicas 4` servers that each take `--delay 0.2` s per call, one pooled judge (`base_url:` a list) at
concurrency 256: calls/s against the ideal (concurrency / delay) and against raw sockets spread over the same
servers in the same run (the most this machine's cores let any client do), layer by layer with the client's
and the servers' CPU per call and the per-replica counts (benchmarks/pool_throughput.py, which this runs).
Goal: >= 85% of the ideal.

Both share two cores with the servers (and any other load): the load average is printed with the figures.

Run:  .venv/bin/python benchmarks/scale.py [--sizes 100000,1000000] [--round 5000] [--concurrency 64]
      [--pool-calls 10000] [--replicas 4] [--delay 0.2] [--pool-concurrency 256] [--pool-processes 2]
      [--skip-pool] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judging import ANSWER, start_server  # noqa: E402  (the sibling benchmark's server)
from pool_throughput import pool_throughput, print_table  # noqa: E402

from judge.config import JudgeConfig, RetryConfig  # noqa: E402
from judge.judging import Judging  # noqa: E402
from judge.pairings import Pair  # noqa: E402
from judge.providers import ProviderHub  # noqa: E402
from judge.questions import Question  # noqa: E402
from judge.runner import Runner  # noqa: E402
from judge.store import DB_NAME, Store  # noqa: E402

CONTESTANTS = tuple(f"m{i:02d}" for i in range(20))  # 190 pairs per question: few questions per million
RETRIES = RetryConfig(attempts=3, initial_wait=0.1, max_wait=1.0, jitter=0.1)


def rss_mb() -> float:
    """Current resident set size (from /proc), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workload(calls: int) -> tuple[dict[str, Question], list[Pair], dict[tuple[str, str, int], str]]:
    """Questions, the (question, pair) items (both orders each: calls / 2 of them) and every answer.

    Each contestant's answer is one shared string (the prompts still differ by question), so what grows with
    the size is judge's own memory, not the fixture's.
    """
    pairs = [(a, b) for i, a in enumerate(CONTESTANTS) for b in CONTESTANTS[i + 1 :]]
    items = calls // 2
    n_questions = -(-items // len(pairs))
    questions = {
        f"q{i}": Question(f"q{i}", "writing", (f"Question {i}: explain something in a paragraph.",))
        for i in range(n_questions)
    }
    batch = [Pair(q, a, b) for q in questions for a, b in pairs][:items]
    texts = {c: f"{c}: {ANSWER}" for c in CONTESTANTS}
    answers = {(c, q, 1): texts[c] for c in CONTESTANTS for q in questions}
    return questions, batch, answers


async def scale_child(url: str, calls: int, round_pairs: int, concurrency: int, db: Path) -> dict[str, Any]:
    questions, items, answers = workload(calls)
    judge = JudgeConfig(
        provider="openai", model="bench-judge", base_url=url, api_key="bench-key", temperature=0.0,
        concurrency=concurrency, timeout=60.0,
    )  # fmt: skip
    samples: list[tuple[int, float]] = []
    battles = []
    async with ProviderHub(cache_dir=None) as hub:
        with Store.open(db) as store:
            run_id = store.start_run("judge", "bench")
            judging = Judging(judge, store, run_id, Runner(hub.get, RETRIES), questions, answers)
            hub.get(judge.endpoint())
            base_rss = rss_mb()
            started = time.perf_counter()
            for start in range(0, len(items), round_pairs):
                battles += await judging.judge_batch(items[start : start + round_pairs])
                samples.append((judging.progress.done, rss_mb()))
            seconds = time.perf_counter() - started
    p = judging.progress
    if p.judged != 2 * len(items) or p.failed:
        raise RuntimeError(f"expected {2 * len(items)} judgements, got {p}")
    db_bytes = sum(f.stat().st_size for f in db.parent.glob(DB_NAME + "*"))
    half = samples[len(samples) // 2]
    slope = (samples[-1][1] - half[1]) / max(1, samples[-1][0] - half[0]) * 1e6  # MB per million calls
    return {
        "calls": p.judged,
        "seconds": seconds,
        "calls_per_s": p.judged / seconds,
        "rss_before_mb": base_rss,
        "rss_end_mb": samples[-1][1],
        "peak_rss_mb": peak_rss_mb(),
        "rss_growth_mb_per_million_calls": slope,
        "db_mb": db_bytes / 1e6,
        "db_bytes_per_judgement": db_bytes / p.judged,
        "battles": len(battles),
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--round", type=int, default=5000, help="pairs per schedule round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pool-calls", type=int, default=10000)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--pool-concurrency", type=int, default=256)
    parser.add_argument("--pool-processes", type=int, default=2)
    parser.add_argument("--skip-pool", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--child", nargs=4, metavar=("URL", "CALLS", "ROUND", "CONCURRENCY"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.child:
        url, calls, round_pairs, concurrency = args.child
        with tempfile.TemporaryDirectory() as tmp:
            row = asyncio.run(
                scale_child(url, int(calls), int(round_pairs), int(concurrency), Path(tmp) / DB_NAME)
            )
        print(json.dumps(row))
        return

    out: dict[str, Any] = {"cpus": os.cpu_count(), "scale": [], "pool": None}
    if not args.skip_scale:
        proc, url = start_server(0.0)
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                child_args = ["--child", url, str(size), str(args.round), str(args.concurrency)]
                child = subprocess.run(
                    [sys.executable, __file__, *child_args], check=True, capture_output=True, text=True
                )
                row = json.loads(child.stdout.strip().splitlines()[-1])
                row["load_average"] = load()
                out["scale"].append(row)
                if not args.json:
                    growth = row["rss_growth_mb_per_million_calls"]
                    print(
                        f"{row['calls']:>9,} calls  {row['seconds']:>8.1f} s  {row['calls_per_s']:>6.0f} "
                        f"calls/s  peak RSS {row['peak_rss_mb']:>6.0f} MB (growth {growth:.0f} MB per 1M "
                        f"calls)  DB {row['db_mb']:>7.1f} MB ({row['db_bytes_per_judgement']:.0f} B per "
                        f"judgement)  load {row['load_average']}",
                        flush=True,
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if not args.skip_pool:
        out["pool"] = pool_throughput(
            args.pool_calls, args.replicas, args.delay, args.pool_concurrency, args.pool_processes
        )
        if not args.json:
            print_table(out["pool"])
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
