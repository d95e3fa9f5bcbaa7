"""load_config: walk a tournament config's parsed YAML, build judge.config's frozen dataclasses, and turn
every mistake into a ConfigError located by file, line and key path, with a hint.

All mistakes are found in one pass: each field is checked on its own (`Reader.check`), a failed one is noted
and replaced by a stand-in, and the problems are raised together at the end. A new key is one more `check`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlparse

from judge._hosts import is_loopback
from judge._yaml import load_yaml
from judge.arena.settings import ArenaConfig, read_arena
from judge.config import (
    ANSWER_FORMATS,
    BUILTIN_SETS,
    COMBINE_RULES,
    DEFAULT_LOCAL_MODEL,
    DEFAULT_MAX_ANSWER_CHARS,
    HOSTED,
    JUDGE_MAX_TOKENS,
    LOCAL_TIMEOUT,
    PROVIDERS,
    SCALES,
    TEMPLATES,
    ContestantConfig,
    JudgeConfig,
    PanelConfig,
    Prices,
    QuestionsConfig,
    RetryConfig,
    ScheduleConfig,
    TournamentConfig,
    builtin_question_set,
)
from judge.errors import ConfigError, InputError
from judge.providers.base import BatchOptions
from judge.providers.workers import auto_workers

T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _is_loopback(url: str) -> bool:
    return is_loopback(urlparse(url).hostname or "")


_TOP: tuple[str, ...] = ("name", "questions", "contestants", "judge", "schedule", "retries", "concurrency")
_TOP += ("rpm", "timeout", "seed", "prices", "arena", "human", "judges", "panel")
_MODEL_KEYS: tuple[str, ...] = (
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "path",
    "temperature",
    "max_tokens",
)
_MODEL_KEYS += ("system", "seed", "concurrency", "rpm", "timeout", "prices", "delay", "batch", "workers")
_MAX_WORKERS = 64  # child processes per endpoint (`workers:`)
_BATCH_LIMITS = {"openai": 50_000, "anthropic": 100_000}  # requests per provider batch
_JUDGE_KEYS = (*_MODEL_KEYS, "template", "combine", "scale", "answer_format", "name", "parse_retries")
_JUDGE_KEYS += ("max_reason_chars", "max_answer_chars", "strong_weight")
_MISSING = object()


def load_config(path: str | Path, env: Mapping[str, str]) -> TournamentConfig:
    """Read and check a tournament config; `env` supplies API-key variables (the CLI passes os.environ).

    Raises one ConfigError listing every problem found (`.problems`), each with its line and key path.
    """
    path = Path(path)
    doc = load_yaml(path)
    return Reader(path, doc.lines, env).tournament(doc.value)


class Reader:
    """Walks the parsed document, noting each mistake as a located ConfigError."""

    def __init__(self, path: Path, lines: Mapping[str, int], env: Mapping[str, str]) -> None:
        self.path, self.lines, self.env = path, lines, env
        self.base = path.resolve().parent
        self.problems: list[ConfigError] = []
        self.timeout_given = True  # whether the config sets a top-level timeout (tournament() reads it)

    def check(self, read: Callable[[], T], fallback: T) -> T:
        """The value `read` returns, or `fallback` after noting its ConfigError, so checking goes on."""
        try:
            return read()
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return fallback

    def fail(self, at: str, message: str, hint: str | None = None) -> ConfigError:
        line = self.lines.get(at)
        probe = at
        while line is None and probe:
            shorter = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe)
            probe = "" if shorter == probe else shorter  # a top-level key has nothing left to cut
            line = self.lines.get(probe)
        return ConfigError(message, path=self.path, line=line or 1, field=at or None, hint=hint)

    def mapping(self, value: Any, at: str, known: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(
                at, f"must be a mapping of keys, got {_kind(value)}", f"known keys: {', '.join(known)}"
            )
        for key in value:
            if key not in known:
                sub = f"{at}.{key}" if at else str(key)
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
                self.problems.append(self.fail(sub, f"unknown key '{key}'", hint))
        return {k: v for k, v in value.items() if k in known}

    def get(self, m: dict[str, Any], at: str, key: str, kind: str, default: Any = _MISSING) -> Any:
        sub = f"{at}.{key}" if at else key
        if key not in m or m[key] is None:
            if default is _MISSING:
                raise self.fail(sub, "is required")
            return default
        value = m[key]
        ok = {
            "str": isinstance(value, str) and value.strip() != "",
            "int": isinstance(value, int) and not isinstance(value, bool),
            "num": isinstance(value, int | float) and not isinstance(value, bool),
            "list": isinstance(value, list),
        }[kind]
        wanted = {"str": "a non-empty string", "int": "an integer", "num": "a number", "list": "a list"}[kind]
        if not ok:
            raise self.fail(sub, f"must be {wanted}, got {_kind(value)} {value!r}")
        return float(value) if kind == "num" else value

    def positive(self, m: dict[str, Any], at: str, key: str, kind: str, default: Any, low: float = 1) -> Any:
        value = self.get(m, at, key, kind, default)
        if value is not None and value < low:
            raise self.fail(f"{at}.{key}" if at else key, f"must be at least {low:g}, got {value!r}")
        return value

    def file(self, value: str, at: str, what: str) -> Path:
        resolved = (self.base / Path(value).expanduser()).resolve()
        if not resolved.is_file():
            raise self.fail(
                at,
                f"{what} '{value}' does not exist (looked for {resolved})",
                "paths are relative to the config file",
            )
        return resolved

    def tournament(self, doc: Any) -> TournamentConfig:
        empty: dict[str, Any] = {}
        m = self.check(lambda: self.mapping(doc if doc is not None else {}, "", _TOP), empty)
        name = self.check(lambda: self.name(m), "")
        top = {
            "concurrency": self.check(lambda: self.positive(m, "", "concurrency", "int", 4), 4),
            "rpm": self.check(lambda: self.positive(m, "", "rpm", "num", None, low=0.001), None),
            "timeout": self.check(lambda: self.positive(m, "", "timeout", "num", 120.0, low=0.001), 120.0),
        }
        self.timeout_given = "timeout" in m
        prices: dict[str, Prices] = {}
        listed = m.get("prices") or {}
        table = self.check(lambda: self.mapping(listed, "prices", tuple(listed)), empty)
        for model, spec in table.items():
            found = self.check(lambda: self.prices(spec, f"prices.{model}"), None)  # noqa: B023 - called at once
            if found is not None:
                prices[str(model)] = found
        nothing: list[Any] = []
        raw = self.check(lambda: self.get(m, "", "contestants", "list"), nothing)
        before = len(self.problems)
        contestants = tuple(self.contestant(c, f"contestants[{i}]", top, prices) for i, c in enumerate(raw))
        if len(self.problems) == before:  # duplicates are only worth checking among well-formed contestants
            self.check(lambda: self.check_contestants(contestants), None)
        from judge._panel_config import read_judges  # a panel's members are judges read by self.judge

        no_judges: tuple[JudgeConfig | None, tuple[JudgeConfig, ...], PanelConfig | None] = (None, (), None)
        judge, judges, panel = self.check(lambda: read_judges(self, m, top, prices), no_judges)
        schedule = self.check(lambda: self.schedule(m.get("schedule"), {c.name for c in contestants}), None)
        questions = self.check(lambda: self.questions(m.get("questions", _MISSING)), None)
        retries = self.check(lambda: self.retries(m.get("retries")), RetryConfig())
        seed = self.check(lambda: self.get(m, "", "seed", "int", 0), 0)
        arena = self.check(lambda: read_arena(self, m.get("arena")), ArenaConfig())
        human: tuple[Path, ...] = self.check(lambda: self.human(m.get("human")), ())
        if self.problems:
            raise ConfigError.several(self.problems)
        assert judge is not None and schedule is not None and questions is not None
        return TournamentConfig(
            path=self.path.resolve(),
            name=name,
            questions=questions,
            contestants=contestants,
            judge=judge,
            schedule=schedule,
            retries=retries,
            seed=seed,
            arena=arena,
            judges=judges,
            panel=panel,
            human=human,
            **top,
        )

    def name(self, m: dict[str, Any]) -> str:
        name: str = self.get(m, "", "name", "str")
        if not _NAME.match(name):
            raise self.fail(
                "name", f"'{name}' cannot be used as a directory name", "use letters, digits, '.', '_', '-'"
            )
        return name

    def human(self, spec: Any) -> tuple[Path, ...]:
        """Human vote logs (one path or a list), relative to the config file; each must exist."""
        if spec is None:
            return ()
        paths = [spec] if isinstance(spec, str) else spec
        if not isinstance(paths, list) or not paths:
            raise self.fail(
                "human", "must be a file or a list of files of human votes", "e.g. human: votes.csv"
            )
        out = []
        for i, raw in enumerate(paths):
            at = f"human[{i}]" if isinstance(spec, list) else "human"
            if not isinstance(raw, str) or not raw.strip():
                raise self.fail(at, f"must be a file path, got {_kind(raw)} {raw!r}")
            path = (self.base / raw).resolve()
            if not path.is_file():
                raise self.fail(at, f"no such file: {raw}", "paths are relative to the config file")
            out.append(path)
        return tuple(out)

    def check_contestants(self, contestants: tuple[ContestantConfig, ...]) -> None:
        if len(contestants) < 2:
            raise self.fail(
                "contestants", "at least two contestants are required", "add another model to compare"
            )
        seen: dict[str, int] = {}
        identities: dict[str, int] = {}
        for i, c in enumerate(contestants):
            if c.name in seen:
                raise self.fail(
                    f"contestants[{i}].name",
                    f"'{c.name}' is already used by contestants[{seen[c.name]}]",
                    "give each contestant its own name",
                )
            seen[c.name] = i
            ident = repr(sorted(c.identity().items()))
            if c.provider != "replay" and ident in identities:
                raise self.fail(
                    f"contestants[{i}]",
                    f"same model and settings as contestants[{identities[ident]}], so the same answers",
                    "change the model or a generation setting, or remove one",
                )
            identities[ident] = i

    def prices(self, spec: Any, at: str) -> Prices:
        m = self.mapping(spec, at, ("input", "output", "batch_discount", "batch_input", "batch_output"))
        discount = self.positive(m, at, "batch_discount", "num", 0.5, 0)
        if discount > 1:
            raise self.fail(f"{at}.batch_discount", f"must be between 0 and 1, got {discount:g}", "e.g. 0.5")
        return Prices(
            self.positive(m, at, "input", "num", _MISSING, 0),
            self.positive(m, at, "output", "num", _MISSING, 0),
            batch_discount=discount,
            batch_input=self.positive(m, at, "batch_input", "num", None, 0),
            batch_output=self.positive(m, at, "batch_output", "num", None, 0),
        )

    def base_urls(self, m: dict[str, Any], at: str, provider: str | None) -> tuple[str, ...]:
        """`base_url:` as one URL or a list of replicas of the same model (a pool)."""
        value = m.get("base_url")
        if value is None:
            return ()
        urls = value if isinstance(value, list) else [value]
        if not urls:
            raise self.fail(f"{at}.base_url", "is an empty list", "give one URL or a list of replica URLs")
        if provider is not None and provider not in HOSTED:
            raise self.fail(
                f"{at}.base_url",
                f"is not used by provider {provider}",
                "only openai and anthropic endpoints take base_url",
            )
        for i, url in enumerate(urls):
            where = f"{at}.base_url[{i}]" if isinstance(value, list) else f"{at}.base_url"
            if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
                raise self.fail(where, f"{url!r} is not an http(s) URL", 'e.g. "http://127.0.0.1:8000/v1"')
            if not urlparse(url).hostname:
                raise self.fail(where, f"'{url}' is not an http(s) URL", 'e.g. "http://127.0.0.1:8000/v1"')
            if url in urls[:i]:
                raise self.fail(where, f"'{url}' is listed twice", "list each replica once")
        return tuple(urls)

    def batch(self, m: dict[str, Any], at: str, provider: str, replicas: int) -> BatchOptions | None:
        """`batch: true` or `batch: {max_requests, poll_seconds, window}`: the provider's half-price API."""
        value = m.get("batch")
        if value is None or value is False:
            return None
        if provider not in _BATCH_LIMITS:
            raise self.fail(
                f"{at}.batch", f"provider {provider} has no batch API", "batch is for openai and anthropic"
            )
        if replicas > 1:
            raise self.fail(
                f"{at}.batch", "cannot go with a pool of base URLs", "give one base_url for batches"
            )
        if value is True:
            return BatchOptions(max_requests=min(BatchOptions.max_requests, _BATCH_LIMITS[provider]))
        b = self.mapping(value, f"{at}.batch", ("max_requests", "poll_seconds", "window"))
        limit = _BATCH_LIMITS[provider]
        most = self.positive(b, f"{at}.batch", "max_requests", "int", min(BatchOptions.max_requests, limit))
        if most > limit:
            raise self.fail(
                f"{at}.batch.max_requests", f"{provider} takes at most {limit:,} requests per batch"
            )
        window = self.get(b, f"{at}.batch", "window", "str", BatchOptions.window)
        if provider == "openai" and window != "24h":
            raise self.fail(
                f"{at}.batch.window", f"'{window}' is not offered", "OpenAI batches take window: 24h"
            )
        return BatchOptions(
            max_requests=most,
            poll_seconds=self.positive(
                b, f"{at}.batch", "poll_seconds", "num", BatchOptions.poll_seconds, 0.001
            ),
            window=window,
        )

    def model_fields(
        self, m: dict[str, Any], at: str, top: dict[str, Any], prices: dict[str, Prices]
    ) -> dict[str, Any]:
        """The model keys shared by contestants and the judge, each checked on its own."""
        provider = self.check(lambda: self.provider(m, at), None)
        model = self.check(lambda: self.get(m, at, "model", "str", None), None)
        if model is None and provider in HOSTED:
            self.problems.append(
                self.fail(f"{at}.model", f"is required for provider {provider}", "e.g. model: gpt-4o-mini")
            )
        urls: tuple[str, ...] = self.check(lambda: self.base_urls(m, at, provider), ())
        base_url = urls[0] if urls else None
        file = self.check(lambda: self.get(m, at, "path", "str", None), None)
        if provider == "replay" and file is None:
            self.problems.append(
                self.fail(
                    f"{at}.path",
                    "is required for provider replay",
                    "point it at an MT-Bench answer file (.jsonl)",
                )
            )
        if m.get("delay") is not None and provider not in (None, "echo"):
            self.problems.append(
                self.fail(
                    f"{at}.delay", f"is not used by provider {provider}", "delay is for the echo provider"
                )
            )
        if file is not None and provider not in (None, "replay", "local"):
            self.problems.append(
                self.fail(
                    f"{at}.path",
                    f"is not used by provider {provider}",
                    "path names a replay answer file or a local GGUF model",
                )
            )
        model = model or (DEFAULT_LOCAL_MODEL if provider == "local" else None)
        price = None
        if m.get("prices") is not None:
            price = self.check(lambda: self.prices(m["prices"], f"{at}.prices"), None)
        return {
            "provider": provider or "",
            "model": model,
            "base_url": base_url,
            "api_key_env": self.check(lambda: self.get(m, at, "api_key_env", "str", None), None),
            "api_key": None
            if provider is None
            else self.check(lambda: self.api_key(m, at, provider, urls), None),
            "path": None if file is None else self.check(lambda: self.file(file, f"{at}.path", "file"), None),
            "temperature": self.check(lambda: self.temperature(m, at), None),
            "max_tokens": self.check(lambda: self.positive(m, at, "max_tokens", "int", None), None),
            "system": self.check(lambda: self.get(m, at, "system", "str", None), None),
            "seed": self.check(lambda: self.get(m, at, "seed", "int", None), None),
            "concurrency": self.check(
                lambda: self.positive(m, at, "concurrency", "int", top["concurrency"]), top["concurrency"]
            ),
            "rpm": self.check(lambda: self.positive(m, at, "rpm", "num", top["rpm"], low=0.001), top["rpm"]),
            "timeout": self.check(
                lambda: self.positive(m, at, "timeout", "num", self.timeout_for(provider, top), low=0.001),
                top["timeout"],
            ),
            "prices": price if price is not None else prices.get(model or ""),
            "delay": self.check(lambda: self.positive(m, at, "delay", "num", 0.0, 0), 0.0),
            "replicas": urls if len(urls) > 1 else (),
            "batch": None
            if provider is None
            else self.check(lambda: self.batch(m, at, provider, len(urls)), None),
            "workers": self.check(lambda: self.workers(m, at, provider), 0),
        }

    def workers(self, m: dict[str, Any], at: str, provider: str | None) -> int:
        """`workers: N` or `workers: auto`: this endpoint's calls are made by N child processes."""
        value = m.get("workers")
        if value is None or value == 0:
            return 0
        hint = "workers: 3, or workers: auto (one per core but one)"
        if value == "auto":
            count = auto_workers()
        elif isinstance(value, int) and not isinstance(value, bool):
            count = value
            if not 0 <= count <= _MAX_WORKERS:
                raise self.fail(f"{at}.workers", f"must be between 0 and {_MAX_WORKERS}, got {value}", hint)
        else:
            raise self.fail(f"{at}.workers", f"must be a whole number or auto, got {value!r}", hint)
        if provider is not None and provider not in HOSTED:
            raise self.fail(
                f"{at}.workers",
                f"is not used by provider {provider}",
                "worker processes are for openai and anthropic endpoints",
            )
        if m.get("batch") not in (None, False):
            raise self.fail(
                f"{at}.workers", "cannot go with batch: a batch is one upload, not many calls", "drop one"
            )
        return count

    def timeout_for(self, provider: str | None, top: dict[str, Any]) -> float:
        """The default call timeout: the config's, else longer for the embedded model, which shares the
        machine's cores: on a busy machine its calls are slow, and a timed-out call is only computed again."""
        if provider == "local" and not self.timeout_given:
            return LOCAL_TIMEOUT
        return float(top["timeout"])

    def provider(self, m: dict[str, Any], at: str) -> str:
        provider: str = self.get(m, at, "provider", "str")
        if provider not in PROVIDERS:
            close = difflib.get_close_matches(provider, PROVIDERS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
            raise self.fail(
                f"{at}.provider", f"'{provider}' is unknown (known: {', '.join(PROVIDERS)})", hint
            )
        return provider

    def temperature(self, m: dict[str, Any], at: str) -> float | None:
        temperature: float | None = self.get(m, at, "temperature", "num", None)
        if temperature is not None and not 0 <= temperature <= 2:
            raise self.fail(f"{at}.temperature", f"must be between 0 and 2, got {temperature:g}")
        return temperature

    def api_key(self, m: dict[str, Any], at: str, provider: str, urls: tuple[str, ...]) -> str | None:
        var = self.get(m, at, "api_key_env", "str", None)
        if var is None:
            if provider not in HOSTED or (urls and all(_is_loopback(url) for url in urls)):
                return None
            var = HOSTED[provider]
        elif provider not in HOSTED:
            raise self.fail(f"{at}.api_key_env", f"is not used by provider {provider}")
        key = self.env.get(var, "")
        if not key:
            raise self.fail(
                f"{at}.api_key_env" if "api_key_env" in m else f"{at}.provider",
                f"the API key variable {var} is not set",
                f"export {var}=... before running (the key is never written anywhere)",
            )
        return key

    def contestant(
        self, spec: Any, at: str, top: dict[str, Any], prices: dict[str, Prices]
    ) -> ContestantConfig:
        empty: dict[str, Any] = {}
        m = self.check(lambda: self.mapping(spec, at, ("name", *_MODEL_KEYS)), empty)
        name = self.check(lambda: self.get(m, at, "name", "str").strip(), "")
        fields = self.model_fields(m, at, top, prices)
        if fields["model"] is None:
            fields["model"] = name
        return ContestantConfig(name=name, **fields)

    def judge(
        self,
        spec: Any,
        top: dict[str, Any],
        prices: dict[str, Prices],
        at: str = "judge",
        extra: tuple[str, ...] = (),
    ) -> JudgeConfig:
        """`judge:`, or one member of `judges:` (at = "judges[i]", extra = its further keys)."""
        given = spec if spec is not None else {"provider": "local"}
        empty: dict[str, Any] = {}
        m = self.check(lambda: self.mapping(given, at, (*_JUDGE_KEYS, *extra)), empty)
        if "provider" not in m:
            raise self.fail(f"{at}.provider", "is required", f"known providers: {', '.join(PROVIDERS)}")
        fields = self.model_fields(m, at, top, prices)
        fields["model"] = fields["model"] or fields["provider"]
        if fields["temperature"] is None:
            fields["temperature"] = 0.0
        options = {
            "combine": self.check(lambda: self.choice(m, at, "combine", "str", COMBINE_RULES, None), None),
            "scale": self.check(lambda: self.choice(m, at, "scale", "int", SCALES, 3), 3),
            "answer_format": self.check(
                lambda: self.choice(m, at, "answer_format", "str", ANSWER_FORMATS, None), None
            ),
            "name": self.check(lambda: self.get(m, at, "name", "str", None), None),
            "parse_retries": self.check(lambda: self.positive(m, at, "parse_retries", "int", 2, 0), 2),
            "max_reason_chars": self.check(
                lambda: self.positive(m, at, "max_reason_chars", "int", None), None
            ),
            "max_answer_chars": self.check(
                lambda: self.positive(m, at, "max_answer_chars", "int", DEFAULT_MAX_ANSWER_CHARS, 100),
                DEFAULT_MAX_ANSWER_CHARS,
            ),
            "strong_weight": self.check(lambda: self.positive(m, at, "strong_weight", "int", None, 1), None),
        }
        notes = self.judge_defaults(fields, options)
        if options["combine"] == "logprob" and options["answer_format"] != "token":
            self.problems.append(
                self.fail(
                    f"{at}.combine",
                    "'logprob' reads verdict probabilities, which needs answer_format: token",
                    "set answer_format: token, or pick conservative / score / single",
                )
            )
        template = self.check(lambda: self.template(m, at), None)
        return JudgeConfig(template=template, notes=notes, **options, **fields)

    @staticmethod
    def judge_defaults(fields: dict[str, Any], options: dict[str, Any]) -> tuple[str, ...]:
        """Fill in the verdict settings a config left out, in a form the judge can produce; say which.

        A local judge (a small embedded model) cannot be relied on to write a verdict line: it gets the token
        format (the verdict read from its first token's probabilities) and the logprob rule, which cancels a
        constant pull to the answer shown first. Every judge's free-text reply is bounded by max_tokens.
        """
        notes = []
        local = fields["provider"] == "local"
        if options["answer_format"] is None:
            options["answer_format"] = "token" if local else "marker"
            if local:
                notes.append("answer_format: token (the verdict read from the first token's probabilities)")
        if options["combine"] is None:
            token = options["answer_format"] == "token"
            options["combine"] = "logprob" if token and local else "conservative"
            if token and local:
                notes.append("combine: logprob (the mean preference of both orders)")
        if fields["max_tokens"] is None and options["answer_format"] != "token":
            fields["max_tokens"] = JUDGE_MAX_TOKENS
        return tuple(notes)

    def template(self, m: dict[str, Any], at: str = "judge") -> str | None:
        template: str | None = self.get(m, at, "template", "str", None)
        if template is not None and template not in TEMPLATES:
            template = str(
                self.file(template, f"{at}.template", f"not a built-in ({', '.join(TEMPLATES)}); file")
            )
        return template

    def choice(
        self, m: dict[str, Any], at: str, key: str, kind: str, known: tuple[Any, ...], default: Any
    ) -> Any:
        value = self.get(m, at, key, kind, default)
        if value is not None and value not in known:
            raise self.fail(f"{at}.{key}", f"'{value}' is unknown (known: {', '.join(map(str, known))})")
        return value

    def schedule(self, spec: Any, names: set[str]) -> ScheduleConfig:
        from judge.pairings import SCHEDULES, make_schedule  # the judging stage owns the names and options

        m = self.mapping({} if spec is None else spec, "schedule", tuple(spec or {}))
        kind = self.get(m, "schedule", "kind", "str", "round-robin")
        if kind not in SCHEDULES:
            close = difflib.get_close_matches(kind, list(SCHEDULES), n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
            raise self.fail("schedule.kind", f"'{kind}' is unknown (known: {', '.join(SCHEDULES)})", hint)
        options = {k: v for k, v in m.items() if k != "kind"}
        baseline = options.get("baseline")
        if baseline is not None and baseline not in names:
            known = ", ".join(sorted(names))
            raise self.fail("schedule.baseline", f"'{baseline}' is not a contestant (known: {known})")
        try:
            make_schedule(kind, **options)
        except InputError as exc:
            raise self.fail("schedule", exc.reason, exc.hint) from None
        return ScheduleConfig(kind, MappingProxyType(options))

    def retries(self, spec: Any) -> RetryConfig:
        m = self.mapping(
            spec if spec is not None else {}, "retries", ("attempts", "initial_wait", "max_wait", "jitter")
        )
        return RetryConfig(
            attempts=self.positive(m, "retries", "attempts", "int", 5),
            initial_wait=self.positive(m, "retries", "initial_wait", "num", 1.0, 0),
            max_wait=self.positive(m, "retries", "max_wait", "num", 60.0, 0),
            jitter=self.positive(m, "retries", "jitter", "num", 1.0, 0),
        )

    def questions(self, spec: Any) -> QuestionsConfig:
        if spec is _MISSING:
            raise self.fail(
                "questions", "is required", "e.g. questions: {path: mt_bench} (built-in: mt_bench, demo)"
            )
        if isinstance(spec, str):
            spec = {"path": spec}
        m = self.mapping(spec, "questions", ("path", "categories", "ids", "sample", "limit", "turns"))
        raw = self.get(m, "questions", "path", "str")
        builtin = builtin_question_set(raw)
        local = (self.base / raw).resolve()
        path = local if local.is_file() or builtin is None else builtin
        if not path.is_file():
            raise self.fail(
                "questions.path",
                f"question file '{raw}' does not exist (looked for {local})",
                f"paths are relative to the config file; built-in sets: {', '.join(BUILTIN_SETS)}",
            )
        lists = {}
        for key in ("categories", "ids"):
            items = self.get(m, "questions", key, "list", None)
            if items is not None:
                if not items or not all(isinstance(x, str | int) and not isinstance(x, bool) for x in items):
                    raise self.fail(f"questions.{key}", "must be a non-empty list of names")
                items = tuple(str(x) for x in items)
            lists[key] = items
        return QuestionsConfig(
            path=path,
            categories=lists["categories"],
            ids=lists["ids"],
            sample=self.positive(m, "questions", "sample", "int", None),
            limit=self.positive(m, "questions", "limit", "int", None),
            turns=self.positive(m, "questions", "turns", "int", None),
            config_path=self.path,
            line=self.lines.get("questions"),
        )


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )
