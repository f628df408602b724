"""The store's tables (the file format: never changed in place), its errors, what makes a SQLite
file a chatbench store, and ``StoredRun``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from chatbench.errors import ChatBenchError, ConfigError


class StoreError(ConfigError):
    """The store file cannot be opened or written: a folder, read-only, locked or full. The
    message names the file; the CLI prints it on one line and exits with code 2."""


class UnstorableRecordError(ChatBenchError):
    """One record cannot be written as it is (an object JSON cannot hold, a value SQLite
    refuses); the store itself is fine. The runner stores ``error_record`` of it instead."""


@dataclass(frozen=True)
class StoredRun:
    """A run's entry in the store: what ``--resume`` needs to finish it."""

    run_id: str
    kind: str
    config: dict[str, Any]
    started_at: str


SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    variant TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    verdict TEXT,
    stop_reason TEXT NOT NULL,
    turns INTEGER NOT NULL,
    seconds REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_run ON conversations (run_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS baselines (
    id TEXT PRIMARY KEY,
    run_id TEXT,
    kind TEXT,
    question_id TEXT,
    subject TEXT,
    model TEXT,
    valid INTEGER,
    correct INTEGER,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS baselines_run ON baselines (run_id);
CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    question_id TEXT NOT NULL,
    failed INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_run ON samples (run_id);
CREATE TABLE IF NOT EXISTS run_identities (
    run_id TEXT PRIMARY KEY,
    identity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS specs (
    digest TEXT PRIMARY KEY,
    spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    question TEXT NOT NULL,
    PRIMARY KEY (run_id, id)
);
"""


# The package's name, as before it was split: warnings name "chatbench.storage".
log = logging.getLogger("chatbench.storage")
Model = TypeVar("Model", bound=BaseModel)

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
STORE_COLUMNS = frozenset({"id", "run_id", "question_id", "subject", "variant", "replicate",
                            "verdict", "stop_reason", "turns", "seconds", "record"})
"""What makes a SQLite file a chatbench store: a ``conversations`` table with these columns
(another application's ``conversations`` table is not one)."""
JSON_OBJECT = "(CASE WHEN json_valid(record) THEN json_type(record) END) IS 'object'"
"""SQL: the row's record is a JSON object (``json_type`` fails on text that is no JSON)."""
SPEC_INLINE_CHARS = 8192
"""A conversation's graph spec whose JSON is longer than this is stored once, in the
``specs`` table under its SHA-256 digest, and its rows hold ``"spec_ref": digest`` in place of
``"spec"`` (readers fill it back in). A shorter one stays in each row, as stores have always
held it: older chatbench versions read those rows as before (a row with a ``spec_ref`` they
skip with a warning naming the field)."""
GROUPS = ("subject", "variant")
"""Columns ``ResultStore.question_counts`` groups by."""
MAX_WARNED = 5
"""Unreadable rows one read names one per line; the rest are counted on one more line."""
