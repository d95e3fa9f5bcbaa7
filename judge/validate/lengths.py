"""Answer lengths for the longer-answer diagnostic, read from recorded answers in MT-Bench format.

Each line is {question_id, model_id, choices: [{turns: [text, ...]}]}; an answer's length is its number of
characters. A path may be a file or a folder of `*.jsonl` answer files (the layout of MT-Bench's model_answer/
and of the replay provider, whose `<model>.jsonl` may leave model_id out: the file's stem names the model).
Only lengths are kept: the answers themselves are untrusted text and are not needed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from judge._jsonl import read_json_lines
from judge.errors import InputError

LENGTH_TABLE_COLUMNS = ("question_id", "model", "turn", "length")


def answer_files(paths: Sequence[str | Path]) -> list[Path]:
    """The answer files behind the given paths: a file as is, a folder as its *.jsonl files in name order."""
    files: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.glob("*.jsonl") if p.is_file())
            if not found:
                raise InputError(
                    "the answers folder holds no *.jsonl answer files",
                    path=path,
                    hint="give a folder of MT-Bench answer files (<model>.jsonl) or the files themselves",
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError("answers not found (no such file or folder)", path=path)
    return files


def load_answer_lengths(paths: Sequence[str | Path]) -> pd.DataFrame:
    """A table of (question_id, model, turn, length), one row per answer turn; InputError at file:line."""
    rows: list[tuple[str, str, int, int]] = []
    for path in answer_files(paths):
        lines = read_json_lines(path, what="answer file")
        if not lines:
            raise InputError("the answer file holds no answers", path=path)
        for number, record in lines:
            rows.extend(_lengths(record, path, number))
    return pd.DataFrame(rows, columns=list(LENGTH_TABLE_COLUMNS))


def _lengths(record: Any, path: Path, number: int) -> list[tuple[str, str, int, int]]:
    def bad(what: str) -> InputError:
        return InputError(
            f"not an MT-Bench model answer: {what}",
            path=path,
            line=number,
            hint="expected question_id, model_id and choices[0].turns (a list of strings)",
        )

    if not isinstance(record, dict):
        raise bad("expected a JSON object")
    question = record.get("question_id")
    if isinstance(question, bool) or not isinstance(question, int | str) or question == "":
        raise bad("question_id must be a number or a non-empty string")
    model = record.get("model_id", path.stem)
    if not isinstance(model, str) or not model:
        raise bad("model_id must be a non-empty string")
    choices = record.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise bad("choices must be a non-empty list of objects")
    turns = choices[0].get("turns")
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise bad("choices[0].turns must be a list of strings")
    return [(str(question), model, turn, len(text)) for turn, text in enumerate(turns, start=1)]
