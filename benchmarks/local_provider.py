"""Throughput of the embedded llama.cpp server (SmolLM2-135M) by slots and threads, via the openai provider.

Sends the same batch of short chat requests, CONCURRENCY at a time, to servers started with 1, 2 and 4 slots
on one thread and 2 slots on two threads, and prints generated tokens per second with the ratio to the first
row; then judge-like requests (a long prompt, one output token) for prompt tokens per second. Run it on a
quiet machine: other load on the cores swamps the differences.

Run:  .venv/bin/python benchmarks/local_provider.py [--requests 12] [--max-tokens 48] [--concurrency 2]
      [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from judge.providers import Endpoint, Message, Request
from judge.providers import openai as openai_provider
from judge.providers.gguf import BUILTIN_MODELS, default_cache_dir, fetch_builtin
from judge.providers.local import start_server

PROMPTS = [
    "Describe a lighthouse in two sentences.",
    "Give three tips for learning to cook.",
    "Explain what a prime number is.",
    "Write a short note thanking a neighbour.",
]


LONG = " ".join(
    f"Sentence {n} of a long answer that the judge has to read before it decides." for n in range(40)
)


async def batch(
    url: str, requests: int, max_tokens: int, concurrency: int, *, long: bool = False
) -> tuple[float, int]:
    """Seconds for the batch and the tokens that count: generated ones, or prompt ones when `long`."""
    provider = openai_provider.create(Endpoint("openai", model="smollm2-135m", base_url=url + "/v1"))
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> int:
        request = Request(
            model="smollm2-135m",
            messages=(Message("user", f"{i} {LONG}" if long else PROMPTS[i % len(PROMPTS)]),),
            temperature=0.0,
            max_tokens=max_tokens,
        )
        async with gate:
            done = await provider.complete(request)
        return (done.input_tokens if long else done.output_tokens) or 0

    started = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(i) for i in range(requests))))
    wall = time.perf_counter() - started
    await provider.aclose()
    return wall, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cache = os.environ.get("JUDGE_CACHE_DIR")
    gguf = fetch_builtin(BUILTIN_MODELS["smollm2-135m"], Path(cache) if cache else default_cache_dir())
    rows = []
    for slots, threads in ((1, 1), (2, 1), (4, 1), (2, 2)):
        server, url = start_server(gguf, slots=slots, threads=threads)
        asyncio.run(batch(url, 2, 4, 1))  # warm up: first graph allocation
        wall, tokens = asyncio.run(batch(url, args.requests, args.max_tokens, args.concurrency))
        p_wall, p_tokens = asyncio.run(batch(url, args.requests, 1, args.concurrency, long=True))
        del server
        rows.append(
            {
                "slots": slots,
                "threads": threads,
                "seconds": wall,
                "tokens": tokens,
                "tokens_per_s": tokens / wall,
                "prompt_tokens_per_s": p_tokens / p_wall,
            }
        )
    base = rows[0]["tokens_per_s"]
    for row in rows:
        row["ratio"] = row["tokens_per_s"] / base
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "concurrency": args.concurrency, "rows": rows}, indent=2))
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cpus={os.cpu_count()} load={load} concurrency={args.concurrency} requests={args.requests}")
    header = ("slots", "threads", "seconds", "tokens", "tok/s", "vs first", "prompt tok/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (5, 7, 8, 7, 7, 8, 12), strict=True)))
    for row in rows:
        print(
            f"{row['slots']:>5} {row['threads']:>7} {row['seconds']:>8.2f} {row['tokens']:>7} "
            f"{row['tokens_per_s']:>7.1f} {row['ratio']:>7.2f}x {row['prompt_tokens_per_s']:>12.0f}"
        )


if __name__ == "__main__":
    main()
