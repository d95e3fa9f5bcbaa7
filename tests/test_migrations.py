"""Migrations: contiguous numbers, every start reaches the same schema, newer databases are refused."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest

import judge.store
from judge.errors import StoreError
from judge.migrations import MIGRATIONS, SCHEMA_VERSION, Migration
from judge.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_numbers_are_unique_contiguous_and_ordered():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert all(m.summary for m in MIGRATIONS)


def test_from_empty(tmp_path):
    with Store.open(tmp_path / "r" / "judge.sqlite") as store:
        assert store.schema_version() == SCHEMA_VERSION
        tables = {name for kind, name, _ in store.schema() if kind == "table"}
    assert {"runs", "calls", "answers", "failures"} <= tables


@pytest.mark.parametrize("start", range(len(MIGRATIONS)))
def test_from_each_earlier_version_reaches_the_same_schema(tmp_path, start):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    for step in MIGRATIONS[:start]:
        step.apply(db)
    db.execute(f"PRAGMA user_version = {MIGRATIONS[start - 1].version if start else 0}")
    db.commit()
    db.close()
    with Store.open(path) as old, Store.open(":memory:") as fresh:
        assert old.schema_version() == SCHEMA_VERSION
        assert old.schema() == fresh.schema()


def test_reopening_applies_nothing(tmp_path):
    path = tmp_path / "judge.sqlite"
    with Store.open(path) as store:
        run = store.start_run("answers", "t")
    with Store.open(path) as store:
        assert [r.run_id for r in store.runs()] == [run]


def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "judge.sqlite"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert caught.value.exit_code == 4
    assert f"schema version {SCHEMA_VERSION + 1} is newer" in caught.value.message and caught.value.hint


def test_a_failing_step_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "judge.sqlite"
    Store.open(path).close()

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        db.execute("this is not sql")

    monkeypatch.setattr(
        judge.store, "MIGRATIONS", (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "bad", broken))
    )
    monkeypatch.setattr(judge.store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError):
        Store.open(path)
    monkeypatch.undo()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert "half_done" not in {name for _, name, _ in store.schema()}


def test_not_a_database(tmp_path):
    path = tmp_path / "judge.sqlite"
    path.write_text("this is a text file, not SQLite " * 100)
    with pytest.raises(StoreError, match="not a usable results database"):
        Store.open(path)


def test_schema_section_of_architecture_doc_is_current():
    spec = importlib.util.spec_from_file_location("schema_doc", ROOT / "scripts" / "schema_doc.py")
    assert spec is not None and spec.loader is not None
    schema_doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schema_doc)
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert schema_doc.START in text, "run: python scripts/schema_doc.py"
    assert schema_doc.updated(text) == text, (
        "docs/ARCHITECTURE.md schema is stale: run python scripts/schema_doc.py"
    )
