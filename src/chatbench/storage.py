"""SQLite result store: each conversation is written, committed, as soon as it ends.

Rows are keyed by the record id, so writing a record twice leaves one row (resumable,
idempotent). The full record is kept as JSON beside the columns reports filter on.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from chatbench._files import file_error
from chatbench._text import encodable, model_json
from chatbench.errors import ChatBenchError, ConfigError
from chatbench.records import ConversationRecord

if TYPE_CHECKING:
    from chatbench.baselines import BaselineRecord


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
CREATE TABLE IF NOT EXISTS run_identities (
    run_id TEXT PRIMARY KEY,
    identity TEXT NOT NULL
);
"""


class ResultStore:
    """A SQLite file of conversation records.

    Example:
        >>> with ResultStore("results.sqlite") as store:  # doctest: +SKIP
        ...     store.write(record)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a result store")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise file_error(self.path, exc, "create the result store") from None
        with self._sqlite("open the result store"):
            self._db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            with self._sqlite("open the result store"):
                self._db.executescript(_SCHEMA)
                # WAL: a reader (report) never blocks the writer; a killed process loses no
                # committed row. synchronous=NORMAL skips the fsync per commit, which only a
                # power cut (not a kill -9) could make matter.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
        except StoreError:
            self._db.close()
            raise

    @contextmanager
    def _sqlite(self, doing: str) -> Iterator[None]:
        """SQLite's errors about the file (read-only, locked, full, not a database) as one
        ``StoreError`` line naming it."""
        try:
            yield
        except (sqlite3.DataError, sqlite3.IntegrityError):  # about a row, not the file
            raise
        except sqlite3.DatabaseError as exc:
            if str(exc) == "file is not a database":
                raise StoreError(f"{self.path}: not a chatbench result store ({exc})") from None
            raise StoreError(f"{self.path}: cannot {doing}: {exc}") from None

    def _insert(self, table: str, row: Sequence[object], what: str) -> None:
        """Insert or replace one row and commit it; strings are made ``encodable``.

        Raises:
            UnstorableRecordError: SQLite refuses a value of this row.
            StoreError: The file cannot be written.
        """
        values = tuple(encodable(v) if isinstance(v, str) else v for v in row)
        marks = ",".join("?" * len(values))
        try:
            with self._sqlite(f"write {what}"), self._db:
                self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", values)
        except (sqlite3.InterfaceError, sqlite3.DataError, sqlite3.IntegrityError, OverflowError,
                ValueError) as exc:
            raise UnstorableRecordError(f"{what}: {type(exc).__name__}: {exc}") from None

    def write(self, record: ConversationRecord) -> None:
        """Insert or replace one record and commit it.

        Text SQLite cannot hold (lone surrogates) is stored backslash-escaped.

        Raises:
            UnstorableRecordError: This record cannot be stored as it is.
            StoreError: The file cannot be written (read-only, locked, full).
        """
        self._insert("conversations", (
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
            _record_json(record),
        ), f"record {encodable(record.id)!r}")

    def write_run(self, run_id: str, kind: str, config: dict[str, Any], started_at: str) -> None:
        """Record a run's configuration (kept from the first time the run started).

        Args:
            run_id: The run's id.
            kind: What made it: "run" (a ``RunConfig``) or "ablate" (an ``AblationGrid``).
            config: The configuration, as JSON-able data, so ``--resume`` can replan it.
            started_at: ISO timestamp.
        """
        with self._sqlite("write the run"), self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?,?,?,?)",
                (encodable(run_id), kind, json.dumps(config, default=str), started_at),
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
            query, args = query + " WHERE run_id = ?", (encodable(run_id),)
        for (raw,) in self._db.execute(query + " ORDER BY rowid", args):
            yield ConversationRecord.model_validate_json(raw)

    def ids(self, run_id: str | None = None) -> set[str]:
        """Ids of the stored records (of one run, if given)."""
        if run_id is None:
            return {row[0] for row in self._db.execute("SELECT id FROM conversations")}
        rows = self._db.execute(
            "SELECT id FROM conversations WHERE run_id = ?", (encodable(run_id),)
        )
        return {row[0] for row in rows}

    def failed_ids(self, run_id: str) -> set[str]:
        """Ids of the run's stored conversations that failed (stop reason ``error``): a
        resume or rerun runs them again, unless told to keep them."""
        rows = self._db.execute(
            "SELECT id FROM conversations WHERE run_id = ? AND stop_reason = 'error'",
            (encodable(run_id),),
        )
        return {row[0] for row in rows}

    def conversation_keys(self, run_id: str) -> list[tuple[str, str, dict[str, str] | None]]:
        """The distinct (variant, question id, models) of a run's stored conversations: what
        a run stored without its identity (by an older chatbench) can be checked against."""
        rows = self._db.execute(
            "SELECT DISTINCT variant, question_id, json_extract(record, '$.models') "
            "FROM conversations WHERE run_id = ?",
            (encodable(run_id),),
        ).fetchall()
        return [(variant, question, _json_object(models)) for variant, question, models in rows]

    def run_identity(self, run_id: str) -> str | None:
        """The stored identity (JSON) of a run: what determines its results; None for a run
        stored without one (by an older chatbench, or not yet started)."""
        try:
            row = self._db.execute(
                "SELECT identity FROM run_identities WHERE run_id = ?", (encodable(run_id),)
            ).fetchone()
        except sqlite3.OperationalError:  # a store from an older chatbench, opened read-only
            return None
        return None if row is None else str(row[0])

    def write_run_identity(self, run_id: str, identity: str) -> None:
        """Record a run's identity (kept from the first time the run started)."""
        with self._sqlite("write the run"), self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO run_identities VALUES (?,?)",
                (encodable(run_id), encodable(identity)),
            )

    def write_baseline(self, record: BaselineRecord) -> None:
        """Insert or replace one AI-alone baseline record and commit it (text escaped as
        ``write`` does).

        Raises:
            UnstorableRecordError: This record cannot be stored as it is.
            StoreError: The file cannot be written.
        """
        self._insert("baselines", (
            record.id,
            record.run_id,
            record.kind,
            record.question_id,
            record.subject,
            record.model,
            int(record.valid),
            int(record.correct),
            _record_json(record),
        ), f"baseline record {encodable(record.id)!r}")

    def baselines(self, run_id: str | None = None) -> Iterator[BaselineRecord]:
        """Stored AI-alone baseline records, in insertion order, of one run or of all."""
        from chatbench.baselines import BaselineRecord  # chatbench.baselines imports the runner

        query = "SELECT record FROM baselines"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (encodable(run_id),)
        for (raw,) in self._db.execute(query + " ORDER BY rowid", args).fetchall():
            yield BaselineRecord.model_validate_json(raw)

    def baseline_ids(self, run_id: str | None = None) -> set[str]:
        """Ids of the stored AI-alone baseline records (of one run, if given)."""
        if run_id is None:
            return {row[0] for row in self._db.execute("SELECT id FROM baselines")}
        rows = self._db.execute(
            "SELECT id FROM baselines WHERE run_id = ?", (encodable(run_id),)
        )
        return {row[0] for row in rows}

    def failed_baseline_ids(self, run_id: str) -> set[str]:
        """Ids of the baseline run's stored answers whose model call failed (``error`` set):
        a rerun asks them again, unless told to keep them."""
        rows = self._db.execute(
            "SELECT id FROM baselines WHERE run_id = ? "
            "AND json_extract(record, '$.error') IS NOT NULL",
            (encodable(run_id),),
        )
        return {row[0] for row in rows}

    def baseline_keys(self, run_id: str) -> list[tuple[str, str, str]]:
        """The distinct (kind, question id, model) of a baseline run's stored answers: what
        a run stored without its identity (by an older chatbench) can be checked against."""
        rows = self._db.execute(
            "SELECT DISTINCT kind, question_id, model FROM baselines WHERE run_id = ?",
            (encodable(run_id),),
        ).fetchall()
        return [(str(kind), str(question), str(model)) for kind, question, model in rows]

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


def _json_object(text: str | None) -> dict[str, str] | None:
    """A JSON object's text as a dict; None for anything else."""
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _record_json(record: ConversationRecord | BaselineRecord) -> str:
    """The record's JSON (lone surrogates escaped).

    Raises:
        UnstorableRecordError: A field holds something JSON cannot.
    """
    try:
        return model_json(record)
    except Exception as exc:  # pydantic raises PydanticSerializationError, ValueError...
        raise UnstorableRecordError(f"record {encodable(record.id)!r}: {exc}") from None
