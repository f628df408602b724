"""What the command modules share: the console, the option helper and plain-text cells.

Run ids, paths, graph and persona names, model strings, questions and model output are
user- or model-supplied and may hold square brackets (``x[extra]``, ``[/]``). Rich would read
them as markup: restyle them, drop ``[extra]`` from ``pip install 'chatbench[hf]'``, or crash
with a ``MarkupError``. So the console reads no markup at all; our own words are styled with
``Text`` (``Text.assemble(("error:", "red"), " ", message)``), and tables, which any console
may print, get ``Text`` cells and titles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

Record = TypeVar("Record")

console = Console(markup=False, emoji=False)
"""Prints strings as they are: no markup, no ``:emoji:`` codes."""
if not console.is_terminal:  # logs and CI: wide enough for the tables
    console.width = max(console.width, 120)


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
    bar starts at the ``stored`` jobs a resumed run skips."""
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

    def on_record(record: Record) -> None:
        progress.update(task, advance=1, status=status(counts, record))

    with progress:
        run(on_record)
