"""The rubric registry: names a judge model can score, and the text it is told to rate; and
evaluators from the ecosystem (openevals-style callables) scored beside them, no judge model
needed.

Kept apart from the judge (``judges.py``) so that ``GraphSpec`` can check rubric names
without importing the judge, which imports ``config``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from chatbench import prompts
from chatbench.errors import ConfigError

USER_SATISFACTION = "user_satisfaction"
"""Key of the satisfaction the simulator reports in character (not a judge model's view)."""

_RUBRICS: dict[str, str] = {
    "coherence": prompts.COHERENCE_RUBRIC,
    "satisfaction": prompts.SATISFACTION_RUBRIC,
}
RUBRICS: Mapping[str, str] = MappingProxyType(_RUBRICS)
"""Rubric name -> its text, read-only (add one with ``register_rubric``, or an evaluator with
``register_evaluator``). ``GraphSpec.rubrics`` picks among these."""


Evaluator = Callable[..., Any]
"""An openevals-style evaluator: called as ``evaluator(inputs=..., outputs=...,
reference_outputs=...)``, it returns ``{"key", "score", "comment"}`` or a list of such dicts
(what openevals' ``create_llm_as_judge`` and ``exact_match`` return)."""

EvaluatorOutputs = Literal["transcript", "answer"]
"""What an evaluator gets as ``outputs``: the transcript as OpenAI-style role/content dicts,
or the user's final answer (the option letter, None for no answer)."""


@dataclass(frozen=True)
class RegisteredEvaluator:
    """An evaluator registered as a rubric, with what it is given as ``outputs``."""

    evaluator: Evaluator
    outputs: EvaluatorOutputs = "transcript"


_EVALUATORS: dict[str, RegisteredEvaluator] = {}


def _check_new_name(name: str, text: str) -> None:
    if not name.strip() or not text.strip():
        raise ValueError("a rubric needs a name and a text")
    if name == USER_SATISFACTION:
        raise ValueError(f"{name!r} is the simulator's own satisfaction, not a judge's rubric")
    if name in _RUBRICS:
        raise ValueError(f"rubric {name!r} is already registered")


def register_rubric(name: str, text: str) -> None:
    """Register a rubric a judge model can score: ``GraphSpec(rubrics=(name,))`` then accepts
    ``name``, and the judge reads ``text`` where the prompt asks for the rubric.

    Args:
        name: The rubric's name, also the key of its judgement in each record.
        text: What the judge is told to rate, 1-5 (see ``prompts.COHERENCE_RUBRIC``).

    Raises:
        ValueError: ``name`` is already registered, is the simulator's own satisfaction key
            (``user_satisfaction``), or ``name`` or ``text`` is blank.

    Example:
        >>> register_rubric("concise", "How concise are the AI's replies?")  # doctest: +SKIP
        >>> GraphSpec(rubrics=("concise",))  # doctest: +SKIP
    """
    _check_new_name(name, text)
    _RUBRICS[name] = text


def register_evaluator(
    name: str, evaluator: Evaluator, *, outputs: EvaluatorOutputs = "transcript",
    description: str = "",
) -> None:
    """Register an openevals-style evaluator as a rubric: ``GraphSpec(rubrics=(name,))`` then
    accepts ``name``, and the judge node calls ``evaluator`` on each finished conversation,
    with no judge model, and stores its score under ``name`` beside the other judgements.

    The evaluator is called with keyword arguments: ``inputs`` (the question with its
    lettered options), ``outputs`` (see ``outputs``) and ``reference_outputs`` (the correct
    letter). A boolean score is stored as 1 or 0, a number as given, the comment as the
    reason. An evaluator that returns a list of results gets one judgement per result,
    named ``name:key``.

    Args:
        name: The rubric's name, also the key of its judgement in each record.
        evaluator: The callable, e.g. openevals' ``create_llm_as_judge(...)`` or
            ``exact_match``.
        outputs: ``"transcript"`` (default): the conversation as OpenAI-style
            ``{"role", "content"}`` dicts; ``"answer"``: the user's final choice.
        description: Shown in ``RUBRICS`` for the name (default: the evaluator's name).

    Raises:
        ValueError: As ``register_rubric``, or ``evaluator`` is not callable.

    Example:
        >>> from openevals.exact import exact_match  # doctest: +SKIP
        >>> register_evaluator("exact", exact_match, outputs="answer")  # doctest: +SKIP
        >>> GraphSpec(rubrics=("exact",))  # doctest: +SKIP
    """
    if not callable(evaluator):
        raise ValueError(f"evaluator {name!r} must be callable, got {type(evaluator).__name__}")
    shown = getattr(evaluator, "__qualname__", type(evaluator).__name__)
    text = description or f"evaluator {shown}"
    _check_new_name(name, text)
    _RUBRICS[name] = text
    _EVALUATORS[name] = RegisteredEvaluator(evaluator, outputs)


def get_evaluator(name: str) -> RegisteredEvaluator | None:
    """The evaluator registered as rubric ``name``; None for a rubric a judge model scores."""
    return _EVALUATORS.get(name)


def needs_judge_model(rubrics: Iterable[str]) -> bool:
    """Whether any of ``rubrics`` is scored by a judge model (not an evaluator).

    Example:
        >>> needs_judge_model(("coherence",)), needs_judge_model(())
        (True, False)
    """
    return any(name not in _EVALUATORS for name in rubrics)


def get_rubric(name: str) -> str:
    """The text of the rubric called ``name``.

    Raises:
        ConfigError: No rubric has that name; the message lists the known ones.
    """
    try:
        return _RUBRICS[name]
    except KeyError:
        raise ConfigError(
            f"unknown rubric {name!r}; known: {', '.join(sorted(_RUBRICS))}"
        ) from None
