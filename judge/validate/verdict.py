"""The verdict of `judge validate`: the numbers in a few plain sentences, and the rules that pick the words.

Pure: figures in, text out. The judge is compared with the human baseline on the same items (those where
the judge and at least two humans voted), with and without ties, and each comparison lands in one standing:
above, within (TOLERANCE), below, unclear (the point is outside the tolerance but the paired bootstrap
interval of the difference still holds zero) or undefined (nothing to compare). docs/validate.md lists every
case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from judge.validate.agreement import Agreement, AgreementRow, Count
from judge.validate.ranks import RankAgreement
from judge.validate.uncertainty import Interval

TOLERANCE: Final = 0.05  # agreement rates closer than this count as "about as often"
# Fewer items than this (in both logs, or with a judge vote and two human votes) and no verdict or comparison
# is given: with 30 items a 95% interval on an agreement rate near 60% is about +-18 points, as wide as the
# gap between a good judge and a coin.
MIN_MATCHED_ITEMS: Final = 30

Standing = Literal["above", "within", "below", "unclear", "undefined"]
SIDES: Final = ("with_ties", "without_ties")


@dataclass(frozen=True)
class Baseline:
    """Judge-human and human-human agreement on the same items: where the judge and >= 2 humans voted."""

    items: int
    judge: Agreement  # the judge's votes against the human votes, on these items only
    human: Agreement  # every two human votes by different voters, on these items only
    difference: dict[str, Interval]  # judge minus human agreement, "with_ties" and "without_ties"

    def standing(self) -> dict[str, Standing]:
        return {side: standing(self.difference[side]) for side in SIDES}

    def to_json(self) -> dict[str, object]:
        return {
            "items": self.items,
            "judge": self.judge.to_json(),
            "human": self.human.to_json(),
            "difference": {side: self.difference[side].to_json() for side in SIDES},
            "standing": self.standing() if self.items >= MIN_MATCHED_ITEMS else None,
        }


def standing(difference: Interval) -> Standing:
    """Where the judge stands against the humans, from judge-minus-human agreement and its interval."""
    d = difference.value
    if d is None:
        return "undefined"
    if abs(d) <= TOLERANCE:
        return "within"
    if difference.lower is None or difference.upper is None:  # no bootstrap: the point alone decides
        return "above" if d > 0 else "below"
    if d > 0 and difference.lower > 0:
        return "above"
    if d < 0 and difference.upper < 0:
        return "below"
    return "unclear"


def human_verdict(between: Agreement) -> str:
    """Without a judge: how often humans agree with each other, against chance."""
    rates = _rates(between.overall)
    return f"Humans agree with each other on {rates}; chance would give 33% (50% without ties)."


def judge_verdict(
    versus: Agreement,
    everyone: Agreement | None,
    baseline: Baseline | None,
    rank: RankAgreement | None,
) -> str:
    """The judge against humans: its agreement, the human baseline on the same items, standing, boards.

    everyone: human-human agreement over all human votes (None when no item has two human voters)."""
    items = versus.overall.items
    if items < MIN_MATCHED_ITEMS:
        return thin_overlap(items)
    parts = [f"The judge agrees with humans on {_rates(versus.overall)}."]
    parts += _baseline_sentences(items, everyone, baseline)
    parts.append(_rank_sentence(rank))
    return " ".join(p for p in parts if p)


def thin_overlap(items: int) -> str:
    """The verdict (and warning) when too few items appear in both logs to say anything."""
    return (
        f"Only {_n(items, 'item')} {'appears' if items == 1 else 'appear'} in both the human and the judge "
        f"logs, fewer than the {MIN_MATCHED_ITEMS} a verdict needs: the figures above are too thin to say "
        "whether the judge votes like humans."
    )


def thin_baseline(items: int) -> str:
    """Why there is no comparison with human consistency although the judge overlaps the humans enough."""
    have = "has" if items == 1 else "have"
    return (
        f"Only {_n(items, 'item')} {have} both a judge vote and two human voters, fewer than the "
        f"{MIN_MATCHED_ITEMS} a comparison with human consistency needs."
    )


def _baseline_sentences(items: int, everyone: Agreement | None, baseline: Baseline | None) -> list[str]:
    if everyone is None:
        return [
            "No item has two human voters, so there is no human-human baseline to compare the judge with."
        ]
    over_all = f"over all their votes humans agree with each other on {_rates(everyone.overall, short=True)}"
    if baseline is None or baseline.items == 0:
        return [
            f"None of the judge's items has two human voters, so there is no baseline on the same items; "
            f"{over_all}."
        ]
    if baseline.items < MIN_MATCHED_ITEMS:
        return [thin_baseline(baseline.items), f"For reference, {over_all}."]
    if baseline.items == items:
        where = f"On the same {_n(items, 'item')} humans agree with each other on"
        first = f"{where} {_rates(baseline.human.overall, short=True)}; {over_all}."
    else:
        first = (
            f"On the {baseline.items:,} of these items that also have two human voters, the judge agrees "
            f"with humans on {_rates(baseline.judge.overall, short=True)} and humans agree with each other "
            f"on {_rates(baseline.human.overall, short=True)}; {over_all}."
        )
    return [first, _comparison(baseline)]


_PHRASE: Final = {
    "above": "the judge agrees with humans more often than humans agree with each other",
    "within": "the judge agrees with humans about as often as humans agree with each other",
    "below": "the judge agrees with humans less often than humans agree with each other",
    "unclear": "the judge's agreement with humans cannot be told apart from the humans' with each other",
}
_LABEL: Final = {"with_ties": "with ties counted", "without_ties": "without ties"}


def _comparison(baseline: Baseline) -> str:
    """One sentence on both sides: shared when they stand alike, else one clause each."""
    where = baseline.standing()
    diff = baseline.difference
    if where["with_ties"] == where["without_ties"] != "undefined":
        both = where["with_ties"]
        figures = f"{_diff(diff['with_ties'], both)} with ties; {_diff(diff['without_ties'], both)} without"
        return f"So, with ties and without, {_PHRASE[both]} ({figures})."
    clauses = [
        f"{_LABEL[side]}, {_PHRASE[where[side]]} ({_diff(diff[side], where[side])})"
        if where[side] != "undefined"
        else f"{_LABEL[side]}, there is nothing to compare ({_reason(diff[side])})"
        for side in SIDES
    ]
    return f"So, {clauses[0]}; {clauses[1]}."


def _diff(interval: Interval, standing: Standing) -> str:
    assert interval.value is not None
    shown = f"{_points(interval.value)} points"
    if standing == "within":
        shown += f", inside the {TOLERANCE * 100:.0f}-point tolerance"
    if interval.lower is None or interval.upper is None:
        return f"{shown}, no interval"
    return f"{shown}, 95% interval {_points(interval.lower)} to {_points(interval.upper)}"


def _points(value: float) -> str:
    """Percentage points with one decimal, so a 5.4-point gap never reads as the 5-point tolerance."""
    n = round(value * 100, 1)
    return "0" if n == 0 else f"{n:+.1f}"


def _reason(interval: Interval) -> str:
    return interval.note.removeprefix("not defined: ") or "not defined"


def _rank_sentence(rank: RankAgreement | None) -> str:
    if rank is None:
        return ""
    if rank.spearman is None:
        why = rank.notes.get("spearman", "")
        return (
            f"The two leaderboards have no rank correlation ({why.removeprefix('not defined: ') or 'n/a'})."
        )
    closeness = "closely" if rank.spearman >= 0.9 else "broadly" if rank.spearman >= 0.7 else "poorly"
    kendall = "" if rank.kendall is None else f", Kendall {rank.kendall:.2f}"
    return (
        f"Its leaderboard follows the human one {closeness} over {rank.models} shared models "
        f"(Spearman {rank.spearman:.2f}{kendall})."
    )


def _rates(row: AgreementRow, *, short: bool = False) -> str:
    """'41% of 8,931 vote pairs (66% of 5,358 without ties)'; short: '41% (66% without ties)'."""
    ties, no_ties = row.with_ties, row.without_ties
    first = _pct(ties) if short else f"{_pct(ties)} of {_n(ties.total, 'vote pair')}"
    if not no_ties.total:
        return f"{first} (no vote pair without a tie)"
    second = _pct(no_ties) if short else f"{_pct(no_ties)} of {no_ties.total:,}"
    return f"{first} ({second} without ties)"


def _pct(count: Count) -> str:
    return "n/a" if count.rate is None else f"{count.rate:.0%}"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
