"""What chatbench needs of a raw text-completion model (the causal-LM simulator's backend)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class Completion:
    """One generated text with its token counts (None where the model reports none)."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    steps: tuple[dict[str, Any], ...] = ()
    """An app's inner steps behind this text (JSON data, in order); empty for a plain model."""


@runtime_checkable
class TextCompleter(Protocol):
    """A causal LM that continues plain text prompts (no chat template)."""

    name: str
    context_window: int

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to."""
        ...

    def complete(
        self,
        prompts: list[str],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str],
        seed: int | None = None,
    ) -> list[Completion]:
        """Continue each prompt; the text is cut before the first stop string."""
        ...
