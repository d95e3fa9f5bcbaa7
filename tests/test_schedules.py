"""Swiss, adaptive, head-to-head, placement and budget schedules, driven as the tournament loop does."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from judge.battles import Battle
from judge.errors import InputError
from judge.pairings import SCHEDULES, Pair, ScheduleState, make_pair, make_schedule
from judge.pairings.adaptive import Adaptive
from judge.pairings.placement import Placement, next_opponent
from judge.pairings.sequential import HeadToHead, confidence_sequence
from judge.pairings.state import Budget, FittedRatings, advance, innermost, tally, with_costs
from judge.pairings.swiss import Swiss

ELO = 400 / math.log(10)


def _judge(true: dict[str, float], rng: np.random.Generator, bias: float = 0.0):
    """Single-order verdicts from Bradley-Terry with ties and a first-position bonus (in Elo)."""

    def run(batch: list[Pair]) -> list[Battle]:
        out = []
        for p in batch:
            first = p.first or p.model_a
            second = p.model_b if first == p.model_a else p.model_a
            d = (true[first] + bias - true[second]) / ELO
            w, l_, t = math.exp(d / 2), math.exp(-d / 2), 0.5
            u = rng.random() * (w + l_ + t)
            won = first if u < w else second if u < w + l_ else None
            winner = "tie" if won is None else "model_a" if won == p.model_a else "model_b"
            out.append(Battle(p.question_id, p.model_a, p.model_b, winner))
        return out

    return run


def _play(schedule, state: ScheduleState, judge, max_batches: int = 10_000) -> ScheduleState:
    for _ in range(max_batches):
        batch = schedule.next_batch(state)
        if not batch:
            break
        state = advance(state, batch, judge(batch))
    return state


def _questions(k: int) -> tuple[str, ...]:
    return tuple(f"q{i}" for i in range(k))


def test_advance_refits_and_keeps_caches_consistent() -> None:
    state = ScheduleState(("a", "b", "c"), _questions(3))
    batch = [make_pair("q0", "a", "b"), make_pair("q0", "b", "c")]
    battles = [Battle("q0", "a", "b", "model_a"), Battle("q0", "b", "c", "tie")]
    after = advance(state, batch, battles)
    assert after.scheduled == frozenset(batch) and after.battles == tuple(battles)
    assert isinstance(after.ratings, FittedRatings) and after.ratings["a"] > after.ratings["b"]
    again = advance(after, [make_pair("q1", "a", "c")], [])  # a failed judgment: scheduled, no battle
    assert len(again.scheduled) == 3 and len(again.battles) == 2
    # The kept tally equals a fresh count of the same state.
    fresh = ScheduleState(again.contestants, again.questions, again.scheduled, again.battles)
    assert tally(fresh) == tally(again)


def test_pair_first_is_not_identity() -> None:
    pinned = Pair("1", "a", "b", first="b")
    assert pinned == Pair("1", "a", "b") and hash(pinned) == hash(Pair("1", "a", "b"))
    with pytest.raises(ValueError, match="first must be one of the pair"):
        Pair("1", "a", "b", first="c")


def test_swiss_pairs_close_ratings_without_repeats_and_balances_positions() -> None:
    names = tuple(f"m{i}" for i in range(8))
    true = {c: 100.0 * i for i, c in enumerate(names)}  # far apart: the order is soon clear
    state = ScheduleState(names, _questions(40))
    swiss = Swiss(rounds=12, questions_per_pairing=2)
    state = _play(swiss, state, _judge(true, np.random.default_rng(1)))
    assert len(state.scheduled) == 12 * 4 * 2
    # No (pair, question) twice: the frozenset would hide it, so count what the battles record.
    assert len({(b.question_id, b.model_a, b.model_b) for b in state.battles}) == len(state.battles)
    # Late rounds pair neighbours: most meetings are between models at most 2 places apart.
    gaps = Counter(abs(int(p.model_a[1:]) - int(p.model_b[1:])) for p in state.scheduled)
    assert (gaps[1] + gaps[2]) / sum(gaps.values()) > 0.6
    shown_first = Counter(p.first for p in state.scheduled)
    shown = Counter(name for p in state.scheduled for name in (p.model_a, p.model_b))
    for name in names:
        assert abs(2 * shown_first[name] - shown[name]) <= 2


def test_swiss_byes_rotate_for_odd_counts() -> None:
    names = ("a", "b", "c", "d", "e")
    state = ScheduleState(names, _questions(20))
    true = dict(zip(names, (0.0, 50.0, 100.0, 150.0, 200.0), strict=True))
    state = _play(Swiss(rounds=5), state, _judge(true, np.random.default_rng(2)))
    played = tally(state).pairs_of
    assert len(state.scheduled) == 5 * 2  # two pairings a round, one sits out
    assert max(played.values()) - min(played.values()) <= 2  # byes went round


def test_adaptive_concentrates_on_uncertain_and_top_pairs() -> None:
    names = tuple(f"m{i}" for i in range(6))
    # m0 and m1 are close at the top; the rest are far below and already well measured.
    true = {"m0": 300.0, "m1": 290.0, "m2": 0.0, "m3": -100.0, "m4": -200.0, "m5": -300.0}
    state = ScheduleState(names, _questions(200))
    state = _play(
        make_schedule("round-robin", questions_per_pair=10), state, _judge(true, np.random.default_rng(3))
    )
    batch = Adaptive(focus="top-1", explore=0.0, batch_size=30).next_batch(state)
    assert sum({p.model_a, p.model_b} == {"m0", "m1"} for p in batch) >= 15
    everywhere = Adaptive(focus="all", explore=0.0, batch_size=30).next_batch(state)
    assert len({(p.model_a, p.model_b) for p in everywhere}) > len({(p.model_a, p.model_b) for p in batch})
    assert not {(p.question_id, p.model_a, p.model_b) for p in batch} & {
        (p.question_id, p.model_a, p.model_b) for p in state.scheduled
    }


def test_head_to_head_stops_early_on_a_clear_difference() -> None:
    true = {"cand": -200.0, "prod": 0.0}
    state = ScheduleState(("cand", "prod"), _questions(1000))
    h2h = HeadToHead(candidate="cand", baseline="prod")
    state = _play(h2h, state, _judge(true, np.random.default_rng(4), bias=50.0))
    result = h2h.result(state)
    assert result.decision == "worse"
    assert result.pairs_scheduled < 200
    firsts = Counter(p.first for p in state.scheduled)
    assert abs(firsts["cand"] - firsts["prod"]) <= 1


def test_head_to_head_false_alarms_stay_rare() -> None:
    """Equal models, 40 seeded runs of up to 400 battles each: 'worse' must stay near alpha (0.05)."""
    alarms = 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        state = ScheduleState(("cand", "prod"), _questions(400))
        h2h = HeadToHead(candidate="cand", baseline="prod", batch=20, seed=seed)
        judge = _judge({"cand": 0.0, "prod": 0.0}, rng, bias=50.0)
        while batch := h2h.next_batch(state):  # no refit needed: the test reads only battles
            state = ScheduleState(
                state.contestants,
                state.questions,
                state.scheduled | set(batch),
                state.battles + tuple(judge(batch)),
            )
        alarms += h2h.result(state).decision == "worse"
    assert alarms <= 3


def test_confidence_sequence_exact_is_wider_and_margin_gives_no_difference() -> None:
    scores = [1.0, 0.0, 0.5] * 200
    loose = confidence_sequence(scores, alpha=0.05, horizon=500, exact=True)
    tight = confidence_sequence(scores, alpha=0.05, horizon=500)
    assert loose.low < tight.low < 0.5 < tight.high < loose.high
    state = ScheduleState(("c", "p"), _questions(600))
    battles = tuple(Battle(f"q{i}", "c", "p", "tie") for i in range(600))
    state = ScheduleState(state.contestants, state.questions, frozenset(), battles)
    assert HeadToHead(candidate="c", baseline="p", margin=0.1).result(state).decision == "no-difference"


def test_placement_uses_log_n_opponents() -> None:
    names = tuple(f"m{i:02d}" for i in range(32))
    true = {c: -40.0 * i for i, c in enumerate(names)}
    true["new"] = true["m20"] + 20  # belongs between m19 and m20
    rng = np.random.default_rng(5)
    state = ScheduleState(names, _questions(30))
    state = _play(make_schedule("round-robin", questions_per_pair=6), state, _judge(true, rng))
    state = ScheduleState((*names, "new"), state.questions, state.scheduled, state.battles, state.ratings)
    placer = make_schedule("round-robin", questions_per_pair=6, place_new=True)
    assert isinstance(placer, Placement) and placer.newcomers(state) == ["new"]
    state = _play(placer, state, _judge(true, rng))
    opponents = {
        p.model_a if p.model_b == "new" else p.model_b
        for p in state.scheduled
        if "new" in (p.model_a, p.model_b)
    }
    assert len(opponents) <= math.ceil(math.log2(33))
    ranked = sorted(state.ratings, key=lambda c: -state.ratings[c])
    assert abs(ranked.index("new") - 20) <= 3
    assert next_opponent("new", sorted(names, key=lambda c: -true[c]), state) is None


def test_budget_caps_calls() -> None:
    state = ScheduleState(tuple("abcd"), _questions(10))
    capped = make_schedule("round-robin", budget={"judge_calls": 25})
    assert isinstance(capped, Budget)
    assert len(capped.next_batch(state)) == 12  # 2 calls per pair (both orders) by default
    single = with_costs(capped, calls_per_pair=1)
    batch = single.next_batch(state)
    assert len(batch) == 25
    state = advance(state, batch, [])
    assert single.next_batch(state) == []
    priced = with_costs(make_schedule("swiss", budget={"usd": 0.1}), calls_per_pair=1, usd_per_call=0.01)
    assert len(priced.next_batch(ScheduleState(tuple("abcd"), _questions(10)))) <= 10
    wrapped = make_schedule(
        "head-to-head", candidate="a", baseline="b", budget={"judge_calls": 9}, place_new=True
    )
    assert isinstance(innermost(wrapped), HeadToHead)
    with pytest.raises(InputError, match="usd needs the judge's prices"):
        make_schedule("swiss", budget={"usd": 0.1}).next_batch(ScheduleState(tuple("abcd"), _questions(10)))


def test_registry_and_bad_options() -> None:
    assert {"swiss", "adaptive", "head-to-head"} <= set(SCHEDULES)
    assert make_schedule("swiss", rounds=3, questions_per_pairing=2) == Swiss(3, 2)
    bad = [
        ("swiss", {"rounds": 0}, "rounds must be a positive integer"),
        ("swiss", {"questions_per_pairing": True}, "questions_per_pairing"),
        ("swiss", {"round": 3}, "bad options"),
        ("adaptive", {"focus": "top-0"}, "focus must be"),
        ("adaptive", {"explore": 1.5}, "explore must be"),
        ("head-to-head", {"candidate": "a", "baseline": "a"}, "both 'a'"),
        ("head-to-head", {"candidate": "a", "baseline": "b", "alpha": 0}, "alpha out of range"),
        ("head-to-head", {"baseline": "b"}, "bad options"),
        ("round-robin", {"budget": {"calls": 3}}, "unknown key"),
        ("round-robin", {"budget": {"judge_calls": -3}}, "judge_calls must be"),
        ("round-robin", {"budget": 100}, "budget must be a mapping"),
        ("round-robin", {"place_new": "yes"}, "place_new must be"),
    ]
    for kind, options, message in bad:
        with pytest.raises(InputError, match=message):
            make_schedule(kind, **options)
    with pytest.raises(InputError, match="'x' is not a contestant"):
        HeadToHead(candidate="x", baseline="a").next_batch(ScheduleState(("a", "b"), ("1",)))
