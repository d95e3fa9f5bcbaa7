"""judge: LLM-as-judge tournaments rated like Chatbot Arena.

The names below are the supported library surface. They load on first use (PEP 562), so `import judge` and the
CLI stay fast: pandas is imported only when a battle log is touched. The command functions live in `judge.api`
(`api.rate`, `api.validate`, ...); several share their names with modules, so they are not re-exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from judge.api import RATE_BY, RateResult, parse_anchor, rate, rate_json
    from judge.battles import (
        BATTLE_COLUMNS,
        FORMAT_VERSION,
        FORMATS,
        SOURCES,
        TIES,
        WINNERS,
        Battle,
        FileCounts,
        LoadedBattles,
        load_battles,
        normalize_frame,
        to_frame,
    )
    from judge.errors import (
        ConfigError,
        InputError,
        JudgeError,
        MissingDependency,
        ProviderError,
        RegressionFound,
        StoreError,
    )

__all__ = [
    "BATTLE_COLUMNS",
    "FORMATS",
    "FORMAT_VERSION",
    "RATE_BY",
    "SOURCES",
    "TIES",
    "WINNERS",
    "Battle",
    "ConfigError",
    "FileCounts",
    "InputError",
    "JudgeError",
    "LoadedBattles",
    "MissingDependency",
    "ProviderError",
    "RateResult",
    "RegressionFound",
    "StoreError",
    "load_battles",
    "normalize_frame",
    "parse_anchor",
    "rate",
    "rate_json",
    "to_frame",
]

_HOME = {
    "judge.api": ("RATE_BY", "RateResult", "parse_anchor", "rate", "rate_json"),
    "judge.battles": (
        "BATTLE_COLUMNS",
        "FORMATS",
        "FORMAT_VERSION",
        "SOURCES",
        "TIES",
        "WINNERS",
        "Battle",
        "FileCounts",
        "LoadedBattles",
        "load_battles",
        "normalize_frame",
        "to_frame",
    ),
    "judge.errors": (
        "ConfigError",
        "InputError",
        "JudgeError",
        "MissingDependency",
        "ProviderError",
        "RegressionFound",
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
