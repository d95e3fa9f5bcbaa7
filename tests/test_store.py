"""The results store on real SQLite files: WAL, foreign keys, one row per key, failures and calls apart."""

from __future__ import annotations

import sqlite3

import pytest

from judge.store import Call, Failure, Store, StoredAnswer, db_path


@pytest.fixture
def store(tmp_path):
    with Store.open(db_path(tmp_path / "results", "t")) as s:
        yield s


def test_layout_wal_and_foreign_keys(tmp_path, store):
    assert store.path == str(tmp_path / "results" / "t" / "judge.sqlite")
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        store.save_answer(999, StoredAnswer("k", "a", "1", 1, "x"))


def test_one_answer_per_key(store):
    run = store.start_run("answers", "t")
    answer = StoredAnswer("a1:k", "smol", "81", 1, "hello", "served")
    assert store.save_answer(run, answer, [Call("a1:k", 1, True, 0.5, None, 3, 4, 0.001)])
    assert not store.save_answer(run, StoredAnswer("a1:k", "smol", "81", 1, "different"))
    assert store.answers() == [answer]
    assert store.get_answer("a1:k") == answer and store.get_answer("a1:other") is None


def test_each_write_is_visible_to_another_connection_at_once(store):
    run = store.start_run("answers", "t")
    store.save_answer(run, StoredAnswer("a1:k", "smol", "81", 1, "hello"))
    with Store.open(store.path) as other:
        assert [a.key for a in other.answers()] == ["a1:k"]


def test_failures_are_not_answers_and_calls_add_up(store):
    run = store.start_run("answers", "t")
    failure = Failure("answers", "a1:f", "smol", "81", 1, "transient", "HTTP 500", 2)
    calls = [Call("a1:f", 1, False, 0.1, "transient"), Call("a1:f", 2, False, 0.2, "transient")]
    store.save_failure(run, failure, calls)
    store.save_answer(
        run, StoredAnswer("a1:k", "smol", "82", 1, "ok"), [Call("a1:k", 1, True, 1.0, None, 10, 5)]
    )
    assert store.failures(run) == [failure] and store.answers()[0].key == "a1:k"
    assert store.calls(run) == [*calls, Call("a1:k", 1, True, 1.0, None, 10, 5)]
    totals = store.call_totals(run)
    assert (totals.calls, totals.input_tokens, totals.output_tokens, totals.cost_usd) == (3, 10, 5, None)


def test_runs_record_status_and_summary(store):
    run = store.start_run("answers", "t", "/x/t.yaml")
    assert store.runs()[0].status == "running"
    store.finish_run(run, "finished", {"asked": 3})
    (row,) = store.runs()
    assert row.status == "finished" and row.summary == {"asked": 3} and row.finished_at is not None


def test_a_failed_write_rolls_back(store):
    run = store.start_run("answers", "t")
    bad = [Call("a1:k", 0, True, 0.1)]  # attempt must be >= 1: the whole transaction is refused
    with pytest.raises(sqlite3.IntegrityError):
        store.save_answer(run, StoredAnswer("a1:k", "smol", "81", 1, "hello"), bad)
    assert store.answers() == [] and store.calls() == []
