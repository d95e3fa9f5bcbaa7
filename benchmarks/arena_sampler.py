"""Does the arena's active pair sampler buy tighter intervals than uniform sampling for the same votes?

Simulated arena: six models with known Elo-scale strengths, prompts drawn from a pool of 100 (so prompts
repeat and the live board clusters its bootstrap by prompt), each prompt with its own effect: it scales every
strength difference by a factor in [0.7, 1.3] (some prompts separate models more than others). No ties, so
the ratings' target is the true strengths (a tie rate independent of strength would shrink BT's scale).
Votes arrive in rounds; after each round the live board (judge.arena.board.board, the code
the server runs) is refitted and the next round's pairs are drawn by judge.arena.sampler with its stats,
exactly as the server does. Printed per sampler, averaged over seeds: the mean 95% interval width, the share
of true neighbours (adjacent in strength) whose intervals are separated, Kendall tau against the truth, and
the coverage of the intervals (share containing the true rating, after centring both on their mean).

Run:  .venv/bin/python benchmarks/arena_sampler.py [--seeds 4] [--rounds 15] [--per-round 60] [--bootstrap 40]
"""

from __future__ import annotations

import argparse
import math
import os
import random

import numpy as np
from scipy.stats import kendalltau

from judge.arena.board import board, pair_stats
from judge.arena.sampler import draw_pair
from judge.battles import Battle, to_frame

TRUTH = {"m1": 0.0, "m2": 40.0, "m3": 80.0, "m4": 140.0, "m5": 220.0, "m6": 320.0}


def vote(a: str, b: str, scale: float, rng: random.Random) -> str:
    p_a = 1.0 / (1.0 + 10 ** (scale * (TRUTH[b] - TRUTH[a]) / 400.0))
    return "model_a" if rng.random() < p_a else "model_b"


def simulate(sampler: str, seed: int, rounds: int, per_round: int, bootstrap: int) -> dict[str, float]:
    rng = random.Random(seed)
    scales = [rng.uniform(0.7, 1.3) for _ in range(100)]
    models = sorted(TRUTH)
    battles: list[Battle] = []
    stats: dict = {}
    result: dict = {}
    for r in range(rounds):
        for i in range(per_round):
            a, b = draw_pair(models, sampler, stats, rng)
            q = rng.randrange(100)
            battles.append(
                Battle(
                    f"p{q}",
                    a,
                    b,
                    vote(a, b, scales[q], rng),
                    "human:sim",
                    "human",
                    None,
                    "en",
                    1,
                    1.7e9 + r * per_round + i,
                )
            )
        result = board(to_frame(battles), bootstrap=bootstrap, seed=seed)
        stats = pair_stats(result)
    rows = {row["model"]: row for row in result["bt"]}
    widths = [rows[m]["ci_upper"] - rows[m]["ci_lower"] for m in models]
    order = sorted(models, key=TRUTH.__getitem__)
    separated = [
        rows[lo]["ci_upper"] < rows[hi]["ci_lower"] for lo, hi in zip(order, order[1:], strict=False)
    ]
    shift = np.mean([rows[m]["rating"] for m in models]) - np.mean(list(TRUTH.values()))
    covered = [rows[m]["ci_lower"] - shift <= TRUTH[m] <= rows[m]["ci_upper"] - shift for m in models]
    tau = kendalltau([TRUTH[m] for m in models], [rows[m]["rating"] for m in models]).statistic
    return {
        "width": float(np.mean(widths)),
        "separated": float(np.mean(separated)),
        "tau": float(tau) if not math.isnan(tau) else 0.0,
        "coverage": float(np.mean(covered)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=60)
    parser.add_argument("--bootstrap", type=int, default=40)
    args = parser.parse_args()
    votes = args.rounds * args.per_round
    print(
        f"6 models, {votes} votes in {args.rounds} rounds, {args.seeds} seeds, "
        f"{args.bootstrap} bootstrap rounds"
    )
    print(f"{'sampler':10}{'CI width':>10}{'neighbours separated':>22}{'Kendall tau':>13}{'coverage':>10}")
    for sampler in ("uniform", "active"):
        runs = [simulate(sampler, s, args.rounds, args.per_round, args.bootstrap) for s in range(args.seeds)]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        print(
            f"{sampler:10}{mean['width']:>10.1f}{mean['separated']:>22.2f}{mean['tau']:>13.3f}"
            f"{mean['coverage']:>10.2f}"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
