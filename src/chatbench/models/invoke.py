"""Calling a chat model with a role's settings and reading its reply and token usage."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from chatbench._concurrency import CallTimedOut, call_with_timeout
from chatbench.config import RoleSettings
from chatbench.models.base import Completion

LOCAL_LLM_TYPE = "chatbench-local"
"""``_llm_type`` of ``LocalChatModel``: the models that take a per-call ``seed``."""


class ModelCallTimeout(TimeoutError):
    """A model call took longer than its timeout (transient: the node retries it)."""


def _invoke(
    model: BaseChatModel,
    messages: list[BaseMessage],
    kwargs: dict[str, Any],
    timeout_s: float | None,
) -> BaseMessage:
    """``model.invoke``; with a timeout, on a daemon thread of its own (``call_with_timeout``):
    the timeout counts from when the call starts, a hung call blocks no other call, and it
    does not keep the process alive. A sync call cannot be cancelled, so a timed-out call
    finishes in the background and its reply is dropped."""
    if timeout_s is None:
        return model.invoke(messages, **kwargs)
    context = contextvars.copy_context()  # keep LangChain's callbacks and tracing config
    call = functools.partial(context.run, model.invoke, messages, **kwargs)
    try:
        return call_with_timeout(call, timeout_s)
    except CallTimedOut:
        raise ModelCallTimeout(f"model call took longer than {timeout_s:g} s") from None


def message_text(message: BaseMessage) -> str:
    """``message.text``, without the copy LangChain makes of plain string content (the usual
    case). Transcripts are read again on every turn, so this is on the hot path."""
    content = message.content
    return content if isinstance(content, str) else message.text


@functools.lru_cache(maxsize=64)
def _call_kwargs(settings: RoleSettings) -> tuple[tuple[str, Any], ...]:
    """A role's call keyword arguments, worked out once per (frozen) settings object."""
    return tuple(settings.call_kwargs().items())


def invoke_chat(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    settings: RoleSettings,
    seed: int | None = None,
    timeout_s: float | None = None,
) -> Completion:
    """Call ``model`` once with a role's temperature and token limit.

    Args:
        model: Any LangChain chat model.
        messages: The prompt.
        settings: The role's temperature and max tokens (unset ones are not sent).
        seed: Sampling seed; only local models receive it (API providers differ on it).
        timeout_s: Give up waiting after this long and raise ``ModelCallTimeout``.

    Returns:
        The reply's text and, where the model reports them, its token counts.
    """
    kwargs: dict[str, Any] = dict(_call_kwargs(settings))
    if seed is not None and getattr(model, "_llm_type", "") == LOCAL_LLM_TYPE:
        kwargs["seed"] = seed
    reply = _invoke(model, list(messages), kwargs, timeout_s)
    usage = reply.usage_metadata if isinstance(reply, AIMessage) else None
    return Completion(
        text=message_text(reply).strip(),
        input_tokens=usage["input_tokens"] if usage else None,
        output_tokens=usage["output_tokens"] if usage else None,
    )
