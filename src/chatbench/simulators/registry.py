"""Simulator registry: ``GraphSpec.simulator`` names map to functions that write one turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chatbench.datatypes import Completion
from chatbench.errors import ConfigError
from chatbench.simulators.base import TurnRequest

SimulatorFn = Callable[[TurnRequest], Completion]
F = TypeVar("F", bound=SimulatorFn)

_SIMULATORS: dict[str, SimulatorFn] = {}


def register_simulator(name: str) -> Callable[[F], F]:
    """Register a function that writes a user turn under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def decorate(fn: F) -> F:
        if name in _SIMULATORS:
            raise ValueError(f"simulator {name!r} is already registered")
        _SIMULATORS[name] = fn
        return fn

    return decorate


def get_simulator(name: str) -> SimulatorFn:
    """The registered simulator called ``name``.

    Raises:
        ConfigError: No simulator has that name; the message lists the known ones.
    """
    # Importing the implementations registers them; done here to keep imports acyclic.
    from chatbench.simulators import causal_lm, prompted, scripted  # noqa: F401

    try:
        return _SIMULATORS[name]
    except KeyError:
        raise ConfigError(
            f"unknown simulator {name!r}; known: {', '.join(sorted(_SIMULATORS))}"
        ) from None
