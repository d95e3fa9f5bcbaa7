"""Scale of the judging stage: 100,000 and 1,000,000 judge calls, and an endpoint pool's throughput.

Scale: `judge run` itself (judge.api.run, the code behind the command) on a round-robin tournament of 30
contestants replaying recorded answers (500-650 characters, all different, lengths differing between
contestants) on as many one-turn questions as the size needs (870 judge calls a question: both orders of 435
pairs), judged by an openai endpoint that a fast OpenAI-compatible loopback server (benchmarks/judging.py's
raw asyncio server, no delay, in its own process) answers with a verdict line: config check, answers stage,
the schedule's round, every judge call through the openai SDK, the Runner and the SQLite store, battles,
details, diagnostics and the three boards (bootstrap `--bootstrap` rounds) and report.html, as `judge run`
writes by default. Each size runs in its own process, so its peak RSS is its own; RSS is sampled every 2% of
the calls, so the growth per call during judging can be read off (and extrapolated when 1M is not run); the
peak covers the rating and report steps too. Calls/s is over the judging stage. The database's size per
judgement is given whole and per table (with its indexes, from SQLite's dbstat). Goal: RSS at 1M within 1.5x
of RSS at 100k, calls/s within 20%.

Pool: `--replicas 4` servers that each take `--delay 0.2` s per call, one pooled judge (`base_url:` a list) at
concurrency 256: calls/s against the ideal (concurrency / delay) and against raw sockets spread over the same
servers in the same run (the most this machine's cores let any client do), layer by layer with the client's
and the servers' CPU per call and the per-replica counts (benchmarks/pool_throughput.py, which this runs).
Goal: >= 85% of the ideal.

Both share two cores with the servers (and any other load): the load average is printed with the figures.

Run:  .venv/bin/python benchmarks/scale.py [--sizes 100000,1000000] [--bootstrap 100] [--concurrency 64]
      [--pool-calls 10000] [--replicas 4] [--delay 0.2] [--pool-concurrency 256] [--pool-processes 2]
      [--pool-workers 1,2] [--skip-pool] [--no-html] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judging import ANSWER, start_server  # noqa: E402  (the sibling benchmark's server)
from pool_throughput import pool_throughput, print_table  # noqa: E402

from judge.store import DB_NAME  # noqa: E402


def rss_mb() -> float:
    """Current resident set size (from /proc), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CONTESTANTS = tuple(f"m{i:02d}" for i in range(30))  # 870 judge calls per question


def tournament(url: str, calls: int, concurrency: int, folder: Path) -> Path:
    """A round-robin tournament config: 30 contestants replaying recorded answers (~600 characters each, all
    different) on enough one-turn questions for `calls` judge calls (both orders of every pair); the judge
    is an openai endpoint served by the loopback server at `url`."""
    names = CONTESTANTS
    per_question = len(names) * (len(names) - 1)
    n_questions = -(-calls // per_question)
    categories = ("writing", "math", "coding", "reasoning")
    with (folder / "questions.jsonl").open("w") as f:
        for i in range(n_questions):
            row = {
                "question_id": f"q{i}",
                "category": categories[i % 4],
                "turns": [f"Question {i}: explain."],
            }
            f.write(json.dumps(row) + "\n")
    answers = folder / "answers"
    answers.mkdir()
    for k, c in enumerate(names):
        with (answers / f"{c}.jsonl").open("w") as f:
            for i in range(n_questions):
                # Lengths differ between contestants on a question, as in a real tournament, so the run
                # fits its style-controlled board too.
                text = f"{c} on question {i}: {ANSWER[: 480 + (7 * i + 13 * k) % 160]}"
                f.write(
                    json.dumps({"question_id": f"q{i}", "choices": [{"index": 0, "turns": [text]}]}) + "\n"
                )
    endpoint = {"provider": "openai", "base_url": url, "api_key_env": "BENCH_KEY", "temperature": 0}
    config = {
        "name": "scale",
        "questions": {"path": "questions.jsonl"},
        "contestants": [{"name": c, "provider": "replay", "path": f"answers/{c}.jsonl"} for c in names],
        "judge": {"model": "bench-judge", "concurrency": concurrency, **endpoint},
        "schedule": {"kind": "round-robin"},
        "concurrency": concurrency,
    }
    path = folder / "tournament.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def scale_child(
    url: str, calls: int, concurrency: int, bootstrap: int, folder: Path, html: bool = True
) -> dict[str, Any]:
    """One `judge run` (judge.api.run, the code behind the command) of `calls` judge calls, sampled."""
    from judge import api

    config = tournament(url, calls, concurrency, folder)
    samples: list[tuple[int, float]] = []
    every = max(1, calls // 50)

    def on_judging(progress: Any) -> None:
        if progress.done % every == 0:
            samples.append((progress.done, rss_mb()))

    base_rss = rss_mb()
    started = time.perf_counter()
    result = api.run(
        config,
        out=folder / "out",
        env={"BENCH_KEY": "bench-key"},
        bootstrap=bootstrap,
        write_html=html,
        on_judging=on_judging,
    )
    wall = time.perf_counter() - started
    j = result.outcome.judging
    if j.judged != calls - calls % 2 and j.judged < calls or j.failed or result.problems:
        raise RuntimeError(f"expected {calls} judgements, got {j} ({result.problems})")
    phases = dict(result.phases)
    db_bytes = sum(f.stat().st_size for f in (folder / "out").glob(DB_NAME + "*"))
    with contextlib.closing(sqlite3.connect(folder / "out" / DB_NAME)) as db:  # pages per table + its indexes
        owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_schema"))
        per_table: dict[str, int] = {}
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            per_table[table] = per_table.get(table, 0) + size
    half = samples[len(samples) // 2]
    slope = (samples[-1][1] - half[1]) / max(1, samples[-1][0] - half[0]) * 1e6  # MB per million calls
    return {
        "calls": j.judged,
        "answers": result.outcome.answers.progress.asked,
        "battles": len(result.outcome.battles),
        "seconds": phases["judging"],
        "calls_per_s": j.judged / phases["judging"],
        "wall_seconds": wall,
        "phases": phases,
        "rss_before_mb": base_rss,
        "rss_judging_end_mb": samples[-1][1],
        "peak_rss_judging_mb": max(r for _, r in samples),
        "peak_rss_mb": peak_rss_mb(),
        "rss_growth_mb_per_million_calls": slope,
        "report_mb": (folder / "out" / "report.html").stat().st_size / 1e6 if html else None,
        "db_mb": db_bytes / 1e6,
        "db_bytes_per_judgement": db_bytes / j.judged,
        "db_bytes_per_judgement_by_table": {
            table: round(size / j.judged, 1)
            for table, size in sorted(per_table.items(), key=lambda kv: -kv[1])
        },
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap rounds of the run's boards")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--pool-calls", type=int, default=10000)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--pool-concurrency", type=int, default=256)
    parser.add_argument("--pool-processes", type=int, default=2)
    parser.add_argument(
        "--pool-workers", default="1,2", help="the pool's `judge, N workers` layers (0: none)"
    )
    parser.add_argument("--skip-pool", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--no-html", action="store_true", help="runs skip report.html (judge run --no-html)")
    parser.add_argument("--keep", metavar="DIR", help="keep each size's results directory under DIR")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--child",
        nargs=6,
        metavar=("URL", "CALLS", "CONCURRENCY", "BOOTSTRAP", "HTML", "KEEP"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()

    if args.child:
        url, calls, concurrency, bootstrap, html, keep = args.child
        if keep:
            folder = Path(tempfile.mkdtemp(prefix=f"scale-{calls}-", dir=keep))
            row = scale_child(url, int(calls), int(concurrency), int(bootstrap), folder, html == "1")
            row["kept"] = str(folder)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                row = scale_child(url, int(calls), int(concurrency), int(bootstrap), Path(tmp), html == "1")
        print(json.dumps(row))
        return

    out: dict[str, Any] = {"cpus": os.cpu_count(), "scale": [], "pool": None}
    if not args.skip_scale:
        proc, url = start_server(0.0)
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                child_args = ["--child", url, str(size), str(args.concurrency), str(args.bootstrap),
                              "0" if args.no_html else "1", args.keep or ""]  # fmt: skip
                child = subprocess.run(
                    [sys.executable, __file__, *child_args], capture_output=True, text=True
                )
                if child.returncode != 0:
                    raise SystemExit(f"{size} calls: the run failed: {child.stderr.strip()[-2000:]}")
                row = json.loads(child.stdout.strip().splitlines()[-1])
                row["load_average"] = load()
                out["scale"].append(row)
                if not args.json:
                    growth = row["rss_growth_mb_per_million_calls"]
                    tables = ", ".join(
                        f"{t} {b:.0f}" for t, b in row["db_bytes_per_judgement_by_table"].items() if b >= 10
                    )
                    print(
                        f"{row['calls']:>9,} calls  judging {row['seconds']:>7.1f} s  "
                        f"{row['calls_per_s']:>5.0f} calls/s  RSS {row['rss_before_mb']:.0f} MB before, "
                        f"{row['peak_rss_judging_mb']:.0f} judging, peak {row['peak_rss_mb']:.0f} MB "
                        f"(growth while judging {growth:.0f} MB per 1M calls)  DB {row['db_mb']:.1f} MB = "
                        f"{row['db_bytes_per_judgement']:.0f} B per judgement ({tables})  "
                        f"rating {row['phases'].get('rating', 0):.0f} s, "
                        f"report {row['phases'].get('report', 0):.0f} s  load {row['load_average']}",
                        flush=True,
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if not args.skip_pool:
        out["pool"] = pool_throughput(
            args.pool_calls,
            args.replicas,
            args.delay,
            args.pool_concurrency,
            args.pool_processes,
            tuple(n for n in (int(x) for x in args.pool_workers.split(",")) if n > 0),
        )
        if not args.json:
            print_table(out["pool"])
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
