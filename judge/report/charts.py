"""The report's charts as plain markup, no plotting library: interval bars on a shared, labelled rating axis,
and heatmaps as HTML tables (their labels wrap and rotate with the text, so a long model name is never cut).

Every label passes through markupsafe.escape, so a model name cannot inject markup; the result is Markup, so
the autoescaping template embeds it as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_WIDTH = 300
_PAD = 6  # room at each end of a bar for the dot and the first and last tick labels


@dataclass(frozen=True)
class Scale:
    """A rating axis shared by the bars of a table: [low, high] over `width` pixels, ticks at round values."""

    low: float
    high: float
    ticks: tuple[float, ...]
    width: int = BAR_WIDTH

    def x(self, value: float) -> float:
        span = (self.high - self.low) or 1.0
        clipped = min(max(value, self.low), self.high)
        return round(_PAD + (self.width - 2 * _PAD) * (clipped - self.low) / span, 1)


def rating_scale(values: Sequence[float], width: int = BAR_WIDTH) -> Scale:
    """A scale covering the finite `values` with a little room, its ends and ticks on round numbers."""
    finite = [v for v in values if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 10.0, high + 10.0
    step = _nice_step((high - low) / 5)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    count = round((high - low) / step)
    return Scale(low, high, tuple(low + i * step for i in range(count + 1)), width)


def _nice_step(raw: float) -> float:
    """The round step (1, 2 or 5 times a power of ten) nearest above `raw`."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def interval_bar(rating: float, lower: float, upper: float, scale: Scale, height: int = 18) -> Markup:
    """A rating as a dot on its interval, with faint lines at the axis ticks so bars read against the axis.

    An open (infinite) end runs to the edge of the scale and ends in an arrow."""
    mid = height / 2
    label = f"{rating:.0f} ({interval_text(lower, upper)})"
    parts = [
        f'<svg class="ibar" width="{scale.width}" height="{height}" viewBox="0 0 {scale.width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    parts += [
        f'<line x1="{scale.x(t)}" x2="{scale.x(t)}" y1="0" y2="{height}" class="grid"/>' for t in scale.ticks
    ]
    x0, x1 = scale.x(lower), scale.x(upper)
    parts.append(f'<rect x="{x0}" y="{mid - 4}" width="{max(x1 - x0, 1.0)}" height="8" rx="3" class="ci"/>')
    for end, x, sign in ((lower, x0, 1), (upper, x1, -1)):
        if not math.isfinite(end):
            parts.append(f'<path d="M{x} {mid} l{sign * 6} -5 v10 z" class="open"/>')
    parts.append(f'<circle cx="{scale.x(rating)}" cy="{mid}" r="4" class="pt"/></svg>')
    return Markup("".join(parts))


def axis(scale: Scale, height: int = 22) -> Markup:
    """The rating axis of a table's bars: a line, a tick and a label at each round value."""
    parts = [
        f'<svg class="axis-svg" width="{scale.width}" height="{height}" viewBox="0 0 {scale.width} {height}" '
        f'role="img" aria-label="rating axis from {scale.low:.0f} to {scale.high:.0f}">'
        f'<line x1="{_PAD}" x2="{scale.width - _PAD}" y1="{height - 1}" y2="{height - 1}" class="axis"/>'
    ]
    for i, tick in enumerate(scale.ticks):
        x = scale.x(tick)
        anchor = "start" if i == 0 else "end" if i == len(scale.ticks) - 1 else "middle"
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{height - 5}" y2="{height - 1}" class="axis"/>'
            f'<text x="{x}" y="{height - 8}" text-anchor="{anchor}" class="tick">{tick:.0f}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def interval_text(lower: float, upper: float) -> str:
    """An interval as shown in the page: rounded ends, "open" for a separated model's infinite end."""
    return f"{_end(lower)} to {_end(upper)}"


def _end(value: float) -> str:
    return f"{value:.0f}" if math.isfinite(value) else "open"


def diverging_colour(value: float) -> str:
    """0 -> red, 0.5 -> white, 1 -> blue: a win fraction reads at a glance."""
    value = min(max(value, 0.0), 1.0)
    if value >= 0.5:
        t = (value - 0.5) * 2
        return _mix((255, 255, 255), (49, 104, 176), t)
    t = (0.5 - value) * 2
    return _mix((255, 255, 255), (196, 60, 50), t)


def sequential_colour(value: float, top: float) -> str:
    """0 -> white, top -> dark green: counts of battles."""
    t = 0.0 if top <= 0 else min(max(value / top, 0.0), 1.0)
    return _mix((255, 255, 255), (36, 122, 82), t)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _dark(colour: str) -> bool:
    """True when white text reads better than black on this background (relative luminance below ~0.4)."""
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45


@dataclass(frozen=True)
class Cell:
    """One heatmap cell: its value (None: empty), the tooltip, and whether it rests on too few battles."""

    value: float | None
    tip: str = ""
    few: bool = False


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Sequence[Sequence[Cell]],
    *,
    colour: Callable[[float], str],
    fmt: Callable[[float], str],
    caption: str,
    css_id: str = "",
) -> Markup:
    """A matrix as an HTML table: row labels in a sticky first column, column labels written upwards and
    wrapped (so no name is cut), one coloured cell each, grey where empty, hatched where `few`."""
    ident = f' id="{escape(css_id)}"' if css_id else ""
    parts = [
        f'<div class="hm-wrap"{ident}><table class="hm" aria-label="{escape(caption)}"><thead><tr>'
        '<th class="corner"></th>'
    ]
    parts += [f'<th class="col" scope="col"><span>{escape(c)}</span></th>' for c in columns]
    parts.append("</tr></thead><tbody>")
    for label, row in zip(rows, cells, strict=True):
        parts.append(f'<tr><th class="row" scope="row">{escape(label)}</th>')
        for cell in row:
            if cell.value is None or math.isnan(cell.value):
                parts.append(f'<td class="na" title="{escape(cell.tip)}"></td>')
                continue
            fill = colour(cell.value)
            classes = "v" + (" dark" if _dark(fill) else "") + (" few" if cell.few else "")
            parts.append(
                f'<td class="{classes}" style="background-color:{fill}" title="{escape(cell.tip)}">'
                f"{escape(fmt(cell.value))}</td>"
            )
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    return Markup("".join(parts))


def square(
    labels: Sequence[str], values: Sequence[Sequence[float | None]], fmt: Callable[[float], str]
) -> list[list[Cell]]:
    """Cells of a model x model matrix, each with a "row vs column: value" tooltip."""
    return [
        [Cell(v, "" if v is None else f"{labels[i]} vs {labels[j]}: {fmt(v)}") for j, v in enumerate(row)]
        for i, row in enumerate(values)
    ]
