"""The ``Question`` model: one multiple-choice question, validated, with its option letters."""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatbench._text import valid_id

LETTERS = string.ascii_uppercase
MAX_TEXT_CHARS = 1_000_000
"""Longest question or option text, in characters, whatever the file format."""
MAX_NAME_CHARS = 1_000
"""Longest question id or subject."""


class Question(BaseModel):
    """One multiple-choice question.

    Example:
        >>> q = Question(id="q1", subject="math", stem="2+2?", choices=("3", "4"), answer="B")
        >>> q.letters
        ('A', 'B')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Stable identifier, e.g. ``elementary_mathematics-redux-12``."""
    subject: str = ""
    """Subject or category, e.g. ``elementary_mathematics``."""
    stem: str
    """The question text."""
    choices: tuple[str, ...] = Field(min_length=2, max_length=26)
    """Option texts in order; option ``i`` has letter ``LETTERS[i]``."""
    answer: str
    """The correct option letter (upper case)."""

    @field_validator("id", "subject")
    @classmethod
    def _short_name(cls, value: str) -> str:
        if len(value) > MAX_NAME_CHARS:
            raise ValueError(f"{len(value)} characters; at most {MAX_NAME_CHARS}")
        return value

    @field_validator("id")
    @classmethod
    def _valid_unicode(cls, value: str) -> str:
        # a store keeps a lone surrogate escaped: an id holding one would not be found again
        return valid_id(value)

    @field_validator("id", "stem")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return bounded_text(value)

    @field_validator("choices")
    @classmethod
    def _options_are_texts(cls, choices: tuple[str, ...]) -> tuple[str, ...]:
        for letter, text in zip(LETTERS, choices, strict=False):
            if not text.strip():
                raise ValueError(f"option {letter} is empty")
            bounded_text(text, f"option {letter}")
        return choices

    @model_validator(mode="after")
    def _answer_is_a_letter_of_the_choices(self) -> Question:
        if self.answer not in self.letters:
            raise ValueError(
                f"answer {self.answer!r} is not one of the option letters {''.join(self.letters)}"
            )
        return self

    @property
    def letters(self) -> tuple[str, ...]:
        """The option letters, ``('A', 'B', ...)``."""
        return tuple(LETTERS[: len(self.choices)])

    def format(self) -> str:
        """The question with lettered options, one per line, as shown to users and models."""
        options = "\n".join(
            f"{letter}. {text}" for letter, text in zip(self.letters, self.choices, strict=True)
        )
        return f"{self.stem}\n{options}"


def bounded_text(text: str, what: str = "text") -> str:
    """``text``, unless it is longer than ``MAX_TEXT_CHARS``.

    Raises:
        ValueError: It is.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{what} has {len(text)} characters; at most {MAX_TEXT_CHARS}")
    return text
