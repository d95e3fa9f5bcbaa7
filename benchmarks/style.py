"""Speed and accuracy of style control on an Arena-sized log, beside plain BT and a generic optimiser.

Generates a synthetic battle log (default 1.6 million battles, 130 models, Arena-like spread and popularity)
with style counts per answer (tokens, headers, list items, bold spans drawn per model) and outcomes from
Bradley-Terry strengths plus a known preference for longer, more formatted answers, 15% ties. Writes it as CSV
and times, each in its own subprocess (so each reports its own peak RSS):

  style      read the CSV + fit_style + bootstrap_style(rounds)          (the target)
  plain      read the CSV + fit_bt + bootstrap_ratings(rounds)           (plain BT, for scale)
  reference  the way Chatbot Arena's reference code works: the style loss over raw rows minimised by a
             generic optimiser (scipy L-BFGS-B, gradient supplied, row resampling); one fit plus a few
             resampled refits, extrapolated to `rounds`. Our own code of that method, not theirs.

It also checks accuracy: the true length coefficient against the fit's interval, and for a few replicates the
one-step linearised replicate (what bootstrap_style uses at this size) against a full refit with the same
weights.

Run:  .venv/bin/python benchmarks/style.py [--battles N] [--models M] [--rounds R] [--json]
Target on 2 cores: style total <= 10 s, peak RSS < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRUE_BETA = {"length": 0.35, "headers": 0.08, "lists": 0.06, "bold": 0.04}


def synthetic_log(n_battles: int, n_models: int, seed: int) -> pd.DataFrame:
    """Battles with style counts; outcomes from BT + TRUE_BETA on the standardised ratio features."""
    rng = np.random.default_rng(seed)
    theta = np.sort(rng.normal(0.0, 0.45, n_models))[::-1]
    popularity = rng.lognormal(0.0, 0.8, n_models)
    popularity /= popularity.sum()
    a = rng.choice(n_models, size=n_battles, p=popularity)
    b = rng.choice(n_models - 1, size=n_battles)
    b = np.where(b >= a, b + 1, b)
    verbosity = rng.lognormal(6.0, 0.4, n_models)  # typical answer length in tokens
    markdown = rng.gamma(2.0, 1.5, (n_models, 3))  # mean headers, list items, bold spans
    counts = {}
    for side, m in (("a", a), ("b", b)):
        counts[f"tokens_{side}"] = rng.poisson(verbosity[m] * rng.lognormal(0.0, 0.5, n_battles))
        for k, name in enumerate(("headers", "lists", "bold")):
            counts[f"{name}_{side}"] = rng.poisson(markdown[m, k] * rng.gamma(2.0, 0.5, n_battles))
    logit = theta[a] - theta[b]
    for feature, (left, right) in (
        ("length", ("tokens_a", "tokens_b")),
        ("headers", ("headers_a", "headers_b")),
        ("lists", ("lists_a", "lists_b")),
        ("bold", ("bold_a", "bold_b")),
    ):
        ratio = (counts[left] - counts[right]) / (counts[left] + counts[right] + 1.0)
        logit = logit + TRUE_BETA[feature] * (ratio - ratio.mean()) / ratio.std()
    p_a = 1.0 / (1.0 + np.exp(-logit))
    # Ties take equally from both sides (about 15% overall): a tie scoring half keeps the expected score
    # p_a, so half-tie style control stays consistent for TRUE_BETA.
    p_tie = 0.4 * np.minimum(p_a, 1.0 - p_a)
    u = rng.random(n_battles)
    winner = np.where(u < p_a - p_tie / 2, "model_a", np.where(u < 1.0 - p_tie, "model_b", "tie"))
    names = np.array([f"model-{k:03d}" for k in range(n_models)], dtype=object)
    return pd.DataFrame(
        {
            "question_id": np.char.add("q", rng.integers(0, 200_000, n_battles).astype(str)),
            "model_a": names[a],
            "model_b": names[b],
            "winner": winner,
            **counts,
        }
    )


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def phase_style(path: Path, rounds: int) -> dict[str, Any]:
    import pyarrow.csv  # noqa: F401  (import time is not reading time)

    from judge.ratings.style import bootstrap_style, fit_style

    t, cpu = [time.perf_counter()], [time.process_time()]
    battles = pd.read_csv(path, engine="pyarrow")
    t.append(time.perf_counter()), cpu.append(time.process_time())
    fit = fit_style(battles)
    t.append(time.perf_counter()), cpu.append(time.process_time())
    reps = bootstrap_style(battles, fit, rounds=rounds, rng=np.random.default_rng(0))
    t.append(time.perf_counter()), cpu.append(time.process_time())
    lower, upper = np.quantile(reps.coefficients, [0.025, 0.975], axis=0)
    return {
        "read_s": t[1] - t[0],
        "fit_s": t[2] - t[1],
        "bootstrap_s": t[3] - t[2],
        "peak_mb": _peak_mb(),
        "cpu_s": cpu[3] - cpu[0],
        "exact": reps.exact,
        "coefficients": fit.coefficients.to_dict(),
        "ci_lower": dict(zip(fit.rows.features, lower.tolist(), strict=True)),
        "ci_upper": dict(zip(fit.rows.features, upper.tolist(), strict=True)),
        "check": _resampling_check(fit, float(reps.ratings.std(axis=0, ddof=1).mean())),
    }


def _resampling_check(fit: Any, gaussian_sd: float) -> dict[str, float]:
    """On logs this size bootstrap_style draws the Gaussian limit; compare with 32 replicates resampled
    and refitted (Poisson weights, linearised start, one exact Newton step), 2 of them vs full refits."""
    from judge.ratings import style

    replicates = style._replicate_task(fit, None, np.random.default_rng(7), 32)()
    n = len(fit.models)
    theta = replicates[:, :n] - replicates[:, :n].mean(axis=1, keepdims=True)
    sd = float((theta.std(axis=0, ddof=1) * fit.elo.factor).mean())
    centred = style.poisson_minus_one(
        np.random.default_rng(7), (2, len(fit.rows.y))
    )  # the task's first weights
    penalty = style._penalty(fit.rows, fit.reg, fit.elo.base)
    worst = 0.0
    for k in range(2):
        q = replicates[k : k + 1].copy()
        for _ in range(4):
            w = centred[k : k + 1].astype(np.float64) + 1.0
            terms = style._evaluate(fit.rows, w, penalty, q, False)
            q += style._solve(terms.neg_hessian, terms.grad, n)
        diff = (replicates[k, :n] - replicates[k, :n].mean()) - (q[0, :n] - q[0, :n].mean())
        worst = max(worst, float(np.abs(diff).max()) * fit.elo.factor)
    return {"resampled_sd_mean": sd, "gaussian_sd_mean": gaussian_sd, "refit_error_elo": worst}


def phase_plain(path: Path, rounds: int) -> dict[str, Any]:
    import pyarrow.csv  # noqa: F401

    from judge.ratings import bootstrap_ratings, fit_bt

    t = [time.perf_counter()]
    battles = pd.read_csv(path, engine="pyarrow")
    t.append(time.perf_counter())
    fit_bt(battles)
    t.append(time.perf_counter())
    bootstrap_ratings(battles, rounds=rounds, rng=np.random.default_rng(0))
    t.append(time.perf_counter())
    return {
        "read_s": t[1] - t[0],
        "fit_s": t[2] - t[1],
        "bootstrap_s": t[3] - t[2],
        "peak_mb": _peak_mb(),
        "cpu_s": time.process_time(),
    }


def _generic_fit(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """The style loss on raw rows, minimised by L-BFGS-B (FastChat's optimiser and settings)."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    alpha = math.log(10.0)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = alpha * (params[a] - params[b]) + x @ params[n:]
        value = -(y * log_expit(z) + (1 - y) * log_expit(-z)).sum() + 0.25 * params @ params
        err = y - expit(z)
        grad = 0.5 * params
        grad[:n] -= alpha * (np.bincount(a, err, n) - np.bincount(b, err, n))
        grad[n:] -= x.T @ err
        return float(value), grad

    out = minimize(loss, np.zeros(n + x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 100})
    return np.asarray(out.x)


def phase_reference(path: Path, rounds: int) -> dict[str, Any]:
    from judge.ratings.style import style_rows

    t = [time.perf_counter()]
    battles = pd.read_csv(path, engine="pyarrow")
    rows = style_rows(battles)
    t.append(time.perf_counter())
    n = len(rows.models)
    _generic_fit(rows.a, rows.b, rows.x, rows.y, n)
    t.append(time.perf_counter())
    rng = np.random.default_rng(1)
    refits = 2
    for _ in range(refits):
        idx = rng.integers(0, len(rows.y), len(rows.y))
        _generic_fit(rows.a[idx], rows.b[idx], rows.x[idx], rows.y[idx], n)
    t.append(time.perf_counter())
    return {
        "read_s": t[1] - t[0],
        "fit_s": t[2] - t[1],
        "bootstrap_s": rounds * (t[3] - t[2]) / refits,
        "peak_mb": _peak_mb(),
        "cpu_s": float("nan"),
    }


PHASES = {"style": phase_style, "plain": phase_plain, "reference": phase_reference}


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
    parser.add_argument("--no-reference", action="store_true", help="skip the generic-optimiser baseline")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.csv, args.rounds)))
        return
    load = os.getloadavg()[0]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "battles.csv"
        synthetic_log(args.battles, args.models, args.seed).to_csv(path, index=False)
        for phase in ("style", "plain") if args.no_reference else ("style", "plain", "reference"):
            results[phase] = _child(phase, path, args.rounds)
    for result in results.values():
        result["total_s"] = result["read_s"] + result["fit_s"] + result["bootstrap_s"]
    summary = {
        "battles": args.battles,
        "models": args.models,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "load_average_1min": load,
        "true_coefficients": TRUE_BETA,
        **results,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    style = results["style"]
    print(
        f"{args.battles:,} battles, {args.models} models, {args.rounds} bootstrap rounds; "
        f"{os.cpu_count()} cores, load average {load:.1f} at start"
    )
    names = list(results)
    print(f"{'phase':<14}" + "".join(f"{name + ' s':>16}" for name in names))
    for key in ("read_s", "fit_s", "bootstrap_s", "total_s", "cpu_s", "peak_mb"):
        cells = "".join(f"{results[name][key]:>16.2f}" for name in names)
        print(f"{key:<14}{cells}")
    if "reference" in results:
        print(
            f"style vs generic optimiser: {results['reference']['total_s'] / style['total_s']:.0f}x faster "
            "(reference bootstrap extrapolated from 2 refits)"
        )
    print(f"style vs plain BT: {style['total_s'] / results['plain']['total_s']:.1f}x the time")
    for feature, true in TRUE_BETA.items():
        lo, hi = style["ci_lower"][feature], style["ci_upper"][feature]
        mark = "in" if lo <= true <= hi else "OUTSIDE"
        fitted = style["coefficients"][feature]
        print(f"  {feature:<8} true {true:.3f}  fit {fitted:.4f}  95% [{lo:.4f}, {hi:.4f}] {mark}")
    check = style["check"]
    kind = "resampled and refitted" if style["exact"] else "the Gaussian large-log limit"
    print(
        f"replicates: {kind}; mean rating sd {check['gaussian_sd_mean']:.2f} Elo vs "
        f"{check['resampled_sd_mean']:.2f} from 32 resampled refits (one Newton step from the linearised "
        f"start, itself within {check['refit_error_elo']:.4f} Elo of a full refit)"
    )
    print(
        f"target: style total <= 10 s: {'met' if style['total_s'] <= 10 else 'MISSED'}; "
        f"peak < 2 GB: {'met' if style['peak_mb'] < 2048 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
