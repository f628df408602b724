"""``ConversationTable``: writing and reading the ``conversations`` table, and the summaries
SQLite computes over it."""

from __future__ import annotations

from collections.abc import Iterator

from chatbench._text import encodable
from chatbench.records import ConversationRecord
from chatbench.scoring.metrics import Summary, summary_from_totals
from chatbench.storage.connection import StoreConnection
from chatbench.storage.rows import _json_object, _parsed, _record_json
from chatbench.storage.schema import _GROUPS, _JSON_OBJECT, StoreError


class ConversationTable(StoreConnection):
    """The conversation records of a store."""

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
