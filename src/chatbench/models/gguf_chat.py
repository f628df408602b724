"""A LangChain chat model over a GGUF model on llama.cpp (``chatbench.models.gguf``)."""

from __future__ import annotations

from typing import Any

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

from chatbench.errors import ConfigError
from chatbench.models.gguf import GGUFModel, PromptTooLong
from chatbench.models.invoke import LOCAL_LLM_TYPE

_ROLES = {
    HumanMessage: "user",
    AIMessage: "assistant",
    SystemMessage: "system",
    ToolMessage: "tool",
}


def _turn(message: BaseMessage) -> dict[str, str]:
    for cls, role in _ROLES.items():
        if isinstance(message, cls):
            return {"role": role, "content": str(message.content)}
    raise ConfigError(f"local chat models cannot take a {type(message).__name__}")


class GGUFChatModel(BaseChatModel):
    """A LangChain chat model over a ``GGUFModel`` (its chat template, stop strings, usage).

    Accepts ``temperature``, ``max_tokens`` and ``seed`` per call, as chatbench's other local
    chat model does. When the messages do not fit in a slot's context, the oldest
    non-system messages are dropped until they do. A trailing ``AIMessage`` is a prefill that
    the reply continues (the reply text excludes it).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    lm: Any = Field(exclude=True)
    """The ``GGUFModel`` that generates."""
    model_name: str = "gguf"
    temperature: float = 0.7
    max_tokens: int = 256

    @property
    def _llm_type(self) -> str:
        return LOCAL_LLM_TYPE  # local: takes a per-call seed

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turns = [_turn(m) for m in messages]
        # The last message stays, and the one it continues when it is a prefill.
        kept = 2 if len(turns) > 1 and turns[-1]["role"] == "assistant" else 1
        while True:
            try:
                completion = self.lm.chat(
                    turns,
                    max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
                    temperature=float(kwargs.get("temperature", self.temperature)),
                    stop=list(stop or []),
                    seed=kwargs.get("seed"),
                )
                break
            except PromptTooLong:
                droppable = [i for i, t in enumerate(turns[:-kept]) if t["role"] != "system"]
                if not droppable:
                    raise
                del turns[droppable[0]]
        usage = UsageMetadata(
            input_tokens=completion.input_tokens or 0,
            output_tokens=completion.output_tokens or 0,
            total_tokens=(completion.input_tokens or 0) + (completion.output_tokens or 0),
        )
        message = AIMessage(content=completion.text.strip(), usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])


def gguf_chat_model(lm: GGUFModel, name: str | None = None) -> GGUFChatModel:
    """A chat model over ``lm``, called ``name`` (default: the model's)."""
    return GGUFChatModel(lm=lm, model_name=name or lm.name)
