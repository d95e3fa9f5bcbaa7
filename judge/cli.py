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


def main() -> None:
    cli(prog_name="judge")
