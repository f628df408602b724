"""Rubric judgements (a score with a reason) of a finished conversation.

A judge model reads the whole transcript and a written rubric; its reply (1-5) is parsed into
a ``Judgement``. An unparseable reply is kept (``raw``) with ``score=None``: stored as missing,
never as a number. An evaluator registered with ``register_evaluator`` (openevals-style) is
called instead of a judge model and its result becomes the same ``Judgement``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from chatbench import prompts
from chatbench.config import RoleSettings
from chatbench.data.scenario import Scenario, Task
from chatbench.datatypes import Completion, Judgement
from chatbench.models.base import STEPS_KEY
from chatbench.models.invoke import invoke_chat, message_text
from chatbench.scoring.rubrics import (  # noqa: F401  (the registry's public home was here)
    RUBRICS,
    USER_SATISFACTION,
    RegisteredEvaluator,
    get_rubric,
    register_evaluator,
    register_rubric,
)
from chatbench.transcript import labelled_turns

SCALE = (1, 5)
"""Every rubric's scale: whole numbers from 1 to 5."""
_SCORE = re.compile(
    r"\bscore\b\W{0,3}?(?P<sign>[-+\u2212])?(?P<value>\d+(?:[.,]\d+)?)"
    r"(?P<scale>\s*(?:/|out\s+of)\s*(?P<top>[-+]?\d+(?:[.,]\d+)?))?(?P<after>[.,]\d)?",
    re.I)
"""``score`` then a number, with its sign, fraction and any ``/ N`` or ``out of N``: all
caught, so that one off the scale is refused, not cut down to a digit that is on it."""


def scale_score(value: object) -> int | None:
    """``value`` when it is a whole number on the rubric's scale (``SCALE``), else None: no
    boolean, no fraction (4.0 included), no text, nothing out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if SCALE[0] <= value <= SCALE[1] else None


def _text_score(text: str) -> int | None:
    """The score of lines like ``Score: 4`` (or ``score 4/5``): every score the text gives
    must be the same whole number on the scale, unsigned, with no other scale."""
    scores = set()
    for match in _SCORE.finditer(text):
        value, top = match["value"], match["top"]
        if match["sign"] or match["after"] or not value.isdigit():
            return None
        if top is not None and top != str(SCALE[1]):
            return None
        score = scale_score(int(value))
        if score is None:
            return None
        scores.add(score)
    return scores.pop() if len(scores) == 1 else None


def json_objects(text: str) -> Iterator[str]:
    """What ``re.findall(r"\\{.*?\\}", text, re.S)`` finds (each ``{`` up to the next ``}``, not
    overlapping), in linear time: the regex rescans the rest of the text from every ``{``
    that no ``}`` follows, quadratic in a long reply of braces.

    Example:
        >>> list(json_objects('a {"x": {1} b {2'))
        ['{"x": {1}']
    """
    start = text.find("{")
    while start >= 0:
        end = text.find("}", start + 1)
        if end < 0:
            return
        yield text[start:end + 1]
        start = text.find("{", end + 1)


def parse_judgement(text: str) -> Judgement:
    """Read a judge reply: a JSON object ``{"score": 1-5, "reason": ...}``, or failing that
    lines like ``Score: 4``. A score is read only when it is exactly on the rubric's scale: a
    JSON integer from 1 to 5 (not ``true``, ``4.0``, ``"4"``), or in text an unsigned whole
    number from 1 to 5, optionally ``/5`` or ``out of 5``, the same wherever the text gives
    one. Anything else (``-3``, ``3/10``, ``4.5``, ``7``, two different scores) is a
    missing score, with the reply kept in ``raw``.

    Example:
        >>> parse_judgement('{"reason": "clear", "score": 4}').score
        4
        >>> parse_judgement("Score: 4.5").score is None
        True
    """
    reply = json_reply(text, "score")
    if reply is not None:
        return Judgement(score=scale_score(reply["score"]), reason=reply_reason(reply), raw=text)
    return Judgement(score=_text_score(text), raw=text)


JUDGEMENT_MAX_TOKENS = 256
"""The fewest new tokens a judgement with its reason gets (a rubric score, a scenario
criterion's verdict): the JSON reply puts its reason first, and a reply cut before its score
is a missing score."""


def judgement_settings(settings: RoleSettings) -> RoleSettings:
    """The judge's settings for a judgement with a reason: the spec's judge settings with at
    least ``JUDGEMENT_MAX_TOKENS`` new tokens. ``GraphSpec.judge``'s default of 16 is sized
    for its other call, reading one option letter from a final message.

    Example:
        >>> judgement_settings(RoleSettings(temperature=0.0, max_tokens=16)).max_tokens
        256
        >>> judgement_settings(RoleSettings(max_tokens=1000)).max_tokens
        1000
    """
    if settings.max_tokens is None or settings.max_tokens >= JUDGEMENT_MAX_TOKENS:
        return settings
    return settings.model_copy(update={"max_tokens": JUDGEMENT_MAX_TOKENS})


def json_reply(text: str, key: str) -> dict[str, Any] | None:
    """The first JSON object in a judge's reply that has ``key``, or None.

    Example:
        >>> json_reply('I think {"score": 4} fits', "score")
        {'score': 4}
    """
    for candidate in json_objects(text):
        try:
            reply = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(reply, dict) and key in reply:
            return reply
    return None


def reply_reason(reply: Mapping[str, Any]) -> str:
    """A JSON reply's ``reason`` when it is text, else empty."""
    reason = reply.get("reason")
    return reason if isinstance(reason, str) else ""


Steps = Mapping[str, Sequence[Mapping[str, Any]]]
"""An app's inner steps by the id of the assistant message they led to
(``ConversationState.assistant_steps``)."""


def render_transcript(messages: Sequence[AnyMessage], steps: Steps | None = None) -> str:
    """The transcript as ``USER:`` / ``AI:`` blocks for a judge to read, each assistant turn
    followed by its tool calls and results from ``steps`` (``step_lines``), if given.

    Example:
        >>> print(render_transcript([HumanMessage("Cancel 1234"), AIMessage("Done.", id="a")],
        ...     {"a": [{"type": "tool", "name": "cancel_order", "content": "ok"}]}))
        USER: Cancel 1234
        <BLANKLINE>
        AI: Done.
          [tool result] cancel_order: ok
    """
    steps = steps or {}
    turns = [m for m in messages if isinstance(m, (HumanMessage, AIMessage))]
    blocks = labelled_turns(turns, "USER:", "AI:")
    return "\n\n".join(
        "\n".join([block, *step_lines(steps.get(turn.id or "", []))])
        if isinstance(turn, AIMessage) else block
        for turn, block in zip(turns, blocks, strict=True))


def step_lines(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """One indented line per tool call and tool result of an assistant turn."""
    lines = []
    for step in steps:
        if step.get("type") == "ai":
            for call in step.get("tool_calls") or []:
                args = json.dumps(call.get("args", {}), ensure_ascii=False, default=str)
                lines.append(f"  [tool call] {call.get('name')}({args})")
        elif step.get("type") == "tool":
            status = "" if step.get("status", "success") == "success" else f" ({step['status']})"
            lines.append(f"  [tool result{status}] {step.get('name')}: {step.get('content')}")
    return lines


def judge_rubric(
    judge: BaseChatModel,
    rubric: str,
    question: Task,
    messages: Sequence[AnyMessage],
    settings: RoleSettings,
    timeout_s: float | None = None,
    *,
    seed: int | None = None,
) -> tuple[Judgement, Completion]:
    """Ask the judge model to score one rubric on a finished conversation.

    Args:
        judge: The judge model.
        rubric: A registered rubric's name.
        question: The conversation's question, or its scenario (then the prompt shows the
            user's situation and goal instead of a question).
        messages: The conversation.
        settings: The judge's temperature and token limit.
        timeout_s: Give up waiting for the judge after this long.
        seed: Sampling seed, for judges that take one (``invoke_chat``).

    Returns:
        The parsed judgement and the raw completion (for token counts).

    Raises:
        ConfigError: ``rubric`` is not registered.
    """
    template = (prompts.SCENARIO_RUBRIC_PROMPT if isinstance(question, Scenario)
                else prompts.JUDGE_RUBRIC_PROMPT)
    prompt = template.format(
        question=question.format(), transcript=render_transcript(messages),
        rubric=get_rubric(rubric),
    )
    completion = invoke_chat(judge, [HumanMessage(content=prompt)], settings, seed, timeout_s)
    return parse_judgement(completion.text), completion


def transcript_dicts(
    messages: Sequence[AnyMessage],
    steps: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """The transcript as OpenAI-style message dicts, the shape openevals' evaluators (and
    its trajectory evaluators) read: ``{"role": "user" | "assistant", "content"}`` per turn,
    and before an app's reply its inner steps: assistant messages with ``tool_calls``
    (``{"id", "type": "function", "function": {"name", "arguments"}}``, the arguments as JSON
    text) and a ``{"role": "tool", "content", "tool_call_id"}`` message per tool result. A
    plain transcript (no tool calls, no steps) gives role and content only.

    Args:
        messages: The conversation; AI messages with ``tool_calls`` and tool messages (an
            agent's own transcript) keep them; other kinds (system messages) are left out.
        steps: An app's steps by the id of the assistant message they led to
            (``ConversationState.assistant_steps``); an AI message with no entry uses the
            steps it carries itself (``additional_kwargs``), if any. Retrieved documents,
            which have no OpenAI message shape, are left out.

    Example:
        >>> transcript_dicts([HumanMessage("hi"), AIMessage("hello")])
        [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}]
    """
    steps = steps or {}
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, HumanMessage):
            out.append({"role": "user", "content": message_text(m)})
        elif isinstance(m, AIMessage):
            inner = steps.get(m.id or "") or m.additional_kwargs.get(STEPS_KEY) or ()
            out.extend(openai_step(step) for step in inner if step.get("type") in ("ai", "tool"))
            out.append(openai_step({"type": "ai", "content": message_text(m),
                                    "tool_calls": m.tool_calls}))
        elif isinstance(m, ToolMessage):
            out.append(openai_step({"type": "tool", "content": message_text(m),
                                    "tool_call_id": m.tool_call_id}))
    return out


def openai_step(step: Mapping[str, Any]) -> dict[str, Any]:
    """A stored step (``type`` ``ai`` or ``tool``, ``chatbench.models.app_steps``) as an
    OpenAI-style message dict; an AI step without tool calls is role and content only.

    Example:
        >>> openai_step({"type": "ai", "content": "", "tool_calls": [
        ...     {"name": "lookup", "args": {"id": 1}, "id": "c1"}]})["tool_calls"]
        [{'id': 'c1', 'type': 'function', 'function': {'name': 'lookup', 'arguments': '{"id": 1}'}}]
    """
    content = str(step.get("content") or "")
    if step.get("type") == "tool":
        return {"role": "tool", "content": content,
                "tool_call_id": str(step.get("tool_call_id") or "")}
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if step.get("tool_calls"):
        message["tool_calls"] = [
            {"id": str(call.get("id") or ""), "type": "function",
             "function": {"name": call.get("name"),
                          "arguments": json.dumps(call.get("args") or {}, ensure_ascii=False,
                                                  default=str)}}
            for call in step["tool_calls"]]
    return message


def run_evaluator(
    name: str,
    registered: RegisteredEvaluator,
    question: Task,
    messages: Sequence[AnyMessage],
    final_choice: str | None,
    steps: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Judgement]:
    """Score a finished conversation with an evaluator registered as rubric ``name``.

    The evaluator is called with ``inputs`` (the question with its options), ``outputs``
    (the transcript, with an app's tool calls and results from ``steps``, or the final
    choice, as registered) and ``reference_outputs`` (the
    correct letter). For a scenario, ``inputs`` is its situation and goal and
    ``reference_outputs`` its expected outcome (None when it has none).

    Returns:
        ``{name: judgement}``, or for a list of results ``{f"{name}:{key}": judgement}``.
        A result that is not a dict with a usable score is a missing score (``raw`` keeps it).
    """
    outputs: Any = (final_choice if registered.outputs == "answer"
                    else transcript_dicts(messages, steps))
    if isinstance(question, Scenario):
        inputs, reference = question.format_for_judge(), question.expected_outcome
    else:
        inputs, reference = question.format(), question.answer
    result = registered.evaluator(inputs=inputs, outputs=outputs, reference_outputs=reference)
    if isinstance(result, list):
        return {f"{name}:{_result_key(item, i)}": evaluator_judgement(item)
                for i, item in enumerate(result)}
    return {name: evaluator_judgement(result)}


def _result_key(result: object, index: int) -> str:
    key = result.get("key") if isinstance(result, Mapping) else None
    return str(key) if key else str(index)


def evaluator_judgement(result: object) -> Judgement:
    """An evaluator's result (``{"key", "score", "comment"}``) as a ``Judgement``: a boolean
    score is 1 or 0, a finite number is kept, anything else is a missing score.

    Example:
        >>> evaluator_judgement({"key": "correct", "score": True, "comment": "same"}).score
        1
        >>> evaluator_judgement("oops").score is None
        True
    """
    raw = _raw(result)
    if not isinstance(result, Mapping):
        return Judgement(raw=raw)
    score = result.get("score")
    comment = result.get("comment")
    reason = comment if isinstance(comment, str) else ""
    if isinstance(score, bool):
        return Judgement(score=int(score), reason=reason, raw=raw)
    if isinstance(score, (int, float)) and math.isfinite(score):
        return Judgement(score=score, reason=reason, raw=raw)
    return Judgement(reason=reason, raw=raw)


def _raw(result: object) -> str:
    """The result as text for ``Judgement.raw`` (JSON where it can be)."""
    try:
        return json.dumps(result, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(result)
