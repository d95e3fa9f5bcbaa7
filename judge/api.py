"""Plain orchestration functions behind each command: `judge X` parses flags, calls api.X, renders the result.

A notebook calling these runs the same code as the command line.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from judge.compare import Comparison


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
