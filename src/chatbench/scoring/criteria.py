"""A scenario's success criteria, judged one by one: a judge model (or an openevals-style
evaluator) decides pass or fail, with a reason, from the transcript and the app's inner steps
(tool calls and their results). ``success`` is every criterion met; a reply that cannot be
read leaves its criterion undecided, and the conversation unscored, never a success."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, HumanMessage

from chatbench import prompts
from chatbench.config import RoleSettings
from chatbench.data.scenario import Scenario
from chatbench.datatypes import Completion, CriterionResult, Verdict
from chatbench.models.invoke import invoke_chat
from chatbench.scoring.judges import Steps, json_reply, render_transcript, reply_reason

_TRUE = ("true", "yes", "pass", "passed", "met")
_FALSE = ("false", "no", "fail", "failed", "not met")


def parse_criterion(criterion: str, text: str) -> CriterionResult:
    """Read a judge's reply on one criterion: a JSON object with a boolean ``passed`` (or
    ``"pass"``/``"fail"``-like text); failing that, a reply that starts with one of those
    words, or that says in words that the conversation meets (or does not meet) the
    criterion, and not both. Anything else leaves ``passed`` None (undecided), the reply
    kept in ``raw``.

    Example:
        >>> parse_criterion("c", '{"reason": "it did", "passed": true}').passed
        True
        >>> parse_criterion("c", "maybe").passed is None
        True
    """
    reply = json_reply(text, "passed")
    if reply is not None:
        return CriterionResult(criterion=criterion, passed=_verdict_word(reply["passed"]),
                               reason=reply_reason(reply), raw=text)
    first = text.strip().lower().strip("*\"'`.:")
    for words, value in ((_FALSE, False), (_TRUE, True)):  # "not met" before "met"
        if any(first == word or first.startswith(f"{word} ") or first.startswith(f"{word}.")
               or first.startswith(f"{word},") for word in words):
            return CriterionResult(criterion=criterion, passed=value, raw=text)
    return CriterionResult(criterion=criterion, passed=_stated_verdict(text), raw=text)


_MISSES = re.compile(r"\b(?:does not|doesn't|did not|didn't|fails to|failed to|cannot|can't)"
                     r" (?:meet|satisfy|fulfil|fulfill)\b|\bis not (?:met|satisfied)\b", re.I)
_MEETS = re.compile(r"\b(?:meets|satisfies|fulfils|fulfills) the criterion\b"
                    r"|\bthe criterion is (?:met|satisfied)\b", re.I)


def _stated_verdict(text: str) -> bool | None:
    """A verdict the reply states in words ("the conversation meets the criterion", "does not
    meet the criterion"), as small judges write instead of JSON; None when it states none, or
    both.

    Example:
        >>> [_stated_verdict(text) for text in ("The conversation meets the criterion.",
        ...     "It does not meet the criterion.", "It meets the criterion; no, it does not meet")]
        [True, False, None]
    """
    misses, meets = bool(_MISSES.search(text)), bool(_MEETS.search(text))
    return None if misses == meets else meets


def _verdict_word(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def judge_criterion(
    judge: BaseChatModel,
    scenario: Scenario,
    criterion: str,
    messages: Sequence[AnyMessage],
    steps: Steps | None,
    settings: RoleSettings,
    timeout_s: float | None = None,
    *,
    seed: int | None = None,
) -> tuple[CriterionResult, Completion]:
    """Ask the judge model whether the conversation meets one criterion.

    Returns:
        The decision with its reason, and the raw completion (for token counts).
    """
    prompt = prompts.CRITERION_JUDGE_PROMPT.format(
        scenario=scenario.format_for_judge(), transcript=render_transcript(messages, steps),
        criterion=criterion,
    )
    completion = invoke_chat(judge, [HumanMessage(content=prompt)], settings, seed, timeout_s)
    return parse_criterion(criterion, completion.text), completion


def scenario_verdict(results: Sequence[CriterionResult]) -> Verdict:
    """``correct`` (success) when every criterion passed, ``wrong`` when one failed, else
    ``no_answer`` (a criterion undecided: unscored)."""
    if any(result.passed is False for result in results):
        return "wrong"
    if results and all(result.passed for result in results):
        return "correct"
    return "no_answer"
