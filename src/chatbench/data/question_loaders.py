"""Loading questions: the bundled MMLU-Redux set, a user's MMLU, MMLU-Redux or JSONL file, and
``load_questions``, the CLI's one entry point (subjects interleaved round-robin)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from chatbench._files import read_text
from chatbench.data.question import Question
from chatbench.data.question_formats import (
    _SPLIT_SUFFIX,
    _bundled_text,
    _parse_jsonl,
    _parse_mmlu,
    _parse_redux,
)
from chatbench.data.rows import _csv_records
from chatbench.errors import ConfigError

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
