"""``RunTable``: each run's configuration (what ``--resume`` replans) and identity (what its results
depend on), in the ``runs`` and ``run_identities`` tables."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from chatbench._text import encodable
from chatbench.storage.connection import StoreConnection
from chatbench.storage.rows import stored_run
from chatbench.storage.schema import StoredRun


class RunTable(StoreConnection):
    """The run entries of a store."""

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
                run = stored_run(run_id, kind, config, started_at)
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
