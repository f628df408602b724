"""Question file formats: headerless MMLU CSV, MMLU-Redux CSV and JSONL, parsed into
``Question``s, and the bundled data files (with the paper's ids of Redux rows)."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from importlib.resources import files

from chatbench import _json as strict_json
from chatbench.data.question import Question
from chatbench.data.rows import (
    BadField,
    answer_letter,
    checked_choices,
    checked_question,
    checked_text,
    csv_records,
    quoted_names,
    unique_columns,
)
from chatbench.errors import ConfigError

TEST_ID_SUBJECTS: tuple[str, ...] = ("high_school_mathematics", "college_mathematics")
"""Subjects whose ChatBench question ids are MMLU test ids, ``{subject}-test-{row}``.

The paper took these two subjects' questions from MMLU's test CSVs and the other three from
MMLU-Redux (``{subject}-redux-{row}``); see ``convert_mmlu_id_to_mmlu_redux_id`` in its
``constants_and_utils.py``. A Redux row of these subjects gets the id of the MMLU test row
with the same question, options and answer (``mmlu_redux_test_rows.csv``, bundled)."""

TEST_ROWS_FILE = "mmlu_redux_test_rows.csv"

MMLU_FIELDS = ("question", "A", "B", "C", "D", "answer")
REDUX_REQUIRED = ("question", "choices", "answer")
REDUX_COLUMNS = (*REDUX_REQUIRED, "error_type", "source", "correct_answer", "potential_reason")
"""MMLU-Redux's columns; only ``error_type`` (besides the question) is read."""
JSONL_REQUIRED = ("id", "question", "choices", "answer")
JSONL_FIELDS = ("id", "subject", "question", "choices", "answer")
SPLIT_SUFFIX = re.compile(r"(?P<subject>.+?)_(?P<split>test|dev|val)")


def bundled_text(*parts: str) -> str:
    """Read a bundled data file under ``chatbench/_data/questions``."""
    resource = files("chatbench") / "_data" / "questions"
    for part in parts:
        resource = resource / part
    return resource.read_text(encoding="utf-8-sig")


def content_key(stem: str, choices: Sequence[str], answer: str) -> str:
    """A short hash of a question's text, options and answer letter: how rows are matched.

    Example:
        >>> content_key("2+2?", ["3", "4"], "B")
        'ab466c850ea804aa'
    """
    text = json.dumps([stem, *choices, answer], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@functools.cache
def mmlu_test_rows() -> dict[tuple[str, str], int]:
    """``{(subject, content_key): MMLU test row}`` for the bundled Redux rows found in MMLU.

    Computed once from MMLU's test CSVs by exact match of question, options and answer, and
    bundled; rows with no match are not in it.
    """
    records = csv_records(bundled_text(TEST_ROWS_FILE), TEST_ROWS_FILE)
    _, header = next(records)
    subject, key, test_row = (header.index(c) for c in ("subject", "content_key", "mmlu_test_row"))
    return {(row[subject], row[key]): int(row[test_row]) for _, row in records if row[test_row]}


def redux_id(subject: str, row: int, stem: str, choices: Sequence[str], answer: str) -> str:
    """The paper's id of a Redux row: its MMLU test id for ``TEST_ID_SUBJECTS`` when MMLU has
    the same question, else ``{subject}-redux-{row}``."""
    if subject in TEST_ID_SUBJECTS:
        test_row = mmlu_test_rows().get((subject, content_key(stem, choices, answer)))
        if test_row is not None:
            return f"{subject}-test-{test_row}"
    return f"{subject}-redux-{row}"


def parse_mmlu(text: str, name: str, subject: str, split: str) -> list[Question]:
    """Parse a headerless MMLU CSV (question, A, B, C, D, answer letter).

    Raises:
        ConfigError: A record is malformed or the file has no questions.
    """
    return list(mmlu_questions(csv_records(text, name), name, subject, split))


def mmlu_questions(
    records: Iterable[tuple[int, list[str]]], name: str, subject: str, split: str
) -> Iterator[Question]:
    """``parse_mmlu`` of CSV records, one question at a time (as they are read).

    Raises:
        ConfigError: A record is malformed, or the file ends with no questions.
    """
    count = 0
    for i, (line, row) in enumerate(records):
        where = f"{name}, line {line}"
        if len(row) != len(MMLU_FIELDS):
            raise ConfigError(
                f"{where}: expected {len(MMLU_FIELDS)} fields "
                f"({', '.join(MMLU_FIELDS)}), got {len(row)}"
            )
        try:
            stem = checked_text(row[0], "question")
            choices = checked_choices(row[1:5])
            answer = answer_letter(row[5], len(choices))
        except BadField as exc:
            raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
        count += 1
        yield checked_question(
            where,
            id=f"{subject}-{split}-{i}",
            subject=subject,
            stem=stem,
            choices=choices,
            answer=answer,
        )
    if not count:
        raise ConfigError(f"{name}: no questions in the file")


def redux_columns(header: list[str], name: str, line: int) -> dict[str, int]:
    """Map the lower-cased column names of a Redux header to their positions.

    Raises:
        ConfigError: A required column is missing, or a column repeats.
    """
    unique_columns(header, name, line, ignore_case=True)
    columns = {column.strip().lower(): i for i, column in enumerate(header)}
    missing = [column for column in (*REDUX_REQUIRED, "error_type") if column not in columns]
    if missing:
        raise ConfigError(
            f"{name}, line {line}: missing column(s) {', '.join(map(repr, missing))}; "
            f"the header has {quoted_names(header)}"
        )
    unknown = [column for column in header if column.strip().lower() not in REDUX_COLUMNS]
    if unknown:
        raise ConfigError(
            f"{name}, line {line}: unknown column(s) {quoted_names(unknown)}; "
            f"an MMLU-Redux file has {', '.join(REDUX_COLUMNS)}"
        )
    return columns


def redux_choices(raw: str) -> tuple[str, ...]:
    """Parse the Python-list string of a Redux ``choices`` cell.

    Raises:
        BadField: It is not a list literal of option texts.
    """
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise BadField(
            "choices", f"{raw[:60]!r} is not a Python list of strings like ['a', 'b']"
        ) from None
    return checked_choices(value)


def redux_answer(raw: str, n_choices: int) -> str:
    """Turn a Redux ``answer`` cell (a 0-based index; a letter is also accepted) into a letter.

    Raises:
        BadField: It names no option.
    """
    cell = raw.strip()
    return answer_letter(int(cell) if re.fullmatch(r"-?\d+", cell) else cell, n_choices)


def parse_redux(text: str, name: str, subject: str, include_flagged: bool) -> list[Question]:
    """Parse an MMLU-Redux CSV (header with question, choices, answer, error_type).

    Ids are the paper's (``redux_id``).

    Raises:
        ConfigError: A column is missing, a record is malformed or the file has no questions.
    """
    return list(redux_questions(csv_records(text, name), name, subject, include_flagged))


def redux_questions(
    records: Iterable[tuple[int, list[str]]], name: str, subject: str, include_flagged: bool
) -> Iterator[Question]:
    """``parse_redux`` of CSV records, one question at a time (as they are read).

    Raises:
        ConfigError: A column is missing or repeats, a record is malformed, or the file ends
            with no data rows.
    """
    records = iter(records)
    header_line, header = next(records, (1, []))
    columns = redux_columns(header, name, header_line)
    rows = 0
    for i, (line, row) in enumerate(records):
        rows += 1
        where = f"{name}, line {line}"
        if len(row) != len(header):
            raise ConfigError(
                f"{where}: expected {len(header)} fields as in the header, got {len(row)}"
            )
        cell = {column: row[index] for column, index in columns.items()}
        try:
            stem = checked_text(cell["question"], "question")
            choices = redux_choices(cell["choices"])
            answer = redux_answer(cell["answer"], len(choices))
        except BadField as exc:
            raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
        question = checked_question(
            where,
            id=redux_id(subject, i, stem, choices, answer),
            subject=subject,
            stem=stem,
            choices=choices,
            answer=answer,
        )
        if include_flagged or cell["error_type"].strip().lower() == "ok":
            yield question
    if not rows:
        raise ConfigError(f"{name}: no questions in the file")


def jsonl_question(obj: object, where: str) -> Question:
    """Build a ``Question`` from one decoded JSONL object.

    Raises:
        ConfigError: A field is missing or wrong.
    """
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [key for key in JSONL_REQUIRED if key not in obj]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    unknown = [key for key in obj if key not in JSONL_FIELDS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {quoted_names(unknown)}; a question has "
            f"{', '.join(JSONL_FIELDS)}"
        )
    try:
        qid = obj["id"]
        if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
            raise BadField("id", f"expected non-empty text or an integer, got {qid!r}")
        stem = checked_text(obj["question"], "question")
        choices = checked_choices(obj["choices"])
        answer = answer_letter(obj["answer"], len(choices))
        subject = "" if obj.get("subject") is None else obj["subject"]
        if not isinstance(subject, str):
            raise BadField("subject", f"expected text, got {type(subject).__name__}")
    except BadField as exc:
        raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
    return checked_question(where, id=str(qid), subject=subject, stem=stem, choices=choices,
                            answer=answer)


def parse_jsonl(text: str, name: str) -> list[Question]:
    """Parse JSONL questions, one object per line; blank lines are skipped.

    Raises:
        ConfigError: A line is not valid JSON (a key given twice included), a field is wrong,
            an id repeats, or there are no questions.
    """
    return list(jsonl_questions(text.split("\n"), name))


def jsonl_questions(lines: Iterable[str], name: str) -> Iterator[Question]:
    """``parse_jsonl`` of a file's lines, one question at a time (as they are read). Ids
    are checked for repeats among the lines read so far.

    Raises:
        ConfigError: As ``parse_jsonl``; no questions once the lines run out.
    """
    first_line: dict[str, int] = {}
    for line_no, where, obj in strict_json.jsonl_values(lines, name):
        question = jsonl_question(obj, where)
        if question.id in first_line:
            raise ConfigError(
                f"{where}: field 'id': duplicate id {question.id!r} "
                f"(already used on line {first_line[question.id]})"
            )
        first_line[question.id] = line_no
        yield question
    if not first_line:
        raise ConfigError(f"{name}: no questions in the file")
