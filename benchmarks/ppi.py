"""Coverage and width of prediction-powered intervals on real human votes, against humans alone.

For each data set, keep n random human votes (n = 100, 200, 500; `--repeats` draws each), rate the models
they cover with the human votes alone and with PPI (all of the judge's votes on those models plus the n human
votes), and check each 95% interval against the rating the same models get from ALL the human votes (the
target PPI estimates). Reports per n: coverage of the humans-only, PPI sandwich, PPI bootstrap and judge-only
intervals; the mean ratio of PPI to humans-only interval widths; the mean lambda; and the effective number of
human votes (votes that alone would give PPI's width).

Data sets (in /work/shared/data, see its README for sources and licenses):
  llmfao-gpt4    LLMFAO crowd votes (8,931 on 2,139 items) as humans, GPT-4's votes on the same items as judge
  llmfao-gpt35   the same crowd, GPT-3.5-instruct as judge
  mtbench-sim    the MT-Bench expert votes (3,355) as humans; a simulated judge of known bias votes once
                 on every item of the 6 models (80 questions x 15 pairs x 2 turns): with probability 0.6 it
                 copies a human vote on the item (a fresh draw from the full-human fit where no human voted),
                 else it draws from a Bradley-Terry model that adds +100 Elo to gpt-4 and -100 to
                 vicuna-13b-v1.2, with 15% ties. The judge-only column shows its bias.

Run:  .venv/bin/python benchmarks/ppi.py [--repeats 50] [--rounds 200] [--sizes 100 200 500] [--json]
Targets: PPI coverage >= 0.93; mean width ratio PPI / humans-only <= 0.8 with the GPT-4 judge.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judge.battles import load_battles, normalize_frame
from judge.errors import InputError
from judge.ratings import fit_bt
from judge.ratings.ppi import PPIFit, bootstrap_ppi, fit_ppi, match_samples

DATA = Path(os.environ.get("JUDGE_DATA_DIR", "/work/shared/data"))
BIAS = {"gpt-4": 100.0, "vicuna-13b-v1.2": -100.0}
COPY = 0.6
JUDGE_TIES = 0.15
Z = 1.959963984540054


def llmfao(judge_file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    human = load_battles(DATA / "llmfao" / "crowd-comparisons.csv").frame
    judge = load_battles(DATA / "llmfao" / judge_file).frame
    return human, judge


def mtbench_simulated(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The expert votes and a simulated judge (see the module docstring)."""
    human = load_battles(DATA / "mt_bench_human" / "human_judgments.csv").frame
    full = fit_bt(human).ratings
    biased = full + pd.Series(BIAS).reindex(full.index).fillna(0.0)
    by_item: dict[tuple[str, str, str, int], list[str]] = {}
    for row in human.itertuples():
        a, b = sorted((row.model_a, row.model_b))
        flip = a != row.model_a
        winner = {"model_a": "model_b", "model_b": "model_a"}.get(row.winner, "tie") if flip else row.winner
        by_item.setdefault((str(row.question_id), a, b, int(row.turn)), []).append(str(winner))
    questions = sorted(set(human["question_id"].astype(str)), key=int)
    rows = []
    for q in questions:
        for a, b in combinations(sorted(full.index), 2):
            for turn in (1, 2):
                votes = by_item.get((q, a, b, turn))
                if rng.random() < COPY:
                    if votes:
                        winner = votes[int(rng.integers(len(votes)))]
                    else:
                        winner = _draw(rng, full[a] - full[b], 0.0)
                else:
                    winner = _draw(rng, biased[a] - biased[b], JUDGE_TIES)
                rows.append((q, a, b, winner, turn))
    judge = pd.DataFrame(rows, columns=["question_id", "model_a", "model_b", "winner", "turn"])
    judge["source"] = "judge"
    return human, normalize_frame(judge)


def _draw(rng: np.random.Generator, gap: float, ties: float) -> str:
    if rng.random() < ties:
        return "tie"
    return "model_a" if rng.random() < 1 / (1 + 10 ** (-gap / 400)) else "model_b"


def _within(frame: pd.DataFrame, models: set[str]) -> pd.DataFrame:
    keep = frame["model_a"].isin(models) & frame["model_b"].isin(models)
    return frame[keep.to_numpy(dtype=bool)].reset_index(drop=True)


def _covered(
    lower: np.ndarray, upper: np.ndarray, models: tuple[str, ...], target: pd.Series
) -> tuple[float, float]:
    """Share of models whose interval holds the target rating, and the mean interval width."""
    t = target.reindex(list(models)).to_numpy()
    return float(((lower <= t) & (t <= upper)).mean()), float((upper - lower).mean())


def _sandwich(fit: PPIFit) -> tuple[np.ndarray, np.ndarray]:
    sd = np.sqrt(np.clip(np.diag(fit.cov), 0.0, None))
    rating = fit.ratings.to_numpy()
    return rating - Z * sd, rating + Z * sd


def one_draw(
    human: pd.DataFrame, judge: pd.DataFrame, n: int, rng: np.random.Generator, rounds: int, seed: int
) -> dict[str, float]:
    sample = human.iloc[np.sort(rng.choice(len(human), size=n, replace=False))].reset_index(drop=True)
    models = set(sample["model_a"]) | set(sample["model_b"])
    target = fit_bt(_within(human, models)).ratings
    judged = _within(judge, models)
    samples = match_samples(sample, judged)
    alone = fit_ppi(samples, lam=0.0)
    ppi = fit_ppi(samples)
    boot = np.quantile(
        bootstrap_ppi(ppi, rounds=rounds, rng=np.random.default_rng(seed)), [0.025, 0.975], axis=0
    )
    judge_only = fit_ppi(match_samples(judged, judged), lam=0.0)  # the judge's own fit, as if it were human
    names = samples.models
    cov_h, width_h = _covered(*_sandwich(alone), names, target)
    cov_p, width_p = _covered(*_sandwich(ppi), names, target)
    cov_b, width_b = _covered(boot[0], boot[1], names, target)
    cov_j, _ = _covered(*_sandwich(judge_only), judge_only.samples.models, target)
    return {
        "coverage_humans": cov_h,
        "coverage_ppi": cov_p,
        "coverage_ppi_bootstrap": cov_b,
        "coverage_judge_only": cov_j,
        "width_ratio": width_p / width_h,
        "width_ratio_bootstrap": width_b / width_h,
        "lambda": ppi.lam,
        "effective_human_votes": ppi.effective_human_votes,
        "models": len(models),
    }


def run(
    name: str,
    human: pd.DataFrame,
    judge: pd.DataFrame,
    sizes: list[int],
    repeats: int,
    rounds: int,
    seed: int,
) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        rng = np.random.default_rng([seed, n])
        draws, failed = [], 0
        for r in range(repeats):
            try:
                draws.append(one_draw(human, judge, n, rng, rounds, seed + r))
            except InputError:
                failed += 1  # e.g. a sample whose models the judge never met: no item shared
        frame = pd.DataFrame(draws)
        row: dict[str, Any] = {"data": name, "n": n, "repeats": len(draws), "failed": failed}
        row.update(frame.mean().round(3).to_dict())
        out.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)  # progress: one line per finished row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds per PPI bootstrap interval")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", nargs="+", default=["llmfao-gpt4", "llmfao-gpt35", "mtbench-sim"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no data directory {DATA} (set JUDGE_DATA_DIR)")
    loaders = {
        "llmfao-gpt4": lambda: llmfao("gpt4-crowd-comparisons.csv"),
        "llmfao-gpt35": lambda: llmfao("gpt3-crowd-comparisons.csv"),
        "mtbench-sim": lambda: mtbench_simulated(np.random.default_rng(args.seed)),
    }
    rows = []
    start = time.perf_counter()
    for name in args.data:
        human, judge = loaders[name]()
        rows += run(name, human, judge, args.sizes, args.repeats, args.rounds, args.seed)
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"rows": rows, "seconds": elapsed, "load": os.getloadavg()}, indent=2))
        return
    header = (
        "| data | n | cover humans | cover PPI | cover PPI boot | cover judge only | width PPI/humans "
        "| (boot) | lambda | effective human votes |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(
            f"| {r['data']} | {r['n']} | {r['coverage_humans']:.3f} | {r['coverage_ppi']:.3f} | "
            f"{r['coverage_ppi_bootstrap']:.3f} | {r['coverage_judge_only']:.3f} | {r['width_ratio']:.2f} | "
            f"{r['width_ratio_bootstrap']:.2f} | {r['lambda']:.2f} | {r['effective_human_votes']:.0f} |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.repeats} repeats per row, {args.rounds} bootstrap rounds; {elapsed:.0f} s; load {load}")
    if any(math.isnan(r.get("coverage_ppi", math.nan)) for r in rows):
        raise SystemExit("some rows have no successful draw")


if __name__ == "__main__":
    main()
