"""Whether a simulated user's turn is its answer, and which: the accept rules of ``GraphSpec``.

Two rules (``GraphSpec.accept``):

- ``paper``: the ChatBench paper's code (``generate_conversations.py``). The reply is first
  cleaned as the paper cleans it (surrounding spaces and double quotes, a leading ``"YOU: "``).
  Two-step simulators (``two_step``, ``two_step_problem``, ``two_step_help``, and the causal-LM
  and scripted simulators, which end the same way): the first turn always goes to the AI;
  later, only a turn that starts with ``"Answer: "`` is an answer, and its first character
  after that is the choice. IQA-EVAL: any turn containing ``"So, the answer is: "`` is an
  answer, the first turn included. An answer whose first character is not an option letter is
  *invalid*: the user answered, and the paper scores it wrong.
- ``natural``: chatbench's reader (:func:`chatbench.scoring.choice.extract_choice`) on every
  turn, so "I'll go with B" or "So it's (c)." ends the conversation; what it cannot read is
  no answer.

Example:
    >>> from chatbench.data.questions import Question
    >>> q = Question(id="q", subject="s", stem="2+2?", choices=("3", "4"), answer="B")
    >>> read_turn('"Answer: B"', q, rule="paper", simulator="two_step", first=False)
    UserTurn(text='Answer: B', answered=True, choice='B', invalid_answer=None)
    >>> read_turn("I think it's B", q, rule="paper", simulator="two_step", first=False).answered
    False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from chatbench import prompts
from chatbench.data.questions import Question
from chatbench.scoring.choice import extract_choice

IQA_EVAL = "iqa_eval"


@dataclass(frozen=True)
class UserTurn:
    """One user turn as the accept rule reads it."""

    text: str
    """The turn as stored and sent to the AI (cleaned as the paper cleans it, under ``paper``)."""
    answered: bool
    """The turn is the user's answer: the conversation ends here."""
    choice: str | None = None
    """The option letter answered, when it is one."""
    invalid_answer: str | None = None
    """What the user answered when it is not an option letter (scored wrong)."""


def clean_paper_reply(text: str) -> str:
    """The paper's cleaning of a simulator reply: strip spaces, then double quotes, then a
    leading ``"YOU: "`` (``two_step_simulator`` and ``iqa_eval_simulator``)."""
    text = text.strip().strip('"')
    if text.startswith("YOU: "):
        text = text[len("YOU: "):].strip()
    return text


def _paper_answer(text: str, simulator: str, first: bool) -> str | None:
    """The answer text after the paper's marker, or None when the turn is no answer."""
    if simulator == IQA_EVAL:
        mark = prompts.PAPER_IQA_EVAL_ANSWER_MARK
        return text[text.index(mark) + len(mark):] if mark in text else None
    prefix = prompts.PAPER_TWO_STEP_ANSWER_PREFIX
    if first or not text.startswith(prefix):
        return None
    return text[len(prefix):]


def read_turn(text: str, question: Question, *, rule: str, simulator: str,
              first: bool) -> UserTurn:
    """Read one user turn under an accept rule.

    Args:
        text: The simulator's reply.
        question: The question, for its option letters (and option texts, under ``natural``).
        rule: ``"paper"`` or ``"natural"`` (``GraphSpec.accept``).
        simulator: ``GraphSpec.simulator``; under ``paper``, IQA-EVAL has its own marker.
        first: The turn is the conversation's first user turn.

    Returns:
        The turn, whether it is an answer, and the letter (or the invalid answer).
    """
    if rule == "natural":
        choice = extract_choice(text, question.choices)
        return UserTurn(text, answered=choice is not None, choice=choice)
    text = clean_paper_reply(text)
    answer = _paper_answer(text, simulator, first)
    if answer is None:
        return UserTurn(text, answered=False)
    # The paper checks ``answer[0] in ["A", "B", "C", "D"]``: case and spacing matter.
    if answer[:1] and answer[0] in question.letters:
        return UserTurn(text, answered=True, choice=answer[0])
    return UserTurn(text, answered=True, invalid_answer=answer)


ScenarioEnd = Literal["goal_met", "gave_up"]


@dataclass(frozen=True)
class ScenarioTurn:
    """One simulated user's turn of a scenario as the scenario's accept rule reads it."""

    text: str
    """The turn without its stop token: what the assistant is sent and the store keeps (the
    token itself when nothing else is left)."""
    end: ScenarioEnd | None
    """``goal_met`` or ``gave_up`` when the turn says so; None when the conversation goes on."""


_STOP_TOKENS = re.compile(
    "|".join(re.escape(token).replace(r"\ ", r"[\s_-]*")
             for token in (prompts.GOAL_MET_TOKEN, prompts.GIVE_UP_TOKEN)),
    re.I,
)


def read_scenario_turn(text: str) -> ScenarioTurn:
    """Read a scenario turn: a ``[GOAL MET]`` or ``[GIVE UP]`` anywhere in it (any case; a
    space, ``_`` or ``-`` inside) ends the conversation; when both appear, the last one says
    how. The tokens are cut out of the text.

    Example:
        >>> read_scenario_turn("Great, thanks! [goal met]")
        ScenarioTurn(text='Great, thanks!', end='goal_met')
        >>> read_scenario_turn("Can you check again?").end is None
        True
    """
    found = list(_STOP_TOKENS.finditer(text))
    if not found:
        return ScenarioTurn(text, None)
    last = re.sub(r"[\s_-]", "", found[-1].group(0)).upper()
    end: ScenarioEnd = "goal_met" if last == prompts.GOAL_MET_TOKEN.replace(" ", "") else "gave_up"
    cleaned = _STOP_TOKENS.sub("", text).strip()
    return ScenarioTurn(cleaned or found[-1].group(0), end)
