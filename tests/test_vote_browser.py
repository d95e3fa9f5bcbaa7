"""The voting page in real headless Chromium (Debian's, driven by Playwright, which downloads no browser):
votes by click and by keyboard, model names reach the DOM only after a vote, hostile answers stay text,
and the votes land in the store and in `judge rate`.

Skips with the reason when chromium or the playwright package is absent (.ci/run installs both).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_vote import HOSTILE, MODELS, write_vote_dir

from judge import api
from judge.cli import cli
from judge.store import DB_NAME, Store
from judge.vote import VOTES_FILE, VoteServer
from tests.chromium import CHROMIUM, FLAGS, needs_chromium

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
pytestmark = needs_chromium


@pytest.fixture
def server(tmp_path: Path) -> Iterator[VoteServer]:
    with api.vote_server(write_vote_dir(tmp_path / "run", hostile=True), port=0, voter="eve", seed=11) as srv:
        yield srv.start()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page and the list its console errors and uncaught exceptions are collected into."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            tab = browser.new_page()
            problems: list[str] = []
            tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            yield tab, problems
        finally:
            browser.close()


def wait_state(tab: Any, state: str) -> None:
    tab.wait_for_selector(f'body[data-state="{state}"]', timeout=20_000)


def test_vote_by_click_and_keyboard_names_only_after_the_vote(
    server: VoteServer, page: tuple[Any, list[str]]
) -> None:
    tab, problems = page
    tab.goto(server.url)
    revealed: list[tuple[str, str]] = []
    # two votes by clicking, three by keys (digit, letter, letter), "next" by button and by "n"
    actions = [("click", "A is better"), ("click", "Both are bad"), ("key", "2"), ("key", "t"), ("key", "x")]
    for step, (how, what) in enumerate(actions):
        wait_state(tab, "voting")
        dom = tab.content()
        assert not any(model in dom for model in MODELS), f"a model name is in the DOM before vote {step}"
        assert tab.text_content("#name-a") == "" and tab.text_content("#reveal") == ""
        if how == "click":
            tab.get_by_role("button", name=what).click()
        else:
            tab.keyboard.press(what)
        wait_state(tab, "revealed")
        name_a, name_b = tab.text_content("#name-a"), tab.text_content("#name-b")
        assert {name_a, name_b} <= set(MODELS) and name_a != name_b
        assert f"A was {name_a}, B was {name_b}" in (tab.text_content("#reveal") or "")
        tab.keyboard.press("1")  # a second vote on a revealed battle is ignored by the page
        revealed.append((name_a or "", name_b or ""))
        if step % 2:
            tab.keyboard.press("n")
        else:
            tab.click("#next")
    wait_state(tab, "voting")
    assert tab.text_content("#progress") == "5 of 12 voted"
    assert problems == []

    with Store.open(server.session.run_dir / DB_NAME) as store:
        votes = store.votes("eve")
    assert [v.choice for v in votes] == ["a", "bothbad", "b", "tie", "bothbad"]
    assert [(v.shown_a, v.model_b if v.shown_a == v.model_a else v.model_a) for v in votes] == revealed
    assert votes[0].winner == ("model_a" if votes[0].shown_a == votes[0].model_a else "model_b")
    result = CliRunner().invoke(
        cli, ["rate", str(server.session.run_dir / VOTES_FILE), "--bootstrap", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    rated = json.loads(result.stdout)
    assert rated["n_battles"] == 5 and {row["model"] for row in rated["models"]} <= set(MODELS)


def test_hostile_answers_are_shown_as_text(server: VoteServer, page: tuple[Any, list[str]]) -> None:
    tab, problems = page
    tab.goto(server.url)
    wait_state(tab, "voting")  # close-first: a q0 battle, whose answers are all hostile
    assert (tab.text_content("#answer-a") or "").startswith(HOSTILE)
    assert (tab.text_content("#answer-b") or "").startswith(HOSTILE)
    assert tab.evaluate("document.body.dataset.pwned") is None
    assert tab.locator("main img, main script, main textarea, main b").count() == 0
    tab.keyboard.press("3")
    wait_state(tab, "revealed")
    assert tab.evaluate("document.body.dataset.pwned") is None
    assert problems == []
