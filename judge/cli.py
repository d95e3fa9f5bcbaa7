"""The `judge` command: parse flags, call one function of judge.api, render the result.

Only this module imports click or draws on the terminal. A JudgeError becomes `judge: error: ...` on stderr
with the exit code of its class; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click
from click.core import ParameterSource

from judge.errors import JudgeError

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from judge import api
    from judge.answers import AnswerProgress
    from judge.demo.experts import ExpertComparison
    from judge.judging import JudgeProgress
    from judge.lock import Holder
    from judge.store import Failure
    from judge.validate.agreement import Count

F = TypeVar("F", bound=Callable[..., Any])


def _handle_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return func(*args, **kwargs)
        except JudgeError as exc:
            if debug:
                raise
            redact = _redactor()
            problems = getattr(exc, "problems", (exc,))  # a config reports every mistake at once
            for problem in problems:
                click.echo(f"judge: error: {redact(problem.message)}", err=True)
                if problem.hint:
                    click.echo(f"hint: {redact(problem.hint)}", err=True)
            if len(problems) > 1:
                click.echo(f"judge: {len(problems)} problems in the config; nothing was run", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("judge: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def style_option(help_text: str) -> Callable[[F], F]:
    """`--style` alone means every feature; `--style length,bold` names some (rate and validate share it)."""
    return click.option(
        "--style", is_flag=False, flag_value="all", default=None, metavar="[FEATURES]", help=help_text
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for all errors.")
@click.version_option(package_name="judge")
def cli(debug: bool) -> None:
    """LLM-as-judge tournaments, rated like Chatbot Arena."""


@cli.command("rate")
@click.argument("files", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--format",
    "file_format",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "arena", "mtbench", "llmfao", "generic"]),
    help="Battle log format.",
)
@click.option("--method", type=click.Choice(["bt", "elo"]), default="bt", show_default=True)
@click.option(
    "--bootstrap", type=click.IntRange(min=1), default=1000, show_default=True, help="Bootstrap rounds."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--cluster",
    type=click.Choice(["auto", "battle", "question"]),
    default="auto",
    show_default=True,
    help="Resample single battles or whole questions; auto: questions when a question_id repeats.",
)
@click.option(
    "--ci", type=click.Choice(["bootstrap", "sandwich", "none"]), default="bootstrap", show_default=True
)
@click.option(
    "--ties", type=click.Choice(["half", "davidson", "rao-kupper"]), default="half", show_default=True
)
@click.option("--anchor", metavar="MODEL=RATING", help="Shift ratings so MODEL gets RATING.")
@click.option(
    "--by",
    type=click.Choice(["category", "language", "turn", "judge", "source"]),
    help="One leaderboard per value of this column.",
)
@click.option(
    "--include-non-anony", is_flag=True, help="Keep Arena battles where the voter saw the model names."
)
@style_option(
    "Control for answer style (length, headers, lists, bold; alone: all four), as Chatbot Arena does."
)
@click.option("--baseline", metavar="MODEL", help="Add each model's predicted win rate (%) against MODEL.")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard(s) as JSON.")
@click.option("--ppi", is_flag=True, help="Prediction-powered ratings from --human and --judge logs.")
@click.option("--human", multiple=True, metavar="FILE", help="With --ppi: human battle log (repeatable).")
@click.option(
    "--judge", "judge_files", multiple=True, metavar="FILE", help="With --ppi: judge log (repeatable)."
)
@click.option(
    "--lambda",
    "lam",
    type=click.FloatRange(0, 1),
    default=None,
    help="With --ppi: fix lambda (default: tuned).",
)
@_handle_errors
def rate_command(
    files: tuple[str, ...],
    file_format: str,
    method: Literal["bt", "elo"],
    bootstrap: int,
    seed: int,
    cluster: Literal["auto", "battle", "question"],
    ci: Literal["bootstrap", "sandwich", "none"],
    ties: str,
    anchor: str | None,
    by: str | None,
    include_non_anony: bool,
    style: str | None,
    baseline: str | None,
    as_json: bool,
    ppi: bool,
    human: tuple[str, ...],
    judge_files: tuple[str, ...],
    lam: float | None,
) -> None:
    """Rate the models in battle logs (Arena dumps, MT-Bench human judgments, LLMFAO, generic CSV/JSONL).

    With --ppi, rate the models of the --human logs, using the --judge logs where they make the intervals
    narrower (prediction-powered inference; docs/design/ppi.md)."""
    import json

    from judge import api

    if ppi or human or judge_files:
        # PPI's default is the sandwich: on sparse human votes its percentile bootstrap undercovers
        # (docs/design/ppi.md); --ci bootstrap still asks for it.
        ci_given = click.get_current_context().get_parameter_source("ci") != ParameterSource.DEFAULT
        _rate_ppi(
            files,
            human,
            judge_files,
            ppi,
            file_format,
            bootstrap,
            seed,
            cluster,
            ci if ci_given else "sandwich",
            anchor,
            by,
            lam,
            as_json,
        )
        return
    if not files:
        raise click.UsageError("give one or more battle log FILES (or --ppi with --human and --judge)")
    result = api.rate(
        files,
        format=file_format,
        method=method,
        bootstrap=bootstrap,
        seed=seed,
        cluster=cluster,
        ci=ci,
        ties=ties,
        anchor=None if anchor is None else api.parse_anchor(anchor),
        by=by,
        include_non_anony=include_non_anony,
        style=None if style is None else api.parse_style(style),
        baseline=baseline,
    )
    for f in result.files:
        left_out = ", ".join(f"{reason}: {n}" for reason, n in f.excluded.items())
        click.echo(
            f"{f.path}: {f.rows_read} rows read as {f.format}"
            + (f", {f.rows_read - f.rows_kept} left out ({left_out})" if left_out else ""),
            err=True,
        )
    for reason, n in result.excluded.items():
        click.echo(f"{n} battles left out of the rating ({reason})", err=True)
    if as_json:
        click.echo(json.dumps(api.rate_json(result), indent=2))
        return
    boards = {"": result.leaderboard} if result.leaderboard is not None else result.groups
    console = _console()
    for name, board in boards.items():
        n = result.n_battles if not name else result.group_battles[name]
        title = f"{result.by} = {name}: " if name else ""
        unit = f", resampling {result.cluster}s" if result.bootstrap else ""
        kind = f"{result.method}, style-controlled" if "style" in board.attrs else result.method
        small = result.too_small.get(name, "")
        caption = f"{title}{n} battles, {kind}{unit}" + (" (TOO SMALL TO READ)" if small else "")
        console.print(_leaderboard_table(board, caption))
        if small:
            console.print(
                f"{result.by} = {name}: {small}; do not read its order as a ranking",
                style="yellow",
                markup=False,
            )
        if result.missing.get(name):
            gone = ", ".join(result.missing[name])
            console.print(
                f"{result.by} = {name}: no battles for {gone} (rated in other groups)", markup=False
            )
        if "style" in board.attrs:
            console.print(_style_table(board.attrs["style"]))


def _console(*, stderr: bool = False) -> Console:
    """A console whose tables keep their natural width off a terminal (pipes, CI logs): no wrap at 80."""
    import os

    from rich.console import Console

    console = Console(highlight=False, stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, stderr=stderr, width=1000)
    return console


def _rate_ppi(
    files: tuple[str, ...],
    human: tuple[str, ...],
    judge_files: tuple[str, ...],
    ppi: bool,
    file_format: str,
    bootstrap: int,
    seed: int,
    cluster: str,
    ci: str,
    anchor: str | None,
    by: str | None,
    lam: float | None,
    as_json: bool,
) -> None:
    import json

    from judge import api
    from judge.errors import InputError

    if not ppi:
        raise InputError("--human and --judge go with --ppi", hint="add --ppi, or pass the logs as FILES")
    if files:
        raise InputError("with --ppi give the logs as --human FILE and --judge FILE, not as FILES")
    if by is not None:
        raise InputError("--by is not available with --ppi")
    if ci == "none":
        raise InputError("--ppi needs intervals: --ci bootstrap or --ci sandwich")
    out = api.rate_ppi(
        human,
        judge_files,
        format=file_format,
        ci="sandwich" if ci == "sandwich" else "bootstrap",
        bootstrap=bootstrap,
        seed=seed,
        # PPI's units are items unless asked: its small-sample (HC3) correction is for items.
        cluster="question" if cluster == "question" else "item",
        anchor=None if anchor is None else api.parse_anchor(anchor),
        lam=lam,
    )
    for f in (*out.human_files, *out.judge_files):
        click.echo(f"{f.path}: {f.rows_read} rows read as {f.format}", err=True)
    if as_json:
        click.echo(json.dumps(api.rate_ppi_json(out), indent=2))
        return
    s = out.result.summary()
    title = (
        f"prediction-powered: {out.human_battles} human votes + {out.judge_battles} judge votes, "
        f"lambda {s['lambda']:.2f}"
    )
    _console().print(_leaderboard_table(out.result.board, title, rank_sets=True))
    click.echo(
        f"{s['paired_items']} of {s['human_items']} human-voted items also have judge votes "
        f"({s['judge_items']} judge items); these intervals are as narrow as about "
        f"{s['effective_human_votes']:,.0f} human votes alone would give"
    )


def _leaderboard_table(board: pd.DataFrame, title: str, *, rank_sets: bool = False) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    scores = "score" in board.columns
    columns = (
        "rank",
        *(("rank set",) if rank_sets else ()),
        "model",
        "rating",
        "95% CI",
        "battles",
        "W/L/T",
        *(("score %", "95% CI ") if scores else ()),
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    separated = False
    for row in board.itertuples():
        mark = " †" if getattr(row, "separated", False) else ""
        separated = separated or bool(mark)
        cells = [
            str(row.rank),
            *((f"{row.rank_lower}-{row.rank_upper}",) if rank_sets else ()),
            f"{row.model}{mark}",
            f"{row.rating:.1f}",
            f"{row.ci_lower:.1f} to {row.ci_upper:.1f}",
            str(row.battles),
            f"{row.wins}/{row.losses}/{row.ties}",
        ]
        if scores:
            cells += [f"{row.score:.1f}", f"{row.score_lower:.1f} to {row.score_upper:.1f}"]
        table.add_row(*cells)
    if separated:
        table.caption = "† never lost or never won: rated from its own record, interval open on one side"
        table.caption_justify = "left"
    return table


def _style_table(style: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="style coefficients (log-odds per standard deviation)", title_justify="left")
    for column in ("feature", "coefficient", "95% CI", "2x the feature"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for name, c in style["coefficients"].items():
        table.add_row(
            name,
            f"{c['value']:.4f}",
            f"{c['ci_lower']:.4f} to {c['ci_upper']:.4f}",
            f"{c['elo_2x']:+.1f} Elo",
        )
    return table


@cli.command("report")
@click.argument("run_dir", type=click.Path(path_type=str))
@_handle_errors
def report_command(run_dir: str) -> None:
    """Write RUN_DIR/report.html: one self-contained page (leaderboard, matrices, judge, costs, battles)."""
    from judge import api

    path = api.report(run_dir)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


@cli.command("compare")
@click.argument("baseline", type=click.Path(path_type=str))
@click.argument("candidate", type=click.Path(path_type=str))
@click.option("--watch", multiple=True, metavar="MODEL", help="Fail only on these (default: all in both).")
@click.option("--margin", type=float, default=0.0, show_default=True, help="Elo drop tolerated.")
@click.option("--rounds", type=int, default=1000, show_default=True, help="Bootstrap rounds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of markdown.")
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the markdown summary to this file.",
)
@_handle_errors
def compare_command(
    baseline: str,
    candidate: str,
    watch: tuple[str, ...],
    margin: float,
    rounds: int,
    seed: int,
    as_json: bool,
    markdown_file: str | None,
) -> None:
    """Compare two results directories; exit 1 when a watched model got significantly worse or is missing."""
    import json
    from pathlib import Path

    from judge import api
    from judge.compare import render_markdown
    from judge.errors import RegressionFound

    result = api.compare(baseline, candidate, watch=watch or None, margin=margin, rounds=rounds, seed=seed)
    summary = render_markdown(result, baseline=baseline, candidate=candidate)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else summary)
    if markdown_file:
        Path(markdown_file).write_text(summary, encoding="utf-8")
    reasons = []
    if result.regressions:
        names = ", ".join(c.model for c in result.regressions)
        reasons.append(f"regression: {names} significantly worse than in {baseline}")
    if result.missing:
        where = {"baseline": baseline, "candidate": candidate}
        gone = ", ".join(f"{model} (not in {where[run]})" for model, run in result.missing)
        reasons.append(f"watched model(s) missing: {gone}")
    if reasons:
        raise RegressionFound("; ".join(reasons))


@cli.command("validate")
@click.option("--human", multiple=True, required=True, metavar="FILE", help="Human battle log (repeatable).")
@click.option("--judge", "judge_files", multiple=True, metavar="FILE", help="Judge battle log (repeatable).")
@click.option("--by", type=click.Choice(["turn", "category"]), default="turn", show_default=True)
@click.option("--format", "file_format", default=None, help="Battle log format (default: detected per file).")
@click.option("--exclude-voter", multiple=True, metavar="GLOB", help="Drop human voters like 'author_*'.")
@click.option(
    "--answers",
    multiple=True,
    metavar="PATH",
    help="Recorded answers (MT-Bench JSONL file, or a folder of them) for answer lengths (repeatable).",
)
@click.option("--judge-model", default=None, help="The judge's own contestant name, for self-preference.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True, help="Rounds.")
@click.option("--seed", type=int, default=0, show_default=True)
@style_option("Also compare style-controlled boards (length, headers, lists, bold; alone: all four).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (shape in docs/validate.md).")
@click.option(
    "--weights-out",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Several judges: write per-judge panel weights fitted to the human votes (panel: {weights: FILE}).",
)
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Panel CV folds.")
@_handle_errors
def validate_command(
    human: tuple[str, ...],
    judge_files: tuple[str, ...],
    by: str,
    file_format: str | None,
    exclude_voter: tuple[str, ...],
    answers: tuple[str, ...],
    judge_model: str | None,
    bootstrap: int,
    seed: int,
    style: str | None,
    as_json: bool,
    weights_out: str | None,
    folds: int,
) -> None:
    """Measure how well a judge's votes agree with human votes (or humans with each other).

    With battle logs of several judges (several --judge files, or one log naming several judges) it
    compares each judge, their majority and a weighted panel with the humans in one table."""
    import json
    import pathlib

    from judge import api
    from judge.validate import MIN_MATCHED_ITEMS
    from judge.validate.view import render_validation

    if judge_files and (
        weights_out or api.judge_logs(judge_files, format=file_format)["judge"].nunique() > 1
    ):
        from judge.validate.view import render_panel

        panel = api.validate_panel(
            human, judge_files, format=file_format, exclude_voters=exclude_voter, folds=folds,
            bootstrap=bootstrap, seed=seed,
        )  # fmt: skip
        if weights_out and panel.weights is not None:
            text = json.dumps(panel.weights.to_json(), indent=2) + "\n"
            pathlib.Path(weights_out).write_text(text, encoding="utf-8")
        if as_json:
            click.echo(json.dumps(panel.to_json(), indent=2))
        else:
            _console().print(render_panel(panel))
            if weights_out:
                click.echo(f"weights written to {weights_out}")
        return

    report = api.validate(
        human,
        judge_files,
        by="category" if by == "category" else "turn",
        format=file_format,
        exclude_voters=exclude_voter,
        answers=answers,
        judge_model=judge_model,
        bootstrap=bootstrap,
        seed=seed,
        style=None if style is None else api.parse_style(style),
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _console().print(render_validation(report))
        matched = report.agreement.overall.items
        same = report.baseline
        if report.comparison == "judge-human" and matched < MIN_MATCHED_ITEMS:
            least = f"minimum {MIN_MATCHED_ITEMS} for a verdict; the JSON verdict says so too"
            click.echo(f"judge: warning: only {_items(matched)} in both logs ({least})", err=True)
        elif same is not None and same.items < MIN_MATCHED_ITEMS:
            least = f"minimum {MIN_MATCHED_ITEMS} to compare the judge with human consistency"
            have = "has" if same.items == 1 else "have"
            what = f"{_items(same.items)} {have} a judge vote and two human voters"
            click.echo(f"judge: warning: only {what} ({least})", err=True)


def _items(n: int) -> str:
    return f"{n:,} item" + ("" if n == 1 else "s")


@cli.command("answers")
@click.argument("config", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Results directory (default: $JUDGE_RESULTS_DIR/<name>, else results/<name> beside the config).",
)
@click.option("--allow-failures", is_flag=True, help="Exit 0 although some answers failed.")
@click.option("--wait", is_flag=True, help="If another run holds the results directory, wait for it.")
@_handle_errors
def answers_command(config: str, out: str | None, allow_failures: bool, wait: bool) -> None:
    """Collect the contestants' answers only; a rerun asks only what is not stored yet."""

    from judge import api

    with _progress_bars() as bar:
        task = bar.add_task("answers", total=None, note="", visible=False)

        def show(p: AnswerProgress) -> None:
            bar.update(task, total=p.total, completed=p.done, note=_answer_counts(p), visible=True)

        result = api.answers(config, out=out, on_progress=show, wait=wait, on_wait=_waiting)
    p = result.progress
    cost = "n/a (no prices)" if result.cost_usd is None else f"${result.cost_usd:.4f}"
    click.echo(f"answers for {result.tournament} in {result.db_path}")
    click.echo(f"{_answer_counts(p)} (of {p.total})")
    tokens = f"{result.input_tokens} in / {result.output_tokens} out"
    click.echo(f"calls {result.calls}, tokens {tokens}, cost {cost}, time {result.seconds:.1f} s")
    _show_failures(result.failures)
    problems = []
    if p.failed or p.skipped:
        problems.append(f"{p.failed} answer(s) failed after retries, {p.skipped} not asked")
    _judge_completeness(problems, allow_failures, has_battles=True)


def _progress_bars() -> Progress:
    """Live bars on stderr; tasks start hidden so a config error is not preceded by empty bars."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    label, note = TextColumn("{task.description:<8}"), TextColumn("{task.fields[note]}")
    columns = (label, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), note)
    return Progress(*columns, console=Console(stderr=True))


def _answer_counts(p: AnswerProgress) -> str:
    """The same words on the progress bar and in the summary (and the same numbers as diagnostics.json)."""
    return f"asked {p.asked}, reused {p.reused}, failed {p.failed}, skipped {p.skipped}"


def _judge_counts(p: JudgeProgress) -> str:
    unreadable = f" ({p.parse_failed} unreadable)" if p.parse_failed else ""
    return f"made {p.judged}, reused {p.reused}, failed {p.failed}{unreadable}, skipped {p.skipped}"


def _redactor() -> Callable[[str], str]:
    """Everything printed about a failure passes through this (the store's copy was cleaned already)."""
    import os

    from judge.redaction import Redactor

    return Redactor.from_env(os.environ)


def _show_failures(failures: Sequence[Failure], limit: int = 10) -> None:
    shown = [f for f in failures if f.kind != "skipped"]
    redact = _redactor()
    for f in shown[:limit]:
        click.echo(
            f"  failed: {f.subject} question {f.question_id} turn {f.turn}: {f.kind}: {redact(f.message)}"
        )
    if len(shown) > limit:
        click.echo(f"  ... and {len(shown) - limit} more (table failures in the results database)")


_TINY_JUDGE_NOTE = (
    "note: the judge here is a 135M-parameter model, good for trying the pipeline, not for trusting the "
    "ranking. Point `judge:` in your config at a strong model (e.g. provider: openai, model: gpt-4o, or "
    "provider: anthropic, model: claude-sonnet-4-5, or any OpenAI-compatible base_url) for real verdicts."
)


def _waiting(holder: Holder | None) -> None:
    who = holder.describe() if holder else "another judge run"
    click.echo(f"judge: waiting for the results directory, in use by {who}", err=True)


def _run_and_show(
    config: str,
    out: str | None,
    bootstrap: int,
    seed: int,
    *,
    allow_failures: bool = False,
    wait: bool = False,
    no_wait: bool = False,
) -> api.RunResult:
    """Run a tournament with live progress bars on stderr; print the leaderboard and where the files are."""

    import os

    from judge import api, load_config

    chooser = load_config(config, os.environ).judge  # checked in full before anything runs
    if chooser.notes:
        chosen = "; ".join(chooser.notes)
        name = chooser.name or chooser.model
        click.echo(f"judge {name} ({chooser.provider}): {chosen}; set them in judge: to change", err=True)

    with _progress_bars() as bar:
        answering = bar.add_task("answers", total=None, note="", visible=False)
        judging = bar.add_task("judging", total=None, note="", visible=False)

        def show_answers(p: AnswerProgress) -> None:
            bar.update(answering, total=p.total, completed=p.done, note=_answer_counts(p), visible=True)

        def show_judging(p: JudgeProgress) -> None:
            bar.update(judging, total=p.total, completed=p.done, note=_judge_counts(p), visible=True)

        result = api.run(
            config,
            out=out,
            bootstrap=bootstrap,
            seed=seed,
            on_answers=show_answers,
            on_judging=show_judging,
            no_wait=no_wait,
            wait=wait,
            on_wait=_waiting,
        )
    if result.interrupted:
        click.echo(
            f"note: {result.interrupted} earlier run(s) had been interrupted (now marked so); "
            "what they stored was reused",
            err=True,
        )
    console = _console()
    outcome = result.outcome
    if result.leaderboard is not None:
        title = f"{result.name}: {len(outcome.battles)} battles, Bradley-Terry, 95% bootstrap CI"
        console.print(_leaderboard_table(result.leaderboard, title))
    else:
        click.echo("no battle could be decided: see the failures below", err=True)
    a, j, judge = outcome.answers.progress, outcome.judging, result.diagnostics["judge"]
    assert isinstance(judge, dict)
    click.echo(f"answers: {_answer_counts(a)}")
    click.echo(f"judgements: {_judge_counts(j)}")
    members = result.diagnostics.get("judges")
    for one in members.values() if isinstance(members, dict) else [judge]:
        consistency = one.get("position_consistency")
        shown = "n/a" if consistency is None else f"{consistency:.0%}"
        spent = "" if one.get("cost_usd") is None else f", cost ${one['cost_usd']:.4f}"
        click.echo(
            f"judge {one['name']}: position consistency {shown} "
            f"(share of pairs whose two orders agree), parse failures {one.get('parse_failures', 0)}"
            + (f", calls {one['calls']}{spent}" if members else "")
        )
    panel = result.diagnostics.get("panel")
    if isinstance(panel, dict):
        alpha = panel.get("krippendorff_alpha")
        click.echo(
            f"panel {panel['name']} ({panel['combine']}): Krippendorff's alpha "
            + ("n/a" if alpha is None else f"{alpha:.3f}")
            + " between the judges; kappa per pair and majority share in diagnostics.json"
        )
    cost, batch_cost = judge.get("cost_usd"), judge.get("batch_cost_usd")
    click.echo(
        f"judge calls {judge['calls']}, tokens {judge['input_tokens']} in / {judge['output_tokens']} out"
        + ("" if cost is None else f", cost ${cost:.4f}")
        + ("" if not judge.get("batch_calls") else f" ({judge['batch_calls']} batch calls")
        + (
            ""
            if not judge.get("batch_calls") or batch_cost is None
            else f", ${batch_cost:.4f} at batch prices"
        )
        + (")" if judge.get("batch_calls") else "")
        + f"; total time {outcome.seconds:.1f} s"
    )
    h2h = outcome.decision
    if h2h is not None:
        rate = "n/a" if h2h["win_rate"] is None else f"{h2h['win_rate']:.3f}"
        click.echo(
            f"head-to-head: {h2h['candidate']} vs {h2h['baseline']}: {h2h['decision']} (win rate {rate}, "
            f"always-valid {h2h['ci_low']:.3f} to {h2h['ci_high']:.3f}, {h2h['judge_calls']} judge calls)"
        )
    if outcome.answers_cut:
        click.echo(
            f"judge: warning: {outcome.answers_cut} answer(s) longer than judge.max_answer_chars "
            f"({judge['max_answer_chars']}) were cut in the judge's prompts (the cut is marked there)",
            err=True,
        )
    _show_failures(outcome.answers.failures + outcome.judge_failures)
    click.echo(f"results in {result.out_dir}/ (" + ", ".join(p.name for p in result.files) + ")")
    _judge_completeness(result.problems, allow_failures, has_battles=bool(outcome.battles))
    return result


def _judge_completeness(problems: Sequence[str], allow_failures: bool, *, has_battles: bool) -> None:
    """Exit 5 on a run with holes, unless --allow-failures accepts it (a run with no battle never passes)."""
    from judge.errors import IncompleteRun

    if not problems:
        return
    text = "; ".join(problems)
    if allow_failures and has_battles:
        click.echo(f"judge: warning: partial run accepted (--allow-failures): {text}", err=True)
        return
    hint = "rerun the same command: it retries only what failed"
    if has_battles:
        hint += "; or pass --allow-failures to accept a partial run"
    raise IncompleteRun(f"run incomplete: {text}", hint=hint)


@cli.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    help="Results directory (default: $JUDGE_RESULTS_DIR/<name>, else results/<name> beside the config).",
)
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 although some answers or judgements failed (a run with no battle still exits 5).",
)
@click.option(
    "--no-wait", is_flag=True, help="Submit provider batches and exit; rerun the same command to collect."
)
@click.option("--wait", is_flag=True, help="If another run holds the results directory, wait for it.")
@_handle_errors
def run_command(
    config: str, out: str | None, bootstrap: int, seed: int, allow_failures: bool, wait: bool, no_wait: bool
) -> None:
    """Run a tournament: answers, position-swapped judging, ratings, report. Reruns reuse what is stored.

    Exit codes: 0 complete, 2 bad input, 3 provider unusable, 4 results store or disk trouble, 5 some answers
    or judgements failed or no battle was decided (see the summary), 130 interrupted. With --no-wait, 0 when
    provider batches are left open (rerun the same command to collect them).
    """
    from judge.errors import BatchesPending

    try:
        _run_and_show(config, out, bootstrap, seed, allow_failures=allow_failures, wait=wait, no_wait=no_wait)
    except BatchesPending as exc:
        click.echo(f"judge: {exc.message}; {exc.hint}")


@cli.command("status")
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True, path_type=str))
@_handle_errors
def status_command(results_dir: str) -> None:
    """What a tournament's results directory holds: open provider batches, calls and cost so far."""
    from judge import api

    status = api.status(results_dir)
    click.echo(f"{status.db_path}: {status.answers} answers, {status.judgements} judge outputs")
    for b in status.open_batches:
        counts = ", ".join(f"{k} {v}" for k, v in (b.counts or {}).items())
        click.echo(
            f"open batch {b.batch_id} ({b.provider} {b.model}): {b.provider_status}, {b.requests} requests"
            + (f" [{counts}]" if counts else "")
            + f", created {b.created_at}"
        )
    click.echo(f"batches: {status.batches} created, {len(status.open_batches)} open")
    if status.items:
        click.echo("batch requests: " + ", ".join(f"{k} {v}" for k, v in status.items.items()))
    for who, u in status.usage.items():
        line = f"{who}: {u.calls} calls, {u.input_tokens} in / {u.output_tokens} out tokens"
        if u.cost_usd is not None:
            line += f", ${u.cost_usd:.4f}"
        if u.batch_calls:
            batch_cost = "" if u.batch_cost_usd is None else f", ${u.batch_cost_usd:.4f}"
            line += f" (batch: {u.batch_calls} calls{batch_cost})"
        click.echo(line)


@cli.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    help="Results directory (default: $JUDGE_RESULTS_DIR/demo, else results/demo here).",
)
@_handle_errors
def demo_command(out: str | None) -> None:
    """A small offline tournament on the embedded SmolLM2 model and replayed MT-Bench answers."""
    import os
    from pathlib import Path

    from judge import api

    click.echo(_TINY_JUDGE_NOTE, err=True)
    config = api.demo_config()
    if out is None:  # not beside the config, which lives inside the installed package
        out = str(Path(os.environ.get("JUDGE_RESULTS_DIR") or "results") / "demo")
    click.echo(f"config: {config}", err=True)
    result = _run_and_show(str(config), out, 1000, 0, allow_failures=True)  # a tiny judge may miss a few
    if result.leaderboard is not None:
        experts = api.demo_experts(result)
        _console().print(_beside_experts(result.leaderboard, experts))
        versus, among = experts.judge_vs_experts, experts.experts_vs_experts
        click.echo(
            f"on the {experts.items} judged items the MT-Bench experts also voted on, the judge agrees with "
            f"an expert's vote {_share(versus)}; two experts agree {_share(among)}"
        )
        judge = result.diagnostics["judge"]
        assert isinstance(judge, dict)
        click.echo(experts.sentence(str(judge["name"])))
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.phases)
    click.echo(f"time: {phases}; total {sum(s for _, s in result.phases):.1f} s")
    report = result.out_dir / "report.html"
    if report.is_file():
        click.echo(f"report: {report.resolve().as_uri()}")


def _share(count: Count) -> str:
    if count.rate is None:
        return "n/a (no shared votes)"
    return f"{count.rate:.0%} of the time ({count.agree}/{count.total})"


def _beside_experts(board: pd.DataFrame, experts: ExpertComparison) -> Table:
    """The judge's board with the experts' rank and rating of each replayed model, and the rank difference."""
    from rich.table import Table

    theirs = {row.model: row for row in experts.board.itertuples()} if len(experts.board) else {}
    title = f"the judge's board beside the MT-Bench experts' ({experts.expert_votes} votes, 80 questions)"
    table = Table(title=title, title_justify="left")
    for column in ("judge rank", "model", "judge rating", "expert rank", "expert rating", "rank diff"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in board.itertuples():
        expert = theirs.get(row.model)
        table.add_row(
            str(row.rank),
            str(row.model),
            f"{row.rating:.0f}",
            "-" if expert is None else str(expert.rank),
            "-" if expert is None else f"{expert.rating:.0f}",
            "-" if expert is None else f"{int(row.rank) - int(expert.rank):+d}",
        )
    return table


@cli.command("vote")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port."
)
@click.option("--voter", default="human", show_default=True, help="Your name in the battle log (human:NAME).")
@click.option(
    "--order", type=click.Choice(["close-first", "random"]), default="close-first", show_default=True
)
@click.option("--seed", type=int, default=None, help="Seed for the battle order and positions.")
@_handle_errors
def vote_command(run_dir: str, host: str, port: int, voter: str, order: str, seed: int | None) -> None:
    """Blind side-by-side voting page: your votes go to the store and RUN_DIR/human_votes.jsonl."""
    from judge import api

    def ready(server: Any) -> None:
        if not server.loopback:
            click.echo(
                f"judge: warning: listening on {host}, not loopback: anyone who can reach it can vote as "
                f"{voter!r}",
                err=True,
            )
        click.echo(f"voting page: {server.url}  (Ctrl-C to stop)", err=True)

    summary = api.vote(run_dir, host=host, port=port, voter=voter, order=order, seed=seed, on_ready=ready)
    click.echo(summary.sentence())


@cli.command("arena")
@click.argument("config", type=click.Path(dir_okay=False, path_type=str))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8766, show_default=True, help="0 picks one.")
@click.option("--out", type=click.Path(file_okay=False, path_type=str), help="Results directory.")
@click.option(
    "--judge-run", type=click.Path(file_okay=False, path_type=str), help="A judge run to show beside."
)
@click.option("--seed", type=int, default=None, help="Seed for pairs and positions.")
@click.option(
    "--export", type=click.Path(dir_okay=False, path_type=str), help="Write clean_battle JSON, exit."
)
@_handle_errors
def arena_command(
    config: str,
    host: str,
    port: int,
    out: str | None,
    judge_run: str | None,
    seed: int | None,
    export: str | None,
) -> None:
    """Live arena: voters bring prompts, two anonymous contestants answer, votes feed a live leaderboard."""
    from judge import api

    if export is not None:
        count = api.arena_export(config, export, out=out)
        click.echo(f"{count} vote(s) written to {export}")
        return
    server = api.arena_server(config, out=out, host=host, port=port, judge_run=judge_run, seed=seed)
    if not server.loopback and server.config.arena.voters is None:
        click.echo(
            f"judge: warning: listening on {host} without arena.voters: anyone who can reach it votes",
            err=True,
        )
    with server:
        server.start()
        click.echo(f"judge arena: {server.url} ({server.votes_at_start} votes so far; Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how an arena ends
            server.wait()
    click.echo(f"battle log: {server.out_dir}/arena_battles.jsonl")


def main() -> None:
    cli(prog_name="judge")
