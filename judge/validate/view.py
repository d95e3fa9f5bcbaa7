"""Rich tables for a ValidationReport. Builds renderables only; cli.py prints them."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from judge.validate import ValidationReport
from judge.validate.agreement import Count
from judge.validate.panel import PanelValidation
from judge.validate.uncertainty import NO_BOOTSTRAP


def render_validation(report: ValidationReport) -> RenderableType:
    """Agreement table, leaderboard table, diagnostics table, then the verdict in words."""
    parts: list[RenderableType] = [_agreement_table(report)]
    judge_line = _judge_on_baseline_line(report)
    if judge_line:
        parts.append(Text(judge_line))
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
    """The judge's agreement beside the humans' on the same items and over all their votes."""
    judged = report.comparison == "judge-human"
    title = "Judge vs human agreement" if judged else "Human vs human agreement"
    caption = "rate, then agreeing / compared vote pairs"
    same = report.baseline
    if judged and same is not None:
        caption += (
            f"; humans on the same items: the {same.items:,} item{'' if same.items == 1 else 's'} where the "
            "judge and two or more humans voted; humans over all votes: every item with two human voters"
        )
    table = Table(title=title, title_justify="left", caption=caption)
    table.add_column(report.agreement.by)
    first = "judge\n" if judged else ""
    table.add_column(f"{first}with ties", justify="right")
    table.add_column(f"{first}without ties", justify="right")
    columns = []
    if judged:
        columns = [
            ("humans\nsame items", None if same is None else same.human),
            ("humans\nall votes", report.human_agreement),
        ]
        for name, _ in columns:
            table.add_column(f"{name}\nwith ties", justify="right")
            table.add_column(f"{name}\nwithout ties", justify="right")
    table.add_column("items", justify="right")
    rows = report.agreement.rows
    for i, row in enumerate(rows):
        cells = [row.group, _count(row.with_ties), _count(row.without_ties)]
        for _, agreement in columns:
            other = None if agreement is None else {r.group: r for r in agreement.rows}.get(row.group)
            cells += ["-", "-"] if other is None else [_count(other.with_ties), _count(other.without_ties)]
        table.add_row(*cells, f"{row.items:,}", end_section=i == len(rows) - 2)
    return table


def _judge_on_baseline_line(report: ValidationReport) -> str:
    """When some of the judge's items have a single human voter, its agreement on the baseline's items."""
    same = report.baseline
    if same is None or same.items in (0, report.agreement.overall.items):
        return ""
    row = same.judge.overall
    return (
        f"On the {same.items:,} items with two or more human voters the judge agrees with humans "
        f"{_inline(row.with_ties)} with ties and {_inline(row.without_ties)} without."
    )


def _rank_table(report: ValidationReport) -> Table:
    rank = report.rank
    assert rank is not None
    table = Table(title=f"Leaderboards over {rank.models} shared models", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("Spearman", "spearman", rank.spearman),
        ("Kendall", "kendall", rank.kendall),
        ("separability, human", "separability_human", rank.separability_human),
        ("separability, judge", "separability_judge", rank.separability_judge),
        ("agreement with CI", "agreement_with_ci", rank.agreement_with_ci),
        (f"Brier (judge on {rank.brier_votes:,} decisive human votes)", "brier", rank.brier),
    ]
    for label, key, value in rows:
        table.add_row(label, rank.notes.get(key, "not defined") if value is None else f"{value:.3f}")
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
        measures = [(side, getattr(diag, name)) for side, diag in sides]
        cells = ["n/a" if m.value is None else f"{m.value:.2f} (n={m.n:,})" for _, m in measures]
        notes = list(dict.fromkeys(m.note for _, m in measures))
        note = notes[0] if len(notes) == 1 else "; ".join(f"{side}: {m.note}" for side, m in measures)
        table.add_row(name.replace("_", " "), *cells, note)
    return table


def _count(count: Count) -> str:
    rate = "n/a" if count.rate is None else f"{count.rate:.2f}"
    return f"{rate}\n{count.agree}/{count.total}"


def _inline(count: Count) -> str:
    if count.rate is None:
        return "n/a (no vote pairs)"
    return f"{count.rate:.2f} ({count.agree:,}/{count.total:,})"


def _intervals_line(report: ValidationReport) -> str:
    """The overall figures with their bootstrap intervals, and Cohen's kappa beside raw agreement."""
    names = {
        "with_ties": "agreement with ties",
        "without_ties": "without ties",
        "kappa": "Cohen's kappa",
        "spearman": "Spearman",
        "kendall": "Kendall",
    }
    parts = []
    bounded = False
    for key, label in names.items():
        figure = report.intervals.get(key)
        if figure is None:
            continue
        if figure.value is None:
            parts.append(f"{label} not defined ({figure.note.removeprefix('not defined: ') or 'n/a'})")
            continue
        if figure.lower is None or figure.upper is None:
            aside = "" if figure.note in ("", NO_BOOTSTRAP) else f" ({figure.note})"
            parts.append(f"{label} {figure.value:.2f}{aside}")
            continue
        bounded = True
        parts.append(f"{label} {figure.value:.2f} [{figure.lower:.2f}, {figure.upper:.2f}]")
    head = (
        f"{report.level:.0%} bootstrap intervals (items; questions for ranks)"
        if bounded
        else "Overall figures (no bootstrap intervals)"
    )
    return f"{head}: " + "; ".join(parts)


def render_panel(panel: PanelValidation) -> RenderableType:
    """One table: every judge and panel against the human votes, best agreement (with ties) first."""
    table = Table(
        title=f"Judges and panels vs human votes ({', '.join(panel.judges)})",
        title_justify="left",
        caption="agreement: rate, then agreeing / compared vote pairs; kappa: Cohen's, vote pairs; "
        "the weighted panel is cross-validated over questions",
    )
    for name, justify in (("judge or panel", "left"), ("with ties", "right"), ("without ties", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name in ("kappa", "Spearman", "Kendall", "separability", "items"):
        table.add_column(name, justify="right")
    for row in panel.rows:
        r = row.rank
        table.add_row(
            row.name,
            _count(row.agreement.with_ties),
            _count(row.agreement.without_ties),
            _num(row.kappa, 3),
            _num(r.spearman, 3),
            _num(r.kendall, 3),
            _num(r.separability_judge, 3),
            str(row.agreement.items),
        )
    parts: list[RenderableType] = [table]
    if panel.weights is not None:
        w = panel.weights
        weights = ", ".join(f"{k} {v:.3f}" for k, v in w.weights.items())
        if w.human_votes == 0:
            text = (
                f"No weights fitted (no decisive human vote): the weighted panel uses equal ones ({weights})."
            )
        else:
            text = (
                f"Fitted weights (all questions, {w.human_votes:,} decisive human votes): {weights}; "
                f"tie margin {w.tie_margin:.3f}."
            )
        parts.append(Text(text))
    return Group(*parts)


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
