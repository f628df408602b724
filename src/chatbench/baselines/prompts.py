"""The AI-alone baselines' prompts, sampling settings and answer reading, as in the paper's code.

Every string here is copied from the ChatBench authors' ``qa_reasoning.py`` (``letter_only``,
``copy_and_paste``, ``extract_answer_from_response``) and ``constants_and_utils.py``
(``extract_qa_from_row``, ``SEP``, ``DEFAULT_TEMP``, ``DEFAULT_MAX_TOKENS``):

- *letter-only* (``letter_zero_shot``, ``letter_few_shot``) follows HELM's format: one user
  message, ``Answer with only a single letter.``, for few-shot a subject line and the 5 MMLU dev
  examples inline (``Question: ...\\nAnswer: X``), then the question and the cue ``Answer:``. At
  most 10 new tokens. The answer is the first character of the stripped reply if it is one of
  the upper-case letters, else the reply is invalid.
- *free text* (``free_text``) sends the question and its options and nothing else (the paper's
  ``copy_and_paste``), at most 1000 new tokens. A grader model is asked, with the paper's
  prompt, for a JSON object with ``attempted_answer``, ``answer_val`` and ``answer_letter``;
  ``answer_letter`` decides. A grader reply that is not JSON leaves the answer unscored.
- ``free_text_rules`` is chatbench's own: the same free-text call, read by chatbench's rules
  (``chatbench.scoring.choice.extract_choice``), asking the paper's grader only when they
  find nothing and a grader was given. It needs no grader model, so it runs offline on a small
  model.

The published code leaves out ``query_model``; its defaults are taken to be the settings each
run records with its results (``sys_temp`` = ``DEFAULT_TEMP`` = 0.7, ``max_tokens`` =
``DEFAULT_MAX_TOKENS`` = 1000). ``letter_only`` overrides ``max_tokens`` with 10.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chatbench.config import RoleSettings
from chatbench.data.questions import Question
from chatbench.records import BASELINE_KINDS as BASELINE_KINDS  # their home before
from chatbench.records import PAPER_KINDS as PAPER_KINDS
from chatbench.records import BaselineKind

LETTER_KINDS: tuple[BaselineKind, ...] = ("letter_zero_shot", "letter_few_shot")
FREE_TEXT_KINDS: tuple[BaselineKind, ...] = ("free_text", "free_text_rules")

SYSTEM_PROMPT = "You are a helpful AI assistant."
"""The assistant's system prompt in ``letter_only`` and ``copy_and_paste``."""
LETTER_ONLY_PROMPT = "Answer with only a single letter.\n\n"
"""How every letter-only user message starts."""
FEW_SHOT_HEADER = "The following are multiple choice questions (with answers) about {subject}.\n\n"
"""Few-shot only; ``{subject}`` is the subject with spaces for underscores."""
FEW_SHOT_EXAMPLE = "Question: {question}\nAnswer: {answer}\n\n"
"""One dev example; ``{question}`` is ``Question.format()``, ``{answer}`` its letter."""
LETTER_ONLY_QUESTION = "Question: {question}\nAnswer:"
"""The question asked, ending on the ``Answer:`` cue."""

SEP = "=" * 24
"""The separator around the question and the response in the grader prompt."""
GRADER_SYSTEM_PROMPT = "You are a helpful assistant."
GRADER_PROMPT = (
    f"Here is a question that someone was asked:\n\n{SEP}\n{{question}}\n{SEP}\n\n"
    f"Here is a response:\n\n{SEP}\n{{response}}\n{SEP}\n\n"
    "Did the response provide a final answer to the question? Respond with a JSON object that "
    'contains one key "attempted_answer" with a value that is true or false. '
    'If "attempted_answer" is true, then include a second key "answer_val" with the final '
    "answer's value in quotations. "
    'If the final answer value matches one of the answer options, include a third key '
    '"answer_letter" with a value that is one of the letters {letters}.'
)
"""``extract_answer_from_response``'s user message; ``{letters}`` is ``"A", "B", "C", or "D"``."""

DEFAULT_SETTINGS: dict[BaselineKind, RoleSettings] = {
    "letter_zero_shot": RoleSettings(temperature=0.7, max_tokens=10),
    "letter_few_shot": RoleSettings(temperature=0.7, max_tokens=10),
    "free_text": RoleSettings(temperature=0.7, max_tokens=1000),
    "free_text_rules": RoleSettings(temperature=0.7, max_tokens=1000),
}
"""The assistant's settings per kind: the paper's temperature 0.7, 10 tokens for a letter."""
GRADER_SETTINGS = RoleSettings(temperature=0.7, max_tokens=1000)
"""The grader's settings: the paper called it with ``query_model``'s defaults."""

PROTOCOL = "paper-v1"
"""The version of everything in this module (prompts, settings, reading rules) and of the
bundled few-shot examples. It is part of every baseline run's identity: change it whenever
any of them changes, so answers asked the old way are never resumed into a new run."""


def letter_only_prompt(question: Question, examples: Sequence[Question] = ()) -> str:
    """The paper's letter-only user message (HELM's format), few-shot when given examples.

    Example:
        >>> q = Question(id="q", subject="elementary_mathematics", stem="2+2?",
        ...              choices=("3", "4"), answer="B")
        >>> letter_only_prompt(q)
        'Answer with only a single letter.\\n\\nQuestion: 2+2?\\nA. 3\\nB. 4\\nAnswer:'
    """
    prompt = LETTER_ONLY_PROMPT
    if examples:
        prompt += FEW_SHOT_HEADER.format(subject=question.subject.replace("_", " "))
        prompt += "".join(FEW_SHOT_EXAMPLE.format(question=example.format(),
                                                  answer=example.answer)
                          for example in examples)
    return prompt + LETTER_ONLY_QUESTION.format(question=question.format())


def build_messages(
    kind: BaselineKind, question: Question, examples: Sequence[Question] = ()
) -> list[BaseMessage]:
    """The paper's two messages for one baseline answer: the system prompt and one user turn.

    Args:
        kind: The baseline kind.
        question: The question asked.
        examples: The few-shot examples (``letter_few_shot`` only), inline in the user turn.

    Returns:
        ``[SystemMessage, HumanMessage]``.
    """
    if kind in FREE_TEXT_KINDS:
        user = question.format()  # copy_and_paste: the question and options, nothing else
    else:
        user = letter_only_prompt(question, examples if kind == "letter_few_shot" else ())
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(user)]


def letter_only_choice(reply: str, letters: Sequence[str]) -> str | None:
    """The paper's letter-only rule: the first character of the stripped reply, if a letter.

    Upper case only, as in the paper (``response[0] in ["A", "B", "C", "D"]``).

    Example:
        >>> letter_only_choice(" B) because", "ABCD"), letter_only_choice("b", "ABCD")
        ('B', None)
    """
    text = reply.strip()
    return text[0] if text and text[0] in letters else None


def _letters_phrase(letters: Sequence[str]) -> str:
    """``"A", "B", "C", or "D"``: the paper's list of answer letters."""
    quoted = [f'"{letter}"' for letter in letters]
    return ", ".join(quoted[:-1]) + ", or " + quoted[-1]


def grader_messages(question: Question, response: str) -> list[BaseMessage]:
    """The paper's grader prompt for one free-text response.

    Args:
        question: The question (shown with its options).
        response: The assistant's free-text reply.

    Returns:
        ``[SystemMessage, HumanMessage]``.
    """
    user = GRADER_PROMPT.format(question=question.format(), response=response,
                                letters=_letters_phrase(question.letters))
    return [SystemMessage(GRADER_SYSTEM_PROMPT), HumanMessage(user)]


def parse_grader_reply(reply: str) -> dict[str, Any] | None:
    """The grader's JSON object, read as the paper does; None when it is not JSON.

    The text between the first ``{`` and the last ``}`` (when both occur) is wrapped in braces
    and parsed.

    Example:
        >>> parse_grader_reply('Sure: {"attempted_answer": true, "answer_letter": "B"} ok')
        {'attempted_answer': True, 'answer_letter': 'B'}
    """
    text = reply
    if "{" in text and "}" in text:
        text = text.split("{", 1)[1].rsplit("}", 1)[0]
    try:
        parsed = json.loads("{" + text + "}")
    except ValueError:  # json.JSONDecodeError, and bad surrogates
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass(frozen=True)
class GraderVerdict:
    """What the paper makes of a grader's JSON object."""

    choice: str | None
    """``answer_letter`` when it is one of the question's letters."""
    correct: bool
    """``answer_letter`` is the right letter; False when there is none."""


def grader_verdict(graded: dict[str, Any], question: Question) -> GraderVerdict:
    """Score a parsed grader reply: only ``answer_letter`` counts; without one, wrong.

    Example:
        >>> q = Question(id="q", stem="2+2?", choices=("3", "4"), answer="B")
        >>> grader_verdict({"attempted_answer": True, "answer_val": "4"}, q)
        GraderVerdict(choice=None, correct=False)
    """
    letter = graded.get("answer_letter")
    choice = letter if isinstance(letter, str) and letter in question.letters else None
    return GraderVerdict(choice=choice, correct=letter == question.answer)
