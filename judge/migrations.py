"""The results database's schema, as an ordered list of numbered steps that store.py applies on open.

Each step is a small function given a connection inside the store's migration transaction; the database
records the last applied number in `PRAGMA user_version`. To change the schema, append the next number (never
edit or reorder a released step): the judging stage's verdict tables, for example, arrive as step 2. These
steps are the only SQL outside store.py, and it is DDL alone. After a change, run
`python scripts/schema_doc.py` to refresh the schema section of docs/ARCHITECTURE.md (a test checks it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None]


def _v1_answers(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY,
    stage TEXT NOT NULL,                  -- answers | verdicts
    tournament TEXT NOT NULL,
    config_path TEXT,
    started_at TEXT NOT NULL,             -- ISO 8601, UTC
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'interrupted')),
    summary TEXT                          -- JSON counts written when the run ends
)"""
    )
    db.execute(
        """CREATE TABLE calls (
    call_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,                    -- the answer (or verdict) key the call was made for
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error_kind TEXT,                      -- rate_limited | transient | timeout | auth | bad_request | ...
    input_tokens INTEGER,
    output_tokens INTEGER,
    latency_s REAL NOT NULL,
    cost_usd REAL,                        -- NULL when no price is configured for the model
    created_at TEXT NOT NULL
)"""
    )
    db.execute("CREATE INDEX calls_key ON calls (key)")
    db.execute(
        """CREATE TABLE answers (
    answer_id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,                    -- 'a1:' + sha256 of the canonical request (never the API key)
    contestant TEXT NOT NULL,
    question_id TEXT NOT NULL,
    turn INTEGER NOT NULL CHECK (turn >= 1),
    text TEXT NOT NULL,                   -- untrusted model output
    served_model TEXT,                    -- what the server said it ran
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    created_at TEXT NOT NULL
)"""
    )
    db.execute("CREATE UNIQUE INDEX answers_key ON answers (key)")
    db.execute("CREATE INDEX answers_slot ON answers (contestant, question_id, turn)")
    db.execute(
        """CREATE TABLE failures (
    failure_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    stage TEXT NOT NULL,                  -- answers | verdicts
    key TEXT,                             -- NULL when the request could not be built (an earlier turn failed)
    subject TEXT NOT NULL,                -- contestant or judge name
    question_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    kind TEXT NOT NULL,                   -- an ErrorKind, or 'skipped' for a turn after a failed one
    message TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL
)"""
    )
    db.execute("CREATE INDEX failures_run ON failures (run_id)")


def _v2_judgements(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE judgements (
    judgement_id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,                    -- 'j1:' + sha256 of the judge request (+ '#n' for parse retry n)
    base_key TEXT NOT NULL,               -- the key of attempt 0: one (question, pair, turn, order, prompt)
    attempt INTEGER NOT NULL CHECK (attempt >= 0),
    judge TEXT NOT NULL,
    question_id TEXT NOT NULL,
    model_a TEXT NOT NULL,                -- the pair in canonical (sorted) order
    model_b TEXT NOT NULL,
    turn INTEGER NOT NULL CHECK (turn >= 1),
    answer_order TEXT NOT NULL CHECK (answer_order IN ('ab', 'ba')),  -- which model was shown first
    template_name TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    settings TEXT NOT NULL,               -- JSON: the judge's model and generation settings (never a key)
    raw TEXT NOT NULL,                    -- the judge's whole output, kept so parsing can change for free
    preference TEXT,                      -- as shown: A_MUCH_BETTER .. B_MUCH_BETTER; NULL = unparseable
    error TEXT,                           -- why the output could not be parsed
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    created_at TEXT NOT NULL
)"""
    )
    db.execute("CREATE UNIQUE INDEX judgements_key ON judgements (key)")
    db.execute("CREATE INDEX judgements_base ON judgements (base_key)")


def _v3_votes(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE votes (
    vote_id INTEGER PRIMARY KEY,
    voter TEXT NOT NULL,
    question_id TEXT NOT NULL,
    model_a TEXT NOT NULL,                -- the pair in canonical (sorted) order
    model_b TEXT NOT NULL,
    turn INTEGER NOT NULL CHECK (turn >= 1),
    shown_a TEXT NOT NULL CHECK (shown_a IN (model_a, model_b)),  -- the model shown as A (positions random)
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'bothbad')),  -- as clicked, A = shown_a
    winner TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')),  -- canonical
    category TEXT,
    tstamp REAL NOT NULL,                 -- Unix time of the vote
    created_at TEXT NOT NULL
)"""
    )
    db.execute("CREATE UNIQUE INDEX votes_once ON votes (voter, question_id, model_a, model_b, turn)")


def _v4_arena(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE arena_battles (
    battle_id TEXT PRIMARY KEY,           -- the random id the server handed to the voter's page
    voter TEXT NOT NULL,                  -- 'anon-' + hash of the browser's cookie, or a name (arena.voters)
    question_id TEXT NOT NULL,            -- 'p1:' + sha256 of the normalised first prompt: repeats cluster
    model_a TEXT NOT NULL,                -- the pair in canonical (sorted) order
    model_b TEXT NOT NULL,
    shown_a TEXT NOT NULL CHECK (shown_a IN (model_a, model_b)),  -- the model shown on the left (random)
    turns INTEGER NOT NULL CHECK (turns >= 1),
    conversation TEXT NOT NULL,           -- JSON [{"user", "model_a", "model_b"}] per turn: untrusted text
    status TEXT NOT NULL CHECK (status IN ('voted', 'void')),
    choice TEXT CHECK (choice IN ('a', 'b', 'tie', 'bothbad')),  -- as clicked, A = shown_a; NULL if void
    winner TEXT CHECK (winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')),  -- canonical; NULL if void
    error TEXT,                           -- why a void battle is void (a provider error)
    category TEXT NOT NULL,               -- from arena.categories, else 'user'
    language TEXT,                        -- ISO 639-1 code detected from the first prompt
    tstamp REAL NOT NULL,                 -- Unix time of the vote (or of the failure)
    created_at TEXT NOT NULL,
    CHECK ((status = 'voted') = (winner IS NOT NULL AND choice IS NOT NULL))
)"""
    )
    db.execute("CREATE INDEX arena_battles_voter ON arena_battles (voter)")


def _v5_batches(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,            -- the provider's id, recorded the moment the batch is created
    provider TEXT NOT NULL,               -- openai | anthropic
    base_url TEXT,
    model TEXT,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'ended', 'ingested')),
    provider_status TEXT,                 -- as the provider last said (validating, finalizing, expired, ...)
    requests INTEGER NOT NULL,
    counts TEXT,                          -- JSON: the provider's last request counts
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)"""
    )
    db.execute(
        """CREATE TABLE batch_items (
    batch_id TEXT NOT NULL REFERENCES batches (batch_id),
    custom_id TEXT NOT NULL,              -- derived from the key: how the provider's result maps back
    key TEXT NOT NULL,                    -- the answer or judgement key the request is for
    state TEXT NOT NULL DEFAULT 'submitted' CHECK (state IN ('submitted', 'succeeded', 'failed', 'retried')),
    result TEXT,                          -- JSON: the completion, or the classified error
    PRIMARY KEY (batch_id, custom_id)
)"""
    )
    db.execute("CREATE INDEX batch_items_key ON batch_items (key)")
    db.execute("ALTER TABLE calls ADD COLUMN batch_id TEXT")  # the provider batch of the call; NULL = live


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, calls, answers, failures", _v1_answers),
    Migration(2, "judgements: every judge output, parsed or not", _v2_judgements),
    Migration(3, "votes: blind human votes from `judge vote`", _v3_votes),
    Migration(4, "arena_battles: live battles from `judge arena`, voted or void", _v4_arena),
    Migration(
        5, "batches and batch_items: provider batches, durable from the moment they exist", _v5_batches
    ),
)
"""In order; numbers start at 1 and increase (checked by tests/test_migrations.py; contiguous once merged)."""

SCHEMA_VERSION = MIGRATIONS[-1].version
