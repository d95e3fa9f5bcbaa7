"""Several judges against human votes: each judge, their majority and a fitted weighted panel, in one table.

Pure: battle frames in, a PanelValidation out. The weighted panel is a logistic model of the decisive human
vote on the judges' votes (+1 / -1 / 0 per item, 0 where a judge did not vote), without intercept (which model
is listed first carries no information), with a small ridge penalty so a judge that always agrees with another
gets a share instead of an arbitrary split. Its tie margin is the cut on |w . s| that best matches the human
votes, ties included. The row in the table is cross-validated over questions: the weights that vote on a
question were fitted on folds that do not contain it, so the row is not flattered by fitting. The weights
written by --weights-out are then fitted on every question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import optimize

from judge.errors import InputError
from judge.items import ITEM, canonical_votes
from judge.panel import WEIGHTS_FORMAT
from judge.validate import _rank
from judge.validate.agreement import AgreementRow, judge_agreement
from judge.validate.interrater import cohen_kappa
from judge.validate.ranks import RankAgreement

FORMAT_VERSION: Final = 1
MAJORITY: Final = "panel: majority"
WEIGHTED: Final = "panel: weighted (cross-validated)"
RIDGE: Final = 1.0  # L2 penalty on the weights (as scikit-learn's C = 1)


@dataclass(frozen=True)
class PanelRow:
    """One judge or panel against the human votes."""

    name: str
    kind: str  # "judge" or "panel"
    agreement: AgreementRow
    kappa: float | None  # Cohen's kappa of this side's vote with each human vote on the item
    rank: RankAgreement
    votes: int

    def to_json(self) -> dict[str, Any]:
        a = self.agreement
        return {
            "name": self.name,
            "kind": self.kind,
            "votes": self.votes,
            "items": a.items,
            "with_ties": {"agree": a.with_ties.agree, "total": a.with_ties.total, "rate": a.with_ties.rate},
            "without_ties": {
                "agree": a.without_ties.agree,
                "total": a.without_ties.total,
                "rate": a.without_ties.rate,
            },
            "kappa": self.kappa,
            "rank": self.rank.to_json(),
        }


@dataclass(frozen=True)
class FittedWeights:
    """Per-judge weights of the weighted panel, fitted on every question (the --weights-out file)."""

    weights: dict[str, float]
    tie_margin: float
    folds: int
    human_votes: int  # decisive human votes the logistic model was fitted on
    cv_agreement: float | None  # the cross-validated row's agreement with ties

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": WEIGHTS_FORMAT,
            "weights": {k: round(v, 6) for k, v in self.weights.items()},
            "tie_margin": round(self.tie_margin, 6),
            "fitted": {
                "model": "logistic regression of the decisive human vote on the judges' votes, no intercept",
                "ridge": RIDGE,
                "folds": self.folds,
                "human_votes": self.human_votes,
                "cross_validated_agreement_with_ties": self.cv_agreement,
            },
        }


@dataclass(frozen=True)
class PanelValidation:
    """The judges and panels, best agreement (with ties) first, and the fitted weights."""

    rows: tuple[PanelRow, ...]
    weights: FittedWeights | None
    judges: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "comparison": "panel-human",
            "judges": list(self.judges),
            "rows": [row.to_json() for row in self.rows],
            "weights": None if self.weights is None else self.weights.to_json(),
        }


def judge_names(judges: pd.DataFrame) -> list[str]:
    names = judges["judge"].astype("string")
    if names.isna().any():
        raise InputError("every judge battle needs a judge name to validate a panel")
    return sorted(set(names.tolist()))


def item_matrix(judges: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """One row per item (ITEM columns plus question_id), one column per judge: its vote sign, 0 if none."""
    votes = canonical_votes(judges, side="judge votes")
    signs = votes.pivot_table(index=list(ITEM), columns="voter", values="outcome", aggfunc="mean")
    signs = np.sign(signs.reindex(columns=list(names))).fillna(0.0)
    return signs.reset_index()


def _frame(items: pd.DataFrame, winners: np.ndarray, name: str) -> pd.DataFrame:
    """A battle frame of the panel's votes on the items (model_a is the item's first model)."""
    turn = items["turn_key"].where(items["turn_key"] >= 0)
    return pd.DataFrame(
        {
            "question_id": items["question_id"].astype("string"),
            "model_a": items["first"].astype("string"),
            "model_b": items["second"].astype("string"),
            "winner": pd.Series(winners, dtype="string"),
            "judge": name,
            "source": "judge",
            "turn": pd.array(turn, dtype="Int64"),
        }
    )


def _winners(score: np.ndarray, margin: float) -> np.ndarray:
    return np.where(score > margin, "model_a", np.where(score < -margin, "model_b", "tie"))


def fit_weights(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ridge logistic regression without intercept: y in {+1, -1}, s the judges' votes (rows)."""

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = y * (s @ w)
        value = float(np.logaddexp(0.0, -z).sum() + 0.5 * RIDGE * w @ w)
        grad = -(s * (y / (1.0 + np.exp(z)))[:, None]).sum(axis=0) + RIDGE * w
        return value, grad

    start = np.zeros(s.shape[1])
    return np.asarray(optimize.minimize(loss, start, jac=True, method="L-BFGS-B").x)


def best_margin(score: np.ndarray, human: np.ndarray) -> float:
    """The tie cut on |score| that agrees most with the human votes (ties included); smallest on a tie."""
    cuts = np.unique(np.concatenate([[0.0], np.abs(score)]))
    cuts = np.concatenate([[0.0], (cuts[:-1] + cuts[1:]) / 2]) if len(cuts) > 1 else cuts
    best, best_hits = 0.0, -1
    for cut in cuts:
        predicted = np.where(score > cut, 1, np.where(score < -cut, -1, 0))
        hits = int((predicted == human).sum())
        if hits > best_hits:
            best, best_hits = float(cut), hits
    return best


def _training(items: pd.DataFrame, human: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Each human vote joined with the judges' votes on its item."""
    h = canonical_votes(human, side="human votes")[[*ITEM, "outcome"]]
    return h.merge(items, on=list(ITEM), how="inner")


def _fold_of(questions: pd.Series, folds: int, seed: int) -> np.ndarray:
    """A fold per question: a seeded hash, so every vote on a question lands in the same fold."""

    def fold(q: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{seed}\0{q}".encode()).digest()[:4], "big") % folds

    return np.asarray([fold(str(q)) for q in questions], dtype=int)


def _fit(train: pd.DataFrame, names: Sequence[str]) -> tuple[np.ndarray, float, int]:
    s = train[list(names)].to_numpy(dtype=float)
    y = train["outcome"].to_numpy(dtype=int)
    decisive = y != 0
    if decisive.sum() == 0:
        return np.ones(len(names)), 0.0, 0
    w = fit_weights(s[decisive], y[decisive].astype(float))
    return w, best_margin(s @ w, y), int(decisive.sum())


def validate_panel(
    human: pd.DataFrame,
    judges: pd.DataFrame,
    *,
    folds: int = 5,
    bootstrap: int = 1000,
    seed: int = 0,
) -> PanelValidation:
    """Every judge, the majority panel and the cross-validated weighted panel against the human votes."""
    names = judge_names(judges)
    if len(names) < 2:
        raise InputError(
            "a panel needs battle logs of at least two judges", hint="pass --judge once per judge"
        )
    if folds < 2:
        raise InputError("--folds must be at least 2")
    items = item_matrix(judges, names)
    sides: list[tuple[str, str, pd.DataFrame]] = [
        (name, "judge", judges[judges["judge"].astype("string") == name]) for name in names
    ]
    signs = items[names].to_numpy(dtype=float)
    majority = np.zeros(len(items))
    n_voters = _voters(judges, items)
    for value in (1, -1):  # more than half of the judges who voted on the item (ties count as votes)
        majority = np.where(2 * (signs == value).sum(axis=1) > n_voters, value, majority)
    sides.append((MAJORITY, "panel", _frame(items, _winners(majority, 0.0), MAJORITY)))
    train = _training(items, human, names)
    if train.empty:
        raise InputError("no item appears in both the human and the judge battle logs")
    fold = _fold_of(items["question_id"], folds, seed)
    train_fold = _fold_of(train["question_id"], folds, seed)
    score = np.zeros(len(items))
    margin_of = np.zeros(len(items))
    for k in range(folds):
        w, margin, _ = _fit(train[train_fold != k], names)
        here = fold == k
        score[here] = signs[here] @ w
        margin_of[here] = margin
    cv_winners = np.where(score > margin_of, "model_a", np.where(score < -margin_of, "model_b", "tie"))
    sides.append((WEIGHTED, "panel", _frame(items, cv_winners, WEIGHTED)))
    rows = [_row(name, kind, frame, human, bootstrap, seed) for name, kind, frame in sides]
    rows.sort(key=lambda r: (-(r.agreement.with_ties.rate or 0.0), -(r.agreement.without_ties.rate or 0.0)))
    w, margin, n = _fit(train, names)
    cv = next(r.agreement.with_ties.rate for r in rows if r.name == WEIGHTED)
    fitted = FittedWeights(dict(zip(names, map(float, w), strict=True)), margin, folds, n, cv)
    return PanelValidation(tuple(rows), fitted, tuple(names))


def _voters(judges: pd.DataFrame, items: pd.DataFrame) -> np.ndarray:
    """How many judges voted on each item at all (ties included)."""
    votes = canonical_votes(judges, side="judge votes")
    per_item = votes.groupby(list(ITEM))["voter"].nunique()
    counts: np.ndarray = items.set_index(list(ITEM)).index.map(per_item).to_numpy(dtype=float)
    return counts


def _row(
    name: str, kind: str, frame: pd.DataFrame, human: pd.DataFrame, bootstrap: int, seed: int
) -> PanelRow:
    agreement = judge_agreement(human, frame).overall
    h = canonical_votes(human, side="human votes")
    j = canonical_votes(frame, side=name)
    pairs = j.merge(h, on=list(ITEM), suffixes=("_x", "_y"))
    x, y = pairs["outcome_x"].tolist(), pairs["outcome_y"].tolist()
    # one side always giving the same outcome makes kappa 0 by construction: not defined (as in validate)
    kappa = cohen_kappa(x, y) if len(set(x)) > 1 and len(set(y)) > 1 else None
    rank = _rank(human, frame, bootstrap=bootstrap, seed=seed, level=0.95)
    return PanelRow(name, kind, agreement, kappa, rank, len(frame))
