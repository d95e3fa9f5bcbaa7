"""Pairings: which two contestants meet on which question. Pure: no I/O, no clock, randomness from a seed.

A schedule is asked for the next batch of pairs given the state so far, round by round, and returns [] when it
is done. One-shot kinds (round-robin, baseline) hand out their whole plan in the first batch; adaptive kinds
(Swiss, sequential head-to-head) can later read the battles and ratings in the state and plug into SCHEDULES.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import numpy as np

from judge.battles import Battle
from judge.errors import InputError
from judge.pairings.pairs import Pair, PairPlan, PairSet, make_pair


@dataclass(frozen=True)
class ScheduleState:
    """What a schedule may look at. `scheduled` holds every pair handed out before, judged or failed alike."""

    contestants: tuple[str, ...]
    questions: tuple[str, ...]  # question ids, in question-set order
    scheduled: PairSet = field(default_factory=PairSet)  # any set of pairs given is made a PairSet
    battles: Sequence[Battle] = ()  # verdicts so far, for adaptive kinds (a compact BattleTable in a run)
    ratings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.scheduled, PairSet):
            object.__setattr__(self, "scheduled", PairSet() | self.scheduled)
        for what, names in (("contestant", self.contestants), ("question id", self.questions)):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise InputError(f"duplicate {what} {name!r} in the tournament")
                seen.add(name)


class Schedule(Protocol):
    """A pairing strategy; next_batch returns [] when there is nothing more to judge."""

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]: ...


def _sample_questions(questions: tuple[str, ...], k: int | None, seed: int, a: str, b: str) -> list[str]:
    """k questions for the pair (a, b), chosen by a seeded hash rank of each question.

    Each pair's choice depends only on (seed, a, b, question ids): adding a contestant adds pairs but leaves
    the questions of existing pairs as they were, unlike drawing from one shared random stream.
    """
    if k is None or k >= len(questions):
        return list(questions)

    def rank(question_id: str) -> bytes:
        return hashlib.sha256(f"{seed}\0{a}\0{b}\0{question_id}".encode()).digest()

    chosen = set(sorted(questions, key=rank)[:k])
    return [q for q in questions if q in chosen]


def _plan(state: ScheduleState, pairs: Iterable[tuple[str, str]], k: int | None, seed: int) -> PairPlan:
    """Every pair on its questions, ordered by question (set order) then names, minus what was scheduled.

    Built as integer codes (a PairPlan), never a Pair object per item: a big round-robin is 500k pairs."""
    names = sorted(state.contestants)
    code = {name: i for i, name in enumerate(names)}
    position = {q: i for i, q in enumerate(state.questions)}
    every = np.arange(len(state.questions), dtype=np.int32)
    qs, lows, highs = [], [], []
    for one, other in pairs:
        pair = make_pair("", one, other)
        low, high = pair.model_a, pair.model_b
        chosen = (
            every
            if k is None or k >= len(every)
            else np.array([position[q] for q in _sample_questions(state.questions, k, seed, low, high)],
                          dtype=np.int32)
        )  # fmt: skip
        qs.append(chosen)
        lows.append(np.full(len(chosen), code[low], dtype=np.int32))
        highs.append(np.full(len(chosen), code[high], dtype=np.int32))
    if not qs:
        return PairPlan(state.questions, names, *(np.zeros(0, np.int32) for _ in range(3)))
    q, a, b = np.concatenate(qs), np.concatenate(lows), np.concatenate(highs)
    by = np.lexsort((b, a, q))  # names are sorted, so their codes sort as the names do
    return state.scheduled.missing(PairPlan(state.questions, names, q[by], a[by], b[by]))


def _check_k(questions_per_pair: int | None) -> None:
    if questions_per_pair is not None and (isinstance(questions_per_pair, bool) or questions_per_pair < 1):
        raise InputError(f"questions_per_pair must be a positive integer, not {questions_per_pair!r}")


@dataclass(frozen=True)
class RoundRobin:
    """Every unordered pair of contestants, on every question or on `questions_per_pair` seeded samples."""

    questions_per_pair: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _check_k(self.questions_per_pair)

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        names = sorted(state.contestants)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        return _plan(state, pairs, self.questions_per_pair, self.seed)


@dataclass(frozen=True)
class Baseline:
    """Every contestant against one named baseline (Arena-Hard style); contestants never meet each other."""

    baseline: str
    questions_per_pair: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _check_k(self.questions_per_pair)

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        if self.baseline not in state.contestants:
            raise InputError(
                f"baseline {self.baseline!r} is not a contestant",
                hint=f"contestants: {', '.join(sorted(state.contestants))}",
            )
        pairs = [(self.baseline, name) for name in sorted(state.contestants) if name != self.baseline]
        return _plan(state, pairs, self.questions_per_pair, self.seed)
