"""The report's human section: the board of the votes `judge vote` wrote to human_votes.jsonl, fitted by the
same rating engine and settings as the judge's board, beside it with each model's rank difference.

Pure apart from the fit's CPU time: ReportData in, plain values for the template out.
"""

from __future__ import annotations

from typing import Any, Literal

from judge.ratings import leaderboard
from judge.report.rundir import Leaderboard, LeaderboardRow, ReportData, board_from_frame


def human_section(data: ReportData, *, seed: int = 0) -> dict[str, Any] | None:
    """The human board beside the judge's, in the judge's order (rank, then rating); None without votes."""
    votes = data.human_votes
    if votes is None or votes.empty:
        return None
    board = data.leaderboard
    method: Literal["bt", "elo"] = "elo" if board.method == "elo" else "bt"
    ci: Literal["bootstrap", "none"] = "bootstrap" if board.bootstrap > 0 else "none"
    cluster: Literal["question", "battle"] = "question" if board.cluster == "question" else "battle"
    frame = leaderboard(votes, method=method, bootstrap=board.bootstrap, seed=seed, ci=ci, cluster=cluster)
    human = board_from_frame(frame, method=method, bootstrap=board.bootstrap, cluster=cluster)
    return {
        "votes": len(votes),
        "voters": int(votes["judge"].astype("string").nunique()),
        "rows": _beside(board, human),
        "human": human,
    }


def _beside(judge: Leaderboard, human: Leaderboard) -> list[dict[str, Any]]:
    """One row per model of either board: judge's row, human's row (None if absent), rank difference."""
    theirs = {row.model: row for row in human.rows}
    rows: list[dict[str, Any]] = []
    for row in judge.rows:
        other: LeaderboardRow | None = theirs.pop(row.model, None)
        rows.append({"model": row.model, "judge": row, "human": other, "diff": _diff(row, other)})
    rows += [
        {"model": r.model, "judge": None, "human": r, "diff": None} for r in human.rows if r.model in theirs
    ]
    return rows


def _diff(judge: LeaderboardRow, human: LeaderboardRow | None) -> int | None:
    """Judge's rank minus the humans' (negative: the judge ranks the model higher than people do)."""
    return None if human is None else judge.rank - human.rank
