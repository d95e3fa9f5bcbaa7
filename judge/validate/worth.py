"""How many human votes a judge's votes are worth for the leaderboard, under prediction-powered inference."""

from __future__ import annotations

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
        if self.worth is None:
            return f"Prediction-powered ratings: not available ({self.note})."
        return (
            f"Under prediction-powered inference these {self.judge_votes:,} judge votes are worth about "
            f"{self.worth:,.0f} human votes for this leaderboard: with the {self.human_votes:,} human votes "
            f"they rate as precisely as {self.effective_human_votes:,.0f} human votes alone (lambda "
            f"{self.lam:.2f})."
        )


def judge_worth(human: pd.DataFrame, judge: pd.DataFrame) -> JudgeWorth:
    """Fit PPI with a power-tuned lambda and compare its sandwich variance with the humans' alone."""
    from judge.ratings.ppi import fit_ppi, match_samples  # ratings.ppi reads validate.agreement

    try:
        fit = fit_ppi(match_samples(human, judge))
    except InputError as exc:
        return JudgeWorth(len(human), len(judge), None, None, exc.message)
    return JudgeWorth(len(human), len(judge), fit.lam, fit.effective_human_votes, "")
