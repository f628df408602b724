"""Text from models and users made safe to store: what UTF-8 cannot hold is escaped.

A Python ``str`` may hold lone surrogates (``"\\ud800"``): a model's tokenizer can emit one, and
a file name or command-line argument with undecodable bytes arrives as one
(``surrogateescape``). No UTF-8 text can hold them, so JSON, SQLite and files refuse them.
Everything else a ``str`` can hold (NUL, noncharacters such as U+FFFE, control characters) is
valid UTF-8 and is kept as it is.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError


def encodable(text: str) -> str:
    """``text`` as UTF-8 can hold it: each lone surrogate becomes its backslash escape.

    Args:
        text: Any string.

    Returns:
        ``text`` itself when it is valid Unicode (the usual case, no copy); otherwise a copy
        with each lone surrogate written as ``\\udXXX``, which keeps the code point readable.

    Example:
        >>> encodable("ok \\ud800")
        'ok \\\\ud800'
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def unicode_problem(text: str) -> str | None:
    """Why ``text`` is not valid Unicode (it holds a lone surrogate), or None when it is.

    Ids (question ids, run ids, variant names) must be valid Unicode: a store keeps a lone
    surrogate escaped, so an id holding one would not be found again as given.

    Example:
        >>> unicode_problem("q\\ud800")
        'is not valid Unicode text (a lone surrogate \\\\ud800 at character 2)'
        >>> unicode_problem("ok") is None
        True
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"is not valid Unicode text (a lone surrogate {encodable(text[exc.start])} at "
                f"character {exc.start + 1})")
    return None


def valid_id(text: str) -> str:
    """``text``, refused when it is not valid Unicode (a pydantic ``AfterValidator`` of ids).

    Raises:
        ValueError: It holds a lone surrogate (``unicode_problem``).
    """
    problem = unicode_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def encodable_data(value: Any) -> Any:
    """JSON-like ``value`` (dicts, lists, tuples, strings, numbers) with every string, keys
    included, made ``encodable``; other values are returned as they are."""
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {encodable_data(key): encodable_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encodable_data(item) for item in value]
    return value


def json_data(value: Any) -> Any:
    """``value`` as plain JSON data whatever it holds: objects JSON cannot hold become their
    ``repr``, keys JSON cannot hold are dropped, and strings are made ``encodable``."""
    return encodable_data(json.loads(json.dumps(value, default=repr, skipkeys=True)))


def model_json(model: BaseModel) -> str:
    """``model.model_dump_json()``, with lone surrogates in its strings (keys too) escaped.

    Raises:
        PydanticSerializationError: Something other than text cannot be serialised (an
            object in a free-form field that JSON cannot hold).

    Example:
        >>> from chatbench.records import TranscriptTurn
        >>> model_json(TranscriptTurn(role="user", content="\\ud800"))
        '{"role":"user","content":"\\\\\\\\ud800"}'
    """
    try:
        text = model.model_dump_json()
    except PydanticSerializationError:  # most often a lone surrogate in a value
        text = _REPLACEMENT  # take the slow path
    # pydantic writes a lone surrogate in a dict key as U+FFFD, losing it (in JSON mode too):
    # when U+FFFD shows up (rarely otherwise), escape the Python data and encode that instead
    if _REPLACEMENT in text:
        return type(model).model_validate(encodable_data(model.model_dump())).model_dump_json()
    return text


_REPLACEMENT = "\ufffd"
"""U+FFFD REPLACEMENT CHARACTER."""
