"""Adaptive batches: judge the pairs that most shrink the uncertainty that matters, read off the current fit.

With theta the fitted log-strengths and H the negative Hessian of the Bradley-Terry fit, C = H^-1 is their
covariance. One more battle of pair (a, b) adds information v = p(1 - p) along u = e_a - e_b, and by the
Sherman-Morrison formula cuts the variance of a difference d = e_i - e_j by v (d'Cu)^2 / (1 + v u'Cu).
A target difference counts with weight phi(delta / s) / s (delta its estimate, s its standard error):
large while its sign is in doubt, small once it is settled. The targets are every pair (focus "all") or
the pairs touching the current top k (focus "top-k"). A batch is filled greedily by marginal gain,
counting repeats of a pair with diminishing returns, and a share `explore` of it is random pairs so that
a wrong early fit can be corrected.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judge.errors import InputError
from judge.pairings.base import ScheduleState
from judge.pairings.pairs import Pair
from judge.pairings.state import Tally, current_fit, fresh_questions, positive_int, tally, with_positions
from judge.ratings import DEFAULT_PRIOR

_FOCUS = re.compile(r"^(all|top-([1-9][0-9]*))$")


@dataclass(frozen=True)
class Adaptive:
    """Batches of `batch_size` pairs where they most shrink the uncertainty of the order (or of its top k)."""

    focus: str = "all"
    explore: float = 0.1
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.focus, str) or not _FOCUS.match(self.focus):
            raise InputError(
                f"schedule adaptive: focus must be 'all' or 'top-K' (e.g. top-3), not {self.focus!r}"
            )
        if (
            isinstance(self.explore, bool)
            or not isinstance(self.explore, int | float)
            or not 0 <= self.explore <= 1
        ):
            raise InputError(
                f"schedule adaptive: explore must be a share between 0 and 1, not {self.explore!r}"
            )
        positive_int("adaptive", "batch_size", self.batch_size)

    @property
    def top(self) -> int | None:
        found = _FOCUS.match(self.focus)
        return None if found is None or found.group(2) is None else int(found.group(2))

    def next_batch(self, state: ScheduleState) -> Sequence[Pair]:
        names = sorted(state.contestants)
        n = len(names)
        counts = tally(state)
        q = len(state.questions)
        a_idx, b_idx = np.triu_indices(n, 1)
        left = np.array(
            [counts.questions_left(names[a], names[b], q) for a, b in zip(a_idx, b_idx, strict=True)]
        )
        open_ = left > 0
        if n < 2 or not open_.any():
            return []
        theta, cov = _posterior(state, names)
        gain = pair_gains(theta, cov, a_idx, b_idx, self.top)
        info = _info(theta[a_idx] - theta[b_idx])
        spread = cov[a_idx, a_idx] + cov[b_idx, b_idx] - 2 * cov[a_idx, b_idx]
        rng = np.random.default_rng([self.seed, len(state.scheduled)])
        n_random = int(round(self.explore * self.batch_size))
        taken = np.zeros(len(a_idx), dtype=np.int64)
        for k in _greedy(gain, info, spread, np.where(open_, left, 0), self.batch_size - n_random, rng):
            taken[k] += 1
        for _ in range(n_random):
            free = np.flatnonzero(left - taken > 0)
            if not len(free):
                break
            taken[rng.choice(free)] += 1
        return _pairs(state, counts, names, a_idx, b_idx, taken, self.seed)


def _info(delta: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-delta))
    return np.asarray(p * (1.0 - p))


def _posterior(state: ScheduleState, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """theta and covariance of the contestants from the current fit; unplayed ones get only the prior."""
    n = len(names)
    theta = np.zeros(n)
    hessian = np.eye(n) * DEFAULT_PRIOR
    fit = current_fit(state)
    if fit is not None:
        where = {m: i for i, m in enumerate(fit.models)}
        rows = [i for i, c in enumerate(names) if c in where]
        cols = [where[names[i]] for i in rows]
        theta[rows] = fit.theta[cols]
        hessian[np.ix_(rows, rows)] = fit.neg_hessian[np.ix_(cols, cols)]
    # Differences are all that matter; the all-ones term pins the free mean without changing them.
    cov = np.linalg.inv(hessian + np.full((n, n), 1.0 / n))
    return theta, cov


def pair_gains(
    theta: np.ndarray, cov: np.ndarray, a_idx: np.ndarray, b_idx: np.ndarray, top: int | None
) -> np.ndarray:
    """For each pair (a_idx[k], b_idx[k]): sum over targets of weight * (d'C u_k)^2 (the Sherman-Morrison
    numerator without v), targets being all pairs or those touching the current top `top`."""
    if top is None:
        ti, tj = a_idx, b_idx
    else:
        best = set(np.argsort(-theta, kind="stable")[:top].tolist())
        keep = np.array([a in best or b in best for a, b in zip(a_idx, b_idx, strict=True)])
        ti, tj = a_idx[keep], b_idx[keep]
    delta = theta[ti] - theta[tj]
    s = np.sqrt(np.maximum(cov[ti, ti] + cov[tj, tj] - 2 * cov[ti, tj], 1e-12))
    weight = np.exp(-0.5 * (delta / s) ** 2) / s
    cu = cov[:, a_idx] - cov[:, b_idx]  # n x pairs: C u_k
    dcu = cu[ti] - cu[tj]  # targets x pairs: d' C u_k
    return np.asarray(weight @ dcu**2)


def _greedy(
    gain: np.ndarray,
    info: np.ndarray,
    spread: np.ndarray,
    cap: np.ndarray,
    size: int,
    rng: np.random.Generator,
) -> list[int]:
    """`size` picks by marginal gain: battle m of a pair adds g (f(m) - f(m-1)), f(m) = m v / (1 + m v c)."""

    def marginal(k: int, m: int) -> float:
        v, c = info[k], spread[k]
        return float(gain[k] * (m * v / (1 + m * v * c) - (m - 1) * v / (1 + (m - 1) * v * c)))

    tiebreak = rng.random(len(gain))
    heap = [(-marginal(k, 1), float(tiebreak[k]), k, 1) for k in np.flatnonzero(cap > 0).tolist()]
    heapq.heapify(heap)
    picks: list[int] = []
    while heap and len(picks) < size:
        _, t, k, m = heapq.heappop(heap)
        picks.append(int(k))
        if m < cap[k]:
            heapq.heappush(heap, (-marginal(k, m + 1), t, k, m + 1))
    return picks


def _pairs(
    state: ScheduleState,
    counts: Tally,
    names: list[str],
    a_idx: np.ndarray,
    b_idx: np.ndarray,
    taken: np.ndarray,
    seed: int,
) -> list[Pair]:
    picks = []
    for k in np.flatnonzero(taken):
        a, b = names[a_idx[k]], names[b_idx[k]]
        played = counts.played.get((a, b), frozenset())
        for question in fresh_questions(state.questions, played, int(taken[k]), seed, a, b):
            picks.append((question, a, b))
    return with_positions(picks, counts.lead)
