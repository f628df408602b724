"""SQLite result store: each conversation is written, committed, as soon as it ends.

Rows are keyed by the record id, so writing a record twice leaves one row (resumable,
idempotent). The full record is kept as JSON beside the columns reports filter on.

Readers (report, show, export, ``paper --runs``, resume's read phase) open a store with
``read_only=True``: the file must exist and is never created or changed, and a store in a
read-only folder is read too. Neither a reader nor a writer touches a file that is not a
chatbench store (not SQLite, or another application's database): it is refused, before
anything is created or switched, with one line naming it. A row that cannot be read (invalid
or truncated JSON, an unknown field as a newer chatbench may write, a value of the wrong type)
is skipped with a logged warning naming its id; the other rows are read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chatbench._files import file_error
from chatbench._text import encodable, model_json
from chatbench.errors import ChatBenchError, ConfigError
from chatbench.records import BaselineRecord, ConversationRecord
from chatbench.scoring.metrics import Summary, summary_from_totals


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

log = logging.getLogger(__name__)
_Model = TypeVar("_Model", bound=BaseModel)

_SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
_STORE_COLUMNS = frozenset({"id", "run_id", "question_id", "subject", "variant", "replicate",
                            "verdict", "stop_reason", "turns", "seconds", "record"})
"""What makes a SQLite file a chatbench store: a ``conversations`` table with these columns
(another application's ``conversations`` table is not one)."""
_JSON_OBJECT = "(CASE WHEN json_valid(record) THEN json_type(record) END) IS 'object'"
"""SQL: the row's record is a JSON object (``json_type`` fails on text that is no JSON)."""
_GROUPS = ("subject", "variant")
"""Columns ``ResultStore.summarize`` groups by."""
MAX_WARNED = 5
"""Unreadable rows one read names one per line; the rest are counted on one more line."""


class ResultStore:
    """A SQLite file of conversation records.

    Example:
        >>> with ResultStore("results.sqlite") as store:  # doctest: +SKIP
        ...     store.write(record)
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open the store at ``path``; a writer creates it if there is none.

        Args:
            path: The SQLite file.
            read_only: Only read it (report, show, export, resume's read phase): it must
                exist, and is neither created nor changed; one in a read-only folder is
                read too.

        Raises:
            StoreError: ``path`` is a folder, missing (``read_only``), not SQLite, another
                application's database, or cannot be opened; the message names it.
        """
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a result store")
        self._db = self._open_reader() if read_only else self._open_writer()
        with self._sqlite("read the result store"):
            self._tables = {name for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _open_writer(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise file_error(self.path, exc, "create the result store") from None
        self._check_file(must_exist=False)  # before any table is made or the journal switched
        with self._sqlite("open the result store"):
            db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            with self._sqlite("open the result store"):
                db.executescript(_SCHEMA)
                # WAL: a reader (report) never blocks the writer; a killed process loses no
                # committed row. synchronous=NORMAL skips the fsync per commit, which only a
                # power cut (not a kill -9) could make matter.
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
        except StoreError:
            db.close()
            raise
        return db

    def _open_reader(self) -> sqlite3.Connection:
        self._check_file(must_exist=True)
        try:
            return self._connect("mode=ro")
        except sqlite3.DatabaseError as exc:
            # A WAL store is read through its -wal and -shm files, which SQLite cannot make
            # in a read-only folder: read the file as it is instead, which makes none.
            try:
                db = self._connect("mode=ro&immutable=1")
            except sqlite3.DatabaseError:
                raise StoreError(f"{self.path}: cannot read the result store: {exc}") from None
        wal = Path(f"{self.path}-wal")
        if wal.is_file() and wal.stat().st_size:
            log.warning("%s: read without %s (%d bytes of the latest writes), which SQLite "
                        "cannot open here: the newest rows may be missing", self.path, wal.name,
                        wal.stat().st_size)
        return db

    def _connect(self, mode: str) -> sqlite3.Connection:
        """A connection to the file that can only read (``mode`` is the URI's query), checked
        by a first query: SQLite opens files lazily."""
        db = sqlite3.connect(f"{self.path.absolute().as_uri()}?{mode}", uri=True,
                             check_same_thread=False)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _check_file(self, *, must_exist: bool) -> None:
        """Refuse what is not a chatbench store, changing nothing (nor making -wal or -shm
        files beside another application's database).

        Nothing there, or an empty file or SQLite database, passes unless ``must_exist``:
        the writer makes the store there.

        Raises:
            StoreError: Missing (``must_exist``), unreadable, not SQLite, or a database
                holding other tables than chatbench's.
        """
        try:
            with self.path.open("rb") as file:
                header = file.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            if must_exist:
                raise StoreError(f"{self.path}: no such result store") from None
            return
        except OSError as exc:
            raise file_error(self.path, exc, "read the result store") from None
        if not header and not must_exist:
            return
        if header != _SQLITE_HEADER:
            what = "an empty file" if not header else "not a SQLite database"
            raise StoreError(f"{self.path}: not a chatbench result store ({what}); "
                             "it is left as it is")
        tables, columns = self._schema()
        if _STORE_COLUMNS <= columns or (not tables and not must_exist):
            return
        held = ", ".join(encodable(t) for t in sorted(tables)[:MAX_WARNED])
        more = ", ..." if len(tables) > MAX_WARNED else ""
        what = f"tables {held}{more}" if tables else "no tables"
        raise StoreError(f"{self.path}: not a chatbench result store (a SQLite database with "
                         f"{what}); it is left as it is")

    def _schema(self) -> tuple[list[str], set[str]]:
        """The file's tables and the columns of its ``conversations`` table.

        Read ``immutable`` (no lock taken, no file made) while no -wal file says a writer may
        be at work; read-only through SQLite's locks otherwise. Each is tried if the other
        fails (a torn read while a writer starts; -wal and -shm files SQLite cannot open).
        """
        modes = ["mode=ro&immutable=1", "mode=ro"]
        if Path(f"{self.path}-wal").exists():
            modes.reverse()
        error: sqlite3.DatabaseError | None = None
        for mode in modes:
            try:
                db = self._connect(mode)
                try:
                    tables = [name for (name,) in db.execute(
                        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
                    columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
                finally:
                    db.close()
            except sqlite3.DatabaseError as exc:
                error = exc
                continue
            return tables, columns
        if str(error) == "file is not a database":
            raise StoreError(f"{self.path}: not a chatbench result store ({error}); it is left "
                             "as it is")
        raise StoreError(f"{self.path}: cannot read the result store: {error}")

    def has_table(self, name: str) -> bool:
        """The store has this table (a store written by an older chatbench, opened
        read-only, may lack the newer ones)."""
        return name in self._tables

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
        """The runs in this store, oldest first.

        A run whose entry cannot be read (a configuration that is not a JSON object) is left
        out, with a logged warning naming it; ``run_ids`` still lists it.
        """
        if not self.has_table("runs"):
            return []
        rows = self._db.execute(
            "SELECT run_id, kind, config, started_at FROM runs ORDER BY rowid"
        ).fetchall()
        runs = []
        with self._skipping("run") as skip:
            for run_id, kind, config, started_at in rows:
                run = _stored_run(run_id, kind, config, started_at)
                if isinstance(run, StoredRun):
                    runs.append(run)
                else:
                    skip(run_id, run)
        return runs

    def run_ids(self) -> list[str]:
        """The ids of every run entry in this store, oldest first, readable or not."""
        if not self.has_table("runs"):
            return []
        return [str(r) for (r,) in self._db.execute("SELECT run_id FROM runs ORDER BY rowid")]

    def records(self, run_id: str | None = None) -> Iterator[ConversationRecord]:
        """Stored records, in insertion order, of one run or of all.

        A row that is no record this version can read (invalid or truncated JSON, an unknown
        field as a newer chatbench may write, a value of the wrong type) is skipped; when the
        reading ends, a logged warning names each one (after ``MAX_WARNED``, one line counts
        the rest).
        """
        query = "SELECT id, record FROM conversations"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (encodable(run_id),)
        with self._skipping("conversation") as skip:
            for row_id, raw in self._db.execute(query + " ORDER BY rowid", args):
                record = _parsed(ConversationRecord, raw)
                if isinstance(record, ConversationRecord):
                    yield record
                else:
                    skip(row_id, record)

    def record(self, record_id: str) -> ConversationRecord | None:
        """The stored record with this id; None when there is none.

        Raises:
            StoreError: Its row cannot be read (the message says why).
        """
        row = self._db.execute("SELECT record FROM conversations WHERE id = ?",
                               (encodable(record_id),)).fetchone()
        if row is None:
            return None
        record = _parsed(ConversationRecord, row[0])
        if isinstance(record, str):
            raise StoreError(f"{self.path}: conversation {record_id!r} cannot be read: {record}")
        return record

    @contextmanager
    def _skipping(self, what: str) -> Iterator[Callable[[object, str], None]]:
        """A ``skip(id, reason)`` to call for each unreadable row of a read; the rows skipped
        are logged when the block ends (also when the reader stops early)."""
        skipped: list[tuple[object, str]] = []
        try:
            yield lambda row_id, why: skipped.append((row_id, why))
        finally:
            for row_id, why in skipped[:MAX_WARNED]:
                log.warning("%s: %s %r cannot be read, skipped: %s", self.path, what, row_id,
                            why)
            rest = skipped[MAX_WARNED:]
            if rest:
                named = ", ".join(repr(row_id) for row_id, _ in rest[:MAX_WARNED])
                log.warning("%s: %d more unreadable %ss skipped: %s%s", self.path, len(rest),
                            what, named, ", ..." if len(rest) > MAX_WARNED else "")

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
            "SELECT DISTINCT variant, question_id, "
            f"CASE WHEN {_JSON_OBJECT} THEN json_extract(record, '$.models') END "
            "FROM conversations WHERE run_id = ?",
            (encodable(run_id),),
        ).fetchall()
        return [(variant, question, _json_object(models)) for variant, question, models in rows]

    def lost_ids(self, run_id: str) -> set[str]:
        """Ids of the run's rows whose record is no JSON object (truncated, overwritten):
        no version of chatbench can read them, so a resume or rerun runs those conversations
        again, replacing the rows.

        A row that is JSON but no record this version can read (an unknown field, as a newer
        chatbench may write; a value of another type) is not among them: it may hold a
        result that a newer version reads, which replacing it would destroy. Readers skip it
        with a warning, and resume leaves it as it is.
        """
        rows = self._db.execute(
            f"SELECT id FROM conversations WHERE run_id = ? AND NOT {_JSON_OBJECT}",
            (encodable(run_id),),
        )
        return {row[0] for row in rows}

    def summarize(self, run_id: str, by: str = "subject") -> list[Summary]:
        """``metrics.summarize_by(self.records(run_id), by)`` computed in SQLite, from the
        columns and two fields of each record's JSON: no record is loaded, so memory stays
        flat however many conversations the run has.

        Rows that are no JSON object (``lost_ids``) are left out, as readers leave them out.
        A row that is JSON but that ``records`` skips (an unknown field, as a newer chatbench
        may write) is still counted, from its columns.

        Args:
            run_id: The run.
            by: ``subject`` or ``variant``.

        Returns:
            One ``Summary`` per value (sorted), then one for all rows.
        """
        if by not in _GROUPS:
            raise ValueError(f"summarize groups by one of {_GROUPS}, not {by!r}")
        answered = ("stop_reason IS NOT 'error' AND json_extract(record, '$.final_choice', "
                    "'$.invalid_answer') IS NOT '[null,null]'")
        rows = self._db.execute(
            f"SELECT grp, COUNT(*), TOTAL(failed), TOTAL(answered), "
            f"TOTAL(answered AND verdict IS 'correct'), TOTAL(CASE WHEN failed THEN 0 "
            f"ELSE turns END), TOTAL(seconds) FROM (SELECT {by} AS grp, verdict, turns, "
            f"seconds, stop_reason IS 'error' AS failed, {answered} AS answered "
            f"FROM conversations WHERE run_id = ? AND {_JSON_OBJECT}) GROUP BY grp",
            (encodable(run_id),),
        ).fetchall()
        totals = {str(row[0]): [int(n) for n in row[1:5]] + [row[5], row[6]] for row in rows}
        overall = [sum(values) for values in zip(*totals.values(), strict=True)] or [0] * 6
        return [summary_from_totals(name, *totals[name]) for name in sorted(totals)] + [
            summary_from_totals("all", *overall)]

    def failure_kinds(self, run_id: str) -> list[tuple[str, int]]:
        """How the run's failed conversations failed: the start of each error (up to its
        first ``:``, usually the exception's name) and how many, most common first (ties in
        the order they were first stored). Computed in SQLite, like ``summarize``."""
        error = f"COALESCE(CASE WHEN {_JSON_OBJECT} THEN json_extract(record, '$.error') END, '')"
        rows = self._db.execute(
            "SELECT substr(e, 1, instr(e || ':', ':') - 1) AS kind, COUNT(*) AS n "
            f"FROM (SELECT rowid AS r, CAST({error} AS TEXT) AS e FROM conversations "
            f"WHERE run_id = ? AND stop_reason = 'error' AND {_JSON_OBJECT}) "
            "GROUP BY kind ORDER BY n DESC, MIN(r)",
            (encodable(run_id),),
        ).fetchall()
        return [(str(kind), int(n)) for kind, n in rows]

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
        """Stored AI-alone baseline records, in insertion order, of one run or of all.

        A row this version cannot read is skipped and named in a logged warning, as in
        ``records``.
        """
        query = "SELECT id, record FROM baselines"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (encodable(run_id),)
        with self._skipping("baseline record") as skip:
            for row_id, raw in self._db.execute(query + " ORDER BY rowid", args).fetchall():
                record = _parsed(BaselineRecord, raw)
                if isinstance(record, BaselineRecord):
                    yield record
                else:
                    skip(row_id, record)

    def baseline_ids(self, run_id: str | None = None) -> set[str]:
        """Ids of the stored AI-alone baseline records (of one run, if given)."""
        if run_id is None:
            return {row[0] for row in self._db.execute("SELECT id FROM baselines")}
        rows = self._db.execute(
            "SELECT id FROM baselines WHERE run_id = ?", (encodable(run_id),)
        )
        return {row[0] for row in rows}

    def failed_baseline_ids(self, run_id: str) -> set[str]:
        """Ids of the baseline run's stored answers whose model call failed (``error`` set),
        and of rows no version can read (not a JSON object): a rerun asks them again, unless
        told to keep them."""
        rows = self._db.execute(
            "SELECT id FROM baselines WHERE run_id = ? "
            f"AND (NOT {_JSON_OBJECT} OR json_extract(record, '$.error') IS NOT NULL)",
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


def _parsed(model: type[_Model], raw: object) -> _Model | str:
    """The record (a ``model``) a row's JSON holds, or why it cannot be read."""
    try:
        return model.model_validate_json(raw)  # type: ignore[arg-type]  # str or bytes from SQLite; anything else is caught
    except (ValidationError, TypeError, ValueError) as exc:
        return _why(exc)


def _why(exc: Exception) -> str:
    """A short reason why a stored row cannot be read (the first problem, and a count of
    the others)."""
    if not isinstance(exc, ValidationError):
        return encodable(f"{type(exc).__name__}: {exc}")[:200]
    errors = exc.errors(include_url=False, include_input=False)
    first, more = errors[0], len(errors) - 1
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        reason = "not valid JSON (truncated or overwritten?)"
    elif first["type"] == "extra_forbidden":
        reason = f"unknown field {where!r} (written by a newer chatbench?)"
    else:
        reason = f"{where or 'the record'}: {first['msg']}"
    return encodable(reason + (f" (and {more} more problems)" if more else ""))


def _stored_run(run_id: object, kind: object, config: object,
                started_at: object) -> StoredRun | str:
    """A ``runs`` row as a ``StoredRun``, or why it cannot be read."""
    try:  # json.loads: write_run escapes lone surrogates as JSON does, which it reads back
        data = json.loads(config)  # type: ignore[arg-type]  # str or bytes; anything else is caught
    except (TypeError, ValueError) as exc:
        return encodable(f"its configuration is not valid JSON ({exc})")[:200]
    if not isinstance(data, dict):
        return f"its configuration is a JSON {type(data).__name__}, not an object"
    if not all(isinstance(v, str) for v in (run_id, kind, started_at)):
        return "its kind or start time is not text"
    return StoredRun(str(run_id), str(kind), data, str(started_at))


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
