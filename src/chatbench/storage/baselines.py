"""``BaselineTable``: writing and reading the AI-alone baseline records of the ``baselines``
table."""

from __future__ import annotations

from collections.abc import Iterator

from chatbench._text import encodable
from chatbench.records import BaselineRecord
from chatbench.storage.connection import StoreConnection
from chatbench.storage.rows import parsed, record_json
from chatbench.storage.schema import JSON_OBJECT


class BaselineTable(StoreConnection):
    """The AI-alone baseline records of a store."""

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
            record_json(record),
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
                record = parsed(BaselineRecord, raw)
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
            f"AND (NOT {JSON_OBJECT} OR json_extract(record, '$.error') IS NOT NULL)",
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
