"""What the command modules share: the console, the option helper and plain-text cells.

Run ids, paths, graph and persona names, model strings, questions and model output are
user- or model-supplied and may hold square brackets (``x[extra]``, ``[/]``). Rich would read
them as markup: restyle them, drop ``[extra]`` from ``pip install 'chatbench[hf]'``, or crash
with a ``MarkupError``. So the console reads no markup at all; our own words are styled with
``Text`` (``Text.assemble(("error:", "red"), " ", message)``), and tables, which any console
may print, get ``Text`` cells and titles.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

Record = TypeVar("Record")

console = Console(markup=False, emoji=False)
"""Prints strings as they are: no markup, no ``:emoji:`` codes."""
if not console.is_terminal and not os.environ.get("COLUMNS"):  # logs and CI: wide enough for
    console.width = max(console.width, 120)  # the tables, unless a width is asked for


def opt(help: str, env: str) -> Any:
    """A typer option whose value can also come from ``CHATBENCH_<env>``.

    ``help`` is plain text: typer renders help as rich markup, so it is escaped here
    (``pip install 'chatbench[ray]'`` keeps its ``[ray]``).
    """
    return typer.Option(help=escape(help), envvar=f"CHATBENCH_{env}")


def cells(*values: object) -> list[Text]:
    """Table cells (or a title) as plain ``Text``: shown as they are on any console.

    Example:
        >>> [cell.plain for cell in cells("fake:say:[bold]", 3)]
        ['fake:say:[bold]', '3']
    """
    return [value if isinstance(value, Text) else Text(str(value)) for value in values]


def error_line(message: object) -> Text:
    """``error: <message>``, the one line a failed command prints."""
    return Text.assemble(("error:", "red"), " ", str(message))


def with_progress(
    label: str,
    planned: int,
    stored: int,
    run: Callable[[Callable[[Record], None]], object],
    status: Callable[[Counter[str], Record], str],
) -> None:
    """Call ``run(on_record)`` under a progress bar of ``planned`` jobs (conversations,
    answers) with ETA and a live ``status`` (computed from counts it keeps per record); the
    bar starts at the ``stored`` jobs a resumed run skips.

    Ctrl-C ends the command at once, even while model calls hang (``stop_at_interrupt``):
    every finished job is already stored, so it says how many and exits 130.
    """
    progress = Progress(
        TextColumn(f"[bold]{escape(label)}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task(label, total=planned, completed=stored, status="")
    counts = Counter[str]()
    done = [0]

    def on_record(record: Record) -> None:
        done[0] += 1
        progress.update(task, advance=1, status=status(counts, record))

    try:
        with progress:
            run(on_record)
    except KeyboardInterrupt:
        stop_at_interrupt(f"interrupted: {stored + done[0]} of {planned} {label} stored "
                          f"({done[0]} in this invocation); run the same command again to "
                          f"finish: stored ones are kept and skipped")


EXIT_INTERRUPTED = 130
"""The exit status after Ctrl-C (128 + SIGINT), as shells report it."""
EXIT_FAILURES = 3
"""The exit status of a command whose model calls failed for some jobs (stored with their
errors), unless ``--allow-failures``: a script or CI job can tell a broken run from a good
one. 2 is for bad input (nothing ran), 130 for Ctrl-C."""

AllowFailures = Annotated[bool, typer.Option(
    "--allow-failures/--no-allow-failures",
    help="Exit 0 even when some conversations or answers failed (they are stored with their "
         "errors and asked again on a rerun); by default such a command exits 3.",
    envvar="CHATBENCH_ALLOW_FAILURES")]


def exit_for_failures(failed: int, what: str, allow: bool) -> None:
    """Exit ``EXIT_FAILURES`` (after saying so) when ``failed`` jobs failed and failures are
    not allowed; return otherwise."""
    if failed and not allow:
        console.print(Text.assemble(
            ("exit 3:", "yellow"), f" {failed} {what} failed (stored with their errors; a rerun "
            "asks them again); --allow-failures exits 0"), soft_wrap=True)
        raise typer.Exit(EXIT_FAILURES)


def stop_at_interrupt(message: str) -> NoReturn:
    """End the command after Ctrl-C: print ``message`` and exit ``EXIT_INTERRUPTED`` now.

    Results are stored as each job ends (a committed SQLite row), so nothing is lost by not
    waiting: the process exits without joining the worker threads, which may sit in a model
    call that hangs. A second Ctrl-C while the message prints exits at once, quietly.
    """
    signal.signal(signal.SIGINT, lambda *_: os._exit(EXIT_INTERRUPTED))
    console.print(Text(message, style="yellow"), soft_wrap=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(EXIT_INTERRUPTED)
