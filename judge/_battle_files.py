"""Reading battle files: CSV (pyarrow, with a slow exact scan only on failure), JSON lists and JSON lines.

Each reader returns the rows as a frame of the known columns and a function from row index to the line the row
starts on, so validation stays vectorised and line numbers cost nothing until something is wrong.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from judge._jsonl import read_json_lines
from judge.errors import InputError

LineOf = Callable[[int], int | None]

# Arrow types as the nullable pandas dtypes the battle frame uses.
_DTYPES: Final = {
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def number_message(column: str, value: object) -> str:
    """The complaint about a bad turn (a positive integer), tstamp (a number) or style count (>= 0)."""
    kind = {"turn": "a positive integer", "tstamp": "a number"}.get(column, "a whole number >= 0")
    return f"{column} must be {kind}, not {show(value)}"


def show(value: object) -> str:
    """A cell value as a message shows it: repr of the plain Python value, or 'an empty value'."""
    if value is None or value is pd.NA or value == "":
        return "an empty value"
    return repr(value.item() if isinstance(value, np.generic) else value)


def read_table(path: Path, known: frozenset[str]) -> tuple[pd.DataFrame, LineOf]:
    """The file's rows as a frame of known columns, and a function from row index to line number."""
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "not a file", path=path)
    first = _first_char(path)
    if first == "[":
        frame, line_of = _read_json_list(path, known)
    elif first == "{":
        frame, line_of = _read_json_lines(path, known)
    else:
        frame, line_of = _read_csv(path, known)
    if len(frame) == 0:
        raise InputError("no battles in the file", path=path)
    return frame, line_of


def _first_char(path: Path) -> str:
    with path.open("rb") as fh:
        while chunk := fh.read(65536):
            text = chunk.decode("utf-8", errors="replace").lstrip().lstrip("\ufeff").lstrip()
            if text:
                return text[0]
    raise InputError("empty file", path=path)


def _read_csv(path: Path, known: frozenset[str]) -> tuple[pd.DataFrame, LineOf]:
    """pyarrow's multithreaded reader with the known columns typed up front (what pandas' engine="pyarrow"
    runs, minus a conversion pass); on any failure an exact scan finds the bad record."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    columns = list(dict.fromkeys(c for c in header if c in known))
    types = {c: {"turn": pa.int64(), "tstamp": pa.float64()}.get(c, pa.string()) for c in columns}
    convert = pa_csv.ConvertOptions(
        include_columns=columns,  # when empty, pyarrow reads every column, which keeps the row count
        column_types=types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        table = pa_csv.read_csv(path, convert_options=convert)
    except (pa.ArrowException, ValueError):
        _scan_csv(path, header)  # raises at the first bad record; none means quoted newlines, read them
        try:
            parse = pa_csv.ParseOptions(newlines_in_values=True)
            table = pa_csv.read_csv(path, parse_options=parse, convert_options=convert)
        except (pa.ArrowException, ValueError) as exc:
            raise InputError(f"unreadable CSV: {exc}", path=path) from exc
    frame = {c: table.column(c).to_pandas(types_mapper=_DTYPES.get) for c in columns}
    return pd.DataFrame(frame, index=pd.RangeIndex(table.num_rows)), lambda row: _csv_line(path, row)


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of each non-blank CSV record after the header, honouring quoted newlines."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        end = 0
        header_seen = False
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:
                continue
            if header_seen:
                yield start, fields
            header_seen = True


def _csv_line(path: Path, row: int) -> int | None:
    for index, (line, _) in enumerate(_csv_records(path)):
        if index == row:
            return line
    return None


def _scan_csv(path: Path, header: list[str]) -> None:
    """Raise on the first CSV record with the wrong field count or a non-numeric turn / tstamp."""
    numeric = {name: i for i, name in enumerate(header) if name in ("turn", "tstamp")}
    for line, fields in _csv_records(path):
        if len(fields) != len(header):
            raise InputError(f"expected {len(header)} fields, found {len(fields)}", path=path, line=line)
        for name, i in numeric.items():
            value = fields[i].strip()
            if value and not _is_number(value, integer=name == "turn"):
                raise InputError(number_message(name, value), path=path, line=line)


def _is_number(value: str, *, integer: bool) -> bool:
    try:
        int(value) if integer else float(value)
    except ValueError:
        return False
    return True


def _read_json_lines(path: Path, known: frozenset[str]) -> tuple[pd.DataFrame, LineOf]:
    """pyarrow's reader when the file is clean and its types are consistent; else line by line, which locates
    the bad line (and copes with a column holding both numbers and strings)."""
    try:
        table = pa_json.read_json(path)
    except (pa.ArrowException, ValueError):
        return _read_json_lines_exactly(path, known)
    turn = table.column("turn") if "turn" in table.column_names else None
    if turn is not None and pa.types.is_floating(turn.type) and pc.any(pc.invert(pc.is_finite(turn))).as_py():
        return _read_json_lines_exactly(path, known)  # a NaN turn would read as "no turn": locate it
    columns = {
        c: table.column(c).to_pandas(types_mapper=_DTYPES.get) for c in table.column_names if c in known
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows)), lambda row: _jsonl_line(path, row)


def _jsonl_line(path: Path, row: int) -> int | None:
    with path.open(encoding="utf-8-sig") as fh:
        records = (number for number, text in enumerate(fh, 1) if text.strip())
        return next(itertools.islice(records, row, None), None)


def _read_json_lines_exactly(path: Path, known: frozenset[str]) -> tuple[pd.DataFrame, LineOf]:
    records, lines = [], []
    for number, record in read_json_lines(path):
        if not isinstance(record, dict):
            raise InputError("expected a JSON object", path=path, line=number)
        _check_turn(record, path, number)
        records.append(record)
        lines.append(number)
    return _records_frame(records, known), lines.__getitem__


def _check_turn(record: dict[str, Any], path: Path, line: int | None) -> None:
    """NaN and Infinity (which Python's json accepts) would turn into a missing turn: refuse them here."""
    value = record.get("turn")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(number_message("turn", value), path=path, line=line)


def _read_json_list(path: Path, known: frozenset[str]) -> tuple[pd.DataFrame, LineOf]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"unreadable JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    if not isinstance(records, list):
        raise InputError("expected a JSON list of battle objects", path=path, line=1)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError("expected a JSON object", path=path, line=_json_list_line(text, index))
        if isinstance(record.get("turn"), float) and not math.isfinite(record["turn"]):
            _check_turn(record, path, _json_list_line(text, index))
    return _records_frame(records, known), lambda row: _json_list_line(text, row)


def _json_list_line(text: str, row: int) -> int | None:
    """Line on which element `row` of a JSON list starts (decodes element by element: for errors only)."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    for index in range(row + 1):
        while text[pos] in " \t\r\n,":
            pos += 1
        if index == row:
            return text.count("\n", 0, pos) + 1
        _, pos = decoder.raw_decode(text, pos)
    return None


def _records_frame(records: list[dict[str, Any]], known: frozenset[str]) -> pd.DataFrame:
    present = [c for c in sorted(known) if any(c in r for r in records)]  # stops at the first hit
    columns = {c: _column([r.get(c) for r in records]) for c in present}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def _column(values: list[Any]) -> pd.Series:
    """One JSON key's values, typed when they share a type (pyarrow infers it in C), else objects."""
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = None
    if array is None or array.type not in _DTYPES:
        return pd.Series(values, dtype=object)
    return pd.Series(array.to_pandas(types_mapper=_DTYPES.get))
