"""Votes keyed by what was judged: (question, unordered model pair, turn).

Matching a judge's votes to human votes on the same items is shared by validation and the prediction-powered
ratings; it lives here, below both, so that neither package imports the other.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from judge.battles import TIES, WINNERS
from judge.errors import InputError

ITEM: Final = ("question_id", "first", "second", "turn_key")
NO_TURN: Final = -1  # the turn key of a vote with no turn


def canonical_votes(frame: pd.DataFrame, *, side: str = "votes") -> pd.DataFrame:
    """Votes keyed by item, with the models in sorted order and the outcome as +1 / -1 / 0 (tie).

    Sorting the pair is what lets two files that list a pair in opposite orders be compared: the winner is
    flipped along with the pair. `side` only names the input in error messages.
    """
    winner = frame["winner"].astype("string")
    known = winner.isin(WINNERS).fillna(False)
    if not bool(known.all()):
        bad = winner[~known]
        expected = ", ".join(WINNERS)
        raise InputError(
            f"{side}: row {int(bad.index[0])} has winner {bad.iloc[0]!r}; expected one of {expected}"
        )
    a = frame["model_a"].astype("string")
    b = frame["model_b"].astype("string")
    missing = (a.isna() | b.isna() | frame["question_id"].isna()).to_numpy(dtype=bool)
    if missing.any():
        row = int(frame.index[missing][0])
        raise InputError(f"{side}: row {row} has no question_id, model_a or model_b")
    a_first = (a <= b).to_numpy(dtype=bool)
    outcome = np.where(winner.to_numpy() == "model_a", 1, np.where(winner.to_numpy() == "model_b", -1, 0))
    outcome = np.where(winner.isin(TIES).to_numpy(dtype=bool), 0, outcome)
    out = pd.DataFrame(
        {
            "question_id": frame["question_id"].astype("string").to_numpy(),
            "first": np.where(a_first, a.to_numpy(), b.to_numpy()),
            "second": np.where(a_first, b.to_numpy(), a.to_numpy()),
            "turn_key": pd.to_numeric(frame["turn"]).fillna(NO_TURN).astype("int64").to_numpy(),
            "outcome": np.where(a_first, outcome, -outcome).astype("int64"),
            "a_first": a_first,
            "voter": _column(frame, "judge"),
            "category": _column(frame, "category"),
            "row": np.arange(len(frame)),
        }
    )
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    values: np.ndarray = frame[name].astype("string").to_numpy(dtype=object, na_value=None)
    return values
