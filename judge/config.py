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
from judge.providers.base import BatchOptions, Endpoint

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
LOCAL_TIMEOUT = 900.0  # seconds per call to the embedded model when the config sets no timeout
JUDGE_MAX_TOKENS = 1024  # a judge's reply is bounded unless its config says otherwise (token format: 1)
DEFAULT_MAX_ANSWER_CHARS = 20_000  # about 5,000 tokens; MT-Bench's longest recorded answers are under 6,000


@dataclass(frozen=True)
class Prices:
    """US dollars per million input and output tokens, live and through the provider's batch API."""

    input: float
    output: float
    batch_discount: float = 0.5  # batch price = live price x (1 - discount), unless given explicitly
    batch_input: float | None = None
    batch_output: float | None = None

    def cost(self, input_tokens: int | None, output_tokens: int | None, *, batch: bool = False) -> float:
        per_in, per_out = self.input, self.output
        if batch:
            keep = 1.0 - self.batch_discount
            per_in = self.batch_input if self.batch_input is not None else per_in * keep
            per_out = self.batch_output if self.batch_output is not None else per_out * keep
        return ((input_tokens or 0) * per_in + (output_tokens or 0) * per_out) / 1e6


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
    replicas: tuple[str, ...] = ()  # `base_url:` given as a list: a pool (base_url is its first entry)
    batch: BatchOptions | None = None
    workers: int = 0  # child processes that make this endpoint's calls (judge.providers.workers); 0: none

    def endpoint(self) -> Endpoint:
        path = None if self.path is None else str(self.path)
        return Endpoint(
            self.provider,
            self.model,
            self.base_url,
            self.api_key,
            path,
            self.timeout,
            delay_s=self.delay,
            replicas=self.replicas,
            batch=self.batch,
            workers=self.workers,
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
    # Longer answers are cut in judge prompts (the cut is marked there and counted): a runaway 5 MB answer
    # would otherwise go whole into every prompt it appears in.
    max_answer_chars: int = DEFAULT_MAX_ANSWER_CHARS


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
    human: tuple[Path, ...] = ()  # human vote logs on the same questions: judge run adds PPI ratings
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
