"""ChatBench's own ``full_study/conversations.json`` (CC BY 4.0), read from a path the user gives,
into ``HumanConversation``s."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import cast

from chatbench import _json as strict_json
from chatbench._files import read_text
from chatbench.data.human_conversation import (
    HumanConversation,
    LoggedMessage,
    Role,
    checked_conversation,
    has_turns,
)
from chatbench.data.question import LETTERS
from chatbench.data.rows import BadField, checked_choices, checked_question, checked_text
from chatbench.errors import ConfigError

CHATBENCH_REQUIRED = (
    "questionID",
    "questionText",
    "choices",
    "correctAnswer",
    "model",
    "chatHistory",
)
CHATBENCH_ROLES: dict[str, Role] = {"you": "user", "user": "user", "bot": "assistant",
                           "assistant": "assistant"}
SUBJECT = re.compile(r"(?P<subject>.+?)-(?:redux|test)-")


def chatbench_subject(question_id: str) -> str:
    """The subject of a ChatBench question id: ``elementary_mathematics-redux-12`` gives
    ``elementary_mathematics``; an id without ``-redux-``/``-test-`` gives ``""``."""
    match = SUBJECT.match(question_id)
    return match["subject"] if match else ""


def option_index(value: object, labels: list[str], choices: tuple[str, ...], field: str) -> int:
    """The position of the option ``value`` names: a label (any case) or an option's text.

    Raises:
        BadField: It names no option.
    """
    if isinstance(value, str):
        wanted = value.strip().upper()
        for i, label in enumerate(labels):
            if label.strip().upper() == wanted:
                return i
        if value in choices:
            return choices.index(value)
    raise BadField(field, f"{value!r} is none of the option labels {''.join(labels)}")


def choice_labels(record: dict[str, object], n_choices: int) -> list[str]:
    """``choiceLabels``, defaulting to ``A, B, ...``.

    Raises:
        BadField: They are not one text per option.
    """
    labels = record.get("choiceLabels")
    if labels is None:
        return list(LETTERS[:n_choices])
    if (
        not isinstance(labels, list)
        or len(labels) != n_choices
        or not all(isinstance(label, str) for label in labels)
    ):
        raise BadField("choiceLabels", f"expected {n_choices} label texts, got {labels!r}")
    return labels


def _chat_log(history: object) -> list[LoggedMessage]:
    """``chatHistory`` as ``(role, text)`` messages, as logged.

    Raises:
        BadField: The history is not a list of ``{role: You|Bot, content}`` objects.
    """
    if not isinstance(history, list):
        raise BadField("chatHistory", f"expected a list, got {type(history).__name__}")
    log: list[LoggedMessage] = []
    for i, message in enumerate(history):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(role, str) or role.strip().lower() not in CHATBENCH_ROLES:
            raise BadField(f"chatHistory[{i}].role", f"expected 'You' or 'Bot', got {role!r}")
        if not isinstance(content, str):
            raise BadField(f"chatHistory[{i}].content", "expected text")
        log.append((CHATBENCH_ROLES[role.strip().lower()], content))
    return log


def chat_turns(log: list[LoggedMessage]) -> tuple[list[str], list[str]]:
    """Split a chat log into user and assistant turns.

    Consecutive messages of one role are joined with a blank line, and assistant messages
    before the user's first are dropped, so that turns interleave user first (the log keeps
    them as they were).
    """
    turns: list[tuple[str, str]] = []
    for kind, content in log:
        if turns and turns[-1][0] == kind:
            turns[-1] = (kind, f"{turns[-1][1]}\n\n{content}")
        elif turns or kind == "user":
            turns.append((kind, content))
    return [t for k, t in turns if k == "user"], [t for k, t in turns if k == "assistant"]


def optional_text(record: dict[str, object], key: str) -> str | None:
    """``record[key]`` as text; missing, null or blank gives ``None``."""
    value = record.get(key)
    return None if value is None or not str(value).strip() else str(value)


def chatbench_record(record: object, where: str, min_user_turns: int) -> HumanConversation | None:
    """One ChatBench record as a conversation (``None`` when it has too few user turns).

    Raises:
        ConfigError: A field is missing or malformed.
    """
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in CHATBENCH_REQUIRED if key not in record]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    try:
        qid = checked_text(str(record["questionID"]), "questionID")
        stem = checked_text(record["questionText"], "questionText")
        choices = checked_choices(record["choices"])
        labels = choice_labels(record, len(choices))
        answer = LETTERS[option_index(record["correctAnswer"], labels, choices, "correctAnswer")]
        selected = record.get("selectedAnswer")
        choice = None
        if selected is not None and str(selected).strip():
            choice = LETTERS[option_index(selected, labels, choices, "selectedAnswer")]
        log = _chat_log(record["chatHistory"])
        users, replies = chat_turns(log)
        model = checked_text(record["model"], "model")
    except BadField as exc:
        raise ConfigError(f"{where}: field {exc.field!r}: {exc.message}") from None
    if not has_turns(users, min_user_turns):
        return None
    question = checked_question(
        where, id=qid, subject=chatbench_subject(qid), stem=stem, choices=choices, answer=answer
    )
    return checked_conversation(
        where,
        question=question,
        user_turns=users,
        assistant_turns=replies,
        final_choice=choice,
        correct=None if choice is None else choice == answer,
        assistant_model=model,
        source="chatbench",
        worker_id=optional_text(record, "worker_id"),
        condition=optional_text(record, "condition"),
        log=tuple(log),
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
        data = strict_json.loads(read_text(path, "conversations file"))
    except json.JSONDecodeError as exc:  # a key given twice included
        raise ConfigError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid JSON: nested too deeply") from None
    conversations = []
    for where, record in chatbench_entries(data, path):
        conversation = chatbench_record(record, where, min_user_turns)
        if conversation is not None:
            conversations.append(conversation)
    return conversations


def chatbench_entries(data: object, path: Path) -> list[tuple[str, object]]:
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
