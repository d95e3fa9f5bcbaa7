"""Read a tournament results directory into one frozen ReportData value (the report's and compare's input).

Only battles.jsonl and leaderboard.json are required. The other files add sections to the report; when one is
absent its section says so. A file that exists but is malformed is an InputError naming the file and line:
a report that silently drops half a file would be worse than none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from judge._jsonl import iter_json_lines
from judge.battles import load_battles
from judge.errors import InputError

BATTLES_FILE = "battles.jsonl"
LEADERBOARD_FILE = "leaderboard.json"
LEADERBOARD_STYLE_FILE = "leaderboard_style.json"
BY_CATEGORY_FILE = "leaderboard_by_category.json"
DIAGNOSTICS_FILE = "diagnostics.json"
DETAILS_FILE = "details.jsonl"
# The report's battle browser shows at most this many details (an evenly spaced subset of a bigger run's):
# every detail costs ~1-2 kB of page and of memory, and a 1M-call run has 500,000.
MAX_BROWSED = 20_000
BY_JUDGE_FILE = "leaderboard_by_judge.json"  # a panel's per-judge boards (judge.panel_run)
JUDGE_BATTLES_FILE = "battles_by_judge.jsonl"  # a panel's members' own battles
HUMAN_BOARD_FILE = "leaderboard_human.json"
PPI_BOARD_FILE = "leaderboard_ppi.json"
HUMAN_VOTES_FILE = "human_votes.jsonl"  # what `judge vote` appends to (judge.vote.VOTES_FILE)


@dataclass(frozen=True)
class LeaderboardRow:
    """One model's line in a leaderboard.json."""

    model: str
    rating: float
    ci_lower: float
    ci_upper: float
    rank: int
    battles: int
    wins: int
    losses: int
    ties: int
    separated: bool = False  # never lost or never won: one interval end is infinite
    score: float | None = None  # predicted win rate (%) against the baseline, when the board has one
    score_lower: float | None = None
    score_upper: float | None = None


@dataclass(frozen=True)
class Leaderboard:
    """A leaderboard.json: how it was fitted and its rows, best first."""

    method: str
    n_battles: int
    bootstrap: int
    rows: tuple[LeaderboardRow, ...]
    cluster: str | None = None  # the unit the bootstrap resampled ("question" or "battle"), when recorded
    style: Mapping[str, Any] | None = None  # features and coefficients of a style-controlled board

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(row.model for row in self.rows)


@dataclass(frozen=True)
class Judgment:
    """The judge's output for one presentation order ("ab" or "ba")."""

    order: str
    raw: str
    verdict: str | None
    judge: str | None = None  # which judge of a panel (None in logs written before panels)


@dataclass(frozen=True)
class Detail:
    """One judged (question, pair, turn) with the texts the judge saw; all text is untrusted."""

    question_id: str
    category: str | None
    turn: int | None
    question: tuple[str, ...]
    model_a: str
    model_b: str
    answer_a: tuple[str, ...]
    answer_b: tuple[str, ...]
    judgments: tuple[Judgment, ...]
    winner: str | None
    reference: tuple[str, ...] | None = None  # the question set's reference answer per turn, when it has one


@dataclass(frozen=True)
class PpiBoards:
    """leaderboard_ppi.json and leaderboard_human.json: `judge run` writes them when given human votes."""

    ppi: Leaderboard
    human: Leaderboard | None
    rank_sets: Mapping[str, tuple[int, int]]
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class ReportData:
    """Everything a report or a comparison needs from one run directory."""

    name: str
    battles: pd.DataFrame
    leaderboard: Leaderboard
    by_category: Mapping[str, Leaderboard]
    judge: Mapping[str, Any] | None
    contestants: Mapping[str, Mapping[str, Any]]
    details: tuple[Detail, ...]
    details_total: int = 0  # lines in details.jsonl (more than len(details) when the browser shows a subset)
    details_every: int = 1  # details holds every details_every-th of them
    style_leaderboard: Leaderboard | None = None  # leaderboard_style.json, when the run wrote one
    by_judge: Mapping[str, Leaderboard] = field(default_factory=dict)  # a panel: one board per judge
    judges: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # a panel: each judge's diagnostics
    panel: Mapping[str, Any] | None = None  # a panel: rule and agreement (judge.panel_run.panel_agreement)
    ppi: PpiBoards | None = None
    judge_battles: pd.DataFrame | None = None  # a panel: battles_by_judge.jsonl, each judge's own battles
    human_votes: pd.DataFrame | None = None  # human_votes.jsonl from `judge vote`, when present


def load_run_dir(
    path: str | Path, *, details: bool = True, battles: pd.DataFrame | None = None
) -> ReportData:
    """Read a results directory; `details=False` skips details.jsonl (compare does not need the texts).

    `battles`: the run's battle frame when the caller holds it (a run that just wrote battles.jsonl from its
    compact table): names as categories, a fraction of the memory of reading the file back."""
    root = Path(path)
    if not root.is_dir():
        raise InputError("not a results directory", path=root)
    battles_path = root / BATTLES_FILE
    if not battles_path.is_file():
        raise InputError(
            f"missing {BATTLES_FILE}; is this a tournament results directory?", path=battles_path
        )
    leaderboard_path = root / LEADERBOARD_FILE
    if not leaderboard_path.is_file():
        raise InputError(
            f"missing {LEADERBOARD_FILE}; rerun `judge rate` or the tournament", path=leaderboard_path
        )
    if battles is None:
        battles = load_battles(battles_path, format="generic").frame
    leaderboard = _leaderboard(_read_json(leaderboard_path), leaderboard_path, "")
    by_category: dict[str, Leaderboard] = {}
    category_path = root / BY_CATEGORY_FILE
    if category_path.is_file():
        groups = _read_json(category_path).get("groups")
        if not isinstance(groups, dict):
            raise InputError("'groups' must be an object of category -> leaderboard", path=category_path)
        for name, board in groups.items():
            by_category[str(name)] = _leaderboard(board, category_path, f"groups.{name}.")
    style_path = root / LEADERBOARD_STYLE_FILE
    style_board = _leaderboard(_read_json(style_path), style_path, "") if style_path.is_file() else None
    judge: Mapping[str, Any] | None = None
    contestants: dict[str, Mapping[str, Any]] = {}
    diagnostics_path = root / DIAGNOSTICS_FILE
    if diagnostics_path.is_file():
        diagnostics = _read_json(diagnostics_path)
        judge = _object(diagnostics.get("judge", {}), diagnostics_path, "judge") or None
        for name, stats in _object(
            diagnostics.get("contestants", {}), diagnostics_path, "contestants"
        ).items():
            contestants[str(name)] = _object(stats, diagnostics_path, f"contestants.{name}")
    by_judge: dict[str, Leaderboard] = {}
    by_judge_path = root / BY_JUDGE_FILE
    if by_judge_path.is_file():
        groups = _object(_read_json(by_judge_path).get("groups", {}), by_judge_path, "groups")
        for name, board in groups.items():
            by_judge[str(name)] = _leaderboard(board, by_judge_path, f"groups.{name}.")
    judges: dict[str, Mapping[str, Any]] = {}
    panel: Mapping[str, Any] | None = None
    if diagnostics_path.is_file():
        for name, stats in _object(diagnostics.get("judges", {}), diagnostics_path, "judges").items():
            judges[str(name)] = _object(stats, diagnostics_path, f"judges.{name}")
        if diagnostics.get("panel") is not None:
            panel = _object(diagnostics["panel"], diagnostics_path, "panel")
    details_path = root / DETAILS_FILE
    judge_battles_path = root / JUDGE_BATTLES_FILE
    votes_path = root / HUMAN_VOTES_FILE
    total = _count_records(details_path) if details and details_path.is_file() else 0
    every = max(1, -(-total // MAX_BROWSED))
    loaded = tuple(_read_details(details_path, every)) if total else ()
    return ReportData(
        ppi=_ppi_boards(root),
        name=root.resolve().name,
        battles=battles,
        leaderboard=leaderboard,
        by_category=by_category,
        judge=judge,
        contestants=contestants,
        details=loaded,
        details_total=total,
        details_every=every,
        style_leaderboard=style_board,
        by_judge=by_judge,
        judges=judges,
        panel=panel,
        judge_battles=_battles(judge_battles_path),
        human_votes=_battles(votes_path),
    )


def _battles(path: Path) -> pd.DataFrame | None:
    """An optional battle log; an empty file is no log."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    return load_battles(path, format="generic").frame


def board_from_frame(frame: pd.DataFrame, *, method: str, bootstrap: int, cluster: str | None) -> Leaderboard:
    """A Leaderboard from the rating engine's table (judge.ratings.leaderboard), as if read from its JSON."""
    data = {
        "method": method,
        "bootstrap": bootstrap,
        "cluster": cluster,
        "models": frame.to_dict(orient="records"),
    }
    return _leaderboard(data, Path("(fitted in the report)"), "")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", path=path) from exc
    if not isinstance(data, dict):
        raise InputError("expected a JSON object at the top level", path=path)
    return data


def _object(value: Any, path: Path, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{field} must be an object", path=path)
    return value


def _ppi_boards(root: Path) -> PpiBoards | None:
    path = root / PPI_BOARD_FILE
    if not path.is_file():
        return None
    data = _read_json(path)
    board = _leaderboard(data, path, "")
    rank_sets: dict[str, tuple[int, int]] = {}
    for index, row in enumerate(data.get("models", [])):
        span = row.get("rank_set") if isinstance(row, dict) else None
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) for v in span)):
            raise InputError(f"models[{index}].rank_set must be a list of two ranks", path=path)
        rank_sets[str(row["model"])] = (span[0], span[1])
    human_path = root / HUMAN_BOARD_FILE
    human = _leaderboard(_read_json(human_path), human_path, "") if human_path.is_file() else None
    summary = _object(data.get("ppi", {}), path, "ppi")
    return PpiBoards(ppi=board, human=human, rank_sets=rank_sets, summary=summary)


def _end(value: Any, open_end: float) -> float:
    """An interval end; null stands for an open (infinite) end, as a separated model has."""
    return open_end if value is None else float(value)


def _leaderboard(data: Any, path: Path, prefix: str) -> Leaderboard:
    board = _object(data, path, prefix.rstrip(".") or "leaderboard")
    models = board.get("models")
    if not isinstance(models, list):
        raise InputError(f"{prefix}models must be a list of rows", path=path)
    rows = []
    for index, row in enumerate(models):
        where = f"{prefix}models[{index}]"
        row = _object(row, path, where)
        try:
            rows.append(
                LeaderboardRow(
                    model=str(row["model"]),
                    rating=float(row["rating"]),
                    ci_lower=_end(row["ci_lower"], -math.inf),
                    ci_upper=_end(row["ci_upper"], math.inf),
                    rank=int(row["rank"]),
                    battles=int(row["battles"]),
                    wins=int(row["wins"]),
                    losses=int(row["losses"]),
                    ties=int(row["ties"]),
                    separated=bool(row.get("separated", False)),
                    score=_optional(row.get("score")),
                    score_lower=_optional(row.get("score_lower")),
                    score_upper=_optional(row.get("score_upper")),
                )
            )
        except KeyError as exc:
            raise InputError(f"{where} lacks {exc.args[0]!r}", path=path) from exc
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where} has a non-numeric field: {exc}", path=path) from exc
    rows.sort(key=board_key)
    return Leaderboard(
        method=str(board.get("method", "")),
        n_battles=int(board.get("n_battles", sum(r.battles for r in rows) // 2)),
        bootstrap=int(board.get("bootstrap", 0)),
        rows=tuple(rows),
        cluster=str(board["cluster"]) if board.get("cluster") else None,
        style=_object(board["style"], path, f"{prefix}style") if "style" in board else None,
    )


def board_key(row: LeaderboardRow) -> tuple[int, float, str]:
    """The one order of a board's rows, as judge.ratings.board_order: rank, then rating (highest first), then
    name."""
    return (row.rank, -row.rating, row.model)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def _texts(value: Any, path: Path, line: int, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{field} must be a list of turn texts", path=path, line=line)
    return tuple(value)


def _count_records(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _read_details(path: Path, every: int = 1) -> Iterator[Detail]:
    """Every `every`-th detail of the file (the 1st, the 1 + every-th, ...); every line is checked, one at a
    time (the file of a big run does not fit in memory)."""
    for index, (line_no, record) in enumerate(iter_json_lines(path)):
        if not isinstance(record, dict):
            raise InputError("expected a JSON object", path=path, line=line_no)
        missing = [key for key in ("question_id", "model_a", "model_b") if key not in record]
        if missing:
            raise InputError(f"missing {', '.join(missing)}", path=path, line=line_no)
        judgments = record.get("judgments") or []
        if not isinstance(judgments, list) or not all(isinstance(j, dict) for j in judgments):
            raise InputError("judgments must be a list of objects", path=path, line=line_no)
        if index % every:
            continue
        turn = record.get("turn")
        yield Detail(
            question_id=str(record["question_id"]),
            category=None if record.get("category") is None else str(record["category"]),
            turn=None if turn is None else int(turn),
            question=_texts(record.get("question", []), path, line_no, "question"),
            model_a=str(record["model_a"]),
            model_b=str(record["model_b"]),
            answer_a=_texts(record.get("answer_a", []), path, line_no, "answer_a"),
            answer_b=_texts(record.get("answer_b", []), path, line_no, "answer_b"),
            judgments=tuple(
                Judgment(
                    order=str(j.get("order", "")),
                    raw=str(j.get("raw", "")),
                    verdict=None if j.get("verdict") is None else str(j.get("verdict")),
                    judge=None if j.get("judge") is None else str(j.get("judge")),
                )
                for j in judgments
            ),
            winner=None if record.get("winner") is None else str(record["winner"]),
            reference=(
                None
                if record.get("reference") is None
                else _texts(record["reference"], path, line_no, "reference")
            ),
        )
