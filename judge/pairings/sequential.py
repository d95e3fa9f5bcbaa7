"""Head-to-head with sequential stopping: is the candidate worse than the baseline (production)?

The unit is the question. Each battle scores 1 if the candidate wins, 1/2 for a tie, 0 if it loses, and a
question scores x = the mean over its battles (its turns, and both orders when they are logged as separate
games); mu = E[x] is the candidate's win rate with ties as half. Turns of one question share the question's
difficulty and the answers' context, so their verdicts are correlated: counting them as independent battles
makes the interval too narrow (6-15% false decisions at alpha 0.05 with correlated turns). Questions are
drawn independently, so their scores are independent draws in [0, 1]. After every batch the schedule looks
at a confidence sequence for mu, an interval that holds at all sample sizes at once, so stopping at the first
look that settles the question keeps the error rate at alpha however often one looks (unlike re-running a
fixed-n test after every batch).

The interval is the normal-mixture boundary of Robbins (1970): with t questions, mean m_t and scale s,

    mu in  m_t +- s * sqrt( 2 (t r^2 + 1) / (t^2 r^2) * log( sqrt(t r^2 + 1) / alpha ) )

and r^2 = (-2 log alpha + log(1 - 2 log alpha)) / horizon, which makes it narrowest near `horizon` questions.
With s = 1/2 (exact=True, the default) it is exactly valid for any [0, 1]-bounded scores, since they are
1/2-sub-Gaussian (Howard, Ramdas, McAuliffe and Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic
confidence sequences"). exact=False uses the running standard deviation, shrunk toward 1/2 as (1/4 + sum
(x - m)^2) / (t + 1): the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas
(2024, "Time-uniform central limit theory and asymptotic confidence sequences", Annals of Statistics). It is
narrower but only valid as t grows: at small win rates its displayed interval missed the true rate in 7-13%
of runs, so it is no longer the default (benchmarks/coverage.py).

Decisions with margin g >= 0: worse if the upper end is below 1/2 - g, better if the lower end is above
1/2 + g, no-difference if the whole interval lies within (1/2 - g, 1/2 + g) (only possible for g > 0),
undecided while none holds (also when the questions or the budget run out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from judge.battles import Battle
from judge.errors import InputError
from judge.pairings.base import ScheduleState
from judge.pairings.pairs import Pair
from judge.pairings.state import fresh_questions, positive_int, tally, with_positions

Decision = Literal["worse", "better", "no-difference", "undecided"]
DECISIONS: Final = ("worse", "better", "no-difference", "undecided")


@dataclass(frozen=True)
class Interval:
    """Where the candidate's win rate (ties as half) lies, at confidence 1 - alpha uniformly over time.

    `battles` counts the units scored: questions, for HeadToHead."""

    battles: int
    mean: float
    low: float
    high: float


def confidence_sequence(
    scores: Iterable[float], *, alpha: float, horizon: float, exact: bool = False
) -> Interval:
    """The normal-mixture confidence sequence (module docstring) for the mean of [0, 1] scores."""
    xs = list(scores)
    t = len(xs)
    if t == 0:
        return Interval(0, math.nan, 0.0, 1.0)
    mean = sum(xs) / t
    var = 0.25 if exact else (0.25 + sum((x - mean) ** 2 for x in xs)) / (t + 1)
    r2 = (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / horizon
    half = math.sqrt(var * 2 * (t * r2 + 1) / (t * t * r2) * math.log(math.sqrt(t * r2 + 1) / alpha))
    return Interval(t, mean, max(0.0, mean - half), min(1.0, mean + half))


@dataclass(frozen=True)
class HeadToHeadResult:
    """The decision and what it cost: pairs scheduled (times the loop's calls per pair = judge calls)."""

    decision: Decision
    interval: Interval
    pairs_scheduled: int


@dataclass(frozen=True)
class HeadToHead:
    """`candidate` against `baseline`, `batch` questions per look, until the decision is settled."""

    candidate: str
    baseline: str
    alpha: float = 0.05
    margin: float = 0.0
    batch: int = 10
    horizon: int = 200  # questions
    max_questions: int | None = None
    exact: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.candidate, str) or not isinstance(self.baseline, str):
            raise InputError("schedule head-to-head: candidate and baseline must be contestant names")
        if self.candidate == self.baseline:
            raise InputError(f"schedule head-to-head: candidate and baseline are both {self.candidate!r}")
        for option, value, low, high in (("alpha", self.alpha, 0.0, 1.0), ("margin", self.margin, -1.0, 0.5)):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (number and low < value < high) or (option == "margin" and value < 0):
                raise InputError(f"schedule head-to-head: {option} out of range: {value!r}")
        positive_int("head-to-head", "batch", self.batch)
        positive_int("head-to-head", "horizon", self.horizon)
        positive_int("head-to-head", "max_questions", self.max_questions, allow_none=True)
        if not isinstance(self.exact, bool):
            raise InputError(f"schedule head-to-head: exact must be true or false, not {self.exact!r}")

    def scores(self, battles: Iterable[Battle]) -> list[float]:
        """The candidate's score on each question against the baseline (the mean over the question's turns
        and games), in the order questions first appear in the log."""
        per_question: dict[str, list[float]] = {}
        for b in battles:
            if {b.model_a, b.model_b} != {self.candidate, self.baseline}:
                continue
            if b.winner in ("model_a", "model_b"):
                winner = b.model_a if b.winner == "model_a" else b.model_b
                score = 1.0 if winner == self.candidate else 0.0
            else:
                score = 0.5
            per_question.setdefault(b.question_id, []).append(score)
        return [sum(xs) / len(xs) for xs in per_question.values()]

    def result(self, state: ScheduleState) -> HeadToHeadResult:
        interval = confidence_sequence(
            self.scores(state.battles), alpha=self.alpha, horizon=self.horizon, exact=self.exact
        )
        g = self.margin
        decision: Decision = "undecided"
        if interval.high < 0.5 - g:
            decision = "worse"
        elif interval.low > 0.5 + g:
            decision = "better"
        elif g > 0 and interval.low > 0.5 - g and interval.high < 0.5 + g:
            decision = "no-difference"
        scheduled = sum(
            1 for p in state.scheduled if {p.model_a, p.model_b} == {self.candidate, self.baseline}
        )
        return HeadToHeadResult(decision, interval, scheduled)

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        for name in (self.candidate, self.baseline):
            if name not in state.contestants:
                raise InputError(
                    f"schedule head-to-head: {name!r} is not a contestant",
                    hint=f"contestants: {', '.join(sorted(state.contestants))}",
                )
        result = self.result(state)
        if result.decision != "undecided":
            return []
        counts = tally(state)
        key = (min(self.candidate, self.baseline), max(self.candidate, self.baseline))
        played = counts.played.get(key, frozenset())
        room = len(state.questions) if self.max_questions is None else self.max_questions
        k = min(self.batch, room - len(played))
        questions = fresh_questions(state.questions, played, k, self.seed, *key)
        return with_positions(((q, *key) for q in questions), counts.lead)
