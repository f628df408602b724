"""``SampleTable``: the realism scorecard's simulator calls (first prompts, answers given a real
transcript) in the ``samples`` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from chatbench._text import encodable
from chatbench.records import SampleRecord
from chatbench.storage.connection import StoreConnection
from chatbench.storage.rows import parsed, record_json
from chatbench.storage.schema import JSON_OBJECT


class SampleTable(StoreConnection):
    """The scorecard samples of a store."""

    def write_sample(self, record: SampleRecord) -> None:
        """Insert or replace one sample and commit it.

        Raises:
            UnstorableRecordError: This record cannot be stored as it is.
            StoreError: The file cannot be written.
        """
        self._insert("samples", (record.id, record.run_id, record.kind, record.question_id,
                                 int(record.error is not None), record_json(record)),
                     f"sample {encodable(record.id)!r}")

    def _sample_rows(self, query: str, run_id: str) -> list[tuple[object, ...]]:
        try:
            return self._db.execute(query, (encodable(run_id),)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store read-only from before the table
                return []
            raise

    def samples(self, run_id: str) -> Iterator[SampleRecord]:
        """A run's stored samples, in insertion order (unreadable rows skipped and named in
        a logged warning, as in ``records``)."""
        rows = self._sample_rows("SELECT id, record FROM samples WHERE run_id = ? "
                                 "ORDER BY rowid", run_id)
        with self._skipping("sample") as skip:
            for row_id, raw in rows:
                record = parsed(SampleRecord, raw)
                if isinstance(record, SampleRecord):
                    yield record
                else:
                    skip(row_id, record)

    def sample_ids(self, run_id: str) -> set[str]:
        """Ids of a run's stored samples."""
        return {str(row[0]) for row in
                self._sample_rows("SELECT id FROM samples WHERE run_id = ?", run_id)}

    def failed_sample_ids(self, run_id: str) -> set[str]:
        """Ids of a run's failed samples and of rows no version can read: asked again."""
        return {str(row[0]) for row in self._sample_rows(
            f"SELECT id FROM samples WHERE run_id = ? AND (failed OR NOT {JSON_OBJECT})",
            run_id)}
