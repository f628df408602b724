"""JSON from users' files, read strictly: a key given twice in one object is an error.

``json.loads`` keeps the last value of a repeated key and says nothing, so a question line
``{"answer": "A", ..., "answer": "C"}`` would be scored against C. ``loads`` refuses it with a
``json.JSONDecodeError`` whose position is the repeated key, so callers that already report
invalid JSON with its line and column report this too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from chatbench._yaml import shorten
from chatbench.errors import ConfigError

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_PLAIN = json.JSONDecoder()


class _RepeatedKey(Exception):
    def __init__(self, key: str, at: int = 0) -> None:
        super().__init__(key)
        self.key, self.at = key, at


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: the object, unless a key repeats."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


_STRICT = json.JSONDecoder(object_pairs_hook=_unique_keys)


def loads(text: str) -> Any:
    """``json.loads(text)``, refusing a key repeated in an object.

    Raises:
        json.JSONDecodeError: ``text`` is not JSON, or an object repeats a key; then ``msg``
            is ``duplicate key 'KEY'`` and ``pos``, ``lineno`` and ``colno`` point at the
            key's second occurrence.
        RecursionError: It is nested deeper than Python's stack.

    Example:
        >>> loads('{"a": 1, "a": 2}')
        Traceback (most recent call last):
        json.decoder.JSONDecodeError: duplicate key 'a': line 1 column 10 (char 9)
    """
    try:
        return _STRICT.decode(text)
    except _RepeatedKey as exc:
        found = _first_repeat(text) or exc
        raise json.JSONDecodeError(
            f"duplicate key {shorten(repr(found.key), 60)}", text, found.at) from None


def jsonl_values(lines: Iterable[str], name: str) -> Iterator[tuple[int, str, Any]]:
    """Each non-blank line of a JSONL file read with ``loads``, as it is read: its number,
    where it is (``"NAME, line N"``, for the caller's errors) and its value.

    Raises:
        ConfigError: A line is not valid JSON (a key given twice included), named by line and
            column.

    Example:
        >>> [(n, value) for n, _, value in jsonl_values(['{"a": 1}', "", "[2]"], "f.jsonl")]
        [(1, {'a': 1}), (3, [2])]
    """
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}, line {line_no}"
        try:
            value = loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:  # arrays or objects nested thousands deep
            raise ConfigError(f"{where}: invalid JSON: nested too deeply") from None
        yield line_no, where, value


def _first_repeat(text: str) -> _RepeatedKey | None:
    """The first key (in text order) repeated in an object of ``text`` (valid JSON but for
    that), with its offset; None if none is found. Run only to place an error."""
    try:
        _walk(text, 0)
    except _RepeatedKey as exc:
        return exc
    except (ValueError, IndexError, RecursionError):
        return None
    return None


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _walk(text: str, pos: int) -> int:
    """Walk the value at ``pos``, raising ``_RepeatedKey`` at a repeated key; its end."""
    pos = _skip(text, pos)
    if text[pos] == "{":
        seen: set[str] = set()
        pos = _skip(text, pos + 1)
        if text[pos] == "}":
            return pos + 1
        while True:
            key, end = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            if key in seen:
                raise _RepeatedKey(key, pos)
            seen.add(key)
            pos = _skip(text, _walk(text, _skip(text, end) + 1))  # past ':' and the value
            if text[pos] == "}":
                return pos + 1
            pos = _skip(text, pos + 1)  # past ','
    if text[pos] == "[":
        pos = _skip(text, pos + 1)
        if text[pos] == "]":
            return pos + 1
        while True:
            pos = _skip(text, _walk(text, pos))
            if text[pos] == "]":
                return pos + 1
            pos += 1  # past ','
    return int(_PLAIN.raw_decode(text, pos)[1])
