"""PairPlan and PairSet: the compact forms a big schedule keeps its pairs in behave as a list and a set."""

from __future__ import annotations

import numpy as np
import pytest

from judge.pairings import Pair, PairPlan, PairSet, RoundRobin, ScheduleState, make_pair
from judge.pairings import pairs as pairs_module
from judge.pairings.state import advance, tally


def _plan() -> PairPlan:
    state = ScheduleState(("c", "a", "b"), ("q1", "q2"))
    plan = RoundRobin().next_batch(state)
    assert isinstance(plan, PairPlan)
    return plan


def test_plan_reads_like_a_list_of_pairs() -> None:
    plan = _plan()
    expected = [make_pair(q, x, y) for q in ("q1", "q2") for x, y in (("a", "b"), ("a", "c"), ("b", "c"))]
    assert list(plan) == expected and plan == expected and len(plan) == 6
    assert plan[4] == expected[4] and plan[-1] == expected[-1]
    assert plan[1:3] == expected[1:3] and isinstance(plan[1:3], PairPlan)


def test_set_membership_union_and_order() -> None:
    plan = _plan()
    one = PairSet() | plan[:4]
    assert len(one) == 4 and plan[0] in one and plan[5] not in one and "x" not in one
    extra = Pair("q9", "a", "b", first="b")
    two, new = one.plus([plan[3], extra, Pair("q9", "a", "b")])  # one already in, one duplicate
    assert list(new) == [extra] and len(two) == 5 and len(one) == 4
    assert list(two) == [*plan[:4], extra] and next(p for p in two if p == extra).first == "b"
    three = two | plan  # a whole plan: only its missing pairs are added
    assert len(three) == 7 and set(three) == {*plan, extra} and three == frozenset({*plan, extra})
    assert two.missing(plan) == list(plan[4:])


def test_a_key_collision_never_hides_a_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key the same: membership falls back to comparing the pairs themselves."""
    monkeypatch.setattr(pairs_module, "_mix", lambda q, a, b: np.zeros(np.shape(q), dtype=np.uint64))
    plan = _plan()
    half = PairSet() | plan[:3]
    assert [p in half for p in plan] == [True] * 3 + [False] * 3
    assert half.missing(plan) == list(plan[3:]) and len(half | plan) == 6


def test_round_robin_state_after_its_round() -> None:
    """The loop's view: the plan is scheduled as a PairSet, the next batch is empty, tallies still count."""
    state = ScheduleState(("a", "b", "c"), ("q1", "q2"))
    schedule = RoundRobin()
    plan = schedule.next_batch(state)
    after = advance(state, plan, [])
    assert isinstance(after.scheduled, PairSet) and len(after.scheduled) == 6
    assert list(schedule.next_batch(after)) == []
    assert tally(after).pairs_of == {"a": 4, "b": 4, "c": 4}
    assert ScheduleState(("a", "b"), ("q1",), scheduled=frozenset({make_pair("q1", "a", "b")})).scheduled == {
        make_pair("q1", "b", "a")
    }
