"""The battle log: one table shape shared by human votes and judge verdicts.

Every loader returns a pandas DataFrame with exactly BATTLE_COLUMNS, so the rating engine never needs to know
where a vote came from. Format version 1 is the Chatbot Arena clean_battle shape plus `source`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import pandas as pd

FORMAT_VERSION: Final = 1

WINNERS: Final = ("model_a", "model_b", "tie", "tie (bothbad)")
TIES: Final = ("tie", "tie (bothbad)")
SOURCES: Final = ("human", "judge")

BATTLE_COLUMNS: Final = (
    "question_id",
    "model_a",
    "model_b",
    "winner",
    "judge",
    "source",
    "category",
    "language",
    "turn",
    "tstamp",
)


@dataclass(frozen=True)
class Battle:
    """One vote between two models on one question (and turn)."""

    question_id: str
    model_a: str
    model_b: str
    winner: str  # one of WINNERS
    judge: str | None = None
    source: str | None = None  # one of SOURCES
    category: str | None = None
    language: str | None = None
    turn: int | None = None
    tstamp: float | None = None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def to_frame(battles: list[Battle]) -> pd.DataFrame:
    """Battles as a DataFrame with exactly BATTLE_COLUMNS (the rating engine's input)."""
    frame = pd.DataFrame([b.to_record() for b in battles], columns=list(BATTLE_COLUMNS))
    return normalize_frame(frame)


def normalize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a battle frame the canonical columns and dtypes (question_id and names as str, turn as Int64)."""
    out = frame.reindex(columns=list(BATTLE_COLUMNS))
    for column in ("question_id", "model_a", "model_b", "winner", "judge", "source", "category", "language"):
        out[column] = out[column].astype("string")
    out["turn"] = pd.to_numeric(out["turn"]).astype("Int64")
    out["tstamp"] = pd.to_numeric(out["tstamp"]).astype("Float64")
    return out.reset_index(drop=True)
