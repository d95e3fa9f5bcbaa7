"""The report's panel section: each judge's board side by side, the kappa matrix, agreement, cost per judge.

Pure: ReportData in, plain values for the template out (charts are SVG markup from judge.report.charts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judge.report import charts
from judge.report.costs import usd
from judge.report.quality import JudgeQuality
from judge.report.rundir import ReportData


def panel_context(data: ReportData, quality: Mapping[str, JudgeQuality]) -> dict[str, Any] | None:
    """Everything panel.html.j2 shows, or None when the run had one judge; `quality` holds each judge's tie
    rate and position consistency measured on its own battles (judge.report.quality)."""
    panel = data.panel
    if panel is None:
        return None
    judges = [str(name) for name in panel.get("judges", list(data.judges))]
    models = list(data.leaderboard.models)
    boards = []
    for model in models:
        cells = []
        for judge in judges:
            row = next((r for r in data.by_judge.get(judge, _EMPTY).rows if r.model == model), None)
            cells.append("–" if row is None else f"{row.rank} · {row.rating:.0f}")
        panel_row = next(r for r in data.leaderboard.rows if r.model == model)
        boards.append({"model": model, "panel": f"{panel_row.rank} · {panel_row.rating:.0f}", "cells": cells})
    kappa = panel.get("cohen_kappa") or {}
    values = [[_kappa(kappa, a, b) for b in judges] for a in judges]
    heatmap = charts.heatmap(
        judges,
        judges,
        charts.square(judges, values, lambda v: f"{v:.2f}"),
        colour=lambda v: charts.diverging_colour((v + 1) / 2),
        fmt=lambda v: f"{v:.2f}",
        caption="Cohen's kappa between judges",
        css_id="kappa-matrix",
    )
    share = panel.get("majority_share") or {}
    stats = []
    for judge in judges:
        d = data.judges.get(judge, {})
        q = quality.get(judge)
        # From the judge's own battle log; diagnostics.json's figure where the log lacks both orders.
        consistency = (
            d.get("position_consistency") if q is None or q.consistency.value is None else q.consistency.value
        )
        stats.append(
            {
                "weak": None if q is None else q.reason,
                "cells": [
                    judge,
                    str(d.get("model", "–")),
                    _pct(share.get(judge)),
                    _pct(consistency),
                    _pct(d.get("first_position_preference")),
                    _pct(None if q is None else q.tie_rate),
                    _pct(d.get("tie_rate")),
                    _int(d.get("parse_failures")),
                    _int(d.get("calls")),
                    usd(d.get("cost_usd")),
                ],
            }
        )
    alpha = panel.get("krippendorff_alpha")
    weights = panel.get("weights")
    return {
        "combine": str(panel.get("combine", "pool")),
        "name": str(panel.get("name", "panel")),
        "judges": judges,
        "boards": boards,
        "kappa_svg": heatmap,
        "alpha": "–" if alpha is None else f"{float(alpha):.3f}",
        "n_items": _int(panel.get("items")),
        "stats": stats,
        "weights": None if not weights else ", ".join(f"{k} {float(v):.3f}" for k, v in weights.items()),
    }


class _NoBoard:
    rows: tuple[Any, ...] = ()


_EMPTY = _NoBoard()


def _kappa(kappa: Mapping[str, Any], a: str, b: str) -> float | None:
    if a == b:
        return None
    value = (kappa.get(a) or {}).get(b)
    return None if value is None else float(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def _int(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"
