"""ReportData -> one self-contained HTML file (no network needed to open it).

The template is rendered by jinja2 with autoescaping on. The battle browser's data travels as JSON inside a
<script type="application/json"> block through jinja's `tojson` filter, which escapes <, >, & and ', so no
answer can close the block; the page's script shows every model text with textContent. A Content-Security-
Policy lets only our own script run (by its sha256) and forbids every fetch: a second wall behind escaping.
Texts are stored once in a table and referenced by index, because one answer appears in many battles.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from judge.report import charts, quality
from judge.report.costs import cost_section
from judge.report.heatmaps import TOP_N, category_matrix, model_matrices
from judge.report.humans import human_section
from judge.report.outputs import atomic_write
from judge.report.panel import panel_context
from judge.report.rundir import (
    Judgment,
    Leaderboard,
    LeaderboardRow,
    ReportData,
    board_key,
    load_run_dir,
)

REPORT_FILE = "report.html"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("judge.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["interval"] = lambda row: charts.interval_text(row.ci_lower, row.ci_upper)


def write_report(run_dir: str | Path, battles: pd.DataFrame | None = None) -> Path:
    """Render RUN_DIR/report.html from the files a tournament run wrote there; returns the path written.
    `battles`: the run's battle frame, when the caller holds it (see load_run_dir)."""
    root = Path(run_dir)
    html = render_report(load_run_dir(root, battles=battles))
    target = root / REPORT_FILE
    atomic_write(target, html)
    return target


def render_report(data: ReportData) -> str:
    """The report page as a string (pure: no file is read or written)."""
    script = _ENV.get_template("browser.js.j2").render()
    checks = _quality(data)
    return _ENV.get_template("report.html.j2").render(
        script=Markup(script),
        script_hash="sha256-"
        + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii"),
        name=data.name,
        board=data.leaderboard,
        leaderboard=_board_rows(data.leaderboard),
        categories=[(name, _board_rows(board)) for name, board in sorted(data.by_category.items())],
        style=_style_section(data),
        scores=_score_rows(data),
        heatmaps=model_matrices(data),
        top_n=TOP_N,
        category_matrix=category_matrix(data),
        quality=checks,
        thresholds={
            "consistency": f"{quality.LOW_CONSISTENCY:.0%}",
            "ties": f"{quality.HIGH_TIE_RATE:.0%}",
            "min": quality.MIN_SAMPLE,
        },
        judge=_judge_rows(data.judge, checks["board"]),
        costs=cost_section(data),
        humans=human_section(data),
        browser=_browser_payload(data),
        panel=panel_context(data, {q.name: q for q in checks["members"]}),
        n_details=len(data.details),
        details_total=data.details_total,
        browse_every=data.details_every,
        ppi=_ppi_rows(data),
    )


def _quality(data: ReportData) -> dict[str, Any]:
    """The board's tie rate and position consistency (and each panel judge's), and the weak-board sentence."""
    name = str((data.judge or {}).get("name") or "judge")
    board = quality.judge_quality(data.battles, name)
    members = quality.per_judge(data.judge_battles) if data.judge_battles is not None else []
    reason = quality.panel_reason(board, members) if data.panel is not None else board.reason
    return {"board": board, "members": members, "reason": reason}


def _ppi_rows(data: ReportData) -> dict[str, Any] | None:
    """The prediction-powered board beside the judge's and the humans' (rows in the leaderboard's order)."""
    if data.ppi is None:
        return None
    judge = {row.model: row for row in data.leaderboard.rows}
    human = {row.model: row for row in data.ppi.human.rows} if data.ppi.human is not None else {}
    rows = [
        {
            "model": row.model,
            "ppi": row,
            "rank_set": data.ppi.rank_sets.get(row.model),
            "judge": judge.get(row.model),
            "human": human.get(row.model),
        }
        for row in sorted(data.ppi.ppi.rows, key=lambda r: _place(data.leaderboard, r))
    ]
    return {"rows": rows, "summary": data.ppi.summary, "bootstrap": data.ppi.ppi.bootstrap}


def _place(board: Leaderboard, row: LeaderboardRow) -> tuple[int, tuple[int, float, str]]:
    """Sort key putting another board's rows in `board`'s order (its own order for models `board` lacks)."""
    place = {model: i for i, model in enumerate(board.models)}
    return (place.get(row.model, len(place)), board_key(row))


def _board_rows(board: Leaderboard) -> dict[str, Any]:
    """A board's rows with their interval bars, and the rating axis the bars share."""
    scale = charts.rating_scale([v for r in board.rows for v in (r.ci_lower, r.rating, r.ci_upper)])
    rows = [
        {"row": row, "bar": charts.interval_bar(row.rating, row.ci_lower, row.ci_upper, scale)}
        for row in board.rows
    ]
    return {"rows": rows, "axis": charts.axis(scale)}


_FEATURE_WORDS = {
    "length": "a 2x longer answer",
    "headers": "twice the headers",
    "lists": "twice the list items",
    "bold": "twice the bold spans",
}


def _style_section(data: ReportData) -> dict[str, Any] | None:
    """Both boards side by side (plain order) and the style coefficients in words, if the run has both."""
    styled = data.style_leaderboard
    if styled is None or styled.style is None:
        return None
    plain = {row.model: row for row in data.leaderboard.rows}
    pairs = sorted(
        ((plain[row.model], row) for row in styled.rows if row.model in plain),
        key=lambda pair: board_key(pair[0]),
    )
    rows = [{"plain": p, "style": s, "shift": s.rank - p.rank} for p, s in pairs]
    words = []
    for name, c in styled.style.get("coefficients", {}).items():
        value, low, high = float(c["value"]), float(c["ci_lower"]), float(c["ci_upper"])
        per = float(c.get("elo_2x", 0.0))
        elo = per / value if value else 0.0  # Elo per unit of the coefficient
        what = _FEATURE_WORDS.get(name, name)
        words.append(
            {
                "text": f"{what[0].upper()}{what[1:]} is worth {per:+.0f} Elo to this judge",
                "interval": f"95% interval {min(low, high) * elo:+.0f} to {max(low, high) * elo:+.0f} Elo",
                "coefficient": f"{value:.3f} ({low:.3f} to {high:.3f})",
            }
        )
    return {"rows": rows, "words": words, "features": list(styled.style.get("features", []))}


def _score_rows(data: ReportData) -> list[dict[str, Any]]:
    """Arena-Hard's table: win rate against the baseline, plain and (if any) style-controlled."""
    if not data.leaderboard.rows or data.leaderboard.rows[0].score is None:
        return []
    styled = {} if data.style_leaderboard is None else {r.model: r for r in data.style_leaderboard.rows}
    return [{"plain": row, "style": styled.get(row.model)} for row in data.leaderboard.rows]


def _number(value: Any, digits: int = 0, percent: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:,.{digits}f}"


def _judge_rows(judge: Mapping[str, Any] | None, board: quality.JudgeQuality) -> list[tuple[str, str, str]]:
    """The judge's figures: from the battle log (tie rate, position consistency) and diagnostics.json."""
    consistency = board.consistency
    from_log = [
        (
            "Battle tie rate",
            _number(board.tie_rate, percent=True) + f" of {board.battles:,}",
            f"Share of the board's battles that are ties; above {quality.HIGH_TIE_RATE:.0%} it is weak.",
        ),
        (
            "Position consistency",
            "–"
            if consistency.value is None
            else _number(consistency.value, percent=True) + f" of {consistency.n:,}",
            "Share of pairs judged in both orders where the judge picked the same answer (or tie) twice; "
            f"below {quality.LOW_CONSISTENCY:.0%} the board is weak."
            if consistency.value is not None
            else f"From the battle log: {consistency.note}.",
        ),
    ]
    if judge is None:
        return []  # a log without a judge (human votes): the tie rate is in the page's header
    get = judge.get
    return [
        ("Judge", str(get("name", "–")), ""),
        *from_log,
        (
            "First-position preference",
            _number(get("first_position_preference"), percent=True),
            "Share of decisive votes that went to whichever answer was shown first (50% is unbiased).",
        ),
        (
            "Verdict tie rate",
            _number(get("tie_rate"), percent=True),
            "Share of single-order verdicts that were ties.",
        ),
        ("Parse failures", _number(get("parse_failures")), "Judge outputs with no readable verdict."),
        ("Calls", _number(get("calls")), ""),
    ]


def _judgment(j: Judgment, ref: Callable[[str], int], *, named: bool) -> dict[str, Any]:
    """One judge output in the browser; a panel's also names its judge."""
    out: dict[str, Any] = {"o": j.order, "r": ref(j.raw), "v": j.verdict}
    if named:
        out["n"] = j.judge
    return out


def _browser_payload(data: ReportData) -> dict[str, Any]:
    """Details as compact JSON: every distinct text once in `texts`, referenced by index elsewhere."""
    texts: list[str] = []
    index: dict[str, int] = {}

    def ref(text: str) -> int:
        if text not in index:
            index[text] = len(texts)
            texts.append(text)
        return index[text]

    place = {model: i for i, model in enumerate(data.leaderboard.models)}
    items = []
    pairs: set[tuple[str, str]] = set()
    categories: set[str] = set()
    for d in data.details:
        pairs.add((min(d.model_a, d.model_b), max(d.model_a, d.model_b)))
        if d.category:
            categories.add(d.category)
        items.append(
            {
                "q": d.question_id,
                "c": d.category or "",
                "t": d.turn,
                "qt": [ref(t) for t in d.question],
                "a": d.model_a,
                "b": d.model_b,
                "aa": [ref(t) for t in d.answer_a],
                "ab": [ref(t) for t in d.answer_b],
                "j": [_judgment(j, ref, named=bool(data.judges)) for j in d.judgments],
                "w": d.winner,
            }
        )
    return {
        "texts": texts,
        "items": items,
        # Each pair by name (the URL filter's key), the list in board order of the better-ranked model.
        "pairs": [
            list(p) for p in sorted(pairs, key=lambda p: (*sorted(place.get(m, len(place)) for m in p), p))
        ],
        "categories": sorted(categories),
    }
