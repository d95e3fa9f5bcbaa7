"""Answer lengths for the longer-answer diagnostic, read from MT-Bench model-answer JSONL files.

Each line is {question_id, model_id, choices: [{turns: [text, ...]}]}; an answer's length is its number of
characters. Only lengths are kept: the answers themselves are untrusted text and are not needed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from judge.errors import InputError

LENGTH_TABLE_COLUMNS = ("question_id", "model", "turn", "length")


def load_answer_lengths(paths: Sequence[str | Path]) -> pd.DataFrame:
    """A table of (question_id, model, turn, length), one row per answer turn; InputError on a bad line."""
    rows: list[tuple[str, str, int, int]] = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"cannot read answers: {exc.strerror or exc}", path=path) from exc
        for number, line in enumerate(lines, start=1):
            if line.strip():
                rows.extend(_lengths(line, path, number))
    return pd.DataFrame(rows, columns=list(LENGTH_TABLE_COLUMNS))


def _lengths(line: str, path: str | Path, number: int) -> list[tuple[str, str, int, int]]:
    try:
        record = json.loads(line)
        turns = record["choices"][0]["turns"]
        question, model = str(record["question_id"]), str(record["model_id"])
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise InputError(
            f"not an MT-Bench model answer ({type(exc).__name__}: {exc}); "
            "expected question_id, model_id and choices[0].turns",
            path=path,
            line=number,
        ) from exc
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise InputError("choices[0].turns must be a list of strings", path=path, line=number)
    return [(question, model, turn, len(text)) for turn, text in enumerate(turns, start=1)]
