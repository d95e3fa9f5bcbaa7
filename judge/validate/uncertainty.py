"""How sure the validation figures are: bootstrap intervals over items, and Cohen's kappa beside agreement.

Vote pairs on one item (question, model pair, turn) share the item, so the agreement rates are resampled by
item, not by vote pair: each round draws items with replacement and recounts. Cohen's kappa corrects the
agreement for chance: with 3 outcomes (first model, tie, second model) two voters who vote at random with
their own marginal shares agree p_e = sum_k p_x(k) p_y(k) of the time, and kappa = (p_o - p_e) / (1 - p_e).
The rank correlations are resampled by question, the same draw for both sides (a paired bootstrap, as
judge compare does), refitting both leaderboards each round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from judge.items import ITEM
from judge.ratings.bootstrap import weighted_refits

_OUTCOMES: Final = (-1, 0, 1)


@dataclass(frozen=True)
class Interval:
    """A figure and its bootstrap percentile interval (None where it can not be computed)."""

    value: float | None
    lower: float | None
    upper: float | None

    def to_json(self) -> dict[str, float | None]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper}


def _tables(pairs: pd.DataFrame) -> tuple[npt.NDArray[np.float64], int]:
    """Per item, the 3 x 3 table of (x, y) outcomes of its vote pairs, flattened: items x 9."""
    item, _ = pd.factorize(pd.MultiIndex.from_frame(pairs[list(ITEM)]))
    x = np.searchsorted(_OUTCOMES, pairs["outcome_x"].to_numpy(dtype=np.int64))
    y = np.searchsorted(_OUTCOMES, pairs["outcome_y"].to_numpy(dtype=np.int64))
    n_items = int(item.max()) + 1 if len(item) else 0
    table = np.zeros((n_items, 9))
    np.add.at(table, (item, 3 * x + y), 1.0)
    return table, n_items


def _figures(tables: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Agreement with ties, without ties and kappa from summed 3 x 3 tables (rows: rounds)."""
    t = tables.reshape(-1, 3, 3)
    total = t.sum(axis=(1, 2))
    agree = np.trace(t, axis1=1, axis2=2)
    decisive = t[:, 0, 0] + t[:, 0, 2] + t[:, 2, 0] + t[:, 2, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = agree / total
        chance = (t.sum(axis=2) * t.sum(axis=1)).sum(axis=1) / total**2
        return {
            "with_ties": observed,
            "without_ties": (t[:, 0, 0] + t[:, 2, 2]) / decisive,
            "kappa": (observed - chance) / (1.0 - chance),
        }


def _interval(point: float, values: npt.NDArray[np.float64], level: float) -> Interval:
    finite = values[np.isfinite(values)]
    value = point if np.isfinite(point) else None
    if value is None or len(finite) == 0:
        return Interval(value, None, None)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(point), float(low), float(high))


def agreement_intervals(
    pairs: pd.DataFrame, *, rounds: int, rng: np.random.Generator, level: float = 0.95
) -> dict[str, Interval]:
    """with_ties, without_ties and kappa of the compared vote pairs, each with an interval over items."""
    tables, n_items = _tables(pairs)
    point = {k: float(v[0]) for k, v in _figures(tables.sum(axis=0, keepdims=True)).items()}
    if rounds < 1 or n_items == 0:
        return {k: Interval(v if np.isfinite(v) else None, None, None) for k, v in point.items()}
    weights = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=rounds).astype(np.float64)
    boot = _figures(weights @ tables)
    return {k: _interval(point[k], boot[k], level) for k in point}


def rank_intervals(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    *,
    spearman: float | None,
    kendall: float | None,
    rounds: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Spearman and Kendall between the two leaderboards, with a paired bootstrap over questions."""
    empty = {"spearman": Interval(spearman, None, None), "kendall": Interval(kendall, None, None)}
    if rounds < 1 or spearman is None:
        return empty
    ids = [side["question_id"].astype("string").fillna("") for side in (human, judge)]
    questions = sorted(set(ids[0]) | set(ids[1]))
    index = {q: k for k, q in enumerate(questions)}
    n = len(questions)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=rounds).astype(np.float64)
    boards = [
        weighted_refits(side, np.array([index[q] for q in qid], dtype=np.int64), weights)
        for side, qid in zip((human, judge), ids, strict=True)
    ]
    shared = sorted(set(boards[0].columns) & set(boards[1].columns))
    h, j = boards[0][shared].to_numpy(), boards[1][shared].to_numpy()
    rho = np.full(rounds, np.nan)
    tau = np.full(rounds, np.nan)
    for r in range(rounds):
        if np.isnan(h[r]).any() or np.isnan(j[r]).any():
            continue
        rho[r] = stats.spearmanr(h[r], j[r]).statistic
        tau[r] = stats.kendalltau(h[r], j[r]).statistic
    return {
        "spearman": _interval(spearman, rho, level),
        "kendall": _interval(kendall if kendall is not None else float("nan"), tau, level),
    }
