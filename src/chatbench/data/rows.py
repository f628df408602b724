"""Rows of a user's data file: CSV records, field checks, and the one validation every row goes
through, each problem reported against the file, line and field."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from chatbench._yaml import shorten
from chatbench.data.question import LETTERS, Question
from chatbench.errors import ConfigError


class BadField(Exception):
    """A field value is wrong; the caller adds the file and line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def csv_records(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, fields)`` for each non-blank CSV record; ``line`` is where it starts.

    Raises:
        ConfigError: The CSV is malformed (e.g. an unclosed quote).
    """
    return csv_rows(io.StringIO(text, newline=""), name, len(text))


def csv_rows(
    lines: Iterable[str], name: str, longest: int
) -> Iterator[tuple[int, list[str]]]:
    """``csv_records`` of a file read line by line (``_files.read_lines``): rows are parsed
    as they are reached, so a caller that stops early reads no further.

    Args:
        lines: The file's lines, line endings kept.
        name: The file, for messages.
        longest: No field is longer than this (the file's size): the csv module's own field
            limit is raised to it.

    Raises:
        ConfigError: The CSV is malformed (e.g. an unclosed quote).
    """
    # No field limit of the csv module's own (128 KiB by default, process-wide): questions
    # from every format share the limits of ``Question``. No field is longer than the text.
    if csv.field_size_limit() <= longest:
        csv.field_size_limit(min(longest + 1, 2**31 - 1))
    reader = csv.reader(lines, strict=True)
    start = 1
    try:
        for row in reader:
            if row:
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ConfigError(f"{name}, line {start}: malformed CSV: {exc}") from None


def unique_columns(
    header: Sequence[str], name: str, line: int, *, ignore_case: bool = False
) -> None:
    """Refuse a header that names a column twice (after ``strip``; ignoring case where the
    reader does): one of the two would be read and the other silently dropped.

    Raises:
        ConfigError: A column repeats; the message names the file, line and column.
    """
    first: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        key = column.strip().lower() if ignore_case else column.strip()
        if not key:  # no name: no reader asks for it (an unnamed index column)
            continue
        if key in first:
            raise ConfigError(
                f"{name}, line {line}: column {shorten(column.strip(), 60)!r} appears twice "
                f"(columns {first[key]} and {position}); each column may appear once")
        first[key] = position


def answer_letter(value: object, n_choices: int) -> str:
    """Turn a letter (any case) or a 0-based int index into the answer letter.

    Raises:
        BadField: The value names no option.
    """
    letters = LETTERS[:n_choices]
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < n_choices:
            return letters[value]
        raise BadField("answer", f"{value} is not a valid option index (0-{n_choices - 1})")
    if isinstance(value, str) and value.strip().upper() in tuple(letters):
        return value.strip().upper()
    raise BadField("answer", f"{value!r} is not one of the option letters {letters}")


def checked_choices(value: object, field: str = "choices") -> tuple[str, ...]:
    """Check that ``value`` is a list of 2 to 26 option texts.

    Raises:
        BadField: It is not.
    """
    if not isinstance(value, (list, tuple)):
        raise BadField(field, f"expected a list of option texts, got {type(value).__name__}")
    if not 2 <= len(value) <= len(LETTERS):
        raise BadField(field, f"expected 2 to {len(LETTERS)} options, got {len(value)}")
    texts = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise BadField(field, f"option {i} is {type(item).__name__}, expected text")
        texts.append(str(item))
    return tuple(texts)


def checked_text(value: object, field: str) -> str:
    """Check that ``value`` is non-empty text.

    Raises:
        BadField: It is not.
    """
    if not isinstance(value, str):
        raise BadField(field, f"expected text, got {type(value).__name__}")
    if not value.strip():
        raise BadField(field, "is empty")
    return value


Row = TypeVar("Row", bound=BaseModel)


def validated_row(model: type[Row], where: str, fields: dict[str, object]) -> Row:
    """Build a ``model`` from one row of a user's file, reporting its first problem against
    ``where`` (the file and line) and the field.

    Raises:
        ConfigError: The fields do not make a valid ``model``.
    """
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        prefix = f"{where}: field {field!r}: " if field else f"{where}: "
        raise ConfigError(prefix + error["msg"].removeprefix("Value error, ")) from None


def checked_question(where: str, **fields: object) -> Question:
    """Build a ``Question``: the one validation every format's rows go through (non-empty
    id, question and options; the same length limits), reporting a problem against ``where``.

    Raises:
        ConfigError: The fields do not make a valid question.
    """
    return validated_row(Question, where, fields)


def quoted_names(names: Sequence[str], limit: int = 8) -> str:
    """Up to ``limit`` names (each cut to 40 characters), quoted, for a message."""
    shown = [repr(name if len(name) <= 40 else name[:40] + "...") for name in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more
