"""Scripted simulator: fixed user turns, for tests, demos and replaying real conversations."""

from __future__ import annotations

from chatbench.datatypes import Completion
from chatbench.errors import ModelOutputError
from chatbench.simulators.base import TurnRequest
from chatbench.simulators.registry import register_simulator


@register_simulator("scripted")
def scripted_turn(request: TurnRequest) -> Completion:
    """The next of ``GraphSpec.scripted_turns``; past its end, a forced answer repeats the last.

    Raises:
        ModelOutputError: The script has no turn left.
    """
    script = request.spec.scripted_turns
    if request.mode == "forced":
        return Completion(script[min(request.turn_index, len(script) - 1)])
    if request.turn_index >= len(script):
        raise ModelOutputError(f"the script has only {len(script)} user turns")
    return Completion(script[request.turn_index])
