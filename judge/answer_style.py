"""Style counts of answers (length in tokens, markdown headers, list items, bold spans) for style control.

Markdown is counted as Chatbot Arena counts it (lm-sys arena-hard-auto `add_markdown_info.py`): fenced code
blocks (``` ... ```) are removed first; then a header is a line that starts with one to six '#' and
whitespace, a list item a line that starts (after optional blanks) with 'N.' or '-', '*' or '+' and
whitespace, bold a **...** or __...__ span within one line.

Length is the contestant's reported completion tokens. When a side of a battle lacks them (replayed answers,
servers that report no usage), both sides are counted the same documented way instead, words plus
punctuation marks (`\\w+` runs and single other non-space characters), so the two lengths of one battle always
share a unit: the style features compare them as (a - b) / (a + b + 1), where a common unit cancels.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from judge.battles import Battle

_CODE_BLOCK: Final = re.compile(r"```[^`]*```")
_HEADER: Final = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM: Final = re.compile(r"^\s*(?:\d+\.|[-*+])\s", re.MULTILINE)
_BOLD: Final = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
_WORD: Final = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class StyleCounts:
    """One answer's (or several turns') style counts; tokens None when no reported count exists."""

    tokens: int | None
    words: int
    headers: int
    lists: int
    bold: int

    def __add__(self, other: StyleCounts) -> StyleCounts:
        tokens = None if self.tokens is None or other.tokens is None else self.tokens + other.tokens
        return StyleCounts(
            tokens,
            self.words + other.words,
            self.headers + other.headers,
            self.lists + other.lists,
            self.bold + other.bold,
        )


def count_style(text: str, tokens: int | None = None) -> StyleCounts:
    """Style counts of one answer; `tokens` is the provider's reported completion tokens, if any."""
    prose = _CODE_BLOCK.sub("", text)
    return StyleCounts(
        tokens=tokens,
        words=len(_WORD.findall(text)),
        headers=len(_HEADER.findall(prose)),
        lists=len(_LIST_ITEM.findall(prose)),
        bold=len(_BOLD.findall(prose)),
    )


class _Answer(Protocol):
    @property
    def contestant(self) -> str: ...
    @property
    def question_id(self) -> str: ...
    @property
    def turn(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def key(self) -> str: ...


def with_style(
    battles: Iterable[Battle], answers: Sequence[_Answer], tokens: Mapping[str, int] | None = None
) -> list[Battle]:
    """Battles with their style columns filled: counts summed over turns 1..turn of each side's answers.

    tokens maps an answer key to its reported completion tokens. A battle whose answers are not all there
    keeps its style columns empty (unknown, not zero).
    """
    return list(styled(battles, answers, tokens))


def styled(
    battles: Iterable[Battle], answers: Sequence[_Answer], tokens: Mapping[str, int] | None = None
) -> Iterator[Battle]:
    """with_style one battle at a time (the counts are per answer; a big run's battles stream through)."""
    reported = tokens or {}
    # Zero tokens for a non-empty answer is no report (the replay and echo providers say 0).
    counts = {
        (a.contestant, a.question_id, a.turn): count_style(a.text, reported.get(a.key) or None)
        for a in answers
    }
    last_turn: dict[tuple[str, str], int] = {}
    for contestant, question_id, turn in counts:
        key = (contestant, question_id)
        last_turn[key] = max(last_turn.get(key, 0), turn)
    for battle in battles:
        sides = [_summed(counts, last_turn, model, battle) for model in (battle.model_a, battle.model_b)]
        a, b = sides
        if a is None or b is None:
            yield battle
            continue
        both_reported = a.tokens is not None and b.tokens is not None
        yield _styled(battle, a, b, tokens=both_reported)


def with_shown_style(battle: Battle, answer_a: Sequence[str], answer_b: Sequence[str]) -> Battle:
    """A battle with the style counts of the texts shown for each side (all turns up to the one voted on),
    lengths as words plus punctuation (no token counts travel with shown texts)."""
    a = sum((count_style(t) for t in answer_a[1:]), count_style(answer_a[0])) if answer_a else None
    b = sum((count_style(t) for t in answer_b[1:]), count_style(answer_b[0])) if answer_b else None
    if a is None or b is None:
        return battle
    return _styled(battle, a, b, tokens=False)


def _styled(battle: Battle, a: StyleCounts, b: StyleCounts, *, tokens: bool) -> Battle:
    """The battle with both sides' counts; lengths in reported tokens only when both sides have them."""
    return dataclasses.replace(
        battle,
        tokens_a=a.tokens if tokens else a.words,
        tokens_b=b.tokens if tokens else b.words,
        headers_a=a.headers,
        headers_b=b.headers,
        lists_a=a.lists,
        lists_b=b.lists,
        bold_a=a.bold,
        bold_b=b.bold,
    )


def _summed(
    counts: Mapping[tuple[str, str, int], StyleCounts],
    last_turn: Mapping[tuple[str, str], int],
    model: str,
    battle: Battle,
) -> StyleCounts | None:
    upto = battle.turn or last_turn.get((model, battle.question_id), 0)
    parts = [counts.get((model, battle.question_id, turn)) for turn in range(1, upto + 1)]
    if not parts or any(p is None for p in parts):
        return None
    total = parts[0]
    assert total is not None
    for part in parts[1:]:
        assert part is not None
        total = total + part
    return total
