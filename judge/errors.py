"""The exception tree of judge. Core code raises these; only cli.py turns them into messages and exit codes.

    JudgeError                  one-line message, optional hint          exit 1
      InputError                bad config / question set / vote file    exit 2
        ConfigError             carries path, line, field (or several such problems)
      ProviderError             auth, missing dependency, unreachable    exit 3
        MissingDependency       an optional package is not installed
      StoreError                schema too new, locked, corrupt, disk    exit 4
        RunLocked               another run holds the results directory
      IncompleteRun             answers/judgements failed, no battle     exit 5
      RegressionFound           `judge compare` found a drop or lost     exit 1
                                a watched model
      BatchesPending            --no-wait left provider batches open     exit 0

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class JudgeError(Exception):
    """Base class: a message a user can act on, and an optional hint on how to fix it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(JudgeError):
    """Something the user gave us is wrong; nothing has been written."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message, hint=hint)
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message


class ConfigError(InputError):
    """A tournament config mistake, located by file, line and key path (e.g. contestants[2].provider)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        text = f"{field}: {message}" if field else message
        super().__init__(text, path=path, line=line, hint=hint)
        self.field = field
        self.problems: tuple[ConfigError, ...] = (self,)

    @classmethod
    def several(cls, problems: list[ConfigError]) -> ConfigError:
        """One error carrying every problem found in one pass over a config (in file order)."""
        ordered = sorted(problems, key=lambda p: p.line or 0)
        if len(ordered) == 1:
            return ordered[0]
        first = ordered[0]
        listed = "; ".join(p.message for p in ordered)
        error = cls(f"{len(ordered)} problems in the config: {listed}", path=first.path)
        error.problems = tuple(ordered)
        return error


class ProviderError(JudgeError):
    """A model provider cannot be used at all (bad key, server unreachable, SDK missing)."""

    exit_code = 3


class MissingDependency(ProviderError):
    """An optional package is needed; the hint carries the install command."""


class StoreError(JudgeError):
    """The results database cannot be used (newer schema, locked, corrupt)."""

    exit_code = 4


class RunLocked(StoreError):
    """Another `judge run` holds the results directory's lock (who and since when is in the message)."""


class IncompleteRun(JudgeError):
    """The run ended, but some answers or judgements are missing or no battle was decided.

    Its own exit code, so a nightly job can tell "finished with holes" from bad input or a broken store.
    """

    exit_code = 5


class RegressionFound(JudgeError):
    """`judge compare` found a watched model significantly worse, or missing from one of the runs."""

    exit_code = 1


class BatchesPending(JudgeError):
    """`judge run --no-wait` submitted provider batches (or found them open): rerun the command to collect."""

    exit_code = 0
