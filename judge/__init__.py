"""judge: LLM-as-judge tournaments rated like Chatbot Arena.

The names below are the supported library surface. They load on first use (PEP 562), so `import judge` and the
CLI stay fast: pandas is imported only when a battle log is touched. The command functions live in `judge.api`
(`api.rate`, `api.validate`, ...); several share their names with modules, so only `run` and `rate` are
re-exported here, beside the battle log, the rating engine and the errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from judge.api import (
        RATE_BY,
        RateResult,
        RunResult,
        demo_config,
        load_config,
        parse_anchor,
        rate,
        rate_json,
        run,
    )
    from judge.battles import (
        BATTLE_COLUMNS,
        FORMAT_VERSION,
        FORMATS,
        SOURCES,
        STYLE_COUNT_COLUMNS,
        TIES,
        VERDICTS_AS_SHOWN,
        WINNERS,
        Battle,
        FileCounts,
        LoadedBattles,
        load_battles,
        normalize_frame,
        to_frame,
    )
    from judge.errors import (
        BatchesPending,
        ConfigError,
        IncompleteRun,
        InputError,
        JudgeError,
        MissingDependency,
        ProviderError,
        RegressionFound,
        RunLocked,
        StoreError,
    )
    from judge.ratings import BTFit, bootstrap_ratings, fit_bt, leaderboard, leaderboards_by, online_elo

__all__ = [
    "BATTLE_COLUMNS",
    "FORMATS",
    "FORMAT_VERSION",
    "RATE_BY",
    "SOURCES",
    "STYLE_COUNT_COLUMNS",
    "TIES",
    "VERDICTS_AS_SHOWN",
    "WINNERS",
    "BTFit",
    "BatchesPending",
    "Battle",
    "ConfigError",
    "FileCounts",
    "IncompleteRun",
    "InputError",
    "JudgeError",
    "LoadedBattles",
    "MissingDependency",
    "ProviderError",
    "RateResult",
    "RegressionFound",
    "RunLocked",
    "RunResult",
    "StoreError",
    "bootstrap_ratings",
    "demo_config",
    "fit_bt",
    "leaderboard",
    "leaderboards_by",
    "load_battles",
    "load_config",
    "normalize_frame",
    "parse_anchor",
    "rate",
    "online_elo",
    "rate_json",
    "run",
    "to_frame",
]

_HOME = {
    "judge.api": (
        "RATE_BY",
        "RateResult",
        "RunResult",
        "demo_config",
        "load_config",
        "parse_anchor",
        "rate",
        "rate_json",
        "run",
    ),
    "judge.ratings": ("BTFit", "bootstrap_ratings", "fit_bt", "leaderboard", "leaderboards_by", "online_elo"),
    "judge.battles": (
        "BATTLE_COLUMNS",
        "FORMATS",
        "FORMAT_VERSION",
        "SOURCES",
        "STYLE_COUNT_COLUMNS",
        "TIES",
        "VERDICTS_AS_SHOWN",
        "WINNERS",
        "Battle",
        "FileCounts",
        "LoadedBattles",
        "load_battles",
        "normalize_frame",
        "to_frame",
    ),
    "judge.errors": (
        "BatchesPending",
        "ConfigError",
        "IncompleteRun",
        "InputError",
        "JudgeError",
        "MissingDependency",
        "ProviderError",
        "RegressionFound",
        "RunLocked",
        "StoreError",
    ),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'judge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
