"""What a finished arena battle becomes: a store row, a battle-log line, a Chatbot Arena clean_battle record.

Pure functions over judge.store.StoredArenaBattle; the files they feed are written by judge.arena.engine.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from judge.battles import Battle
from judge.store import StoredArenaBattle

ARENA_FILE: Final = "arena_battles.jsonl"
CLEAN_BATTLE_FILE: Final = "arena_clean_battle.json"
DEFAULT_CATEGORY: Final = "user"
CHOICES: Final = ("a", "b", "tie", "bothbad")

_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)


@dataclass(frozen=True)
class Turn:
    """One prompt and both replies, keyed by the canonical model_a / model_b."""

    user: str
    model_a: str
    model_b: str


def question_id(prompt: str) -> str:
    """The same id for the same first prompt (case and spacing aside), so repeated prompts cluster."""
    normal = " ".join(prompt.split()).casefold()
    return "p1:" + hashlib.sha256(normal.encode()).hexdigest()[:16]


def categorize(prompt: str, categories: Mapping[str, re.Pattern[str]]) -> str:
    """The first configured category whose pattern matches the prompt, else "user"."""
    return next((name for name, pattern in categories.items() if pattern.search(prompt)), DEFAULT_CATEGORY)


def canonical_winner(choice: str, shown_a: str, model_a: str) -> str:
    """The battle-log winner for a click on the page, where the left pane showed `shown_a`."""
    if choice == "tie":
        return "tie"
    if choice == "bothbad":
        return "tie (bothbad)"
    return "model_a" if (choice == "a") == (shown_a == model_a) else "model_b"


def conversation_json(turns: Sequence[Turn]) -> str:
    return json.dumps([t.__dict__ for t in turns], ensure_ascii=False)


def turns_of(battle: StoredArenaBattle) -> list[Turn]:
    return [Turn(**t) for t in json.loads(battle.conversation)]


def log_battle(battle: StoredArenaBattle) -> Battle:
    """A voted battle as a row of the generic battle log (source human, judge human:<voter>)."""
    if battle.winner is None:
        raise ValueError(f"battle {battle.battle_id} has no vote")
    return Battle(
        question_id=battle.question_id,
        model_a=battle.model_a,
        model_b=battle.model_b,
        winner=battle.winner,
        judge=f"human:{battle.voter}",
        source="human",
        category=battle.category,
        language=battle.language,
        turn=battle.turns,
        tstamp=battle.tstamp,
    )


def clean_battle(battle: StoredArenaBattle) -> dict[str, Any]:
    """The record in Chatbot Arena's clean_battle shape (anony true: names were hidden until the vote).

    conv_metadata counts words (not model tokens: the arena does not tokenise) and markdown elements, as
    Arena's style-control analyses read them.
    """
    record = log_battle(battle)
    turns = turns_of(battle)

    def words(texts: Sequence[str]) -> int:
        return sum(len(t.split()) for t in texts)

    a_texts, b_texts = [t.model_a for t in turns], [t.model_b for t in turns]
    user_words = words([t.user for t in turns])
    all_text = "\n".join([*a_texts, *b_texts, *(t.user for t in turns)])
    return {
        "question_id": record.question_id,
        "model_a": record.model_a,
        "model_b": record.model_b,
        "winner": record.winner,
        "judge": record.judge,
        "turn": record.turn,
        "anony": True,
        "language": record.language,
        "tstamp": record.tstamp,
        "category": record.category,
        "conv_metadata": {
            "turns": len(turns),
            "sum_user_tokens": user_words,
            "sum_assistant_a_tokens": words(a_texts),
            "sum_assistant_b_tokens": words(b_texts),
            "context_a_tokens": user_words + words(a_texts[:-1]),
            "context_b_tokens": user_words + words(b_texts[:-1]),
            **_markdown("a", a_texts),
            **_markdown("b", b_texts),
        },
        "is_code": "```" in all_text,
        "dedup_tag": {"high_freq": False, "sampled": True},
    }


def _markdown(side: str, texts: Sequence[str]) -> dict[str, dict[str, int]]:
    joined = "\n".join(texts)
    return {
        f"header_count_{side}": _counts(_HEADER, joined),
        f"list_count_{side}": {
            "ordered": len(_ORDERED.findall(joined)),
            "unordered": len(_UNORDERED.findall(joined)),
        },
        f"bold_count_{side}": {"**": joined.count("**") // 2, "__": joined.count("__") // 2},
    }


def _counts(pattern: re.Pattern[str], text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in pattern.finditer(text):
        level = f"h{match.group(0).count('#')}"
        counts[level] = counts.get(level, 0) + 1
    return counts
