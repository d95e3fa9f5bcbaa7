"""Baseline run vs candidate run: which ratings moved, and which moves are more than noise (pure).

Ratings are relative (only differences between models mean anything), so both runs go on a common anchor:
each fit is shifted so that the models present in both runs have the same mean as in the baseline fit. A
model's change is then (candidate - mean over shared models) - (baseline - mean over shared models); one model
that drops pulls that mean down, so the others seem to rise a little.

The interval of a change comes from a bootstrap over questions. When the runs share questions, each round
draws the shared question ids once and refits both runs on that same draw (a paired bootstrap: question
difficulty cancels out of the difference); questions only one run has are drawn independently for that run.
With no shared question this is two independent clustered bootstraps. A change is a significant drop when its
whole interval lies below -margin.

Watching k models gives k chances of a false alarm, so the intervals of the watched changes are simultaneous:
change +- c * SE, with SE the bootstrap standard error of each change and c the ci-quantile of the largest
|bootstrap change - change| / SE over the watched models in a round (the max-t method). All of them then hold
at once with probability ci whatever k is, and c is read only ci-deep in the bootstrap distribution, where a
Bonferroni split would read percentiles (1 - ci) / 2k deep (0.05% at 50 models, beyond what 500 rounds can
place); max-t is also less conservative than Bonferroni when the changes are correlated, as they are through
the common anchor. benchmarks/coverage.py measures the family-wise false-alarm rate for 1, 10 and 50 watched
models and the power to catch a 50-Elo drop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm
from scipy.stats import t as student_t

from judge.errors import InputError
from judge.ratings import fit_bt
from judge.ratings.bootstrap import weighted_refits

Status = Literal["kept", "new", "gone"]
Verdict = Literal["worse", "better", "same", "new", "gone"]


@dataclass(frozen=True)
class Estimate:
    """A point value and its bootstrap interval."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ModelChange:
    """One model across the two runs; ratings are on the common anchor (see module docstring)."""

    model: str
    status: Status
    watched: bool
    baseline: Estimate | None
    candidate: Estimate | None
    baseline_rank: int | None
    candidate_rank: int | None
    delta: Estimate | None
    verdict: Verdict
    # Watched models in both runs: the smallest true drop (Elo) whose interval would lie below -margin,
    # i.e. margin + the upper half-width of the change's interval. What this run could have caught.
    detectable_drop: float | None = None

    @property
    def regression(self) -> bool:
        return self.watched and self.verdict == "worse"


@dataclass(frozen=True)
class Comparison:
    """All model changes, and how their intervals were made."""

    changes: tuple[ModelChange, ...]
    anchor: tuple[str, ...]
    paired: bool
    shared_questions: int
    rounds: int
    ci: float
    level: float  # the per-model normal level of the simultaneous critical value (2 Phi(critical) - 1)
    margin: float
    seed: int
    critical: float = float("nan")  # half-width of a watched change, in bootstrap standard errors (max-t)
    cluster: str = "question"  # the resampled unit (a battle without a question_id is its own)
    missing: tuple[tuple[str, str], ...] = ()  # (model, "baseline" | "candidate"): watched, absent from a run
    notes: tuple[str, ...] = ()  # e.g. that the judge's combine rule compresses the scale

    @property
    def regressions(self) -> tuple[ModelChange, ...]:
        return tuple(c for c in self.changes if c.regression)

    @property
    def failed(self) -> bool:
        """A watched model got worse, or cannot be checked because a run lacks it: either fails a build."""
        return bool(self.regressions or self.missing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `judge compare --json`)."""

        def est(e: Estimate | None) -> dict[str, float] | None:
            return None if e is None else {"value": e.value, "lower": e.lower, "upper": e.upper}

        return {
            "anchor": list(self.anchor),
            "paired": self.paired,
            "shared_questions": self.shared_questions,
            "rounds": self.rounds,
            "ci": self.ci,
            "level": self.level,
            "critical": self.critical,
            "method": "max-t",
            "cluster": self.cluster,
            "margin": self.margin,
            "seed": self.seed,
            "regression": bool(self.regressions),
            "failed": self.failed,
            "missing": [{"model": model, "from": run} for model, run in self.missing],
            "notes": list(self.notes),
            "models": [
                {
                    "model": c.model,
                    "status": c.status,
                    "watched": c.watched,
                    "verdict": c.verdict,
                    "regression": c.regression,
                    "baseline": est(c.baseline),
                    "candidate": est(c.candidate),
                    "baseline_rank": c.baseline_rank,
                    "candidate_rank": c.candidate_rank,
                    "delta": est(c.delta),
                    "detectable_drop": c.detectable_drop,
                }
                for c in self.changes
            ],
        }


def compare_battles(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    baseline_ranks: Mapping[str, int] | None = None,
    candidate_ranks: Mapping[str, int] | None = None,
    watch: Collection[str] | None = None,
    margin: float = 0.0,
    rounds: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> Comparison:
    """Compare two battle logs; `watch` defaults to every model in both runs."""
    if rounds < 10:
        raise InputError(f"rounds must be at least 10 (got {rounds})")
    if not 0 < ci < 1:
        raise InputError(f"ci must lie between 0 and 1 (got {ci})")
    if margin < 0:
        raise InputError(f"margin must be zero or positive (got {margin})")
    base_fit = _fit(baseline)
    cand_fit = _fit(candidate)
    shared = sorted(set(base_fit.index) & set(cand_fit.index))
    if not shared:
        raise InputError("the two runs have no model in common, so there is nothing to compare")
    every = sorted(set(base_fit.index) | set(cand_fit.index))
    unknown = sorted(set(watch or ()) - set(every))
    if unknown:
        raise InputError(
            f"--watch names model(s) in neither run: {', '.join(unknown)} (known: {', '.join(every)})"
        )
    watched = set(shared if watch is None else watch)
    missing = tuple(
        (model, "candidate" if model in base_fit.index else "baseline")
        for model in sorted(watched - set(shared))
    )

    level = float(base_fit[shared].mean())
    base_point = base_fit - base_fit[shared].mean() + level
    cand_point = cand_fit - cand_fit[shared].mean() + level

    base_q, cand_q = _question_codes(baseline, "b"), _question_codes(candidate, "c")
    common = sorted(set(base_q) & set(cand_q))
    rng = np.random.default_rng(seed)
    shared_draw = _draw(rng, len(common), rounds)
    base_boot = _replicates(baseline, base_q, common, shared_draw, rng, shared, level)
    cand_boot = _replicates(candidate, cand_q, common, shared_draw, rng, shared, level)
    usable = ~(base_boot[shared].isna().any(axis=1) | cand_boot[shared].isna().any(axis=1)).to_numpy()
    base_boot, cand_boot = base_boot[usable], cand_boot[usable]
    diffs = cand_boot[shared] - base_boot[shared]
    point_diff = cand_point[shared] - base_point[shared]
    spread = diffs.std(ddof=1).fillna(0.0)
    # A bootstrap over n questions has (n - 1) / n of the variance it estimates: widen by sqrt(n / (n - 1)).
    n_questions = min(len(set(base_q)), len(set(cand_q)))
    widen = math.sqrt(n_questions / (n_questions - 1)) if n_questions > 1 else 1.0
    tested = sorted(watched & set(shared))
    # With few questions the standardised change is closer to Student's t on n - 1 degrees of freedom than
    # to a normal (the usual few-cluster correction): the max-t level is read on that scale. 50 watched
    # models on 20 questions raised false alarms to 0.08 without it (benchmarks/coverage.py).
    critical = _few_clusters(_max_t(diffs, point_diff, spread, tested, ci), n_questions)
    tail = (1 - ci) / 2

    def interval(point: float, samples: pd.Series) -> Estimate:
        values = samples.to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            return Estimate(point, float("nan"), float("nan"))
        low, high = np.quantile(values, [tail, 1 - tail])
        return Estimate(float(point), float(low), float(high))

    def change(model: str) -> Estimate:
        """Simultaneous over the watched models (max-t); an unwatched model gets its own ci-level interval."""
        point, sd = float(point_diff[model]), float(spread[model]) * widen
        c = (
            critical
            if model in watched
            else _few_clusters(_max_t(diffs, point_diff, spread, [model], ci), n_questions)
        )
        return Estimate(point, point - c * sd, point + c * sd)

    changes = []
    for model in every:
        in_base, in_cand = model in base_fit.index, model in cand_fit.index
        base_est = interval(base_point[model], base_boot[model]) if in_base else None
        cand_est = interval(cand_point[model], cand_boot[model]) if in_cand else None
        delta = None
        verdict: Verdict = "new" if not in_base else "gone"
        detectable = None
        if in_base and in_cand:
            delta = change(model)
            verdict = _verdict(delta, margin)
            if model in watched and np.isfinite(delta.upper):
                detectable = margin + max(delta.upper - delta.value, 0.0)
        changes.append(
            ModelChange(
                model=model,
                status="kept" if in_base and in_cand else ("new" if in_cand else "gone"),
                watched=model in watched,
                baseline=base_est,
                candidate=cand_est,
                baseline_rank=(baseline_ranks or {}).get(model),
                candidate_rank=(candidate_ranks or {}).get(model),
                delta=delta,
                verdict=verdict,
                detectable_drop=detectable,
            )
        )
    changes.sort(key=lambda c: (c.status != "kept", -(c.candidate or c.baseline or Estimate(0, 0, 0)).value))
    return Comparison(
        changes=tuple(changes),
        anchor=tuple(shared),
        paired=len(common) > 0,
        shared_questions=len(common),
        rounds=rounds,
        ci=ci,
        level=float(2 * norm.cdf(critical) - 1),
        critical=critical,
        margin=margin,
        seed=seed,
        missing=missing,
    )


def scale_notes(judges: Mapping[str, Mapping[str, Any] | None]) -> tuple[str, ...]:
    """Warnings about each run's judge (its diagnostics.json `judge` section) that bear on detection.

    Under the conservative rule a pair whose two orders disagree is a tie; ties pull every rating towards
    the others, so a judge that often flips with the order reports a real drop as a smaller one.
    """
    notes = []
    for run, judge in judges.items():
        if not judge or judge.get("combine") != "conservative":
            continue
        consistency = judge.get("position_consistency")
        if isinstance(consistency, int | float) and consistency < 1:
            notes.append(
                f"the {run} run's judge combines both orders with the `conservative` rule, which turns the "
                f"{1 - consistency:.0%} of pairs whose orders disagree into ties: this compresses the rating "
                "scale, so a true drop shows up smaller than it is (a more position-consistent judge, or "
                "`combine: score`, keeps more of it)"
            )
    return tuple(notes)


def _verdict(delta: Estimate, margin: float) -> Verdict:
    if delta.upper < -margin:
        return "worse"
    if delta.lower > margin:
        return "better"
    return "same"


def _fit(battles: pd.DataFrame) -> pd.Series:
    ratings = fit_bt(battles).ratings
    return pd.Series(ratings, dtype=float).sort_index()


def _question_codes(battles: pd.DataFrame, tag: str) -> npt.NDArray[np.object_]:
    """Question id per battle; a battle without one is its own cluster, never shared with the other run."""
    ids = battles["question_id"].astype("string")
    filler = pd.Series([f"\0{tag}{i}" for i in range(len(battles))], index=battles.index, dtype="string")
    codes: npt.NDArray[np.object_] = ids.fillna(filler).to_numpy(dtype=object)
    return codes


def _draw(rng: np.random.Generator, n: int, rounds: int) -> npt.NDArray[np.float64]:
    """rounds x n: how often each of n questions is drawn in a resample of n with replacement."""
    if n == 0:
        return np.zeros((rounds, 0))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=rounds).astype(np.float64)


def _replicates(
    battles: pd.DataFrame,
    questions: npt.NDArray[np.object_],
    common: list[str],
    common_draw: npt.NDArray[np.float64],
    rng: np.random.Generator,
    shared: list[str],
    level: float,
) -> pd.DataFrame:
    """One run's bootstrap: shared questions as drawn for both runs, its own questions redrawn; each round
    put on the common anchor (mean of the shared models = level)."""
    own = sorted(set(questions) - set(common))
    index = {q: k for k, q in enumerate([*common, *own])}
    units = np.array([index[q] for q in questions], dtype=np.int64)
    weights = np.hstack([common_draw, _draw(rng, len(own), len(common_draw))])
    ratings = weighted_refits(battles, units, weights)
    return ratings.sub(ratings[shared].mean(axis=1), axis=0) + level


def _few_clusters(critical: float, n_questions: int) -> float:
    """The normal-scale critical value moved to Student's t with n_questions - 1 degrees of freedom."""
    if critical <= 0 or n_questions < 3:
        return critical
    return float(student_t.ppf(norm.cdf(critical), df=n_questions - 1))


def _max_t(diffs: pd.DataFrame, point: pd.Series, spread: pd.Series, models: list[str], ci: float) -> float:
    """The ci-quantile over rounds of max over `models` of |bootstrap change - change| / its standard error.

    Intervals change +- critical * SE then hold all at once with probability ci (the max-t method), reading
    the bootstrap only ci-deep, where a Bonferroni split over 50 models would read 1 - 0.05 / 100 deep.
    """
    varying = [m for m in models if spread[m] > 0]
    if not varying:
        return 0.0
    t = ((diffs[varying] - point[varying]).abs() / spread[varying]).max(axis=1).to_numpy(dtype=float)
    return float(np.quantile(t, ci))


def render_markdown(comparison: Comparison, *, baseline: str, candidate: str) -> str:
    """A summary for a CI log or a pull-request comment."""
    worse = comparison.regressions
    head = (
        f"**Regression:** {', '.join(c.model for c in worse)} got significantly worse."
        if worse
        else "**No regression:** no watched model got significantly worse."
    )
    if comparison.missing:
        gone = ", ".join(f"{_cell(model)} (not in the {run} run)" for model, run in comparison.missing)
        head = f"**Missing:** watched model(s) {gone} cannot be compared.\n\n" + head
    how = (
        f"paired bootstrap over {comparison.shared_questions} shared questions"
        if comparison.paired
        else "independent bootstraps (the runs share no question)"
    )
    lines = [
        f"## judge compare: `{_cell(baseline)}` → `{_cell(candidate)}`",
        "",
        head,
        "",
        "| model | baseline | candidate | change | rank | verdict | minimum detectable drop |",
        "|---|---:|---:|---:|:---:|---|---:|",
    ]
    for c in comparison.changes:
        rank = f"{_rank(c.baseline_rank)} → {_rank(c.candidate_rank)}"
        label = {
            "worse": "worse",
            "better": "better",
            "same": "no significant change",
            "new": "new",
            "gone": "gone",
        }
        verdict = label[c.verdict] + ("" if c.watched or c.status != "kept" else " (not watched)")
        if c.regression:
            verdict = f"**{verdict}** ❌"
        detectable = "–" if c.detectable_drop is None else f"{c.detectable_drop:.0f} Elo"
        lines.append(
            f"| {_cell(c.model)} | {_est(c.baseline)} | {_est(c.candidate)} | {_est(c.delta, sign=True)} "
            f"| {rank} | {verdict} | {detectable} |"
        )
    lines += [
        "",
        f"Ratings are anchored on the mean of the {len(comparison.anchor)} models in both runs. "
        f"Intervals are {comparison.level:.1%} per model "
        f"({comparison.ci:.0%} over all watched models at once) from {how}, "
        f"{comparison.rounds} rounds, seed {comparison.seed}. "
        f"A drop counts when its whole interval lies below {_elo(-comparison.margin)} Elo; the minimum "
        "detectable drop is the smallest true drop each watched model's interval could have caught.",
        "",
    ]
    lines += [f"> note: {note}\n" for note in comparison.notes]
    return "\n".join(lines)


def _elo(value: float) -> str:
    """A rating difference as a plain number (never "-0." or "-0")."""
    return f"{value + 0.0:g}" if value != 0 else "0"


def _cell(text: str) -> str:
    """Keep a model name from breaking the table or the inline code."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _rank(rank: int | None) -> str:
    return "–" if rank is None else str(rank)


def _est(e: Estimate | None, *, sign: bool = False) -> str:
    if e is None:
        return "–"
    fmt: Callable[[float], str] = (lambda v: f"{v:+.0f}") if sign else (lambda v: f"{v:.0f}")
    return f"{fmt(e.value)} [{fmt(e.lower)}, {fmt(e.upper)}]"
