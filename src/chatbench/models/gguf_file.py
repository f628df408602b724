"""GGUF files: telling one from anything else, and reading a few values from its header.

Reads the header directly (a few dozen lines, no dependency): the ``gguf`` package's reader
maps every tensor first, which took 10 s for a 540 MB file here.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from chatbench.errors import ConfigError

GGUF_MAGIC = b"GGUF"

_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
    12: "<d",
}  # fmt: skip
"""GGUF value types with a fixed size, as ``struct`` formats (8: string, 9: array)."""


def check_gguf_file(path: Path) -> None:
    """Refuse a path that is not a readable GGUF file.

    Raises:
        ConfigError: Missing, unreadable, or not a GGUF file (its first bytes say).
    """
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except FileNotFoundError:
        raise ConfigError(f"no GGUF file at {str(path)!r}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the GGUF file {str(path)!r}: {exc}") from None
    if magic != GGUF_MAGIC:
        raise ConfigError(f"{str(path)!r} is not a GGUF file (it does not start with 'GGUF')")


def _read(file: BinaryIO, fmt: str) -> object:
    size = struct.calcsize(fmt)
    data = file.read(size)
    if len(data) != size:
        raise ValueError("the header ends early")
    return struct.unpack(fmt, data)[0]


def _string(file: BinaryIO) -> str:
    length = int(_read(file, "<Q"))  # type: ignore[call-overload]  # an int
    return file.read(length).decode("utf-8", errors="replace")


def _value(file: BinaryIO, kind: int) -> object:
    if kind == 8:
        return _string(file)
    if kind == 9:
        item, count = int(_read(file, "<I")), int(_read(file, "<Q"))  # type: ignore[call-overload]
        return [_value(file, item) for _ in range(count)]
    if kind not in _SCALARS:
        raise ValueError(f"unknown value type {kind}")
    return _read(file, _SCALARS[kind])


def _skip(file: BinaryIO, kind: int) -> None:
    """Move past a value without decoding it (token lists hold ~50,000 strings)."""
    if kind == 8:
        file.seek(int(_read(file, "<Q")), 1)  # type: ignore[call-overload]  # an int
    elif kind == 9:
        item, count = int(_read(file, "<I")), int(_read(file, "<Q"))  # type: ignore[call-overload]
        if item in _SCALARS:
            file.seek(count * struct.calcsize(_SCALARS[item]), 1)
        else:
            for _ in range(count):
                _skip(file, item)
    elif kind in _SCALARS:
        file.seek(struct.calcsize(_SCALARS[kind]), 1)
    else:
        raise ValueError(f"unknown value type {kind}")


def read_metadata(path: Path, wanted: Collection[str]) -> dict[str, object]:
    """The values of the header keys ``wanted`` that the file has (``*`` in a key matches the
    architecture, as in ``*.context_length``).

    Raises:
        ConfigError: The file is missing, not a GGUF file, or its header is damaged.
    """
    check_gguf_file(path)
    found: dict[str, object] = {}
    try:
        with open(path, "rb") as file:
            file.seek(8)  # magic, version
            _read(file, "<Q")  # tensors
            count = int(_read(file, "<Q"))  # type: ignore[call-overload]  # an int
            arch = ""
            for _ in range(count):
                key, kind = _string(file), int(_read(file, "<I"))  # type: ignore[call-overload]
                generic = key.replace(arch, "*", 1) if arch else key
                if key == "general.architecture":
                    arch = str(_value(file, kind))
                    if key in wanted:
                        found[key] = arch
                elif key in wanted or generic in wanted:
                    found[generic if generic in wanted else key] = _value(file, kind)
                else:
                    _skip(file, kind)
    except (OSError, ValueError, struct.error) as exc:
        raise ConfigError(f"cannot read the header of {str(path)!r}: {exc}") from None
    return found


KV_KEYS = ("*.block_count", "*.attention.head_count", "*.attention.head_count_kv",
           "*.embedding_length", "*.attention.key_length", "*.attention.value_length")
"""The header keys ``kv_bytes_per_token`` reads."""


def kv_bytes_per_token(metadata: dict[str, object]) -> int | None:
    """Bytes of keys and values (f16, llama.cpp's default) one token takes in a context, from
    a header's ``KV_KEYS`` (``read_metadata``); None when the header does not say.

    Example:
        >>> kv_bytes_per_token({"*.block_count": 30, "*.attention.head_count": 9,
        ...                     "*.attention.head_count_kv": 3, "*.embedding_length": 576})
        23040
    """
    layers, width = metadata.get("*.block_count"), metadata.get("*.embedding_length")
    heads = metadata.get("*.attention.head_count")
    kv = metadata.get("*.attention.head_count_kv", heads)  # per layer, or one for all
    if isinstance(heads, list):  # per layer: the head width is the same in every layer
        heads = heads[0] if heads else None
    if isinstance(kv, int) and isinstance(layers, int):
        kv = [kv] * layers
    if not (isinstance(width, int) and isinstance(heads, int) and heads > 0
            and isinstance(kv, list) and all(isinstance(n, int) for n in kv)):
        return None
    key = metadata.get("*.attention.key_length", width // heads)
    value = metadata.get("*.attention.value_length", width // heads)
    if not isinstance(key, int) or not isinstance(value, int):
        return None
    return sum(kv) * (key + value) * 2
