"""Swiss rounds: after every round the ratings are refitted and contestants of close rating meet next.

Close ratings are where a judgment tells most about the order (a win probability near 1/2), and meeting
different neighbours round after round ties the ranking together. Pure: no I/O, randomness from the seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.optimize import linear_sum_assignment

from judge.pairings.base import ScheduleState
from judge.pairings.pairs import Pair
from judge.pairings.state import (
    Tally,
    fresh_questions,
    name_code,
    positive_int,
    rating_or,
    tally,
    with_positions,
)

SCALE: Final = 100.0  # Elo: a gap of this size costs as much as one earlier meeting (per question)
_FORBIDDEN: Final = 1e12  # cost standing for "cannot meet" (no question left); such pairings are dropped


@dataclass(frozen=True)
class Swiss:
    """`rounds` rounds (default 2 ceil(log2 n)); each pairing meets on `questions_per_pairing` new questions.

    The rounds already played are read from the state (pairs scheduled among the contestants divided by the
    pairs per round), so a resumed run continues where it stopped.
    """

    rounds: int | None = None
    questions_per_pairing: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        positive_int("swiss", "rounds", self.rounds, allow_none=True)
        positive_int("swiss", "questions_per_pairing", self.questions_per_pairing)

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        names = list(state.contestants)
        n = len(names)
        if n < 2 or not state.questions:
            return []
        counts = tally(state)
        limit = self.rounds if self.rounds is not None else 2 * math.ceil(math.log2(n))
        among = sum(len(q) for (a, b), q in counts.played.items() if a in names and b in names)
        if math.ceil(among / ((n // 2) * self.questions_per_pairing)) >= limit:
            return []
        known = [state.ratings[c] for c in names if c in state.ratings]
        middle = sorted(known)[len(known) // 2] if known else 0.0
        # Best first; equal ratings (the first round) fall into a seeded random order.
        ranked = sorted(names, key=lambda c: (-rating_or(state, c, middle), name_code(f"{self.seed}\0{c}")))
        ratings = {c: rating_or(state, c, middle) for c in ranked}
        picks = []
        for a, b in match(ranked, ratings, counts, len(state.questions), self.questions_per_pairing):
            played = counts.played.get((min(a, b), max(a, b)), frozenset())
            for question in fresh_questions(
                state.questions, played, self.questions_per_pairing, self.seed, a, b
            ):
                picks.append((question, a, b))
        return with_positions(picks, counts.lead)


def match(
    ranked: list[str], ratings: Mapping[str, float], counts: Tally, n_questions: int, per_pairing: int
) -> list[tuple[str, str]]:
    """Pairings of low total cost; with an odd count the contestant who played most sits out (a bye).

    Cost of a pairing: (rating gap / SCALE)^2 plus the questions the two already met, in units of
    `per_pairing`, so partners rotate among the near-rated; a pair with no question left cannot meet.
    """
    names = list(ranked)
    if len(names) % 2:
        most = max(names, key=lambda c: (counts.pairs_of.get(c, 0), -names.index(c)))
        names.remove(most)
    n = len(names)
    cost = np.full((n, n), _FORBIDDEN)
    for i, a in enumerate(names):
        for j in range(i + 1, n):
            b = names[j]
            left = counts.questions_left(a, b, n_questions)
            if left > 0:
                gap = (ratings[a] - ratings[b]) / SCALE
                cost[i, j] = cost[j, i] = gap * gap + (n_questions - left) / per_pairing
    chosen = _matching(cost, list(range(n)))
    return [(names[i], names[j]) for i, j in chosen if cost[i, j] < _FORBIDDEN]


def _matching(cost: np.ndarray, nodes: list[int]) -> list[tuple[int, int]]:
    """A perfect matching of `nodes` (even count) from the optimal assignment of the symmetric cost matrix.

    The assignment is a permutation; each of its even cycles splits into two matchings and the cheaper one
    is taken, which makes the result optimal when all cycles are even (a perfect matching M gives an
    assignment of cost 2 c(M)). An odd cycle leaves out the one member whose removal is cheapest; those left
    out are matched the same way, recursively.
    """
    if len(nodes) < 2:
        return []
    sub = cost[np.ix_(nodes, nodes)]
    rows, cols = linear_sum_assignment(sub)
    successor = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    seen: set[int] = set()
    out: list[tuple[int, int]] = []
    left_out: list[int] = []
    for start in range(len(nodes)):
        if start in seen:
            continue
        cycle = [start]
        seen.add(start)
        while successor[cycle[-1]] != start:
            cycle.append(successor[cycle[-1]])
            seen.add(cycle[-1])
        k = len(cycle)
        options = []
        for skip in range(k) if k % 2 else (0, 1):
            path = cycle[skip + 1 :] + cycle[:skip] if k % 2 else cycle[skip:] + cycle[:skip]
            edges = [(path[m], path[m + 1]) for m in range(0, len(path) - 1, 2)]
            options.append((sum(sub[a, b] for a, b in edges), edges, cycle[skip] if k % 2 else None))
        _, edges, skipped = min(options, key=lambda o: o[0])
        out.extend((nodes[a], nodes[b]) for a, b in edges)
        if skipped is not None:
            left_out.append(nodes[skipped])
    if len(left_out) == len(nodes):  # nobody could be paired (every pairing forbidden)
        return out
    return out + _matching(cost, left_out)
