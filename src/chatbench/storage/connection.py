"""``StoreConnection``: opening a store file (refusing what is not a chatbench store), SQLite's
errors as one ``StoreError`` line, and the row writing and skipping every table shares."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from chatbench._files import file_error
from chatbench._text import encodable
from chatbench.storage.schema import (
    MAX_WARNED,
    SCHEMA,
    SQLITE_HEADER,
    STORE_COLUMNS,
    StoreError,
    UnstorableRecordError,
    log,
)


class StoreConnection:
    """A SQLite file that is a chatbench store: opened, checked, written row by row; the
    tables' readers and writers build on it (``ResultStore``)."""

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
                db.executescript(SCHEMA)
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
                header = file.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            if must_exist:
                raise StoreError(f"{self.path}: no such result store") from None
            return
        except OSError as exc:
            raise file_error(self.path, exc, "read the result store") from None
        if not header and not must_exist:
            return
        if header != SQLITE_HEADER:
            what = "an empty file" if not header else "not a SQLite database"
            raise StoreError(f"{self.path}: not a chatbench result store ({what}); "
                             "it is left as it is")
        tables, columns = self._schema()
        if STORE_COLUMNS <= columns or (not tables and not must_exist):
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

    def _insert(self, table: str, row: Sequence[object], what: str,
                kept: Sequence[tuple[str, Sequence[object]]] = ()) -> None:
        """Insert or replace one row and commit it; strings are made ``encodable``.

        Args:
            kept: (table, row) pairs inserted first, in the same transaction, unless a row
                with their key is there (``INSERT OR IGNORE``): what the row refers to.

        Raises:
            UnstorableRecordError: SQLite refuses a value of this row.
            StoreError: The file cannot be written.
        """
        values = tuple(encodable(v) if isinstance(v, str) else v for v in row)
        marks = ",".join("?" * len(values))
        try:
            with self._sqlite(f"write {what}"), self._db:
                for other, other_row in kept:
                    self._db.execute(f"INSERT OR IGNORE INTO {other} VALUES "
                                     f"({','.join('?' * len(other_row))})", tuple(other_row))
                self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", values)
        except (sqlite3.InterfaceError, sqlite3.DataError, sqlite3.IntegrityError, OverflowError,
                ValueError) as exc:
            raise UnstorableRecordError(f"{what}: {type(exc).__name__}: {exc}") from None

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

    def close(self) -> None:
        """Close the database."""
        self._db.close()
