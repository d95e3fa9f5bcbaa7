"""How often does the report's weak-board flag (judge/report/quality.py) fire, on judge-shaped data?

Judge-shaped: 6 models, every pair meets on the same questions (15 pairs per question), each question has its
own tie propensity and its own position pull (a judge ties or follows the position more on some questions than
on others), so battles on one question are correlated. The judge sees each pair in both orders; a pair is
consistent with probability `consistency` (varying by question around it), otherwise the judge picks whichever
answer it saw first both times; the conservative rule turns that pair into a tie. Among consistent pairs the
judge ties at `tie` (varying by question). The flag reads the battle log as the report does (position
consistency from verdict_ab / verdict_ba, the battle tie rate after the combine rule).

Printed per setting: the set consistency and battle tie rate (`(1 - c) + c * tie`), the means the logs showed
(question effects move them a little), the battles, and the share of runs whose board is flagged for
consistency, for ties, and at all. Rows on the right side of a
threshold should flag almost always; rows well inside should almost never; near the line it is a coin.

Run:  .venv/bin/python benchmarks/weak_flag.py [--trials 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from judge.report import quality

MODELS = tuple(f"m{i}" for i in range(6))
SETTINGS = (  # (consistency, tie rate among consistent pairs)
    (0.85, 0.15),
    (0.75, 0.20),
    (0.65, 0.20),
    (0.55, 0.10),
    (0.45, 0.05),
    (0.80, 0.45),
    (0.80, 0.60),
)


def simulate(consistency: float, tie: float, questions: int, rng: np.random.Generator) -> pd.DataFrame:
    """One judge's battle log (judge-shaped, both orders, conservative combine)."""
    strength = np.linspace(0.8, -0.8, len(MODELS))
    rows = []
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    for q in range(questions):
        c_q = 1 / (1 + np.exp(-(logit(consistency) + rng.normal(0, 0.5))))
        t_q = 1 / (1 + np.exp(-(logit(tie) + rng.normal(0, 0.5))))
        for (i, a), (j, b) in combinations(enumerate(MODELS), 2):
            p_a = 1 / (1 + np.exp(strength[j] - strength[i]))
            if rng.random() < t_q:
                ab, ba, winner = "A=B", "A=B", "tie"
            elif rng.random() < p_a:
                ab, ba, winner = "A>B", "B>A", "model_a"
            else:
                ab, ba, winner = "B>A", "A>B", "model_b"
            if rng.random() >= c_q:  # position-driven: the first answer shown wins in both orders
                ab, ba, winner = "A>B", "A>B", "tie"
            rows.append(
                {"question_id": f"q{q}", "model_a": a, "model_b": b, "winner": winner, "verdict_ab": ab,
                 "verdict_ba": ba}
            )  # fmt: skip
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--questions", type=int, nargs="+", default=[1, 4, 20])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    out: list[dict[str, Any]] = []
    for consistency, tie in SETTINGS:
        for questions in args.questions:
            counts = {"consistency": 0, "ties": 0, "weak": 0}
            seen: list[tuple[float, float]] = []
            for _ in range(args.trials):
                found = quality.judge_quality(simulate(consistency, tie, questions, rng), "sim")
                value = found.consistency.value
                seen.append((value or 0.0, found.tie_rate or 0.0))
                counts["consistency"] += bool(
                    value is not None
                    and found.consistency.n >= quality.MIN_SAMPLE
                    and value < quality.LOW_CONSISTENCY
                )
                counts["ties"] += bool(
                    found.battles >= quality.MIN_SAMPLE and (found.tie_rate or 0.0) > quality.HIGH_TIE_RATE
                )
                counts["weak"] += found.weak
            out.append(
                {
                    "consistency": consistency,
                    "battle_tie_rate": round((1 - consistency) + consistency * tie, 3),
                    "questions": questions,
                    "battles": questions * 15,
                    "mean_consistency": round(float(np.mean([v for v, _ in seen])), 3),
                    "mean_tie_rate": round(float(np.mean([t for _, t in seen])), 3),
                    **{f"flag_{k}": v / args.trials for k, v in counts.items()},
                }
            )
    if args.json:
        print(json.dumps({"trials": args.trials, "rows": out}, indent=2))
        return 0
    print(
        f"weak-board flag on judge-shaped data ({args.trials} runs each; flags at consistency < "
        f"{quality.LOW_CONSISTENCY:.0%} or battle ties > {quality.HIGH_TIE_RATE:.0%}, "
        f"from {quality.MIN_SAMPLE} battles)"
    )
    print("(set: the simulation's parameters; seen: the means of what the log showed, with question effects)")
    print(
        f"{'set: consistency':>16} {'ties':>5} {'seen: consistency':>17} {'ties':>5} {'battles':>7} "
        f"{'flag: consistency':>17} {'ties':>5} {'any':>5}"
    )
    for r in out:
        print(
            f"{r['consistency']:>16.2f} {r['battle_tie_rate']:>5.2f} {r['mean_consistency']:>17.2f} "
            f"{r['mean_tie_rate']:>5.2f} {r['battles']:>7} {r['flag_consistency']:>17.2f} "
            f"{r['flag_ties']:>5.2f} {r['flag_weak']:>5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
