"""The pair, and the two compact forms a big schedule keeps pairs in: a plan and the set of scheduled pairs.

A round-robin of 30 contestants on 1,150 questions (a 1M-call run) is 500,000 pairs; as Pair objects in a
list and a frozenset they cost ~110 bytes each for the whole run. A PairPlan holds them as three integer
codes into the question and name lists (~12 bytes) and builds each Pair when it is read; a PairSet holds the
plans and batches handed out plus one sorted 64-bit key per pair (~20 bytes in all), and answers `in` by a
binary search confirmed against the pair itself, so a key collision can never hide a pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.int32]
_Keys = npt.NDArray[np.uint64]


@dataclass(frozen=True, order=True, slots=True)
class Pair:
    """Two contestants on one question, in canonical order (model_a < model_b): keys stable across runs."""

    question_id: str
    model_a: str
    model_b: str
    # Who is shown first when only one order is judged (set by schedules that balance positions, see
    # judge.pairings.state); not part of the pair's identity, so equality and hashing ignore it.
    first: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.model_a < self.model_b:
            raise ValueError(
                f"pair not in canonical order: {self.model_a!r}, {self.model_b!r} (use make_pair)"
            )
        if self.first is not None and self.first not in (self.model_a, self.model_b):
            raise ValueError(f"first must be one of the pair, not {self.first!r}")


def make_pair(question_id: str, one: str, other: str) -> Pair:
    """The canonical pair of two different contestants, whichever order they come in."""
    if one == other:
        raise ValueError(f"a contestant cannot meet itself: {one!r}")
    low, high = sorted((one, other))
    return Pair(question_id, low, high)


class PairPlan(Sequence[Pair]):
    """Pairs as codes into `questions` and `names` (model_a and model_b codes, canonical order), none pinned
    first. Slicing gives a plan over the same arrays."""

    def __init__(self, questions: Sequence[str], names: Sequence[str], q: Codes, a: Codes, b: Codes) -> None:
        self.questions, self.names = tuple(questions), tuple(names)
        self.q, self.a, self.b = q, a, b

    def __len__(self) -> int:
        return len(self.q)

    @overload
    def __getitem__(self, i: int) -> Pair: ...
    @overload
    def __getitem__(self, i: slice) -> PairPlan: ...
    def __getitem__(self, i: int | slice) -> Pair | PairPlan:
        if isinstance(i, slice):
            return PairPlan(self.questions, self.names, self.q[i], self.a[i], self.b[i])
        return Pair(self.questions[self.q[i]], self.names[self.a[i]], self.names[self.b[i]])

    def __iter__(self) -> Iterator[Pair]:
        questions, names = self.questions, self.names
        for q, a, b in zip(self.q.tolist(), self.a.tolist(), self.b.tolist(), strict=True):
            yield Pair(questions[q], names[a], names[b])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list

    def __repr__(self) -> str:
        return f"PairPlan({len(self)} pairs)"

    def keys(self) -> _Keys:
        hq, hn = _hashes(self.questions), _hashes(self.names)
        keys: _Keys = _mix(hq[self.q], hn[self.a], hn[self.b])
        return keys

    def where(self, keep: npt.NDArray[np.bool_]) -> PairPlan:
        return PairPlan(self.questions, self.names, self.q[keep], self.a[keep], self.b[keep])


def _hashes(strings: Sequence[str]) -> _Keys:
    return np.array([hash(s) & _MASK for s in strings], dtype=np.uint64)


_MASK: Final = (1 << 64) - 1
_M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


def _mix(q: Any, a: Any, b: Any) -> Any:
    """One 64-bit key per (question, model_a, model_b), from their strings' hashes (arrays or scalars)."""
    with np.errstate(over="ignore"):
        return (np.uint64(q) * _M1) ^ (np.uint64(a) * _M2) ^ np.uint64(b)


def _key(pair: Pair) -> np.uint64:
    return np.uint64(_mix(*(hash(s) & _MASK for s in (pair.question_id, pair.model_a, pair.model_b))))


class PairSet(Set[Pair]):
    """An immutable set of pairs (equality ignores `first`, as Pair's does) that iterates in the order the
    pairs were added; `|` makes a new set sharing this one's parts."""

    def __init__(self) -> None:
        self._parts: tuple[Sequence[Pair], ...] = ()
        self._ends = np.zeros(0, np.int64)
        self._keys = np.zeros(0, np.uint64)  # sorted
        self._order = np.zeros(0, np.int64)  # _keys[k] is the key of the pair at position _order[k]

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __iter__(self) -> Iterator[Pair]:
        for part in self._parts:
            yield from part

    def __repr__(self) -> str:
        return f"PairSet({len(self)} pairs)"

    def _at(self, position: int) -> Pair:
        part = int(np.searchsorted(self._ends, position, side="right"))
        start = int(self._ends[part - 1]) if part else 0
        return self._parts[part][position - start]

    def _found(self, pair: Pair, key: np.uint64) -> bool:
        at = int(np.searchsorted(self._keys, key, side="left"))
        while at < len(self._keys) and self._keys[at] == key:
            if self._at(int(self._order[at])) == pair:
                return True
            at += 1
        return False

    def __contains__(self, pair: object) -> bool:
        return isinstance(pair, Pair) and self._found(pair, _key(pair))

    def missing(self, plan: PairPlan) -> PairPlan:
        """The plan's pairs that are not in this set (vectorised: a plan is big)."""
        if not len(self):
            return plan
        keys = plan.keys()
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        hits = np.flatnonzero(self._keys[at] == keys)
        found = np.zeros(len(plan), dtype=bool)
        # Confirm each hit, so a key collision cannot drop a pair: by codes when the first pair with that
        # key sits in a plan over the same lists (a round-robin's second look at its plan), else one by one.
        position = self._order[at[hits]]
        part_of = np.searchsorted(self._ends, position, side="right")
        unsure = []
        for part_index in np.unique(part_of).tolist():
            part, rows = self._parts[part_index], hits[part_of == part_index]
            if not (
                isinstance(part, PairPlan) and part.questions == plan.questions and part.names == plan.names
            ):
                unsure.append(rows)
                continue
            offset = position[part_of == part_index] - (self._ends[part_index - 1] if part_index else 0)
            same = (part.q[offset] == plan.q[rows]) & (part.a[offset] == plan.a[rows])
            same &= part.b[offset] == plan.b[rows]
            found[rows[same]] = True
            unsure.append(rows[~same])
        for i in np.concatenate([np.zeros(0, np.int64), *unsure]).tolist():
            found[i] = self._found(plan[i], keys[i])
        return plan.where(~found)

    def __or__(self, pairs: Iterable[Any]) -> PairSet:
        return self.plus(pairs)[0]

    def plus(self, pairs: Iterable[Pair]) -> tuple[PairSet, Sequence[Pair]]:
        """This set plus the pairs not in it yet (the first of duplicates within `pairs` is kept), and those
        new pairs."""
        new: Sequence[Pair]
        if isinstance(pairs, PairPlan):  # a plan's pairs are distinct by construction
            new = self.missing(pairs)
            keys = new.keys()
        else:
            new = tuple(p for p in dict.fromkeys(pairs) if p not in self)
            keys = np.array([_key(p) for p in new], dtype=np.uint64)
        if not len(new):
            return self, new
        merged = PairSet()
        merged._parts = (*self._parts, new)
        merged._ends = np.append(self._ends, len(self) + len(new))
        keys_all = np.concatenate([self._keys, keys])
        order_all = np.concatenate([self._order, np.arange(len(self), len(self) + len(new))])
        by_key = np.argsort(keys_all, kind="stable")
        merged._keys, merged._order = keys_all[by_key], order_all[by_key]
        return merged, new
