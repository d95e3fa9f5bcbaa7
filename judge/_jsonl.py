"""Reading JSON-lines files whose every mistake must name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge.errors import InputError


def read_json_lines(path: Path, *, what: str = "file") -> list[tuple[int, Any]]:
    """(line number, value) for each non-blank line; a missing or unreadable file, or a line that is not JSON,
    is an InputError at file:line. Callers check each value's shape with their own message."""
    return list(iter_json_lines(path, what=what))


def iter_json_lines(path: Path, *, what: str = "file") -> Iterator[tuple[int, Any]]:
    """read_json_lines one line at a time, for files too big to hold (a big run's details.jsonl)."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc.msg}", path=path, line=number) from None
                yield number, value
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} ({exc})", path=path) from None
