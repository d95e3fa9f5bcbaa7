"""Speed of the rating engine on an Arena-sized log, against a per-battle scikit-learn baseline.

Generates a synthetic battle log (default 1.6 million battles, 130 models with an Arena-like 350 Elo spread,
uneven popularity, about a fifth ties), writes it as CSV to a temporary directory, then times in separate
subprocesses (so each reports its own peak RSS):

  engine    read the CSV (pandas, engine="pyarrow") + fit_bt + bootstrap_ratings(rounds=1000)
  loader    judge.battles.load_battles on the same file (every row checked), for the loaders' numbers
  baseline  what Chatbot Arena's first notebooks did: one LogisticRegression on the raw rows (sparse design,
            a tie as two half-weight rows), its bootstrap cost extrapolated from one resample + refit

Run:  .venv/bin/python benchmarks/ratings.py [--battles N] [--models M] [--rounds R] [--json]
Target on 2 cores: engine total <= 3 s, peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

WINNERS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"])


def synthetic_log(n_battles: int, n_models: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A battle log drawn from Bradley-Terry with ties; returns (battles, true ratings with mean 1000)."""
    rng = np.random.default_rng(seed)
    true = np.sort(rng.normal(0.0, 80.0, n_models))[::-1]
    true = 350.0 * (true - true.min()) / (true.max() - true.min())
    true += 1000.0 - true.mean()
    names = np.array([f"model-{k:03d}" for k in range(n_models)], dtype=object)
    popularity = rng.lognormal(0.0, 0.8, n_models)
    popularity /= popularity.sum()
    a = rng.choice(n_models, size=n_battles, p=popularity)
    b = rng.choice(n_models - 1, size=n_battles, p=None)
    b = np.where(b >= a, b + 1, b)
    p_a = 1.0 / (1.0 + 10.0 ** ((true[b] - true[a]) / 400.0))
    # Ties: a quarter of the battles between equals, fewer for mismatches; a tie scores half, so the expected
    # score stays p_a and half-tie Bradley-Terry is consistent for `true`.
    p_tie = 0.5 * np.minimum(p_a, 1.0 - p_a)
    u = rng.random(n_battles)
    outcome = np.where(
        u < p_a - p_tie / 2, 0, np.where(u < 1.0 - p_tie, 1, 2 + (rng.random(n_battles) < 0.4))
    )
    frame = pd.DataFrame(
        {
            "question_id": np.char.add("q", rng.integers(0, 200_000, n_battles).astype(str)),
            "model_a": names[a],
            "model_b": names[b],
            "winner": WINNERS[outcome],
            "judge": "arena_user",
            "source": "human",
            "category": rng.choice(["coding", "writing", "math", "chat"], n_battles),
            "language": rng.choice(["English", "Chinese", "German"], n_battles, p=[0.7, 0.2, 0.1]),
            "turn": 1,
            "tstamp": 1.7e9 + np.arange(n_battles, dtype=np.float64),
        }
    )
    return frame, pd.Series(true, index=names)


def _peak_mb() -> float:
    """Peak resident memory of this process. VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and
    exec, so a child would report the (large) parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _read_battles(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, engine="pyarrow")


def phase_engine(path: Path, rounds: int) -> dict[str, Any]:
    import pyarrow.csv  # noqa: F401  (import time is not reading time)

    from judge.ratings import bootstrap_ratings, fit_bt

    wall, cpu = [time.perf_counter()], [time.process_time()]
    battles = _read_battles(path)
    wall.append(time.perf_counter()), cpu.append(time.process_time())
    fit = fit_bt(battles)
    wall.append(time.perf_counter()), cpu.append(time.process_time())
    boot = bootstrap_ratings(battles, rounds=rounds, rng=np.random.default_rng(0))
    wall.append(time.perf_counter()), cpu.append(time.process_time())
    return {
        "read_s": wall[1] - wall[0],
        "fit_s": wall[2] - wall[1],
        "bootstrap_s": wall[3] - wall[2],
        # CPU seconds over all threads: less sensitive to other jobs on the machine than wall time.
        "cpu": {"read_s": cpu[1] - cpu[0], "fit_s": cpu[2] - cpu[1], "bootstrap_s": cpu[3] - cpu[2]},
        "peak_mb": _peak_mb(),
        "ratings": fit.ratings.to_dict(),
        "bootstrap_sd_mean": float(boot.std().mean()),
    }


def phase_loader(path: Path) -> dict[str, Any]:
    import pyarrow.csv  # noqa: F401

    from judge.battles import load_battles

    t0 = time.perf_counter()
    loaded = load_battles(path)
    return {"read_s": time.perf_counter() - t0, "rows": len(loaded.frame), "peak_mb": _peak_mb()}


def _sklearn_fit(battles: pd.DataFrame, models: pd.Index) -> np.ndarray:
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    a = models.get_indexer(battles["model_a"])
    b = models.get_indexer(battles["model_b"])
    winner = battles["winner"].to_numpy()
    tie = np.flatnonzero((winner == "tie") | (winner == "tie (bothbad)"))
    rows_a = np.concatenate([a, a[tie]])
    rows_b = np.concatenate([b, b[tie]])
    y = np.concatenate([(winner == "model_a").astype(float), np.ones(len(tie))])
    weight = np.ones(len(y))
    weight[tie] = 0.5
    weight[len(winner) :] = 0.5
    n = len(y)
    scale = math.log(10.0)
    x = sp.csr_matrix(
        (
            np.concatenate([np.full(n, scale), np.full(n, -scale)]),
            (np.concatenate([np.arange(n), np.arange(n)]), np.concatenate([rows_a, rows_b])),
        ),
        shape=(n, len(models)),
    )
    model = LogisticRegression(fit_intercept=False, C=1e6, tol=1e-6, max_iter=1000)
    model.fit(x, y, sample_weight=weight)
    coef: np.ndarray = 400.0 * model.coef_[0]
    return coef


def phase_baseline(path: Path, rounds: int) -> dict[str, Any]:
    import sklearn.linear_model  # noqa: F401  (import time is not fitting time)

    t0 = time.perf_counter()
    battles = pd.read_csv(path)
    t1 = time.perf_counter()
    models = pd.Index(sorted(set(battles["model_a"]) | set(battles["model_b"])))
    coef = _sklearn_fit(battles, models)
    t2 = time.perf_counter()
    sample = battles.sample(frac=1.0, replace=True, random_state=1)
    _sklearn_fit(sample, models)
    t3 = time.perf_counter()
    ratings = 1000.0 + coef - coef.mean()
    return {
        "read_s": t1 - t0,
        "fit_s": t2 - t1,
        "bootstrap_s": rounds * (t3 - t2),
        "peak_mb": _peak_mb(),
        "ratings": dict(zip(models, ratings.tolist(), strict=True)),
    }


def _child(phase: str, path: Path, rounds: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--csv", str(path), "--rounds", str(rounds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--battles", type=int, default=1_600_000)
    parser.add_argument("--models", type=int, default=130)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the scikit-learn baseline")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--phase", choices=["engine", "loader", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        if args.phase == "engine":
            result = phase_engine(args.csv, args.rounds)
        elif args.phase == "loader":
            result = phase_loader(args.csv)
        else:
            result = phase_baseline(args.csv, args.rounds)
        print(json.dumps(result))
        return

    args.load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "battles.csv"
        battles, true = synthetic_log(args.battles, args.models, args.seed)
        battles.to_csv(path, index=False)
        del battles
        engine = _child("engine", path, args.rounds)
        try:
            loader: dict[str, Any] | None = _child("loader", path, args.rounds)
        except subprocess.CalledProcessError:
            loader = None  # judge.battles.load_battles not available in this checkout
        baseline = None if args.no_baseline else _child("baseline", path, args.rounds)
    _report(args, engine, loader, baseline, true)


def _report(
    args: argparse.Namespace,
    engine: dict[str, Any],
    loader: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    true: pd.Series,
) -> None:
    ours = pd.Series(engine.pop("ratings"))
    phases = ("read_s", "fit_s", "bootstrap_s")
    engine["total_s"] = sum(engine[p] for p in phases)
    engine["cpu"]["total_s"] = sum(engine["cpu"][p] for p in phases)
    summary: dict[str, Any] = {
        "battles": args.battles,
        "models": args.models,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "load_average_1min": args.load,
        "engine": engine,
        "loader": loader,
        "max_abs_error_vs_truth_elo": float((ours - true.reindex(ours.index)).abs().max()),
    }
    if baseline is not None:
        theirs = pd.Series(baseline.pop("ratings"))
        baseline["total_s"] = sum(baseline[p] for p in phases)
        summary["baseline"] = baseline
        summary["max_abs_diff_vs_baseline_elo"] = float((ours - theirs.reindex(ours.index)).abs().max())
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{args.battles:,} battles, {args.models} models, {args.rounds} bootstrap rounds; "
        f"{os.cpu_count()} cores, load average {args.load:.1f} at start"
    )
    print(f"{'phase':<28}{'engine s':>10}{'engine cpu s':>14}{'baseline s':>12}{'speedup':>10}")
    for phase in (*phases, "total_s"):
        mine = engine[phase]
        line = f"{mine:>10.3f}{engine['cpu'][phase]:>14.3f}"
        if baseline is None:
            print(f"{phase[:-2]:<28}{line}")
            continue
        base = baseline[phase]
        note = " (extrapolated)" if phase in ("bootstrap_s", "total_s") else ""
        print(f"{phase[:-2] + note:<28}{line}{base:>12.2f}{base / mine:>9.1f}x")
    peak = f"{'peak RSS MB':<28}{engine['peak_mb']:>10.0f}{'':>14}"
    print(peak + (f"{baseline['peak_mb']:>12.0f}" if baseline else ""))
    if loader is not None:
        print(
            f"{'judge.battles.load_battles':<28}{loader['read_s']:>10.3f}   (peak {loader['peak_mb']:.0f} MB)"
        )
    print(f"max |rating - true rating|: {summary['max_abs_error_vs_truth_elo']:.1f} Elo")
    if baseline is not None:
        print(f"max |engine - sklearn|:     {summary['max_abs_diff_vs_baseline_elo']:.3f} Elo")


if __name__ == "__main__":
    main()
