"""Question sets: shipped sets load; custom JSONL/YAML sets are checked at file:line; filters are seeded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.config import QuestionsConfig, builtin_question_set
from judge.errors import ConfigError, InputError
from judge.questions import Question, categories, load_questions, select_questions


def test_mt_bench_ships_with_references():
    questions = load_questions(builtin_question_set("mt_bench"))
    assert len(questions) == 80 and all(len(q.turns) == 2 for q in questions)
    assert dict(categories(questions)) == {
        c: 10
        for c in ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
    }
    with_reference = {q.category for q in questions if q.reference is not None}
    assert with_reference == {"math", "reasoning", "coding"}
    assert sum(q.reference is not None for q in questions) == 30
    assert questions[0].question_id == "81"


def test_mt_bench_copy_matches_the_source(shared_data):
    """Questions unchanged; references are the hand-checked PR 3158 answers."""
    source = [
        json.loads(line) for line in (shared_data / "mt_bench" / "question.jsonl").read_text().splitlines()
    ]
    refs_file = shared_data / "mt_bench" / "reference_answer" / "gpt-4-0125-preview.PR3158.jsonl"
    refs = {
        r["question_id"]: r["choices"][0]["turns"]
        for r in map(json.loads, refs_file.read_text().splitlines())
    }
    ours = load_questions(builtin_question_set("mt_bench"))
    for q, s in zip(ours, source, strict=True):
        assert (q.question_id, q.category, list(q.turns)) == (
            str(s["question_id"]),
            s["category"],
            s["turns"],
        )
        assert q.reference == (tuple(refs[s["question_id"]]) if s["question_id"] in refs else None)


def test_demo_set_is_small_and_has_a_two_turn_question():
    questions = load_questions(builtin_question_set("demo"))
    assert 4 <= len(questions) <= 8 and len(categories(questions)) >= 3
    assert any(len(q.turns) == 2 for q in questions)


def test_yaml_list_and_single_text_turns(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text(
        "- {question_id: 7, turns: Say hi, reference: hi}\n- {question_id: x, category: c, turns: [a, b]}\n"
    )
    assert load_questions(path) == (
        Question("7", "general", ("Say hi",), ("hi",)),
        Question("x", "c", ("a", "b")),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question_id": 2, "turns": []}', "turns must be a non-empty list"),
        ('{"question_id": 2, "turns": ["a"], "answer": "b"}', "unknown field 'answer'"),
        ('{"turns": ["a"]}', "question_id must be"),
        ('{"question_id": 2, "turns": ["a", "b"], "reference": ["x"]}', "one per turn (2)"),
        ('{"question_id": 1, "turns": ["again"]}', "question_id 1 already used on line 1"),
        ('{"question_id": 2, "turns": ["a"]', "not valid JSON"),
        ("[1, 2]", "must be an object"),
    ],
)
def test_bad_jsonl_is_located(tmp_path, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question_id": 1, "turns": ["ok"]}\n\n' + line + "\n")
    with pytest.raises(InputError) as caught:
        load_questions(path)
    assert caught.value.line == 3 and caught.value.path == str(path) and message in caught.value.message


def test_bad_yaml_question_is_located(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text("questions:\n  - {question_id: 1, turns: [a]}\n  - {question_id: 2, turns: [3]}\n")
    with pytest.raises(InputError) as caught:
        load_questions(path)
    assert caught.value.line == 3 and "turns must be" in caught.value.message


def _spec(**kwargs) -> QuestionsConfig:
    return QuestionsConfig(path=Path("set.jsonl"), config_path=Path("t.yaml"), line=2, **kwargs)


QUESTIONS = tuple(Question(str(i), "math" if i % 2 else "code", ("q",)) for i in range(20))


def test_filters_apply_in_order_and_sample_is_seeded():
    assert [q.question_id for q in select_questions(QUESTIONS, _spec(categories=("math",), limit=3), 0)] == [
        "1",
        "3",
        "5",
    ]
    assert [q.question_id for q in select_questions(QUESTIONS, _spec(ids=("4", "2")), 0)] == ["2", "4"]
    one = select_questions(QUESTIONS, _spec(sample=5), seed=1)
    assert one == select_questions(QUESTIONS, _spec(sample=5), seed=1) and len(one) == 5
    assert one != select_questions(QUESTIONS, _spec(sample=5), seed=2)
    assert list(one) == sorted(one, key=QUESTIONS.index)  # file order kept


def test_unknown_category_points_at_the_config():
    with pytest.raises(ConfigError) as caught:
        select_questions(QUESTIONS, _spec(categories=("poetry",)), 0)
    assert caught.value.field == "questions.categories" and caught.value.line == 2
    assert "'poetry' is not in set.jsonl" in caught.value.message and "code, math" in (
        caught.value.hint or ""
    )
