"""Calling a chat model with a role's settings and reading its reply and token usage."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.constants import TAG_NOSTREAM

from chatbench._concurrency import CallTimedOut, call_with_timeout
from chatbench.config import RoleSettings
from chatbench.datatypes import Completion
from chatbench.models.base import STEPS_KEY, bounded
from chatbench.transcript import message_text

TAKES_CALL_SEED = "takes_call_seed"
"""A model class attribute: True when its calls take ``seed=`` (chatbench's local models,
``local_chat.LocalChat``)."""
DETERMINISTIC = "deterministic"
"""A model class attribute: True when its reply is a function of the prompt, so it needs no
seed (chatbench's fakes)."""
SEED_FIELDS = ("seed", "random_seed")
"""Fields through which LangChain providers take a sampling seed: ``seed`` (OpenAI and
OpenAI-compatible servers such as llama.cpp's ``llama-server`` or vLLM, Ollama,
Hugging Face endpoints...), ``random_seed`` (Mistral)."""


NOT_STREAMED: RunnableConfig = {"tags": [TAG_NOSTREAM]}
"""The config of every model call: LangGraph's ``stream_mode="messages"`` leaves out the
calls (the simulator's role-flipped view, the assistant's raw reply, the judge's verdict) and
streams only what the nodes write to the transcript, each turn once, the simulated user's as
a ``HumanMessage``. Tracers still see the calls, tagged ``nostream``."""


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
        return model.invoke(messages, NOT_STREAMED, **kwargs)
    context = contextvars.copy_context()  # keep LangChain's callbacks and tracing config
    call = functools.partial(context.run, model.invoke, messages, NOT_STREAMED, **kwargs)
    try:
        return call_with_timeout(call, timeout_s)
    except CallTimedOut:
        raise ModelCallTimeout(f"model call took longer than {timeout_s:g} s") from None


def seed_field(model: object) -> str | None:
    """The field through which ``model``'s provider takes a sampling seed (``SEED_FIELDS``),
    None if it declares none."""
    fields = getattr(type(model), "model_fields", {})
    return next((name for name in SEED_FIELDS if name in fields), None)


def takes_call_seed(model: object) -> bool:
    """Whether ``model``'s class says its calls take ``seed=`` (``TAKES_CALL_SEED``)."""
    return getattr(type(model), TAKES_CALL_SEED, False) is True


def _deterministic(model: object) -> bool:
    """chatbench's fakes (``DETERMINISTIC``) and LangChain's fake chat models: replies need
    no seed."""
    return (getattr(type(model), DETERMINISTIC, False) is True
            or type(model).__module__.startswith("langchain_core.language_models.fake"))


def seedable(model: object) -> bool:
    """Whether reruns of ``model``'s calls can repeat: it takes the per-call seed (chatbench's
    local models, the causal-LM simulator's text completers, providers with a seed field) or
    needs none (deterministic fakes).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> seedable(FakeListChatModel(responses=["B"]))
        True
    """
    if takes_call_seed(model) or _deterministic(model):
        return True
    if callable(getattr(model, "complete", None)) and hasattr(model, "context_window"):
        return True  # a TextCompleter: its ``complete`` takes ``seed``
    return seed_field(model) is not None


def unseeded_roles(models: Mapping[str, object | None]) -> list[str]:
    """The roles, in the given order, whose model cannot be seeded (``seedable``); roles with
    no model (a scripted user, the rules as judge) are left out.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> unseeded_roles({"user": None, "assistant": FakeListChatModel(responses=["B"])})
        []
    """
    return [role for role, model in models.items() if model is not None and not seedable(model)]


def _seeded(model: BaseChatModel, seed: int | None, kwargs: dict[str, Any]) -> BaseChatModel:
    """``model`` set to sample with ``seed``: chatbench's local models take it as a call
    argument (in ``kwargs``); providers with a seed field get a shallow copy with it set, so
    the request carries it whatever the provider does with call arguments."""
    if seed is None:
        return model
    if takes_call_seed(model):
        kwargs["seed"] = seed
        return model
    field = seed_field(model)
    return model if field is None else model.model_copy(update={field: seed})


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
    strip: bool = True,
) -> Completion:
    """Call ``model`` once with a role's temperature and token limit.

    Args:
        model: Any LangChain chat model.
        messages: The prompt.
        settings: The role's temperature and max tokens (unset ones are not sent).
        seed: Sampling seed, for models that take one (``seedable``): a call argument to
            chatbench's local models, the provider's seed field of others (e.g. ``seed``
            in the request an OpenAI-compatible server receives); others ignore it.
        timeout_s: Give up waiting after this long and raise ``ModelCallTimeout``.
        strip: Strip surrounding whitespace from the reply's text (False: the text as sent,
            as the paper's code keeps the assistant's replies).

    Returns:
        The reply's text and, where the model reports them, its token counts; the text (and
        an app's inner steps) cut to ``settings.max_reply_chars``, noted in ``truncated``
        (``chatbench.models.base.bounded``).
    """
    kwargs: dict[str, Any] = dict(_call_kwargs(settings))
    model = _seeded(model, seed, kwargs)
    reply = _invoke(model, list(messages), kwargs, timeout_s)
    usage = reply.usage_metadata if isinstance(reply, AIMessage) else None
    text = message_text(reply)
    return bounded(Completion(
        text=text.strip() if strip else text,
        input_tokens=usage["input_tokens"] if usage else None,
        output_tokens=usage["output_tokens"] if usage else None,
        steps=tuple(reply.additional_kwargs.get(STEPS_KEY, ())),
    ), settings.max_reply_chars)
