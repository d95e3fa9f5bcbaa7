"""Does a judge vote like people? Vote agreement, leaderboard agreement, bias diagnostics and a verdict.

Pure: battle frames in, a ValidationReport out. Both sides are rated by the same engine (judge.ratings), so
the two leaderboards differ only in who voted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from judge.errors import InputError
from judge.ratings import leaderboard
from judge.validate.agreement import Agreement, GroupBy, human_agreement, judge_agreement, matched_items
from judge.validate.biases import Diagnostics, diagnose
from judge.validate.ranks import RankAgreement, brier_score, rank_agreement
from judge.validate.uncertainty import Interval, agreement_intervals, difference_intervals, rank_intervals
from judge.validate.verdict import (
    MIN_MATCHED_ITEMS,
    TOLERANCE,
    Baseline,
    human_verdict,
    judge_verdict,
    thin_overlap,
)
from judge.validate.worth import JudgeWorth, judge_worth

__all__ = [
    "MIN_MATCHED_ITEMS",
    "TOLERANCE",
    "Baseline",
    "ValidationReport",
    "borrow_style",
    "thin_overlap",
    "validate_battles",
]

FORMAT_VERSION: Final = 1
_SCALE: Final = 400.0
_BASE: Final = 10.0


@dataclass(frozen=True)
class ValidationReport:
    """Everything `judge validate` reports; to_json() is the documented --json shape (docs/validate.md)."""

    comparison: Literal["judge-human", "human-human"]
    agreement: Agreement  # the comparison above
    human_agreement: Agreement | None  # human vs human over all human votes; None when no item has two voters
    rank: RankAgreement | None  # None without a judge side
    human_diagnostics: Diagnostics
    judge_diagnostics: Diagnostics | None
    human_votes: int
    judge_votes: int
    verdict: str
    worth: JudgeWorth | None = None  # what the judge's votes add under PPI; None without a judge side
    # Bootstrap intervals (over items for agreement, over questions for rank correlations) and kappa.
    intervals: dict[str, Interval] = field(default_factory=dict)
    style_rank: RankAgreement | None = None  # the same comparison of style-controlled boards (--style)
    style_features: tuple[str, ...] = ()
    # Judge and humans on the same items (a judge vote and >= 2 human voters); None without a judge side.
    baseline: Baseline | None = None
    level: float = 0.95  # of every interval

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "comparison": self.comparison,
            "by": self.agreement.by,
            "agreement": self.agreement.to_json(),
            "human_agreement": None if self.human_agreement is None else self.human_agreement.to_json(),
            "baseline": None if self.baseline is None else self.baseline.to_json(),
            "rank": None if self.rank is None else self.rank.to_json(),
            **(
                {"rank_style": self.style_rank.to_json(), "style_features": list(self.style_features)}
                if self.style_rank is not None
                else {}
            ),
            "diagnostics": {
                "human": self.human_diagnostics.to_json(),
                "judge": None if self.judge_diagnostics is None else self.judge_diagnostics.to_json(),
            },
            "votes": {
                "human": self.human_votes,
                "judge": self.judge_votes,
                "matched_items": self.agreement.overall.items,
                "baseline_items": None if self.baseline is None else self.baseline.items,
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
    style: Sequence[str] | None = None,
) -> ValidationReport:
    """Compare a judge's battles with human ones, or humans with each other when `judge` is None.

    style: also compare the two style-controlled leaderboards. A side without style counts borrows them from
    the other side's battles on the same (question, model, turn), since both judged the same answers.
    Raises InputError when nothing can be compared (no shared item, or no item with two human voters).
    """
    if human.empty:
        raise InputError("the human battle log has no votes")
    between_humans = human_agreement(human, by=by)
    everyone = between_humans if between_humans.overall.with_ties.total else None  # over all human votes
    if judge is None:
        if everyone is None:
            raise InputError(
                "no item has votes from two different human voters, so there is nothing to compare",
                hint="give the judge's battle log with --judge",
            )
        return ValidationReport(
            comparison="human-human",
            agreement=between_humans,
            human_agreement=everyone,
            rank=None,
            human_diagnostics=diagnose(human),
            judge_diagnostics=None,
            human_votes=len(human),
            judge_votes=0,
            verdict=human_verdict(everyone),
            intervals=_intervals(between_humans, None, human, None, bootstrap, seed, level),
            level=level,
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
    same = _baseline(human, judge, versus, between_humans, by=by, bootstrap=bootstrap, seed=seed, level=level)
    style_rank = None
    if style is not None:
        styled = [borrow_style(human, judge), borrow_style(judge, human)]
        style_rank = _rank(*styled, bootstrap=bootstrap, seed=seed, level=level, style=tuple(style))
    return ValidationReport(
        comparison="judge-human",
        agreement=versus,
        human_agreement=everyone,
        rank=rank,
        human_diagnostics=diagnose(human),
        judge_diagnostics=diagnose(judge, human=human, self_name=self_name),
        human_votes=len(human),
        judge_votes=len(judge),
        verdict=judge_verdict(versus, everyone, same, rank)
        + ("" if versus.overall.items < MIN_MATCHED_ITEMS else _style_sentence(rank, style_rank)),
        worth=judge_worth(human, judge),
        intervals=_intervals(versus, rank, human, judge, bootstrap, seed, level),
        style_rank=style_rank,
        style_features=() if style is None else tuple(style),
        baseline=same,
        level=level,
    )


def _baseline(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    versus: Agreement,
    between_humans: Agreement,
    *,
    by: GroupBy,
    bootstrap: int,
    seed: int,
    level: float,
) -> Baseline:
    """Both agreements restricted to the items where the judge and two or more humans voted, and their
    difference with a paired bootstrap over those items (its own seeded stream: other figures keep theirs)."""
    items = matched_items(versus, between_humans)
    on_judge = judge_agreement(human, judge, by=by, items=items)
    on_human = human_agreement(human, by=by, items=items)
    assert on_judge.pairs is not None and on_human.pairs is not None
    difference = difference_intervals(
        on_judge.pairs, on_human.pairs, rounds=bootstrap, rng=np.random.default_rng([seed, 1]), level=level
    )
    return Baseline(len(items), on_judge, on_human, difference)


def _style_sentence(rank: RankAgreement, style_rank: RankAgreement | None) -> str:
    if style_rank is None:
        return ""
    if style_rank.spearman is None:
        why = style_rank.notes.get("spearman", "not defined").removeprefix("not defined: ")
        return f" After style control of both boards there is no rank correlation ({why})."
    before = "not defined" if rank.spearman is None else f"{rank.spearman:.2f}"
    return (
        f" After style control of both boards the Spearman correlation is {style_rank.spearman:.2f} "
        f"(before: {before})."
    )


_STYLE_SIDES: Final = {
    "tokens": ("tokens_a", "tokens_b"),
    "headers": ("headers_a", "headers_b"),
    "lists": ("lists_a", "lists_b"),
    "bold": ("bold_a", "bold_b"),
}


def borrow_style(target: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """target with missing style counts taken from source's battles on the same (question, model, turn)."""
    names = list(_STYLE_SIDES)
    columns = [c for pair in _STYLE_SIDES.values() for c in pair]
    if all(c in target.columns and target[c].notna().all() for c in columns):
        return target
    if not all(c in source.columns for c in columns):
        return target
    parts = []
    for k, side in enumerate(("a", "b")):
        part = pd.DataFrame(
            {
                "question_id": source["question_id"].astype(str),
                "model": source[f"model_{side}"].astype(str),
                "turn": pd.to_numeric(source["turn"]).fillna(1).astype("int64"),
                **{name: source[pair[k]] for name, pair in _STYLE_SIDES.items()},
            }
        )
        parts.append(part.dropna(subset=names))
    table = pd.concat(parts).drop_duplicates(["question_id", "model", "turn"], keep="last")
    keys = pd.DataFrame(
        {
            "question_id": target["question_id"].astype(str).to_numpy(),
            "turn": pd.to_numeric(target["turn"]).fillna(1).astype("int64").to_numpy(),
        }
    )
    out = target.copy()
    for k, side in enumerate(("a", "b")):
        found = keys.assign(model=target[f"model_{side}"].astype(str).to_numpy()).merge(
            table, on=["question_id", "model", "turn"], how="left"
        )
        for name, pair in _STYLE_SIDES.items():
            mine = out[pair[k]] if pair[k] in out.columns else pd.Series(pd.NA, index=out.index)
            out[pair[k]] = mine.astype("Float64").fillna(pd.Series(found[name].to_numpy(), index=out.index))
    return out


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
        names = ("judge", "human") if judge is not None else ("human", "human")
        out.update(agreement_intervals(agreement.pairs, rounds=bootstrap, rng=rng, level=level, names=names))
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
                why=rank.notes.get("spearman", "not defined"),
            )
        )
    return out


def _rank(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    *,
    bootstrap: int,
    seed: int,
    level: float,
    style: tuple[str, ...] | None = None,
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
            style=style,
        )
        for side in (human, judge)
    ]
    if ci == "none":  # the engine collapses the interval onto the rating; there is nothing to separate with
        boards = [board.assign(ci_lower=float("nan"), ci_upper=float("nan")) for board in boards]
    rank = rank_agreement(boards[0], boards[1])
    ratings = boards[1].set_index("model")["rating"]
    brier, n = brier_score(ratings, human, scale=_SCALE, base=_BASE)
    notes = dict(rank.notes)
    if brier is None:
        notes["brier"] = "not defined: no decisive human vote between two models the judge rated"
    return replace(rank, brier=brier, brier_votes=n, notes=notes)
