"""Known judge biases, measured from a battle log: position, length and self-preference.

Each measure says "not available" (value None, with the reason) when the log lacks what it needs, rather than
guessing. Positions come from the battle log's position columns: `verdict_ab` / `verdict_ba` (a judge's
verdict as shown, in each order, written by `judge run`) and `first_shown` (the model shown first in a single
presentation: a vote from `judge vote`, one game of the `score` rule; the Arena and LLMFAO loaders fill it
with model_a / left, which those sites show first). Which model is model_a says nothing about position: our
own logs sort the pair by name. Answer lengths are optional columns `length_a` / `length_b` (characters)
added to the battle frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from judge.items import ITEM, canonical_votes

LENGTH_COLUMNS = ("length_a", "length_b")


@dataclass(frozen=True)
class Measure:
    """One diagnostic: a share in [0, 1] (or a difference of shares), how many votes it rests on, and why."""

    value: float | None
    n: int
    note: str

    def to_json(self) -> dict[str, float | int | str | None]:
        return {"value": self.value, "n": self.n, "note": self.note}


@dataclass(frozen=True)
class Diagnostics:
    """The bias measures of one side of a validation (judge or human)."""

    position_consistency: Measure
    first_position: Measure
    longer_answer: Measure
    self_preference: Measure

    def to_json(self) -> dict[str, dict[str, float | int | str | None]]:
        return {
            "position_consistency": self.position_consistency.to_json(),
            "first_position": self.first_position.to_json(),
            "longer_answer": self.longer_answer.to_json(),
            "self_preference": self.self_preference.to_json(),
        }


def attach_lengths(votes: pd.DataFrame, lengths: pd.DataFrame) -> pd.DataFrame:
    """Add length_a / length_b from a table of (question_id, model, turn, length); a vote without a turn uses
    the turn-1 answer. Votes whose answers are not in the table get no length.
    """
    table = lengths.assign(
        question_id=lengths["question_id"].astype(str),
        model=lengths["model"].astype(str),
        turn=pd.to_numeric(lengths["turn"]).astype("int64"),
    ).drop_duplicates(["question_id", "model", "turn"], keep="last")
    keys = pd.DataFrame(
        {
            "question_id": votes["question_id"].astype(str).to_numpy(),
            "turn": pd.to_numeric(votes["turn"]).fillna(1).astype("int64").to_numpy(),
        }
    )
    out = votes.copy()
    for side in ("a", "b"):
        found = keys.assign(model=votes[f"model_{side}"].astype(str).to_numpy()).merge(
            table, on=["question_id", "model", "turn"], how="left"
        )
        out[f"length_{side}"] = found["length"].to_numpy(dtype=float, na_value=np.nan)
    return out


def diagnose(
    votes: pd.DataFrame, *, human: pd.DataFrame | None = None, self_name: str | None = None
) -> Diagnostics:
    """All four measures for one side; `human` is the baseline for self-preference."""
    return Diagnostics(
        position_consistency=position_consistency(votes),
        first_position=first_position(votes),
        longer_answer=longer_answer(votes),
        self_preference=self_preference(votes, human, self_name),
    )


_SIGN: Final = {"A>>B": 1, "A>B": 1, "A=B": 0, "B>A": -1, "B>>A": -1}
_NO_POSITION: Final = "not available: the log does not record which answer was shown first"


def _as_shown(votes: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    """+1 / 0 / -1 for a verdict as shown (first answer preferred / tie / second), NaN where absent."""
    if column not in votes.columns:
        return np.full(len(votes), np.nan)
    values = votes[column].astype("string").map(_SIGN, na_action="ignore")
    return np.asarray(pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)


def _first_shown(votes: pd.DataFrame) -> npt.NDArray[np.object_]:
    if "first_shown" not in votes.columns:
        return np.full(len(votes), None, dtype=object)
    values: npt.NDArray[np.object_] = (
        votes["first_shown"].astype("string").to_numpy(dtype=object, na_value=None)
    )
    return values


def position_consistency(votes: pd.DataFrame) -> Measure:
    """Share of items judged in both orders by one voter whose two verdicts pick the same model (or both tie).

    Both orders in one row (verdict_ab and verdict_ba), or two single presentations (first_shown) of the same
    item by the same voter with the other model shown first.
    """
    ab, ba = _as_shown(votes, "verdict_ab"), _as_shown(votes, "verdict_ba")
    both = ~np.isnan(ab) & ~np.isnan(ba)
    # verdict_ab names model_a's side; verdict_ba shows model_b first, so its sign flips back.
    same = int((ab[both] == -ba[both]).sum())
    total = int(both.sum())
    shown = _first_shown(votes)
    single = np.array([s is not None for s in shown]) & ~both
    if single.any():
        canon = canonical_votes(votes).assign(voter=lambda f: f["voter"].fillna(""))
        first = canon["first"].to_numpy(dtype=object)
        canon = canon.assign(sorted_first_shown=shown == first)[single]
        pairs = canon.merge(canon, on=[*ITEM, "voter"], suffixes=("_x", "_y"))
        pairs = pairs[pairs["sorted_first_shown_x"] & ~pairs["sorted_first_shown_y"]]
        same += int((pairs["outcome_x"] == pairs["outcome_y"]).sum())
        total += len(pairs)
    if total == 0:
        if not (both.any() or single.any()):
            return Measure(None, 0, _NO_POSITION)
        return Measure(None, 0, "not available: no voter judged an item in both orders")
    return Measure(same / total, total, "same pick when the answers swap places")


def first_position(votes: pd.DataFrame) -> Measure:
    """Share of decisive verdicts that went to the answer shown first (0.5 means no position preference).

    Every order in verdict_ab / verdict_ba counts once; a row without them counts once by first_shown.
    """
    ab, ba = _as_shown(votes, "verdict_ab"), _as_shown(votes, "verdict_ba")
    has_verdicts = ~np.isnan(ab) | ~np.isnan(ba)
    signs = np.concatenate([ab[~np.isnan(ab)], ba[~np.isnan(ba)]])
    shown = _first_shown(votes)
    winner = votes["winner"].astype("string").fillna("").to_numpy(dtype=object)
    a = votes["model_a"].astype("string").to_numpy(dtype=object)
    b = votes["model_b"].astype("string").to_numpy(dtype=object)
    by_shown = np.array([s is not None for s in shown]) & ~has_verdicts
    winning = np.where(winner == "model_a", a, np.where(winner == "model_b", b, None))
    decisive_shown = by_shown & np.isin(winner, ("model_a", "model_b"))
    if not (has_verdicts.any() or by_shown.any()):
        return Measure(None, 0, _NO_POSITION)
    n = int((signs != 0).sum() + decisive_shown.sum())
    if n == 0:
        return Measure(None, 0, "not available: no decisive votes")
    first = int((signs > 0).sum() + (winning[decisive_shown] == shown[decisive_shown]).sum())
    return Measure(first / n, n, "decisive verdicts for the answer shown first")


def longer_answer(votes: pd.DataFrame) -> Measure:
    """Share of decisive votes between answers of different length that went to the longer one."""
    if not all(c in votes.columns for c in LENGTH_COLUMNS):
        return Measure(None, 0, "not available: no answer lengths (--answers)")
    len_a = pd.to_numeric(votes["length_a"]).to_numpy(dtype=float, na_value=np.nan)
    len_b = pd.to_numeric(votes["length_b"]).to_numpy(dtype=float, na_value=np.nan)
    winner = votes["winner"].astype("string").fillna("").to_numpy(dtype=object)
    usable = np.isin(winner, ("model_a", "model_b")) & ~np.isnan(len_a) & ~np.isnan(len_b) & (len_a != len_b)
    n = int(usable.sum())
    if n == 0:
        return Measure(None, 0, "not available: no decisive vote between answers of known, unequal length")
    longer_won = np.where(winner == "model_a", len_a > len_b, len_b > len_a)
    return Measure(float((longer_won & usable).sum()) / n, n, "decisive votes for the longer answer")


def self_preference(votes: pd.DataFrame, human: pd.DataFrame | None, self_name: str | None) -> Measure:
    """How much more often a judge picks its own model than humans do on the same items (share difference).

    A voter is itself a contestant when its `judge` name equals a model name, or, when `self_name` is given,
    every vote counts as cast by that contestant (for judges logged under another name than their model's).
    """
    canon = canonical_votes(votes)
    canon = canon.assign(own=self_name if self_name else canon["voter"].fillna(""))
    mine = canon[
        ((canon["first"] == canon["own"]) | (canon["second"] == canon["own"])) & (canon["outcome"] != 0)
    ]
    if mine.empty:
        return Measure(None, 0, "not available: no voter is also a contestant")
    mine = mine.assign(
        won=np.where(mine["first"] == mine["own"], mine["outcome"] == 1, mine["outcome"] == -1)
    )
    judge_share = float(mine["won"].mean())
    if human is None:
        return Measure(
            None, len(mine), f"not available: no human baseline (judge picks itself {judge_share:.0%})"
        )
    h = canonical_votes(human)
    h = h[h["outcome"] != 0].merge(mine[[*ITEM, "own"]].drop_duplicates(), on=list(ITEM))
    if h.empty:
        return Measure(
            None,
            len(mine),
            f"not available: no decisive human votes on those items (judge picks itself {judge_share:.0%})",
        )
    human_share = float(np.where(h["first"] == h["own"], h["outcome"] == 1, h["outcome"] == -1).mean())
    note = f"judge picks itself in {judge_share:.0%} of decisive votes, humans pick it in {human_share:.0%}"
    return Measure(judge_share - human_share, len(mine), note)
