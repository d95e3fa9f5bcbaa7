"""The demo's yardstick: the MT-Bench experts' votes on the replayed models, beside the demo judge's.

A board from a 135M judge means little on its own. The four replayed models were voted on by the MT-Bench
experts (expert_votes.csv, CC-BY-4.0, LMSYS), so the demo can show the experts' board on those models and how
often the judge agrees with the experts on the very items it judged, next to how often the experts agree with
each other on those items. Pure apart from expert_votes(), which reads the packaged file.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from judge.items import ITEM, canonical_votes
from judge.ratings import leaderboard
from judge.validate.agreement import Count, human_agreement, judge_agreement

TOLERANCE: Final = 0.05  # agreement rates closer than this count as "about as often" (as judge validate)


@dataclass(frozen=True)
class ExpertComparison:
    """The experts' board on the shared models and the judge-vs-expert agreement on shared items."""

    board: pd.DataFrame  # leaderboard() of every expert vote between the models both sides rate
    expert_votes: int  # votes behind that board
    judge_vs_experts: Count  # judge vote vs each expert vote on the same item (ties count as agreeing)
    experts_vs_experts: Count  # every two experts' votes on those same items
    items: int  # (question, pair, turn) items that both the judge and the experts voted on

    def sentence(self, judge: str) -> str:
        """One line: may the judge's board be read like the experts' one, and why (not)."""
        versus, among = self.judge_vs_experts.rate, self.experts_vs_experts.rate
        if versus is None:
            return f"{judge} judged no item the experts voted on: its board cannot be checked against theirs."
        if among is None or versus < among - TOLERANCE:
            return (
                f"{judge} agrees with the experts less often than they agree with each other: read its "
                "board as a demo of the pipeline, not as a ranking; for one you can trust, point judge: at a "
                "strong model."
            )
        return f"{judge} agrees with the experts about as often as they agree with each other on these items."


def expert_votes() -> pd.DataFrame:
    """The packaged MT-Bench expert votes between the demo's replayed models (both turns, 80 questions)."""
    from judge.battles import load_battles

    path = Path(str(importlib.resources.files("judge.demo").joinpath("expert_votes.csv")))
    return load_battles([path], format="mtbench").frame


def compare_with_experts(
    judge_battles: pd.DataFrame, experts: pd.DataFrame, *, bootstrap: int = 1000, seed: int = 0
) -> ExpertComparison:
    """The experts' board on the models both sides rate, and vote agreement on the items both voted on."""
    models = set(judge_battles["model_a"]) | set(judge_battles["model_b"])
    shared = experts[experts["model_a"].isin(models) & experts["model_b"].isin(models)].reset_index(drop=True)
    board = leaderboard(shared, bootstrap=bootstrap, seed=seed) if len(shared) else pd.DataFrame()
    judged = canonical_votes(judge_battles, side="judge votes")[list(ITEM)].drop_duplicates()
    voted = canonical_votes(shared, side="expert votes")
    on_items = voted.merge(judged, on=list(ITEM))["row"].to_numpy()
    matched = shared.iloc[on_items].reset_index(drop=True)
    if len(matched) == 0:
        none = Count(0, 0)
        return ExpertComparison(board, len(shared), none, none, 0)
    versus = judge_agreement(matched, judge_battles).overall
    among = human_agreement(matched).overall
    return ExpertComparison(board, len(shared), versus.with_ties, among.with_ties, versus.items)
