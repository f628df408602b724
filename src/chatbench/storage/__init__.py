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

``schema`` holds the tables (the file format) and errors; ``connection`` opens and checks the
file; ``conversations``, ``runs`` and ``baselines`` read and write their tables; ``store``
joins them as ``ResultStore``. Every name stays importable from here.
"""

# The public names of this part of the package, importable from one place (no private ones).
# ruff: noqa: F401

from __future__ import annotations

import sqlite3  # kept as an attribute: tests patch chatbench.storage.sqlite3.connect

from chatbench.storage.baselines import BaselineTable
from chatbench.storage.connection import StoreConnection
from chatbench.storage.conversations import ConversationTable
from chatbench.storage.rows import json_object, parsed, record_json, stored_run, unreadable_reason
from chatbench.storage.runs import RunTable
from chatbench.storage.schema import (
    GROUPS,
    JSON_OBJECT,
    MAX_WARNED,
    SCHEMA,
    SQLITE_HEADER,
    STORE_COLUMNS,
    Model,
    StoredRun,
    StoreError,
    UnstorableRecordError,
    log,
)
from chatbench.storage.store import ResultStore

__all__ = [
    "MAX_WARNED",
    "BaselineTable",
    "ConversationTable",
    "ResultStore",
    "RunTable",
    "StoreConnection",
    "StoreError",
    "StoredRun",
    "UnstorableRecordError",
]
