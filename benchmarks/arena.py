"""Load on `judge arena`: many voters at once, each running battles (prompt, both streams, vote) in a row.

The arena runs as `judge arena` in its own process on loopback with three echo contestants that take
`--delay` seconds per reply (streamed word by word). Each simulated voter is a browser of its own (an aiohttp
session with its cookie): it loads the page, then for each battle posts a prompt, reads the whole
server-sent-event stream, and votes. Measured: the time from sending a vote to its acknowledgement (the vote
is in the store and the battle log by then), p50 / p95 / p99. Baseline, in the same run against the same
server: one voter alone. Then checked: every vote stored exactly once (store rows, distinct battle ids, log
lines), no request refused, and the live leaderboard's ratings equal to `judge rate arena_battles.jsonl`.

The server shares the two cores with the simulated voters; the load average is printed with the table.

Run:  .venv/bin/python benchmarks/arena.py [--voters 50] [--battles 10] [--delay 0.2] [--bootstrap 100]
      [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from judge import api
from judge.store import DB_NAME, Store

CONFIG = """\
name: arena-load
questions: demo
contestants:
  - {{name: alpha, provider: echo, model: a, delay: {delay}}}
  - {{name: bravo, provider: echo, model: b, delay: {delay}}}
  - {{name: charlie, provider: echo, model: c, delay: {delay}}}
arena: {{prompts_per_minute: 10000, bootstrap: {bootstrap}}}
"""
PROMPTS = ("What is a prime number?", "Explain recursion.", "Write a haiku about rain.", "¿Qué hora es?")
CHOICES = ("a", "b", "tie", "bothbad", "a", "b", "a")


class Stats:
    def __init__(self) -> None:
        self.acks: list[float] = []
        self.turns: list[float] = []
        self.refused: list[str] = []


async def voter(url: str, n: int, battles: int, stats: Stats) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(url) as page:
            await page.read()
        for i in range(battles):
            started = time.perf_counter()
            prompt = PROMPTS[(n + i) % len(PROMPTS)]
            async with session.post(url + "api/turn", json={"battle_id": None, "prompt": prompt}) as reply:
                if reply.status != 200:
                    stats.refused.append(f"turn {reply.status}: {await reply.text()}")
                    continue
                body = (await reply.read()).decode()
            stats.turns.append(time.perf_counter() - started)
            battle_id = json.loads(body.split("data: ", 1)[1].split("\n", 1)[0])["battle_id"]
            if "event: end" not in body or '"void": true' in body:
                stats.refused.append("a battle did not end cleanly")
                continue
            sent = time.perf_counter()
            choice = CHOICES[(n * battles + i) % len(CHOICES)]
            async with session.post(url + "api/vote", json={"battle_id": battle_id, "choice": choice}) as ack:
                await ack.read()
                if ack.status != 200:
                    stats.refused.append(f"vote {ack.status}")
                    continue
            stats.acks.append(time.perf_counter() - sent)


async def crowd(url: str, voters: int, battles: int) -> tuple[Stats, float]:
    stats = Stats()
    started = time.perf_counter()
    await asyncio.gather(*(voter(url, n, battles, stats) for n in range(voters)))
    return stats, time.perf_counter() - started


def start_server(config: Path, out: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "judge", "arena", str(config), "--port", "0", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"the arena did not start: {line!r}")
    return proc, line.split()[2]


async def board_with(url: str, votes: int, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url + "api/board") as reply:
                board: dict[str, Any] = await reply.json()
            if board["votes"] >= votes and board.get("ready"):
                return board
            if time.monotonic() > deadline:
                raise SystemExit(f"the board counts {board['votes']} of {votes} votes")
            await asyncio.sleep(0.2)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--battles", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--bootstrap", type=int, default=100, help="rounds behind the live intervals")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "arena.yaml"
        config.write_text(CONFIG.format(delay=args.delay, bootstrap=args.bootstrap))
        out = root / "out"
        proc, url = start_server(config, out)
        try:
            base, base_wall = asyncio.run(crowd(url, 1, 20))
            load, wall = asyncio.run(crowd(url, args.voters, args.battles))
            expected = 20 + args.voters * args.battles
            board = asyncio.run(board_with(url, expected))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        with Store.open(out / DB_NAME) as store:
            rows = [row for _, row in store.arena_battles()]
        lines = (out / "arena_battles.jsonl").read_text().splitlines()
        rated = api.rate([out / "arena_battles.jsonl"], bootstrap=1).leaderboard
        assert rated is not None
        cli = dict(zip(rated["model"], rated["rating"], strict=True))
        live = {row["model"]: row["rating"] for row in board["bt"]}
        drift = max(abs(live[m] - cli[m]) for m in cli)
    load_avg = os.getloadavg()
    result = {
        "voters": args.voters,
        "battles_each": args.battles,
        "delay_s": args.delay,
        "votes_expected": expected,
        "votes_stored": len(rows),
        "distinct_battles": len({r.battle_id for r in rows}),
        "log_lines": len(lines),
        "refused": len(load.refused) + len(base.refused),
        "wall_s": round(wall, 2),
        "votes_per_s": round(len(load.acks) / wall, 1),
        "ack_ms": {q: round(pct(load.acks, q), 1) for q in (50, 95, 99)},
        "baseline_ack_ms": {q: round(pct(base.acks, q), 1) for q in (50, 95, 99)},
        "turn_p95_ms": round(pct(load.turns, 95), 1),
        "baseline_turn_p95_ms": round(pct(base.turns, 95), 1),
        "board_seconds": board.get("seconds"),
        "board_vs_judge_rate_max_abs_diff": drift,
        "load_average": [round(x, 2) for x in load_avg],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"judge arena load: {args.voters} voters x {args.battles} battles, echo delay {args.delay}s")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for label, stats in (("vote -> ack, 1 voter", base), (f"vote -> ack, {args.voters} voters", load)):
        print(f"{label:28}" + "".join(f"{pct(stats.acks, q):>10.1f}" for q in (50, 95, 99)))
    ratio = pct(load.acks, 95) / pct(base.acks, 95)
    print(f"p95 ack ratio (loaded / alone): {ratio:.2f}")
    print(f"turn (both streams) p95: {pct(load.turns, 95):.0f} ms loaded, {pct(base.turns, 95):.0f} ms alone")
    print(
        f"votes: {expected} cast, {len(rows)} stored, {len({r.battle_id for r in rows})} distinct battles, "
        f"{len(lines)} log lines, {result['refused']} refused; "
        f"{result['votes_per_s']} votes/s over {wall:.1f} s"
    )
    print(
        f"live board vs `judge rate arena_battles.jsonl`: max |rating difference| {drift:.2e}; "
        f"last recompute {board.get('seconds')} s"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in load_avg)}")
    ok = len(rows) == expected == len(lines) == len({r.battle_id for r in rows}) and not result["refused"]
    if not ok or drift > 1e-3:  # the board rounds ratings to 4 decimals
        raise SystemExit("FAILED: votes lost, duplicated or refused, or the board disagrees with judge rate")


if __name__ == "__main__":
    main()
