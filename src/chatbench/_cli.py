"""What the command modules share: the console and the option helper."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

console = Console()
if not console.is_terminal:  # logs and CI: wide enough for the tables
    console.width = max(console.width, 120)


def opt(help: str, env: str) -> Any:
    """A typer option whose value can also come from ``CHATBENCH_<env>``."""
    return typer.Option(help=help, envvar=f"CHATBENCH_{env}")
