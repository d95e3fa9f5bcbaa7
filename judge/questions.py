"""Question sets: MT-Bench style JSONL or YAML -> Question, filtered by category, id, seeded sample, limit.

YAML sets are read with judge._yaml, which keeps line numbers, so mistakes are reported at file:line.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judge._jsonl import read_json_lines
from judge._yaml import load_yaml
from judge.errors import ConfigError, InputError

if TYPE_CHECKING:
    from judge.config import QuestionsConfig


@dataclass(frozen=True)
class Question:
    """One question of one or more turns; `reference` holds a reference answer per turn where known."""

    question_id: str
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None


_FIELDS = ("question_id", "category", "turns", "reference")


def load_questions(path: str | Path) -> tuple[Question, ...]:
    """Read a question set (.jsonl, or .yaml/.yml holding a list or {questions: [...]})."""
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        doc = load_yaml(path)
        items = doc.value.get("questions") if isinstance(doc.value, dict) else doc.value
        prefix = "questions" if isinstance(doc.value, dict) else ""
        if not isinstance(items, list) or not items:
            raise InputError(
                "expected a non-empty list of questions (or questions: [...])", path=path, line=1
            )
        rows = [(doc.lines.get(f"{prefix}[{i}]", 1), item) for i, item in enumerate(items)]
    else:
        rows = list(read_json_lines(path))
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line, item in rows:
        question = _question(item, path, line)
        if question.question_id in seen:
            where = f"already used on line {seen[question.question_id]}"
            raise InputError(f"question_id {question.question_id} {where}", path=path, line=line)
        seen[question.question_id] = line
        questions.append(question)
    if not questions:
        raise InputError("no questions in file", path=path)
    return tuple(questions)


def _question(item: Any, path: Path, line: int) -> Question:
    def bad(message: str, hint: str | None = None) -> InputError:
        return InputError(message, path=path, line=line, hint=hint)

    if not isinstance(item, dict):
        raise bad("a question must be an object with question_id, category and turns")
    unknown = [k for k in item if k not in _FIELDS]
    if unknown:
        raise bad(f"unknown field '{unknown[0]}'", f"known fields: {', '.join(_FIELDS)}")
    qid = item.get("question_id")
    if isinstance(qid, bool) or not isinstance(qid, int | str) or str(qid).strip() == "":
        raise bad("question_id must be a number or non-empty text")
    category = item.get("category", "general")
    if not isinstance(category, str) or not category.strip():
        raise bad(f"question {qid}: category must be non-empty text")
    turns = _texts(item.get("turns"))
    if not turns or any(not t.strip() for t in turns):
        raise bad(f"question {qid}: turns must be a non-empty list of non-empty texts")
    reference = None
    if item.get("reference") is not None:
        reference = _texts(item["reference"])
        if reference is None or len(reference) != len(turns):
            raise bad(f"question {qid}: reference must be a list of texts, one per turn ({len(turns)})")
    return Question(str(qid).strip(), category.strip(), turns, reference)


def _texts(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def select_questions(questions: Sequence[Question], spec: QuestionsConfig, seed: int) -> tuple[Question, ...]:
    """Apply ids, categories, a seeded sample (kept in file order) and limit, in that order."""

    def bad(field: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            message, path=spec.config_path, line=spec.line, field=f"questions.{field}", hint=hint
        )

    chosen = list(questions)
    if spec.ids is not None:
        known = {q.question_id for q in chosen}
        missing = [i for i in spec.ids if i not in known]
        if missing:
            raise bad("ids", f"question {missing[0]} is not in {spec.path.name}")
        wanted = set(spec.ids)
        chosen = [q for q in chosen if q.question_id in wanted]
    if spec.categories is not None:
        known = {q.category for q in chosen}
        missing = [c for c in spec.categories if c not in known]
        if missing:
            raise bad(
                "categories",
                f"category '{missing[0]}' is not in {spec.path.name}",
                f"known: {', '.join(sorted(known))}",
            )
        wanted = set(spec.categories)
        chosen = [q for q in chosen if q.category in wanted]
    if spec.sample is not None and spec.sample < len(chosen):
        picked = set(random.Random(seed).sample(range(len(chosen)), spec.sample))
        chosen = [q for i, q in enumerate(chosen) if i in picked]
    if spec.limit is not None:
        chosen = chosen[: spec.limit]
    if spec.turns is not None:
        chosen = [_first_turns(q, spec.turns) for q in chosen]
    return tuple(chosen)


def _first_turns(question: Question, turns: int) -> Question:
    reference = None if question.reference is None else question.reference[:turns]
    return dataclasses.replace(question, turns=question.turns[:turns], reference=reference)


def categories(questions: Sequence[Question]) -> Mapping[str, int]:
    """Question count per category, in first-seen order."""
    counts: dict[str, int] = {}
    for q in questions:
        counts[q.category] = counts.get(q.category, 0) + 1
    return counts
