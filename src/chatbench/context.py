"""Per-conversation dependencies handed to the graph as LangGraph's runtime context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from chatbench.datatypes import TextCompleter
from chatbench.errors import ConfigError
from chatbench.personas import Persona


@dataclass(frozen=True)
class SimContext:
    """The models and persona one conversation runs with (never stored in the state).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> ctx = SimContext(assistant=FakeListChatModel(responses=["It is B."]))
        >>> ctx.persona is None
        True
    """

    assistant: BaseChatModel
    """The assistant under evaluation."""
    user: BaseChatModel | TextCompleter | None = None
    """The simulator's model: a chat model for prompted simulators, a text completer for the
    causal-LM simulator, None for scripted turns."""
    judge: BaseChatModel | None = None
    """Optional: reads a final user message that the rules in ``extract_choice`` cannot."""
    persona: Persona | None = None
    """Who the simulated user is; only the simulator sees it."""
    seed: int | None = None
    """Per-conversation seed; local models derive each call's sampling seed from it."""
    call_timeout_s: float | None = None
    """Longest wait for one model call; a timeout is retried like any transient failure."""
    stopping_condition: Callable[[Mapping[str, Any]], bool] | None = None
    """Scenarios: called with the conversation state after every user and assistant turn; a
    true result ends the conversation (stop reason ``stopped``) and the judge scores it."""

    def __post_init__(self) -> None:
        for role in ("assistant", "user", "judge"):
            model = getattr(self, role)
            if isinstance(model, str):
                raise ConfigError(
                    f"SimContext argument {role!r}: takes a model object, not the string "
                    f"{model!r}; build one with chatbench.get_chat_model({model!r})")
        if self.stopping_condition is not None and not callable(self.stopping_condition):
            raise ConfigError(f"SimContext argument 'stopping_condition': expected a function "
                              f"of the state, got {type(self.stopping_condition).__name__}")
        if isinstance(self.persona, str):
            raise ConfigError(f"SimContext argument 'persona': takes a Persona, not the string "
                              f"{self.persona!r}; load one with "
                              f"chatbench.load_persona({self.persona!r})")
