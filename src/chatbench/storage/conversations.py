"""``ConversationTable``: writing and reading the ``conversations`` table, and the summaries
SQLite computes over it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatbench._text import encodable, encodable_data
from chatbench.records import ConversationRecord
from chatbench.storage.connection import StoreConnection
from chatbench.storage.rows import json_object, parsed, record_json, unreadable_reason
from chatbench.storage.schema import GROUPS, JSON_OBJECT, SPEC_INLINE_CHARS, StoreError

_SPEC_REF = '"spec_ref":'
"""What a row that refers to a stored spec holds (a cheap test before parsing it)."""
_NO_SPEC = '"spec":{}'
"""An empty spec in a record's JSON: where ``_referring_json`` puts the reference."""


def _referring_json(record: ConversationRecord, digest: str) -> str:
    """The record's JSON with ``"spec_ref": digest`` in place of its spec.

    Raises:
        UnstorableRecordError: A field holds something JSON cannot.
    """
    text = record_json(record.model_copy(update={"spec": {}}))
    # The first '"spec":{}' is the field: only text (escaped) and numbers come before it.
    at = text.find(_NO_SPEC)
    if at < 0:
        return record_json(record)
    return f"{text[:at]}{_SPEC_REF}{json.dumps(digest)}{text[at + len(_NO_SPEC):]}"


class ConversationTable(StoreConnection):
    """The conversation records of a store.

    A graph spec longer than ``SPEC_INLINE_CHARS`` (a long ``description``, many scripted
    turns) is stored once, in the ``specs`` table, and each of its rows refers to it; readers
    fill it back in, so every record reads as it was written.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        super().__init__(path, read_only=read_only)
        self._written_specs: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
        """(run id, variant) -> the spec last written for it here, and its digest in the
        ``specs`` table (None: kept in the row)."""
        self._read_specs: dict[str, dict[str, Any] | None] = {}
        """Digest -> the spec the ``specs`` table holds (None: none)."""

    def write(self, record: ConversationRecord) -> None:
        """Insert or replace one record and commit it.

        Text SQLite cannot hold (lone surrogates) is stored backslash-escaped. A long spec is
        stored once (``SPEC_INLINE_CHARS``), in the record's transaction.

        Raises:
            UnstorableRecordError: This record cannot be stored as it is.
            StoreError: The file cannot be written (read-only, locked, full).
        """
        digest, new_spec = self._spec_row(record)
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
            record_json(record) if digest is None else _referring_json(record, digest),
        ), f"record {encodable(record.id)!r}", kept=[("specs", new_spec)] if new_spec else ())
        self._written_specs[(record.run_id, record.variant)] = (record.spec, digest)

    def _spec_row(self, record: ConversationRecord) -> tuple[str | None, tuple[str, str] | None]:
        """The digest under which ``record``'s spec is stored (None: in the row), and the
        ``specs`` row to write with it (None: written already, or none)."""
        known = self._written_specs.get((record.run_id, record.variant))
        if known is not None and known[0] == record.spec:  # the usual case: no JSON made
            return known[1], None
        try:
            text = json.dumps(encodable_data(record.spec), ensure_ascii=False,
                              separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):  # not JSON data: the row's writer says why
            return None, None
        if len(text) <= SPEC_INLINE_CHARS:
            return None, None
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return digest, (digest, text)

    def _conversation(self, raw: object) -> ConversationRecord | str:
        """The record a row's JSON holds, its spec filled in from the ``specs`` table when
        the row refers to it; or why it cannot be read."""
        if not (isinstance(raw, str) and _SPEC_REF in raw):
            return parsed(ConversationRecord, raw)
        try:
            data = json.loads(raw)
        except ValueError:
            return parsed(ConversationRecord, raw)  # says why, as for any row
        if not (isinstance(data, dict) and "spec_ref" in data):  # the key only in a value
            return parsed(ConversationRecord, raw)
        digest = data.pop("spec_ref")
        spec = self._stored_spec(digest) if isinstance(digest, str) else None
        if spec is None:
            return encodable(f"its graph spec {str(digest)[:16]!r} is not in the store's specs "
                             "table")
        if "spec" in data:
            return "it holds both a spec and a spec_ref"
        try:
            return ConversationRecord.model_validate({**data, "spec": spec})
        except ValidationError as exc:
            return unreadable_reason(exc)

    def _stored_spec(self, digest: str) -> dict[str, Any] | None:
        """The spec stored under ``digest`` (read once per store object); None when there
        is none."""
        if digest not in self._read_specs:
            try:
                row = self._db.execute("SELECT spec FROM specs WHERE digest = ?",
                                       (digest,)).fetchone()
            except sqlite3.OperationalError:  # no specs table: a store from before them
                row = None
            spec = json_object(row[0]) if row is not None else None
            self._read_specs[digest] = spec
        return self._read_specs[digest]

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
                record = self._conversation(raw)
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
        record = self._conversation(row[0])
        if isinstance(record, str):
            raise StoreError(f"{self.path}: conversation {record_id!r} cannot be read: {record}")
        return record

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
            f"CASE WHEN {JSON_OBJECT} THEN json_extract(record, '$.models') END "
            "FROM conversations WHERE run_id = ?",
            (encodable(run_id),),
        ).fetchall()
        return [(variant, question, json_object(models)) for variant, question, models in rows]

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
            f"SELECT id FROM conversations WHERE run_id = ? AND NOT {JSON_OBJECT}",
            (encodable(run_id),),
        )
        return {row[0] for row in rows}

    def question_counts(self, run_id: str, by: str = "subject") -> list[tuple[Any, ...]]:
        """Per group and question, counted in SQLite from the columns and two fields of each
        record's JSON (no record is loaded, so memory stays flat however many conversations
        the run has): ``(group, question_id, conversations, scored, answered, correct,
        turns, seconds)``, turns summed over the scored ones. ``metrics.summarize_store``
        makes the run's summary of them.

        Rows that are no JSON object (``lost_ids``) are left out, as readers leave them out.
        A row that is JSON but that ``records`` skips (an unknown field, as a newer chatbench
        may write) is still counted, from its columns.

        Args:
            run_id: The run.
            by: ``subject`` or ``variant``.
        """
        if by not in GROUPS:
            raise ValueError(f"summaries group by one of {GROUPS}, not {by!r}")
        # as ConversationRecord.answered: a scenario's is decided (every criterion judged)
        answered = ("stop_reason IS NOT 'error' AND CASE WHEN json_extract(record, '$.task') "
                    "IS 'scenario' THEN verdict IS NOT 'no_answer' ELSE json_extract(record, "
                    "'$.final_choice', '$.invalid_answer') IS NOT '[null,null]' END")
        rows = self._db.execute(
            f"SELECT grp, question_id, COUNT(*), TOTAL(NOT failed), TOTAL(answered), "
            f"TOTAL(answered AND verdict IS 'correct'), TOTAL(CASE WHEN failed THEN 0 "
            f"ELSE turns END), TOTAL(seconds) FROM (SELECT {by} AS grp, question_id, verdict, "
            f"turns, seconds, stop_reason IS 'error' AS failed, {answered} AS answered "
            f"FROM conversations WHERE run_id = ? AND {JSON_OBJECT}) "
            f"GROUP BY grp, question_id",
            (encodable(run_id),),
        ).fetchall()
        return [(str(g), str(q), int(n), int(s), int(a), int(c), t, sec)
                for g, q, n, s, a, c, t, sec in rows]

    def failure_kinds(self, run_id: str) -> list[tuple[str, int]]:
        """How the run's failed conversations failed: the start of each error (up to its
        first ``:``, usually the exception's name) and how many, most common first (ties in
        the order they were first stored). Computed in SQLite, like ``question_counts``."""
        error = f"COALESCE(CASE WHEN {JSON_OBJECT} THEN json_extract(record, '$.error') END, '')"
        rows = self._db.execute(
            "SELECT substr(e, 1, instr(e || ':', ':') - 1) AS kind, COUNT(*) AS n "
            f"FROM (SELECT rowid AS r, CAST({error} AS TEXT) AS e FROM conversations "
            f"WHERE run_id = ? AND stop_reason = 'error' AND {JSON_OBJECT}) "
            "GROUP BY kind ORDER BY n DESC, MIN(r)",
            (encodable(run_id),),
        ).fetchall()
        return [(str(kind), int(n)) for kind, n in rows]
