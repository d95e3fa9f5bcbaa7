"""`judge arena` in real headless Chromium (Debian's, driven by Playwright): a prompt streamed by two embedded
SmolLM2 contestants, a second turn, votes by click and by key, names only after the vote, the leaderboard tab,
and hostile model output staying text. Saves a screenshot of each tab (into docs/ with JUDGE_SCREENSHOTS=1).

Skips with the reason when chromium, the playwright package or the SmolLM2 model is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge import api
from judge.arena.server import ArenaServer
from judge.store import DB_NAME, Store
from tests.chromium import CHROMIUM, FLAGS, needs_chromium
from tests.fault_server import FaultServer, Step

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
pytestmark = needs_chromium
DOCS = Path(__file__).resolve().parent.parent / "docs"
HOSTILE = (
    '<script>document.body.dataset.pwned="script"</script></textarea>'
    '<img src=x onerror="document.body.dataset.pwned=\'img\'"><b>bold?</b> & "quotes"'
)


# Read at import: the per-test environment scrub removes JUDGE_* variables.
TO_DOCS = os.environ.get("JUDGE_SCREENSHOTS") == "1"


def shots(tmp_path: Path) -> Path:
    return DOCS if TO_DOCS else tmp_path


@pytest.fixture
def page() -> Iterator[tuple[Any, list[str]]]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            yield tab, problems
        finally:
            browser.close()


def wait_state(tab: Any, state: str, timeout: float = 120_000) -> None:
    tab.wait_for_selector(f'body[data-state="{state}"]', timeout=timeout)


def send(tab: Any, prompt: str) -> None:
    tab.fill("#prompt", prompt)
    tab.press("#prompt", "Enter")


@pytest.mark.llama
def test_a_battle_between_two_smollm2_contestants_in_the_browser(
    tmp_path: Path, llama_gguf: Path, page: tuple[Any, list[str]]
) -> None:
    names = ("smol-steady", "smol-lively")
    config = tmp_path / "arena.yaml"
    config.write_text(
        f"""\
name: smol-arena
questions: demo
contestants:
  - {{name: {names[0]}, provider: local, model: smollm2-135m, path: '{llama_gguf}', temperature: 0.1,
      seed: 1}}
  - {{name: {names[1]}, provider: local, model: smollm2-135m, path: '{llama_gguf}', temperature: 1.0,
      seed: 2, system: "Answer cheerfully."}}
arena: {{max_tokens: 24, bootstrap: 10}}
"""
    )
    tab, problems = page
    with api.arena_server(config, out=tmp_path / "out", port=0, seed=5) as server:
        server.min_interval = 0.05
        server.start()
        tab.goto(server.url)
        wait_state(tab, "idle")
        send(tab, "Name three colours of the rainbow.")
        tab.wait_for_selector('body[data-state="streaming"]', timeout=10_000)
        wait_state(tab, "voting")
        first_a, first_b = tab.text_content("#pane-a .reply"), tab.text_content("#pane-b .reply")
        assert (first_a or "").strip() and (first_b or "").strip()
        send(tab, "Now name one more.")
        wait_state(tab, "voting")
        assert tab.locator("#pane-a .turn").count() == 2 and tab.locator("#pane-b .turn").count() == 2
        assert tab.locator("#pane-a .reply").nth(0).text_content() == first_a  # earlier turn kept
        dom = tab.content()
        assert not any(name in dom for name in names), "a model name is in the page before the vote"
        tab.get_by_role("button", name="A is better").click()
        wait_state(tab, "revealed")
        revealed = {tab.text_content("#name-a"), tab.text_content("#name-b")}
        assert revealed == set(names)
        tab.screenshot(path=str(shots(tmp_path) / "arena-battle.png"), full_page=True)

        tab.keyboard.press("n")
        wait_state(tab, "idle")
        assert tab.text_content("#name-a") == "" and tab.locator("#pane-a .turn").count() == 0
        send(tab, "Qu'est-ce qu'un arc-en-ciel ? Réponds en français.")
        wait_state(tab, "voting")
        tab.locator("#prompt").blur()
        tab.keyboard.press("2")  # B is better, by key
        wait_state(tab, "revealed")

        tab.click("#tab-board")
        tab.wait_for_selector('#board[data-votes="2"]', timeout=60_000)
        tab.wait_for_selector("#bt tr:nth-child(3)", timeout=60_000)  # header + two models
        board_text = tab.text_content("#board") or ""
        assert all(name in board_text for name in names)
        assert tab.locator("#win-fraction td").count() == 4 and tab.locator("#by-language tr").count() >= 2
        tab.screenshot(path=str(shots(tmp_path) / "arena-leaderboard.png"), full_page=True)
        assert problems == []

    with Store.open(tmp_path / "out" / DB_NAME) as store:
        rows = [row for _, row in store.arena_battles()]
    assert [(r.turns, r.choice) for r in rows] == [(2, "a"), (1, "b")]
    assert rows[1].language == "fr"


MARKDOWN = (
    "## Code\n\n```python\ndef f():\n    return  1\n```\n\n| k | n |\n|---|--:|\n| x | 1 |\n\n"
    "[docs](https://example.org/) [evil](javascript:document.body.dataset.pwned='link')\n\n"
    '![pixel](https://tracker.example/p.png) <iframe src="https://evil.example/"></iframe>'
)


def test_hostile_model_output_and_prompts_stay_text(tmp_path: Path, page: tuple[Any, list[str]]) -> None:
    tab, problems = page
    with FaultServer() as fault:
        fault.script(*[Step.ok(HOSTILE)] * 2, *[Step.ok(MARKDOWN)] * 2)
        config = tmp_path / "arena.yaml"
        config.write_text(
            f"""\
name: hostile
questions: demo
contestants:
  - {{name: left-model, provider: openai, model: m1, base_url: '{fault.openai_url}'}}
  - {{name: right-model, provider: openai, model: m2, base_url: '{fault.openai_url}'}}
"""
        )
        with api.arena_server(config, out=tmp_path / "out", port=0) as server:
            server.start()
            tab.goto(server.url)
            wait_state(tab, "idle")
            send(tab, HOSTILE)
            wait_state(tab, "voting", timeout=30_000)
            # a finished reply is rendered markdown; raw HTML in it stays text
            assert (tab.text_content("#pane-a .reply") or "").strip() == HOSTILE
            assert (tab.text_content("#pane-b .reply") or "").strip() == HOSTILE
            assert tab.text_content("#pane-a .user") == HOSTILE
            assert tab.evaluate("document.body.dataset.pwned") is None
            assert tab.locator("main img, main b, #pane-a script").count() == 0
            send(tab, "Now in markdown, please.")
            wait_state(tab, "voting", timeout=30_000)
            reply = tab.locator("#pane-a .reply").nth(1)
            assert reply.locator("pre > code.language-python").text_content() == "def f():\n    return  1\n"
            assert reply.locator("th.align-right").text_content() == "n"
            hrefs = reply.locator("a").evaluate_all("as => as.map(a => a.href)")
            assert hrefs == ["https://example.org/", "https://tracker.example/p.png"]  # the image as a link
            assert "[evil](javascript:document.body.dataset.pwned='link')" in (reply.text_content() or "")
            assert "[image: pixel]" in (reply.text_content() or "")
            assert tab.locator("main img, main iframe, main script").count() == 0
            tab.locator("#prompt").blur()
            tab.keyboard.press("x")
            wait_state(tab, "revealed")
            assert tab.evaluate("document.body.dataset.pwned") is None
            assert problems == []
    assert isinstance(server, ArenaServer)
