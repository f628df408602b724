"""Deterministic fake chat models for dry runs and tests (``fake:<name>[@seconds]``).

- ``fake:echo``: repeats the last message (an assistant that costs nothing);
- ``fake:say:TEXT``: always replies TEXT (``\\n`` for new lines);
- ``fake:user``: a simulated user that asks for help once, then answers a letter derived
  from the question (the same letter every run);
- ``fake:fail``: raises ``ConnectionError`` on every call (exercises retries and failures).

``@SECONDS`` after any of them adds that much latency to every call, e.g. ``fake:echo@0.05``;
only a trailing ``@`` and a number is a delay (``fake:say:me@example.com`` says
``me@example.com``).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from typing import Any, ClassVar, TypeGuard

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.globals import get_llm_cache
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config

from chatbench.errors import ConfigError
from chatbench.models.invoke import message_text
from chatbench.models.registry import register_provider

FAKE_MODELS = ("echo", "say:<text>", "user", "fail")
# A trailing "@" and a number (as Python's float() reads one, nan and inf too, so they can
# be refused by name) is the delay; any other "@" belongs to the name.
_DELAY = re.compile(
    r"@(?P<delay>[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|inf(?:inity)?))$", re.I
)
USER_OPENING = "Can you help me with this question?"
IQA_ANSWER = "So, the answer is:"


class FakeChatModel(BaseChatModel):
    """A fake chat model whose reply is a pure function of its prompt."""

    deterministic: ClassVar[bool] = True
    """Its reply is a function of the prompt: reruns repeat with no seed."""

    kind: str
    text: str = ""
    delay_s: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "chatbench-fake"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text}

    def _reply(self, messages: list[BaseMessage]) -> str:
        if self.kind == "fail":
            raise ConnectionError("fake:fail always fails")
        if self.kind == "say":
            return self.text
        if self.kind == "echo":
            return message_text(messages[-1]) if messages else ""
        # user: its own earlier turns are the AI messages of the role-flipped chat view, or
        # "YOU:" lines of the paper's transcript view
        if not any(isinstance(m, AIMessage) or "YOU: " in message_text(m) for m in messages):
            return USER_OPENING
        digest = hashlib.blake2b(message_text(messages[0]).encode(), digest_size=2).digest()
        # IQA-EVAL's prompts ask for "So, the answer is: X"; the others for "Answer: X".
        iqa = any(IQA_ANSWER in message_text(m) for m in messages)
        return f"{IQA_ANSWER if iqa else 'Answer:'} {'ABCD'[digest[0] % 4]}"

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """The reply, straight away when nothing watches the call.

        LangChain's ``invoke`` opens a callback run, traces the prompt and checks the cache,
        which costs some thirty times the fake's own answer. Where no callback handler,
        cache or rate limiter would see the call (a graph node with no tracer, debug output
        or message streaming), the fake skips all that; otherwise it takes the full path.
        """
        if self._watched(config):
            return super().invoke(input, config, stop=stop, **kwargs)
        if self.delay_s:
            time.sleep(self.delay_s)
        messages = input if _is_message_list(input) else self._convert_input(input).to_messages()
        return AIMessage(content=self._reply(messages))

    def _watched(self, config: RunnableConfig | None) -> bool:
        """Whether a callback handler, cache or rate limiter would see a call.

        Only a call under a configured callback manager with no handlers (as in a LangGraph
        node when nothing traces) counts as unwatched: LangChain has already folded tracing,
        debug and configure hooks into that manager's handlers.
        """
        # What ``ensure_config(config)["callbacks"]`` gives, without copying the whole config.
        callbacks = (config or {}).get("callbacks")
        if callbacks is None:
            callbacks = (var_child_runnable_config.get() or {}).get("callbacks")
        if not isinstance(callbacks, BaseCallbackManager) or callbacks.handlers:
            return True
        cached = self.cache is not False and (self.cache is not None or get_llm_cache())
        return bool(self.callbacks or self.verbose or self.rate_limiter or cached)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        if self.delay_s:
            time.sleep(self.delay_s)
        message = AIMessage(content=self._reply(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])


def _is_message_list(value: object) -> TypeGuard[list[BaseMessage]]:
    return isinstance(value, list) and all(isinstance(item, BaseMessage) for item in value)


@register_provider("fake")
def fake_chat_model(name: str) -> BaseChatModel:
    """A fake model from the part after ``fake:``.

    Raises:
        ConfigError: Unknown fake name or a bad delay.
    """
    delay = _DELAY.search(name)
    body = name[: delay.start()] if delay else name
    kind, _, arg = body.partition(":")
    delay_s = float(delay["delay"]) if delay else 0.0
    if not (math.isfinite(delay_s) and delay_s >= 0):
        raise ConfigError(
            f"fake model 'fake:{name}': delay {delay_s:g} s is not a finite number of seconds >= 0"
        )
    if kind in ("echo", "user", "fail") and not arg or kind == "say" and arg:
        return FakeChatModel(kind=kind, text=arg.replace("\\n", "\n"), delay_s=delay_s)
    known = ", ".join(f"fake:{m}" for m in FAKE_MODELS)
    raise ConfigError(f"unknown fake model 'fake:{name}'; known: {known} (optionally @SECONDS)")
