"""Reading users' files and writing outputs, with one line naming the file on failure.

Every error here is a ``ConfigError`` (the CLI prints it on one line and exits with code 2):
a missing, unreadable, binary or non-UTF-8 input; an output path that is a folder, under a
file, read-only or on a full disk.
"""

from __future__ import annotations

import codecs
import errno
import io
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chatbench.errors import ConfigError

_REASONS = {
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "is not a folder",
    errno.EEXIST: "is not a folder",  # mkdir(exist_ok=True) on a file
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
}


def file_error(path: Path, exc: OSError, doing: str) -> ConfigError:
    """A one-line ``ConfigError`` for ``exc``, met while ``doing`` something with ``path``.

    Args:
        path: The file the user named.
        exc: The error; its ``filename`` may be a folder above ``path``.
        doing: What failed, e.g. "write the HTML report".

    Returns:
        The error to raise, e.g. ``out/x.html: cannot write the HTML report (out is not a
        folder)``.
    """
    reason = _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    culprit = Path(exc.filename) if isinstance(exc.filename, str) else path
    if culprit != path:
        reason = f"{culprit} {reason}" if exc.errno in _REASONS else f"{culprit}: {reason}"
    return ConfigError(f"{path}: cannot {doing} ({reason})")


def read_text(path: Path, what: str) -> str:
    """Read a user's file as UTF-8 (a BOM is allowed).

    Args:
        path: The file.
        what: What it should be, for messages: "graph file", "persona file".

    Returns:
        Its text.

    Raises:
        ConfigError: The file is missing, a directory, unreadable, or not UTF-8; the message
            names it (and the line of a bad byte).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise read_error(path, what, exc) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}, line {line}: not a {what} (byte 0x{data[exc.start]:02x} is not UTF-8 "
            "text); save it as UTF-8"
        ) from None


def read_error(path: Path, what: str, exc: OSError) -> ConfigError:
    """The one-line error of a user's file that cannot be opened for reading (``what``: what
    it should be): missing, a directory, or ``file_error``'s wording of the rest."""
    if isinstance(exc, FileNotFoundError):
        return ConfigError(f"{path}: file not found")
    if isinstance(exc, IsADirectoryError):
        return ConfigError(f"{path}: is a directory, not a {what}")
    return file_error(path, exc, f"read the {what}")


def read_lines(path: Path, what: str, *, newline: str = "") -> Iterator[str]:
    """The lines of a user's file as UTF-8 (a BOM is allowed), read one at a time: memory
    holds one line, however long the file. Errors are those of ``read_text``.

    The file is opened here (so a missing file fails at the call) and closed when the lines
    run out or the iterator is closed or dropped.

    Args:
        path: The file.
        what: What it should be, for messages: "question file".
        newline: As for ``open``: ``""`` splits at any line ending and keeps it (what the
            ``csv`` module wants); ``"\n"`` splits at ``\n`` only.

    Raises:
        ConfigError: The file is missing, a directory or unreadable (at the call), or a byte
            is not UTF-8 (when that line is reached; the message names the line).
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise read_error(path, what, exc) from None
    return _lines(handle, path, what, newline)


def _lines(handle: io.BufferedReader, path: Path, what: str, newline: str) -> Iterator[str]:
    with io.TextIOWrapper(handle, encoding="utf-8-sig", newline=newline) as text:
        try:
            yield from text
        except UnicodeDecodeError:
            raise _not_utf8(path, what) from None
        except OSError as exc:
            raise file_error(path, exc, f"read the {what}") from None


def _not_utf8(path: Path, what: str) -> ConfigError:
    """The ``read_text`` error for ``path``'s first byte that is not UTF-8, found by reading
    it again in chunks (only when decoding failed)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    try:
        with path.open("rb") as handle:
            for chunk in itertools.chain(iter(lambda: handle.read(1 << 20), b""), [None]):
                try:
                    decoder.decode(chunk or b"", final=chunk is None)
                except UnicodeDecodeError as exc:  # exc.object: any held bytes, then chunk
                    line += exc.object.count(b"\n", 0, exc.start)
                    return ConfigError(
                        f"{path}, line {line}: not a {what} (byte 0x{exc.object[exc.start]:02x} "
                        "is not UTF-8 text); save it as UTF-8")
                line += (chunk or b"").count(b"\n")
    except OSError as exc:
        return file_error(path, exc, f"read the {what}")
    return ConfigError(f"{path}: not a {what} (not UTF-8 text); save it as UTF-8")


@contextmanager
def writing(path: Path, what: str) -> Iterator[Path]:
    """Write ``what`` to ``path`` (a file or a folder) inside this block; an ``OSError``
    becomes one ``ConfigError`` line naming the path.

    Example:
        >>> with writing(Path("report.html"), "the HTML report") as out:  # doctest: +SKIP
        ...     out.write_text(page)
    """
    try:
        yield path
    except OSError as exc:
        raise file_error(path, exc, f"write {what}") from None


def output_folder(folder: Path, what: str) -> Path:
    """Create ``folder`` (and its parents) for ``what``, or say on one line why not.

    Raises:
        ConfigError: It is a file, is under a file, or cannot be created.
    """
    with writing(folder, what):
        folder.mkdir(parents=True, exist_ok=True)
    return folder
