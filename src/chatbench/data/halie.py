"""HALIE (Lee et al. 2023, Apache-2.0), bundled: 30 MMLU questions answered by crowd workers who
could query a language model, read into ``HumanConversation``s with a fixed train/held-out split."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from chatbench._files import read_text
from chatbench.data.human_conversation import HumanConversation, checked_conversation, has_turns
from chatbench.data.question import LETTERS, Question
from chatbench.data.rows import BadField, checked_choices, checked_text, csv_records, unique_columns
from chatbench.errors import ConfigError

Split = Literal["train", "heldout", "all"]

HALIE_TRAIN_IDS = range(20)
"""HALIE question ids of the train split: fine-tune and tune prompts on these only."""
HALIE_HELDOUT_IDS = range(20, 30)
"""HALIE question ids of the held-out split: never train or tune on these."""
HALIE_ID_PREFIX = "halie-"
"""HALIE questions get ids ``halie-{question_id}``."""

HALIE_EVENTS = "event_blocks.csv"
HALIE_QUESTIONS = "questions.csv"
HALIE_REQUIRED = (
    "worker_id",
    "model",
    "question_id",
    "question_type",
    "question_category",
    "user_queries",
    "lm_responses",
    "user_answer",
    "user_correct",
)
HALIE_QUESTION_COLUMNS = ("question", "a", "b", "c", "d", "answer")


def halie_question_number(question_id: str) -> int:
    """The HALIE ``question_id`` (0-29) of a question id like ``halie-12``.

    Raises:
        ValueError: The id is not a HALIE question id.
    """
    if not question_id.startswith(HALIE_ID_PREFIX):
        raise ValueError(f"{question_id!r} is not a HALIE question id")
    return int(question_id.removeprefix(HALIE_ID_PREFIX))


def split_ids(split: str) -> range | None:
    """The question ids of a split (``None`` for all).

    Raises:
        ConfigError: The split is unknown.
    """
    splits = {"train": HALIE_TRAIN_IDS, "heldout": HALIE_HELDOUT_IDS, "all": None}
    if split not in splits:
        raise ConfigError(f"unknown HALIE split {split!r}; expected train, heldout or all")
    return splits[split]


def halie_file(folder: Path | None, name: str) -> tuple[str, str]:
    """``(text, name for messages)`` of a HALIE file, bundled (``folder=None``) or a user's.

    Raises:
        ConfigError: A user's file is missing or unreadable.
    """
    if folder is None:
        resource = files("chatbench") / "_data" / "halie" / name
        return resource.read_text(encoding="utf-8-sig"), f"chatbench/_data/halie/{name}"
    return read_text(folder / name, "HALIE file"), str(folder / name)


def header_rows(
    text: str, name: str, required: Iterable[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {column: cell})`` for each data row of a CSV with a header row.

    Raises:
        ConfigError: A required column is missing, a column repeats, or a row has the wrong
            number of fields.
    """
    records = csv_records(text, name)
    header_line, header = next(records, (1, []))
    header = [column.strip() for column in header]
    unique_columns(header, name, header_line)
    missing = [column for column in required if column not in header]
    if missing:
        raise ConfigError(
            f"{name}, line {header_line}: missing column(s) {', '.join(map(repr, missing))}"
        )
    for line, row in records:
        if len(row) != len(header):
            raise ConfigError(
                f"{name}, line {line}: expected {len(header)} fields as in the header, "
                f"got {len(row)}"
            )
        yield line, dict(zip(header, row, strict=True))


def halie_questions(text: str, name: str) -> dict[int, dict[str, object]]:
    """HALIE ``questions.csv``: row ``i`` (from 0) is ``question_id`` ``i``.

    Returns:
        ``{question_id: {"stem", "choices", "answer"}}``.

    Raises:
        ConfigError: A row is malformed.
    """
    questions: dict[int, dict[str, object]] = {}
    for i, (line, cell) in enumerate(header_rows(text, name, HALIE_QUESTION_COLUMNS)):
        try:
            stem = checked_text(cell["question"], "question")
            choices = checked_choices([checked_text(cell[c], c) for c in "abcd"])
            answer = cell["answer"].strip().upper()
            if answer not in LETTERS[: len(choices)]:
                raise BadField("answer", f"{cell['answer']!r} is not a letter A-D")
        except BadField as exc:
            raise ConfigError(f"{name}, line {line}: field {exc.field!r}: {exc.message}") from None
        questions[i] = {"stem": stem, "choices": choices, "answer": answer}
    return questions


def literal_list(raw: str, field: str) -> list[str]:
    """Parse a Python-list string of texts, like HALIE's ``"['query 1', 'query 2']"``.

    Raises:
        BadField: It is not a list literal of strings.
    """
    if not raw.strip():
        return []
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise BadField(field, f"{raw[:60]!r} is not a Python list of strings") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadField(field, f"{raw[:60]!r} is not a Python list of strings")
    return value


def halie_flag(raw: str) -> bool | None:
    """HALIE's ``user_correct``: ``1``/``0`` (blank: unknown).

    Raises:
        BadField: Any other value.
    """
    value = raw.strip()
    if value in ("", "1", "0"):
        return None if not value else value == "1"
    raise BadField("user_correct", f"expected 0 or 1, got {raw!r}")


def halie_question(
    cell: dict[str, str], questions: dict[int, dict[str, object]], cache: dict[int, Question]
) -> Question:
    """The row's question, built once per ``question_id`` from ``questions.csv``.

    Raises:
        BadField: The id is not in ``questions.csv`` or the row's answer disagrees with it.
    """
    raw = cell["question_id"].strip()
    if not raw.isdigit() or int(raw) not in questions:
        raise BadField("question_id", f"{raw!r} is not a row of {HALIE_QUESTIONS}")
    number = int(raw)
    fields = questions[number]
    row_answer = cell.get("answer", "").strip().upper()
    if row_answer and row_answer != fields["answer"]:
        raise BadField(
            "answer", f"{row_answer!r} disagrees with {HALIE_QUESTIONS} ({fields['answer']!r})"
        )
    if number not in cache:
        subject = re.sub(r"\W+", "_", cell["question_category"].strip().lower()).strip("_")
        cache[number] = Question(id=f"{HALIE_ID_PREFIX}{number}", subject=subject, **fields)
    return cache[number]


def halie_fields(cell: dict[str, str], letters: tuple[str, ...]) -> dict[str, Any]:
    """The conversation fields of one HALIE ``lm`` row (all but the question).

    Raises:
        BadField: A cell is malformed, or queries and replies do not pair up.
    """
    queries = literal_list(cell["user_queries"], "user_queries")
    replies = literal_list(cell["lm_responses"], "lm_responses")
    if len(queries) != len(replies):
        raise BadField("lm_responses", f"{len(replies)} replies for {len(queries)} queries")
    choice = cell["user_answer"].strip().upper() or None
    if choice is not None and choice not in letters:
        raise BadField("user_answer", f"{cell['user_answer']!r} is not an option letter")
    return {
        "user_turns": queries,
        "assistant_turns": replies,
        "final_choice": choice,
        "correct": halie_flag(cell["user_correct"]),
        "assistant_model": cell["model"].strip(),
        "source": "halie",
        "worker_id": cell["worker_id"].strip() or None,
    }


def load_halie(
    split: Split = "all", path: str | Path | None = None, *, min_user_turns: int = 1
) -> list[HumanConversation]:
    """Load HALIE's interactive question-answering conversations (``question_type == "lm"``).

    Args:
        split: ``"train"`` (question ids 0-19), ``"heldout"`` (20-29) or ``"all"``. The split
            is fixed; never train or tune on the held-out questions.
        path: A folder with HALIE's ``event_blocks.csv`` and ``questions.csv``; ``None`` reads
            the copy bundled with chatbench.
        min_user_turns: Keep rows with at least this many non-blank queries. The default 1
            keeps real conversations; 0 also keeps people who had the model but answered
            without querying it (for accuracy, not for training).

    Returns:
        The conversations in file order. Questions have ids ``halie-{question_id}`` and
        snake-case subjects from ``question_category`` (e.g. ``us_foreign_policy``).

    Raises:
        ConfigError: The split is unknown, a file is missing, or a row is malformed (the
            message names the file and line).
    """
    ids = split_ids(split)
    folder = None if path is None else Path(path)
    if folder is not None and not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder with {HALIE_EVENTS} and {HALIE_QUESTIONS}")
    questions = halie_questions(*halie_file(folder, HALIE_QUESTIONS))
    events, events_name = halie_file(folder, HALIE_EVENTS)
    cache: dict[int, Question] = {}
    conversations = []
    for line, cell in header_rows(events, events_name, HALIE_REQUIRED):
        if cell["question_type"].strip() != "lm":
            continue
        where = f"{events_name}, line {line}"
        try:
            question = halie_question(cell, questions, cache)
            if ids is not None and halie_question_number(question.id) not in ids:
                continue
            fields = halie_fields(cell, question.letters)
        except BadField as exc:
            raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
        if has_turns(fields["user_turns"], min_user_turns):
            conversations.append(checked_conversation(where, question=question, **fields))
    return conversations
