"""Is the judge's board worth reading? Its battle tie rate and position consistency, against two thresholds.

Pure: battle frames in, plain values out. Position consistency is judge.validate's measure (the battle log's
verdict_ab / verdict_ba, or first_shown pairs), so the report and `judge validate` give the same figure.

The thresholds, and why (README "Reports" says the same):
- Position consistency below 60%: the judge changes its pick on more than 4 in 10 pairs when the two answers
  swap places, so much of its board follows the order of presentation. On MT-Bench's pairs (Zheng et al.
  2023, table 2) GPT-4 keeps its pick 65% of the time, GPT-3.5 46%, Claude-v1 24%: the line separates the
  judge the paper trusts from the two it does not.
- Battle tie rate above 50%: most battles then carry no direction and the board rests on the few decisive
  ones; ties also pull every rating towards the middle. People tie far less often on the same kind of task:
  23% of the MT-Bench experts' 3,355 votes and 39% of LLMFAO's 8,931 crowd votes are ties.
A figure on fewer than MIN_SAMPLE battles (or pairs) is shown but raises no flag: it is mostly noise.
benchmarks/weak_flag.py measures how often the flag fires on judge-shaped logs (docs/design/report.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from judge.battles import TIES
from judge.validate.biases import Measure, position_consistency

LOW_CONSISTENCY: Final = 0.6
HIGH_TIE_RATE: Final = 0.5
MIN_SAMPLE: Final = 10


@dataclass(frozen=True)
class JudgeQuality:
    """One judge's (or one board's) tie rate and position consistency, and why its board is weak, if it is."""

    name: str
    battles: int
    ties: int
    consistency: Measure
    reason: str | None  # one sentence when the board is weak, else None

    @property
    def tie_rate(self) -> float | None:
        return self.ties / self.battles if self.battles else None

    @property
    def weak(self) -> bool:
        return self.reason is not None


def judge_quality(battles: pd.DataFrame, name: str, *, subject: str = "the judge") -> JudgeQuality:
    """The measures of one battle log, and the one-sentence reason its board is weak (None when it is not)."""
    n = len(battles)
    ties = int(battles["winner"].astype("string").isin(TIES).sum()) if n else 0
    consistency = position_consistency(battles) if n else Measure(None, 0, "no battles")
    tied = n >= MIN_SAMPLE and ties / n > HIGH_TIE_RATE
    value = consistency.value
    swayed = value is not None and consistency.n >= MIN_SAMPLE and value < LOW_CONSISTENCY
    tie_words = f"{ties / n:.0%} of its {n:,} battles are ties (above {HIGH_TIE_RATE:.0%})" if tied else ""
    swap_words = (
        f"{subject} kept its pick with the answers swapped in only {value:.0%} of {consistency.n:,} pairs "
        f"(below {LOW_CONSISTENCY:.0%})"
        if swayed and value is not None
        else ""
    )
    reason = None
    if tied and swayed:
        reason = f"This board is weak: {tie_words} and {swap_words}, so it says little about the answers."
    elif tied:
        reason = f"This board is weak: {tie_words}, so the ranking rests on {n - ties:,} decisive battles."
    elif swayed:
        reason = (
            f"This board is weak: {swap_words}, so many of its verdicts follow the position, not the answers."
        )
    return JudgeQuality(name, n, ties, consistency, reason)


def per_judge(battles: pd.DataFrame) -> list[JudgeQuality]:
    """A panel's members, one JudgeQuality each, from the log of their own battles (column `judge`)."""
    if battles.empty:
        return []
    names = battles["judge"].astype("string").fillna("")
    return [judge_quality(battles[names == name], str(name)) for name in sorted(set(names))]


def panel_reason(board: JudgeQuality, members: Sequence[JudgeQuality]) -> str | None:
    """A panel's board is weak when its own battles are, or when most of its judges are (named)."""
    if board.reason is not None or not members:
        return board.reason
    weak = [m.name for m in members if m.weak]
    if 2 * len(weak) <= len(members):
        return None
    return (
        f"This board is weak: {len(weak)} of its {len(members)} judges ({', '.join(weak)}) tie too often "
        "or follow the position of the answers (see the panel section)."
    )
