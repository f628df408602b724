"""What the command modules share: the console, the option helper and plain-text cells.

Run ids, paths, graph and persona names, model strings, questions and model output are
user- or model-supplied and may hold square brackets (``x[extra]``, ``[/]``). Rich would read
them as markup: restyle them, drop ``[extra]`` from ``pip install 'chatbench[hf]'``, or crash
with a ``MarkupError``. So the console reads no markup at all; our own words are styled with
``Text`` (``Text.assemble(("error:", "red"), " ", message)``), and tables, which any console
may print, get ``Text`` cells and titles.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

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
