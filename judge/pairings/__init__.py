"""Pairings: which two contestants meet on which question, batch by batch. Pure: no I/O, no clock.

base.py holds the pair, the state a schedule sees, the Schedule protocol, round-robin, baseline and the
registry of kinds; state.py the step between batches that the tournament loop and the schedule benchmark share
(advance), plus budgets; swiss.py, adaptive.py, sequential.py (head-to-head) and placement.py the kinds that
read the ratings so far. The heavier kinds load on first use, so importing this package stays light.
"""

from judge.pairings.base import (
    SCHEDULES,
    Baseline,
    Pair,
    RoundRobin,
    Schedule,
    ScheduleState,
    make_pair,
    make_schedule,
)

__all__ = [
    "SCHEDULES",
    "Baseline",
    "Pair",
    "RoundRobin",
    "Schedule",
    "ScheduleState",
    "make_pair",
    "make_schedule",
]
