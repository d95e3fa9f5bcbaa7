"""Pairing schedules: counts, canonical order, seeded determinism, stability when a contestant joins."""

from __future__ import annotations

from itertools import combinations

import pytest

from judge.errors import InputError
from judge.pairings import (
    SCHEDULES,
    Baseline,
    Pair,
    RoundRobin,
    ScheduleState,
    make_pair,
    make_schedule,
)

MODELS = ("vicuna-13b", "gpt-4", "alpaca-13b", "claude-v1")
QUESTIONS = tuple(str(q) for q in range(81, 161))  # the MT-Bench ids


def _state(models=MODELS, questions=QUESTIONS, scheduled=frozenset()) -> ScheduleState:
    return ScheduleState(
        contestants=tuple(models), questions=tuple(questions), scheduled=frozenset(scheduled)
    )


def _by_pair(pairs: list[Pair]) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for p in pairs:
        out.setdefault((p.model_a, p.model_b), []).append(p.question_id)
    return out


def test_pair_is_canonical() -> None:
    assert make_pair("1", "zeta", "alpha") == make_pair("1", "alpha", "zeta") == Pair("1", "alpha", "zeta")
    with pytest.raises(ValueError, match="canonical"):
        Pair("1", "zeta", "alpha")
    with pytest.raises(ValueError, match="itself"):
        make_pair("1", "same", "same")


def test_round_robin_all_questions() -> None:
    batch = RoundRobin().next_batch(_state())
    assert len(batch) == 6 * 80 and len(set(batch)) == len(batch)
    assert set(_by_pair(batch)) == {tuple(sorted(c)) for c in combinations(MODELS, 2)}
    assert all(p.model_a < p.model_b for p in batch)
    # Ordered by question (set order) then names, so a partial run covers every pair on the first questions.
    assert [p.question_id for p in batch[:6]] == ["81"] * 6
    assert batch == sorted(batch, key=lambda p: (QUESTIONS.index(p.question_id), p.model_a, p.model_b))


def test_one_shot_kinds_finish_after_one_batch() -> None:
    for schedule in (RoundRobin(), RoundRobin(questions_per_pair=5), Baseline("gpt-4")):
        first = schedule.next_batch(_state())
        assert first
        assert schedule.next_batch(_state(scheduled=first)) == []
        # Resuming with part of the plan handed out returns exactly the rest, in the same order.
        assert schedule.next_batch(_state(scheduled=first[:7])) == first[7:]


def test_questions_per_pair_counts_and_determinism() -> None:
    batch = RoundRobin(questions_per_pair=10, seed=3).next_batch(_state())
    per_pair = _by_pair(batch)
    assert len(per_pair) == 6 and all(len(qs) == 10 and len(set(qs)) == 10 for qs in per_pair.values())
    assert len({tuple(qs) for qs in per_pair.values()}) > 1  # pairs get different samples
    assert RoundRobin(questions_per_pair=10, seed=3).next_batch(_state()) == batch
    assert RoundRobin(questions_per_pair=10, seed=4).next_batch(_state()) != batch
    # Contestant order in the config does not matter.
    assert RoundRobin(questions_per_pair=10, seed=3).next_batch(_state(models=MODELS[::-1])) == batch


def test_sample_is_spread_over_questions() -> None:
    many = [f"m{i:02d}" for i in range(30)]
    batch = RoundRobin(questions_per_pair=8, seed=0).next_batch(_state(models=many))
    counts = {q: 0 for q in QUESTIONS}
    for p in batch:
        counts[p.question_id] += 1
    expected = 435 * 8 / 80  # 43.5 uses per question
    assert min(counts.values()) > expected / 3 and max(counts.values()) < expected * 2


def test_adding_a_contestant_keeps_existing_samples() -> None:
    schedule = RoundRobin(questions_per_pair=7, seed=11)
    before = _by_pair(schedule.next_batch(_state()))
    after = _by_pair(schedule.next_batch(_state(models=MODELS + ("llama-13b",))))
    for key, questions in before.items():
        assert after[key] == questions
    new = set(after) - set(before)
    assert new == {tuple(sorted((m, "llama-13b"))) for m in MODELS}
    assert all(len(after[k]) == 7 for k in new)
    # Judged pairs are not handed out again: only the new contestant's pairs remain.
    done = frozenset(schedule.next_batch(_state()))
    rest = schedule.next_batch(_state(models=MODELS + ("llama-13b",), scheduled=done))
    assert {(p.model_a, p.model_b) for p in rest} == new and len(rest) == 4 * 7


def test_questions_per_pair_larger_than_the_set_takes_all() -> None:
    batch = RoundRobin(questions_per_pair=500).next_batch(_state())
    assert len(batch) == 6 * 80


def test_baseline() -> None:
    batch = Baseline("gpt-4").next_batch(_state())
    assert len(batch) == 3 * 80
    assert all("gpt-4" in (p.model_a, p.model_b) for p in batch)
    assert {p.model_a if p.model_b == "gpt-4" else p.model_b for p in batch} == set(MODELS) - {"gpt-4"}
    sampled = Baseline("gpt-4", questions_per_pair=4, seed=1).next_batch(_state())
    assert all(len(qs) == 4 for qs in _by_pair(sampled).values()) and len(sampled) == 12
    # Same pair, same seed: the same sample as round-robin would pick.
    rr = _by_pair(RoundRobin(questions_per_pair=4, seed=1).next_batch(_state()))
    assert all(rr[k] == v for k, v in _by_pair(sampled).items())


def test_baseline_must_be_a_contestant() -> None:
    with pytest.raises(InputError, match="baseline 'gpt-5' is not a contestant"):
        Baseline("gpt-5").next_batch(_state())


def test_fewer_than_two_contestants_means_nothing_to_do() -> None:
    assert RoundRobin().next_batch(_state(models=("solo",))) == []
    assert RoundRobin().next_batch(_state(questions=())) == []


def test_state_rejects_duplicates() -> None:
    with pytest.raises(InputError, match="duplicate contestant 'gpt-4'"):
        _state(models=("gpt-4", "gpt-4"))
    with pytest.raises(InputError, match="duplicate question id '81'"):
        _state(questions=("81", "81"))


def test_registry() -> None:
    assert {"round-robin", "baseline"} <= set(SCHEDULES)  # later kinds (Swiss, adaptive) plug in beside them
    assert make_schedule("round-robin", questions_per_pair=3, seed=2) == RoundRobin(3, 2)
    assert make_schedule("baseline", baseline="gpt-4") == Baseline("gpt-4")
    with pytest.raises(InputError, match="unknown pairing 'knockout'.*known: .*baseline.*round-robin"):
        make_schedule("knockout")
    with pytest.raises(InputError, match="bad options"):
        make_schedule("round-robin", rounds=3)
    with pytest.raises(InputError, match="bad options"):
        make_schedule("baseline")
    for bad in (0, -1, True):
        with pytest.raises(InputError, match="questions_per_pair"):
            make_schedule("round-robin", questions_per_pair=bad)
    with pytest.raises(TypeError):
        SCHEDULES["knockout"] = RoundRobin  # type: ignore[index]  # the registry is read-only
