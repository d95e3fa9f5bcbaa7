"""The voting page in real headless Chromium (Debian's, driven by Playwright, which downloads no browser):
votes by click and by keyboard, model names reach the DOM only after a vote, hostile answers stay text,
markdown answers render (code, tables, lists, links) with their hostile parts inert, the reference answer
shows, a session ends with its summary, and the votes land in the store and in `judge rate`.

Skips with the reason when chromium or the playwright package is absent (.ci/run installs both).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_vote import HOSTILE, MODELS, REFERENCE, write_vote_dir

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


def skip_to(tab: Any, question_id: str) -> None:
    """Press s until the page shows a battle on `question_id`."""
    for _ in range(12):
        wait_state(tab, "voting")
        if (tab.text_content("#where") or "").startswith(question_id):
            return
        tab.keyboard.press("s")
    raise AssertionError(f"no battle on {question_id}")


def test_markdown_answers_render_and_their_hostile_parts_stay_inert(
    server: VoteServer, page: tuple[Any, list[str]]
) -> None:
    tab, problems = page
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(server.url)
    skip_to(tab, "q1")
    side = "#answer-a"
    code = tab.locator(f"{side} pre > code.language-python")
    assert code.text_content() == "def f(x):\n    return  x   # two spaces, then three\n"
    style = code.evaluate("c => [getComputedStyle(c).fontFamily, getComputedStyle(c.parentNode).whiteSpace]")
    assert "monospace" in style[0] and style[1] == "pre"
    assert tab.text_content(f"{side} h2") == "Plan"
    assert tab.locator(f"{side} ol > li").all_text_contents() == ["first step", "second step"]
    assert tab.locator(f"{side} ol em").text_content() == "step" and tab.locator(f"{side} s").count() == 1
    right = tab.locator(f"{side} th.align-right")
    assert right.text_content() == "score" and right.evaluate("c => getComputedStyle(c).textAlign") == "right"
    links = tab.locator(f"{side} a").evaluate_all(
        "as => as.map(a => [a.getAttribute('href'), a.rel, a.target])"
    )
    assert links == [
        ["https://example.org/docs", "noopener noreferrer nofollow", "_blank"],
        ["https://tracker.example/pixel.png", "noopener noreferrer nofollow", "_blank"],
    ]
    text = tab.text_content(side) or ""
    assert "[evil](javascript:document.body.dataset.pwned='link')" in text and "[image: pixel]" in text
    assert '<iframe src="https://evil.example/"></iframe>' in text and "<img src=x onerror=" in text
    assert tab.locator("main img, main iframe, main script, main svg, main [style]").count() == 0
    assert (
        tab.locator("main *").evaluate_all(
            "els => els.flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on'))"
        )
        == []
    )

    # The reference answer: labelled, collapsed, rendered, its script tag shown as text.
    reference = tab.locator("#reference")
    assert reference.is_visible() and reference.evaluate("d => d.open") is False
    assert tab.text_content("#reference-label") == "Reference answer (from the question set)"
    tab.click("#reference summary")
    assert tab.locator("#reference-text strong").text_content() == "42"
    assert "<script>document.body.dataset.pwned='ref'</script>" in (tab.text_content("#reference-text") or "")
    assert REFERENCE.startswith("The answer is **42**")

    tab.keyboard.press("1")
    wait_state(tab, "revealed")
    assert tab.evaluate("document.body.dataset.pwned") is None
    assert all(url.startswith(server.url) for url in requests), requests  # no image, font or tracker fetched
    assert problems == []  # no CSP violation, no script error


def test_a_session_ends_with_its_summary(server: VoteServer, page: tuple[Any, list[str]]) -> None:
    tab, problems = page
    tab.goto(server.url)
    # close-first: three battles on q0, which the judge called ties; then battles it gave to model_a
    wait_state(tab, "voting")
    assert tab.locator("#reference").is_hidden()  # q0 has no reference answer
    for key in ("3", "n", "s", "2", "n", "s", "s", "1"):
        if key != "n":
            wait_state(tab, "voting")
        tab.keyboard.press(key)
        if key in "123":
            wait_state(tab, "revealed")
    tab.keyboard.press("e")
    wait_state(tab, "ended")
    with Store.open(server.session.run_dir / DB_NAME) as store:
        votes = store.votes("eve")
    assert [v.choice for v in votes] == ["tie", "b", "a"]
    agreed = sum(v.winner == ("tie" if v.question_id == "q0" else "model_a") for v in votes)
    decisive = [v for v in votes if v.question_id != "q0"]
    assert tab.text_content("#summary-title") == "Session summary"
    assert tab.text_content("#sum-votes") == "3" and tab.text_content("#sum-skipped") == "3"
    assert tab.text_content("#sum-ties") == "1 (tie or both bad)"
    share = f"{agreed} of 3 ({round(100 * agreed / 3)}%)"
    assert tab.text_content("#sum-agreed") == f"{share} of your votes on battles the judge decided"
    decided = sum(v.winner == "model_a" for v in decisive)
    assert tab.text_content("#sum-decisive") == f"{decided} of 1 ({100 * decided}%)"
    assert tab.text_content("#sum-remaining") == "9"
    assert tab.text_content("#sum-file") == str(server.session.run_dir / VOTES_FILE)
    assert tab.locator("#sum-overall").is_hidden()
    assert server.session.summary().session.agreed == agreed
    assert tab.text_content("#agreement") == f"agreed with the judge on {share}"
    tab.keyboard.press("n")  # keep voting
    wait_state(tab, "voting")
    assert tab.locator("#summary").is_hidden()
    assert problems == []
