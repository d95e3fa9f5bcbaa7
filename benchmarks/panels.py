"""Does a panel of three cheap judges rank models better than one strong judge? Simulated, with a known truth.

    .venv/bin/python benchmarks/panels.py [--trials 30] [--questions 40] [--models 8] [--json]

Judge-shaped data: every pair of `--models` contestants meets on the same `--questions` questions (one turn).
Truth: Bradley-Terry strengths N(0, 80 Elo) (the LLMFAO crowd board's spread) plus a question effect per
(model, question) answer, N(0, 60 Elo); each model has a verbosity (its answers' length, z-scored) drawn
independently of its strength. A judge k sees the item's true quality difference plus its own opinion noise
N(0, sigma_k) per item (the same in both orders: a consistent but wrong judge), plus position_k for the answer
shown first and length_k x (length difference). It answers each order through Davidson's model with ties and
the tournament combines both orders conservatively (the default). Items are judged in both orders, so a
position bias mostly turns into ties, while a length bias survives the swap.

Per trial every single judge, and the three weak judges as a panel pooled, by majority (judge.panel), and
weighted (weights fitted by judge.validate.panel.fit_weights on 300 simulated human votes, each a
noisier-than-truth vote N(0, 120 Elo)) are rated with the real BT engine (judge.ratings.fit_bt); rank accuracy
is Kendall tau with the true strengths. Cost is in units of the strong judge's price per call (weak: 0.15).

Scenarios (the strong judge: opinion noise 60 Elo, position 20, length 10 Elo per z):
`independent`: weak judges with 110 Elo of noise, errors independent; `closer`: weak judges with 80;
`strong-biased`: the strong judge likes long answers (60 Elo per z), the weak judges' length tastes differ
(+40, -40, 0); `one-biased`: one weak judge strongly length-biased (120); `shared-bias`: all three weak
judges share one length bias (70), as judges of one model family might; `very-weak`: weak judges with 300
Elo of noise.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from judge.battles import Battle
from judge.panel import PanelRule, panel_battles
from judge.ratings import fit_bt
from judge.validate.panel import fit_weights

ELO = 400.0 / math.log(10.0)  # Elo points per natural-log unit
SPREAD, QUESTION_SD, TIE_NU, HUMAN_SD, HUMAN_VOTES = 80.0, 60.0, 0.5, 120.0, 300
STRONG_PRICE, WEAK_PRICE = 1.0, 0.15


@dataclass(frozen=True)
class JudgeSpec:
    """sigma: opinion noise; position: Elo bonus for the answer shown first; length: Elo per length z."""

    name: str
    sigma: float
    position: float
    length: float
    price: float


STRONG = JudgeSpec("strong", 60, 20, 10, STRONG_PRICE)


def _weak(sigma: float, lengths: tuple[float, float, float] = (15, 15, 15)) -> tuple[JudgeSpec, ...]:
    positions = (60, -40, 40)
    return tuple(JudgeSpec(f"weak{i + 1}", sigma, positions[i], lengths[i], WEAK_PRICE) for i in range(3))


SCENARIOS: dict[str, tuple[JudgeSpec, ...]] = {
    "independent": (STRONG, *_weak(110)),
    "closer": (STRONG, *_weak(80)),
    "strong-biased": (JudgeSpec("strong", 60, 20, 60, STRONG_PRICE), *_weak(110, (40, -40, 0))),
    "one-biased": (STRONG, *_weak(110)[:2], JudgeSpec("weak3", 90, 40, 120, WEAK_PRICE)),
    "shared-bias": (STRONG, *_weak(110, (70, 70, 70))),
    "very-weak": (STRONG, *_weak(300)),
}
WEAK = ("weak1", "weak2", "weak3")


def davidson(diff_elo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """+1 (first shown wins), -1, 0 (tie) drawn from Davidson's model with tie parameter TIE_NU."""
    x = diff_elo / ELO
    pa, pb, pt = np.exp(x / 2), np.exp(-x / 2), np.full_like(x, TIE_NU)
    total = pa + pb + pt
    u = rng.random(len(x)) * total
    return np.where(u < pa, 1, np.where(u < pa + pb, -1, 0))


def trial(judges: tuple[JudgeSpec, ...], seed: int, n_models: int, n_questions: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, SPREAD, n_models)
    verbosity = rng.normal(0, 1, n_models)
    quality = strength[:, None] + rng.normal(0, QUESTION_SD, (n_models, n_questions))
    length = verbosity[:, None] + rng.normal(0, 0.5, (n_models, n_questions))
    pairs = [(a, b) for a in range(n_models) for b in range(a + 1, n_models)]
    ia = np.array([a for a, _ in pairs for _ in range(n_questions)])
    ib = np.array([b for _, b in pairs for _ in range(n_questions)])
    iq = np.tile(np.arange(n_questions), len(pairs))
    true_diff = quality[ia, iq] - quality[ib, iq]
    len_diff = length[ia, iq] - length[ib, iq]
    names = [f"m{i}" for i in range(n_models)]
    by_judge: dict[str, list[Battle]] = {}
    for spec in judges:
        opinion = true_diff + rng.normal(0, spec.sigma, len(true_diff)) + spec.length * len_diff
        ab = davidson(opinion + spec.position, rng)  # a shown first
        ba = -davidson(-opinion + spec.position, rng)  # b shown first, read as a's view
        side = np.where(ab == ba, ab, 0)  # conservative: both orders must agree
        by_judge[spec.name] = [
            Battle(
                f"q{q}", names[a], names[b], "model_a" if s > 0 else "model_b" if s < 0 else "tie", spec.name
            )
            for a, b, q, s in zip(ia, ib, iq, side, strict=True)
        ]
    weak = {k: by_judge[k] for k in WEAK}
    boards: dict[str, list[Battle]] = {spec.name: by_judge[spec.name] for spec in judges}
    boards["pool"] = panel_battles(weak, PanelRule("pool"))
    boards["majority"] = panel_battles(weak, PanelRule("majority"))
    boards["weighted"] = panel_battles(weak, PanelRule("weighted", weights=_weights(rng, true_diff, weak)))
    truth = pd.Series(strength, index=names)
    out = {}
    for name, battles in boards.items():
        frame = pd.DataFrame([b.to_record() for b in battles])
        fitted = fit_bt(frame).ratings.reindex(names)
        out[name] = float(kendalltau(truth.to_numpy(), fitted.to_numpy()).statistic)
    return out


def _weights(
    rng: np.random.Generator, true_diff: np.ndarray, weak: dict[str, list[Battle]]
) -> dict[str, float]:
    """Fit panel weights on a sample of simulated human votes, as `judge validate --weights-out` would."""
    picked = rng.choice(len(true_diff), size=min(HUMAN_VOTES, len(true_diff)), replace=False)
    human = np.sign(true_diff[picked] + rng.normal(0, HUMAN_SD, len(picked)))
    side = {"model_a": 1.0, "model_b": -1.0, "tie": 0.0}
    s = np.array([[side[weak[k][i].winner] for k in WEAK] for i in picked])
    w = fit_weights(s, human)
    return dict(zip(WEAK, map(float, w), strict=True))


def costs(judges: tuple[JudgeSpec, ...], n_models: int, n_questions: int) -> dict[str, float]:
    calls = 2 * n_questions * n_models * (n_models - 1) // 2
    price = {j.name: j.price for j in judges}
    out = {j.name: calls * j.price for j in judges}
    panel = calls * sum(price[k] for k in WEAK)
    out.update(pool=panel, majority=panel, weighted=panel)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for scenario, judges in SCENARIOS.items():
        taus: dict[str, list[float]] = {}
        for t in range(args.trials):
            for name, tau in trial(judges, t, args.models, args.questions).items():
                taus.setdefault(name, []).append(tau)
        cost = costs(judges, args.models, args.questions)
        strong = statistics.mean(taus["strong"])
        for name, values in taus.items():
            mean = statistics.mean(values)
            rows.append(
                {
                    "scenario": scenario,
                    "rater": name,
                    "kendall_tau": round(mean, 3),
                    "tau_sd": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
                    "share_trials_beating_strong": round(
                        sum(v > s for v, s in zip(values, taus["strong"], strict=True)) / len(values), 2
                    ),
                    "cost": round(cost[name], 1),
                    "vs_strong": round(mean - strong, 3),
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{args.trials} trials, {args.models} models x {args.questions} questions, both orders judged")
    head = f"{'scenario':<12} {'rater':<9} {'tau':>6} {'sd':>6} {'vs strong':>9} "
    head += f"{'beats strong':>12} {'cost':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['scenario']:<12} {r['rater']:<9} {r['kendall_tau']:>6.3f} {r['tau_sd']:>6.3f} "
            f"{r['vs_strong']:>+9.3f} {r['share_trials_beating_strong']:>12.2f} {r['cost']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
