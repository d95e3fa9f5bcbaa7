"""How often `judge compare` fails a build on noise alone, and how often it catches a real drop.

Simulates pairs of runs of five models over the same questions (every pair once per question, outcomes
drawn from Bradley-Terry on the Elo scale). "noise": both runs have the same true ratings, so any regression
is a false alarm (the target is at most 1 - ci = 5%, from the simultaneous max-t intervals over the watched
models). "drop":
one model is DROP Elo weaker in the candidate, so a regression naming it is a detection. Also prints seconds
per compare.

Run:  .venv/bin/python benchmarks/compare_calibration.py [--trials 40] [--rounds 500] [--drop 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd

from judge.compare import compare_battles

STRENGTH = {"alpha": 1200.0, "bravo": 1100.0, "charlie": 1000.0, "delta": 950.0, "echo": 850.0}


def simulate(strength: dict[str, float], rng: np.random.Generator, questions: int) -> pd.DataFrame:
    models = sorted(strength)
    a_idx, b_idx = np.triu_indices(len(models), k=1)
    a = np.tile(a_idx, questions)
    b = np.tile(b_idx, questions)
    values = np.array([strength[m] for m in models])
    p = 1 / (1 + 10 ** ((values[b] - values[a]) / 400))
    u = rng.random(len(a))
    winner = np.where(np.abs(u - p) < 0.05, "tie", np.where(u < p, "model_a", "model_b"))
    names = np.array(models, dtype=object)
    return pd.DataFrame(
        {
            "question_id": np.repeat([f"q{q}" for q in range(questions)], len(a_idx)),
            "model_a": names[a],
            "model_b": names[b],
            "winner": winner,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--drop", type=float, default=100.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    weaker = dict(STRENGTH, charlie=STRENGTH["charlie"] - args.drop)
    rows = []
    for scenario, candidate_strength in (("noise", STRENGTH), ("drop", weaker)):
        alarms = hits = 0
        start = time.perf_counter()
        for trial in range(args.trials):
            base = simulate(STRENGTH, rng, args.questions)
            cand = simulate(candidate_strength, rng, args.questions)
            result = compare_battles(base, cand, rounds=args.rounds, seed=trial)
            named = {c.model for c in result.regressions}
            alarms += bool(named - {"charlie"}) if scenario == "drop" else bool(named)
            hits += "charlie" in named
        seconds = (time.perf_counter() - start) / args.trials
        rows.append(
            {
                "scenario": scenario,
                "trials": args.trials,
                "false_alarm_rate": alarms / args.trials,
                "detection_rate": hits / args.trials if scenario == "drop" else None,
                "seconds_per_compare": round(seconds, 2),
            }
        )
    if args.json:
        json.dump(
            {"rounds": args.rounds, "questions": args.questions, "drop": args.drop, "rows": rows}, sys.stdout
        )
        print()
        return
    print(f"5 models, {args.questions} shared questions, {args.rounds} rounds, drop {args.drop:g} Elo")
    print(f"{'scenario':<10}{'false alarms':>14}{'detected':>10}{'s/compare':>11}")
    for row in rows:
        detected = "-" if row["detection_rate"] is None else f"{row['detection_rate']:.0%}"
        print(
            f"{row['scenario']:<10}{row['false_alarm_rate']:>14.0%}{detected:>10}{row['seconds_per_compare']:>11}"
        )


if __name__ == "__main__":
    main()
