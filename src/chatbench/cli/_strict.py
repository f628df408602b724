"""No blank option values: the ``chatbench`` command group refuses ``--user ''`` and the like.

Typer reads an empty string given for an option as given: ``--run-id ''`` then means "no run
id" (the default), ``--subjects ''`` all subjects, and ``''`` for a path the current folder.
One check at the group, before any command parses its options, refuses them all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from typer.core import TyperGroup

from chatbench.errors import ConfigError


class NoBlankValues(TyperGroup):
    """The ``chatbench`` command group: before any command runs, an empty or blank value
    given for any of its options or arguments (``--user ''``, ``--run-id ' '``, ``''`` for a
    path) is refused with one line naming the option, rather than read as the default (or,
    for a path, as the current folder). A ``CHATBENCH_*`` variable set to spaces only is
    refused the same way; one set to nothing counts as unset, as it always did."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            refuse_blank_values(ctx, name, command, rest)
        return name, command, rest


def refuse_blank_values(ctx: Any, name: str | None, command: Any, args: Sequence[str]) -> None:
    """Refuse a blank value in ``args`` (a command's own arguments, not parsed yet) or in an
    option's environment variable.

    Raises:
        ConfigError: One is blank; the message names the option (or the variable).
    """
    probe = type(ctx)(command, parent=ctx, info_name=name, resilient_parsing=True)
    try:  # the command's own parser, on a context of its own: nothing is converted or run
        given, _, _ = command.make_parser(probe).parse_args(args=list(args))
    except Exception:  # noqa: BLE001  (a usage error: the command's own parsing reports it)
        return
    for param in command.get_params(probe):
        value = given.get(param.name)
        values = value if isinstance(value, list | tuple) else [value]
        option = param.opts[0].startswith("-")
        label = param.opts[0] if option else param.name.upper()
        if any(isinstance(item, str) and not item.strip() for item in values):
            raise ConfigError(f"{label} is empty: give it a value" + (
                ", or leave the option out for its default" if option else ""))
        env = os.environ.get(param.envvar) if isinstance(param.envvar, str) else None
        if value is None and env and not env.strip():
            raise ConfigError(f"{param.envvar} (for {label}) is blank: give it a value, or "
                              "unset it for the default")
