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
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from judge.ratings import battle_count_matrix, predicted_win_matrix, win_fraction_matrix
from judge.report import charts
from judge.report.outputs import atomic_write
from judge.report.rundir import Leaderboard, ReportData, load_run_dir

REPORT_FILE = "report.html"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("judge.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_report(run_dir: str | Path) -> Path:
    """Render RUN_DIR/report.html from the files a tournament run wrote there; returns the path written."""
    root = Path(run_dir)
    html = render_report(load_run_dir(root))
    target = root / REPORT_FILE
    atomic_write(target, html)
    return target


def render_report(data: ReportData) -> str:
    """The report page as a string (pure: no file is read or written)."""
    order = list(data.leaderboard.models)
    script = _ENV.get_template("browser.js.j2").render()
    return _ENV.get_template("report.html.j2").render(
        script=Markup(script),
        script_hash="sha256-"
        + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii"),
        name=data.name,
        board=data.leaderboard,
        leaderboard=_board_rows(data.leaderboard),
        categories=[(name, _board_rows(board)) for name, board in sorted(data.by_category.items())],
        heatmaps=_heatmaps(data, order),
        judge=_judge_rows(data.judge),
        costs=_cost_rows(data),
        browser=_browser_payload(data),
        n_details=len(data.details),
        ppi=_ppi_rows(data),
    )


def _ppi_rows(data: ReportData) -> dict[str, Any] | None:
    """The prediction-powered board beside the judge's and the humans' (rows in the PPI order)."""
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
        for row in data.ppi.ppi.rows
    ]
    return {"rows": rows, "summary": data.ppi.summary, "bootstrap": data.ppi.ppi.bootstrap}


def _board_rows(board: Leaderboard) -> list[dict[str, Any]]:
    if not board.rows:
        return []
    ends = [v for row in board.rows for v in (row.ci_lower, row.rating, row.ci_upper) if math.isfinite(v)]
    low, high = min(ends), max(ends)
    pad = (high - low) * 0.05 or 10.0
    low, high = low - pad, high + pad
    return [
        {
            "row": row,
            # An open end (a separated model's) is drawn to the edge of the scale.
            "bar": charts.interval_bar(
                row.rating, max(row.ci_lower, low), min(row.ci_upper, high), low=low, high=high
            ),
        }
        for row in board.rows
    ]


def _square(frame: pd.DataFrame, order: list[str]) -> list[list[float | None]]:
    """A model x model frame as nested lists in leaderboard order; None where empty and on the diagonal."""
    values = frame.reindex(index=order, columns=order).to_numpy(dtype=float, na_value=math.nan)
    return [
        [None if math.isnan(v) or i == j else float(v) for j, v in enumerate(row)]
        for i, row in enumerate(values)
    ]


def _heatmaps(data: ReportData, order: list[str]) -> list[dict[str, Any]]:
    ratings = pd.Series({row.model: row.rating for row in data.leaderboard.rows}, dtype=float)
    counts = _square(battle_count_matrix(data.battles), order)
    top = max((v for row in counts for v in row if v is not None), default=0.0)
    panels: list[
        tuple[str, str, list[list[float | None]], Callable[[float], str], Callable[[float], str]]
    ] = [
        (
            "Observed win fraction",
            "Share of the decisive battles the row model won against the column model (ties left out).",
            _square(win_fraction_matrix(data.battles), order),
            charts.diverging_colour,
            lambda v: f"{v:.2f}",
        ),
        (
            "Predicted win rate",
            "Probability that the row model beats the column model, from the fitted ratings.",
            _square(predicted_win_matrix(ratings), order),
            charts.diverging_colour,
            lambda v: f"{v:.2f}",
        ),
        (
            "Battle count",
            "Number of battles between each pair (both sides).",
            counts,
            lambda v: charts.sequential_colour(v, top),
            lambda v: f"{v:.0f}",
        ),
    ]
    return [
        {
            "title": title,
            "note": note,
            "svg": charts.heatmap(order, values, colour=colour, fmt=fmt, caption=title),
        }
        for title, note, values, colour, fmt in panels
    ]


def _number(value: Any, digits: int = 0, percent: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:,.{digits}f}"


def _judge_rows(judge: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    if judge is None:
        return []
    get = judge.get
    return [
        ("Judge", str(get("name", "–")), ""),
        (
            "Position consistency",
            _number(get("position_consistency"), percent=True),
            "Share of pairs where both presentation orders gave the same verdict.",
        ),
        (
            "First-position preference",
            _number(get("first_position_preference"), percent=True),
            "Share of decisive votes that went to whichever answer was shown first (50% is unbiased).",
        ),
        ("Tie rate", _number(get("tie_rate"), percent=True), "Share of verdicts that were ties."),
        ("Parse failures", _number(get("parse_failures")), "Judge outputs with no readable verdict."),
        ("Calls", _number(get("calls")), ""),
    ]


def _cost_rows(data: ReportData) -> list[list[str]]:
    rows = [
        _spend_row(name, "contestant", stats, count="answers", failures="failures")
        for name, stats in sorted(data.contestants.items())
    ]
    if data.judge is not None:
        name = str(data.judge.get("name", "judge"))
        rows.append(_spend_row(name, "judge", data.judge, count="calls", failures="parse_failures"))
    return rows


def _spend_row(name: str, role: str, stats: Mapping[str, Any], *, count: str, failures: str) -> list[str]:
    cost = "$" + _number(stats.get("cost_usd"), 4)
    if stats.get("batch_calls"):  # provider batches are billed at their own (lower) price: shown apart
        batch = "$" + _number(stats.get("batch_cost_usd"), 4)
        cost += f" (batch: {_number(stats.get('batch_calls'))} calls, {batch})"
    return [
        name,
        role,
        _number(stats.get(count)),
        _number(stats.get(failures)),
        _number(stats.get("input_tokens")),
        _number(stats.get("output_tokens")),
        cost,
        _number(stats.get("seconds"), 1),
    ]


def _browser_payload(data: ReportData) -> dict[str, Any]:
    """Details as compact JSON: every distinct text once in `texts`, referenced by index elsewhere."""
    texts: list[str] = []
    index: dict[str, int] = {}

    def ref(text: str) -> int:
        if text not in index:
            index[text] = len(texts)
            texts.append(text)
        return index[text]

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
                "j": [{"o": j.order, "r": ref(j.raw), "v": j.verdict} for j in d.judgments],
                "w": d.winner,
            }
        )
    return {
        "texts": texts,
        "items": items,
        "pairs": [list(p) for p in sorted(pairs)],
        "categories": sorted(categories),
    }
