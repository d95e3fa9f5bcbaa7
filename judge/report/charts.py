"""Inline SVG charts for the report: interval bars and heatmaps, as plain markup with no plotting library.

Every label passes through markupsafe.escape, so a model name cannot inject markup; the result is Markup, so
the autoescaping template embeds it as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape


def interval_bar(
    rating: float, lower: float, upper: float, *, low: float, high: float, width: int = 240, height: int = 18
) -> Markup:
    """A rating as a dot on its interval, drawn on a [low, high] scale shared by the whole table."""
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return round(4 + (width - 8) * (value - low) / span, 1)

    mid = height / 2
    label = f"{rating:.0f} ({lower:.0f} to {upper:.0f})"
    return Markup(
        f'<svg class="ibar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<line x1="4" x2="{width - 4}" y1="{mid}" y2="{mid}" class="axis"/>'
        f'<rect x="{x(lower)}" y="{mid - 4}" width="{max(x(upper) - x(lower), 1.0)}" height="8" rx="3" '
        f'class="ci"/><circle cx="{x(rating)}" cy="{mid}" r="4" class="pt"/></svg>'
    )


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


def heatmap(
    labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    colour: Callable[[float], str],
    fmt: Callable[[float], str],
    caption: str,
    cell: int = 44,
) -> Markup:
    """A square matrix: row model against column model, one coloured cell each, grey where empty."""
    n = len(labels)
    longest = max((len(label) for label in labels), default=0)
    margin = min(8 + 7 * longest, 220)
    size_w = margin + n * cell + margin // 2  # room for the last slanted column label
    size_h = margin + n * cell + 4
    parts = [
        f'<svg class="heatmap" width="{size_w}" height="{size_h}" viewBox="0 0 {size_w} {size_h}" role="img" '
        f'aria-label="{escape(caption)}"><title>{escape(caption)}</title>'
    ]
    for i, label in enumerate(labels):
        y = margin + i * cell + cell / 2
        parts.append(
            f'<text x="{margin - 6}" y="{y + 4}" text-anchor="end" class="lbl">{escape(label)}</text>'
        )
        x = margin + i * cell + cell / 2 + 4
        parts.append(
            f'<text transform="translate({x},{margin - 6}) rotate(-60)" class="lbl">{escape(label)}</text>'
        )
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            x0, y0 = margin + j * cell, margin + i * cell
            if value is None or (isinstance(value, float) and math.isnan(value)):
                parts.append(f'<rect x="{x0}" y="{y0}" width="{cell}" height="{cell}" class="na"/>')
                continue
            tip = f"{labels[i]} vs {labels[j]}: {fmt(value)}"
            parts.append(
                f'<g><title>{escape(tip)}</title><rect x="{x0}" y="{y0}" width="{cell}" height="{cell}" '
                f'fill="{colour(value)}" class="cell"/><text x="{x0 + cell / 2}" y="{y0 + cell / 2 + 4}" '
                f'text-anchor="middle" class="val">{escape(fmt(value))}</text></g>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
