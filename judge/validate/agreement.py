"""Vote-level agreement between judges, counted the way the MT-Bench paper counts it.

An *item* is one question, one unordered model pair and one turn. Two votes on the same item agree when they
pick the same model, or when both are ties of any kind. Judge vs human pairs the judge's vote on an item with
each human vote on it; human vs human pairs every two votes on an item cast by different voters.
"Without ties" leaves out every pair in which either vote is a tie. These rules reproduce the MT-Bench paper's
human-human figures (expert votes only; see docs/validate.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Final, Literal

import numpy as np
import pandas as pd

from judge.items import ITEM, NO_TURN, canonical_votes

GroupBy = Literal["turn", "category"]
ALL: Final = "all"
NONE_LABEL: Final = "none"


@dataclass(frozen=True)
class Count:
    """How many compared vote pairs agreed, out of how many."""

    agree: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.agree / self.total if self.total else None

    def to_json(self) -> dict[str, int | float | None]:
        return {"agree": self.agree, "total": self.total, "rate": self.rate}


@dataclass(frozen=True)
class AgreementRow:
    """Agreement in one group (a turn, a category, or all)."""

    group: str
    with_ties: Count
    without_ties: Count
    items: int


@dataclass(frozen=True)
class Agreement:
    """Agreement per group plus the overall row, for one kind of comparison."""

    kind: Literal["judge-human", "human-human"]
    by: GroupBy
    rows: tuple[AgreementRow, ...]  # the groups in order, then the ALL row
    # The compared vote pairs (item keys, outcome_x, outcome_y), for intervals over items (uncertainty.py).
    pairs: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def overall(self) -> AgreementRow:
        return self.rows[-1]

    def to_json(self) -> dict[str, dict[str, dict[str, int | float | None]]]:
        return {
            row.group: {"with_ties": row.with_ties.to_json(), "without_ties": row.without_ties.to_json()}
            for row in self.rows
        }


def drop_voters(frame: pd.DataFrame, patterns: Iterable[str]) -> pd.DataFrame:
    """The battles whose `judge` (the voter) matches none of the glob patterns, e.g. 'author_*'."""
    patterns = tuple(patterns)
    if not patterns:
        return frame
    voters = frame["judge"].astype("string").fillna("")
    keep = [not any(fnmatchcase(v, p) for p in patterns) for v in voters]
    return frame[np.asarray(keep, dtype=bool)].reset_index(drop=True)


def human_agreement(
    human: pd.DataFrame, *, by: GroupBy = "turn", items: pd.DataFrame | None = None
) -> Agreement:
    """Every pair of votes by different voters on the same item (votes without a voter count as distinct).

    items: only these items (a frame of ITEM keys, e.g. matched_items()); groups are labelled as without it.
    """
    votes = canonical_votes(human, side="human votes")
    pairs = votes.merge(votes, on=list(ITEM), suffixes=("_x", "_y"))
    pairs = pairs[pairs["row_x"] < pairs["row_y"]]
    same_voter = pairs["voter_x"].notna() & (pairs["voter_x"] == pairs["voter_y"]).fillna(False)
    pairs = pairs[~same_voter.to_numpy(dtype=bool)]
    groups = _item_groups(votes, None, by)
    return _tabulate("human-human", by, _only(pairs, items), groups)


def judge_agreement(
    human: pd.DataFrame, judge: pd.DataFrame, *, by: GroupBy = "turn", items: pd.DataFrame | None = None
) -> Agreement:
    """Each judge vote on an item against each human vote on the same item (items: as human_agreement)."""
    h = canonical_votes(human, side="human votes")
    j = canonical_votes(judge, side="judge votes")
    pairs = j.merge(h, on=list(ITEM), suffixes=("_x", "_y"))
    groups = _item_groups(h, j, by)
    return _tabulate("judge-human", by, _only(pairs, items), groups)


def compared_items(agreement: Agreement) -> pd.DataFrame:
    """The items (ITEM keys, one row each) with at least one compared vote pair."""
    if agreement.pairs is None:
        return pd.DataFrame(columns=list(ITEM))
    return agreement.pairs[list(ITEM)].drop_duplicates().reset_index(drop=True)


def matched_items(first: Agreement, second: Agreement) -> pd.DataFrame:
    """The items both comparisons cover: for the judge and the human baseline, the items where the judge and
    at least two human voters voted."""
    return compared_items(first).merge(compared_items(second), on=list(ITEM))


def _only(pairs: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    if items is None:
        return pairs
    return pairs.merge(items[list(ITEM)].drop_duplicates(), on=list(ITEM))


def _item_groups(first: pd.DataFrame, second: pd.DataFrame | None, by: GroupBy) -> pd.DataFrame:
    """One group label per item: its turn, or its category (taken from the human votes when they have one)."""
    sides = [first] if second is None else [first, second]
    items = pd.concat([s[[*ITEM, "category"]] for s in sides], ignore_index=True)
    if by == "turn":
        label = items["turn_key"].map(lambda t: NONE_LABEL if t == NO_TURN else str(t))
    else:
        label = items["category"].fillna(NONE_LABEL)
    items = items.assign(group=label.astype(str))
    if by == "category":
        # prefer a real category over "none" for the same item
        items = items.sort_values("group", key=lambda s: s == NONE_LABEL, kind="stable")
    return items.drop_duplicates(list(ITEM))[[*ITEM, "group"]]


def _tabulate(
    kind: Literal["judge-human", "human-human"], by: GroupBy, pairs: pd.DataFrame, groups: pd.DataFrame
) -> Agreement:
    pairs = pairs.merge(groups, on=list(ITEM), how="left")
    agree = (pairs["outcome_x"] == pairs["outcome_y"]).to_numpy(dtype=bool)
    decisive = ((pairs["outcome_x"] != 0) & (pairs["outcome_y"] != 0)).to_numpy(dtype=bool)
    labels = pairs["group"].to_numpy(dtype=object)
    names = _order(set(labels.tolist()))
    if list(names) == [NONE_LABEL]:
        names = []  # no turns or categories at all: the overall row says it all
    rows = [_row(name, labels == name, agree, decisive, pairs) for name in names]
    rows.append(_row(ALL, np.ones(len(pairs), dtype=bool), agree, decisive, pairs))
    return Agreement(kind=kind, by=by, rows=tuple(rows), pairs=pairs[[*ITEM, "outcome_x", "outcome_y"]])


def _row(
    name: str, mask: np.ndarray, agree: np.ndarray, decisive: np.ndarray, pairs: pd.DataFrame
) -> AgreementRow:
    items = int(pairs.loc[mask, list(ITEM)].drop_duplicates().shape[0]) if mask.any() else 0
    return AgreementRow(
        group=name,
        with_ties=Count(int((agree & mask).sum()), int(mask.sum())),
        without_ties=Count(int((agree & mask & decisive).sum()), int((mask & decisive).sum())),
        items=items,
    )


def _order(names: set[str]) -> Sequence[str]:
    """Turns in numeric order, categories alphabetically, "none" last."""
    real = sorted(n for n in names if n != NONE_LABEL)
    if all(n.isdigit() for n in real):
        real.sort(key=int)
    return [*real, *([NONE_LABEL] if NONE_LABEL in names else [])]
