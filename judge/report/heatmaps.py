"""The report's matrices: model x model (win fraction, predicted win rate, battle count) and model x category.

Pure: ReportData in, Markup tables out (drawn by judge.report.charts). Rows and columns follow the leaderboard
(rank, then rating). With more than TOP_N models the page shows the top TOP_N and puts the whole matrix behind
a <details> toggle: 60 x 60 numbers do not read at a glance, but they stay one click away.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd
from markupsafe import Markup

from judge.battles import TIES
from judge.ratings import battle_count_matrix, predicted_win_matrix, win_fraction_matrix
from judge.report import charts
from judge.report.rundir import ReportData

TOP_N: Final = 20
MIN_CELL_BATTLES: Final = 10  # a category cell with fewer battles is marked: its win rate is mostly noise


def _square(frame: pd.DataFrame, order: list[str]) -> list[list[float | None]]:
    """A model x model frame as nested lists in leaderboard order; None where empty and on the diagonal."""
    values = frame.reindex(index=order, columns=order).to_numpy(dtype=float, na_value=math.nan)
    return [
        [None if math.isnan(v) or i == j else float(v) for j, v in enumerate(row)]
        for i, row in enumerate(values)
    ]


def model_matrices(data: ReportData) -> list[dict[str, Any]]:
    """The three model x model matrices: each as a top-N table and, with more models, the full table."""
    order = list(data.leaderboard.models)
    ratings = pd.Series({row.model: row.rating for row in data.leaderboard.rows}, dtype=float)
    counts = _square(battle_count_matrix(data.battles), order)
    top = max((v for row in counts for v in row if v is not None), default=0.0)
    share: Callable[[float], str] = lambda v: f"{v:.2f}"  # noqa: E731
    panels: list[
        tuple[str, str, list[list[float | None]], Callable[[float], str], Callable[[float], str]]
    ] = [
        (
            "Observed win fraction",
            "Share of the decisive battles the row model won against the column model (ties left out).",
            _square(win_fraction_matrix(data.battles), order),
            charts.diverging_colour,
            share,
        ),
        (
            "Predicted win rate",
            "Probability that the row model beats the column model, from the fitted ratings.",
            _square(predicted_win_matrix(ratings), order),
            charts.diverging_colour,
            share,
        ),
        (
            "Battle count",
            "Number of battles between each pair (both sides).",
            counts,
            lambda v: charts.sequential_colour(v, top),
            lambda v: f"{v:.0f}",
        ),
    ]
    out = []
    for index, (title, note, values, colour, fmt) in enumerate(panels):
        cells = charts.square(order, values, fmt)
        n = min(TOP_N, len(order))
        head = [row[:n] for row in cells[:n]]
        ident = f"matrix-{index}"
        out.append(
            {
                "title": title,
                "note": note,
                "top": charts.heatmap(
                    order[:n], order[:n], head, colour=colour, fmt=fmt, caption=title, css_id=f"{ident}-top"
                ),
                "full": charts.heatmap(
                    order, order, cells, colour=colour, fmt=fmt, caption=title, css_id=f"{ident}-full"
                )
                if len(order) > TOP_N
                else None,
                "models": len(order),
            }
        )
    return out


def category_matrix(data: ReportData) -> Markup | None:
    """Model x category: each model's win rate (ties half) in each category and overall; cells on fewer than
    MIN_CELL_BATTLES battles are hatched. None when the battles carry no category."""
    frame = data.battles
    category = frame["category"].astype("string")
    names = sorted(str(c) for c in category.dropna().unique())
    if not names:
        return None
    order = list(data.leaderboard.models)
    records = _records(frame)
    boards: Mapping[str, Mapping[str, Any]] = {
        name: {row.model: row for row in board.rows} for name, board in data.by_category.items()
    }
    columns = [*names, "all"]
    by_category = records.groupby(["model", "category"])["score"].agg(["mean", "size"])
    overall = records.groupby("model")["score"].agg(["mean", "size"])
    stats: dict[tuple[str, str], tuple[float, int]] = {
        (str(m), str(c)): (float(mean), int(size))
        for (m, c), mean, size in zip(
            by_category.index, by_category["mean"], by_category["size"], strict=True
        )
    }
    stats |= {
        (str(m), "all"): (float(mean), int(size))
        for m, mean, size in zip(overall.index, overall["mean"], overall["size"], strict=True)
    }
    cells = []
    for model in order:
        row = []
        for column in columns:
            rate, n = stats.get((model, column), (math.nan, 0))
            if n == 0:
                row.append(charts.Cell(None, f"{model} in {column}: no battles"))
                continue
            tip = f"{model} in {column}: won {rate:.0%} of {n:,} battles (ties half)"
            ranked = boards.get(column, {}).get(model)
            if ranked is not None:
                tip += f"; rating {ranked.rating:.0f}, rank {ranked.rank} in {column}"
            if n < MIN_CELL_BATTLES:
                tip += f"; fewer than {MIN_CELL_BATTLES} battles, mostly noise"
            row.append(charts.Cell(rate, tip, few=n < MIN_CELL_BATTLES))
        cells.append(row)
    return charts.heatmap(
        order,
        columns,
        cells,
        colour=charts.diverging_colour,
        fmt=lambda v: f"{v:.2f}",
        caption="Win rate by category",
        css_id="category-matrix",
    )


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    """Each battle twice, once from each side: model, category and score (1 win, 0.5 tie, 0 loss)."""
    winner = frame["winner"].astype("string").fillna("")
    tie = winner.isin(TIES).to_numpy(dtype=bool)
    category = frame["category"].astype("string").to_numpy(dtype=object, na_value=None)
    sides = []
    for side, won in (("model_a", "model_a"), ("model_b", "model_b")):
        score = np.where(tie, 0.5, (winner == won).to_numpy(dtype=float))
        sides.append(
            pd.DataFrame({"model": frame[side].astype(str).to_numpy(), "category": category, "score": score})
        )
    decided = winner.isin([*TIES, "model_a", "model_b"]).to_numpy(dtype=bool)
    return pd.concat([s[decided] for s in sides], ignore_index=True)
