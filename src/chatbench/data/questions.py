"""Multiple-choice questions: the ``Question`` model and loaders for bundled and user files."""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import io
import itertools
import json
import re
import string
from collections.abc import Iterator, Sequence
from importlib.resources import files
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatbench._files import read_text
from chatbench.errors import ConfigError

LETTERS = string.ascii_uppercase
MAX_TEXT_CHARS = 1_000_000
"""Longest question or option text, in characters, whatever the file format."""
MAX_NAME_CHARS = 1_000
"""Longest question id or subject."""


class Question(BaseModel):
    """One multiple-choice question.

    Example:
        >>> q = Question(id="q1", subject="math", stem="2+2?", choices=("3", "4"), answer="B")
        >>> q.letters
        ('A', 'B')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Stable identifier, e.g. ``elementary_mathematics-redux-12``."""
    subject: str = ""
    """Subject or category, e.g. ``elementary_mathematics``."""
    stem: str
    """The question text."""
    choices: tuple[str, ...] = Field(min_length=2, max_length=26)
    """Option texts in order; option ``i`` has letter ``LETTERS[i]``."""
    answer: str
    """The correct option letter (upper case)."""

    @field_validator("id", "subject")
    @classmethod
    def _short_name(cls, value: str) -> str:
        if len(value) > MAX_NAME_CHARS:
            raise ValueError(f"{len(value)} characters; at most {MAX_NAME_CHARS}")
        return value

    @field_validator("id", "stem")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return _bounded_text(value)

    @field_validator("choices")
    @classmethod
    def _options_are_texts(cls, choices: tuple[str, ...]) -> tuple[str, ...]:
        for letter, text in zip(LETTERS, choices, strict=False):
            if not text.strip():
                raise ValueError(f"option {letter} is empty")
            _bounded_text(text, f"option {letter}")
        return choices

    @model_validator(mode="after")
    def _answer_is_a_letter_of_the_choices(self) -> Question:
        if self.answer not in self.letters:
            raise ValueError(
                f"answer {self.answer!r} is not one of the option letters {''.join(self.letters)}"
            )
        return self

    @property
    def letters(self) -> tuple[str, ...]:
        """The option letters, ``('A', 'B', ...)``."""
        return tuple(LETTERS[: len(self.choices)])

    def format(self) -> str:
        """The question with lettered options, one per line, as shown to users and models."""
        options = "\n".join(
            f"{letter}. {text}" for letter, text in zip(self.letters, self.choices, strict=True)
        )
        return f"{self.stem}\n{options}"


def _bounded_text(text: str, what: str = "text") -> str:
    """``text``, unless it is longer than ``MAX_TEXT_CHARS``.

    Raises:
        ValueError: It is.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{what} has {len(text)} characters; at most {MAX_TEXT_CHARS}")
    return text


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------

SUBJECTS: tuple[str, ...] = (
    "elementary_mathematics",
    "high_school_mathematics",
    "college_mathematics",
    "conceptual_physics",
    "moral_scenarios",
)
"""The five ChatBench subjects, in the order questions are interleaved."""

BUNDLED = "mmlu_redux"
"""The ``source`` name of the bundled MMLU-Redux questions."""

TEST_ID_SUBJECTS: tuple[str, ...] = ("high_school_mathematics", "college_mathematics")
"""Subjects whose ChatBench question ids are MMLU test ids, ``{subject}-test-{row}``.

The paper took these two subjects' questions from MMLU's test CSVs and the other three from
MMLU-Redux (``{subject}-redux-{row}``); see ``convert_mmlu_id_to_mmlu_redux_id`` in its
``constants_and_utils.py``. A Redux row of these subjects gets the id of the MMLU test row
with the same question, options and answer (``mmlu_redux_test_rows.csv``, bundled)."""

_TEST_ROWS_FILE = "mmlu_redux_test_rows.csv"

_MMLU_FIELDS = ("question", "A", "B", "C", "D", "answer")
_REDUX_REQUIRED = ("question", "choices", "answer")
_REDUX_COLUMNS = (*_REDUX_REQUIRED, "error_type", "source", "correct_answer", "potential_reason")
"""MMLU-Redux's columns; only ``error_type`` (besides the question) is read."""
_JSONL_REQUIRED = ("id", "question", "choices", "answer")
_JSONL_FIELDS = ("id", "subject", "question", "choices", "answer")
_SPLIT_SUFFIX = re.compile(r"(?P<subject>.+?)_(?P<split>test|dev|val)")


class _BadField(Exception):
    """A field value is wrong; the caller adds the file and line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _bundled_text(*parts: str) -> str:
    """Read a bundled data file under ``chatbench/_data/questions``."""
    resource = files("chatbench") / "_data" / "questions"
    for part in parts:
        resource = resource / part
    return resource.read_text(encoding="utf-8-sig")


def _csv_records(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, fields)`` for each non-blank CSV record; ``line`` is where it starts.

    Raises:
        ConfigError: The CSV is malformed (e.g. an unclosed quote).
    """
    # No field limit of the csv module's own (128 KiB by default, process-wide): questions
    # from every format share the limits of ``Question``. No field is longer than the text.
    if csv.field_size_limit() <= len(text):
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for row in reader:
            if row:
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ConfigError(f"{name}, line {start}: malformed CSV: {exc}") from None


def _answer_letter(value: object, n_choices: int) -> str:
    """Turn a letter (any case) or a 0-based int index into the answer letter.

    Raises:
        _BadField: The value names no option.
    """
    letters = LETTERS[:n_choices]
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < n_choices:
            return letters[value]
        raise _BadField("answer", f"{value} is not a valid option index (0-{n_choices - 1})")
    if isinstance(value, str) and value.strip().upper() in tuple(letters):
        return value.strip().upper()
    raise _BadField("answer", f"{value!r} is not one of the option letters {letters}")


def _choices(value: object, field: str = "choices") -> tuple[str, ...]:
    """Check that ``value`` is a list of 2 to 26 option texts.

    Raises:
        _BadField: It is not.
    """
    if not isinstance(value, (list, tuple)):
        raise _BadField(field, f"expected a list of option texts, got {type(value).__name__}")
    if not 2 <= len(value) <= len(LETTERS):
        raise _BadField(field, f"expected 2 to {len(LETTERS)} options, got {len(value)}")
    texts = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise _BadField(field, f"option {i} is {type(item).__name__}, expected text")
        texts.append(str(item))
    return tuple(texts)


def _text(value: object, field: str) -> str:
    """Check that ``value`` is non-empty text.

    Raises:
        _BadField: It is not.
    """
    if not isinstance(value, str):
        raise _BadField(field, f"expected text, got {type(value).__name__}")
    if not value.strip():
        raise _BadField(field, "is empty")
    return value


_Row = TypeVar("_Row", bound=BaseModel)


def validated_row(model: type[_Row], where: str, fields: dict[str, object]) -> _Row:
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


def _question(where: str, **fields: object) -> Question:
    """Build a ``Question``: the one validation every format's rows go through (non-empty
    id, question and options; the same length limits), reporting a problem against ``where``.

    Raises:
        ConfigError: The fields do not make a valid question.
    """
    return validated_row(Question, where, fields)


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
    records = _csv_records(_bundled_text(_TEST_ROWS_FILE), _TEST_ROWS_FILE)
    _, header = next(records)
    subject, key, test_row = (header.index(c) for c in ("subject", "content_key", "mmlu_test_row"))
    return {(row[subject], row[key]): int(row[test_row]) for _, row in records if row[test_row]}


def _redux_id(subject: str, row: int, stem: str, choices: Sequence[str], answer: str) -> str:
    """The paper's id of a Redux row: its MMLU test id for ``TEST_ID_SUBJECTS`` when MMLU has
    the same question, else ``{subject}-redux-{row}``."""
    if subject in TEST_ID_SUBJECTS:
        test_row = mmlu_test_rows().get((subject, content_key(stem, choices, answer)))
        if test_row is not None:
            return f"{subject}-test-{test_row}"
    return f"{subject}-redux-{row}"


def _parse_mmlu(text: str, name: str, subject: str, split: str) -> list[Question]:
    """Parse a headerless MMLU CSV (question, A, B, C, D, answer letter).

    Raises:
        ConfigError: A record is malformed or the file has no questions.
    """
    questions = []
    for i, (line, row) in enumerate(_csv_records(text, name)):
        where = f"{name}, line {line}"
        if len(row) != len(_MMLU_FIELDS):
            raise ConfigError(
                f"{where}: expected {len(_MMLU_FIELDS)} fields "
                f"({', '.join(_MMLU_FIELDS)}), got {len(row)}"
            )
        try:
            stem = _text(row[0], "question")
            choices = _choices(row[1:5])
            answer = _answer_letter(row[5], len(choices))
        except _BadField as exc:
            raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
        questions.append(
            _question(
                where,
                id=f"{subject}-{split}-{i}",
                subject=subject,
                stem=stem,
                choices=choices,
                answer=answer,
            )
        )
    if not questions:
        raise ConfigError(f"{name}: no questions in the file")
    return questions


def _redux_columns(header: list[str], name: str, line: int) -> dict[str, int]:
    """Map the lower-cased column names of a Redux header to their positions.

    Raises:
        ConfigError: A required column is missing.
    """
    columns = {column.strip().lower(): i for i, column in enumerate(header)}
    missing = [column for column in (*_REDUX_REQUIRED, "error_type") if column not in columns]
    if missing:
        raise ConfigError(
            f"{name}, line {line}: missing column(s) {', '.join(map(repr, missing))}; "
            f"the header has {_names(header)}"
        )
    unknown = [column for column in header if column.strip().lower() not in _REDUX_COLUMNS]
    if unknown:
        raise ConfigError(
            f"{name}, line {line}: unknown column(s) {_names(unknown)}; "
            f"an MMLU-Redux file has {', '.join(_REDUX_COLUMNS)}"
        )
    return columns


def _names(names: Sequence[str], limit: int = 8) -> str:
    """Up to ``limit`` names (each cut to 40 characters), quoted, for a message."""
    shown = [repr(name if len(name) <= 40 else name[:40] + "...") for name in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


def _redux_choices(raw: str) -> tuple[str, ...]:
    """Parse the Python-list string of a Redux ``choices`` cell.

    Raises:
        _BadField: It is not a list literal of option texts.
    """
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _BadField(
            "choices", f"{raw[:60]!r} is not a Python list of strings like ['a', 'b']"
        ) from None
    return _choices(value)


def _redux_answer(raw: str, n_choices: int) -> str:
    """Turn a Redux ``answer`` cell (a 0-based index; a letter is also accepted) into a letter.

    Raises:
        _BadField: It names no option.
    """
    cell = raw.strip()
    return _answer_letter(int(cell) if re.fullmatch(r"-?\d+", cell) else cell, n_choices)


def _parse_redux(text: str, name: str, subject: str, include_flagged: bool) -> list[Question]:
    """Parse an MMLU-Redux CSV (header with question, choices, answer, error_type).

    Ids are the paper's (``_redux_id``).

    Raises:
        ConfigError: A column is missing, a record is malformed or the file has no questions.
    """
    records = _csv_records(text, name)
    header_line, header = next(records, (1, []))
    columns = _redux_columns(header, name, header_line)
    questions = []
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
            stem = _text(cell["question"], "question")
            choices = _redux_choices(cell["choices"])
            answer = _redux_answer(cell["answer"], len(choices))
        except _BadField as exc:
            raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
        question = _question(
            where,
            id=_redux_id(subject, i, stem, choices, answer),
            subject=subject,
            stem=stem,
            choices=choices,
            answer=answer,
        )
        if include_flagged or cell["error_type"].strip().lower() == "ok":
            questions.append(question)
    if not rows:
        raise ConfigError(f"{name}: no questions in the file")
    return questions


def _jsonl_question(obj: object, where: str) -> Question:
    """Build a ``Question`` from one decoded JSONL object.

    Raises:
        ConfigError: A field is missing or wrong.
    """
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [key for key in _JSONL_REQUIRED if key not in obj]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    unknown = [key for key in obj if key not in _JSONL_FIELDS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {_names(unknown)}; a question has "
            f"{', '.join(_JSONL_FIELDS)}"
        )
    try:
        qid = obj["id"]
        if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
            raise _BadField("id", f"expected non-empty text or an integer, got {qid!r}")
        stem = _text(obj["question"], "question")
        choices = _choices(obj["choices"])
        answer = _answer_letter(obj["answer"], len(choices))
        subject = "" if obj.get("subject") is None else obj["subject"]
        if not isinstance(subject, str):
            raise _BadField("subject", f"expected text, got {type(subject).__name__}")
    except _BadField as exc:
        raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
    return _question(where, id=str(qid), subject=subject, stem=stem, choices=choices, answer=answer)


def _parse_jsonl(text: str, name: str) -> list[Question]:
    """Parse JSONL questions, one object per line; blank lines are skipped.

    Raises:
        ConfigError: A line is not valid JSON, a field is wrong, an id repeats, or there are
            no questions.
    """
    questions = []
    first_line: dict[str, int] = {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}, line {line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:  # arrays or objects nested thousands deep
            raise ConfigError(f"{where}: invalid JSON: nested too deeply") from None
        question = _jsonl_question(obj, where)
        if question.id in first_line:
            raise ConfigError(
                f"{where}: field 'id': duplicate id {question.id!r} "
                f"(already used on line {first_line[question.id]})"
            )
        first_line[question.id] = line_no
        questions.append(question)
    if not questions:
        raise ConfigError(f"{name}: no questions in the file")
    return questions


def _known_subjects(subjects: Sequence[str] | str | None) -> list[str]:
    """Check ``subjects`` against ``SUBJECTS``; ``None`` means all five.

    Raises:
        ConfigError: A subject is not bundled.
    """
    if subjects is None:
        return list(SUBJECTS)
    wanted = [subjects] if isinstance(subjects, str) else list(dict.fromkeys(subjects))
    unknown = [subject for subject in wanted if subject not in SUBJECTS]
    if unknown:
        raise ConfigError(
            f"unknown subject(s) {', '.join(map(repr, unknown))}; "
            f"the bundled subjects are {', '.join(SUBJECTS)}"
        )
    return wanted


def load_bundled(
    subjects: Sequence[str] | None = None, *, include_flagged: bool = False
) -> list[Question]:
    """Load the bundled MMLU-Redux questions of the ChatBench subjects.

    Args:
        subjects: Subjects to load, in this order; ``None`` loads all of ``SUBJECTS``.
        include_flagged: Keep rows whose ``error_type`` is not ``ok``. By default they are
            dropped, as in the ChatBench paper. Ids do not depend on this flag.

    Returns:
        The questions, subject by subject in file order, with the paper's ids:
        ``{subject}-redux-{row}``, or ``{subject}-test-{mmlu_row}`` for ``TEST_ID_SUBJECTS``.

    Raises:
        ConfigError: A subject is not one of ``SUBJECTS``.
    """
    questions: list[Question] = []
    for subject in _known_subjects(subjects):
        filename = f"mmlu_{subject}.csv"
        text = _bundled_text("mmlu_redux", filename)
        name = f"chatbench/_data/questions/mmlu_redux/{filename}"
        questions.extend(_parse_redux(text, name, subject, include_flagged))
    return questions


def load_mmlu_csv(path: str | Path, subject: str | None = None) -> list[Question]:
    """Load a headerless MMLU CSV: question, A, B, C, D, answer letter.

    Args:
        path: The CSV file, e.g. ``college_mathematics_test.csv``.
        subject: The subject of every question; defaults to the file stem without a trailing
            ``_test``, ``_dev`` or ``_val``.

    Returns:
        The questions in file order, with ids ``{subject}-{split}-{i}``: ``split`` is the
        stem's suffix (``mmlu`` when there is none) and ``i`` the record's 0-based row in the
        file, so a test CSV gives the paper's ``{subject}-test-{i}`` (MMLU's test row index).

    Raises:
        ConfigError: The file is missing, unreadable or malformed, or has no questions.
    """
    path = Path(path)
    match = _SPLIT_SUFFIX.fullmatch(path.stem)
    split = match["split"] if match else "mmlu"
    default_subject = match["subject"] if match else path.stem
    text = read_text(path, "question file")
    return _parse_mmlu(text, str(path), subject or default_subject, split)


def load_redux_csv(
    path: str | Path, subject: str | None = None, *, include_flagged: bool = False
) -> list[Question]:
    """Load an MMLU-Redux CSV (header with question, choices, answer, error_type).

    Args:
        path: The CSV file, e.g. ``mmlu_college_mathematics.csv``.
        subject: The subject of every question; defaults to the stem without a leading ``mmlu_``.
        include_flagged: Keep rows whose ``error_type`` is not ``ok`` (case-insensitive).

    Returns:
        The questions in file order, with ids ``{subject}-redux-{row}`` (``row`` counts every
        data row from 0, flagged or not); in ``TEST_ID_SUBJECTS``, a row whose question,
        options and answer are those of a bundled Redux row found in MMLU's test set gets
        that MMLU id, ``{subject}-test-{mmlu_row}``, as in the paper.

    Raises:
        ConfigError: The file is missing, unreadable or malformed, or has no data rows.
    """
    path = Path(path)
    default_subject = path.stem.removeprefix("mmlu_")
    text = read_text(path, "question file")
    return _parse_redux(text, str(path), subject or default_subject, include_flagged)


def load_jsonl(path: str | Path) -> list[Question]:
    """Load questions from JSONL: one object per line with ``id, question, choices, answer``.

    ``answer`` is a letter (any case) or a 0-based index; ``subject`` is optional. Blank lines
    are skipped.

    Args:
        path: The ``.jsonl`` file.

    Returns:
        The questions in file order.

    Raises:
        ConfigError: The file is missing or unreadable, a line is bad, or an id repeats.
    """
    path = Path(path)
    return _parse_jsonl(read_text(path, "question file"), str(path))


def load_few_shot(subject: str) -> list[Question]:
    """Load the 5 bundled MMLU dev (few-shot) examples of a subject.

    Args:
        subject: One of ``SUBJECTS``.

    Returns:
        The examples in file order, with ids ``{subject}-dev-{i}``.

    Raises:
        ConfigError: The subject is not one of ``SUBJECTS``.
    """
    (subject,) = _known_subjects([subject])
    filename = f"{subject}_dev.csv"
    text = _bundled_text("mmlu_dev", filename)
    return _parse_mmlu(text, f"chatbench/_data/questions/mmlu_dev/{filename}", subject, "dev")


def _load_file(path: Path, include_flagged: bool) -> list[Question]:
    """Load a user's question file, choosing the loader by suffix and, for CSV, by header.

    Raises:
        ConfigError: The file is missing, of an unknown type, or bad.
    """
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        if not path.exists():
            raise ConfigError(f"{path}: file not found (use {BUNDLED!r} for the bundled questions)")
        raise ConfigError(
            f"{path}: unknown question file type {suffix or '(none)'!r}; expected .jsonl or .csv"
        )
    text = read_text(path, "question file")
    if suffix == ".jsonl":
        return _parse_jsonl(text, str(path))
    _, first = next(_csv_records(text, str(path)), (1, []))
    header = {cell.strip().lower() for cell in first}
    if {"question", "choices"} <= header:
        subject = path.stem.removeprefix("mmlu_")
        return _parse_redux(text, str(path), subject, include_flagged)
    match = _SPLIT_SUFFIX.fullmatch(path.stem)
    subject, split = (match["subject"], match["split"]) if match else (path.stem, "mmlu")
    return _parse_mmlu(text, str(path), subject, split)


def _interleave(questions: list[Question], order: Sequence[str]) -> list[Question]:
    """Order questions round-robin over subjects: one of each subject in ``order``, repeat."""
    groups: dict[str, list[Question]] = {subject: [] for subject in order}
    for question in questions:
        groups.setdefault(question.subject, []).append(question)
    rounds = itertools.zip_longest(*groups.values())
    return [question for batch in rounds for question in batch if question is not None]


def load_questions(
    source: str | Path | None = None,
    *,
    subjects: Sequence[str] | None = None,
    limit: int | None = None,
    include_flagged: bool = False,
) -> list[Question]:
    """Load questions from the bundled set or a user's file; the CLI's one entry point.

    Args:
        source: ``None`` or ``"mmlu_redux"`` for the bundled MMLU-Redux questions, or a path to
            a ``.jsonl`` file or a ``.csv`` file (MMLU-Redux with a header row containing
            ``question`` and ``choices``, else headerless MMLU).
        subjects: Keep only these subjects, interleaved in this order.
        limit: Keep the first ``limit`` questions after interleaving subjects round-robin, so
            a limit of 5 over five subjects gives one question of each.
        include_flagged: Keep MMLU-Redux rows whose ``error_type`` is not ``ok``.

    Returns:
        The questions, interleaved round-robin over subjects (deterministic).

    Raises:
        ConfigError: The source is missing, of an unknown type or bad; a subject is unknown;
            ``limit`` is not positive; or no question is left.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive integer, got {limit!r}")
    if source is None or str(source) == BUNDLED:
        questions = load_bundled(subjects, include_flagged=include_flagged)
        name = BUNDLED
    else:
        questions = _load_file(Path(source), include_flagged)
        name = str(source)
    present = list(dict.fromkeys(question.subject for question in questions))
    wanted = present if subjects is None else _present_subjects(subjects, present, name)
    selected = [question for question in questions if question.subject in wanted]
    selected = _interleave(selected, wanted)[:limit]
    if not selected:
        raise ConfigError(f"{name}: no questions left to ask")
    return selected


def _present_subjects(subjects: Sequence[str] | str, present: list[str], name: str) -> list[str]:
    """Check that every requested subject occurs in the loaded questions.

    Raises:
        ConfigError: A subject does not occur.
    """
    wanted = [subjects] if isinstance(subjects, str) else list(dict.fromkeys(subjects))
    unknown = [subject for subject in wanted if subject not in present]
    if unknown:
        raise ConfigError(
            f"{name}: no questions of subject(s) {', '.join(map(repr, unknown))}; "
            f"its subjects are {', '.join(map(repr, present))}"
        )
    return wanted
