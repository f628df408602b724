"""Loading questions: the bundled MMLU-Redux set, a user's MMLU, MMLU-Redux or JSONL file, and
``load_questions``, the CLI's one entry point (subjects interleaved round-robin)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from chatbench._files import read_lines
from chatbench.data.question import Question
from chatbench.data.question_formats import (
    SPLIT_SUFFIX,
    bundled_text,
    jsonl_questions,
    mmlu_questions,
    parse_mmlu,
    redux_questions,
)
from chatbench.data.rows import csv_records, csv_rows
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

SUBJECT_LOOKAHEAD = 10_000
"""How far into a question file ``load_questions`` looks for subjects when it is given a
``limit`` and no ``subjects``: a subject takes part in the round-robin if its first question
is among the file's first ``max(SUBJECT_LOOKAHEAD, limit)`` questions (in a file no longer
than that, every subject does). So reading stops once those subjects fill the limit, and
memory holds at most ``limit`` questions of each of at most ``limit`` subjects."""


def known_subjects(subjects: Sequence[str] | str | None) -> list[str]:
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
    return [question for subject in known_subjects(subjects)
            for question in _bundled_subject(subject, include_flagged)]


def _bundled_subject(subject: str, include_flagged: bool) -> Iterator[Question]:
    """One bundled subject's questions, parsed as they are taken."""
    filename = f"mmlu_{subject}.csv"
    name = f"chatbench/_data/questions/mmlu_redux/{filename}"
    records = csv_records(bundled_text("mmlu_redux", filename), name)
    return redux_questions(records, name, subject, include_flagged)


def _question_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The CSV records of a user's question file, read as they are taken."""
    lines = read_lines(path, "question file")
    return csv_rows(lines, str(path), path.stat().st_size)


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
    match = SPLIT_SUFFIX.fullmatch(path.stem)
    split = match["split"] if match else "mmlu"
    default_subject = match["subject"] if match else path.stem
    return list(mmlu_questions(_question_rows(path), str(path), subject or default_subject,
                                split))


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
        ConfigError: The file is missing, unreadable or malformed (a column given twice
            included), or has no data rows.
    """
    path = Path(path)
    default_subject = path.stem.removeprefix("mmlu_")
    return list(redux_questions(_question_rows(path), str(path), subject or default_subject,
                                 include_flagged))


def load_jsonl(path: str | Path) -> list[Question]:
    """Load questions from JSONL: one object per line with ``id, question, choices, answer``.

    ``answer`` is a letter (any case) or a 0-based index; ``subject`` is optional. Blank lines
    are skipped.

    Args:
        path: The ``.jsonl`` file.

    Returns:
        The questions in file order.

    Raises:
        ConfigError: The file is missing or unreadable, a line is bad (a key given twice
            included), or an id repeats.
    """
    path = Path(path)
    return list(jsonl_questions(read_lines(path, "question file", newline="\n"), str(path)))


def load_few_shot(subject: str) -> list[Question]:
    """Load the 5 bundled MMLU dev (few-shot) examples of a subject.

    Args:
        subject: One of ``SUBJECTS``.

    Returns:
        The examples in file order, with ids ``{subject}-dev-{i}``.

    Raises:
        ConfigError: The subject is not one of ``SUBJECTS``.
    """
    (subject,) = known_subjects([subject])
    filename = f"{subject}_dev.csv"
    text = bundled_text("mmlu_dev", filename)
    return parse_mmlu(text, f"chatbench/_data/questions/mmlu_dev/{filename}", subject, "dev")


def load_file(path: Path, include_flagged: bool) -> list[Question]:
    """Load a user's question file, choosing the loader by suffix and, for CSV, by header.

    Raises:
        ConfigError: The file is missing, of an unknown type, or bad.
    """
    return list(_file_questions(path, include_flagged))


def _file_questions(path: Path, include_flagged: bool) -> Iterator[Question]:
    """A user's question file's questions, read and parsed as they are taken (the loader
    chosen by suffix and, for CSV, by the header row).

    Raises:
        ConfigError: The file is missing or of an unknown type (at the call), or bad (when
            the bad line is reached).
    """
    return _file_stream(path, include_flagged)[0]


def _file_stream(path: Path, include_flagged: bool) -> tuple[Iterator[Question], str | None]:
    """``_file_questions``, and the one subject of all its questions where the format says
    (a CSV's subject comes from its name), else None (JSONL: each line has its own).

    Raises:
        ConfigError: As ``_file_questions``.
    """
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        if not path.exists():
            raise ConfigError(f"{path}: file not found (use {BUNDLED!r} for the bundled questions)")
        raise ConfigError(
            f"{path}: unknown question file type {suffix or '(none)'!r}; expected .jsonl or .csv"
        )
    if suffix == ".jsonl":
        lines = read_lines(path, "question file", newline="\n")
        return jsonl_questions(lines, str(path)), None
    records = _question_rows(path)
    first = next(records, None)
    header = {cell.strip().lower() for cell in first[1]} if first else set()
    records = itertools.chain([first] if first else [], records)
    if {"question", "choices"} <= header:
        subject = path.stem.removeprefix("mmlu_")
        return redux_questions(records, str(path), subject, include_flagged), subject
    match = SPLIT_SUFFIX.fullmatch(path.stem)
    subject, split = (match["subject"], match["split"]) if match else (path.stem, "mmlu")
    return mmlu_questions(records, str(path), subject, split), subject


def interleave(questions: list[Question], order: Sequence[str]) -> list[Question]:
    """Order questions round-robin over subjects: one of each subject in ``order``, repeat."""
    groups: dict[str, list[Question]] = {subject: [] for subject in order}
    for question in questions:
        groups.setdefault(question.subject, []).append(question)
    return _rounds(groups.values())


def _rounds(groups: Iterable[Sequence[Question]]) -> list[Question]:
    """One question of each group in turn (the first of each, then the second, ...)."""
    rounds = itertools.zip_longest(*groups)
    return [question for batch in rounds for question in batch if question is not None]


_MAX_NAMED_SUBJECTS = 20
"""Most subjects of a file that an error message lists."""


def _subject_groups(
    questions: Iterable[Question], wanted: Sequence[str] | None, limit: int | None
) -> tuple[dict[str, list[Question]], list[str]]:
    """The questions that can be among the first ``limit`` round-robin over subjects, by
    subject in round order, reading ``questions`` only as far as they decide them; and the
    subjects met (the first ``_MAX_NAMED_SUBJECTS``, for messages).

    ``wanted``: these subjects, in this order; reading stops once each has its share of the
    limit (``limit / len(wanted)``, rounded up): the selection is then that of the whole file.
    ``None``: the subjects in order of first appearance, among the first
    ``max(SUBJECT_LOOKAHEAD, limit)`` questions (all of them without a limit); reading stops
    once those are settled, or once ``limit`` subjects are met (a later one would come after
    the limit). A subject short of its share makes the reader go on to the end of the file.
    Memory holds at most ``limit`` questions of each of at most ``limit`` subjects (and of
    each wanted one).
    """
    groups: dict[str, list[Question]] = {subject: [] for subject in wanted or ()}
    met: dict[str, None] = {}
    joining = wanted is None  # subjects met later may still take part
    window = max(SUBJECT_LOOKAHEAD, limit or 0)
    share = -(-limit // len(groups)) if limit is not None and groups else 0
    short = len(groups)  # groups below their share, counted once no subject can join
    for index, question in enumerate(questions, start=1):
        subject = question.subject
        if len(met) < _MAX_NAMED_SUBJECTS:
            met.setdefault(subject)
        group = groups.get(subject)
        if group is None and joining and (limit is None or len(groups) < limit):
            group = groups[subject] = []
        if group is not None and (limit is None or len(group) < limit):
            group.append(question)
            if not joining and len(group) == share:
                short -= 1
        if limit is None:
            continue
        if joining and (index >= window or len(groups) == limit):
            joining = False
            share = -(-limit // len(groups))
            short = sum(len(group) < share for group in groups.values())
        if not joining and short == 0:
            break
    return groups, list(met)


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
            a limit of 5 over five subjects gives one question of each. A file is read line
            by line and only as far as the selection needs: once each subject has its share
            (the limit over the subjects, rounded up), reading stops, so the lines after are
            neither read nor checked. Without ``subjects``, a JSONL file's subjects are those
            first met among its first ``max(SUBJECT_LOOKAHEAD, limit)`` questions (10,000:
            every subject, in a smaller file); a CSV file has one subject, its name's.
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
        streams = [_bundled_subject(subject, include_flagged)
                   for subject in known_subjects(subjects)]
        selected = _take_rounds(streams, limit)
        name = BUNDLED
    else:
        name = str(source)
        questions, only = _file_stream(Path(source), include_flagged)
        wanted = _wanted(subjects) if subjects is not None else None
        try:  # a CSV's one subject is known: no need to look ahead for others
            groups, met = _subject_groups(
                questions, wanted if wanted is not None else (None if only is None else [only]),
                limit)
        finally:
            questions.close()  # type: ignore[attr-defined]  # a generator: closes the file
        if wanted is not None:
            present_subjects(wanted, [s for s, group in groups.items() if group], name, met)
        selected = _rounds(groups.values())[:limit]
    if not selected:
        raise ConfigError(f"{name}: no questions left to ask")
    return selected


def _take_rounds(streams: list[Iterator[Question]], limit: int | None) -> list[Question]:
    """Up to ``limit`` questions, one of each stream in turn, taking no more than needed."""
    taken: list[Question] = []
    while streams and (limit is None or len(taken) < limit):
        going = []
        for stream in streams:
            question = next(stream, None)
            if question is not None:
                taken.append(question)
                going.append(stream)
                if limit is not None and len(taken) == limit:
                    break
        streams = going
    return taken


def _wanted(subjects: Sequence[str] | str) -> list[str]:
    """The requested subjects, each once, in order."""
    return [subjects] if isinstance(subjects, str) else list(dict.fromkeys(subjects))


def present_subjects(
    subjects: Sequence[str] | str, present: list[str], name: str,
    met: Sequence[str] | None = None,
) -> list[str]:
    """Check that every requested subject occurs in the loaded questions.

    Args:
        subjects: The requested subjects.
        present: The subjects that have questions.
        name: The source, for the message.
        met: The file's subjects to list in the message (default: ``present``).

    Raises:
        ConfigError: A subject does not occur.
    """
    wanted = _wanted(subjects)
    unknown = [subject for subject in wanted if subject not in present]
    if unknown:
        listed = list(present if met is None else met)
        more = ", ..." if len(listed) >= _MAX_NAMED_SUBJECTS else ""
        raise ConfigError(
            f"{name}: no questions of subject(s) {', '.join(map(repr, unknown))}; "
            f"its subjects are {', '.join(map(repr, listed[:_MAX_NAMED_SUBJECTS]))}{more}"
        )
    return wanted
