"""What an app returned, read as one assistant turn: its final reply, its inner steps and the
token usage of every model call it made.

An app may return a string, a message, a list of messages, or a dict: a LangGraph state with
``"messages"`` (an agent), or a chain's output with ``"output"`` or ``"answer"`` text (a RAG
chain, an agent executor). What it produced in this turn are the messages after the last one
it was sent (a graph returns the conversation so far with its own messages added). The final
reply is the last AI message among them; every other new message is a step, as are lists of
``Document`` objects in the output (retrieved context).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata

from chatbench._text import json_data
from chatbench.errors import ModelOutputError
from chatbench.models.base import STEPS_KEY
from chatbench.models.invoke import message_text

TEXT_KEYS = ("output", "answer")
"""Keys of a dict output that hold the reply text when it has no ``"messages"``."""

Step = dict[str, Any]
"""One inner step as stored: ``{"type": "ai" | "tool" | "documents" | ..., ...}``, JSON data."""


def app_reply(output: Any, sent: Sequence[BaseMessage]) -> AIMessage:
    """The assistant turn in ``output``: an ``AIMessage`` with the final reply's text, the
    summed token usage of every AI message the app produced, and the other steps under
    ``additional_kwargs[STEPS_KEY]``.

    Args:
        output: What the app returned.
        sent: The messages it was given (ids set), to tell its new messages from them.

    Returns:
        The reply to put in the transcript.

    Raises:
        ModelOutputError: The output is of no kind an app may return, or holds no message.
    """
    new, documents = _new_messages(output, sent)
    if not new:
        raise ModelOutputError("the assistant app returned no new message")
    final = next((m for m in reversed(new) if isinstance(m, AIMessage)), new[-1])
    steps = documents + [message_step(m) for m in new if m is not final]
    extra = {STEPS_KEY: steps} if steps else {}
    return AIMessage(content=message_text(final), usage_metadata=summed_usage(new),
                     additional_kwargs=extra)


def _new_messages(output: Any, sent: Sequence[BaseMessage]) -> tuple[list[BaseMessage],
                                                                     list[Step]]:
    """The messages the app produced, and the document steps of a dict output."""
    if isinstance(output, str):
        return [AIMessage(content=output)], []
    if isinstance(output, BaseMessage):
        return [output], []
    if _is_messages(output):
        return after_sent(output, sent), []
    if isinstance(output, dict):
        documents = document_steps(output)
        if _is_messages(output.get("messages")):
            return after_sent(output["messages"], sent), documents
        text = next((output[k] for k in TEXT_KEYS if isinstance(output.get(k), str)), None)
        if text is not None:
            return [AIMessage(content=text)], documents
    raise ModelOutputError(
        f"the assistant app returned {_kind(output)}; an app returns a string, a message, a "
        f"list of messages, or a dict with 'messages' (or {' or '.join(map(repr, TEXT_KEYS))} "
        "text)"
    )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:8]}"
    return f"a {type(value).__name__}"


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, BaseMessage) for m in value)


def after_sent(messages: list[BaseMessage], sent: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages after the last of ``sent`` (matched by id); all of them when none of
    ``sent`` is there (an app that returns only what it adds)."""
    ids = {m.id for m in sent if m.id}
    last = max((i for i, m in enumerate(messages) if m.id in ids), default=-1)
    return list(messages[last + 1:])


def message_step(message: BaseMessage) -> Step:
    """A message as a stored step: its type and text, an AI message's tool calls and token
    counts, a tool message's tool, call id, status and artifact (documents as data).

    Example:
        >>> step = message_step(ToolMessage("4", name="calculate", tool_call_id="c1"))
        >>> step["type"], step["name"], step["content"], step["status"]
        ('tool', 'calculate', '4', 'success')
    """
    step: Step = {"type": message.type, "content": message_text(message)}
    if message.name:
        step["name"] = message.name
    if isinstance(message, AIMessage):
        if message.tool_calls:
            step["tool_calls"] = [{"name": c["name"], "args": c["args"], "id": c.get("id")}
                                  for c in message.tool_calls]
        if message.usage_metadata:
            step["input_tokens"] = message.usage_metadata["input_tokens"]
            step["output_tokens"] = message.usage_metadata["output_tokens"]
    if isinstance(message, ToolMessage):
        step.update(tool_call_id=message.tool_call_id, status=message.status)
        if message.artifact is not None:
            step["artifact"] = _documents(message.artifact) or message.artifact
    return json_data(step)  # type: ignore[no-any-return]  # a dict in, a dict out


def document_steps(output: dict[str, Any]) -> list[Step]:
    """One ``documents`` step per key of ``output`` that holds a list of ``Document``."""
    return [{"type": "documents", "key": str(key), "documents": docs}
            for key, value in output.items() if (docs := _documents(value))]


def _documents(value: Any) -> list[dict[str, Any]]:
    """A non-empty list of ``Document`` as JSON data; [] for anything else."""
    if not (isinstance(value, list) and value and all(isinstance(d, Document) for d in value)):
        return []
    return [json_data({"page_content": d.page_content, "metadata": d.metadata}) for d in value]


def summed_usage(messages: Sequence[BaseMessage]) -> UsageMetadata | None:
    """Token usage summed over the AI messages that report it; None when none does."""
    usages = [m.usage_metadata for m in messages
              if isinstance(m, AIMessage) and m.usage_metadata]
    if not usages:
        return None
    sums = {key: sum(u.get(key, 0) for u in usages)
            for key in ("input_tokens", "output_tokens", "total_tokens")}
    return UsageMetadata(input_tokens=sums["input_tokens"], output_tokens=sums["output_tokens"],
                         total_tokens=sums["total_tokens"])


SHOWN_CHARS = 200
"""Longest text of one step in ``step_summary``."""


def step_summary(step: Step) -> str:
    """One line for a stored step, as reports and ``chatbench show`` print it.

    Example:
        >>> step_summary({"type": "ai", "content": "", "tool_calls": [
        ...     {"name": "calculate", "args": {"expression": "6*7"}, "id": "c1"}]})
        "calls calculate(expression='6*7')"
        >>> step_summary({"type": "tool", "name": "calculate", "content": "42"})
        'calculate -> 42'
    """
    kind, text = step.get("type"), str(step.get("content") or "")
    if kind == "ai":
        calls = ", ".join(f"{c.get('name')}({_arguments(c.get('args'))})"
                          for c in step.get("tool_calls") or ())
        line = "; ".join(part for part in (text, f"calls {calls}" if calls else "") if part)
    elif kind == "tool":
        failed = " (error)" if step.get("status") == "error" else ""
        line = f"{step.get('name') or 'tool'}{failed} -> {text}"
    elif kind == "documents":
        documents = step.get("documents") or []
        first = str(documents[0].get("page_content", "")) if documents else ""
        line = f"{len(documents)} documents ({step.get('key')}): {first}"
    else:
        line = f"{kind}: {text}"
    return _shorten(line)


def _arguments(args: Any) -> str:
    if isinstance(args, dict):
        return ", ".join(f"{key}={value!r}" for key, value in args.items())
    return repr(args)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
