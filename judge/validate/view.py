"""Rich tables for a ValidationReport. Builds renderables only; cli.py prints them."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from judge.validate import ValidationReport
from judge.validate.agreement import Count


def render_validation(report: ValidationReport) -> RenderableType:
    """Agreement table, leaderboard table, diagnostics table, then the verdict in words."""
    parts: list[RenderableType] = [_agreement_table(report)]
    if report.rank is not None:
        parts.append(_rank_table(report))
    parts.append(_diagnostics_table(report))
    if report.intervals:
        parts.append(Text(_intervals_line(report)))
    parts.append(Text(report.verdict, style="bold"))
    if report.worth is not None:
        parts.append(Text(report.worth.sentence()))
    return Group(*parts)


def _agreement_table(report: ValidationReport) -> Table:
    title = "Judge vs human agreement" if report.comparison == "judge-human" else "Human vs human agreement"
    table = Table(title=title, title_justify="left", caption="rate, then agreeing / compared vote pairs")
    table.add_column(report.agreement.by)
    table.add_column("with ties", justify="right")
    table.add_column("without ties", justify="right")
    baseline = report.human_agreement if report.comparison == "judge-human" else None
    if baseline is not None:
        table.add_column("humans alone\nwith ties", justify="right")
        table.add_column("humans alone\nwithout ties", justify="right")
    table.add_column("items", justify="right")
    human_rows = {row.group: row for row in baseline.rows} if baseline is not None else {}
    rows = report.agreement.rows
    for i, row in enumerate(rows):
        cells = [row.group, _count(row.with_ties), _count(row.without_ties)]
        if baseline is not None:
            other = human_rows.get(row.group)
            cells += [_count(other.with_ties), _count(other.without_ties)] if other else ["-", "-"]
        table.add_row(*cells, str(row.items), end_section=i == len(rows) - 2)
    return table


def _rank_table(report: ValidationReport) -> Table:
    rank = report.rank
    assert rank is not None
    table = Table(title=f"Leaderboards over {rank.models} shared models", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("Spearman", rank.spearman),
        ("Kendall", rank.kendall),
        ("separability, human", rank.separability_human),
        ("separability, judge", rank.separability_judge),
        ("agreement with CI", rank.agreement_with_ci),
        (f"Brier (judge on {rank.brier_votes} decisive human votes)", rank.brier),
    ]
    for name, value in rows:
        table.add_row(name, "n/a" if value is None else f"{value:.3f}")
    return table


def _diagnostics_table(report: ValidationReport) -> Table:
    table = Table(title="Bias diagnostics", title_justify="left")
    table.add_column("measure")
    sides = [("human", report.human_diagnostics)]
    if report.judge_diagnostics is not None:
        sides.insert(0, ("judge", report.judge_diagnostics))
    for side, _ in sides:
        table.add_column(side, justify="right")
    table.add_column("note")
    for name in ("position_consistency", "first_position", "longer_answer", "self_preference"):
        measures = [getattr(diag, name) for _, diag in sides]
        cells = ["n/a" if m.value is None else f"{m.value:.2f} (n={m.n})" for m in measures]
        table.add_row(name.replace("_", " "), *cells, measures[0].note)
    return table


def _count(count: Count) -> str:
    rate = "n/a" if count.rate is None else f"{count.rate:.2f}"
    return f"{rate}\n{count.agree}/{count.total}"


def _intervals_line(report: ValidationReport) -> str:
    """The overall figures with their 95% bootstrap intervals, and Cohen's kappa beside raw agreement."""
    names = {
        "with_ties": "agreement with ties",
        "without_ties": "without ties",
        "kappa": "Cohen's kappa",
        "spearman": "Spearman",
        "kendall": "Kendall",
    }
    parts = []
    for key, label in names.items():
        figure = report.intervals.get(key)
        if figure is None or figure.value is None:
            continue
        span = "" if figure.lower is None else f" [{figure.lower:.2f}, {figure.upper:.2f}]"
        parts.append(f"{label} {figure.value:.2f}{span}")
    return "95% bootstrap intervals (items; questions for ranks): " + ", ".join(parts)
