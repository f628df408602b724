"""Calling a chat model with a role's settings and reading its reply and token usage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from chatbench.config import RoleSettings
from chatbench.models.base import Completion

LOCAL_LLM_TYPE = "chatbench-local"
"""``_llm_type`` of ``LocalChatModel``: the models that take a per-call ``seed``."""


def invoke_chat(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    settings: RoleSettings,
    seed: int | None = None,
) -> Completion:
    """Call ``model`` once with a role's temperature and token limit.

    Args:
        model: Any LangChain chat model.
        messages: The prompt.
        settings: The role's temperature and max tokens (unset ones are not sent).
        seed: Sampling seed; only local models receive it (API providers differ on it).

    Returns:
        The reply's text and, where the model reports them, its token counts.
    """
    kwargs: dict[str, Any] = settings.call_kwargs()
    if seed is not None and getattr(model, "_llm_type", "") == LOCAL_LLM_TYPE:
        kwargs["seed"] = seed
    reply = model.invoke(list(messages), **kwargs)
    usage = reply.usage_metadata if isinstance(reply, AIMessage) else None
    return Completion(
        text=reply.text.strip(),
        input_tokens=usage["input_tokens"] if usage else None,
        output_tokens=usage["output_tokens"] if usage else None,
    )
