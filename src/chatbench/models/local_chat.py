"""``LocalChat``: the one LangChain chat adapter over chatbench's local engines.

Both engines serve a chat model through it: the torch engine's ``LocalCausalLM``
(``hf.LocalChatModel``) and llama.cpp's ``GGUFModel`` (``gguf_chat.GGUFChatModel``). It turns
messages into chat turns, takes ``temperature``, ``max_tokens`` and ``seed`` per call, keeps
a trailing ``AIMessage`` as a prefill the reply continues, drops the oldest non-system
messages until the prompt fits, and reports token usage. An engine only says how it writes
one reply for the turns (``_reply``), raising ``PromptTooLong`` when they do not fit.

What the rest of chatbench asks of a model it reads from the adapter's class attributes,
never from ``_llm_type``: ``takes_call_seed`` (a per-call ``seed`` argument makes reruns
repeat) and ``loads_weights`` (it holds weights in this process).
"""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from chatbench.datatypes import Completion
from chatbench.errors import ConfigError

ROLES: dict[type[BaseMessage], str] = {
    HumanMessage: "user",
    AIMessage: "assistant",
    SystemMessage: "system",
    ToolMessage: "tool",
}
"""The chat-template role of each message type local models take."""
DEFAULT_MAX_TOKENS = 256
"""Most new tokens of a call that does not say (``LocalChat.max_tokens``)."""


class PromptTooLong(ValueError):
    """The turns do not fit in the model's context with room for the reply."""


def chat_turn(message: BaseMessage) -> dict[str, str]:
    """``message`` as a chat-template turn.

    Raises:
        ConfigError: A message type local models cannot take.
    """
    for cls, role in ROLES.items():
        if isinstance(message, cls):
            return {"role": role, "content": str(message.content)}
    raise ConfigError(f"local chat models cannot take a {type(message).__name__}")


class LocalChat(BaseChatModel):
    """A chat model over a local engine's ``lm`` (see the module)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    takes_call_seed: ClassVar[bool] = True
    """Calls take ``seed=``: the same seed repeats the reply."""
    loads_weights: ClassVar[bool] = True
    """The model's weights live in this process."""

    lm: Any = Field(exclude=True)
    """The engine's model that generates."""
    model_name: str = "local"
    temperature: float = 0.7
    max_tokens: int = DEFAULT_MAX_TOKENS

    @property
    def _llm_type(self) -> str:
        return "chatbench-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _reply(self, turns: list[dict[str, str]], *, max_tokens: int, temperature: float,
               stop: list[str], seed: int | None, must_fit: bool) -> Completion:
        """One reply to ``turns`` (a trailing assistant turn is a prefill to continue).

        Args:
            must_fit: Whether turns could still be dropped; when not, an engine that can
                take an over-long prompt (the torch engine) sends it as it is.

        Raises:
            PromptTooLong: The turns do not fit with room for ``max_tokens``.
        """
        raise NotImplementedError

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turns = [chat_turn(m) for m in messages]
        # The last message stays, and the one it continues when it is a prefill.
        kept = 2 if len(turns) > 1 and turns[-1]["role"] == "assistant" else 1
        settings = {"max_tokens": int(kwargs.get("max_tokens", self.max_tokens)),
                    "temperature": float(kwargs.get("temperature", self.temperature)),
                    "stop": list(stop or []), "seed": kwargs.get("seed")}
        while True:
            droppable = [i for i, t in enumerate(turns[:-kept]) if t["role"] != "system"]
            try:
                completion = self._reply(turns, must_fit=bool(droppable), **settings)
                break
            except PromptTooLong:
                if not droppable:
                    raise
                del turns[droppable[0]]
        input_tokens, output_tokens = completion.input_tokens or 0, completion.output_tokens or 0
        usage = UsageMetadata(input_tokens=input_tokens, output_tokens=output_tokens,
                              total_tokens=input_tokens + output_tokens)
        message = AIMessage(content=completion.text.strip(), usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])
