"""Battles -> per-pair outcome counts, the only form of the log that the fits read.

A battle log of millions of rows collapses to one row per unordered model pair (i < j) with three counts: i
won, j won, tie. Side (who was model_a) is forgotten on purpose: Bradley-Terry has no side effect, so
swapping sides can not change a rating. Resampling battles is then a multinomial draw over these cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from judge.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_WINNER_CODES = {"model_a": 0, "model_b": 1, "tie": 2, "tie (bothbad)": 2}
# Above this many models the dense n*n pair table would be large; fall back to sorting pair keys.
_DENSE_PAIR_LIMIT = 2000


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Outcome counts per unordered pair: counts[p] = (i won, j won, ties) of models[i[p]], models[j[p]]."""

    models: tuple[str, ...]
    i: IntArray
    j: IntArray
    counts: FloatArray

    @property
    def n_models(self) -> int:
        return len(self.models)

    def per_model(self) -> pd.DataFrame:
        """battles, wins, losses, ties of every model, indexed by model."""
        n = self.n_models
        c = self.counts
        wins = np.bincount(self.i, c[:, 0], n) + np.bincount(self.j, c[:, 1], n)
        losses = np.bincount(self.i, c[:, 1], n) + np.bincount(self.j, c[:, 0], n)
        ties = np.bincount(self.i, c[:, 2], n) + np.bincount(self.j, c[:, 2], n)
        frame = pd.DataFrame(
            {"battles": wins + losses + ties, "wins": wins, "losses": losses, "ties": ties},
            index=pd.Index(self.models, name="model"),
        )
        return frame.astype("int64")


@dataclass(frozen=True, eq=False)
class Aggregated:
    """PairCounts plus, for each battle, its cell (3 * pair row + outcome) for clustered resampling."""

    pairs: PairCounts
    cell: npt.NDArray[np.signedinteger[Any]]  # int32 unless the pair keys need more


def _require_columns(battles: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in battles.columns]
    if missing:
        raise InputError(
            f"the battle log lacks column(s) {', '.join(missing)} "
            f"(has: {', '.join(map(str, battles.columns))})"
        )


def _row_label(battles: pd.DataFrame, position: int) -> str:
    return f"battle {battles.index[position]!r}"


def _codes(column: pd.Series) -> tuple[npt.NDArray[np.signedinteger[Any]], list[Any]]:
    """Small integer codes (-1 for missing) and the values they stand for: a categorical's own codes (a byte
    or two a battle) when the column is one, else pandas' factorisation. A category no battle uses (left by
    a filter or a group-by) is named None, so it is not taken for a model."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        used = np.bincount(codes.astype(np.intp) + 1, minlength=len(column.cat.categories) + 1)[1:] > 0
        return codes, [v if u else None for v, u in zip(column.cat.categories, used, strict=True)]
    codes, values = pd.factorize(column, use_na_sentinel=True)
    return codes, list(values)


def aggregate(battles: pd.DataFrame) -> Aggregated:
    """Check the log and count outcomes per model pair; raise InputError on anything unusable."""
    _require_columns(battles, ("model_a", "model_b", "winner"))
    if len(battles) == 0:
        raise InputError("the battle log is empty: there are no battles to rate")
    # Every per-battle array here is 1-4 bytes a cell and dropped once used: on a 1M-call run's log this
    # step is part of the run's peak memory.
    winner_codes, winner_values = _codes(battles["winner"])
    # Codes of the few distinct values, -1 for anything that is not a known winner (NA included).
    known = np.array(
        [_WINNER_CODES.get(v, -1) if isinstance(v, str) else -1 for v in winner_values] + [-1], dtype=np.int8
    )
    outcome = known[winner_codes]
    del winner_codes
    bad = np.flatnonzero(outcome < 0)
    if len(bad):
        raise InputError(
            f"{_row_label(battles, int(bad[0]))}: winner {battles['winner'].iloc[bad[0]]!r} is not one of "
            f"{', '.join(_WINNER_CODES)} ({len(bad)} such row(s))"
        )
    codes_a, names_a = _codes(battles["model_a"])
    codes_b, names_b = _codes(battles["model_b"])
    for codes, column in ((codes_a, "model_a"), (codes_b, "model_b")):
        missing = np.flatnonzero(codes < 0)
        if len(missing):
            raise InputError(f"{_row_label(battles, int(missing[0]))}: {column} is missing")
    models = np.array(sorted({str(v) for v in (*names_a, *names_b) if v is not None}), dtype=object)
    n = len(models)
    index = np.int32 if n * n < 2**31 else np.int64  # wide enough for a pair key lo * n + hi
    a = np.searchsorted(models, np.asarray(names_a, dtype=str).astype(object)).astype(index)[codes_a]
    del codes_a
    b = np.searchsorted(models, np.asarray(names_b, dtype=str).astype(object)).astype(index)[codes_b]
    del codes_b
    same = np.flatnonzero(a == b)
    if len(same):
        raise InputError(
            f"{_row_label(battles, int(same[0]))}: model {models[a[same[0]]]!r} plays against itself "
            f"({len(same)} such row(s)); a self-battle says nothing about strength"
        )
    # Seen from the lower-index model: outcome 0 = lo won, 1 = hi won, 2 = tie.
    flip = (a > b) & (outcome < 2)
    outcome[flip] = 1 - outcome[flip]
    del flip
    key = np.minimum(a, b)
    key *= n
    key += np.maximum(a, b)
    del a, b
    if n <= _DENSE_PAIR_LIMIT:
        present = np.bincount(key, minlength=n * n) > 0
        keys = np.flatnonzero(present)
        row_of_key = (np.cumsum(present) - 1).astype(index)
        cell = row_of_key[key]
    else:
        keys, cell = np.unique(key, return_inverse=True)
    del key
    cell *= 3
    cell += outcome
    table = np.bincount(cell, minlength=3 * len(keys)).reshape(-1, 3).astype(np.float64)
    pairs = PairCounts(
        models=tuple(models.tolist()),
        i=(keys // n).astype(np.int64),
        j=(keys % n).astype(np.int64),
        counts=table,
    )
    return Aggregated(pairs=pairs, cell=cell)


def question_codes(battles: pd.DataFrame) -> IntArray:
    """0..Q-1 per battle, one code per distinct question_id (needed to resample whole questions)."""
    _require_columns(battles, ("question_id",))
    codes, _ = pd.factorize(battles["question_id"], use_na_sentinel=True)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        raise InputError(
            f"{_row_label(battles, int(missing[0]))}: question_id is missing, so battles can not be "
            "clustered by question",
            hint="use cluster='battle' or fill in question_id",
        )
    return np.asarray(codes, dtype=np.int64)


def question_table(battles: pd.DataFrame, agg: Aggregated) -> sp.csr_matrix:
    """questions x (3 * pairs) counts: row q is what resampling question q once adds to the pair table."""
    codes = question_codes(battles)
    n_cells = 3 * len(agg.pairs.i)
    ones = np.ones(len(codes))
    return sp.csr_matrix((ones, (codes, agg.cell)), shape=(int(codes.max()) + 1, n_cells))
