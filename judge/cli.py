"""The `judge` command: parse flags, call one function of judge.api, render the result.

Only this module imports click or draws on the terminal. A JudgeError becomes `judge: error: ...` on stderr with
the exit code of its class; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from judge.errors import JudgeError

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
            click.echo(f"judge: error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("judge: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for all errors.")
@click.version_option(package_name="judge")
def cli(debug: bool) -> None:
    """LLM-as-judge tournaments, rated like Chatbot Arena."""


@cli.command("validate")
@click.option("--human", multiple=True, required=True, metavar="FILE", help="Human battle log (repeatable).")
@click.option("--judge", "judge_files", multiple=True, metavar="FILE", help="Judge battle log (repeatable).")
@click.option("--by", type=click.Choice(["turn", "category"]), default="turn", show_default=True)
@click.option("--format", "file_format", default=None, help="Battle log format (default: detected per file).")
@click.option("--exclude-voter", multiple=True, metavar="GLOB", help="Drop human voters like 'author_*'.")
@click.option("--answers", multiple=True, metavar="FILE", help="MT-Bench answers JSONL (lengths).")
@click.option("--judge-model", default=None, help="The judge's own contestant name, for self-preference.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True, help="Rounds.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (shape in docs/validate.md).")
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
    as_json: bool,
) -> None:
    """Measure how well a judge's votes agree with human votes (or humans with each other)."""
    import json

    from rich.console import Console

    from judge import api
    from judge.validate_view import render_validation

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
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        Console(soft_wrap=False).print(render_validation(report))


def main() -> None:
    cli(prog_name="judge")
