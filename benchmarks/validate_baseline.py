"""How often `judge validate` calls a judge better or worse than humans wrongly, and how often rightly.

Judge-shaped data: every pair of MODELS models on every question and both turns, each question with its own
effect (some questions are close calls, some one-sided), the human votes sparse (per item 0, 1, 2 or 3 voters,
as in MT-Bench's expert votes) and the judge voting on every item. A voter picks the better answer with a
probability set by the rating gap, the question's effect and the voter's sharpness, and calls a tie at its own
rate. Scenarios:

- "equal": the judge votes exactly like a human, so judge-human and human-human agreement are the same in
  expectation (true difference 0); any "above" or "below" standing is a false verdict (target at most 5%).
- "worse": the judge is less sharp and ties more; "below" is a detection.
- "better": the judge is sharper than the humans; "above" is a detection.

For each scenario it prints the share of trials in each standing, with and without ties, and how often the 95%
paired bootstrap interval of the difference (judge minus human agreement on the same items) covers the true
difference, measured on one very large draw of the same generator.

Run:  .venv/bin/python benchmarks/validate_baseline.py [--trials 200] [--rounds 200] [--questions 80] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from judge.items import ITEM
from judge.validate.agreement import human_agreement, judge_agreement, matched_items
from judge.validate.uncertainty import QUESTION, difference_intervals
from judge.validate.verdict import standing

MODELS = 6
SPREAD = 120.0  # Elo between neighbouring models
VOTERS = (0, 1, 2, 3)
VOTER_SHARE = (0.45, 0.25, 0.2, 0.1)  # human voters per item


@dataclass(frozen=True)
class Voter:
    sharpness: float  # multiplies the logit of the better answer
    tie: float  # probability of a tie


HUMAN = Voter(1.0, 0.3)
JUDGES = {"equal": HUMAN, "worse": Voter(0.4, 0.45), "better": Voter(3.0, 0.15)}


def simulate(judge: Voter, questions: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Human and judge battle frames over every pair, question and turn."""
    strength = np.arange(MODELS)[::-1] * SPREAD / 400 * np.log(10)  # natural-log units
    a_idx, b_idx = np.triu_indices(MODELS, k=1)
    items = pd.DataFrame(
        {
            "q": np.repeat(np.arange(questions), 2 * len(a_idx)),
            "turn": np.tile(np.repeat([1, 2], len(a_idx)), questions),
            "a": np.tile(a_idx, 2 * questions),
            "b": np.tile(b_idx, 2 * questions),
        }
    )
    effect = rng.normal(0.0, 1.0, size=(questions, MODELS))  # per question, how well each model does on it
    logit = (
        strength[items["a"]]
        - strength[items["b"]]
        + effect[items["q"], items["a"]]
        - effect[items["q"], items["b"]]
    )

    def votes(voter: Voter, rows: np.ndarray, name: np.ndarray) -> pd.DataFrame:
        p_a = 1.0 / (1.0 + np.exp(-voter.sharpness * logit[rows]))
        u, t = rng.random(len(rows)), rng.random(len(rows))
        winner = np.where(t < voter.tie, "tie", np.where(u < p_a, "model_a", "model_b"))
        return pd.DataFrame(
            {
                "question_id": items["q"].to_numpy()[rows].astype(str),
                "model_a": np.char.add("m", items["a"].to_numpy()[rows].astype(str)),
                "model_b": np.char.add("m", items["b"].to_numpy()[rows].astype(str)),
                "winner": winner,
                "judge": name,
                "turn": items["turn"].to_numpy()[rows],
            }
        )

    count = rng.choice(VOTERS, size=len(items), p=VOTER_SHARE)
    rows = np.repeat(np.arange(len(items)), count)
    voter = np.concatenate([np.arange(c) for c in count]) if len(rows) else np.zeros(0, dtype=int)
    human = votes(HUMAN, rows, np.char.add("h", voter.astype(str)))
    judge = votes(judge, np.arange(len(items)), np.full(len(items), "judge"))
    return human, judge


def difference(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    rounds: int,
    rng: np.random.Generator,
    unit: tuple[str, ...] = QUESTION,
) -> dict[str, tuple[float | None, float | None, float | None, str]]:
    """The same figures `judge validate` computes: agreement on matched items and the paired difference."""
    versus, between = judge_agreement(human, judge), human_agreement(human)
    items = matched_items(versus, between)
    on_judge = judge_agreement(human, judge, items=items)
    on_human = human_agreement(human, items=items)
    assert on_judge.pairs is not None and on_human.pairs is not None
    out = difference_intervals(on_judge.pairs, on_human.pairs, rounds=rounds, rng=rng, unit=unit)
    return {side: (i.value, i.lower, i.upper, standing(i)) for side, i in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--unit", choices=["question", "item"], default="question", help="bootstrap unit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    rows = []
    for scenario, judge in JUDGES.items():
        started = time.perf_counter()
        truth = difference(*simulate(judge, 3000, rng), rounds=0, rng=rng)  # ~100k items: the expectation
        if (
            judge == HUMAN
        ):  # exchangeable with a human: the true difference is 0 exactly, not a noisy estimate
            truth = {side: (0.0, *rest) for side, (_, *rest) in truth.items()}
        tally: dict[str, dict[str, int]] = {side: {} for side in truth}
        covered = dict.fromkeys(truth, 0)
        for _ in range(args.trials):
            unit = QUESTION if args.unit == "question" else ITEM
            found = difference(*simulate(judge, args.questions, rng), args.rounds, rng, unit)
            for side, (_, lower, upper, where) in found.items():
                tally[side][where] = tally[side].get(where, 0) + 1
                true = truth[side][0]
                covered[side] += (
                    lower is not None and upper is not None and true is not None and lower <= true <= upper
                )
        for side in truth:
            rows.append(
                {
                    "scenario": scenario,
                    "side": side,
                    "true_difference": truth[side][0],
                    **{
                        w: tally[side].get(w, 0) / args.trials
                        for w in ("above", "within", "below", "unclear")
                    },
                    "coverage": covered[side] / args.trials,
                    "seconds_per_trial": (time.perf_counter() - started) / args.trials,
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{args.trials} trials, {args.questions} questions x 2 turns x {MODELS * (MODELS - 1) // 2} pairs, "
        f"{args.rounds} bootstrap rounds over {args.unit}s"
    )
    head = ("above", "within", "below", "unclear", "cover")
    print(f"{'scenario':8} {'side':13} {'true d':>7} " + " ".join(f"{h:>7}" for h in head))
    for r in rows:
        print(
            f"{r['scenario']:8} {r['side']:13} {100 * r['true_difference']:+7.1f} {r['above']:7.3f} "
            f"{r['within']:7.3f} {r['below']:7.3f} {r['unclear']:7.3f} {r['coverage']:7.3f}"
        )


if __name__ == "__main__":
    main()
