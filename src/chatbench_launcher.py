"""The ``chatbench`` command's entry point, outside the ``chatbench`` package so that it runs
before any of chatbench (a few seconds of imports) loads: Ctrl-C while chatbench starts ends
the command quietly with exit status 130, never a traceback."""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130


def _quit_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write("interrupted while starting: nothing ran\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def main() -> None:
    """Load chatbench with Ctrl-C ending the process quietly, then run the command with
    Python's own Ctrl-C handling (a ``KeyboardInterrupt`` the command reports)."""
    watching = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if watching:  # not when SIGINT is ignored (a background job keeps ignoring it)
        signal.signal(signal.SIGINT, _quit_while_starting)
    from chatbench.cli import main as run_command

    if watching:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    run_command()


if __name__ == "__main__":
    main()
