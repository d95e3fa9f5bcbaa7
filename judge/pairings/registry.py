"""The kinds of schedule by their config names, and building one from its config options.

The heavier kinds (and the wrappers, which read ratings with pandas) are imported on first use, so that
importing judge.pairings stays light. No pairings module imports this one: it sits on top of them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from judge.errors import InputError
from judge.pairings.base import Baseline, RoundRobin, Schedule


def _lazy(module: str, name: str) -> Callable[..., Schedule]:
    """A factory importing its module on use."""

    def build(**options: Any) -> Schedule:
        factory: Callable[..., Schedule] = getattr(importlib.import_module(module), name)
        return factory(**options)

    return build


SCHEDULES: Final[Mapping[str, Callable[..., Schedule]]] = MappingProxyType(
    {
        "round-robin": RoundRobin,
        "baseline": Baseline,
        "swiss": _lazy("judge.pairings.swiss", "Swiss"),
        "adaptive": _lazy("judge.pairings.adaptive", "Adaptive"),
        "head-to-head": _lazy("judge.pairings.sequential", "HeadToHead"),
    }
)


def make_schedule(kind: str, **options: Any) -> Schedule:
    """Build a schedule from its config name and options, with a clear error for unknown names or options."""
    factory = SCHEDULES.get(kind)
    if factory is None:
        raise InputError(f"unknown pairing {kind!r} (known: {', '.join(sorted(SCHEDULES))})")
    shared = {key: options.pop(key) for key in ("budget", "place_new") if key in options}
    try:
        schedule = factory(**options)
    except TypeError as exc:
        raise InputError(f"pairing {kind!r}: bad options {sorted(options)}: {exc}") from exc
    return wrap(schedule, **shared) if shared else schedule


def wrap(schedule: Schedule, *, budget: Any = None, place_new: Any = False) -> Schedule:
    """Apply the options every kind accepts: `place_new: true` and `budget: {judge_calls: N, usd: X}`."""
    from judge.pairings.placement import Placement
    from judge.pairings.state import Budget

    if not isinstance(place_new, bool):
        raise InputError(f"schedule: place_new must be true or false, not {place_new!r}")
    if place_new:
        schedule = Placement(schedule)
    if budget is None:
        return schedule
    if not isinstance(budget, Mapping):
        raise InputError(f"schedule: budget must be a mapping like {{judge_calls: 1000}}, not {budget!r}")
    unknown = sorted(set(budget) - {"judge_calls", "usd"})
    if unknown:
        raise InputError(
            f"schedule budget: unknown key(s) {', '.join(map(str, unknown))} (known: judge_calls, usd)"
        )
    return Budget(schedule, judge_calls=budget.get("judge_calls"), usd=budget.get("usd"))
