"""The report's cost section: one row per contestant and judge, and the run's total (answers + judging, with
provider-batch calls shown apart), from diagnostics.json's spend fields (tournament.diagnostics).

Pure: ReportData in, display strings out. A party whose calls had no price (a local model, a model without a
price in the config) is named rather than counted as free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from judge.report.rundir import ReportData


def cost_section(data: ReportData) -> dict[str, Any] | None:
    """Rows (contestants in leaderboard order, then judges) and the totals; None when nothing was recorded."""
    place = {model: i for i, model in enumerate(data.leaderboard.models)}
    contestants = sorted(data.contestants.items(), key=lambda kv: (place.get(kv[0], len(place)), kv[0]))
    rows = [
        _spend_row(name, "contestant", s, count="answers", failures="failures") for name, s in contestants
    ]
    for name, stats in data.judges.items():  # a panel: a row per judge
        rows.append(_spend_row(name, "judge", stats, count="calls", failures="parse_failures"))
    judging: list[tuple[str, Mapping[str, Any]]] = []
    if data.judge is not None:
        name = str(data.judge.get("name", "judge"))
        role = "panel (all judges)" if data.judges else "judge"
        rows.append(_spend_row(name, role, data.judge, count="calls", failures="parse_failures"))
        judging = list(data.judges.items()) or [(name, data.judge)]
    if not rows:
        return None
    answers = _sum(s.get("cost_usd") for _, s in contestants)
    judged = _sum(s.get("cost_usd") for _, s in judging)
    parties = [*contestants, *judging]
    batch_calls = sum(int(s.get("batch_calls") or 0) for _, s in parties)
    unpriced = [name for name, s in parties if s.get("cost_usd") is None and int(s.get("calls") or 0) > 0]
    total = None if answers is None and judged is None else (answers or 0.0) + (judged or 0.0)
    return {
        "rows": rows,
        "total": usd(total),
        "answers": usd(answers),
        "judging": usd(judged),
        "batch_calls": f"{batch_calls:,}" if batch_calls else None,
        "batch": usd(_sum(s.get("batch_cost_usd") for _, s in parties)),
        "unpriced": unpriced,
    }


def _sum(values: Iterable[Any]) -> float | None:
    """The sum of the known values; None when none is known."""
    known = [float(v) for v in values if v is not None]
    return sum(known) if known else None


def usd(value: Any) -> str:
    """Dollars as every cost cell of the report shows them; "–" when unknown."""
    return "–" if value is None else f"${float(value):,.4f}"


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.{digits}f}"


def _spend_row(name: str, role: str, stats: Mapping[str, Any], *, count: str, failures: str) -> list[str]:
    cost = usd(stats.get("cost_usd"))
    if stats.get("batch_calls"):  # provider batches are billed at their own (lower) price: shown apart
        batch = usd(stats.get("batch_cost_usd"))
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
