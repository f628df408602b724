"""Deterministic fake chat models for dry runs and tests (``fake:<name>``)."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    ParrotFakeChatModel,
)

from chatbench.errors import ConfigError
from chatbench.models.registry import register_provider

FAKE_MODELS = ("echo", "say:<text>")


@register_provider("fake")
def fake_chat_model(name: str) -> BaseChatModel:
    """``fake:echo`` repeats the last message; ``fake:say:TEXT`` always replies TEXT.

    Raises:
        ConfigError: Unknown fake name.
    """
    kind, _, arg = name.partition(":")
    if kind == "echo":
        return ParrotFakeChatModel()
    if kind == "say" and arg:
        return FakeListChatModel(responses=[arg.replace("\\n", "\n")])
    raise ConfigError(
        f"unknown fake model 'fake:{name}'; known: fake:{', fake:'.join(FAKE_MODELS)}"
    )
