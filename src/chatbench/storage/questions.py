"""``QuestionTable``: the questions each run asked (stem, options, answer), stored when the run
is claimed, so that ``chatbench show`` and the report read them from the store, never from a
questions file that may have moved or changed since."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from chatbench._text import encodable
from chatbench.data.scenario import Task, task_from_data
from chatbench.storage.connection import StoreConnection
from chatbench.storage.schema import StoreError


class QuestionTable(StoreConnection):
    """The questions of a store's runs."""

    def write_questions(self, run_id: str, questions: Iterable[Task]) -> None:
        """Keep the questions ``run_id`` asks (a question stored for the run already stays:
        a run's identity holds its questions' content, so they cannot differ).

        Raises:
            StoreError: The file cannot be written.
        """
        rows = [(encodable(run_id), encodable(q.id), encodable(q.model_dump_json()))
                for q in questions]
        try:
            with self._sqlite(f"write the questions of run {encodable(run_id)!r}"), self._db:
                self._db.executemany("INSERT OR IGNORE INTO questions VALUES (?, ?, ?)", rows)
        except (sqlite3.DataError, ValueError) as exc:
            raise StoreError(f"{self.path}: the questions of run {encodable(run_id)!r} "
                             f"cannot be stored: {exc}") from None

    def question(self, run_id: str, question_id: str) -> Task | None:
        """The question (or scenario) ``run_id`` asked under ``question_id``; None when the
        store has none (a run stored by an older chatbench, or a row no version can read)."""
        try:
            row = self._db.execute("SELECT question FROM questions WHERE run_id = ? AND id = ?",
                                   (encodable(run_id), encodable(question_id))).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a store read-only from before the table
                return None
            raise
        if row is None:
            return None
        try:
            return task_from_data(json.loads(row[0]))
        except ValueError:
            return None
