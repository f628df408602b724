"""Read the files of the ChatBench release (microsoft/ChatBench) into pandas frames.

A user who downloads the release points chatbench at its folder::

    ChatBench/
      questions.csv
      ai_alone_answers.csv
      full_study/user_answers.csv
      full_study/user_answers_filtered.csv   (optional)
      full_study/conversations.json

Column names follow the release; where the authors' code spells a column differently
(``questionID`` vs ``question_id``, ``selectedAnswer`` vs ``selected_answer``) either is
accepted, and answer types and conditions are read in both spellings (``userAIAnswer`` /
``user-AI``, ``answerFirst...`` / ``answer-first``). Every caller mistake (a missing file or
column, a value that is not a number, bad JSON) raises ``ConfigError`` naming the file and the
line or column.

Example:
    >>> release = load_release("ChatBench")  # doctest: +SKIP
    >>> release.answers.groupby("answer_type").size()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chatbench._files import read_text
from chatbench.data.human_data import chatbench_subject, load_chatbench_conversations
from chatbench.data.questions import csv_records
from chatbench.data.rows import unique_columns
from chatbench.errors import ConfigError

QUESTIONS_FILE = "questions.csv"
AI_ALONE_FILE = "ai_alone_answers.csv"
ANSWERS_FILE = "full_study/user_answers.csv"
FILTERED_FILE = "full_study/user_answers_filtered.csv"
CONVERSATIONS_FILE = "full_study/conversations.json"

MODELS = ("gpt-4o", "llama-3.1-8b")
"""The study's assistants, in the order the authors' code (``MODELS``) uses."""
SUBJECTS = ("elementary_mathematics", "high_school_mathematics", "college_mathematics",
            "conceptual_physics", "moral_scenarios")
"""The five MMLU subjects, in the order of the authors' ``DATASETS``."""
METHODS = ("letter_only_zero_shot", "letter_only_few_shot", "free_text")
"""The AI-alone methods of ``ai_alone_answers.csv`` (``{method}_acc`` etc.)."""

USER_ALONE = "user-alone"
USER_AI = "user-AI"
DIRECT = "direct-to-AI"
ANSWER_FIRST = "answer-first"

_ANSWER_TYPES = {"useranswer": USER_ALONE, "user-alone": USER_ALONE, "user_alone": USER_ALONE,
                 "useraianswer": USER_AI, "user-ai": USER_AI, "user_ai": USER_AI}
# The authors' code tests ``condition.str.startswith("onlyAI")`` / ``("answerFirst")``.
_CONDITION_PREFIXES = {"onlyai": DIRECT, "direct": DIRECT, "answerfirst": ANSWER_FIRST,
                       "answer-first": ANSWER_FIRST, "answer_first": ANSWER_FIRST}
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}

_ID = ("question_id", "questionID")
_QUESTION_COLUMNS: dict[str, tuple[str, ...]] = {"question_id": _ID}
_AI_ALONE_COLUMNS: dict[str, tuple[str, ...]] = {
    "question_id": _ID, "model": ("model",),
    **{f"{m}_acc": (f"{m}_acc",) for m in METHODS},
}
_AI_ALONE_OPTIONAL = {f"{m}_{part}": (f"{m}_{part}",) for m in METHODS
                      for part in ("acc_valid", "count", "invalid")}
_ANSWER_COLUMNS: dict[str, tuple[str, ...]] = {
    "worker_id": ("worker_id",), "model": ("model",), "condition": ("condition",),
    "answer_type": ("answer_type",), "question_id": _ID,
}
_ANSWER_OPTIONAL: dict[str, tuple[str, ...]] = {
    "subject": ("subject",), "batch": ("batch",), "position": ("position",),
    "phase": ("phase",), "acc": ("acc",), "selected_answer": ("selected_answer", "selectedAnswer"),
    "correct_answer": ("correct_answer", "correctAnswer"), "confidence": ("confidence",),
    "status": ("status", "Status"), "finished": ("finished", "completed"),
    "timestamp": ("timestamp",),
}


@dataclass(frozen=True)
class Release:
    """The ChatBench files of one folder, as frames (see each loader for the columns).

    Attributes:
        folder: The release folder.
        questions: ``load_questions``.
        ai_alone: ``load_ai_alone``: one row per question, model and method.
        answers: ``load_user_answers`` of ``user_answers.csv``, not yet cleaned.
        answers_filtered: The same of ``user_answers_filtered.csv``; None when absent.
        conversations: ``load_conversations``: one row per user-AI conversation.
    """

    folder: Path
    questions: pd.DataFrame
    ai_alone: pd.DataFrame
    answers: pd.DataFrame
    answers_filtered: pd.DataFrame | None
    conversations: pd.DataFrame


def load_release(folder: str | Path) -> Release:
    """Read every file of a ChatBench release folder.

    Args:
        folder: The folder with ``questions.csv``, ``ai_alone_answers.csv`` and
            ``full_study/`` (``user_answers.csv``, ``conversations.json`` and, optionally,
            ``user_answers_filtered.csv``).

    Returns:
        The ``Release``.

    Raises:
        ConfigError: The folder or a required file is missing, or a file is malformed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder; point chatbench at the downloaded "
                          "microsoft/ChatBench folder")
    filtered = root / FILTERED_FILE
    return Release(
        folder=root,
        questions=load_questions(root / QUESTIONS_FILE),
        ai_alone=load_ai_alone(root / AI_ALONE_FILE),
        answers=load_user_answers(root / ANSWERS_FILE),
        answers_filtered=load_user_answers(filtered) if filtered.exists() else None,
        conversations=load_conversations(root / CONVERSATIONS_FILE),
    )


# --- CSV reading ------------------------------------------------------------------------------


def read_csv(path: Path, required: Mapping[str, Sequence[str]],
             optional: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """A CSV file's columns, renamed to their canonical names, as text, plus ``line``.

    Args:
        path: The file.
        required: Canonical name -> accepted header names (the first present is used).
        optional: The same for columns that may be absent (then left out of the frame).

    Returns:
        One row per record; cells are stripped text; ``line`` is where the record starts.

    Raises:
        ConfigError: The file is missing or unreadable, a required column is missing, a
            column repeats, or a record has the wrong number of fields.
    """
    records = csv_records(read_text(path, "ChatBench CSV file"), str(path))
    header_line, header = next(records, (1, []))
    header = [name.strip() for name in header]
    unique_columns(header, str(path), header_line)
    index = _column_index(header, required, path, header_line)
    index.update(_column_index(header, optional or {}, path, header_line, required=False))
    rows, lines = [], []
    for line, row in records:
        if len(row) != len(header):
            raise ConfigError(f"{path}, line {line}: expected {len(header)} fields as in the "
                              f"header, got {len(row)}")
        rows.append([row[i].strip() for i in index.values()])
        lines.append(line)
    frame = pd.DataFrame(rows, columns=list(index), dtype=object)
    frame["line"] = pd.Series(lines, dtype=int)
    return frame


def _column_index(header: list[str], columns: Mapping[str, Sequence[str]], path: Path,
                  line: int, required: bool = True) -> dict[str, int]:
    """Canonical name -> position in the header.

    Raises:
        ConfigError: A required column has none of its names in the header.
    """
    found: dict[str, int] = {}
    missing = []
    for name, aliases in columns.items():
        present = [alias for alias in aliases if alias in header]
        if present:
            found[name] = header.index(present[0])
        elif required:
            missing.append(" or ".join(map(repr, aliases)))
    if missing:
        raise ConfigError(f"{path}, line {line}: missing column(s) {', '.join(missing)}")
    return found


def numbers(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A text column as floats; a blank cell is NaN.

    Raises:
        ConfigError: A non-blank cell is not a number (names the file, line and column).
    """
    text = frame[column].astype(str)
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "")
    if bad.any():
        at = bad.idxmax()
        raise ConfigError(f"{path}, line {frame.at[at, 'line']}: column {column!r}: "
                          f"{text[at]!r} is not a number")
    return values.astype(float)


def _lookup(raw: str, mapping: Mapping[str, str], prefix: bool = False) -> str | None:
    """The canonical value of ``raw`` (case-insensitive; by prefix when ``prefix``)."""
    value = raw.strip().lower()
    if prefix:
        return next((v for k, v in mapping.items() if value.startswith(k)), None)
    return mapping.get(value)


def _canonical(frame: pd.DataFrame, column: str, path: Path, mapping: Mapping[str, str],
               prefix: bool = False) -> pd.Series:
    """Map a column's values to canonical ones with ``_lookup``.

    Raises:
        ConfigError: A value matches nothing (names the file, line and column).
    """
    mapped = frame[column].map(lambda raw: _lookup(raw, mapping, prefix))
    if mapped.isna().any():
        at = mapped.isna().idxmax()
        raise ConfigError(f"{path}, line {frame.at[at, 'line']}: column {column!r}: unknown "
                          f"value {frame.at[at, column]!r}; expected one of "
                          f"{', '.join(sorted(set(mapping.values())))}")
    return mapped.astype(str)


def _flags(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A 0/1 or true/false column as floats (blank: NaN).

    Raises:
        ConfigError: Another value (names the file, line and column).
    """
    def flag(raw: str) -> float:
        value = raw.strip().lower()
        return 1.0 if value in _TRUE else 0.0 if value in _FALSE else np.nan

    values = frame[column].map(flag).astype(float)
    bad = values.isna() & (frame[column] != "")
    if bad.any():
        at = bad.idxmax()
        raise ConfigError(f"{path}, line {frame.at[at, 'line']}: column {column!r}: "
                          f"{frame.at[at, column]!r} is not 0/1 or true/false")
    return values


# --- the files --------------------------------------------------------------------------------


def load_questions(path: str | Path) -> pd.DataFrame:
    """``questions.csv``: the study's questions.

    Returns:
        Columns ``question_id``, ``subject`` (the MMLU subject, from the id: the part before
        ``-redux-``/``-test-``) and ``line``; the file's other columns are not kept.

    Raises:
        ConfigError: The file or its ``questionID``/``question_id`` column is missing, or an
            id is blank.
    """
    path = Path(path)
    frame = read_csv(path, _QUESTION_COLUMNS)
    _no_blanks(frame, "question_id", path)
    frame["subject"] = frame["question_id"].map(chatbench_subject)
    return frame[["question_id", "subject", "line"]]


def load_ai_alone(path: str | Path) -> pd.DataFrame:
    """``ai_alone_answers.csv`` in long form: one row per question, model and method.

    The file has one row per question and model with ``{method}_acc`` (invalid answers count
    wrong), and optionally ``{method}_acc_valid``, ``{method}_count``, ``{method}_invalid``.

    Returns:
        Columns ``question_id``, ``subject``, ``model``, ``method`` (one of ``METHODS``),
        ``acc``, ``acc_valid``, ``count``, ``invalid`` (NaN where blank or absent).

    Raises:
        ConfigError: A required column is missing or a cell is not a number.
    """
    path = Path(path)
    wide = read_csv(path, _AI_ALONE_COLUMNS, _AI_ALONE_OPTIONAL)
    _no_blanks(wide, "question_id", path)
    parts = []
    for method in METHODS:
        part = wide[["question_id", "model"]].assign(method=method)
        for value in ("acc", "acc_valid", "count", "invalid"):
            column = f"{method}_{value}"
            part[value] = numbers(wide, column, path) if column in wide else np.nan
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(1, "subject", frame["question_id"].map(chatbench_subject))
    return frame


def load_user_answers(path: str | Path) -> pd.DataFrame:
    """``user_answers.csv`` (or ``_filtered``): one row per answer a person gave.

    Returns:
        Columns ``worker_id``, ``model``, ``condition`` (``direct-to-AI``/``answer-first``),
        ``answer_type`` (``user-alone``/``user-AI``), ``question_id``, ``dataset`` (the MMLU
        subject from the id, the authors' ``ds``), ``acc`` (1.0/0.0: the file's ``acc``, or
        ``selected_answer == correct_answer`` when it has no ``acc``), ``line``, and those of
        ``subject`` (the assigned math/physics/moral), ``batch``, ``position``, ``phase``,
        ``selected_answer``, ``correct_answer``, ``confidence``, ``status``, ``finished``,
        ``timestamp`` that the file has.

    Raises:
        ConfigError: The file or a required column is missing, or a value is malformed.
    """
    path = Path(path)
    frame = read_csv(path, _ANSWER_COLUMNS, _ANSWER_OPTIONAL)
    for column in ("worker_id", "question_id"):
        _no_blanks(frame, column, path)
    frame["answer_type"] = _canonical(frame, "answer_type", path, _ANSWER_TYPES)
    frame["condition"] = _canonical(frame, "condition", path, _CONDITION_PREFIXES, prefix=True)
    frame["acc"] = _accuracy(frame, path)
    frame["dataset"] = frame["question_id"].map(chatbench_subject)
    return frame


def _accuracy(frame: pd.DataFrame, path: Path) -> pd.Series:
    """``acc`` as 1.0/0.0, or computed like the authors' code (selected == correct).

    Raises:
        ConfigError: Neither ``acc`` nor both answer columns exist, or ``acc`` is malformed.
    """
    if "acc" in frame:
        values = _flags(frame, "acc", path)
        if values.isna().any():
            line = frame.at[values.isna().idxmax(), "line"]
            raise ConfigError(f"{path}, line {line}: column 'acc' is blank")
        return values
    if "selected_answer" in frame and "correct_answer" in frame:
        same = frame["selected_answer"].str.upper() == frame["correct_answer"].str.upper()
        return same.astype(float)
    raise ConfigError(f"{path}, line 1: missing column 'acc' (or both 'selected_answer' and "
                      "'correct_answer' to compute it)")


def _no_blanks(frame: pd.DataFrame, column: str, path: Path) -> None:
    """Raise ``ConfigError`` (file, line, column) at the first blank cell of ``column``."""
    blank = frame[column] == ""
    if blank.any():
        raise ConfigError(f"{path}, line {frame.at[blank.idxmax(), 'line']}: column "
                          f"{column!r} is blank")


def load_conversations(path: str | Path) -> pd.DataFrame:
    """``conversations.json``: one row per user-AI conversation, chats without turns kept.

    Read with ``chatbench.data.human_data.load_chatbench_conversations`` (a JSON list of records,
    or an object keyed by question id). User turns are the user's messages, consecutive ones
    joined, as that loader reads them.

    Returns:
        Columns ``question_id``, ``subject``, ``model``, ``condition`` (``direct-to-AI`` /
        ``answer-first``; another value is kept as written, a missing one is ``unknown``),
        ``worker_id``, ``messages`` (``len(chatHistory)``, every message as logged: the
        paper's chat length), ``user_turns``, ``correct`` (NaN when no answer was selected).

    Raises:
        ConfigError: The file is missing or not JSON, or a record is malformed.
    """
    path = Path(path)
    columns = ["question_id", "subject", "model", "condition", "worker_id", "messages",
               "user_turns", "correct"]
    rows = [{"question_id": c.question.id, "subject": c.question.subject,
             "model": c.assistant_model, "condition": c.condition or "",
             "worker_id": c.worker_id, "messages": len(c.history()),
             "user_turns": len(c.user_turns),
             "correct": np.nan if c.correct is None else float(c.correct)}
            for c in load_chatbench_conversations(path, min_user_turns=0)]
    frame = pd.DataFrame(rows, columns=columns)
    # an unrecognised condition is kept as written: it only labels the length table
    frame["condition"] = [_lookup(raw, _CONDITION_PREFIXES, prefix=True) or raw or "unknown"
                          for raw in frame["condition"]]
    return frame
