"""Real human-AI conversations on multiple-choice questions: HALIE (bundled) and ChatBench.

Both sources become ``HumanConversation`` objects: the question, the user's turns and the
assistant's replies in order (user first), and the user's final choice. They feed the
fine-tuned simulator (``chatbench.training``) and the fidelity checks that compare simulated
users with real ones.

HALIE (Lee et al. 2023, Apache-2.0) ships with chatbench: 30 MMLU questions answered by crowd
workers who could query a language model. Its split is fixed: questions 0-19 are for training
and tuning (``HALIE_TRAIN_IDS``), 20-29 are held out (``HALIE_HELDOUT_IDS``) and only measure
how human-like a simulator is. ChatBench's own ``full_study/conversations.json`` (CC BY 4.0)
is read from a path the user gives.

Example:
    >>> train = load_halie("train")
    >>> train[0].user_turns[0]  # doctest: +SKIP
    'In which war was "The Star Spangled Banner" written?'
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, model_validator

from chatbench._files import read_text
from chatbench.data.questions import (
    LETTERS,
    Question,
    _BadField,
    _choices,
    _csv_records,
    _question,
    _text,
    validated_row,
)
from chatbench.errors import ConfigError

Source = Literal["halie", "chatbench"]
Split = Literal["train", "heldout", "all"]

HALIE_TRAIN_IDS = range(20)
"""HALIE question ids of the train split: fine-tune and tune prompts on these only."""
HALIE_HELDOUT_IDS = range(20, 30)
"""HALIE question ids of the held-out split: never train or tune on these."""
HALIE_ID_PREFIX = "halie-"
"""HALIE questions get ids ``halie-{question_id}``."""

_HALIE_EVENTS = "event_blocks.csv"
_HALIE_QUESTIONS = "questions.csv"
_HALIE_REQUIRED = (
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
_QUESTION_COLUMNS = ("question", "a", "b", "c", "d", "answer")
_CHATBENCH_REQUIRED = (
    "questionID",
    "questionText",
    "choices",
    "correctAnswer",
    "model",
    "chatHistory",
)
_ROLES = {"you": "user", "user": "user", "bot": "assistant", "assistant": "assistant"}
_SUBJECT = re.compile(r"(?P<subject>.+?)-(?:redux|test)-")


class HumanConversation(BaseModel):
    """One person's conversation with an AI assistant about one question, and their answer.

    ``user_turns[i]`` is followed by ``assistant_turns[i]``; the assistant may not have
    replied to the last user turn, so there are as many replies as user turns or one fewer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: Question
    user_turns: list[str]
    """The user's messages, in order."""
    assistant_turns: list[str]
    """The assistant's replies, in order; reply ``i`` answers user turn ``i``."""
    final_choice: str | None = None
    """The option letter the user finally picked, or ``None`` when they picked none."""
    correct: bool | None = None
    """Whether the final choice is right, as the source recorded it (``None``: unknown)."""
    assistant_model: str
    """The assistant, e.g. ``gpt-4o`` or HALIE's ``InstructDavinci``."""
    source: Source
    worker_id: str | None = None
    condition: str | None = None
    """ChatBench's ``direct-to-AI`` / ``answer-first``; ``None`` for HALIE."""

    @model_validator(mode="after")
    def _turns_interleave(self) -> HumanConversation:
        users, replies = len(self.user_turns), len(self.assistant_turns)
        if replies not in (users, users - 1):
            raise ValueError(f"{users} user turns cannot have {replies} assistant replies")
        if self.final_choice is not None and self.final_choice not in self.question.letters:
            raise ValueError(
                f"final choice {self.final_choice!r} is not one of the option letters "
                f"{''.join(self.question.letters)}"
            )
        return self

    def messages(self) -> list[AnyMessage]:
        """The conversation as LangChain messages, user turns first in each pair."""
        out: list[AnyMessage] = []
        for i, text in enumerate(self.user_turns):
            out.append(HumanMessage(content=text))
            if i < len(self.assistant_turns):
                out.append(AIMessage(content=self.assistant_turns[i]))
        return out


def _conversation(where: str, **fields: object) -> HumanConversation:
    """Build a ``HumanConversation``, reporting a validation error against ``where``.

    Raises:
        ConfigError: The fields do not make a valid conversation.
    """
    return validated_row(HumanConversation, where, fields)


def _has_turns(user_turns: list[str], min_user_turns: int) -> bool:
    """Whether there are at least ``min_user_turns`` non-blank user turns."""
    return sum(1 for turn in user_turns if turn.strip()) >= min_user_turns


# --------------------------------------------------------------------------------------------
# HALIE
# --------------------------------------------------------------------------------------------


def halie_question_number(question_id: str) -> int:
    """The HALIE ``question_id`` (0-29) of a question id like ``halie-12``.

    Raises:
        ValueError: The id is not a HALIE question id.
    """
    if not question_id.startswith(HALIE_ID_PREFIX):
        raise ValueError(f"{question_id!r} is not a HALIE question id")
    return int(question_id.removeprefix(HALIE_ID_PREFIX))


def _split_ids(split: str) -> range | None:
    """The question ids of a split (``None`` for all).

    Raises:
        ConfigError: The split is unknown.
    """
    splits = {"train": HALIE_TRAIN_IDS, "heldout": HALIE_HELDOUT_IDS, "all": None}
    if split not in splits:
        raise ConfigError(f"unknown HALIE split {split!r}; expected train, heldout or all")
    return splits[split]


def _halie_file(folder: Path | None, name: str) -> tuple[str, str]:
    """``(text, name for messages)`` of a HALIE file, bundled (``folder=None``) or a user's.

    Raises:
        ConfigError: A user's file is missing or unreadable.
    """
    if folder is None:
        resource = files("chatbench") / "_data" / "halie" / name
        return resource.read_text(encoding="utf-8-sig"), f"chatbench/_data/halie/{name}"
    return read_text(folder / name, "HALIE file"), str(folder / name)


def _header_rows(
    text: str, name: str, required: Iterable[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {column: cell})`` for each data row of a CSV with a header row.

    Raises:
        ConfigError: A required column is missing or a row has the wrong number of fields.
    """
    records = _csv_records(text, name)
    header_line, header = next(records, (1, []))
    header = [column.strip() for column in header]
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


def _halie_questions(text: str, name: str) -> dict[int, dict[str, object]]:
    """HALIE ``questions.csv``: row ``i`` (from 0) is ``question_id`` ``i``.

    Returns:
        ``{question_id: {"stem", "choices", "answer"}}``.

    Raises:
        ConfigError: A row is malformed.
    """
    questions: dict[int, dict[str, object]] = {}
    for i, (line, cell) in enumerate(_header_rows(text, name, _QUESTION_COLUMNS)):
        try:
            stem = _text(cell["question"], "question")
            choices = _choices([_text(cell[c], c) for c in "abcd"])
            answer = cell["answer"].strip().upper()
            if answer not in LETTERS[: len(choices)]:
                raise _BadField("answer", f"{cell['answer']!r} is not a letter A-D")
        except _BadField as exc:
            raise ConfigError(f"{name}, line {line}: field {exc.field!r}: {exc.message}") from None
        questions[i] = {"stem": stem, "choices": choices, "answer": answer}
    return questions


def _literal_list(raw: str, field: str) -> list[str]:
    """Parse a Python-list string of texts, like HALIE's ``"['query 1', 'query 2']"``.

    Raises:
        _BadField: It is not a list literal of strings.
    """
    if not raw.strip():
        return []
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _BadField(field, f"{raw[:60]!r} is not a Python list of strings") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _BadField(field, f"{raw[:60]!r} is not a Python list of strings")
    return value


def _halie_flag(raw: str) -> bool | None:
    """HALIE's ``user_correct``: ``1``/``0`` (blank: unknown).

    Raises:
        _BadField: Any other value.
    """
    value = raw.strip()
    if value in ("", "1", "0"):
        return None if not value else value == "1"
    raise _BadField("user_correct", f"expected 0 or 1, got {raw!r}")


def _halie_question(
    cell: dict[str, str], questions: dict[int, dict[str, object]], cache: dict[int, Question]
) -> Question:
    """The row's question, built once per ``question_id`` from ``questions.csv``.

    Raises:
        _BadField: The id is not in ``questions.csv`` or the row's answer disagrees with it.
    """
    raw = cell["question_id"].strip()
    if not raw.isdigit() or int(raw) not in questions:
        raise _BadField("question_id", f"{raw!r} is not a row of {_HALIE_QUESTIONS}")
    number = int(raw)
    fields = questions[number]
    row_answer = cell.get("answer", "").strip().upper()
    if row_answer and row_answer != fields["answer"]:
        raise _BadField(
            "answer", f"{row_answer!r} disagrees with {_HALIE_QUESTIONS} ({fields['answer']!r})"
        )
    if number not in cache:
        subject = re.sub(r"\W+", "_", cell["question_category"].strip().lower()).strip("_")
        cache[number] = Question(id=f"{HALIE_ID_PREFIX}{number}", subject=subject, **fields)
    return cache[number]


def _halie_fields(cell: dict[str, str], letters: tuple[str, ...]) -> dict[str, Any]:
    """The conversation fields of one HALIE ``lm`` row (all but the question).

    Raises:
        _BadField: A cell is malformed, or queries and replies do not pair up.
    """
    queries = _literal_list(cell["user_queries"], "user_queries")
    replies = _literal_list(cell["lm_responses"], "lm_responses")
    if len(queries) != len(replies):
        raise _BadField("lm_responses", f"{len(replies)} replies for {len(queries)} queries")
    choice = cell["user_answer"].strip().upper() or None
    if choice is not None and choice not in letters:
        raise _BadField("user_answer", f"{cell['user_answer']!r} is not an option letter")
    return {
        "user_turns": queries,
        "assistant_turns": replies,
        "final_choice": choice,
        "correct": _halie_flag(cell["user_correct"]),
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
    ids = _split_ids(split)
    folder = None if path is None else Path(path)
    if folder is not None and not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder with {_HALIE_EVENTS} and {_HALIE_QUESTIONS}")
    questions = _halie_questions(*_halie_file(folder, _HALIE_QUESTIONS))
    events, events_name = _halie_file(folder, _HALIE_EVENTS)
    cache: dict[int, Question] = {}
    conversations = []
    for line, cell in _header_rows(events, events_name, _HALIE_REQUIRED):
        if cell["question_type"].strip() != "lm":
            continue
        where = f"{events_name}, line {line}"
        try:
            question = _halie_question(cell, questions, cache)
            if ids is not None and halie_question_number(question.id) not in ids:
                continue
            fields = _halie_fields(cell, question.letters)
        except _BadField as exc:
            raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
        if _has_turns(fields["user_turns"], min_user_turns):
            conversations.append(_conversation(where, question=question, **fields))
    return conversations


# --------------------------------------------------------------------------------------------
# ChatBench
# --------------------------------------------------------------------------------------------


def chatbench_subject(question_id: str) -> str:
    """The subject of a ChatBench question id: ``elementary_mathematics-redux-12`` gives
    ``elementary_mathematics``; an id without ``-redux-``/``-test-`` gives ``""``."""
    match = _SUBJECT.match(question_id)
    return match["subject"] if match else ""


def _option_index(value: object, labels: list[str], choices: tuple[str, ...], field: str) -> int:
    """The position of the option ``value`` names: a label (any case) or an option's text.

    Raises:
        _BadField: It names no option.
    """
    if isinstance(value, str):
        wanted = value.strip().upper()
        for i, label in enumerate(labels):
            if label.strip().upper() == wanted:
                return i
        if value in choices:
            return choices.index(value)
    raise _BadField(field, f"{value!r} is none of the option labels {''.join(labels)}")


def _labels(record: dict[str, object], n_choices: int) -> list[str]:
    """``choiceLabels``, defaulting to ``A, B, ...``.

    Raises:
        _BadField: They are not one text per option.
    """
    labels = record.get("choiceLabels")
    if labels is None:
        return list(LETTERS[:n_choices])
    if (
        not isinstance(labels, list)
        or len(labels) != n_choices
        or not all(isinstance(label, str) for label in labels)
    ):
        raise _BadField("choiceLabels", f"expected {n_choices} label texts, got {labels!r}")
    return labels


def _chat_turns(history: object) -> tuple[list[str], list[str]]:
    """Split ``chatHistory`` into user and assistant turns.

    Consecutive messages of one role are joined with a blank line, and assistant messages
    before the user's first are dropped, so that turns interleave user first.

    Raises:
        _BadField: The history is not a list of ``{role: You|Bot, content}`` objects.
    """
    if not isinstance(history, list):
        raise _BadField("chatHistory", f"expected a list, got {type(history).__name__}")
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(history):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(role, str) or role.strip().lower() not in _ROLES:
            raise _BadField(f"chatHistory[{i}].role", f"expected 'You' or 'Bot', got {role!r}")
        if not isinstance(content, str):
            raise _BadField(f"chatHistory[{i}].content", "expected text")
        kind = _ROLES[role.strip().lower()]
        if turns and turns[-1][0] == kind:
            turns[-1] = (kind, f"{turns[-1][1]}\n\n{content}")
        elif turns or kind == "user":
            turns.append((kind, content))
    return [t for k, t in turns if k == "user"], [t for k, t in turns if k == "assistant"]


def _optional_text(record: dict[str, object], key: str) -> str | None:
    """``record[key]`` as text; missing, null or blank gives ``None``."""
    value = record.get(key)
    return None if value is None or not str(value).strip() else str(value)


def _chatbench_record(record: object, where: str, min_user_turns: int) -> HumanConversation | None:
    """One ChatBench record as a conversation (``None`` when it has too few user turns).

    Raises:
        ConfigError: A field is missing or malformed.
    """
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in _CHATBENCH_REQUIRED if key not in record]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    try:
        qid = _text(str(record["questionID"]), "questionID")
        stem = _text(record["questionText"], "questionText")
        choices = _choices(record["choices"])
        labels = _labels(record, len(choices))
        answer = LETTERS[_option_index(record["correctAnswer"], labels, choices, "correctAnswer")]
        selected = record.get("selectedAnswer")
        choice = None
        if selected is not None and str(selected).strip():
            choice = LETTERS[_option_index(selected, labels, choices, "selectedAnswer")]
        users, replies = _chat_turns(record["chatHistory"])
        model = _text(record["model"], "model")
    except _BadField as exc:
        raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
    if not _has_turns(users, min_user_turns):
        return None
    question = _question(
        where, id=qid, subject=chatbench_subject(qid), stem=stem, choices=choices, answer=answer
    )
    return _conversation(
        where,
        question=question,
        user_turns=users,
        assistant_turns=replies,
        final_choice=choice,
        correct=None if choice is None else choice == answer,
        assistant_model=model,
        source="chatbench",
        worker_id=_optional_text(record, "worker_id"),
        condition=_optional_text(record, "condition"),
    )


def load_chatbench_conversations(
    path: str | Path, *, min_user_turns: int = 1
) -> list[HumanConversation]:
    """Load ChatBench's ``full_study/conversations.json``.

    The file is a JSON list of records, or an object mapping each question id to its list
    of records (a record there may leave out ``questionID``). Each record has
    ``questionID``, ``questionText``, ``choices``, ``choiceLabels``, ``correctAnswer``,
    ``selectedAnswer``, ``model``, ``condition``, ``worker_id`` and ``chatHistory``
    (``[{"role": "You" | "Bot", "content": ...}]``). Answers may be labels or option texts;
    options get the letters A, B, ... by position.

    Args:
        path: The JSON file.
        min_user_turns: Keep records with at least this many non-blank user messages; 0 also
            keeps records without a chat.

    Returns:
        The conversations in file order; ``correct`` is ``None`` when no answer was selected.

    Raises:
        ConfigError: The file is missing or not JSON, or a record is malformed (the message
            names the file and the record's index).
    """
    path = Path(path)
    try:
        data = json.loads(read_text(path, "conversations file"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    conversations = []
    for where, record in _chatbench_entries(data, path):
        conversation = _chatbench_record(record, where, min_user_turns)
        if conversation is not None:
            conversations.append(conversation)
    return conversations


def _chatbench_entries(data: object, path: Path) -> list[tuple[str, object]]:
    """``(where, record)`` for each record of a list, or of an object keyed by question id.

    Raises:
        ConfigError: ``data`` is neither, or a record's ``questionID`` disagrees with its key.
    """
    if isinstance(data, list):
        return [(f"{path}, record {index}", record) for index, record in enumerate(data)]
    keyed = isinstance(data, dict) and all(
        chatbench_subject(str(key)) and isinstance(value, list) for key, value in data.items()
    )
    if not keyed:
        raise ConfigError(
            f"{path}: expected a JSON list of records, or an object mapping question ids "
            f"(like elementary_mathematics-redux-12) to lists of records; got "
            f"{type(data).__name__}"
        )
    entries: list[tuple[str, object]] = []
    for key, records in cast(dict[str, list[object]], data).items():
        for index, record in enumerate(records):
            where = f"{path}, question {key!r}, record {index}"
            if isinstance(record, dict):
                record = {"questionID": key, **record}
                if str(record["questionID"]) != key:
                    raise ConfigError(f"{where}: questionID {record['questionID']!r} is not "
                                      "the key it is listed under")
            entries.append((where, record))
    return entries


def human_accuracy_by_question(
    conversations: Iterable[HumanConversation],
) -> dict[tuple[str, str], float]:
    """Real users' accuracy per question and assistant model.

    Args:
        conversations: Conversations from ``load_halie`` or ``load_chatbench_conversations``;
            those with unknown correctness are left out.

    Returns:
        ``{(question_id, assistant_model): mean of correct}``.
    """
    outcomes: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for conversation in conversations:
        if conversation.correct is not None:
            key = (conversation.question.id, conversation.assistant_model)
            outcomes[key].append(conversation.correct)
    return {key: sum(values) / len(values) for key, values in outcomes.items()}
