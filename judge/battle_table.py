"""The battles of a run held as small integer codes, so a million-call run does not keep a million objects.

A Battle is a frozen dataclass of 21 fields: as an object it costs ~0.5 kB, which a run of 1M judge calls
(500k battles) cannot keep per battle. A BattleTable stores each column as an array of codes into that
column's own list of distinct values (question ids, model names, winners, verdicts, style counts, ...),
one byte a cell while a column has under 256 distinct values and wider only when it needs to, plus the
tstamp as a float64: about 40 bytes per battle. It is a Sequence[Battle]: iterating or indexing builds each
Battle on the fly, equal field for field to the one appended, so the battle log written from it is the same
byte for byte.

Appending is shared like a persistent list: `table.plus(battles)` extends the arrays in place when `table` is
their newest view and returns a longer view, so a ScheduleState keeps seeing the battles it was made with.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, overload

import numpy as np
import pandas as pd

from judge.battles import BATTLE_COLUMNS, STYLE_COUNT_COLUMNS, Battle

_CODED: Final = tuple(c for c in BATTLE_COLUMNS if c != "tstamp")
_WIDER: Final = {"B": "H", "H": "I", "I": "Q"}
_LIMIT: Final = {"B": 1 << 8, "H": 1 << 16, "I": 1 << 32}
assert tuple(f.name for f in fields(Battle)) == BATTLE_COLUMNS, "BattleTable mirrors Battle's fields"


@dataclass
class _Column:
    """Codes into `values` (code 0 is None), widened from bytes as the distinct values grow."""

    codes: array[int] = field(default_factory=lambda: array("B"))
    values: list[Any] = field(default_factory=lambda: [None])
    index: dict[Any, int] = field(default_factory=lambda: {None: 0})

    def code(self, value: Any) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
            if found >= _LIMIT[self.codes.typecode]:
                self.codes = array(_WIDER[self.codes.typecode], self.codes)
        return found


class _Columns:
    """The shared, append-only storage behind one or more BattleTable views."""

    def __init__(self) -> None:
        self.coded = {name: _Column() for name in _CODED}
        self.tstamp: array[float] = array("d")

    def __len__(self) -> int:
        return len(self.tstamp)

    def append(self, battle: Battle) -> None:
        for name, column in self.coded.items():
            code = column.code(getattr(battle, name))  # first: it may widen the codes array
            column.codes.append(code)
        self.tstamp.append(math.nan if battle.tstamp is None else battle.tstamp)

    def battle(self, i: int) -> Battle:
        values = {name: c.values[c.codes[i]] for name, c in self.coded.items()}
        stamp = self.tstamp[i]
        return Battle(**values, tstamp=None if stamp != stamp else stamp)


class BattleTable(Sequence[Battle]):
    """An append-only, compact Sequence[Battle] (see the module docstring)."""

    def __init__(self, battles: Iterable[Battle] = (), *, _columns: _Columns | None = None, _n: int = 0):
        self._columns = _Columns() if _columns is None else _columns
        self._n = _n
        if _columns is None:
            for battle in battles:
                self._columns.append(battle)
            self._n = len(self._columns)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Battle: ...
    @overload
    def __getitem__(self, i: slice) -> BattleTable: ...
    def __getitem__(self, i: int | slice) -> Battle | BattleTable:
        if isinstance(i, slice):
            return BattleTable(self[j] for j in range(*i.indices(self._n)))
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._columns.battle(i)

    def __iter__(self) -> Iterator[Battle]:
        battle = self._columns.battle
        return (battle(i) for i in range(self._n))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable storage: not hashable, like a list

    def __repr__(self) -> str:
        return f"BattleTable({self._n} battles)"

    def plus(self, battles: Iterable[Battle]) -> BattleTable:
        """This table's battles followed by `battles`, sharing storage when this view is the newest one."""
        # An older view copies its prefix rather than disturb the newer views.
        columns = self._columns if len(self._columns) == self._n else BattleTable(self)._columns
        for battle in battles:
            columns.append(battle)
        return BattleTable(_columns=columns, _n=len(columns))

    def extend(self, battles: Iterable[Battle]) -> None:
        """Append in place (this view must be the newest of its storage)."""
        if len(self._columns) != self._n:
            raise ValueError("extend() on an older view of a BattleTable")
        for battle in battles:
            self._columns.append(battle)
        self._n = len(self._columns)

    def column(self, name: str) -> pd.Series:
        """One column for the whole table as a pandas Series: names as categories, counts as Int32 (a few
        bytes a battle; the rating engine reads them as load_battles' string and Int64 columns)."""
        if name == "tstamp":
            return pd.Series(np.frombuffer(self._columns.tstamp, dtype=np.float64)[: self._n]).astype(
                "Float64"
            )
        column = self._columns.coded[name]
        codes = (
            np.frombuffer(column.codes, dtype=_dtype(column.codes))[: self._n].astype(np.int64) - 1
        )  # code 0 (None) becomes -1 (missing)
        if name == "turn" or name in STYLE_COUNT_COLUMNS:
            numbers = np.array([0, *column.values[1:]], dtype=np.int64)
            if len(numbers) and numbers.min() >= -(2**31) and numbers.max() < 2**31:
                numbers = numbers.astype(np.int32)  # Int32: 5 bytes a cell instead of 9
            return pd.Series(pd.arrays.IntegerArray(numbers[codes + 1], codes < 0))
        return pd.Series(
            pd.Categorical.from_codes(codes, categories=pd.Index(column.values[1:], dtype=object))
        )

    def frame(self, columns: Iterable[str] = BATTLE_COLUMNS) -> pd.DataFrame:
        """The table as a battle frame (BATTLE_COLUMNS, what load_battles returns for its battle log), names
        as categoricals: about 1-2 bytes a cell for text and 5-9 for numbers, the rating step's whole input.
        `columns` picks fewer (see rating_columns)."""
        return pd.DataFrame({name: self.column(name) for name in columns}, copy=False)

    def rating_columns(self) -> tuple[str, ...]:
        """The columns the run's boards read: all but the style counts that are missing somewhere or take
        one value throughout (no style fit can use those; each dropped pair saves ~10 bytes a battle)."""
        dropped = set()
        for left, right in zip(STYLE_COUNT_COLUMNS[::2], STYLE_COUNT_COLUMNS[1::2], strict=True):
            values = self.distinct(left) | self.distinct(right)
            if None in values or len(values) < 2:
                dropped |= {left, right}
        return tuple(c for c in BATTLE_COLUMNS if c not in dropped)

    def distinct(self, name: str) -> set[Any]:
        """The distinct values a column takes (None included when some battle lacks it)."""
        column = self._columns.coded[name]
        used = np.unique(np.frombuffer(column.codes, dtype=_dtype(column.codes))[: self._n])
        return {column.values[int(code)] for code in used}

    def count_in(self, name: str, values: Iterable[Any]) -> int:
        """How many battles have one of `values` in column `name`."""
        column = self._columns.coded[name]
        wanted = [column.index[v] for v in values if v in column.index]
        codes = np.frombuffer(column.codes, dtype=_dtype(column.codes))[: self._n]
        return int(np.isin(codes, wanted).sum())

    def winners(self) -> Winners:
        """Each (question_id, model_a, model_b, turn)'s winner (the last battle's if several share one)."""
        return Winners(self)


class Winners:
    """A slot -> winner lookup over a BattleTable: sorted 64-bit slot numbers and a binary search."""

    def __init__(self, table: BattleTable) -> None:
        columns = table._columns
        self._parts = [columns.coded[name] for name in ("question_id", "model_a", "model_b", "turn")]
        self._winner = columns.coded["winner"]
        self._radix = [len(part.values) for part in self._parts]
        n = len(table)
        key = np.zeros(n, dtype=np.int64)
        for part, radix in zip(self._parts, self._radix, strict=True):
            codes = np.frombuffer(part.codes, dtype=_dtype(part.codes))[:n].astype(np.int64)
            key = key * radix + codes
        self._order = np.argsort(key, kind="stable")
        self._keys = key[self._order]
        self._winners = np.frombuffer(self._winner.codes, dtype=_dtype(self._winner.codes))[:n].copy()

    def get(self, slot: tuple[str, str, str, int | None]) -> str | None:
        key = 0
        for part, radix, wanted in zip(self._parts, self._radix, slot, strict=True):
            code = part.index.get(wanted)
            if code is None:
                return None
            key = key * radix + code
        at = int(np.searchsorted(self._keys, key, side="right")) - 1
        if at < 0 or self._keys[at] != key:
            return None
        winner = self._winner.values[int(self._winners[self._order[at]])]
        return None if winner is None else str(winner)


def _dtype(codes: array[int]) -> np.dtype[Any]:
    return np.dtype({"B": np.uint8, "H": np.uint16, "I": np.uint32, "Q": np.uint64}[codes.typecode])


def compact(battles: Sequence[Battle]) -> BattleTable:
    """`battles` as a BattleTable (the same object when it already is one)."""
    return battles if isinstance(battles, BattleTable) else BattleTable(battles)
