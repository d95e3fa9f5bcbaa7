"""Agreement between raters who vote on the same items: Cohen's kappa, Krippendorff's alpha, majority share.

Pure. A vote is +1 (the item's first model), -1 (the second) or 0 (tie), so the statistics treat the three
outcomes as nominal categories. Kappa compares two raters on the items both decided; alpha takes every item
that at least two raters decided, with any rater missing anywhere (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability", nominal metric).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from judge.panel import majority_winner

K = TypeVar("K", bound=Hashable)
Votes = Mapping[K, Mapping[str, int]]  # item -> rater -> vote


def cohen_kappa(x: Sequence[int], y: Sequence[int]) -> float | None:
    """(p_o - p_e) / (1 - p_e) over paired votes; None without pairs or when chance agreement is certain."""
    if len(x) != len(y):
        raise ValueError("cohen_kappa needs two equally long vote lists")
    n = len(x)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(x, y, strict=True)) / n
    cx, cy = Counter(x), Counter(y)
    expected = sum(cx[c] * cy[c] for c in cx) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha(votes: Votes[K]) -> float | None:
    """Nominal alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k; None when undefined."""
    coincidence: defaultdict[tuple[int, int], float] = defaultdict(float)
    for cast in votes.values():
        values = list(cast.values())
        m = len(values)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            coincidence[(values[i], values[j])] += 1.0 / (m - 1)
    totals: defaultdict[int, float] = defaultdict(float)
    for (c, _), weight in coincidence.items():
        totals[c] += weight
    n = sum(totals.values())
    disagree = sum(w for (c, k), w in coincidence.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n <= 1 or expected == 0:
        return None
    return 1.0 - (n - 1) * disagree / expected


def pairwise_kappa(votes: Votes[K], raters: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """rater -> rater -> Cohen's kappa over the items both decided (1.0 on the diagonal)."""
    out: dict[str, dict[str, float | None]] = {r: {} for r in raters}
    for a in raters:
        for b in raters:
            if a == b:
                out[a][b] = 1.0
                continue
            both = [(cast[a], cast[b]) for cast in votes.values() if a in cast and b in cast]
            out[a][b] = cohen_kappa([p[0] for p in both], [p[1] for p in both])
    return out


def majority_share(votes: Votes[K], raters: Sequence[str]) -> dict[str, float | None]:
    """How often each rater's vote equals the panel's majority outcome (majority_winner: a split is a tie),
    over the items at least two raters decided."""
    hits = dict.fromkeys(raters, 0)
    seen = dict.fromkeys(raters, 0)
    to_side = {"model_a": 1, "model_b": -1, "tie": 0}
    for cast in votes.values():
        if len(cast) < 2:
            continue
        majority = to_side[majority_winner(list(cast.values()))]
        for rater, vote in cast.items():
            if rater in hits:
                seen[rater] += 1
                hits[rater] += vote == majority
    return {r: (hits[r] / seen[r] if seen[r] else None) for r in raters}
