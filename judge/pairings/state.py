"""What adaptive schedules share: the state-advance step, tallies of the state, and the wrappers every kind
can wear (a budget cap, placement of new contestants). Pure: no I/O, no clock, randomness from seeds.

The tournament loop and benchmarks/schedules.py drive every schedule the same way:

    state = ScheduleState(contestants, questions, scheduled=done_pairs, battles=stored_battles)
    while batch := schedule.next_batch(state):
        battles = <judge each Pair; a failed judgment yields no battle>
        state = advance(state, batch, battles)

A Pair may carry `first` (excluded from equality): the contestant to show first when only one order is
judged, so that positions stay balanced; with both orders judged it does not matter.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from judge.battle_table import BattleTable
from judge.battles import Battle
from judge.errors import InputError
from judge.pairings.base import Schedule, ScheduleState
from judge.pairings.pairs import Pair, PairSet, make_pair
from judge.ratings import BTFit, fit_bt

ELO_FACTOR: Final = 400.0 / math.log(10.0)  # Elo points per natural-log unit of strength
_FRAME_COLUMNS: Final = ("question_id", "model_a", "model_b", "winner")


class FittedRatings(Mapping[str, float]):
    """Ratings so far (Elo, by model) that also keep the fit, battle frame and tally they came from.

    advance() puts these in ScheduleState.ratings so the next step appends only the new battles and pairs
    instead of re-reading the whole state, and adaptive kinds read the fit's Hessian instead of refitting.
    Each is worked out when first read (a one-shot round-robin reads none of them: on a 1M-call run that
    is a fit and a tally of 500k battles saved), from the previous state's when that one was worked out.
    """

    def __init__(
        self,
        battles: Sequence[Battle],
        scheduled: PairSet,
        *,
        contestants: Sequence[str] = (),
        previous: FittedRatings | None = None,
        added: Sequence[Battle] = (),
        new_pairs: Sequence[Pair] = (),
    ) -> None:
        """previous: the ratings of the state this one follows from by `added` and `new_pairs`; whatever
        of it was worked out is extended instead of recounted."""
        self.battles = battles
        self.scheduled = scheduled
        self._contestants = tuple(contestants)
        self._frame: pd.DataFrame | None = (
            None if previous is None or previous._frame is None else _plus_frame(previous._frame, added)
        )
        self._counts: Tally | None = (
            None if previous is None or previous._counts is None else previous._counts.plus(new_pairs)
        )
        self._fitted = False
        self._fit: BTFit | None = None
        self._ratings: Mapping[str, float] = MappingProxyType({})

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = _frame(self.battles)
        return self._frame

    @property
    def counts(self) -> Tally:
        if self._counts is None:
            self._counts = _count(self.scheduled, self._contestants)
        return self._counts

    @property
    def fit(self) -> BTFit | None:
        if not self._fitted:
            frame = self.frame
            self._fit = fit_bt(frame) if len(frame) else None
            self._ratings = MappingProxyType(
                {} if self._fit is None else {str(k): float(v) for k, v in self._fit.ratings.items()}
            )
            self._fitted = True
        return self._fit

    def _by_model(self) -> Mapping[str, float]:
        self.fit  # noqa: B018  (worked out on first read)
        return self._ratings

    def __getitem__(self, model: str) -> float:
        return self._by_model()[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_model())

    def __len__(self) -> int:
        return len(self._by_model())

    def __repr__(self) -> str:
        return f"FittedRatings({dict(self._by_model())!r})"


def _frame(battles: Sequence[Battle]) -> pd.DataFrame:
    if isinstance(battles, BattleTable):  # read from the codes as categoricals, no Battle built
        return pd.DataFrame({c: battles.column(c) for c in _FRAME_COLUMNS})
    return pd.DataFrame(
        {c: pd.array([getattr(b, c) for b in battles], dtype="string") for c in _FRAME_COLUMNS}
    )


def _plus_frame(frame: pd.DataFrame, added: Sequence[Battle]) -> pd.DataFrame:
    return pd.concat([frame, _frame(added)], ignore_index=True) if added else frame


def _appended(battles: Sequence[Battle], added: Sequence[Battle]) -> Sequence[Battle]:
    """The state's battles then the new ones: a BattleTable grows in place (see judge.battle_table)."""
    if isinstance(added, BattleTable) and not battles:  # a first (or only) round: no copy
        return added
    if isinstance(battles, BattleTable):
        return battles.plus(added)
    return (*battles, *added)


def advance(state: ScheduleState, batch: Iterable[Pair], new_battles: Iterable[Battle]) -> ScheduleState:
    """The state after a batch: its pairs scheduled, its battles appended, ratings refitted (fit_bt) when
    a schedule reads them."""
    added = new_battles if isinstance(new_battles, BattleTable) else tuple(new_battles)
    scheduled, new_pairs = state.scheduled.plus(batch)
    battles = _appended(state.battles, added)
    kept = state.ratings
    previous = kept if isinstance(kept, FittedRatings) else None
    if previous is not None and not (
        previous.battles is state.battles and previous.scheduled is state.scheduled
    ):
        previous = None
    ratings = FittedRatings(
        battles,
        scheduled,
        previous=previous,
        added=added,
        new_pairs=new_pairs,
        contestants=state.contestants,
    )
    return replace(state, scheduled=scheduled, battles=battles, ratings=ratings)


def current_fit(state: ScheduleState) -> BTFit | None:
    """The Bradley-Terry fit of the state's battles: the one advance() kept, else a fresh fit_bt."""
    kept = state.ratings
    if isinstance(kept, FittedRatings) and kept.battles is state.battles:
        return kept.fit
    return fit_bt(_frame(state.battles)) if state.battles else None


# --- Tallies of the state ---


@dataclass(frozen=True)
class Tally:
    """Counts read from state.scheduled: questions per unordered pair, pairs and first showings per model."""

    played: Mapping[tuple[str, str], frozenset[str]]
    pairs_of: Mapping[str, int]
    lead: Mapping[str, int]  # times shown first minus times shown second, over pairs that pinned `first`

    def questions_left(self, a: str, b: str, n_questions: int) -> int:
        return n_questions - len(self.played.get(_key(a, b), frozenset()))

    def plus(self, pairs: Iterable[Pair]) -> Tally:
        """The tally with these (not yet counted) pairs added."""
        played: dict[tuple[str, str], set[str]] = {}
        pairs_of, lead = dict(self.pairs_of), dict(self.lead)
        for pair in pairs:
            played.setdefault((pair.model_a, pair.model_b), set()).add(pair.question_id)
            _add(pair, pairs_of, lead)
        merged = dict(self.played)
        for key, questions in played.items():
            merged[key] = merged.get(key, frozenset()) | questions
        return Tally(merged, pairs_of, lead)


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _add(pair: Pair, pairs_of: dict[str, int], lead: dict[str, int]) -> None:
    for name in (pair.model_a, pair.model_b):
        pairs_of[name] = pairs_of.get(name, 0) + 1
    if pair.first is not None:
        second = pair.model_b if pair.first == pair.model_a else pair.model_a
        lead[pair.first] = lead.get(pair.first, 0) + 1
        lead[second] = lead.get(second, 0) - 1


def _count(scheduled: Iterable[Pair], contestants: Iterable[str]) -> Tally:
    return Tally({}, dict.fromkeys(contestants, 0), dict.fromkeys(contestants, 0)).plus(scheduled)


def tally(state: ScheduleState) -> Tally:
    """The state's Tally: the one advance() kept, else counted afresh."""
    kept = state.ratings
    if isinstance(kept, FittedRatings) and kept.scheduled is state.scheduled:
        return kept.counts
    return _count(state.scheduled, state.contestants)


def name_code(name: str) -> int:
    """A stable 64-bit number for a name (seeds per-pair random streams; Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


def fresh_questions(
    questions: Sequence[str], played: frozenset[str], k: int, seed: int, a: str, b: str
) -> list[str]:
    """Up to k questions the pair (a, b) has not met, in a seeded order fixed per pair (stable on resume)."""
    if k <= 0:
        return []
    low, high = sorted((a, b))
    rng = np.random.default_rng([seed, name_code(low), name_code(high)])
    out: list[str] = []
    for index in rng.permutation(len(questions)):
        question = questions[int(index)]
        if question not in played:
            out.append(question)
            if len(out) == k:
                break
    return out


def with_positions(picks: Iterable[tuple[str, str, str]], lead: Mapping[str, int]) -> list[Pair]:
    """Pairs (question, a, b) with `first` set so every contestant is shown first about as often as second."""
    running = dict(lead)
    out = []
    for question, a, b in picks:
        first = a if running.get(a, 0) <= running.get(b, 0) else b
        second = b if first == a else a
        running[first] = running.get(first, 0) + 1
        running[second] = running.get(second, 0) - 1
        out.append(replace(make_pair(question, a, b), first=first))
    return out


def rating_or(state: ScheduleState, name: str, default: float) -> float:
    value = state.ratings.get(name)
    return default if value is None else float(value)


def positive_int(kind: str, option: str, value: Any, *, allow_none: bool = False) -> None:
    """InputError unless value is a positive integer (or None when allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"schedule {kind}: {option} must be a positive integer, not {value!r}")


# --- Budget ---


@dataclass(frozen=True)
class Budget:
    """Caps any schedule at a number of judge calls and/or US dollars for the whole tournament.

    Spent = pairs in state.scheduled (judged or failed) x calls_per_pair, so a resumed run does not get a
    fresh budget. The loop sets calls_per_pair (2 for both orders, 1 for single; times the turns judged) and
    usd_per_call (from judge prices) with with_costs(); a batch is cut at the first pair that would overrun.
    """

    inner: Schedule
    judge_calls: int | None = None
    usd: float | None = None
    calls_per_pair: int = 2
    usd_per_call: float | None = None

    def __post_init__(self) -> None:
        positive_int("budget", "judge_calls", self.judge_calls, allow_none=True)
        if self.usd is not None and (
            isinstance(self.usd, bool) or not isinstance(self.usd, int | float) or not self.usd > 0
        ):
            raise InputError(f"schedule budget: usd must be a positive number, not {self.usd!r}")
        if self.judge_calls is None and self.usd is None:
            raise InputError("schedule budget: give judge_calls and/or usd")
        positive_int("budget", "calls_per_pair", self.calls_per_pair)

    def calls_left(self, state: ScheduleState) -> float:
        spent = len(state.scheduled) * self.calls_per_pair
        left = math.inf if self.judge_calls is None else float(self.judge_calls - spent)
        if self.usd is not None:
            if self.usd_per_call is None:
                raise InputError(
                    "schedule budget: usd needs the judge's prices (set judge.prices or use judge_calls)"
                )
            left = min(left, math.floor(self.usd / self.usd_per_call + 1e-9) - spent)
        return left

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        pairs_left = self.calls_left(state) // self.calls_per_pair
        if pairs_left < 1:
            return []
        batch = self.inner.next_batch(state)
        return batch if len(batch) <= pairs_left else batch[: int(pairs_left)]


def with_costs(schedule: Schedule, *, calls_per_pair: int, usd_per_call: float | None = None) -> Schedule:
    """The schedule with the loop's cost per pair filled in (only a Budget cares)."""
    if isinstance(schedule, Budget):
        return replace(schedule, calls_per_pair=calls_per_pair, usd_per_call=usd_per_call)
    return schedule


def innermost(schedule: Schedule) -> Schedule:
    """The kind under any Budget / Placement wrappers (e.g. a HeadToHead, for its result in the report)."""
    while (inner := getattr(schedule, "inner", None)) is not None:
        schedule = inner
    return schedule
