"""SQLite result store: each conversation is written, committed, as soon as it ends.

Rows are keyed by the record id, so writing a record twice leaves one row (resumable,
idempotent). The full record is kept as JSON beside the columns reports filter on.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from chatbench.errors import ConfigError
from chatbench.records import ConversationRecord

if TYPE_CHECKING:
    from chatbench.baselines import BaselineRecord


@dataclass(frozen=True)
class StoredRun:
    """A run's entry in the store: what ``--resume`` needs to finish it."""

    run_id: str
    kind: str
    config: dict[str, Any]
    started_at: str


_SCHEMA = """
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
"""


class ResultStore:
    """A SQLite file of conversation records.

    Example:
        >>> with ResultStore("results.sqlite") as store:  # doctest: +SKIP
        ...     store.write(record)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a chatbench result store ({exc})") from None
        # WAL: a reader (report) never blocks the writer; a killed process loses no committed
        # row. synchronous=NORMAL skips the fsync per commit, which only a power cut (not a
        # kill -9) could make matter.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def write(self, record: ConversationRecord) -> None:
        """Insert or replace one record and commit it."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO conversations VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.id,
                    record.run_id,
                    record.question_id,
                    record.subject,
                    record.variant,
                    record.replicate,
                    record.verdict,
                    record.stop_reason.value,
                    record.turns,
                    record.seconds,
                    record.model_dump_json(),
                ),
            )

    def write_run(self, run_id: str, kind: str, config: dict[str, Any], started_at: str) -> None:
        """Record a run's configuration (kept from the first time the run started).

        Args:
            run_id: The run's id.
            kind: What made it: "run" (a ``RunConfig``) or "ablate" (an ``AblationGrid``).
            config: The configuration, as JSON-able data, so ``--resume`` can replan it.
            started_at: ISO timestamp.
        """
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?,?,?,?)",
                (run_id, kind, json.dumps(config, default=str), started_at),
            )

    def runs(self) -> list[StoredRun]:
        """The runs in this store, oldest first."""
        rows = self._db.execute(
            "SELECT run_id, kind, config, started_at FROM runs ORDER BY rowid"
        ).fetchall()
        return [StoredRun(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def records(self, run_id: str | None = None) -> Iterator[ConversationRecord]:
        """Stored records, in insertion order, of one run or of all."""
        query = "SELECT record FROM conversations"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        for (raw,) in self._db.execute(query + " ORDER BY rowid", args):
            yield ConversationRecord.model_validate_json(raw)

    def ids(self, run_id: str | None = None) -> set[str]:
        """Ids of the stored records (of one run, if given)."""
        if run_id is None:
            return {row[0] for row in self._db.execute("SELECT id FROM conversations")}
        rows = self._db.execute("SELECT id FROM conversations WHERE run_id = ?", (run_id,))
        return {row[0] for row in rows}

    def write_baseline(self, record: BaselineRecord) -> None:
        """Insert or replace one AI-alone baseline record and commit it."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO baselines VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    record.id,
                    record.run_id,
                    record.kind,
                    record.question_id,
                    record.subject,
                    record.model,
                    int(record.valid),
                    int(record.correct),
                    record.model_dump_json(),
                ),
            )

    def baselines(self, run_id: str | None = None) -> Iterator[BaselineRecord]:
        """Stored AI-alone baseline records, in insertion order, of one run or of all."""
        from chatbench.baselines import BaselineRecord  # chatbench.baselines imports the runner

        query = "SELECT record FROM baselines"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        for (raw,) in self._db.execute(query + " ORDER BY rowid", args).fetchall():
            yield BaselineRecord.model_validate_json(raw)

    def baseline_ids(self, run_id: str | None = None) -> set[str]:
        """Ids of the stored AI-alone baseline records (of one run, if given)."""
        if run_id is None:
            return {row[0] for row in self._db.execute("SELECT id FROM baselines")}
        rows = self._db.execute("SELECT id FROM baselines WHERE run_id = ?", (run_id,))
        return {row[0] for row in rows}

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
