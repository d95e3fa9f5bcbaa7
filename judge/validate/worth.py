"""How many human votes a judge's votes are worth for the leaderboard, under prediction-powered inference."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from judge.errors import InputError


@dataclass(frozen=True)
class JudgeWorth:
    """PPI precision in human votes: the human votes alone would need `effective_human_votes` to match it."""

    human_votes: int
    judge_votes: int
    lam: float | None
    effective_human_votes: float | None
    note: str  # why there is no figure, else ""

    @property
    def worth(self) -> float | None:
        """Human votes the judge's votes add (never below 0: lambda = 0 falls back to the humans alone)."""
        if self.effective_human_votes is None:
            return None
        return max(self.effective_human_votes - self.human_votes, 0.0)

    def to_json(self) -> dict[str, float | int | str | None]:
        return {
            "human_votes": self.human_votes,
            "judge_votes": self.judge_votes,
            "lambda": self.lam,
            "effective_human_votes": self.effective_human_votes,
            "judge_votes_worth": self.worth,
            "note": self.note,
        }

    def sentence(self) -> str:
        if self.worth is None or self.effective_human_votes is None:
            return f"Prediction-powered ratings: not available ({self.note.removeprefix('not defined: ')})."
        these = (
            "this judge vote is" if self.judge_votes == 1 else f"these {self.judge_votes:,} judge votes are"
        )
        return (
            f"Under prediction-powered inference {these} worth about {_votes(self.worth)} for this "
            f"leaderboard: with the {_votes(self.human_votes)} given they rate as precisely as "
            f"{_votes(self.effective_human_votes)} alone (lambda {self.lam:.2f})."
        )


def _votes(n: float) -> str:
    shown = f"{n:,.0f}"
    return f"{shown} human vote" + ("" if shown == "1" else "s")


def judge_worth(human: pd.DataFrame, judge: pd.DataFrame) -> JudgeWorth:
    """Fit PPI with a power-tuned lambda and compare its sandwich variance with the humans' alone."""
    from judge.ratings.ppi import fit_ppi, match_samples  # ratings.ppi reads validate.agreement

    try:
        fit = fit_ppi(match_samples(human, judge))
    except InputError as exc:
        return JudgeWorth(len(human), len(judge), None, None, exc.message)
    effective = fit.effective_human_votes
    if not math.isfinite(effective) or not math.isfinite(fit.lam):
        # e.g. every vote a tie, or every pair always decided one way: the combined ratings have no sampling
        # variance, so "as precise as N human votes" has no N
        return JudgeWorth(
            len(human),
            len(judge),
            None,
            None,
            "not defined: the combined ratings have no measurable variance, as when every vote is a tie "
            "or every pair is decided the same way",
        )
    return JudgeWorth(len(human), len(judge), fit.lam, effective, "")
