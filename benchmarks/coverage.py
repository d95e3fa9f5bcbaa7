"""Do judge's intervals and decisions hold their promised error rates on judge-shaped data?

Judge-shaped: every pair of models meets on the same questions, each question has two turns, and each
(question, model) has its own skill offset (a model is better at some questions than others), so battles on
one question are correlated; turns are further tied by `rho` (with probability rho turn 2 repeats turn 1's
verdict). Ties are 20% of verdicts. Checks, each a row {check, setting, rate, target}:

  rating coverage   share of models whose 95% interval from `judge rate`'s default path (BT, 1000 bootstrap
                    rounds, --cluster auto) holds the true rating, 8 models x 30 questions x 2 turns; beside
                    it the battle bootstrap, the old default. The truth is the Bradley-Terry fit to the
                    expected outcome of every pair over the question-offset distribution (what infinitely many
                    questions would give), centred like the fit.
  head-to-head      share of runs of the default head-to-head schedule (exact confidence sequence, alpha
                    0.05, batches of 10 questions, up to 400) between two equal models that end "worse" or
                    "better", with turn correlation 0, 0.5, 1; beside it the coverage of the interval shown at
                    the end when the candidate is much weaker (win rate ~0.24), exact and asymptotic.
  compare           family-wise false alarms of `judge compare` (default 1000 rounds, max-t) between two runs
                    with the same truth, watching 1 and 10 of 10 models and 50 of 50 (20 questions, half the
                    trials), and its power to catch a 50-Elo drop of one of 10 watched models. Both runs
                    answer the same questions; half of each (question, model) offset carries over.
  separation        a newcomer that won 6 of 6 against four equal models: its rating over theirs and how far
                    it moves their ratings (their mean absolute shift, against their standard error).

Run:  .venv/bin/python benchmarks/coverage.py [--trials 200] [--compare-trials 100] [--json] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from judge.battles import Battle
from judge.compare import compare_battles
from judge.pairings.base import ScheduleState
from judge.pairings.sequential import HeadToHead
from judge.ratings import fit_bt, leaderboard
from judge.ratings._counts import PairCounts
from judge.ratings.bt import EloScale, fit_pairs

TIE = 0.2
SPREAD = 100.0  # sd of true ratings (Elo)
OFFSET = 100.0  # sd of each (question, model) skill offset (Elo)
TURNS = 2


def win_prob(diff: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


def simulate(
    strength: np.ndarray,
    offsets: np.ndarray,
    rng: np.random.Generator,
    *,
    rho: float = 0.5,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """Every pair on every question (rows of `offsets`), TURNS turns; turn 2 repeats turn 1 with prob rho."""
    n_q, n = offsets.shape
    names = names or [f"m{k:02d}" for k in range(n)]
    i, j = np.triu_indices(n, k=1)
    skill = strength[None, :] + offsets  # questions x models
    p = win_prob(skill[:, i] - skill[:, j])  # questions x pairs
    outcomes = []
    for turn in range(TURNS):
        u = rng.random(p.shape)
        fresh = np.where(u < TIE, 2, np.where(rng.random(p.shape) < p, 0, 1))
        if turn and rho > 0:
            fresh = np.where(rng.random(p.shape) < rho, outcomes[0], fresh)
        outcomes.append(fresh)
    winner = np.array(["model_a", "model_b", "tie"], dtype=object)
    label = np.array(names, dtype=object)
    q_ids = np.array([f"q{q}" for q in range(n_q)], dtype=object)
    frames = []
    for turn, out in enumerate(outcomes, start=1):
        frames.append(
            pd.DataFrame(
                {
                    "question_id": np.repeat(q_ids, len(i)),
                    "model_a": np.tile(label[i], n_q),
                    "model_b": np.tile(label[j], n_q),
                    "winner": winner[out.ravel()],
                    "turn": turn,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def truth(strength: np.ndarray, draws: int = 200_000, seed: int = 1) -> np.ndarray:
    """Mean-1000 BT ratings fitted to each pair's expected score over the offset distribution."""
    n = len(strength)
    i, j = np.triu_indices(n, k=1)
    rng = np.random.default_rng(seed)
    diff = rng.normal(0.0, OFFSET * math.sqrt(2), draws)
    score = np.array([win_prob(strength[a] - strength[b] + diff).mean() for a, b in zip(i, j, strict=True)])
    counts = np.stack([(1 - TIE) * score, (1 - TIE) * (1 - score), np.full(len(i), TIE)], axis=1) * 1e6
    pairs = PairCounts(tuple(f"m{k:02d}" for k in range(n)), i.astype(np.int64), j.astype(np.int64), counts)
    fit = fit_pairs(pairs, ties="half", prior=0.0, elo=EloScale())
    return fit.ratings.to_numpy()


def rating_coverage(trials: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n, n_q = 8, 30
    strength = np.linspace(-1.5, 1.5, n) * SPREAD
    true = pd.Series(truth(strength), index=[f"m{k:02d}" for k in range(n)])
    hits = {"auto": 0, "battle": 0}
    total = 0
    for _ in range(trials):
        log = simulate(strength, rng.normal(0, OFFSET, (n_q, n)), rng)
        for cluster in hits:
            board = leaderboard(log, bootstrap=1000, seed=int(rng.integers(1 << 30)), cluster=cluster)
            board = board.set_index("model")
            t = true.reindex(board.index)
            hits[cluster] += int(((board["ci_lower"] <= t) & (t <= board["ci_upper"])).sum())
        total += n
    setting = (
        f"{n} models x {n_q} questions x {TURNS} turns, offsets {OFFSET:.0f} Elo, rho 0.5, {trials} trials"
    )
    return [
        {"check": "rating coverage (judge rate default: cluster auto)", "setting": setting,
         "rate": hits["auto"] / total, "target": ">= 0.93"},
        {"check": "rating coverage (battle bootstrap, old default)", "setting": setting,
         "rate": hits["battle"] / total, "target": "(reference)"},
    ]  # fmt: skip


def _play_head_to_head(
    schedule: HeadToHead, judge: Callable[[list[str]], list[Battle]], questions: tuple[str, ...]
) -> ScheduleState:
    state = ScheduleState((schedule.candidate, schedule.baseline), questions)
    while batch := schedule.next_batch(state):
        battles = judge([p.question_id for p in batch])
        state = ScheduleState(
            state.contestants, state.questions, state.scheduled | set(batch), state.battles + tuple(battles)
        )
    return state


def _pair_judge(gap: float, rho: float, rng: np.random.Generator) -> Callable[[list[str]], list[Battle]]:
    """Battles of cand vs prod: per-question offsets for each model, TURNS correlated turns."""

    def judge(question_ids: list[str]) -> list[Battle]:
        out = []
        for q in question_ids:
            d = gap + rng.normal(0, OFFSET) - rng.normal(0, OFFSET)
            p = float(win_prob(np.array(d)))
            first = None
            for turn in range(1, TURNS + 1):
                if first is not None and rng.random() < rho:
                    winner = first
                else:
                    winner = "tie" if rng.random() < TIE else ("model_a" if rng.random() < p else "model_b")
                first = first or winner
                out.append(Battle(q, "cand", "prod", winner, turn=turn))
        return out

    return judge


def head_to_head(trials: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    questions = tuple(f"q{k}" for k in range(400))
    for rho in (0.0, 0.5, 1.0):
        rng = np.random.default_rng(seed + int(rho * 10))
        false = 0
        for trial in range(trials):
            schedule = HeadToHead(candidate="cand", baseline="prod", seed=trial)
            state = _play_head_to_head(schedule, _pair_judge(0.0, rho, rng), questions)
            false += schedule.result(state).decision in ("worse", "better")
        rows.append(
            {"check": "head-to-head false decisions (equal models)",
             "setting": f"turn correlation {rho:g}, alpha 0.05, exact, {trials} trials",
             "rate": false / trials, "target": "<= 0.05"}
        )  # fmt: skip
    # Coverage of the interval shown when the run stops, for a much weaker candidate.
    gap = -300.0
    rng = np.random.default_rng(seed + 99)
    mu_draw = win_prob(gap + rng.normal(0, OFFSET * math.sqrt(2), 400_000))
    mu = float(((1 - TIE) * mu_draw + TIE / 2).mean())
    for exact in (True, False):
        rng = np.random.default_rng(seed + 7)
        held = 0
        for trial in range(trials):
            schedule = HeadToHead(candidate="cand", baseline="prod", seed=trial, exact=exact, batch=5)
            state = _play_head_to_head(schedule, _pair_judge(gap, 0.5, rng), questions)
            interval = schedule.result(state).interval
            held += interval.low <= mu <= interval.high
        rows.append(
            {"check": f"head-to-head interval coverage ({'exact' if exact else 'asymptotic'})",
             "setting": f"win rate {mu:.2f}, stopped at the decision, {trials} trials",
             "rate": held / trials, "target": ">= 0.95" if exact else "(reference)"}
        )  # fmt: skip
    return rows


def _two_runs(
    strength: np.ndarray, drop: np.ndarray, n_q: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    shared = rng.normal(0, OFFSET, (n_q, len(strength)))
    runs = []
    for shift in (np.zeros_like(strength), drop):
        offsets = math.sqrt(0.5) * shared + math.sqrt(0.5) * rng.normal(0, OFFSET, shared.shape)
        runs.append(simulate(strength + shift, offsets, rng))
    return runs[0], runs[1]


def compare_rates(trials: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for n, n_q, watched_counts in ((10, 30, (1, 10)), (50, 20, (50,))):
        strength = np.linspace(-1.5, 1.5, n) * SPREAD
        names = [f"m{k:02d}" for k in range(n)]
        alarms = dict.fromkeys(watched_counts, 0)
        detected = 0
        rng = np.random.default_rng(seed + n)
        trials = trials if n == 10 else max(trials // 2, 1)  # a 50-model compare costs ~5x a 10-model one
        for _ in range(trials):
            base, cand = _two_runs(strength, np.zeros(n), n_q, rng)
            for k in watched_counts:
                result = compare_battles(base, cand, watch=names[:k], seed=int(rng.integers(1 << 30)))
                alarms[k] += bool(result.regressions)
            if n == 10:
                drop = np.zeros(n)
                drop[4] = -50.0
                base, cand = _two_runs(strength, drop, n_q, rng)
                result = compare_battles(base, cand, seed=int(rng.integers(1 << 30)))
                detected += any(c.model == names[4] for c in result.regressions)
        for k in watched_counts:
            rows.append(
                {"check": "compare family-wise false alarms",
                 "setting": f"{k} watched of {n} models, {n_q} questions x {TURNS} turns, {trials} trials",
                 "rate": alarms[k] / trials, "target": "<= 0.05"}
            )  # fmt: skip
        if n == 10:
            rows.append(
                {"check": "compare power (50-Elo drop of one model)",
                 "setting": f"10 watched of 10 models, {n_q} questions x {TURNS} turns, {trials} trials",
                 "rate": detected / trials, "target": "(reported)"}
            )  # fmt: skip
    return rows


def separation() -> list[dict[str, Any]]:
    """A 6-0 newcomer among four equal models (every pair tied 5-5-... on 20 questions)."""
    rng = np.random.default_rng(3)
    old = ["a", "b", "c", "d"]
    log = simulate(np.zeros(4), rng.normal(0, OFFSET, (20, 4)), rng, names=old)
    opponents = [old[k % 4] for k in range(6)]
    newcomer = pd.DataFrame(
        {"question_id": [f"q{k}" for k in range(6)], "model_a": "new", "model_b": opponents,
         "winner": "model_a", "turn": 1}
    )  # fmt: skip
    before = leaderboard(log, bootstrap=1000, cluster="auto").set_index("model")
    after = leaderboard(pd.concat([log, newcomer], ignore_index=True), bootstrap=1000, cluster="auto")
    after = after.set_index("model")
    shift = float((after.loc[old, "rating"] - before.loc[old, "rating"]).abs().mean())
    noise = float(((before.loc[old, "ci_upper"] - before.loc[old, "ci_lower"]) / (2 * 1.96)).mean())
    gap = float(after.loc["new", "rating"] - after.loc[old, "rating"].mean())
    prior_fit = fit_bt(pd.concat([log, newcomer], ignore_index=True)).ratings
    prior_gap = float(prior_fit["new"] - prior_fit[old].mean())
    prior_shift = float((prior_fit[old] - fit_bt(log).ratings[old]).abs().mean())
    upper = after.loc["new", "ci_upper"]
    interval = f"[{after.loc['new', 'ci_lower']:.0f}, {'inf' if math.isinf(upper) else f'{upper:.0f}'}]"
    return [
        {"check": "separated newcomer: others' shift (Elo)",
         "setting": f"6-0 vs 4 equal models; their SE {noise:.0f} Elo; before the fix {prior_shift:.0f}",
         "rate": shift, "target": f"< {noise:.0f} (one SE)"},
        {"check": "separated newcomer: its rating over the others (Elo)",
         "setting": f"flagged separated, interval {interval}; before the fix +{prior_gap:.0f}",
         "rate": gap, "target": "(median-unbiased from its record)"},
    ]  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'check':<55} {'rate':>7}  {'target':<18} setting"]
    for r in rows:
        lines.append(f"{r['check']:<55} {r['rate']:>7.3f}  {r['target']:<18} {r['setting']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials for rating coverage and head-to-head")
    parser.add_argument("--compare-trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true", help="a few trials of each, to try the script")
    parser.add_argument("--only", choices=["ratings", "h2h", "compare", "separation"], default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trials, compare_trials = (10, 5) if args.quick else (args.trials, args.compare_trials)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
        ("separation", separation),
        ("ratings", lambda: rating_coverage(trials, args.seed)),
        ("h2h", lambda: head_to_head(trials, args.seed)),
        ("compare", lambda: compare_rates(compare_trials, args.seed)),
    ]
    for name, step in steps:
        if args.only in (None, name):
            t0 = time.perf_counter()
            rows += step()
            print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(json.dumps(rows, indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
