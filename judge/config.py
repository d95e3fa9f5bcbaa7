"""Tournament config as frozen dataclasses, checked before any model is called or anything is written.

judge._config_reader.load_config reads the YAML into them; every mistake becomes a ConfigError naming the
file, the line, the key path (e.g. `contestants[2].provider`) and a hint. API keys are resolved there from
environment variables passed in by the caller and are kept out of every repr, hash and file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from judge.arena.settings import ArenaConfig
from judge.providers.base import Endpoint

PROVIDERS = ("anthropic", "echo", "local", "openai", "replay")
HOSTED = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DEFAULT_LOCAL_MODEL = "smollm2-135m"
BUILTIN_SETS = {"mt_bench": "mt_bench.jsonl", "demo": "demo.yaml"}
COMBINE_RULES = ("conservative", "score", "sum", "single", "logprob")  # judge.verdicts.COMBINE_RULES
# judge.prompts.BUILTIN_TEMPLATES
TEMPLATES = ("pairwise", "pairwise_reference", "multi_turn", "multi_turn_reference", "compact")
SCALES = (3, 5)
ANSWER_FORMATS = ("marker", "json", "token")
PANEL_RULES = ("pool", "majority", "weighted")  # judge.panel
JUDGE_MAX_TOKENS = 1024  # a judge's reply is bounded unless its config says otherwise (token format: 1)


@dataclass(frozen=True)
class Prices:
    """US dollars per million input and output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return ((input_tokens or 0) * self.input + (output_tokens or 0) * self.output) / 1e6


@dataclass(frozen=True)
class QuestionsConfig:
    """Which questions: a file (or a built-in set), then filters applied in this order."""

    path: Path
    categories: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    sample: int | None = None  # a seeded random sample of this size
    limit: int | None = None  # then the first `limit`
    turns: int | None = None  # ask and judge only the first `turns` turns of each question
    config_path: Path | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ModelConfig:
    """Where a model lives and how it is called; shared by contestants and the judge."""

    provider: str
    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    path: Path | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    system: str | None = None
    seed: int | None = None
    concurrency: int = 4
    rpm: float | None = None
    timeout: float = 120.0
    prices: Prices | None = None
    delay: float = 0.0  # echo only: seconds each fake call takes (demos, resume tests)

    def endpoint(self) -> Endpoint:
        path = None if self.path is None else str(self.path)
        return Endpoint(
            self.provider, self.model, self.base_url, self.api_key, path, self.timeout, delay_s=self.delay
        )

    def identity(self) -> dict[str, Any]:
        """What makes two models' answers the same: hashed into answer keys (never the key or limits)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "base_url": self.base_url,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "system": self.system,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class ContestantConfig(ModelConfig):
    name: str = ""


@dataclass(frozen=True)
class JudgeConfig(ModelConfig):
    """The judge model plus how it judges (read by the judging stage: prompts, verdicts)."""

    template: str | None = None  # a built-in template name or a .j2 path; None picks one per turn
    combine: str = "conservative"  # how both orders' verdicts combine (judge.verdicts.CombineRule)
    strong_weight: int | None = None  # weight of a >> verdict for `score` (3) and `sum` (2); None: default
    scale: int = 3  # 3 (A>B, tie, B>A) or 5 levels (adds A>>B, B>>A)
    answer_format: str = "marker"
    name: str | None = None  # the `judge` column of the battle log; defaults to the model name
    parse_retries: int = 2  # unreadable outputs are asked again (fresh seed) this many times, then a failure
    max_reason_chars: int | None = (
        None  # json format: cap the stated reason (grammar-enforced where supported)
    )
    budget_calls: int | None = None  # a panel member's own cap (judges[].budget), over its first pairs
    budget_usd: float | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)  # settings chosen for this judge, to announce


@dataclass(frozen=True)
class PanelConfig:
    """How several judges' verdicts become the panel's battles (judge.panel); weights by judge name."""

    combine: str = "pool"
    weights: Mapping[str, float] | None = None
    tie_margin: float = 0.0  # weighted: a weighted vote within this of zero is a tie
    name: str = "panel"  # the `judge` column of majority / weighted battles


@dataclass(frozen=True)
class ScheduleConfig:
    """A pairing schedule from judge.pairings.SCHEDULES and its options, checked by building it once."""

    kind: str = "round-robin"
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def baseline(self) -> str | None:
        value = self.options.get("baseline")
        return None if value is None else str(value)


@dataclass(frozen=True)
class RetryConfig:
    """Tries per call and the backoff between them (seconds); tests set the waits to zero."""

    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0


@dataclass(frozen=True)
class TournamentConfig:
    path: Path
    name: str
    questions: QuestionsConfig
    contestants: tuple[ContestantConfig, ...]
    judge: JudgeConfig
    schedule: ScheduleConfig = ScheduleConfig()
    retries: RetryConfig = RetryConfig()
    concurrency: int = 4
    rpm: float | None = None
    timeout: float = 120.0
    seed: int = 0
    arena: ArenaConfig = ArenaConfig()  # `judge arena` only
    judges: tuple[JudgeConfig, ...] = ()  # a panel (`judges:`); `judge` is then its first member
    panel: PanelConfig | None = None  # set whenever `judges:` is given

    @property
    def panel_judges(self) -> tuple[JudgeConfig, ...]:
        """Every judge of the tournament: the panel's members, or the one judge."""
        return self.judges or (self.judge,)

    def contestant(self, name: str) -> ContestantConfig:
        return next(c for c in self.contestants if c.name == name)


def builtin_question_set(name: str) -> Path | None:
    """The packaged file of a built-in question set (mt_bench, demo), or None."""
    if name not in BUILTIN_SETS:
        return None
    return Path(str(resources.files("judge._question_sets").joinpath(BUILTIN_SETS[name])))
