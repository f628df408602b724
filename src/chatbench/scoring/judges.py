"""Rubric judgements (1-5 with a reason) of a finished conversation.

A judge model reads the whole transcript and a written rubric; its reply is parsed into a
``Judgement``. An unparseable reply is kept (``raw``) with ``score=None``: stored as missing,
never as a number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbench import prompts
from chatbench.config import RoleSettings
from chatbench.data.questions import Question
from chatbench.models.base import Completion
from chatbench.models.invoke import invoke_chat
from chatbench.scoring.rubrics import (  # noqa: F401  (the registry's public home was here)
    RUBRICS,
    USER_SATISFACTION,
    get_rubric,
    register_rubric,
)
from chatbench.transcript import labelled_turns


class Judgement(BaseModel):
    """One rubric score with its reason; ``score`` is None when the reply was unparseable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: int | None = Field(default=None, ge=1, le=5)
    reason: str = ""
    raw: str = ""
    """The judge's reply as written."""


class _Reply(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str = ""


_JSON_OBJECT = re.compile(r"\{.*?\}", re.S)
_SCORE = re.compile(r"\bscore\b\W{0,4}([1-5])\b", re.I)


def parse_judgement(text: str) -> Judgement:
    """Read a judge reply: a JSON object ``{"score": 1-5, "reason": ...}``, or failing that
    a line like ``Score: 4``. Anything else is a missing score.

    Example:
        >>> parse_judgement('{"reason": "clear", "score": 4}').score
        4
        >>> parse_judgement("I liked it").score is None
        True
    """
    for candidate in _JSON_OBJECT.findall(text):
        try:
            reply = _Reply.model_validate(json.loads(candidate))
        except (json.JSONDecodeError, ValidationError):
            continue
        return Judgement(score=reply.score, reason=reply.reason, raw=text)
    match = _SCORE.search(text)
    return Judgement(score=int(match.group(1)) if match else None, raw=text)


def render_transcript(messages: Sequence[AnyMessage]) -> str:
    """The transcript as ``USER:`` / ``AI:`` lines for a judge to read."""
    return "\n\n".join(labelled_turns(messages, "USER:", "AI:"))


def judge_rubric(
    judge: BaseChatModel,
    rubric: str,
    question: Question,
    messages: Sequence[AnyMessage],
    settings: RoleSettings,
    timeout_s: float | None = None,
) -> tuple[Judgement, Completion]:
    """Ask the judge model to score one rubric on a finished conversation.

    Returns:
        The parsed judgement and the raw completion (for token counts).

    Raises:
        ConfigError: ``rubric`` is not registered.
    """
    prompt = prompts.JUDGE_RUBRIC_PROMPT.format(
        question=question.format(), transcript=render_transcript(messages),
        rubric=get_rubric(rubric),
    )
    completion = invoke_chat(judge, [HumanMessage(content=prompt)], settings, timeout_s=timeout_s)
    return parse_judgement(completion.text), completion
