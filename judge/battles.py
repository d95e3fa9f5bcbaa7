"""The battle log: one table shape shared by human votes and judge verdicts.

Every loader returns a pandas DataFrame with exactly BATTLE_COLUMNS, so the rating engine never needs to know
where a vote came from. Format version 1 is the Chatbot Arena clean_battle shape plus `source`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from judge._battle_files import number_message, read_table
from judge._battle_files import show as _show
from judge.errors import InputError

FORMAT_VERSION: Final = 1

WINNERS: Final = ("model_a", "model_b", "tie", "tie (bothbad)")
TIES: Final = ("tie", "tie (bothbad)")
SOURCES: Final = ("human", "judge")

# Optional style counts of the two answers (summed over the assistant turns judged), for style control.
STYLE_COUNT_COLUMNS: Final = (
    "tokens_a",
    "tokens_b",
    "headers_a",
    "headers_b",
    "lists_a",
    "lists_b",
    "bold_a",
    "bold_b",
)

BATTLE_COLUMNS: Final = (
    "question_id",
    "model_a",
    "model_b",
    "winner",
    "judge",
    "source",
    "category",
    "language",
    "turn",
    "tstamp",
    "first_shown",
    "verdict_ab",
    "verdict_ba",
    *STYLE_COUNT_COLUMNS,
)
_NUMBER_COLUMNS: Final = ("turn", "tstamp", *STYLE_COUNT_COLUMNS)
_TEXT_COLUMNS: Final = tuple(c for c in BATTLE_COLUMNS if c not in _NUMBER_COLUMNS)
# Position columns (optional): first_shown names the model shown first when a battle is one presentation
# (a human vote, one game, a single-order judgement); verdict_ab / verdict_ba hold the judge's verdict as
# shown (A>B, A=B, B>>A, ...) with model_a first and with model_b first.
VERDICTS_AS_SHOWN: Final = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


@dataclass(frozen=True)
class Battle:
    """One vote between two models on one question (and turn)."""

    question_id: str
    model_a: str
    model_b: str
    winner: str  # one of WINNERS
    judge: str | None = None
    source: str | None = None  # one of SOURCES
    category: str | None = None
    language: str | None = None
    turn: int | None = None
    tstamp: float | None = None
    first_shown: str | None = None  # the model shown first, when the battle is a single presentation
    verdict_ab: str | None = None  # the verdict as shown with model_a first (one of VERDICTS_AS_SHOWN)
    verdict_ba: str | None = None  # ... with model_b first
    tokens_a: int | None = None
    tokens_b: int | None = None
    headers_a: int | None = None
    headers_b: int | None = None
    lists_a: int | None = None
    lists_b: int | None = None
    bold_a: int | None = None
    bold_b: int | None = None

    def to_record(self) -> dict[str, Any]:
        """The battle as a JSON-ready dict; style counts appear only when known."""
        record = asdict(self)
        for column in STYLE_COUNT_COLUMNS:
            if record[column] is None:
                del record[column]
        return record


def to_frame(battles: list[Battle]) -> pd.DataFrame:
    """Battles as a DataFrame with exactly BATTLE_COLUMNS (the rating engine's input)."""
    frame = pd.DataFrame([b.to_record() for b in battles], columns=list(BATTLE_COLUMNS))
    return normalize_frame(frame)


def normalize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a battle frame the canonical columns and dtypes (question_id and names as str, turn as Int64)."""
    out = frame.reindex(columns=list(BATTLE_COLUMNS))
    for column in _TEXT_COLUMNS:
        out[column] = out[column].astype("string")
    for column in ("turn", *STYLE_COUNT_COLUMNS):
        out[column] = pd.to_numeric(out[column]).astype("Int64")
    out["tstamp"] = pd.to_numeric(out["tstamp"]).astype("Float64")
    return out.reset_index(drop=True)


# --- Loaders ---
# Every file goes through the same three steps: read it into a raw frame (CSV via pyarrow, JSON list, JSON
# lines), map its format's columns onto BATTLE_COLUMNS, then validate all rows at once with vectorised masks.
# Line numbers are worked out only for the first bad row, so the happy path never walks the file in Python.

FORMATS: Final = ("arena", "mtbench", "llmfao", "generic")

# MT-Bench question ids 81-160 come in blocks of ten per category, in this order (FastChat question.jsonl).
_MTBENCH_CATEGORIES: Final = (
    "writing",
    "roleplay",
    "reasoning",
    "math",
    "coding",
    "extraction",
    "stem",
    "humanities",
)
_MTBENCH_JUDGE: Final = r"^(?:expert|author)_\d+$"
_LLMFAO_WINNERS: Final = {"left": "model_a", "right": "model_b", "tie": "tie"}
_REQUIRED: Final = {
    "arena": ("question_id", "model_a", "model_b", "winner", "anony"),
    "mtbench": ("question_id", "model_a", "model_b", "winner", "judge"),
    "llmfao": ("prompt", "left", "right", "winner"),
    "generic": ("model_a", "model_b", "winner"),
}
_KNOWN_COLUMNS: Final = frozenset(
    (*BATTLE_COLUMNS, "anony", "prompt", "left", "right", "worker", "conv_metadata")
)
# Chatbot Arena's conv_metadata keys for each style count (a count may be a dict of sub-counts: summed).
_ARENA_STYLE_KEYS: Final = {
    "tokens_a": "sum_assistant_a_tokens",
    "tokens_b": "sum_assistant_b_tokens",
    "headers_a": "header_count_a",
    "headers_b": "header_count_b",
    "lists_a": "list_count_a",
    "lists_b": "list_count_b",
    "bold_a": "bold_count_a",
    "bold_b": "bold_count_b",
}


@dataclass(frozen=True)
class FileCounts:
    """What one input file gave: rows read and, by reason, rows left out (nothing is dropped silently)."""

    path: str
    format: str
    rows_read: int
    excluded: Mapping[str, int] = field(default_factory=dict)

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.excluded.values())


@dataclass(frozen=True)
class LoadedBattles:
    """The battle frame (exactly BATTLE_COLUMNS) and the per-file counts that explain it."""

    frame: pd.DataFrame
    files: tuple[FileCounts, ...]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def excluded(self) -> dict[str, int]:
        """Rows left out over all files, by reason."""
        totals: dict[str, int] = {}
        for counts in self.files:
            for reason, n in counts.excluded.items():
                totals[reason] = totals.get(reason, 0) + n
        return totals


def load_battles(
    paths: str | Path | Sequence[str | Path],
    *,
    format: str | None = None,
    include_non_anony: bool = False,
) -> LoadedBattles:
    """Read battle logs into one frame; the format is detected per file unless given.

    Raises InputError (file, line, reason) on the first malformed row: a load is all or nothing.
    """
    if format is not None and format not in (*FORMATS, "auto"):
        raise InputError(f"unknown format '{format}' (known: auto, {', '.join(FORMATS)})")
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise InputError("no battle files given")
    frames, files = [], []
    for path in paths:
        frame, counts = _load_file(Path(path), None if format == "auto" else format, include_non_anony)
        frames.append(frame)
        files.append(counts)
    return LoadedBattles(frame=normalize_frame(pd.concat(frames, ignore_index=True)), files=tuple(files))


def _load_file(path: Path, fmt: str | None, include_non_anony: bool) -> tuple[pd.DataFrame, FileCounts]:
    try:
        raw, line_of = read_table(path, _KNOWN_COLUMNS)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from exc
    fmt = fmt or _detect(raw)
    missing = [c for c in _REQUIRED[fmt] if c not in raw.columns]
    if missing:
        raise InputError(f"missing required column '{missing[0]}' for the {fmt} format", path=path)
    frame, checks = _map_format(raw, fmt)
    bad = _first_bad([*checks, *_row_checks(frame)])
    if bad is not None:
        row, reason = bad
        raise InputError(reason, path=path, line=line_of(row))
    excluded: dict[str, int] = {}
    battles = _typed(frame)
    if fmt == "arena" and not include_non_anony:
        keep = frame["anony"].to_numpy(dtype=bool)
        if not keep.all():
            excluded["non-anonymous"] = int((~keep).sum())
            # Masking each column's array filters in Arrow; frame[keep] gathers by index, a lot slower.
            battles = pd.DataFrame({c: battles[c].array[keep] for c in battles.columns})
    return battles, FileCounts(path=str(path), format=fmt, rows_read=len(raw), excluded=excluded)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Only BATTLE_COLUMNS, absent ones as typed NA (normalize_frame on an object column of NAs is slow)."""
    dtypes = {c: "Int64" if c in _NUMBER_COLUMNS else "string" for c in BATTLE_COLUMNS}
    dtypes["tstamp"] = "Float64"
    columns = {}
    for c in BATTLE_COLUMNS:
        if c not in frame.columns:
            columns[c] = pd.Series(pd.NA, index=frame.index, dtype=dtypes[c])
        elif c in STYLE_COUNT_COLUMNS:
            columns[c] = pd.to_numeric(frame[c]).astype("Int64")  # checked to be whole numbers already
        else:
            columns[c] = frame[c]
    return pd.DataFrame(columns)


# --- Formats ---

_Check = tuple[np.ndarray, Callable[[int], str]]


def _detect(raw: pd.DataFrame) -> str:
    columns = set(raw.columns)
    if "anony" in columns:
        return "arena"
    if {"left", "right", "winner"} <= columns and "model_a" not in columns:
        return "llmfao"
    if set(_REQUIRED["mtbench"]) <= columns <= {*_REQUIRED["mtbench"], "turn"}:
        judges = raw["judge"].astype("string")
        ids = pd.to_numeric(raw["question_id"].astype("string"), errors="coerce")
        if judges.str.fullmatch(_MTBENCH_JUDGE).all() and ids.between(81, 160).all():
            return "mtbench"
    return "generic"


def _map_format(raw: pd.DataFrame, fmt: str) -> tuple[pd.DataFrame, list[_Check]]:
    """Columns renamed and filled in for `fmt`, plus checks that only make sense on the raw values."""
    checks: list[_Check] = []
    if fmt == "llmfao":
        winner = raw["winner"].astype("string")
        mapped = winner.map(_LLMFAO_WINNERS).astype("string")
        has_worker = "worker" in raw.columns
        frame = pd.DataFrame(
            {
                "question_id": raw["prompt"],
                "model_a": raw["left"],
                "model_b": raw["right"],
                "winner": mapped.fillna("model_a"),  # placeholder; the check below reports bad values
                "judge": raw["worker"] if has_worker else None,
                "source": "human" if has_worker else "judge",
                "first_shown": raw["left"],  # LLMFAO shows `left` first
            }
        )
        bad = mapped.isna().to_numpy(dtype=bool, na_value=True)
        checks.append((bad, lambda i: f"winner must be left, right or tie, not {_show(winner.iloc[i])}"))
        return frame, checks
    frame = raw.copy()
    if fmt in ("arena", "mtbench"):
        frame["source"] = "human"
    if fmt == "mtbench":
        ids = pd.to_numeric(frame["question_id"].astype("string"), errors="coerce")
        block = ((ids - 81) // 10).where(ids.between(81, 160))
        names = pd.Series(_MTBENCH_CATEGORIES, dtype="string")
        frame["category"] = names.reindex(block.astype("Int64")).to_numpy()
    if fmt == "arena" and "conv_metadata" in frame.columns:
        counts = {
            column: [_style_count(meta, key) for meta in frame["conv_metadata"]]
            for column, key in _ARENA_STYLE_KEYS.items()
            if column not in frame.columns
        }
        if any(v is not None for values in counts.values() for v in values):  # a dump with style metadata
            for column, values in counts.items():
                frame[column] = values
    if fmt == "arena":
        frame["first_shown"] = frame["model_a"]  # Chatbot Arena shows model_a on the left
        original = frame["anony"]
        if pd.api.types.is_bool_dtype(original):
            bad = original.isna().to_numpy(dtype=bool)
            checks.append((bad, _fixed("anony must be true or false, not an empty value")))
            frame["anony"] = original.to_numpy(dtype=bool, na_value=False)
        else:
            text = original.astype("string").str.lower()
            true = text.isin(["true", "1"]).to_numpy(dtype=bool, na_value=False)
            bad = ~true & ~text.isin(["false", "0"]).to_numpy(dtype=bool, na_value=False)
            checks.append((bad, lambda i: f"anony must be true or false, not {_show(original.iloc[i])}"))
            frame["anony"] = true
    return frame, checks


def _row_checks(frame: pd.DataFrame) -> list[_Check]:
    """Vectorised checks common to every format, in the order a reader would fix them."""
    checks: list[_Check] = []
    text = {c: frame[c].astype("string") for c in _TEXT_COLUMNS if c in frame.columns}

    def blank(column: str) -> np.ndarray:
        values = text[column]
        empty: np.ndarray = (values.isna() | (values.str.strip() == "")).to_numpy(dtype=bool, na_value=True)
        return empty

    for column in ("question_id", "model_a", "model_b"):
        if column in text:
            checks.append((blank(column), _fixed(f"missing {column}")))
    for column in ("model_a", "model_b"):  # JSON may carry a number where a name belongs; CSV is all text
        raw = frame[column]
        if not pd.api.types.is_string_dtype(raw) or raw.dtype == object:
            not_text = raw.map(lambda v: not (isinstance(v, str) or v is None or v is pd.NA))
            checks.append((not_text.to_numpy(dtype=bool), _not_a_name(column, raw)))
    a, b = text["model_a"], text["model_b"]
    same = (a == b).to_numpy(dtype=bool, na_value=False)
    checks.append((same, lambda i: f"model_a and model_b are the same model ({_show(a.iloc[i])})"))
    winner = text["winner"]
    bad_winner = ~winner.isin(WINNERS).to_numpy(dtype=bool, na_value=False)
    choices = ", ".join(WINNERS)
    checks.append((bad_winner, lambda i: f"winner must be one of {choices}, not {_show(winner.iloc[i])}"))
    if "first_shown" in text:
        shown = text["first_shown"]
        bad_shown = (shown.notna() & (shown != a) & (shown != b)).to_numpy(dtype=bool, na_value=False)
        checks.append(
            (bad_shown, lambda i: f"first_shown must be model_a or model_b, not {_show(shown.iloc[i])}")
        )
    for column in ("verdict_ab", "verdict_ba"):
        if column in text:
            values = text[column]
            bad = (values.notna() & ~values.isin(VERDICTS_AS_SHOWN)).to_numpy(dtype=bool, na_value=False)
            allowed = ", ".join(VERDICTS_AS_SHOWN)
            checks.append((bad, _bad_verdict(column, values, allowed)))
    if "source" in text:
        source = text["source"]
        bad_source = (source.notna() & ~source.isin(SOURCES)).to_numpy(dtype=bool, na_value=False)
        checks.append((bad_source, lambda i: f"source must be human or judge, not {_show(source.iloc[i])}"))
    for column in _NUMBER_COLUMNS:
        integer = column != "tstamp"
        if column not in frame.columns:
            continue
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            number, wrong = values, np.zeros(len(values), dtype=bool)
        else:  # strings or mixed JSON values: only real numbers (or numeric text) pass
            number = pd.to_numeric(values.where(values.map(_is_plain_number)), errors="coerce")
            wrong = (number.isna() & values.notna()).to_numpy(dtype=bool)
        if integer:  # a turn counts from 1, a style count from 0
            least = 0 if column in STYLE_COUNT_COLUMNS else 1
            whole = number.notna() & (number % 1 == 0) & (number >= least)
            wrong = wrong | (number.notna() & ~whole).to_numpy(dtype=bool, na_value=False)
        checks.append((wrong, _bad_number(column, values)))
    return checks


def _style_count(meta: object, key: str) -> object:
    """One style count from an Arena conv_metadata dict: a number, or a dict of sub-counts summed."""
    if not isinstance(meta, dict):
        return None
    value = meta.get(key)
    if isinstance(value, dict):
        parts = [v for v in value.values() if v is not None]
        return sum(parts) if all(_is_plain_number(v) for v in parts) else value
    return value


def _is_plain_number(value: object) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _bad_verdict(column: str, values: pd.Series, allowed: str) -> Callable[[int], str]:
    return lambda i: f"{column} must be one of {allowed}, not {_show(values.iloc[i])}"


def _fixed(message: str) -> Callable[[int], str]:
    return lambda _: message


def _not_a_name(column: str, values: pd.Series) -> Callable[[int], str]:
    return lambda i: f"{column} must be a non-empty string (a model name), not {_show(values.iloc[i])}"


def _bad_number(column: str, values: pd.Series) -> Callable[[int], str]:
    return lambda i: number_message(column, values.iloc[i])


def _first_bad(checks: list[_Check]) -> tuple[int, str] | None:
    """The earliest failing row over all checks and the first check's message for it."""
    best: tuple[int, Callable[[int], str]] | None = None
    for mask, message in checks:
        hits = np.flatnonzero(mask)
        if hits.size and (best is None or hits[0] < best[0]):
            best = (int(hits[0]), message)
    return None if best is None else (best[0], best[1](best[0]))
