"""Does a judge vote like people? Vote agreement, leaderboard agreement, bias diagnostics and a verdict.

Pure: battle frames in, a ValidationReport out. Both sides are rated by the same engine (judge.ratings), so
the two leaderboards differ only in who voted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from judge.errors import InputError
from judge.ratings import leaderboard
from judge.validate.agreement import Agreement, GroupBy, human_agreement, judge_agreement
from judge.validate.biases import Diagnostics, diagnose
from judge.validate.ranks import RankAgreement, brier_score, rank_agreement
from judge.validate.uncertainty import Interval, agreement_intervals, rank_intervals
from judge.validate.worth import JudgeWorth, judge_worth

FORMAT_VERSION: Final = 1
TOLERANCE: Final = 0.05  # agreement rates closer than this count as "about as often"
# Fewer items in both logs than this and no verdict is given: with 30 items a 95% interval on an agreement
# rate near 60% is about +-18 points, as wide as the gap between a good judge and a coin.
MIN_MATCHED_ITEMS: Final = 30
_SCALE: Final = 400.0
_BASE: Final = 10.0


@dataclass(frozen=True)
class ValidationReport:
    """Everything `judge validate` reports; to_json() is the documented --json shape (docs/validate.md)."""

    comparison: Literal["judge-human", "human-human"]
    agreement: Agreement  # the comparison above
    human_agreement: Agreement | None  # human vs human baseline; None when no item has two voters
    rank: RankAgreement | None  # None without a judge side
    human_diagnostics: Diagnostics
    judge_diagnostics: Diagnostics | None
    human_votes: int
    judge_votes: int
    verdict: str
    worth: JudgeWorth | None = None  # what the judge's votes add under PPI; None without a judge side
    # Bootstrap intervals (over items for agreement, over questions for rank correlations) and kappa.
    intervals: dict[str, Interval] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "comparison": self.comparison,
            "by": self.agreement.by,
            "agreement": self.agreement.to_json(),
            "human_agreement": None if self.human_agreement is None else self.human_agreement.to_json(),
            "rank": None if self.rank is None else self.rank.to_json(),
            "diagnostics": {
                "human": self.human_diagnostics.to_json(),
                "judge": None if self.judge_diagnostics is None else self.judge_diagnostics.to_json(),
            },
            "votes": {
                "human": self.human_votes,
                "judge": self.judge_votes,
                "matched_items": self.agreement.overall.items,
            },
            "verdict": self.verdict,
            "ppi": None if self.worth is None else self.worth.to_json(),
            "intervals": {name: value.to_json() for name, value in self.intervals.items()},
        }


def validate_battles(
    human: pd.DataFrame,
    judge: pd.DataFrame | None = None,
    *,
    by: GroupBy = "turn",
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    self_name: str | None = None,
) -> ValidationReport:
    """Compare a judge's battles with human ones, or humans with each other when `judge` is None.

    Raises InputError when nothing can be compared (no shared item, or no item with two human voters).
    """
    if human.empty:
        raise InputError("the human battle log has no votes")
    between_humans = human_agreement(human, by=by)
    baseline = between_humans if between_humans.overall.with_ties.total else None
    if judge is None:
        if baseline is None:
            raise InputError(
                "no item has votes from two different human voters, so there is nothing to compare",
                hint="give the judge's battle log with --judge",
            )
        return ValidationReport(
            comparison="human-human",
            agreement=between_humans,
            human_agreement=baseline,
            rank=None,
            human_diagnostics=diagnose(human),
            judge_diagnostics=None,
            human_votes=len(human),
            judge_votes=0,
            verdict=verdict(None, baseline, None),
            intervals=_intervals(between_humans, None, human, None, bootstrap, seed, level),
        )
    if judge.empty:
        raise InputError("the judge battle log has no votes")
    versus = judge_agreement(human, judge, by=by)
    if not versus.overall.with_ties.total:
        raise InputError(
            "no item appears in both the human and the judge battle logs",
            hint="items are matched on question_id, the unordered model pair and turn; check that ids, "
            "model names and turns are spelled the same on both sides",
        )
    rank = _rank(human, judge, bootstrap=bootstrap, seed=seed, level=level)
    return ValidationReport(
        comparison="judge-human",
        agreement=versus,
        human_agreement=baseline,
        rank=rank,
        human_diagnostics=diagnose(human),
        judge_diagnostics=diagnose(judge, human=human, self_name=self_name),
        human_votes=len(human),
        judge_votes=len(judge),
        verdict=verdict(versus, baseline, rank)
        if versus.overall.items >= MIN_MATCHED_ITEMS
        else thin_overlap(versus.overall.items),
        worth=judge_worth(human, judge),
        intervals=_intervals(versus, rank, human, judge, bootstrap, seed, level),
    )


def _intervals(
    agreement: Agreement,
    rank: RankAgreement | None,
    human: pd.DataFrame,
    judge: pd.DataFrame | None,
    bootstrap: int,
    seed: int,
    level: float,
) -> dict[str, Interval]:
    """Overall agreement (with and without ties), Cohen's kappa and the rank correlations, with intervals."""
    rng = np.random.default_rng(seed)
    out: dict[str, Interval] = {}
    if agreement.pairs is not None and len(agreement.pairs):
        out.update(agreement_intervals(agreement.pairs, rounds=bootstrap, rng=rng, level=level))
    if rank is not None and judge is not None:
        out.update(
            rank_intervals(
                human,
                judge,
                spearman=rank.spearman,
                kendall=rank.kendall,
                rounds=bootstrap,
                rng=rng,
                level=level,
            )
        )
    return out


def _rank(
    human: pd.DataFrame, judge: pd.DataFrame, *, bootstrap: int, seed: int, level: float
) -> RankAgreement:
    """Rate both sides alike; the judge's full-data BT ratings also give the Brier forecasts."""
    ci: Literal["bootstrap", "none"] = "bootstrap" if bootstrap > 0 else "none"
    boards = [
        leaderboard(
            side,
            method="bt",
            bootstrap=bootstrap,
            seed=seed,
            ci=ci,
            level=level,
            scale=_SCALE,
            base=_BASE,
            cluster="auto",  # questions when a question_id repeats (MT-Bench votes, judge logs)
        )
        for side in (human, judge)
    ]
    if ci == "none":  # the engine collapses the interval onto the rating; there is nothing to separate with
        boards = [board.assign(ci_lower=float("nan"), ci_upper=float("nan")) for board in boards]
    rank = rank_agreement(boards[0], boards[1])
    ratings = boards[1].set_index("model")["rating"]
    brier, n = brier_score(ratings, human, scale=_SCALE, base=_BASE)
    return replace(rank, brier=brier, brier_votes=n)


def verdict(versus: Agreement | None, baseline: Agreement | None, rank: RankAgreement | None) -> str:
    """The numbers in a few plain sentences, ending with how the judge compares with human consistency."""
    if versus is None:
        assert baseline is not None
        ties, no_ties = _rates(baseline)
        return (
            f"Humans agree with each other on {ties} of vote pairs ({no_ties} without ties); "
            "chance would give 33% (50%)."
        )
    ties, no_ties = _rates(versus)
    parts = [f"The judge agrees with humans on {ties} of vote pairs ({no_ties} without ties)."]
    if baseline is None:
        parts.append("No item has two human voters, so there is no human-human baseline to compare with.")
    else:
        h_ties, h_no_ties = _rates(baseline)
        parts.append(f"Humans agree with each other on {h_ties} ({h_no_ties} without ties).")
        with_ties = _compare(versus.overall.with_ties.rate, baseline.overall.with_ties.rate)
        without = _compare(versus.overall.without_ties.rate, baseline.overall.without_ties.rate)
        if with_ties == without:
            parts.append(f"So the judge agrees with humans {with_ties} humans agree with each other.")
        else:
            parts.append(
                f"So the judge agrees with humans {without} humans agree with each other when ties are left "
                f"out, but {_SHORT[with_ties]} when ties count."
            )
    if rank is not None and rank.spearman is not None:
        closeness = "closely" if rank.spearman >= 0.9 else "broadly" if rank.spearman >= 0.7 else "poorly"
        parts.append(
            f"Its leaderboard follows the human one {closeness} over {rank.models} shared models "
            f"(Spearman {rank.spearman:.2f}, Kendall {_num(rank.kendall)})."
        )
    return " ".join(parts)


def thin_overlap(items: int) -> str:
    """The verdict (and warning) when too few items appear in both logs to say anything."""
    return (
        f"Only {items} item(s) appear in both the human and the judge logs, fewer than the "
        f"{MIN_MATCHED_ITEMS} a verdict needs: the figures above are too thin to say whether the judge votes "
        "like humans."
    )


_SHORT: Final = {
    "more often than": "more often",
    "less often than": "less often",
    "about as often as": "about as often",
    "(cannot tell)": "(cannot tell)",
}


def _compare(judge_rate: float | None, human_rate: float | None) -> str:
    if judge_rate is None or human_rate is None:
        return "(cannot tell)"
    if judge_rate > human_rate + TOLERANCE:
        return "more often than"
    if judge_rate < human_rate - TOLERANCE:
        return "less often than"
    return "about as often as"


def _rates(table: Agreement) -> tuple[str, str]:
    row = table.overall
    return _pct(row.with_ties.rate), _pct(row.without_ties.rate)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
