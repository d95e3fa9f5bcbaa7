"""Plain orchestration functions behind each command: `judge X` parses flags, calls api.X, renders the result.

A notebook calling these runs the same code as the command line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict

from judge._config_reader import load_config as load_config  # public as judge.load_config
from judge.errors import BatchesPending

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pandas as pd

    from judge.answers import AnswerProgress, AnswersResult
    from judge.arena.server import ArenaServer
    from judge.battles import FileCounts
    from judge.compare import Comparison
    from judge.config import TournamentConfig
    from judge.demo.experts import ExpertComparison
    from judge.judging import JudgeProgress
    from judge.lock import Holder
    from judge.questions import Question
    from judge.ratings.ppi import PPIResult
    from judge.redaction import Redactor
    from judge.store import BatchRecord, Store, StoredJudgement, Usage
    from judge.tournament import TournamentOutcome
    from judge.validate import ValidationReport
    from judge.validate.panel import PanelValidation
    from judge.vote import VoteServer
    from judge.vote.summary import Summary as VoteSummary


def report(run_dir: str | Path, *, battles: pd.DataFrame | None = None) -> Path:
    """Write RUN_DIR/report.html from a results directory; returns its path. `battles`: the run's battle
    frame when the caller holds it (then battles.jsonl is not read back)."""
    from judge.report import write_report  # jinja2 and the charts load only for this command

    return write_report(run_dir, battles)


def compare(
    baseline_dir: str | Path,
    candidate_dir: str | Path,
    *,
    watch: Collection[str] | None = None,
    margin: float = 0.0,
    rounds: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> Comparison:
    """Compare two results directories (see judge.compare); the caller decides what a regression means."""
    import dataclasses

    from judge.compare import compare_battles, scale_notes
    from judge.report import load_run_dir

    baseline = load_run_dir(baseline_dir, details=False)
    candidate = load_run_dir(candidate_dir, details=False)
    result = compare_battles(
        baseline.battles,
        candidate.battles,
        baseline_ranks={row.model: row.rank for row in baseline.leaderboard.rows},
        candidate_ranks={row.model: row.rank for row in candidate.leaderboard.rows},
        watch=watch,
        margin=margin,
        rounds=rounds,
        seed=seed,
        ci=ci,
    )
    notes = scale_notes({"baseline": baseline.judge, "candidate": candidate.judge})
    return dataclasses.replace(result, notes=notes)


def validate(
    human: Sequence[str | Path],
    judge: Sequence[str | Path] = (),
    *,
    by: Literal["turn", "category"] = "turn",
    format: str | None = None,
    exclude_voters: Sequence[str] = (),
    answers: Sequence[str | Path] = (),
    judge_model: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    style: Sequence[str] | None = None,
) -> ValidationReport:
    """Load human (and judge) battle logs and compare them (see judge.validate and docs/validate.md).

    style: also compare the style-controlled boards (needs a judge log)."""
    from judge.battles import load_battles
    from judge.errors import InputError
    from judge.validate import validate_battles
    from judge.validate.agreement import drop_voters
    from judge.validate.biases import attach_lengths
    from judge.validate.lengths import load_answer_lengths

    if not human:
        raise InputError("no human battle log given", hint="pass one or more --human FILE")
    human_frame = drop_voters(load_battles(human, format=format).frame, exclude_voters)
    judge_frame = load_battles(judge, format=format).frame if judge else None
    if answers:
        lengths = load_answer_lengths(answers)
        human_frame = attach_lengths(human_frame, lengths)
        judge_frame = None if judge_frame is None else attach_lengths(judge_frame, lengths)
    if style is not None and judge_frame is None:
        raise InputError("--style compares the judge's and the humans' boards: give --judge FILE too")
    return validate_battles(
        human_frame, judge_frame, by=by, bootstrap=bootstrap, seed=seed, self_name=judge_model, style=style
    )


def judge_logs(judge: Sequence[str | Path], *, format: str | None = None) -> pd.DataFrame:
    """Judge battle logs as one frame; a file whose rows name no judge is named after the file (its stem)."""
    import pandas as pd

    from judge.battles import load_battles

    frames = []
    for path in judge:
        frame = load_battles(path, format=format).frame
        frame["judge"] = frame["judge"].fillna(Path(path).stem)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def validate_panel(
    human: Sequence[str | Path],
    judge: Sequence[str | Path],
    *,
    format: str | None = None,
    exclude_voters: Sequence[str] = (),
    folds: int = 5,
    bootstrap: int = 1000,
    seed: int = 0,
) -> PanelValidation:
    """Several judges (and their majority and weighted panels) against human votes (judge.validate.panel)."""
    from judge.battles import load_battles
    from judge.errors import InputError
    from judge.validate.agreement import drop_voters
    from judge.validate.panel import validate_panel as validate

    if not human:
        raise InputError("no human battle log given", hint="pass one or more --human FILE")
    human_frame = drop_voters(load_battles(human, format=format).frame, exclude_voters)
    return validate(
        human_frame, judge_logs(judge, format=format), folds=folds, bootstrap=bootstrap, seed=seed
    )


RATE_BY = ("category", "language", "turn", "judge", "source")


class _LeaderboardOptionsIn(TypedDict):
    """What the run's three boards share."""

    files: tuple[FileCounts, ...]
    bootstrap: int
    seed: int
    ci: Literal["bootstrap", "sandwich", "none"]


class _LeaderboardOptions(TypedDict):
    method: Literal["bt", "elo"]
    bootstrap: int
    seed: int
    cluster: Literal["auto", "battle", "question"]
    ci: Literal["bootstrap", "sandwich", "none"]
    anchor: tuple[str, float] | None
    ties: str
    style: tuple[str, ...] | None
    baseline: str | None


@dataclass(frozen=True)
class RateResult:
    """What `rate` computed: one leaderboard, or with `by` one per group, plus how the input was read."""

    method: str
    bootstrap: int  # rounds behind the intervals (0 when ci is not "bootstrap")
    n_battles: int
    leaderboard: pd.DataFrame | None  # None when rated by group
    by: str | None = None
    groups: dict[str, pd.DataFrame] = field(default_factory=dict)
    group_battles: dict[str, int] = field(default_factory=dict)
    files: tuple[FileCounts, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)  # left out by rate itself, e.g. "no category"
    cluster: str = "battle"  # the unit the bootstrap resampled: "battle" or "question"
    too_small: dict[str, str] = field(default_factory=dict)  # group -> why its board is too small to read
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group -> models rated elsewhere only


def parse_anchor(text: str) -> tuple[str, float]:
    """MODEL=RATING (the last '=' splits, so model names may contain '=')."""
    from judge.errors import InputError

    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise InputError(f"--anchor must look like MODEL=RATING, got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        raise InputError(f"--anchor rating must be a number, got {value!r}") from None


def rate(
    paths: str | Path | Sequence[str | Path],
    *,
    format: str | None = None,
    method: Literal["bt", "elo"] = "bt",
    bootstrap: int = 1000,
    seed: int = 0,
    cluster: Literal["auto", "battle", "question"] = "auto",
    anchor: tuple[str, float] | None = None,
    by: str | None = None,
    ties: str = "half",
    ci: Literal["bootstrap", "sandwich", "none"] = "bootstrap",
    include_non_anony: bool = False,
    style: Sequence[str] | None = None,
    baseline: str | None = None,
) -> RateResult:
    """Load battle logs and rate the models in them (all checks happen before any fitting).

    cluster="auto" resamples whole questions when any question_id occurs in more than one battle (judge logs,
    MT-Bench votes) and single battles otherwise (Arena dumps); groups (`by`) use the unit of the whole log.
    style: control for these style features (judge.ratings.STYLE_FEATURES); baseline: add each model's
    predicted win rate against this model.
    """
    from judge.battles import load_battles
    from judge.errors import InputError

    if by is not None and by not in RATE_BY:
        raise InputError(f"cannot rate by {by!r} (choose from {', '.join(RATE_BY)})")
    loaded = load_battles(paths, format=format, include_non_anony=include_non_anony)
    frame = loaded.frame
    if len(frame) == 0:
        left_out = ", ".join(f"{reason}: {n}" for reason, n in loaded.excluded.items())
        hint = "--include-non-anony keeps them" if "non-anonymous" in left_out else None
        message = f"no battles left to rate ({loaded.rows_read} read, all left out: {left_out})"
        raise InputError(message, hint=hint)
    return rate_frame(
        frame,
        files=loaded.files,
        method=method,
        bootstrap=bootstrap,
        seed=seed,
        cluster=cluster,
        anchor=anchor,
        by=by,
        ties=ties,
        ci=ci,
        style=style,
        baseline=baseline,
    )


def rate_frame(
    frame: pd.DataFrame,
    *,
    files: tuple[FileCounts, ...] = (),
    method: Literal["bt", "elo"] = "bt",
    bootstrap: int = 1000,
    seed: int = 0,
    cluster: Literal["auto", "battle", "question"] = "auto",
    anchor: tuple[str, float] | None = None,
    by: str | None = None,
    ties: str = "half",
    ci: Literal["bootstrap", "sandwich", "none"] = "bootstrap",
    style: Sequence[str] | None = None,
    baseline: str | None = None,
) -> RateResult:
    """rate() on a battle frame already in memory (a run rates its compact battle table this way)."""
    from judge.errors import InputError
    from judge.ratings import clustered, leaderboard, leaderboards_by

    if by is not None and by not in RATE_BY:
        raise InputError(f"cannot rate by {by!r} (choose from {', '.join(RATE_BY)})")
    if cluster == "question" and frame["question_id"].isna().any():
        raise InputError("--cluster question needs a question_id on every battle")
    rounds = bootstrap if ci == "bootstrap" else 0
    frame, unit = clustered(frame, cluster)
    options = _LeaderboardOptions(
        method=method,
        bootstrap=bootstrap,
        seed=seed,
        cluster=unit,
        ci=ci,
        anchor=anchor,
        ties=ties,
        style=None if style is None else tuple(style),
        baseline=baseline,
    )
    if by is None:
        board = leaderboard(frame, **options)
        return RateResult(method, rounds, len(frame), board, files=files, cluster=unit)
    has_value = frame[by].notna()
    if not has_value.any():
        raise InputError(f"--by {by}: no battle has a {by}")
    excluded = {} if has_value.all() else {f"no {by}": int((~has_value).sum())}
    frame = frame[has_value].reset_index(drop=True)
    sizes = frame[by].astype("string").value_counts().to_dict()
    boards = leaderboards_by(frame, by, **options)
    groups = {str(name): boards[name] for name in sorted(boards, key=_natural)}  # judge-2 before judge-10
    every = set(frame["model_a"].astype(str)) | set(frame["model_b"].astype(str))
    too_small = {name: why for name, g in groups.items() if (why := too_small_to_read(g, int(sizes[name])))}
    missing = {name: tuple(sorted(every - set(g["model"].astype(str)))) for name, g in groups.items()}
    return RateResult(
        method,
        rounds,
        len(frame),
        None,
        by=by,
        groups=groups,
        group_battles={name: int(sizes[name]) for name in groups},
        files=files,
        excluded=excluded,
        cluster=unit,
        too_small=too_small,
        missing={name: models for name, models in missing.items() if models},
    )


# A group board from fewer battles than this is marked "too small to read" (rate --by): with 30 battles
# between two models a 95% interval on the win rate spans about +-18 points; more models, fewer per pair.
MIN_BOARD_BATTLES = 30


def too_small_to_read(board: pd.DataFrame, battles: int) -> str:
    """Why a group's board says too little to be read as a ranking ("" when it can be read)."""
    if len(board) < 2:
        return f"too small to read: {len(board)} model{'' if len(board) == 1 else 's'}, a ranking needs 2"
    if battles < MIN_BOARD_BATTLES:
        plural = "" if battles == 1 else "s"
        return f"too small to read: {battles} battle{plural}, fewer than {MIN_BOARD_BATTLES}"
    return ""


def _natural(name: object) -> list[tuple[int, int | str]]:
    """Sort key reading runs of digits as numbers: "judge-2" before "judge-10", "turn 9" before "turn 10"."""
    import re

    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", str(name)) if part]


def rate_json(result: RateResult) -> dict[str, object]:
    """The documented --json shape: method, n_battles, bootstrap, cluster (the resampled unit), models (or
    by + groups), input counts. An interval end that is infinite (a separated model's) is null."""

    from judge.ratings import board_order

    def board(frame: pd.DataFrame | None, n_battles: int) -> dict[str, object]:
        out: dict[str, object] = {"method": result.method, "n_battles": n_battles}
        out["bootstrap"] = result.bootstrap
        out["cluster"] = result.cluster
        if frame is not None:
            rows = board_order(frame).to_dict("records")
            keys = [*_MODEL_KEYS, *(k for k in _SCORE_KEYS if k in frame.columns)]
            out["models"] = [{key: _plain(row[key]) for key in keys} for row in rows]
            if "style" in frame.attrs:
                out["style"] = frame.attrs["style"]
        return out

    out = board(result.leaderboard, result.n_battles)
    if result.by is not None:
        out["by"] = result.by
        out["groups"] = {
            name: {
                **board(g, result.group_battles[name]),
                "too_small_to_read": result.too_small.get(name),
                "missing_models": list(result.missing.get(name, ())),
            }
            for name, g in result.groups.items()
        }
    out["excluded"] = {
        "files": [
            {"path": f.path, "format": f.format, "rows_read": f.rows_read, "left_out": dict(f.excluded)}
            for f in result.files
        ],
        "rating": dict(result.excluded),
    }
    return out


_MODEL_KEYS = (
    "model",
    "rating",
    "ci_lower",
    "ci_upper",
    "rank",
    "battles",
    "wins",
    "losses",
    "ties",
    "separated",
)
_SCORE_KEYS = ("score", "score_lower", "score_upper")


def parse_style(text: str) -> tuple[str, ...]:
    """--style's value: "all" (the flag alone) or a comma list of features, e.g. "length"."""
    from judge.ratings.style import STYLE_FEATURES, check_features

    if text == "all":
        return STYLE_FEATURES
    return check_features([part.strip() for part in text.split(",") if part.strip()])


def _plain(value: object) -> object:
    """numpy / pandas scalars as JSON values; NaN, NA and infinities become null."""
    import math

    import pandas as pd

    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    plain = value.item() if hasattr(value, "item") else value
    return None if isinstance(plain, float) and math.isinf(plain) else plain


@dataclass(frozen=True)
class PpiRateResult:
    """What `rate --ppi` computed: the prediction-powered board and how the two sides were read."""

    result: PPIResult
    human_files: tuple[FileCounts, ...]
    judge_files: tuple[FileCounts, ...]
    human_battles: int
    judge_battles: int
    cluster: str
    bootstrap: int  # rounds behind the intervals (0 for sandwich intervals)


def rate_ppi(
    human: Sequence[str | Path],
    judge: Sequence[str | Path],
    *,
    format: str | None = None,
    ci: Literal["sandwich", "bootstrap"] = "sandwich",
    bootstrap: int = 1000,
    seed: int = 0,
    cluster: Literal["item", "question"] = "item",
    anchor: tuple[str, float] | None = None,
    lam: float | None = None,
    level: float = 0.95,
    exclude_voters: Sequence[str] = (),
) -> PpiRateResult:
    """Rate the models the humans voted on, using the judge's votes where they help (judge.ratings.ppi)."""
    from judge.battles import load_battles
    from judge.errors import InputError
    from judge.ratings.ppi import ppi_leaderboard
    from judge.validate.agreement import drop_voters

    if not human:
        raise InputError("no human battle log given", hint="pass one or more --human FILE")
    if not judge:
        raise InputError("no judge battle log given", hint="pass one or more --judge FILE")
    humans = load_battles(human, format=format)
    judges = load_battles(judge, format=format)
    human_frame = drop_voters(humans.frame, exclude_voters)
    result = ppi_leaderboard(
        human_frame,
        judges.frame,
        lam=lam,
        ci=ci,
        bootstrap=bootstrap,
        seed=seed,
        cluster=cluster,
        level=level,
        anchor=anchor,
    )
    rounds = bootstrap if ci == "bootstrap" else 0
    return PpiRateResult(
        result, humans.files, judges.files, len(human_frame), len(judges.frame), cluster, rounds
    )


def rate_ppi_json(result: PpiRateResult) -> dict[str, object]:
    """The rate --json shape (method "ppi", models with their rank-sets) plus a "ppi" block."""
    rows = result.result.board.to_dict("records")
    models = []
    for row in rows:
        entry = {key: _plain(row[key]) for key in _MODEL_KEYS}
        entry["rank_set"] = [int(row["rank_lower"]), int(row["rank_upper"])]
        models.append(entry)

    def files(counts: tuple[FileCounts, ...]) -> list[dict[str, object]]:
        return [
            {"path": f.path, "format": f.format, "rows_read": f.rows_read, "left_out": dict(f.excluded)}
            for f in counts
        ]

    summary = result.result.summary()
    return {
        "method": "ppi",
        "n_battles": result.human_battles,
        "bootstrap": result.bootstrap,
        "cluster": result.cluster,
        "models": models,
        "ppi": {
            **summary,
            "judge_votes": result.judge_battles,
            "ci": result.result.ci,
            "level": result.result.level,
            "cluster": result.cluster,
        },
        "excluded": {"files": files(result.human_files) + files(result.judge_files), "rating": {}},
    }


def tournament_dir(
    config: TournamentConfig, out: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """A tournament's results directory: OUT if given, else $JUDGE_RESULTS_DIR/<name>, else results/<name>
    beside the config file (like its other paths), so a run started from another folder resumes it."""
    import os

    if out is not None:
        return Path(out)
    root = (os.environ if env is None else env).get("JUDGE_RESULTS_DIR")
    if root:
        return Path(root) / config.name
    return config.path.parent / "results" / config.name


@contextlib.contextmanager
def _locked_store(
    out_dir: Path, what: str, wait: bool, on_wait: Callable[[Holder | None], None] | None
) -> Iterator[tuple[Store, int]]:
    """The results directory's lock, then its store; runs a killed process left `running` are marked
    interrupted (the lock proves nobody else is running). Yields the store and how many were marked."""
    from judge import lock
    from judge.store import DB_NAME, Store

    with lock.hold(out_dir, what, wait=wait, on_wait=on_wait), Store.open(out_dir / DB_NAME) as store:
        yield store, store.mark_interrupted()


def config_redactor(config: TournamentConfig, env: Mapping[str, str]) -> Redactor:
    """Masks every key the config resolved and every credential-named variable of `env`."""
    from judge.redaction import Redactor

    return Redactor.from_env(env, [m.api_key for m in (*config.contestants, config.judge)])


def answers(
    config_path: str | Path,
    *,
    out: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    on_progress: Callable[[AnswerProgress], None] | None = None,
    wait: bool = False,
    on_wait: Callable[[Holder | None], None] | None = None,
) -> AnswersResult:
    """Collect every contestant's answers into the tournament's store; a rerun asks only what is missing.

    The config and the question set are checked in full before anything is written or any model is called.
    `env` (default os.environ) supplies API-key variables and JUDGE_RESULTS_DIR. The results directory is
    locked meanwhile (RunLocked if another run holds it, unless `wait`).
    """
    import asyncio
    import os

    from judge.answers import collect_answers
    from judge.providers import ProviderHub
    from judge.questions import load_questions, select_questions

    env = os.environ if env is None else env
    config = load_config(config_path, env)
    questions = select_questions(load_questions(config.questions.path), config.questions, config.seed)
    out_dir = tournament_dir(config, out, env)

    async def collect() -> AnswersResult:
        async with ProviderHub(cache_dir=None) as hub:
            for contestant in config.contestants:  # builds each provider: a bad replay file stops here
                hub.get(contestant.endpoint())
            with _locked_store(out_dir, f"judge answers {config.path}", wait, on_wait) as (store, _):
                return await collect_answers(
                    config,
                    questions,
                    store,
                    hub.get,
                    on_progress=on_progress or (lambda progress: None),
                    redact=config_redactor(config, env),
                )

    return asyncio.run(collect())


@dataclass(frozen=True)
class RunResult:
    """A finished `judge run`: where its files are, what it cost, what it reused, and the leaderboard."""

    name: str
    out_dir: Path
    outcome: TournamentOutcome
    leaderboard: pd.DataFrame | None  # None when no battle could be decided
    diagnostics: dict[str, object]
    files: tuple[Path, ...]
    problems: tuple[str, ...] = ()  # why the run is incomplete (judge.tournament.problems); empty if not
    interrupted: int = 0  # earlier runs found still `running` (killed) and marked interrupted
    phases: tuple[tuple[str, float], ...] = ()  # (stage, wall seconds): model fetch, answers, ... report


def run(
    config_path: str | Path,
    *,
    out: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    write_html: bool = True,
    on_answers: Callable[[AnswerProgress], None] | None = None,
    on_judging: Callable[[JudgeProgress], None] | None = None,
    wait: bool = False,
    on_wait: Callable[[Holder | None], None] | None = None,
    no_wait: bool = False,
) -> RunResult:
    """Run a whole tournament (answers, judging, ratings, files); a rerun pays only for what is missing.

    The config, question set and judge template are checked in full before anything is written. The results
    directory stays locked until every file is written (RunLocked if another run holds it, unless `wait`).
    A failed write (disk full) is a StoreError: no model is called after it, and no result file is left
    that does not belong with the others. `no_wait`: submit provider batches and raise BatchesPending
    instead of waiting for them.
    """
    import asyncio
    import dataclasses
    import os

    from judge.answer_style import styled
    from judge.battle_table import BattleTable
    from judge.errors import StoreError
    from judge.judging import judge_name
    from judge.prompts import load_template
    from judge.providers import ProviderHub
    from judge.questions import load_questions, select_questions
    from judge.report import outputs
    from judge.tournament import problems, run_tournament

    env = os.environ if env is None else env
    config = load_config(config_path, env)
    questions = select_questions(load_questions(config.questions.path), config.questions, config.seed)
    for judge in config.panel_judges:
        if judge.template is not None:
            load_template(judge.template, base_dir=config.path.parent)
    if config.human:
        from judge.battles import load_battles

        load_battles(config.human)  # a malformed vote file stops the run before anything is paid
    out_dir = tournament_dir(config, out, env)

    held = contextlib.ExitStack()  # the lock outlives play(): it is released after the files are written
    replicas: dict[str, list[dict[str, object]]] = {}

    async def play() -> tuple[TournamentOutcome, Store, dict[str, Usage], int]:
        async with ProviderHub(cache_dir=env.get("JUDGE_CACHE_DIR")) as hub:
            for model in (*config.contestants, *config.panel_judges):  # a bad replay file or GGUF stops here
                hub.get(model.endpoint())
            await hub.prepare(model.endpoint() for model in (*config.contestants, config.judge))
            timer.lap("model fetch")
            what = f"judge run {config.path}"
            store, interrupted = held.enter_context(_locked_store(out_dir, what, wait, on_wait))
            try:
                outcome = await run_tournament(
                    config,
                    questions,
                    store,
                    hub.get,
                    on_answers=on_answers or (lambda progress: None),
                    on_judging=on_judging or (lambda progress: None),
                    redact=config_redactor(config, env),
                    no_wait=no_wait,
                )
            except* BatchesPending as group:
                raise _first(group) from None
            usage = store.usage_by_subject()
            names = [(c.name, c.endpoint()) for c in config.contestants]
            for who, endpoint in [*names, (judge_name(config.judge), config.judge.endpoint())]:
                if (counts := hub.replica_counts(endpoint)) is not None:
                    replicas[who] = counts
        return outcome, store, usage, interrupted

    timer = _Laps()
    with held:
        try:
            outcome, store, usage, interrupted = asyncio.run(play())
        except StoreError:
            outputs.remove_set(out_dir)  # the files of an earlier run no longer match a store that moved on
            raise
        # The battles as written: with the style counts of the answers judged (reported completion tokens
        # per answer key, the successful call's, for the length feature), kept as compact as they were.
        with_counts = styled(outcome.battles, outcome.answers.answers, store.answer_tokens())
        outcome = dataclasses.replace(outcome, battles=BattleTable(with_counts))
        timer.add("answers", outcome.answer_seconds)
        timer.add("judging", outcome.seconds - outcome.answer_seconds)
        # Streamed from the store's cursor to details.jsonl: a big run's outputs never sit in memory at once.
        keys = outcome.judgement_keys
        stored = (j for j in store.judgements_by_slot() if j.base_key in keys)
        try:
            board, diag, files = _write_results(
                config,
                questions,
                out_dir,
                outcome,
                stored,
                usage,
                bootstrap,
                seed,
                write_html,
                timer,
                replicas,
            )
        except StoreError:
            outputs.remove_set(out_dir)
            raise
    found = problems(config, outcome)
    laps = tuple(timer.laps)
    return RunResult(config.name, out_dir, outcome, board, diag, tuple(files), found, interrupted, laps)


def _write_results(
    config: TournamentConfig,
    questions: Sequence[Question],
    out_dir: Path,
    outcome: TournamentOutcome,
    stored: Iterable[StoredJudgement],
    usage: Mapping[str, Usage],
    bootstrap: int,
    seed: int,
    write_html: bool,
    timer: _Laps,
    replicas: Mapping[str, list[dict[str, object]]],
) -> tuple[pd.DataFrame | None, dict[str, object], list[Path]]:
    """The results directory's files from a finished run: battles, details, diagnostics, boards, report."""
    from judge.battles import FileCounts
    from judge.errors import InputError
    from judge.judging import answer_table, judge_name
    from judge.ratings.style import varying_features
    from judge.report import outputs
    from judge.tournament import diagnostics

    name = judge_name(config.judge) if config.panel is None else config.panel.name
    texts = answer_table(outcome.answers.answers)
    by_id = {q.question_id: q for q in questions}
    battles = outcome.battles
    files = [
        outputs.write_battles(out_dir, battles),
        outputs.write_details(out_dir, outputs.details_rows(by_id, texts, stored, battles.winners())),
    ]
    diag = diagnostics(config, outcome, usage, name, replicas)
    files.append(outputs.write_diagnostics(out_dir, diag))
    board = None
    if outcome.battles:
        ci: Literal["bootstrap", "none"] = "bootstrap" if bootstrap > 0 else "none"  # --bootstrap 0
        baseline = config.schedule.baseline if config.schedule.kind == "baseline" else None
        # Rated from the compact table, not by re-reading battles.jsonl: the same frame load_battles would
        # give, with names as categories (a few bytes a cell instead of a parsed JSON record per battle).
        frame = battles.frame(battles.rating_columns())
        read = (FileCounts(path=str(files[0]), format="generic", rows_read=len(battles), excluded={}),)
        common = _LeaderboardOptionsIn(files=read, bootstrap=bootstrap, seed=seed, ci=ci)
        overall = rate_frame(frame, baseline=baseline, **common)
        board = overall.leaderboard
        features = varying_features(frame)
        style_board = None
        if "length" in features:  # markdown alone (or nothing that varies) makes no style board
            style_board = rate_json(rate_frame(frame, style=features, baseline=baseline, **common))
        try:
            by_category = rate_json(rate_frame(frame, by="category", **common))
        except InputError:  # e.g. no battle has a category
            by_category = None
        files += outputs.write_leaderboards(out_dir, rate_json(overall), by_category, style_board)
        if config.panel is not None:
            files += _panel_boards(out_dir, outcome, bootstrap=bootstrap, seed=seed, ci=ci)
        if config.human:
            files += _human_boards(config.human, files[0], out_dir, bootstrap=bootstrap, seed=seed)
        else:
            outputs.remove_human_boards(out_dir)
        timer.lap("rating")
        if write_html:
            files.append(report(out_dir, battles=frame))  # the report reads no style counts
            timer.lap("report")
    else:
        outputs.remove_boards(out_dir)
    return board, diag, files


def _panel_boards(
    out_dir: Path,
    outcome: TournamentOutcome,
    *,
    bootstrap: int,
    seed: int,
    ci: Literal["bootstrap", "none"],
) -> list[Path]:
    """battles_by_judge.jsonl (each judge's own battles) and leaderboard_by_judge.json (a board per judge)."""
    from judge.battle_table import BattleTable
    from judge.battles import FileCounts
    from judge.report import outputs
    from judge.report.rundir import BY_JUDGE_FILE, JUDGE_BATTLES_FILE

    own = BattleTable(b for battles in outcome.by_judge.values() for b in battles)
    path = outputs.write_battles(out_dir, own, name=JUDGE_BATTLES_FILE)
    if not own:
        return [path]
    read = (FileCounts(path=str(path), format="generic", rows_read=len(own), excluded={}),)
    boards = rate_frame(own.frame(), files=read, bootstrap=bootstrap, seed=seed, by="judge", ci=ci)
    return [path, outputs.write_json(out_dir, BY_JUDGE_FILE, rate_json(boards))]


def _human_boards(
    human: Sequence[Path], battles_file: Path, out_dir: Path, *, bootstrap: int, seed: int
) -> list[Path]:
    """leaderboard_human.json (the humans alone), leaderboard_ppi.json (humans + this run's judge votes)."""
    from judge.errors import InputError
    from judge.report import outputs

    ci: Literal["bootstrap", "none"] = "bootstrap" if bootstrap > 0 else "none"
    try:
        humans = rate(human, bootstrap=bootstrap, seed=seed, ci=ci)
        ppi = rate_ppi(
            human,
            [battles_file],
            ci="sandwich",  # the percentile bootstrap undercovers on sparse human votes
            bootstrap=max(bootstrap, 1),
            seed=seed,
        )
    except InputError as exc:
        outputs.remove_human_boards(out_dir)
        raise InputError(f"human votes: {exc.message}", hint=exc.hint) from exc
    return outputs.write_human_boards(out_dir, rate_json(humans), rate_ppi_json(ppi))


class _Laps:
    """Wall time per stage of a run: lap(name) closes a stage at now; add() books one timed elsewhere."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = self._now()
        self.laps.append((name, now - self._last))
        self._last = now

    def add(self, name: str, seconds: float) -> None:
        self.laps.append((name, seconds))
        self._last = self._now()


def demo_experts(result: RunResult, *, bootstrap: int = 1000, seed: int = 0) -> ExpertComparison:
    """The demo run's board and votes beside the MT-Bench experts' on the same models and items."""
    from judge.battles import load_battles
    from judge.demo.experts import compare_with_experts, expert_votes

    battles = load_battles([result.out_dir / "battles.jsonl"], format="generic").frame
    return compare_with_experts(battles, expert_votes(), bootstrap=bootstrap, seed=seed)


@dataclass(frozen=True)
class Status:
    """`judge status`: what a tournament's database holds, read without calling any model."""

    db_path: Path
    answers: int
    judgements: int
    batches: int
    open_batches: tuple[BatchRecord, ...]
    items: dict[str, int]  # batch requests per state
    usage: dict[str, Usage]


def status(results_dir: str | Path) -> Status:
    """Open provider batches, counts and the cost so far of the tournament in RESULTS_DIR (or its child)."""
    from judge.errors import InputError
    from judge.store import DB_NAME, Store

    root = Path(results_dir)
    found = [root / DB_NAME] if (root / DB_NAME).is_file() else sorted(root.glob(f"*/{DB_NAME}"))
    if len(found) != 1:
        what = "no results database" if not found else f"{len(found)} results databases"
        raise InputError(f"{root}: {what} ({DB_NAME})", hint="give a tournament's results directory")
    with Store.open(found[0]) as store:
        rows = store.row_counts()
        return Status(
            db_path=found[0],
            answers=rows["answers"],
            judgements=rows["judgements"],
            batches=rows["batches"],
            open_batches=tuple(store.batches(open_only=True)),
            items=store.batch_item_states(),
            usage=store.usage_by_subject(),
        )


def _first(group: BaseExceptionGroup[BatchesPending]) -> BatchesPending:
    """The first BatchesPending in a (possibly nested) group: a run stops at the first open batch."""
    for exc in group.exceptions:
        return exc if isinstance(exc, BatchesPending) else _first(exc)
    raise AssertionError("an empty exception group")


def demo_config() -> Path:
    """The shipped offline demo tournament's config (judge/demo/tournament.yaml)."""
    import importlib.resources

    return Path(str(importlib.resources.files("judge.demo").joinpath("tournament.yaml")))


def vote_server(
    run_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    voter: str = "human",
    order: str = "close-first",
    seed: int | None = None,
) -> VoteServer:
    """The blind voting app over a results directory, listening but not yet serving (see judge.vote)."""
    from judge.vote import VoteServer, VoteSession

    session = VoteSession.open(run_dir, voter=voter, order=order, seed=seed)
    return VoteServer(session, host, port)


def vote(
    run_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    voter: str = "human",
    order: str = "close-first",
    seed: int | None = None,
    on_ready: Callable[[VoteServer], None] | None = None,
) -> VoteSummary:
    """Serve the voting page until interrupted (Ctrl-C); returns the session's summary (votes, agreement)."""
    import contextlib

    with vote_server(run_dir, host=host, port=port, voter=voter, order=order, seed=seed) as server:
        # Ctrl-C is how a voting session ends, also when it comes right after the page is announced.
        with contextlib.suppress(KeyboardInterrupt):
            if on_ready is not None:
                on_ready(server)
            server.serve_forever()
        return server.session.summary()


def arena_server(
    config_path: str | Path,
    *,
    out: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8766,
    judge_run: str | Path | None = None,
    seed: int | None = None,
    env: Mapping[str, str] | None = None,
) -> ArenaServer:
    """The live arena on a config's contestants, listening but not yet serving (see judge.arena)."""
    import os

    from judge.arena.board import load_judge_side
    from judge.arena.server import ArenaServer

    environ = os.environ if env is None else env
    config = load_config(config_path, environ)
    judge = None if judge_run is None else load_judge_side(judge_run)
    cache = environ.get("JUDGE_CACHE_DIR")
    return ArenaServer(
        config,
        tournament_dir(config, out, environ),
        host=host,
        port=port,
        judge=judge,
        seed=seed,
        cache_dir=Path(cache) if cache else None,
    )


def arena_export(config_path: str | Path, path: str | Path, *, out: str | Path | None = None) -> int:
    """Write every arena vote of a config's results directory as clean_battle JSON; returns how many."""
    import json
    import os

    from judge.arena.server import export_records

    config = load_config(config_path, os.environ)
    records = export_records(tournament_dir(config, out))
    Path(path).write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(records)
