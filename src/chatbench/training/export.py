"""Write training examples as JSONL, one example per line, and check such files.

Two formats:

- ``"chat"``: ``{"messages": [{"role": "system", ...}, {"role": "user", ...}, {"role":
  "assistant", ...}]}``, OpenAI's chat fine-tuning format (also TRL's conversational one),
  built exactly as the paper's ``convert_conversation_to_simulator_data`` builds it from each
  chat, message by message (``chatbench.training.chat.paper_chat_examples``). For
  fine-tuning an API model as the simulator, as the paper fine-tuned GPT-4o. A chat the
  paper's code refuses is refused with a one-line error.
- ``"chat_merged"``: the same lines made from the merged turns (two user messages in a row
  are one target; an assistant greeting before the user's first message is dropped), so
  every conversation converts: chatbench's variant.
- ``"text"``: ``{"prompt": ..., "completion": ...}``, the causal-LM examples ``chatbench
  train`` fine-tunes a local model on (``chatbench.training.examples``), for other trainers.

Example:
    >>> from chatbench.data.human_data import load_halie
    >>> export_examples(load_halie("train"), "chat_train.jsonl").examples  # doctest: +SKIP
    2974
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from chatbench import _json as strict_json
from chatbench._files import read_text
from chatbench.data.human_data import HumanConversation
from chatbench.errors import ConfigError
from chatbench.training.chat import build_chat_examples, chat_record_problem
from chatbench.training.examples import build_examples

ExampleFormat = Literal["text", "chat", "chat_merged"]
EXAMPLE_FORMATS: tuple[str, ...] = ("text", "chat", "chat_merged")
CHAT_FORMATS = ("chat", "chat_merged")
"""Both write chat lines: ``chat`` exactly as the paper's code converts the chats (refusing
where it refuses), ``chat_merged`` on the merged turns (every conversation converts)."""


@dataclass(frozen=True)
class ExportResult:
    """What ``export_examples`` wrote."""

    path: Path
    format: str
    examples: int
    """Lines written, each checked by ``validate_jsonl``."""
    conversations: int
    questions: int


def check_example_format(fmt: str) -> None:
    """Check an example format name.

    Raises:
        ConfigError: ``fmt`` is not one of ``EXAMPLE_FORMATS``.
    """
    if fmt not in EXAMPLE_FORMATS:
        raise ConfigError(f"field 'format': unknown example format {fmt!r}; expected "
                          f"{', '.join(EXAMPLE_FORMATS)}")


def example_records(
    conversations: Sequence[HumanConversation], fmt: str = "chat"
) -> list[dict[str, Any]]:
    """The JSONL records of the conversations' training examples, in order.

    Args:
        conversations: Real users' conversations.
        fmt: ``"chat"`` (the paper's simulator data), ``"chat_merged"`` (the same on merged
            turns) or ``"text"`` (the causal-LM simulator's prompt and target).

    Raises:
        ConfigError: Unknown format, or (``chat``) a chat the paper's code refuses.
    """
    check_example_format(fmt)
    if fmt in CHAT_FORMATS:
        return [example.record() for example in
                build_chat_examples(conversations, merged=fmt == "chat_merged")]
    return [{"prompt": e.prompt, "completion": e.target} for e in build_examples(conversations)]


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write one JSON object per line (UTF-8), atomically; missing folders are created.

    Args:
        records: JSON-serializable objects.
        path: The file to write (replaced if it exists).

    Returns:
        The path written.

    Raises:
        ConfigError: The path is a folder, or cannot be written (the message says why).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file path such as {path / 'train.jsonl'}")
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                file.write(text)
            os.replace(staging, path)  # a failed write leaves no half-written file
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise
    except (FileExistsError, NotADirectoryError):  # a file where a folder must be
        raise ConfigError(f"{path}: cannot write the file: a part of {path.parent} is a "
                          "file, not a folder") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the file: {exc.strerror or exc}") from None
    return path


def _text_record_problem(record: Any) -> str | None:
    """What is wrong with a ``{"prompt", "completion"}`` record, or ``None``."""
    if not isinstance(record, dict) or set(record) != {"prompt", "completion"}:
        return 'expected a JSON object with "prompt" and "completion"'
    if not all(isinstance(value, str) for value in record.values()):
        return "prompt and completion must be text"
    return None


def validate_jsonl(path: str | Path, fmt: str = "chat") -> int:
    """Check that every line of a JSONL file is a valid training example.

    ``chat``: an object with a ``messages`` list, an optional system message, then user and
    assistant messages alternating and ending with the assistant (``chat_record_problem``).
    ``text``: an object with text ``prompt`` and ``completion``.

    Args:
        path: The file.
        fmt: ``"chat"``, ``"chat_merged"`` or ``"text"``.

    Returns:
        The number of examples (non-empty lines).

    Raises:
        ConfigError: The file is unreadable, empty, or a line is not valid JSON or not a valid
            example (the message names the line).
    """
    check_example_format(fmt)
    path = Path(path)
    check = chat_record_problem if fmt in CHAT_FORMATS else _text_record_problem
    count = 0
    lines = read_text(path, "JSONL file").splitlines()
    for _, where, record in strict_json.jsonl_values(lines, str(path)):
        problem = check(record)
        if problem is not None:
            raise ConfigError(f"{where}: not a {fmt} example: {problem}")
        count += 1
    if not count:
        raise ConfigError(f"{path}: no examples")
    return count


def export_examples(
    conversations: Sequence[HumanConversation],
    path: str | Path,
    fmt: str = "chat",
    *,
    max_examples: int | None = None,
) -> ExportResult:
    """Write the conversations' training examples to a JSONL file and check it.

    Args:
        conversations: Real users' conversations, e.g. ``load_halie("train")``; pass only a
            train split (never fine-tune on held-out questions).
        path: The JSONL file to write.
        fmt: ``"chat"`` (OpenAI chat fine-tuning lines, as the paper's code makes them),
            ``"chat_merged"`` (the same on merged turns) or ``"text"`` (the causal-LM
            prompt/completion pairs ``chatbench train`` uses).
        max_examples: Write only the first this many examples.

    Returns:
        The path, format and counts.

    Raises:
        ConfigError: Unknown format, no examples, a chat the paper's code refuses
            (``chat``), or the file cannot be written.

    Example:
        >>> export_examples(load_halie("train"), "text.jsonl", "text").examples  # doctest: +SKIP
        2974
    """
    if max_examples is not None and max_examples < 1:
        raise ConfigError(f"field 'max_examples': must be positive, got {max_examples}")
    records = example_records(conversations, fmt)[:max_examples]
    if not records:
        raise ConfigError("no training examples: the conversations have no user turns")
    written = write_jsonl(records, path)
    return ExportResult(
        path=written,
        format=fmt,
        examples=validate_jsonl(written, fmt),
        conversations=len(conversations),
        questions=len({c.question.id for c in conversations}),
    )
