"""Write a finished tournament's results directory: the battle log, leaderboards, diagnostics and details.

The files are the contract that `judge report`, `judge compare`, `judge rate` and `judge validate` read (see
judge/report/rundir.py). Each file is written to a temporary name and renamed, so a killed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from judge.battles import Battle
from judge.errors import StoreError
from judge.questions import Question
from judge.report.rundir import (
    BATTLES_FILE,
    BY_CATEGORY_FILE,
    BY_JUDGE_FILE,
    DETAILS_FILE,
    DIAGNOSTICS_FILE,
    HUMAN_BOARD_FILE,
    LEADERBOARD_FILE,
    LEADERBOARD_STYLE_FILE,
    PPI_BOARD_FILE,
)
from judge.store import StoredJudgement


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary name and rename, so a reader never sees half a file; a write the disk
    refuses (full, read-only) leaves no temporary file and becomes a one-line StoreError."""
    _through_tmp(path, lambda handle: handle.write(text))


def _through_tmp(path: Path, write: Callable[[TextIO], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            write(handle)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
        raise StoreError(
            f"{path}: {reason}: cannot write",
            hint="free some space and run the same command again: it rewrites the files from the store",
        ) from exc


RESULT_FILES = (
    BATTLES_FILE,
    DETAILS_FILE,
    DIAGNOSTICS_FILE,
    LEADERBOARD_FILE,
    BY_CATEGORY_FILE,
    "report.html",
)


def remove_set(out_dir: Path) -> None:
    """Delete every result file: after a failed write, none rather than a set that does not belong together
    (the store keeps everything, so the same command rewrites them for free)."""
    for name in RESULT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def _atomic_write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """atomic_write, one JSON line at a time: a million-battle file is never one string in memory."""
    lines = (json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n" for row in rows)
    _through_tmp(path, lambda handle: handle.writelines(lines))


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n" for row in rows)


def write_battles(out_dir: Path, battles: Sequence[Battle], *, name: str = BATTLES_FILE) -> Path:
    path = out_dir / name
    _atomic_write_jsonl(path, (b.to_record() for b in battles))
    return path


def write_json(out_dir: Path, name: str, data: Mapping[str, Any]) -> Path:
    path = out_dir / name
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def write_leaderboards(
    out_dir: Path,
    leaderboard: Mapping[str, Any],
    by_category: Mapping[str, Any] | None,
    style: Mapping[str, Any] | None = None,
) -> list[Path]:
    """leaderboard.json, plus the by-category and style-controlled boards when there are any (a stale one
    from an earlier run is removed)."""
    paths = [write_json(out_dir, LEADERBOARD_FILE, leaderboard)]
    for name, board in ((BY_CATEGORY_FILE, by_category), (LEADERBOARD_STYLE_FILE, style)):
        if board is not None:
            paths.append(write_json(out_dir, name, board))
        else:
            (out_dir / name).unlink(missing_ok=True)
    return paths


def write_human_boards(out_dir: Path, human: Mapping[str, Any], ppi: Mapping[str, Any]) -> list[Path]:
    """The humans' own leaderboard and the prediction-powered one (judge run with `human:` votes)."""
    return [write_json(out_dir, HUMAN_BOARD_FILE, human), write_json(out_dir, PPI_BOARD_FILE, ppi)]


def remove_human_boards(out_dir: Path) -> None:
    """An earlier run's human and PPI boards, gone when this run has no human votes (they would be stale)."""
    for name in (HUMAN_BOARD_FILE, PPI_BOARD_FILE):
        (out_dir / name).unlink(missing_ok=True)


def remove_boards(out_dir: Path) -> None:
    """Delete an earlier run's leaderboards and report when this run has no battle (they would lie)."""
    for name in (
        LEADERBOARD_FILE,
        BY_CATEGORY_FILE,
        LEADERBOARD_STYLE_FILE,
        BY_JUDGE_FILE,
        HUMAN_BOARD_FILE,
        PPI_BOARD_FILE,
        "report.html",
    ):
        (out_dir / name).unlink(missing_ok=True)


def write_diagnostics(out_dir: Path, diagnostics: Mapping[str, Any]) -> Path:
    return write_json(out_dir, DIAGNOSTICS_FILE, diagnostics)


def details_rows(
    questions: Mapping[str, Question],
    answers: Mapping[tuple[str, str, int], str],
    judgements: Iterable[StoredJudgement],
    battles: Sequence[Battle],
) -> Iterator[dict[str, Any]]:
    """One row per judged (question, pair, turn): the texts the judge saw and its output for each order.

    `judgements` come grouped by (question, pair, turn), attempts in order (Store.judgements_by_slot), so
    rows stream out one group at a time.
    """
    winners = {(b.question_id, b.model_a, b.model_b, b.turn): b.winner for b in battles}
    slot: tuple[str, str, str, int] | None = None
    orders: dict[tuple[str, str], StoredJudgement] = {}
    for j in judgements:  # the last stored attempt of each judge and order wins (a parsed one ends retries)
        here = (j.question_id, j.model_a, j.model_b, j.turn)
        if here != slot:
            if slot is not None:
                yield from _detail_row(questions, answers, winners, slot, orders)
            slot, orders = here, {}
        orders[(j.judge, j.order)] = j
    if slot is not None:
        yield from _detail_row(questions, answers, winners, slot, orders)


def _detail_row(
    questions: Mapping[str, Question],
    answers: Mapping[tuple[str, str, int], str],
    winners: Mapping[tuple[str, str, str, int | None], str],
    slot: tuple[str, str, str, int],
    orders: Mapping[tuple[str, str], StoredJudgement],
) -> Iterator[dict[str, Any]]:
    question_id, model_a, model_b, turn = slot
    question = questions.get(question_id)
    if question is not None:  # None: judged in an earlier run with another question selection
        turns = range(1, turn + 1)
        reference = {} if question.reference is None else {"reference": list(question.reference[:turn])}
        yield (
            {
                "question_id": question_id,
                "category": question.category,
                "turn": turn,
                "question": list(question.turns[:turn]),
                "model_a": model_a,
                "model_b": model_b,
                "answer_a": [answers.get((model_a, question_id, t), "") for t in turns],
                "answer_b": [answers.get((model_b, question_id, t), "") for t in turns],
                "judgments": [
                    {"judge": judge, "order": order, "raw": j.raw, "verdict": j.preference}
                    for (judge, order), j in sorted(orders.items())
                ],
                "winner": winners.get((question_id, model_a, model_b, turn)),
                **reference,
            }
        )


def write_details(out_dir: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path = out_dir / DETAILS_FILE
    _atomic_write_jsonl(path, rows)
    return path
