"""Style counts of answers (Chatbot Arena's markdown rules) and the style board a `judge run` writes."""

from __future__ import annotations

import json
from pathlib import Path

from judge import api
from judge.answer_style import count_style, with_style
from judge.answers import Answer
from judge.battles import Battle, load_battles

DEMO_ANSWERS = Path(api.demo_config()).parent / "answers"

MARKDOWN = """# Title
Some **bold** text and __more bold__ and **not
closed** across lines.
## Part
1. first
2. second
   - nested item
* star item
+ plus item
#not a header
```
# a comment in code, not a header
- not a list item
**not bold**
```
Done."""


def test_markdown_is_counted_as_chatbot_arena_counts_it() -> None:
    counts = count_style(MARKDOWN, tokens=57)
    assert (counts.headers, counts.lists, counts.bold, counts.tokens) == (2, 5, 2, 57)
    assert count_style("Hello, world!").words == 4  # words and punctuation marks
    assert count_style("plain").tokens is None


def answer(model: str, question: str, turn: int, text: str) -> Answer:
    return Answer(
        contestant=model, question_id=question, turn=turn, text=text, key=f"{model}/{question}/{turn}"
    )


def test_counts_sum_over_the_turns_judged_and_units_never_mix() -> None:
    answers = [
        answer("a", "q", 1, "# H\n- one\n- two"),
        answer("a", "q", 2, "**b** and words here"),
        answer("b", "q", 1, "short"),
        answer("b", "q", 2, "also short"),
    ]
    reported = {"a/q/1": 30, "a/q/2": 20, "b/q/1": 5, "b/q/2": 7}
    turn1 = Battle("q", "a", "b", "model_a", turn=1)
    turn2 = Battle("q", "a", "b", "model_a", turn=2)
    one, two = with_style([turn1, turn2], answers, reported)
    assert (one.tokens_a, one.tokens_b, one.headers_a, one.lists_a, one.bold_a) == (30, 5, 1, 2, 0)
    assert (two.tokens_a, two.tokens_b, two.headers_a, two.lists_a, two.bold_a) == (50, 12, 1, 2, 1)
    # One side without reported tokens: both sides fall back to the word count, never a mix of units.
    (mixed,) = with_style([turn2], answers, {"a/q/1": 30, "a/q/2": 20})
    words = count_style(answers[0].text).words + count_style(answers[1].text).words
    assert (mixed.tokens_a, mixed.tokens_b) == (words, 1 + 2)
    # A missing answer leaves the counts unknown, not zero.
    (unknown,) = with_style([Battle("q", "a", "c", "tie", turn=1)], answers, reported)
    assert unknown.tokens_a is None and "tokens_a" not in unknown.to_record()


def test_run_writes_a_style_board_when_lengths_differ(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text(
        "name: t\nquestions: {path: mt_bench, ids: [90, 104, 120], turns: 1}\ncontestants:\n"
        f"  - {{name: gpt-4, provider: replay, path: {DEMO_ANSWERS / 'gpt-4.jsonl'}}}\n"
        f"  - {{name: llama-13b, provider: replay, path: {DEMO_ANSWERS / 'llama-13b.jsonl'}}}\n"
        f"  - {{name: echo, provider: echo}}\n"
        "judge: {provider: echo, answer_format: json}\n"
    )
    out = tmp_path / "out"
    result = api.run(config, out=out, env={}, bootstrap=20)
    assert "leaderboard_style.json" in {p.name for p in result.files}
    frame = load_battles(out / "battles.jsonl").frame
    assert frame[["tokens_a", "tokens_b", "lists_a", "bold_b"]].notna().all().all()
    board = json.loads((out / "leaderboard_style.json").read_text())
    assert "length" in board["style"]["features"]
    assert {m["model"] for m in board["models"]} == {"gpt-4", "llama-13b", "echo"}
    page = (out / "report.html").read_text()
    assert 'id="style"' in page and "A 2x longer answer is worth" in page
