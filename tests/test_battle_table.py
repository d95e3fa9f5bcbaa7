"""The compact battle table: the same battles back, field for field, in a few dozen bytes each."""

from __future__ import annotations

import random
from dataclasses import replace

import pandas as pd

from judge import api
from judge.battle_table import BattleTable
from judge.battles import Battle, FileCounts, load_battles
from judge.judging import KeySet
from judge.report import outputs
from judge.verdicts import Judgement, Preference, VerdictTally, verdict_stats


def battles(n: int, seed: int = 0) -> list[Battle]:
    rng = random.Random(seed)
    names = [f"m{i}" for i in range(6)]
    out = []
    for k in range(n):
        a, b = sorted(rng.sample(names, 2))
        out.append(
            Battle(
                f"q{k // 7}",
                a,
                b,
                rng.choice(["model_a", "model_b", "tie", "tie (bothbad)"]),
                judge="j",
                source="judge",
                category=rng.choice(["writing", "math", None]),
                turn=rng.choice([1, 2]),
                tstamp=None if k % 5 == 0 else 1.7e9 + k / 7,
                first_shown=rng.choice([None, a, b]),
                verdict_ab=rng.choice(["A>B", "B>>A", None]),
                verdict_ba="A=B",
                tokens_a=rng.randint(1, 400) if k % 3 else None,
                tokens_b=rng.randint(1, 400) if k % 3 else None,
            )
        )
    return out


def test_round_trip_field_for_field_and_widens_past_256_values() -> None:
    given = battles(3000)  # 429 question ids and ~400 token counts: codes widen from bytes
    table = BattleTable(given)
    assert len(table) == 3000 and list(table) == given and table == given
    assert table[5] == given[5] and table[-1] == given[-1]


def test_views_share_storage_like_a_persistent_list() -> None:
    given = battles(50)
    first = BattleTable(given[:20])
    second = first.plus(given[20:30])
    third = second.plus(given[30:40])
    assert list(first) == given[:20] and list(second) == given[:30] and list(third) == given[:40]
    branch = second.plus(given[40:])  # an older view: copied, the newer one is untouched
    assert list(branch) == given[:30] + given[40:] and list(third) == given[:40]


def test_frame_is_what_the_written_log_loads_to(tmp_path) -> None:
    table = BattleTable(battles(400))
    path = outputs.write_battles(tmp_path, table)
    loaded = load_battles(path, format="generic").frame
    frame = table.frame()
    assert list(frame.columns) == list(loaded.columns)
    for column in frame.columns:
        pd.testing.assert_series_equal(
            frame[column].astype(loaded[column].dtype), loaded[column], check_names=False
        )


def test_rating_the_table_equals_rating_its_file(tmp_path) -> None:
    given = [b if b.tokens_a else replace(b, tokens_a=5, tokens_b=9) for b in battles(600, seed=3)]
    table = BattleTable(given)
    path = outputs.write_battles(tmp_path, table)
    read = (FileCounts(path=str(path), format="generic", rows_read=len(table), excluded={}),)
    for options in ({}, {"by": "category"}, {"style": ("length",)}):
        from_file = api.rate(path, format="generic", bootstrap=20, seed=1, **options)
        from_table = api.rate_frame(table.frame(), files=read, bootstrap=20, seed=1, **options)
        assert api.rate_json(from_file) == api.rate_json(from_table)


def test_winners_lookup_distinct_and_counts() -> None:
    given = battles(500, seed=1)
    table = BattleTable(given)
    winners = table.winners()
    expected = {(b.question_id, b.model_a, b.model_b, b.turn): b.winner for b in given}  # last one wins
    assert all(winners.get(slot) == winner for slot, winner in expected.items())
    assert winners.get(("nope", "m0", "m1", 1)) is None and winners.get(("q0", "m0", "m1", 9)) is None
    assert table.distinct("model_a") | table.distinct("model_b") == {"m0", "m1", "m2", "m3", "m4", "m5"}
    assert table.count_in("winner", ("tie", "tie (bothbad)")) == sum(
        b.winner.startswith("tie") for b in given
    )


def test_key_set_holds_keys_as_64_bit_numbers() -> None:
    keys = KeySet(f"j1:{i:016x}{'0' * 48}" for i in range(0, 10**6, 997))
    assert f"j1:{997 * 3:016x}{'0' * 48}" in keys and f"j1:{998:016x}{'0' * 48}" not in keys
    assert "j1:not-hex" not in keys
    keys.add("j1:not-hex")
    assert "j1:not-hex" in keys


def test_verdict_tally_adds_up_to_verdict_stats() -> None:
    from judge.pairings import Pair

    rng = random.Random(2)
    prefs = [*Preference, None]
    rows = [
        Judgement(Pair(f"q{i}", "a", "b"), 1, order, rng.choice(prefs))
        for i in range(200)
        for order in ("ab", "ba")
    ]
    tally = VerdictTally()
    for start in range(0, len(rows), 10):  # whole items at a time, as the judging stage adds them
        tally.add(rows[start : start + 10])
    assert tally.stats() == verdict_stats(rows)
