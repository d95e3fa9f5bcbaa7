"""The report in real headless Chromium: it loads without console errors, shows the leaderboard, filters the
battle browser (driven through the URL hash, the same render path as the selects) and never runs hostile text;
driven by Playwright, the first screen of a 60-model report (screenshot), its tie rate and weak-board flag,
the human board, and matrices whose labels are neither clipped nor push the page sideways.

Needs Debian's `chromium` (.ci/run installs it) and, for the Playwright tests, the playwright package (which
drives that chromium and downloads no browser); skips with the reason when either is absent.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# The page as a reader sees it, in Chromium driven by Playwright (the system chromium; nothing is downloaded):
# a 60-model run with long names, a tie-heavy judge and human votes.

LONG = "extremely-long-model-name-instruct-v2.1-2024-05-13-preview"
MANY = tuple(f"org-{i:02d}/{LONG if i % 7 == 0 else 'model'}-{i}" for i in range(60))
VIEW = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-60") / "run"
    write_run_dir(root, models=MANY, questions=2, details=False, human_votes=300, tie=0.6)
    return write_report(root)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, path: Path) -> tuple[Any, list[str]]:
    tab = browser.new_page(viewport=VIEW)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.goto(path.as_uri())
    return tab, problems


def pixels(browser: Any, png: bytes) -> dict[str, Any]:
    """Size and colour statistics of a PNG, decoded by the browser itself (a canvas on a blank page)."""
    probe = browser.new_page()
    try:
        return dict(
            probe.evaluate(
                """async (b64) => {
                  const img = new Image();
                  img.src = "data:image/png;base64," + b64;
                  await img.decode();
                  const canvas = document.createElement("canvas");
                  canvas.width = img.width; canvas.height = img.height;
                  const g = canvas.getContext("2d");
                  g.drawImage(img, 0, 0);
                  const d = g.getImageData(0, 0, img.width, img.height).data;
                  let ink = 0, red = 0;
                  const colours = new Set();
                  for (let i = 0; i < d.length; i += 4) {
                    if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
                    if (d[i] > 150 && d[i + 1] < 80 && d[i + 2] < 80) red++;
                    colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
                  }
                  return {width: img.width, height: img.height, ink: ink / (d.length / 4), red: red,
                          colours: colours.size};
                }""",
                base64.b64encode(png).decode("ascii"),
            )
        )
    finally:
        probe.close()


def box(tab: Any, selector: str) -> dict[str, float]:
    found = tab.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


def within(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def test_top_of_the_page_screenshot(browser: Any, big_report: Path, tmp_path: Path) -> None:
    tab, problems = open_page(browser, big_report)
    png = tab.screenshot()  # the viewport: what a reader sees first
    (tmp_path / "top.png").write_bytes(png)
    seen = pixels(browser, png)
    assert (seen["width"], seen["height"]) == (VIEW["width"], VIEW["height"])
    assert seen["ink"] > 0.03 and seen["colours"] > 50, seen  # text, bars and colour, not a blank page
    assert seen["red"] > 200, seen  # the weak-board sentence is drawn in red
    viewport = {"x": 0, "y": 0, **{k: float(v) for k, v in VIEW.items()}}
    for selector in ("h1", "#judge-check", ".tie-rate", "#leaderboard-table thead svg", ".lb-row"):
        assert tab.locator(selector).first.is_visible(), selector
        assert within(box(tab, selector), viewport), f"{selector} is not within the first screen"
    assert problems == []


def test_tie_rate_and_weak_flag_are_visible(browser: Any, big_report: Path) -> None:
    tab, _ = open_page(browser, big_report)
    assert re.fullmatch(r"Tie rate: \d+% of 3,540 battles", tab.text_content(".tie-rate") or "")
    flag = tab.locator("#judge-check .flag")
    assert flag.is_visible()
    assert re.match(
        r"⚠ This board is weak: \d+% of its 3,540 battles are ties \(above 50%\)", flag.inner_text()
    )
    colour = tab.evaluate("getComputedStyle(document.querySelector('#judge-check .flag')).color")
    red, green, blue = (int(v) for v in re.findall(r"\d+", colour)[:3])
    assert red > 120 and green < 80 and blue < 80, colour


def test_human_board_is_shown_when_votes_exist(browser: Any, big_report: Path, report: Path) -> None:
    tab, _ = open_page(browser, big_report)
    assert tab.locator("#humans").is_visible()
    assert tab.locator("#human-table tr.human-row").count() == 60
    assert "300 votes by 2 voters" in (tab.text_content("#humans") or "")
    diffs = tab.locator("#human-table td.diff").all_inner_texts()
    assert all(re.fullmatch(r"[+-]?\d+|–", d) for d in diffs) and any(d not in ("0", "–") for d in diffs)
    plain, _ = open_page(browser, report)  # no human_votes.jsonl: no section
    assert plain.locator("#humans").count() == 0


def no_clipping(tab: Any, scope: str) -> list[str]:
    """Labels in `scope` whose text overflows their own box, or whose box leaves their table's."""
    return list(
        tab.evaluate(
            """(scope) => {
              const bad = [];
              for (const wrap of document.querySelectorAll(scope)) {
                const table = wrap.querySelector("table").getBoundingClientRect();
                for (const el of wrap.querySelectorAll("th.row, th.col > span")) {
                  const r = el.getBoundingClientRect();
                  if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
                    bad.push("overflows: " + el.textContent);
                  if (r.left < table.left - 1 || r.right > table.right + 1 || r.top < table.top - 1 ||
                      r.bottom > table.bottom + 1)
                    bad.push("outside its table: " + el.textContent);
                  if (r.width < 4 || r.height < 4) bad.push("collapsed: " + el.textContent);
                }
              }
              return bad;
            }""",
            scope,
        )
    )


def page_overflow(tab: Any) -> int:
    return int(tab.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_sixty_model_matrices_neither_clip_nor_overflow(browser: Any, big_report: Path) -> None:
    tab, problems = open_page(browser, big_report)
    assert page_overflow(tab) <= 0
    tops = tab.locator('.hm-wrap[id$="-top"]')
    assert tops.count() == 3
    for index in range(3):
        wrap = tops.nth(index)
        assert wrap.locator("tbody tr").count() == 20  # the top 20 by rank
        # The top-20 table fits its column without a scroll bar, and inside the viewport.
        assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth")
        assert (
            box(tab, f'.hm-wrap[id="matrix-{index}-top"]')["x"] + wrap.bounding_box()["width"]
            <= VIEW["width"]
        )
    assert no_clipping(tab, '.hm-wrap[id$="-top"]') == []
    labels = tab.locator("#matrix-0-top th.row").all_inner_texts()
    assert labels == tab.locator("#leaderboard-table td.model").all_inner_texts()[:20]  # one order
    assert any(LONG in label.replace("\n", "") for label in labels)  # a long name, whole
    # The full matrix opens from its toggle; it scrolls inside its own box, never the page.
    assert not tab.locator("#matrix-0-full").is_visible()
    tab.locator("#matrices details summary").first.click()
    full = tab.locator("#matrix-0-full")
    assert full.is_visible() and full.locator("tbody tr").count() == 60
    assert no_clipping(tab, "#matrix-0-full") == []
    assert page_overflow(tab) <= 0
    frame = box(tab, "#matrix-0-full")
    assert frame["x"] >= 0 and frame["x"] + frame["width"] <= VIEW["width"]
    # Scrolled to its right end, its row labels stay in view (sticky) and inside the box.
    full.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    label = box(tab, "#matrix-0-full tbody tr:last-child th.row")
    assert within(label, frame)
    assert problems == []


def test_category_matrix_and_interval_axis(browser: Any, big_report: Path) -> None:
    tab, _ = open_page(browser, big_report)
    assert tab.locator("#category-matrix tbody tr").count() == 60
    assert no_clipping(tab, "#category-matrix") == []
    ticks = tab.locator("#leaderboard-table thead svg text").all_text_contents()
    assert len(ticks) >= 3 and all(t.isdigit() for t in ticks)
    # Every bar lies inside the interval column, aligned with the axis above it.
    axis = box(tab, "#leaderboard-table thead svg")
    bar = box(tab, "#leaderboard-table .lb-row svg")
    assert abs(axis["x"] - bar["x"]) < 1 and abs(axis["width"] - bar["width"]) < 1
    assert page_overflow(tab) <= 0
