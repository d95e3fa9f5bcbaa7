"""Placing a new contestant in a finished tournament by binary search over the current ranking.

A full round against everyone costs n - 1 pairings per question; a binary search meets about log2(n + 1)
opponents, each on `questions_per_step` questions, and the fit then rates the newcomer from those battles.
The search keeps no memory of its own: the interval is rebuilt from the battles at every step. Opponents the
newcomer scored at least 1/2 against (ties as half) lie below it, the others above; the next opponent is the
middle of the established ranking strictly between the lowest "above" and the highest "below". Every opponent
met lies outside that interval, so the search needs no record of the order in which it met them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from judge.pairings.base import Schedule, ScheduleState
from judge.pairings.pairs import Pair
from judge.pairings.state import fresh_questions, positive_int, tally, with_positions


@dataclass(frozen=True)
class Placement:
    """Binary-search placement of new contestants; the inner schedule runs when nobody is new.

    New: a contestant with fewer pairs than twice the most a placement can take while the median of the
    others has more than twice that (in a fresh tournament nobody is new and the inner schedule runs).
    Once every newcomer is placed the schedule is done: a full round for them would undo the saving.
    """

    inner: Schedule
    questions_per_step: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        positive_int("placement", "questions_per_step", self.questions_per_step)

    def newcomers(self, state: ScheduleState) -> list[str]:
        pairs_of = tally(state).pairs_of
        counts = sorted(pairs_of.get(c, 0) for c in state.contestants)
        threshold = 2 * self.questions_per_step * (math.ceil(math.log2(len(counts) + 1)) + 1)
        new = [c for c in state.contestants if pairs_of.get(c, 0) < threshold]
        old = sorted(pairs_of.get(c, 0) for c in state.contestants if c not in new)
        if not new or not old or old[len(old) // 2] <= 2 * threshold:
            return []
        return new

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        new = self.newcomers(state)
        if not new:
            return self.inner.next_batch(state)
        counts = tally(state)
        established = sorted(
            (c for c in state.contestants if c not in new), key=lambda c: (-state.ratings.get(c, 0.0), c)
        )
        picks = []
        for name in new:
            opponent = next_opponent(name, established, state)
            if opponent is None:
                continue
            key = (min(name, opponent), max(name, opponent))
            played = counts.played.get(key, frozenset())
            for question in fresh_questions(
                state.questions, played, self.questions_per_step, self.seed, *key
            ):
                picks.append((question, *key))
        return with_positions(picks, counts.lead)


def next_opponent(name: str, ranked: list[str], state: ScheduleState) -> str | None:
    """The middle of the open interval of `ranked` (best first) where `name` may still belong, or None."""
    score: dict[str, list[float]] = {}
    for b in state.battles:
        if name not in (b.model_a, b.model_b):
            continue
        other = b.model_b if b.model_a == name else b.model_a
        won = b.winner == ("model_a" if b.model_a == name else "model_b")
        lost = b.winner == ("model_b" if b.model_a == name else "model_a")
        score.setdefault(other, []).append(1.0 if won else 0.0 if lost else 0.5)
    low, high = 0, len(ranked)  # `name` belongs at a place in [low, high]
    for position, other in enumerate(ranked):
        results = score.get(other)
        if not results:
            continue
        if sum(results) / len(results) >= 0.5:
            high = min(high, position)
        else:
            low = max(low, position + 1)
    if low >= high:
        return None
    return ranked[(low + high - 1) // 2]
