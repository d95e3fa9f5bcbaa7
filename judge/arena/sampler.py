"""Which two contestants answer the next prompt: uniformly, or actively where the order is least certain.

The active rule follows the Chatbot Arena paper (Chiang et al., 2024, section 5): a pair is drawn with weight
sqrt(v / (n + 1)) - sqrt(v / (n + 2)), the shrinkage of the pair's standard error one more battle would buy,
where n is the pair's battle count and v the variance of its rating difference. A share of uniform draws
keeps every pair in play while the intervals behind v are still rough.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Final

UNIFORM_SHARE: Final = 0.1
Pair = tuple[str, str]  # sorted


@dataclass(frozen=True)
class PairStats:
    """What the live leaderboard knows about a pair: battles so far and the variance of its difference."""

    battles: int
    variance: float | None  # Elo points squared; None before the pair has an interval


def pairs_of(models: Sequence[str]) -> list[Pair]:
    return [(a, b) if a < b else (b, a) for a, b in combinations(models, 2)]


def pair_weights(models: Sequence[str], sampler: str, stats: Mapping[Pair, PairStats]) -> dict[Pair, float]:
    """Probability of drawing each pair; sums to 1."""
    pairs = pairs_of(models)
    if sampler == "uniform" or not pairs:
        return {p: 1.0 / len(pairs) for p in pairs}
    known = [s.variance for s in stats.values() if s.variance is not None and math.isfinite(s.variance)]
    fallback = max(known) if known else 1.0  # an unmeasured pair counts as the least certain one
    gains = {}
    for pair in pairs:
        seen = stats.get(pair, PairStats(0, None))
        v = seen.variance if seen.variance is not None and math.isfinite(seen.variance) else fallback
        v = max(v, 1e-9)
        gains[pair] = math.sqrt(v / (seen.battles + 1)) - math.sqrt(v / (seen.battles + 2))
    total = sum(gains.values())
    return {p: UNIFORM_SHARE / len(pairs) + (1 - UNIFORM_SHARE) * g / total for p, g in gains.items()}


def draw_pair(
    models: Sequence[str], sampler: str, stats: Mapping[Pair, PairStats], rng: random.Random
) -> Pair:
    weights = pair_weights(models, sampler, stats)
    pairs = list(weights)
    return rng.choices(pairs, weights=[weights[p] for p in pairs], k=1)[0]
