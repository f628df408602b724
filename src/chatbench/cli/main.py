"""``main``: the ``chatbench`` command's entry point around the typer app: user mistakes as one
line and exit 2, typer's returned exit codes passed on, Ctrl-C as exit 130."""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
from pathlib import Path

import typer

from chatbench._files import file_error
from chatbench.cli._common import EXIT_INTERRUPTED, console, error_line, stop_at_interrupt
from chatbench.cli.commands import EXIT_CONFIG_ERROR, app
from chatbench.errors import ChatBenchError


def main() -> None:
    """Entry point: user mistakes print one line and exit 2, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _print_any_text()
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:  # Ctrl-C outside typer's own handling (it returns 130)
        code = EXIT_INTERRUPTED
    except ChatBenchError as exc:
        console.print(error_line(exc), soft_wrap=True)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    except OSError as exc:
        if not isinstance(exc.filename, str | bytes):  # not about a file: keep the traceback
            raise
        # a file the entry points did not foresee: still one line naming it
        error = file_error(Path(os.fsdecode(exc.filename)), exc, "use the file")
        console.print(error_line(error), soft_wrap=True)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except _usage_errors() as exc:  # they carry their own exit code (2 for usage)
        exc.show()
        raise SystemExit(exc.exit_code) from None
    # Out of standalone mode typer returns the code of a ``typer.Exit`` (and 130 for a
    # Ctrl-C it caught) instead of exiting with it.
    if code == EXIT_INTERRUPTED:
        stop_at_interrupt("interrupted: nothing was left half-stored; run the same command "
                          "again to go on")
    if isinstance(code, int) and not isinstance(code, bool) and code:
        raise SystemExit(code)


def _print_any_text() -> None:
    """Let stdout and stderr print text UTF-8 cannot hold (a lone surrogate from a model, or
    from a file name's undecodable bytes) as a backslash escape, rather than crash on it."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's exception classes: the ``click`` package's, and the copy that typer 0.2x
    vendors (an unknown option raises that one)."""
    found: list[type[Exception]] = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except ImportError:  # newer typer vendors click; older typer uses the package
            pass
    return tuple(found)


if __name__ == "__main__":
    main()
