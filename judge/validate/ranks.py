"""How far two leaderboards of the same models agree: rank correlation, separability, calibration.

Inputs are leaderboard tables (model, rating, ci_lower, ci_upper) made by the same rating engine, so the two
sides differ only in who voted. Everything is computed over the models both boards rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from judge.battles import TIES


@dataclass(frozen=True)
class RankAgreement:
    """Leaderboard-level agreement between the human and the judge side."""

    models: int  # models rated by both sides; every measure below is over these
    spearman: float | None
    kendall: float | None
    separability_human: float | None  # share of model pairs whose confidence intervals do not overlap
    separability_judge: float | None
    agreement_with_ci: float | None  # Arena-Hard: +1 / -1 / 0 over the pairs the human side separates
    brier: float | None  # judge's predicted win probability vs decisive human votes; ties left out
    brier_votes: int
    notes: dict[str, str] = field(default_factory=dict)  # measure -> why it is None

    def to_json(self) -> dict[str, float | int | None | dict[str, str]]:
        return {
            "models": self.models,
            "spearman": self.spearman,
            "kendall": self.kendall,
            "separability_human": self.separability_human,
            "separability_judge": self.separability_judge,
            "agreement_with_ci": self.agreement_with_ci,
            "brier": self.brier,
            "brier_votes": self.brier_votes,
            "notes": dict(self.notes),
        }


# A rank correlation over two models is +1 or -1 whatever the ratings: it needs three to say anything.
MIN_MODELS_FOR_CORRELATION: Final = 3


class Correlations(NamedTuple):
    spearman: float | None
    kendall: float | None
    note: str  # why they are None, else ""


def rank_correlations(
    x: npt.ArrayLike, y: npt.ArrayLike, sides: tuple[str, str] = ("human", "judge")
) -> Correlations:
    """Spearman and Kendall (tau-b) of two rating columns, or None with the reason: fewer than three models, a
    missing rating, or a side that rates every model alike (scipy would warn and return NaN)."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if len(a) < MIN_MODELS_FOR_CORRELATION:
        return Correlations(
            None,
            None,
            f"not defined: {len(a)} shared model{'' if len(a) == 1 else 's'}, fewer than "
            f"{MIN_MODELS_FOR_CORRELATION}",
        )
    if np.isnan(a).any() or np.isnan(b).any():
        return Correlations(None, None, "not defined: a model has no rating")
    for side, values in zip(sides, (a, b), strict=True):
        if np.ptp(values) == 0:
            return Correlations(None, None, f"not defined: the {side} board rates every model alike")
    return Correlations(
        _finite(stats.spearmanr(a, b).statistic), _finite(stats.kendalltau(a, b).statistic), ""
    )


def rank_agreement(human_board: pd.DataFrame, judge_board: pd.DataFrame) -> RankAgreement:
    """Correlation and CI-based agreement of two leaderboards; Brier is left empty (see brier_score)."""
    both = human_board.merge(judge_board, on="model", suffixes=("_h", "_j"))
    n = len(both)
    notes: dict[str, str] = {}
    found = rank_correlations(both["rating_h"], both["rating_j"])
    if found.note:
        notes["spearman"] = notes["kendall"] = found.note
    side_h = _separations(both, "_h")
    side_j = _separations(both, "_j")
    for name, side in (("separability_human", side_h), ("separability_judge", side_j)):
        if side is None:
            notes[name] = "not defined: no confidence intervals (--bootstrap 0)"
        elif not side:
            notes[name] = "not defined: fewer than 2 shared models"
    sep_h = _share_separated(side_h)
    sep_j = _share_separated(side_j)
    with_ci = None
    if side_h is not None and side_j is not None:
        scored = [h * j for h, j in zip(side_h, side_j, strict=True) if h != 0]
        with_ci = sum(scored) / len(scored) if scored else None
        if not scored:
            notes["agreement_with_ci"] = "not defined: the human board separates no pair of models"
    else:
        notes["agreement_with_ci"] = "not defined: no confidence intervals (--bootstrap 0)"
    return RankAgreement(n, found.spearman, found.kendall, sep_h, sep_j, with_ci, None, 0, notes)


def brier_score(
    ratings: pd.Series, votes: pd.DataFrame, *, scale: float = 400.0, base: float = 10.0
) -> tuple[float | None, int]:
    """Mean squared error of P(model_a wins) from BT ratings on decisive votes between rated models.

    Ties are left out rather than scored as 0.5: a BT rating predicts who wins, not whether voters call a tie,
    so scoring ties would reward forecasts near 0.5 however well the order is known.
    """
    rated = votes["model_a"].isin(ratings.index) & votes["model_b"].isin(ratings.index)
    decisive = votes["winner"].notna() & ~votes["winner"].isin(TIES)
    used = votes[(rated & decisive).to_numpy(dtype=bool)]
    if used.empty:
        return None, 0
    r_a = ratings.reindex(used["model_a"].astype(str)).to_numpy(dtype=float)
    r_b = ratings.reindex(used["model_b"].astype(str)).to_numpy(dtype=float)
    p_a = 1.0 / (1.0 + np.power(base, (r_b - r_a) / scale))
    outcome = (used["winner"] == "model_a").to_numpy(dtype=float)
    return float(np.mean((p_a - outcome) ** 2)), len(used)


def _share_separated(separations: list[int] | None) -> float | None:
    if not separations:
        return None
    return sum(s != 0 for s in separations) / len(separations)


def _separations(board: pd.DataFrame, suffix: str) -> list[int] | None:
    """For each model pair: +1 if the first's CI lies wholly above the second's, -1 if below, 0 on overlap.

    None when the board has no confidence intervals (rated with ci="none").
    """
    lower = board[f"ci_lower{suffix}"].to_numpy(dtype=float, na_value=np.nan)
    upper = board[f"ci_upper{suffix}"].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(lower).any() or np.isnan(upper).any():
        return None
    out = []
    for i, k in combinations(range(len(board)), 2):
        if lower[i] > upper[k]:
            out.append(1)
        elif upper[i] < lower[k]:
            out.append(-1)
        else:
            out.append(0)
    return out


def _finite(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
