"""Judge calls each schedule needs to answer three questions, on a simulated judge with a known truth.

    .venv/bin/python benchmarks/schedules.py [--models 8,16,48] [--trials 30] [--jobs 2] [--json]

Truth: Bradley-Terry strengths drawn N(0, 80 Elo) (the LLMFAO crowd leaderboard, 59 models, has an 82 Elo
spread), plus `baseline` at 0, `candidate` 30 Elo below it and `twin` equal to it. The judge sees one order
per call and answers by Davidson's model with ties (20% between equals) and a 50 Elo bonus for the answer
shown first; a (question, pair, order) always gets the same verdict, as a cached judge would. The simulated
tournament is the real loop: the registered schedule classes, judge.pairings.state.advance, a Budget at the
cap, and judge.verdicts.CombineRule("single") to pick the shown order of pairs that do not pin `first`.

Targets, checked after every batch (one-shot batches are judged in slices of the same size as the adaptive
batches, which is what a budget cut of that size would give): Kendall tau >= 0.9 with the true order; the
true top 3 in order; "candidate worse than baseline" (95% Wald interval of the fitted rating difference, or
the head-to-head decision). A trial needs the calls after which the target holds at every later check (a
target never held by the cap counts as not reached). The false-alarm rate is the share of trials that end
with `twin` declared worse than `baseline` (an equal model). Medians and success rates over seeded trials.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau

from judge.battles import Battle
from judge.pairings import Pair, Schedule, ScheduleState, make_schedule
from judge.pairings.sequential import HeadToHead
from judge.pairings.state import ELO_FACTOR, Budget, advance, current_fit
from judge.verdicts import CombineRule

SPREAD, TIE_NU, POSITION_BIAS, REGRESSION = 80.0, 0.5, 50.0, 30.0
QUESTIONS = 3000
CAPS = {8: 12_000, 16: 24_000, 48: 60_000}
CHECKS = 150  # about this many looks per run
TARGETS = ("kendall-tau>=0.9", "top-3", "regression-30elo")
_SINGLE = CombineRule("single")


@dataclass(frozen=True)
class Truth:
    ratings: dict[str, float]
    trial: int


def truth(n: int, trial: int) -> Truth:
    rng = np.random.default_rng([n, trial])
    ratings = {f"m{i:02d}": float(x) for i, x in enumerate(rng.normal(0, SPREAD, n - 3))}
    ratings.update(baseline=0.0, candidate=-REGRESSION, twin=0.0)
    return Truth(ratings, trial)


def judge(world: Truth, batch: list[Pair]) -> list[Battle]:
    """One single-order verdict per pair, drawn from Davidson's model with a first-position bonus."""
    out = []
    for pair in batch:
        first = pair.first
        if first is None:
            first = pair.model_a if _SINGLE.orders(pair)[0] == "ab" else pair.model_b
        second = pair.model_b if first == pair.model_a else pair.model_a
        d = (world.ratings[first] + POSITION_BIAS - world.ratings[second]) / ELO_FACTOR
        p_first, p_second = math.exp(d / 2), math.exp(-d / 2)
        key = f"{world.trial}\0{pair.question_id}\0{pair.model_a}\0{pair.model_b}\0{first}".encode()
        u = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
        u *= p_first + p_second + TIE_NU
        won = first if u < p_first else second if u < p_first + p_second else None
        winner = "tie" if won is None else "model_a" if won == pair.model_a else "model_b"
        out.append(Battle(pair.question_id, pair.model_a, pair.model_b, winner, judge="sim", source="judge"))
    return out


def checks(world: Truth, state: ScheduleState) -> tuple[bool, bool, bool, bool]:
    """tau >= 0.9, top 3 right in order, candidate found worse, twin found worse (a false alarm)."""
    names = list(world.ratings)
    est = [state.ratings.get(c, 1000.0) for c in names]
    true = [world.ratings[c] for c in names]
    tau = kendalltau(true, est).statistic >= 0.9
    top = sorted(names, key=lambda c: -state.ratings.get(c, 1000.0))[:3]
    top_ok = [world.ratings[c] for c in top] == sorted(true, reverse=True)[:3]
    fit = current_fit(state)
    worse = [False, False]
    if fit is not None and {"baseline", "candidate", "twin"} <= set(fit.models):
        n = len(fit.models)
        cov = np.linalg.inv(fit.neg_hessian[:n, :n] + 1.0 / n) * ELO_FACTOR**2
        at = {m: i for i, m in enumerate(fit.models)}
        for k, name in enumerate(("candidate", "twin")):
            i, j = at[name], at["baseline"]
            se = math.sqrt(cov[i, i] + cov[j, j] - 2 * cov[i, j])
            worse[k] = fit.ratings[name] - fit.ratings["baseline"] + 1.96 * se < 0
    return tau, top_ok, worse[0], worse[1]


def needed(history: list[tuple[int, bool]]) -> float:
    """Calls after which the target held at every later check; inf if it did not hold at the end."""
    calls = math.inf
    for spent, ok in reversed(history):
        if not ok:
            break
        calls = spent
    return calls


def schedules(n: int) -> dict[str, Callable[[], Schedule]]:
    cap = CAPS[n]
    step = max(32, cap // CHECKS)
    per_pairing = max(1, round(cap / (CHECKS * (n // 2))))
    return {
        "round-robin": lambda: make_schedule("round-robin"),
        "swiss": lambda: make_schedule("swiss", rounds=10**6, questions_per_pairing=per_pairing),
        "adaptive": lambda: make_schedule("adaptive", batch_size=step),
        "adaptive top-3": lambda: make_schedule("adaptive", batch_size=step, focus="top-3"),
    }


def run(task: tuple[int, int, str]) -> dict[str, object]:
    n, trial, name = task
    world = truth(n, trial)
    cap = CAPS[n]
    step = max(32, cap // CHECKS)
    if name == "head-to-head":
        return _head_to_head(world, n, cap)
    questions = tuple(f"q{i}" for i in range(QUESTIONS))
    if name == "round-robin":  # a question set just large enough: its plan is then the cap's worth of sweeps
        questions = questions[: math.ceil(cap / (n * (n - 1) / 2))]
    schedule = Budget(schedules(n)[name](), judge_calls=cap, calls_per_pair=1)
    state = ScheduleState(tuple(world.ratings), questions)
    history: list[tuple[int, tuple[bool, bool, bool, bool]]] = []
    while batch := schedule.next_batch(state):
        for start in range(0, len(batch), step):
            chunk = batch[start : start + step]
            state = advance(state, chunk, judge(world, chunk))
            history.append((len(state.scheduled), checks(world, state)))
    out: dict[str, object] = {"models": n, "trial": trial, "schedule": name}
    for k, target in enumerate(TARGETS):
        out[target] = needed([(c, ok[k]) for c, ok in history])
    out["false_alarm"] = history[-1][1][3]
    return out


def _head_to_head(world: Truth, n: int, cap: int) -> dict[str, object]:
    questions = tuple(f"q{i}" for i in range(QUESTIONS))
    results = {}
    for other in ("candidate", "twin"):
        schedule = HeadToHead(candidate=other, baseline="baseline", seed=world.trial)
        state = ScheduleState((other, "baseline"), questions)
        while batch := Budget(schedule, judge_calls=cap, calls_per_pair=1).next_batch(state):
            state = advance(state, batch, judge(world, batch))
        results[other] = (schedule.result(state).decision, len(state.scheduled))
    decision, calls = results["candidate"]
    out: dict[str, object] = {"models": n, "trial": world.trial, "schedule": "head-to-head"}
    out.update({t: math.inf for t in TARGETS})
    out["regression-30elo"] = calls if decision == "worse" else math.inf
    out["false_alarm"] = results["twin"][0] == "worse"
    return out


def summarise(results: list[dict[str, object]]) -> list[dict[str, object]]:
    rows = []
    keys = sorted({(int(r["models"]), str(r["schedule"])) for r in results})  # type: ignore[call-overload]
    order = ["round-robin", "swiss", "adaptive", "adaptive top-3", "head-to-head"]
    keys.sort(key=lambda k: (k[0], order.index(k[1])))
    for target in TARGETS:
        for n, name in keys:
            if name == "head-to-head" and target != "regression-30elo":
                continue
            trials = [r for r in results if r["models"] == n and r["schedule"] == name]
            calls = [float(r[target]) for r in trials]  # type: ignore[arg-type]
            median = statistics.median(calls)
            row: dict[str, object] = {
                "schedule": name,
                "models": n,
                "target": target,
                "median_calls": None if math.isinf(median) else median,
                "success_rate": sum(not math.isinf(c) for c in calls) / len(calls),
                "trials": len(trials),
                "cap": CAPS[n],
            }
            if target == "regression-30elo":
                row["false_alarm_rate"] = sum(bool(r["false_alarm"]) for r in trials) / len(trials)
            rows.append(row)
    base = {(r["models"], r["target"]): r["median_calls"] for r in rows if r["schedule"] == "round-robin"}
    for r in rows:
        b, m = base.get((r["models"], r["target"])), r["median_calls"]
        r["ratio_to_round_robin"] = None if b is None or m is None else round(float(m) / float(b), 3)  # type: ignore[arg-type]
    return rows


def table(rows: list[dict[str, object]]) -> str:
    head = (
        f"{'target':<18} {'models':>6} {'schedule':<15} {'median calls':>12} {'vs RR':>6} {'reached':>8} "
        f"{'false alarms':>12}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        median = "> cap" if r["median_calls"] is None else f"{r['median_calls']:.0f}"
        ratio = "-" if r["ratio_to_round_robin"] is None else f"{r['ratio_to_round_robin']:.2f}"
        alarms = f"{r['false_alarm_rate']:.0%}" if "false_alarm_rate" in r else ""
        lines.append(
            f"{r['target']:<18} {r['models']:>6} {r['schedule']:<15} {median:>12} {ratio:>6} "
            f"{r['success_rate']:>8.0%} {alarms:>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="8,16,48", help="comma-separated model counts (of 8, 16, 48)")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.models.split(",")]
    names = [*schedules(8), "head-to-head"]
    tasks = [(n, t, s) for n in sizes for t in range(args.trials) for s in names]
    tasks.sort(key=lambda t: -t[0])  # big ones first, so the pool ends evenly
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        results = list(pool.imap_unordered(run, tasks))
    rows = summarise(results)
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
