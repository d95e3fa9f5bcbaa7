"""How sure the validation figures are: bootstrap intervals over items, and Cohen's kappa beside agreement.

Vote pairs on one item (question, model pair, turn) share the item, so the agreement rates are resampled by
item, not by vote pair: each round draws items with replacement and recounts. Cohen's kappa corrects the
agreement for chance: with 3 outcomes (first model, tie, second model) two voters who vote at random with
their own marginal shares agree p_e = sum_k p_x(k) p_y(k) of the time, and kappa = (p_o - p_e) / (1 - p_e).
The rank correlations are resampled by question, the same draw for both sides (a paired bootstrap, as
judge compare does), refitting both leaderboards each round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from judge.items import ITEM
from judge.ratings.bootstrap import weighted_refits
from judge.validate.ranks import rank_correlations

_OUTCOMES: Final = (-1, 0, 1)
QUESTION: Final = ("question_id",)


@dataclass(frozen=True)
class Interval:
    """A figure and its bootstrap percentile interval; `note` says why a figure or interval is missing.

    Whenever both ends are given, lower <= value <= upper (see _interval)."""

    value: float | None
    lower: float | None
    upper: float | None
    note: str = ""

    def to_json(self) -> dict[str, float | str | None]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "note": self.note}


# More bootstrap rounds than this share without a defined figure and no interval is given: the rounds left
# would describe only the resamples where the figure happens to exist.
MAX_UNDEFINED_SHARE: Final = 0.05
NO_BOOTSTRAP: Final = "no interval: no bootstrap rounds (--bootstrap 0)"


def _tables(
    pairs: pd.DataFrame, keys: pd.DataFrame | None = None, unit: Sequence[str] = ITEM
) -> tuple[npt.NDArray[np.float64], int]:
    """Per unit (item or question), the 3 x 3 table of (x, y) outcomes of its vote pairs: units x 9.

    keys: the units (`unit` columns) that index the rows, so two pair frames can share one order; by default
    the units of `pairs` in order of appearance."""
    on = list(unit)
    if keys is None:
        keys = pairs[on].drop_duplicates()
    keys = keys[on].drop_duplicates().reset_index(drop=True).assign(_item=lambda f: np.arange(len(f)))
    item = pairs[on].merge(keys, on=on, how="left")["_item"].to_numpy()
    x = np.searchsorted(_OUTCOMES, pairs["outcome_x"].to_numpy(dtype=np.int64))
    y = np.searchsorted(_OUTCOMES, pairs["outcome_y"].to_numpy(dtype=np.int64))
    n_items = len(keys)
    table = np.zeros((n_items, 9))
    np.add.at(table, (item.astype(np.int64), 3 * x + y), 1.0)
    return table, n_items


def _figures(tables: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Agreement with ties, without ties and kappa from summed 3 x 3 tables (rows: rounds); NaN where a
    figure is not defined (no pairs, no decisive pairs, a rater who always gives the same outcome)."""
    t = tables.reshape(-1, 3, 3)
    total = t.sum(axis=(1, 2))
    agree = np.trace(t, axis1=1, axis2=2)
    decisive = t[:, 0, 0] + t[:, 0, 2] + t[:, 2, 0] + t[:, 2, 2]
    rows, cols = t.sum(axis=2), t.sum(axis=1)
    # kappa is 0 by construction when either rater always gives one outcome (p_e = p_o): not a measurement
    one_outcome = ((rows > 0).sum(axis=1) < 2) | ((cols > 0).sum(axis=1) < 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = agree / total
        chance = (rows * cols).sum(axis=1) / total**2
        kappa = np.where(one_outcome, np.nan, (observed - chance) / (1.0 - chance))
        return {
            "with_ties": observed,
            "without_ties": (t[:, 0, 0] + t[:, 2, 2]) / decisive,
            "kappa": kappa,
        }


def _interval(point: float | None, values: npt.NDArray[np.float64], level: float, why: str = "") -> Interval:
    """The percentile interval of the finite bootstrap values around a point.

    No interval when the point is undefined, or when the figure is undefined in more than
    MAX_UNDEFINED_SHARE of the rounds. A percentile interval can miss its own point on small, lopsided
    samples (the resampled figure is discrete, or undefined in the rounds that would straddle it); it is then
    widened to reach the point, so a table never shows a figure outside its own interval."""
    if point is None or not np.isfinite(point):
        return Interval(None, None, None, why or "not defined")
    finite = values[np.isfinite(values)]
    if len(values) == 0:
        return Interval(float(point), None, None, NO_BOOTSTRAP)
    undefined = 1.0 - len(finite) / len(values)
    if undefined > MAX_UNDEFINED_SHARE:
        return Interval(
            float(point),
            None,
            None,
            f"no interval: the figure is not defined in {undefined:.0%} of the rounds",
        )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(point), float(min(low, point)), float(max(high, point)))


_UNDEFINED: Final = {
    "with_ties": "not defined: no vote pairs",
    "without_ties": "not defined: no vote pair without a tie",
}


def _kappa_note(tables: npt.NDArray[np.float64], names: tuple[str, str]) -> str:
    t = tables.sum(axis=0).reshape(3, 3)
    if t.sum() == 0:
        return "not defined: no vote pairs"
    for side, margin in zip(names, (t.sum(axis=1), t.sum(axis=0)), strict=True):
        if (margin > 0).sum() < 2:
            (outcome,) = np.flatnonzero(margin > 0)
            said = {0: "picks the second model", 1: "is a tie", 2: "picks the first model"}[int(outcome)]
            return f"not defined: every {side} vote {said}, which makes kappa 0 by construction"
    return "not defined"


def agreement_intervals(
    pairs: pd.DataFrame,
    *,
    rounds: int,
    rng: np.random.Generator,
    level: float = 0.95,
    names: tuple[str, str] = ("judge", "human"),
) -> dict[str, Interval]:
    """with_ties, without_ties and kappa of the compared vote pairs, each with an interval over items.

    names: who cast the x and the y votes, for the note on an undefined kappa."""
    tables, n_items = _tables(pairs)
    point = {k: _finite(v[0]) for k, v in _figures(tables.sum(axis=0, keepdims=True)).items()}
    why = {**_UNDEFINED, "kappa": _kappa_note(tables, names)}
    if rounds < 1 or n_items == 0:
        return {k: _interval(v, np.empty(0), level, why[k]) for k, v in point.items()}
    weights = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=rounds).astype(np.float64)
    boot = _figures(weights @ tables)
    return {k: _interval(point[k], boot[k], level, why[k]) for k in point}


def difference_intervals(
    judge_pairs: pd.DataFrame,
    human_pairs: pd.DataFrame,
    *,
    rounds: int,
    rng: np.random.Generator,
    level: float = 0.95,
    unit: Sequence[str] = QUESTION,
) -> dict[str, Interval]:
    """Judge-human minus human-human agreement (with and without ties) on the same items, with a paired
    bootstrap: each round draws questions (or `unit`) once and recounts both sides on their items. Questions,
    not items, because a question's items share its difficulty (benchmarks/validate_baseline.py)."""
    keys = pd.concat([judge_pairs[list(unit)], human_pairs[list(unit)]]).drop_duplicates()
    judge_tables, n_items = _tables(judge_pairs, keys, unit)
    human_tables, _ = _tables(human_pairs, keys, unit)

    def diff(j: npt.NDArray[np.float64], h: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
        fj, fh = _figures(j), _figures(h)
        return {k: fj[k] - fh[k] for k in ("with_ties", "without_ties")}

    point = {
        k: _finite(v[0])
        for k, v in diff(judge_tables.sum(0, keepdims=True), human_tables.sum(0, keepdims=True)).items()
    }
    why = {
        "with_ties": "not defined: no items with both a judge vote and two human votes",
        "without_ties": "not defined: no vote pair without a tie on one side",
    }
    if rounds < 1 or n_items == 0:
        return {k: _interval(v, np.empty(0), level, why[k]) for k, v in point.items()}
    weights = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=rounds).astype(np.float64)
    boot = diff(weights @ judge_tables, weights @ human_tables)
    return {k: _interval(point[k], boot[k], level, why[k]) for k in point}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def rank_intervals(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    *,
    spearman: float | None,
    kendall: float | None,
    rounds: int,
    rng: np.random.Generator,
    level: float = 0.95,
    why: str = "not defined",
) -> dict[str, Interval]:
    """Spearman and Kendall between the two leaderboards, with a paired bootstrap over questions.

    why: the reason the full-data correlations are missing (RankAgreement.notes), for their notes."""
    if rounds < 1 or spearman is None:
        return {
            "spearman": _interval(spearman, np.empty(0), level, why),
            "kendall": _interval(kendall, np.empty(0), level, why),
        }
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
        found = rank_correlations(h[r], j[r])  # NaN in a round where a board is constant or a model unrated
        rho[r] = np.nan if found.spearman is None else found.spearman
        tau[r] = np.nan if found.kendall is None else found.kendall
    return {"spearman": _interval(spearman, rho, level, why), "kendall": _interval(kendall, tau, level, why)}
