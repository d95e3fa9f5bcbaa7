"""Plain orchestration functions behind each command: `judge X` parses flags, calls api.X, renders the result.

A notebook calling these runs the same code as the command line.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from judge.compare import Comparison
    from judge.validate import ValidationReport


def report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/report.html from a results directory; returns its path."""
    from judge.report import write_report  # jinja2 and the charts load only for this command

    return write_report(run_dir)


def compare(
    baseline_dir: str | Path,
    candidate_dir: str | Path,
    *,
    watch: Collection[str] | None = None,
    margin: float = 0.0,
    rounds: int = 500,
    seed: int = 0,
    ci: float = 0.95,
) -> Comparison:
    """Compare two results directories (see judge.compare); the caller decides what a regression means."""
    from judge.compare import compare_battles
    from judge.report import load_run_dir

    baseline = load_run_dir(baseline_dir, details=False)
    candidate = load_run_dir(candidate_dir, details=False)
    return compare_battles(
        baseline.battles,
        candidate.battles,
        baseline_ranks={row.model: row.rank for row in baseline.leaderboard.rows},
        candidate_ranks={row.model: row.rank for row in candidate.leaderboard.rows},
        watch=watch,
        margin=margin,
        rounds=rounds,
        seed=seed,
        ci=ci,
    )


def validate(
    human: Sequence[str | Path],
    judge: Sequence[str | Path] = (),
    *,
    by: Literal["turn", "category"] = "turn",
    format: str | None = None,
    exclude_voters: Sequence[str] = (),
    answers: Sequence[str | Path] = (),
    judge_model: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> ValidationReport:
    """Load human (and judge) battle logs and compare them (see judge.validate and docs/validate.md)."""
    from judge.agreement import drop_voters
    from judge.answer_lengths import load_answer_lengths
    from judge.battles import load_battles
    from judge.diagnostics import attach_lengths
    from judge.errors import InputError
    from judge.validate import validate_battles

    if not human:
        raise InputError("no human battle log given", hint="pass one or more --human FILE")
    human_frame = drop_voters(load_battles(human, format=format).frame, exclude_voters)
    judge_frame = load_battles(judge, format=format).frame if judge else None
    if answers:
        lengths = load_answer_lengths(answers)
        human_frame = attach_lengths(human_frame, lengths)
        judge_frame = None if judge_frame is None else attach_lengths(judge_frame, lengths)
    return validate_battles(
        human_frame, judge_frame, by=by, bootstrap=bootstrap, seed=seed, self_name=judge_model
    )
