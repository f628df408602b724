"""A stored row as a record, or the short reason why it cannot be read; a record as the JSON a
row stores."""

from __future__ import annotations

import json

from pydantic import ValidationError

from chatbench._text import encodable, model_json
from chatbench.records import BaselineRecord, ConversationRecord, SampleRecord
from chatbench.storage.schema import Model, StoredRun, UnstorableRecordError


def parsed(model: type[Model], raw: object) -> Model | str:
    """The record (a ``model``) a row's JSON holds, or why it cannot be read."""
    try:
        return model.model_validate_json(raw)  # type: ignore[arg-type]  # str or bytes from SQLite; anything else is caught
    except (ValidationError, TypeError, ValueError) as exc:
        return unreadable_reason(exc)


def unreadable_reason(exc: Exception) -> str:
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


def stored_run(run_id: object, kind: object, config: object,
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


def json_object(text: str | None) -> dict[str, str] | None:
    """A JSON object's text as a dict; None for anything else."""
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def record_json(record: ConversationRecord | BaselineRecord | SampleRecord) -> str:
    """The record's JSON (lone surrogates escaped).

    Raises:
        UnstorableRecordError: A field holds something JSON cannot.
    """
    try:
        return model_json(record)
    except Exception as exc:  # pydantic raises PydanticSerializationError, ValueError...
        raise UnstorableRecordError(f"record {encodable(record.id)!r}: {exc}") from None
