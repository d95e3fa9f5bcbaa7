"""The `arena:` section of a tournament config: limits, sampler, voters, categories and moderation.

Read by judge._config_reader like every other section, so a mistake is reported with its file, line and key.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from judge.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from judge._config_reader import Reader

SAMPLERS: Final = ("uniform", "active")
_KEYS: Final = (
    "voters",
    "sampler",
    "max_prompt_chars",
    "max_conversation_chars",
    "max_turns",
    "max_tokens",
    "prompts_per_minute",
    "open_battles",
    "battle_ttl",
    "categories",
    "moderation",
    "bootstrap",
)
_VOTER_NAME: Final = re.compile(r"^[\w.@+-]{1,64}$")
MIN_TOKEN_CHARS: Final = 12


@dataclass(frozen=True)
class Moderation:
    """Who may refuse a prompt before any contestant sees it: a command, or a moderation endpoint."""

    command: tuple[str, ...] | None = None  # gets the prompt on stdin; a non-zero exit refuses it
    url: str | None = None  # an OpenAI-compatible base URL offering /moderations
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 10.0


@dataclass(frozen=True)
class ArenaConfig:
    """Limits and options of `judge arena`; the defaults suit a private arena on a small machine."""

    voters: Mapping[str, str] | None = field(default=None, repr=False)  # token -> name; None: anonymous
    sampler: str = "uniform"  # or "active": pairs whose order is least certain, more often
    max_prompt_chars: int = 4000
    max_conversation_chars: int = 24000  # every prompt and reply of a battle, both sides
    max_turns: int = 6
    max_tokens: int = 512  # per reply; a contestant's own smaller max_tokens wins
    prompts_per_minute: float = 12.0  # per voter, over new battles and further turns
    open_battles: int = 2  # unvoted battles a voter may hold at once
    battle_ttl: float = 3600.0  # seconds an unvoted battle is kept before it is dropped
    categories: Mapping[str, re.Pattern[str]] = field(default_factory=lambda: MappingProxyType({}))
    moderation: Moderation | None = None
    bootstrap: int = 200  # rounds behind the live leaderboard's intervals


def read_arena(reader: Reader, spec: Any) -> ArenaConfig:
    """The checked `arena:` section (the defaults when it is absent)."""
    if spec is None:
        return ArenaConfig()
    m = reader.mapping(spec, "arena", _KEYS)
    sampler = reader.get(m, "arena", "sampler", "str", "uniform")
    if sampler not in SAMPLERS:
        raise reader.fail("arena.sampler", f"'{sampler}' is unknown (known: {', '.join(SAMPLERS)})")
    voters_file = reader.get(m, "arena", "voters", "str", None)
    voters = None
    if voters_file is not None:
        voters = MappingProxyType(read_voters(reader.file(voters_file, "arena.voters", "voters file")))
    categories = {}
    raw_categories = m.get("categories") or {}
    for name, pattern in reader.mapping(raw_categories, "arena.categories", tuple(raw_categories)).items():
        at = f"arena.categories.{name}"
        if not isinstance(pattern, str) or not pattern:
            raise reader.fail(at, "must be a regular expression (text)")
        try:
            categories[str(name)] = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise reader.fail(at, f"is not a valid regular expression ({exc})") from None
    return ArenaConfig(
        voters=voters,
        sampler=sampler,
        max_prompt_chars=reader.positive(m, "arena", "max_prompt_chars", "int", 4000),
        max_conversation_chars=reader.positive(m, "arena", "max_conversation_chars", "int", 24000),
        max_turns=reader.positive(m, "arena", "max_turns", "int", 6),
        max_tokens=reader.positive(m, "arena", "max_tokens", "int", 512),
        prompts_per_minute=reader.positive(m, "arena", "prompts_per_minute", "num", 12.0, low=0.01),
        open_battles=reader.positive(m, "arena", "open_battles", "int", 2),
        battle_ttl=reader.positive(m, "arena", "battle_ttl", "num", 3600.0, low=1),
        categories=MappingProxyType(categories),
        moderation=_moderation(reader, m.get("moderation")),
        bootstrap=reader.positive(m, "arena", "bootstrap", "int", 200, low=0),
    )


def _moderation(reader: Reader, spec: Any) -> Moderation | None:
    if spec is None:
        return None
    at = "arena.moderation"
    m = reader.mapping(spec, at, ("command", "url", "model", "api_key_env", "timeout"))
    timeout = reader.positive(m, at, "timeout", "num", 10.0, low=0.001)
    command = reader.get(m, at, "command", "str", None)
    url = reader.get(m, at, "url", "str", None)
    if (command is None) == (url is None):
        raise reader.fail(at, "needs exactly one of 'command' or 'url'")
    if command is not None:
        return Moderation(command=tuple(shlex.split(command)), timeout=timeout)
    key_env = reader.get(m, at, "api_key_env", "str", None)
    key = None
    if key_env is not None:
        key = reader.env.get(key_env)
        if not key:
            raise reader.fail(f"{at}.api_key_env", f"the environment variable {key_env} is not set")
    return Moderation(url=url, model=reader.get(m, at, "model", "str", None), api_key=key, timeout=timeout)


def read_voters(path: Path) -> dict[str, str]:
    """token -> voter name from a file of `name:token` lines (# comments and blank lines skipped)."""
    tokens: dict[str, str] = {}
    names: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the voters file ({exc})", path=path) from None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, token = (part.strip() for part in text.partition(":"))
        if not sep or not _VOTER_NAME.match(name):
            raise ConfigError(
                "expected `name:token` with a name of 1-64 letters, digits or . _ @ + -",
                path=path,
                line=number,
            )
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise ConfigError(
                f"the token of {name!r} is shorter than {MIN_TOKEN_CHARS} characters or has spaces",
                path=path,
                line=number,
                hint="python -c 'import secrets; print(secrets.token_urlsafe(18))' makes one",
            )
        if name in names or token in tokens:
            raise ConfigError(f"voter {name!r} or its token appears twice", path=path, line=number)
        names.add(name)
        tokens[token] = name
    if not tokens:
        raise ConfigError("the voters file lists no voter", path=path)
    return tokens
