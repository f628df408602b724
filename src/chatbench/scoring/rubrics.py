"""The rubric registry: names a judge model can score, and the text it is told to rate.

Kept apart from the judge (``judges.py``) so that ``GraphSpec`` can check rubric names
without importing the judge, which imports ``config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chatbench import prompts
from chatbench.errors import ConfigError

USER_SATISFACTION = "user_satisfaction"
"""Key of the satisfaction the simulator reports in character (not a judge model's view)."""

_RUBRICS: dict[str, str] = {
    "coherence": prompts.COHERENCE_RUBRIC,
    "satisfaction": prompts.SATISFACTION_RUBRIC,
}
RUBRICS: Mapping[str, str] = MappingProxyType(_RUBRICS)
"""Rubric name -> its text, read-only (add one with ``register_rubric``).
``GraphSpec.rubrics`` picks among these."""


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
    if not name.strip() or not text.strip():
        raise ValueError("a rubric needs a name and a text")
    if name == USER_SATISFACTION:
        raise ValueError(f"{name!r} is the simulator's own satisfaction, not a judge's rubric")
    if name in _RUBRICS:
        raise ValueError(f"rubric {name!r} is already registered")
    _RUBRICS[name] = text


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
