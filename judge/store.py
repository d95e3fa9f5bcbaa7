"""The results database: the only module with SQL. SQLite in WAL mode with foreign keys on.

Opening a store applies any missing migration in one transaction and refuses a database written by newer code.
Each answer or failure is committed in its own transaction as it arrives, so a killed run loses at most the
calls in flight, and a unique index on the answer key lets a rerun skip what is already stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from judge.errors import StoreError
from judge.migrations import MIGRATIONS, SCHEMA_VERSION

DB_NAME = "judge.sqlite"


def db_path(results_dir: str | Path, tournament: str) -> Path:
    """Where a tournament's database lives under a results directory: <results_dir>/<name>/judge.sqlite."""
    return Path(results_dir) / tournament / DB_NAME


@dataclass(frozen=True)
class Call:
    """One attempt at one model call, successful or not."""

    key: str
    attempt: int
    ok: bool
    latency_s: float
    error_kind: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    batch_id: str | None = None  # the provider batch it went through; None for a live call


@dataclass(frozen=True)
class BatchItem:
    """One request of a provider batch; its result (JSON) is kept until the stage stores what it means."""

    batch_id: str
    custom_id: str
    key: str
    state: str  # submitted | succeeded | failed | retried (a failure already handed to the runner)
    result: str | None
    batch_state: str  # in_progress | ended | ingested


@dataclass(frozen=True)
class BatchRecord:
    batch_id: str
    provider: str
    base_url: str | None
    model: str | None
    state: str
    provider_status: str | None
    requests: int
    counts: Mapping[str, Any] | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class StoredAnswer:
    key: str
    contestant: str
    question_id: str
    turn: int
    text: str
    served_model: str | None = None


@dataclass(frozen=True)
class Failure:
    """A call that failed for good (after its retries), or a turn not asked because an earlier one failed."""

    stage: str
    key: str | None
    subject: str
    question_id: str
    turn: int
    kind: str
    message: str
    attempts: int


@dataclass(frozen=True)
class StoredJudgement:
    """One judge output for one order of one (question, pair, turn); preference None = unparseable."""

    key: str
    base_key: str
    attempt: int
    judge: str
    question_id: str
    model_a: str
    model_b: str
    turn: int
    order: str  # "ab": model_a shown first
    template_name: str
    template_hash: str
    settings: str
    raw: str
    preference: str | None
    error: str | None = None


@dataclass(frozen=True)
class StoredVote:
    """One blind human vote on one (question, pair, turn); the pair is in canonical (sorted) order."""

    voter: str
    question_id: str
    model_a: str
    model_b: str
    turn: int
    shown_a: str  # the model shown as answer A
    choice: str  # as clicked: a | b | tie | bothbad
    winner: str  # canonical, one of judge.battles.WINNERS
    category: str | None
    tstamp: float


@dataclass(frozen=True)
class StoredArenaBattle:
    """One finished arena battle: voted (choice and winner set) or void (error set); pair canonical."""

    battle_id: str
    voter: str
    question_id: str
    model_a: str
    model_b: str
    shown_a: str
    turns: int
    conversation: str  # JSON list of {"user", "model_a", "model_b"}
    status: str  # voted | void
    choice: str | None
    winner: str | None
    error: str | None
    category: str
    language: str | None
    tstamp: float


@dataclass(frozen=True)
class CallTotals:
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when no call had a price


@dataclass(frozen=True)
class Usage(CallTotals):
    seconds: float  # summed call latency (calls overlap, so this is model time, not wall time)
    batch_calls: int = 0  # of `calls`, those answered through a provider batch
    batch_cost_usd: float | None = None  # of `cost_usd`, what those cost (at batch prices)


@dataclass(frozen=True)
class Run:
    run_id: int
    stage: str
    tournament: str
    started_at: str
    finished_at: str | None
    status: str
    summary: Mapping[str, Any] | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    """An open results database. Use as a context manager, or call close()."""

    def __init__(self, db: sqlite3.Connection, path: str) -> None:
        self._db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating the file and its parents if needed) and migrate; ':memory:' works too."""
        where = str(path)
        if where != ":memory:":
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(where, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreError(f"{where}: cannot open the results database ({exc})") from exc
        store = cls(db, where)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            store._migrate()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(
                f"{where}: not a usable results database ({exc})", hint="move it aside or pick another --out"
            ) from exc
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a write the disk refuses (full, I/O error) becomes a StoreError."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc: sqlite3.OperationalError) -> StoreError:
        hint = "free some space (or fix the disk) and run the same command again: nothing stored is lost"
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "full" in str(exc):
            return StoreError(f"{self.path}: disk full: cannot write the results database", hint=hint)
        return StoreError(f"{self.path}: cannot write the results database ({exc})", hint=hint)

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        found = self.schema_version()
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: database schema version {found} is newer than this judge's ({SCHEMA_VERSION})",
                hint="upgrade judge, or write results to another directory with --out",
            )
        if found == SCHEMA_VERSION:
            return
        with self._tx() as db:
            current = self.schema_version()  # another process may have migrated meanwhile
            for step in MIGRATIONS:
                if step.version > current:
                    step.apply(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    def schema(self) -> list[tuple[str, str, str]]:
        """(type, name, CREATE statement) of every table and index, in creation order; for the docs."""
        rows = self._db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        )
        return [(str(t), str(n), str(s)) for t, n, s in rows]

    # runs

    def start_run(self, stage: str, tournament: str, config_path: str | None = None) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (stage, tournament, config_path, started_at) VALUES (?, ?, ?, ?)",
                (stage, tournament, config_path, _now()),
            )
        return int(cur.lastrowid or 0)

    def mark_interrupted(self) -> int:
        """Mark runs still `running` as interrupted (call with the results lock held); how many there were."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'", (_now(),)
            )
        return cur.rowcount

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
                (_now(), status, json.dumps(dict(summary), sort_keys=True), run_id),
            )

    def runs(self) -> list[Run]:
        rows = self._db.execute(
            "SELECT run_id, stage, tournament, started_at, finished_at, status, summary "
            "FROM runs ORDER BY run_id"
        )
        return [
            Run(r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else json.loads(r[6])) for r in rows
        ]

    # answers

    def get_answer(self, key: str) -> StoredAnswer | None:
        row = self._db.execute(
            "SELECT key, contestant, question_id, turn, text, served_model FROM answers WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else StoredAnswer(*row)

    def answers(self) -> list[StoredAnswer]:
        rows = self._db.execute(
            "SELECT key, contestant, question_id, turn, text, served_model FROM answers "
            "ORDER BY contestant, question_id, turn, key"
        )
        return [StoredAnswer(*row) for row in rows]

    def save_answer(self, run_id: int, answer: StoredAnswer, calls: Sequence[Call] = ()) -> bool:
        """Store an answer and the calls that produced it in one transaction; False if its key was stored."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO answers (key, contestant, question_id, turn, text, served_model, run_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (*_answer_row(answer), run_id, _now()),
            )
            self._insert_calls(db, run_id, calls)
        return cur.rowcount == 1

    # judgements

    def judgements(self, base_key: str | None = None) -> list[StoredJudgement]:
        """Stored judge outputs, all of them or those of one base key, in attempt order."""
        sql = f"SELECT {_JUDGEMENT_COLUMNS} FROM judgements"
        args: tuple[str, ...] = ()
        if base_key is not None:
            sql, args = sql + " WHERE base_key = ?", (base_key,)
        return [StoredJudgement(*row) for row in self._db.execute(sql + " ORDER BY judgement_id", args)]

    def judgements_by_slot(self) -> Iterator[StoredJudgement]:
        """Every stored judge output grouped by (question, pair, turn), attempts in order: read from a cursor,
        so a million of them never sit in memory at once."""
        cursor = self._db.execute(
            f"SELECT {_JUDGEMENT_COLUMNS} FROM judgements "
            "ORDER BY question_id, model_a, model_b, turn, judgement_id"
        )
        for row in cursor:
            yield StoredJudgement(*row)

    def judgement_time(self, key: str) -> float | None:
        """When a judge output was stored (Unix time, to the millisecond): a battle's reproducible tstamp."""
        row = self._db.execute("SELECT created_at FROM judgements WHERE key = ?", (key,)).fetchone()
        return None if row is None else datetime.fromisoformat(row[0]).timestamp()

    def save_judgement(self, run_id: int, judgement: StoredJudgement, calls: Sequence[Call] = ()) -> bool:
        """Store one judge output and its calls in one transaction; False if its key was stored."""
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO judgements ({_JUDGEMENT_COLUMNS}, run_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (*_values(judgement), run_id, _now()),
            )
            self._insert_calls(db, run_id, calls)
        return cur.rowcount == 1

    # votes

    def save_vote(self, vote: StoredVote) -> bool:
        """Store one vote in its own transaction; False if this voter already voted on that battle."""
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO votes ({_VOTE_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (voter, question_id, model_a, model_b, turn) DO NOTHING",
                (*_values(vote), _now()),
            )
        return cur.rowcount == 1

    def votes(self, voter: str | None = None) -> list[StoredVote]:
        """Stored votes, all or one voter's, in the order they were cast."""
        sql = f"SELECT {_VOTE_COLUMNS} FROM votes"
        args: tuple[str, ...] = ()
        if voter is not None:
            sql, args = sql + " WHERE voter = ?", (voter,)
        return [StoredVote(*row) for row in self._db.execute(sql + " ORDER BY vote_id", args)]

    # arena battles

    def save_arena_battle(self, battle: StoredArenaBattle) -> bool:
        """Store a finished arena battle, conversation and all, in one transaction; False if already there."""
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO arena_battles ({_ARENA_COLUMNS}, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (battle_id) DO NOTHING",
                (*_values(battle), _now()),
            )
        return cur.rowcount == 1

    def arena_battles(
        self, status: str | None = "voted", *, after: int = 0
    ) -> list[tuple[int, StoredArenaBattle]]:
        """Finished arena battles (by default the voted ones) with their rowid, oldest first, past `after`."""
        sql = f"SELECT rowid, {_ARENA_COLUMNS} FROM arena_battles WHERE rowid > ?"
        args: tuple[Any, ...] = (after,)
        if status is not None:
            sql, args = sql + " AND status = ?", (after, status)
        rows = self._db.execute(sql + " ORDER BY rowid", args)
        return [(int(row[0]), StoredArenaBattle(*row[1:])) for row in rows]

    # failures and calls

    def save_failure(self, run_id: int, failure: Failure, calls: Sequence[Call] = ()) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO failures (run_id, stage, key, subject, question_id, turn, kind, message, "
                "attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, *_failure_row(failure), _now()),
            )
            self._insert_calls(db, run_id, calls)

    def failures(self, run_id: int | None = None) -> list[Failure]:
        sql = "SELECT stage, key, subject, question_id, turn, kind, message, attempts FROM failures"
        args: tuple[int, ...] = ()
        if run_id is not None:
            sql, args = sql + " WHERE run_id = ?", (run_id,)
        return [Failure(*row) for row in self._db.execute(sql + " ORDER BY failure_id", args)]

    @staticmethod
    def _insert_calls(db: sqlite3.Connection, run_id: int, calls: Sequence[Call]) -> None:
        now = _now()
        db.executemany(
            "INSERT INTO calls (run_id, key, attempt, ok, error_kind, input_tokens, output_tokens, "
            "latency_s, cost_usd, created_at, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, c.key, c.attempt, int(c.ok), c.error_kind, c.input_tokens, c.output_tokens)
                + (c.latency_s, c.cost_usd, now, c.batch_id)
                for c in calls
            ],
        )

    def calls(self, run_id: int | None = None) -> list[Call]:
        sql = (
            "SELECT key, attempt, ok, latency_s, error_kind, input_tokens, output_tokens, cost_usd, batch_id "
            "FROM calls"
        )
        args: tuple[int, ...] = ()
        if run_id is not None:
            sql, args = sql + " WHERE run_id = ?", (run_id,)
        rows = self._db.execute(sql + " ORDER BY call_id", args)
        return [Call(row[0], row[1], bool(row[2]), *row[3:]) for row in rows]

    def usage_by_subject(self) -> dict[str, Usage]:
        """Calls, tokens, cost and call time per contestant or judge, over every run of the tournament."""
        rows = self._db.execute(
            "SELECT k.subject, COUNT(*), COALESCE(SUM(c.input_tokens), 0), "
            "COALESCE(SUM(c.output_tokens), 0), SUM(c.cost_usd), COALESCE(SUM(c.latency_s), 0), "
            "COUNT(c.batch_id), SUM(CASE WHEN c.batch_id IS NOT NULL THEN c.cost_usd END) "
            "FROM calls c JOIN ("
            "SELECT key, contestant AS subject FROM answers UNION SELECT key, judge FROM judgements "
            "UNION SELECT key, subject FROM failures WHERE key IS NOT NULL) k ON c.key = k.key "
            "GROUP BY k.subject ORDER BY k.subject"
        )
        return {
            r[0]: Usage(int(r[1]), int(r[2]), int(r[3]), _float(r[4]), float(r[5]), int(r[6]), _float(r[7]))
            for r in rows
        }

    def call_totals(self, run_id: int) -> CallTotals:
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), SUM(cost_usd) "
            "FROM calls WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return CallTotals(int(row[0]), int(row[1]), int(row[2]), None if row[3] is None else float(row[3]))

    # provider batches

    def save_batch(self, run_id: int, batch: BatchRecord, items: Sequence[tuple[str, str]]) -> None:
        """Record a batch and its (custom_id, key) items in one transaction: one the provider is about to
        create, under an intent id that adopt_batch or drop_batch settles (judge.batches)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO batches (batch_id, provider, base_url, model, state, provider_status, requests, "
                "counts, run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (batch.batch_id, batch.provider, batch.base_url, batch.model, batch.state)
                + (batch.provider_status, batch.requests, None, run_id, _now(), _now()),
            )
            db.executemany(
                "INSERT INTO batch_items (batch_id, custom_id, key) VALUES (?, ?, ?)",
                [(batch.batch_id, custom_id, key) for custom_id, key in items],
            )

    def update_batch(self, batch_id: str, provider_status: str, counts: Mapping[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET provider_status = ?, counts = ?, updated_at = ? WHERE batch_id = ?",
                (provider_status, json.dumps(dict(counts), sort_keys=True), _now(), batch_id),
            )

    def ingest_batch(self, batch_id: str, results: Mapping[str, tuple[bool, str]], missing: str) -> None:
        """Store an ended batch's results (custom_id -> (ok, JSON)); items without one fail with `missing`."""
        with self._tx() as db:
            db.executemany(
                "UPDATE batch_items SET state = ?, result = ? WHERE batch_id = ? AND custom_id = ? "
                "AND state = 'submitted'",
                [
                    ("succeeded" if ok else "failed", text, batch_id, cid)
                    for cid, (ok, text) in results.items()
                ],
            )
            db.execute(
                "UPDATE batch_items SET state = 'failed', result = ? "
                "WHERE batch_id = ? AND state = 'submitted'",
                (missing, batch_id),
            )
            db.execute(
                "UPDATE batches SET state = 'ingested', updated_at = ? WHERE batch_id = ?", (_now(), batch_id)
            )

    def retire_batch_item(self, batch_id: str, custom_id: str) -> None:
        """A failed item went to the runner as one failed attempt: the next try goes out in a new batch."""
        with self._tx() as db:
            db.execute(
                "UPDATE batch_items SET state = 'retried' WHERE batch_id = ? AND custom_id = ?",
                (batch_id, custom_id),
            )

    def adopt_batch(self, intent_id: str, batch_id: str) -> None:
        """A batch recorded before it was created (under `intent_id`) takes the id the provider gave it."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO batches (batch_id, provider, base_url, model, state, provider_status, requests, "
                "counts, run_id, created_at, updated_at) SELECT ?, provider, base_url, model, state, "
                "'created', requests, counts, run_id, created_at, ? FROM batches WHERE batch_id = ?",
                (batch_id, _now(), intent_id),
            )
            db.execute("UPDATE batch_items SET batch_id = ? WHERE batch_id = ?", (batch_id, intent_id))
            db.execute("DELETE FROM batches WHERE batch_id = ?", (intent_id,))

    def drop_batch(self, intent_id: str) -> None:
        """Forget a recorded batch the provider never created: its requests are free to go out again."""
        with self._tx() as db:
            db.execute("DELETE FROM batch_items WHERE batch_id = ?", (intent_id,))
            db.execute("DELETE FROM batches WHERE batch_id = ?", (intent_id,))

    def batch_item(self, key: str) -> BatchItem | None:
        """The latest batch request made for a key, or None."""
        row = self._db.execute(
            "SELECT i.batch_id, i.custom_id, i.key, i.state, i.result, b.state FROM batch_items i "
            "JOIN batches b ON b.batch_id = i.batch_id WHERE i.key = ? ORDER BY i.rowid DESC LIMIT 1",
            (key,),
        ).fetchone()
        return None if row is None else BatchItem(*row)

    def batches(self, open_only: bool = False) -> list[BatchRecord]:
        sql = (
            "SELECT batch_id, provider, base_url, model, state, provider_status, requests, counts, "
            "created_at, updated_at FROM batches"
        )
        sql += " WHERE state != 'ingested'" if open_only else ""
        rows = self._db.execute(sql + " ORDER BY created_at, batch_id")
        return [BatchRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _json(r[7]), r[8], r[9]) for r in rows]

    def row_counts(self) -> dict[str, int]:
        """Rows in the answers, judgements and batches tables (counted, not loaded)."""
        tables = ("answers", "judgements", "batches")
        return {t: int(self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}

    def batch_item_states(self) -> dict[str, int]:
        """How many batch requests are in each state, over every batch."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM batch_items GROUP BY state ORDER BY state")
        return {str(state): int(n) for state, n in rows}


_JUDGEMENT_COLUMNS = (
    "key, base_key, attempt, judge, question_id, model_a, model_b, turn, answer_order, template_name, "
    "template_hash, settings, raw, preference, error"
)

_VOTE_COLUMNS = "voter, question_id, model_a, model_b, turn, shown_a, choice, winner, category, tstamp"

_ARENA_COLUMNS = (
    "battle_id, voter, question_id, model_a, model_b, shown_a, turns, conversation, status, choice, winner, "
    "error, category, language, tstamp"
)


def _values(row: StoredJudgement | StoredVote | StoredArenaBattle) -> tuple[Any, ...]:
    """A row's fields in order; unlike dataclasses.astuple, without deep-copying every value."""
    return tuple(getattr(row, f.name) for f in fields(row))


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _answer_row(a: StoredAnswer) -> tuple[Any, ...]:
    return (a.key, a.contestant, a.question_id, a.turn, a.text, a.served_model)


def _failure_row(f: Failure) -> tuple[Any, ...]:
    return (f.stage, f.key, f.subject, f.question_id, f.turn, f.kind, f.message, f.attempts)
