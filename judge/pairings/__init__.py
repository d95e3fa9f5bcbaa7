"""Pairings: which two contestants meet on which question, batch by batch. Pure: no I/O, no clock.

pairs.py holds the pair and its compact forms (a plan, the set of pairs scheduled); base.py the state a
schedule sees, the Schedule protocol, round-robin and baseline; state.py the step between batches that the
tournament loop and the schedule benchmark share (advance), plus budgets; swiss.py, adaptive.py,
sequential.py (head-to-head) and placement.py the kinds that read the ratings so far; registry.py their
config names and make_schedule, on top of them all (no module imports back into one that imports it). The
heavier kinds load on first use, so importing this package stays light.
"""

from judge.pairings.base import Baseline, RoundRobin, Schedule, ScheduleState
from judge.pairings.pairs import Pair, PairPlan, PairSet, make_pair
from judge.pairings.registry import SCHEDULES, make_schedule

__all__ = [
    "SCHEDULES",
    "Baseline",
    "Pair",
    "PairPlan",
    "PairSet",
    "RoundRobin",
    "Schedule",
    "ScheduleState",
    "make_pair",
    "make_schedule",
]
