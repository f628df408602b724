"""What chatbench needs of a raw text-completion model (the causal-LM simulator's backend)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from chatbench.datatypes import Completion
from chatbench.errors import ConfigError

DTYPE_ENV = "CHATBENCH_DTYPE"
"""Environment variable with the weights' dtype of local models (default ``float32``)."""
DTYPES = ("float32", "bfloat16", "float16", "auto")
"""What ``$CHATBENCH_DTYPE`` and ``--dtype`` take."""


def check_dtype(name: str) -> str:
    """``name`` if it is one of ``DTYPES``.

    Raises:
        ConfigError: Any other name, with the choices.
    """
    if name not in DTYPES:
        raise ConfigError(f"{DTYPE_ENV} / --dtype must be one of {', '.join(DTYPES)}, not {name!r}")
    return name


STEPS_KEY = "chatbench_steps"
"""Key of an assistant reply's ``additional_kwargs`` that holds an app's inner steps (tool calls,
tool results, retrieved documents, intermediate AI messages): ``chatbench.models.apps``."""


def bounded(completion: Completion, max_chars: int) -> Completion:
    """``completion`` within ``max_chars``: a longer text is cut to its first ``max_chars``
    characters; an app's inner steps keep texts (contents, tool arguments and results,
    documents) of at most ``max_chars`` characters together, each item of theirs counting
    one more, and lose what comes after. What was cut is noted in ``truncated``.

    Every reply passes here where it comes in (``invoke_chat``, the causal-LM simulator, the
    user nodes for any simulator), before anything reads, stores or shows it: what follows
    (answer reading, rendering, storing) then costs at most that much per call however much
    a model writes.

    Example:
        >>> cut = bounded(Completion("abcdef"), 4)
        >>> cut.text, dict(cut.truncated)
        ('abcd', {'text': 6})
        >>> bounded(Completion("abc"), 4).truncated
        {}
    """
    text, steps, notes = completion.text, completion.steps, dict(completion.truncated)
    if len(text) > max_chars:
        notes.setdefault("text", len(text))  # a reply cut before keeps its first size
        text = text[:max_chars]
    if steps:
        budget = [max_chars]
        kept = tuple(_cut_step(step, budget) for step in _while_left(steps, budget))
        if budget[0] < 0:  # something did not fit
            notes.setdefault("steps", _steps_size(steps))
            steps = kept
    if text is completion.text and steps is completion.steps:
        return completion
    return replace(completion, text=text, steps=steps, truncated=notes)


def _while_left(items: Sequence[Any], budget: list[int]) -> Iterator[Any]:
    """The items while the budget lasts (it goes below 0 when one is left out)."""
    for item in items:
        if budget[0] <= 0:
            budget[0] = -1
            return
        budget[0] -= 1
        yield item


def _cut_step(step: dict[str, Any], budget: list[int]) -> dict[str, Any]:
    """One step cut to the budget (``_cut``); its ``type`` is kept whole and not counted."""
    if not isinstance(step, dict) or "type" not in step:
        return _cut(step, budget)  # type: ignore[no-any-return]  # a dict in, a dict out
    rest = _cut({key: value for key, value in step.items() if key != "type"}, budget)
    return {"type": step["type"], **rest}


def _cut(value: Any, budget: list[int]) -> Any:
    """JSON data ``value`` with its texts cut to ``budget[0]`` characters together and its
    items past the budget left out; ``budget[0]`` is what is left (below 0: something was
    cut)."""
    if isinstance(value, str):
        if len(value) > budget[0]:
            value, budget[0] = value[:max(budget[0], 0)], -1
        else:
            budget[0] -= len(value)
        return value
    if isinstance(value, dict):
        return {key: _cut(item, budget) for key, item in _while_left(value.items(), budget)}
    if isinstance(value, list | tuple):
        return [_cut(item, budget) for item in _while_left(value, budget)]
    return value


def _steps_size(steps: Sequence[dict[str, Any]]) -> int:
    """What ``_cut_step`` counts of ``steps``: one per step, and the size of the rest."""
    return sum(1 + (_size({key: item for key, item in step.items() if key != "type"})
                    if isinstance(step, dict) else _size(step)) for step in steps)


def _size(value: Any) -> int:
    """What ``_cut`` counts of ``value``: its texts' characters, plus one per item."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(1 + _size(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(1 + _size(item) for item in value)
    return 0


