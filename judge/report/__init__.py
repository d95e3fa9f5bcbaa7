"""Pages people look at: the self-contained HTML report of a tournament run."""

from judge.report.html import REPORT_FILE, render_report, write_report
from judge.report.rundir import Detail, Judgment, Leaderboard, LeaderboardRow, ReportData, load_run_dir

__all__ = [
    "REPORT_FILE",
    "Detail",
    "Judgment",
    "Leaderboard",
    "LeaderboardRow",
    "ReportData",
    "load_run_dir",
    "render_report",
    "write_report",
]
