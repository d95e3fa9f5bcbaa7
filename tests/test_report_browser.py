"""The report in real headless Chromium: it loads without console errors, shows the leaderboard, filters the
battle browser (driven through the URL hash, the same render path as the selects) and never runs hostile text.

Needs Debian's `chromium` (.ci/run installs it); skips with the reason when it is absent.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from test_report import HOSTILE, write_run_dir

from judge.report import write_report
from tests.chromium import CHROMIUM, FLAGS, needs_chromium

pytestmark = needs_chromium


def render_dom(page: Path, tmp_path: Path, fragment: str = "") -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and every console message Chromium logged."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri() + fragment,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(write_run_dir(tmp_path_factory.mktemp("browser") / "run"))


def articles(dom: str) -> list[str]:
    return re.findall(r'<article class="battle"[^>]*>', dom)


def test_loads_without_console_errors_and_shows_the_leaderboard(report: Path, tmp_path: Path) -> None:
    dom, console = render_dom(report, tmp_path)
    assert console == []
    assert dom.count('<tr class="lb-row">') == 3
    assert "<title>judge report: run</title>" in dom
    assert len(articles(dom)) == 24  # the script ran and built every battle card
    assert "24 of 24 battles" in dom


def test_filter_by_pair_and_category(report: Path, tmp_path: Path) -> None:
    dom, console = render_dom(report, tmp_path, "#model=model-z&model=model-x&category=writing")
    assert console == []
    cards = articles(dom)
    assert len(cards) == 4  # four writing questions, one battle of this pair each
    assert all('data-category="writing"' in card for card in cards)
    pairs = [set(re.findall(r'data-[ab]="([^"]*)"', card)) for card in cards]
    assert pairs == [{"model-x", "model-z"}] * 4
    assert "4 of 24 battles" in dom
    dom, _ = render_dom(report, tmp_path, "#category=math")
    assert len(articles(dom)) == 12


def test_hostile_answer_is_shown_as_text_and_never_runs(report: Path, tmp_path: Path) -> None:
    dom, console = render_dom(report, tmp_path, "#model=model-x&model=model-z&category=writing")
    assert console == []
    assert "PWNED" not in dom.split("</title>")[0]  # the title was not rewritten
    assert "data-pwned" not in dom
    assert "<img" not in dom
    # The answer is on the page as text: Chromium serialises a text node with <, > and & escaped.
    shown = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert shown in dom
