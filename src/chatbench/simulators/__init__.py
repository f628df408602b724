"""User simulators: each writes the simulated user's next turn from a ``TurnRequest``."""

from chatbench.simulators.base import TurnMode, TurnRequest
from chatbench.simulators.registry import get_simulator, register_simulator

__all__ = ["TurnMode", "TurnRequest", "get_simulator", "register_simulator"]
