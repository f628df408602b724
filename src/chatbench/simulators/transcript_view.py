"""The ``transcript`` view: what the paper's code sends a prompted simulator.

``generate_conversations.py`` renders the conversation so far as text inside one prompt instead
of sending it as chat turns:

- two-step (and its "problem" and "help" variants): a system message with the question, then
  one user message. Turn 1 asks for the first prompt; later turns show the conversation as
  ``YOU:`` / ``SYSTEM:`` lines between ``SEP`` fences and ask for the next prompt or
  ``Answer: X``; at the turn limit, for the answer only.
- IQA-EVAL: a system message alone, the conversation appended to it as ``YOU:`` /
  ``ASSISTANT:`` lines; at the turn limit, a system prompt that asks only for the answer.

What the paper never sends (a persona, chain-of-thought notes, the satisfaction question) is
added without changing the rest: the persona after the system prompt, the notes and other
instructions as a last user message.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, SystemMessage

from chatbench import prompts
from chatbench.personas import render_persona
from chatbench.simulators.base import TurnRequest
from chatbench.transcript import labelled_turns

_EXTRA_INSTRUCTIONS = {
    "think": prompts.USER_COT_PROMPT,
    "feedback": prompts.USER_SATISFACTION_PROMPT,
}


def render_conversation(
    messages: Sequence[AnyMessage], user_term: str = "YOU", assistant_term: str = "SYSTEM"
) -> str:
    """The paper's ``convert_conversation_to_str`` (``cutoff=None``): one ``TERM: text``
    block per message, blocks separated by a blank line.

    Example:
        >>> from langchain_core.messages import AIMessage
        >>> render_conversation([HumanMessage("Hi"), AIMessage("Hello!")])
        'YOU: Hi\\n\\nSYSTEM: Hello!'
    """
    return "\n\n".join(labelled_turns(messages, f"{user_term}:", f"{assistant_term}:"))


def answer_options(letters: Sequence[str]) -> str:
    """The paper's ``ans_options``: ``"A, B, C, or D"`` for four options.

    Example:
        >>> answer_options(("A", "B", "C", "D"))
        'A, B, C, or D'
    """
    return ", ".join(f"or {letter}" if i == len(letters) - 1 else letter
                     for i, letter in enumerate(letters))


def _persona_block(request: TurnRequest) -> str:
    persona = request.context.persona
    return prompts.PERSONA_BLOCK.format(persona=render_persona(persona)) if persona else ""


def _with_scratchpad(request: TurnRequest, text: str) -> str:
    if request.scratchpad and request.mode != "think":
        return f"{prompts.USER_SCRATCHPAD_PREFIX}{request.scratchpad}\n\n{text}"
    return text


def two_step_view(request: TurnRequest, first_prompt: str) -> list[BaseMessage]:
    """The two-step simulator's prompt (``two_step_simulator``): system, then one user message.

    Args:
        request: The turn to write.
        first_prompt: The variant's turn-1 prompt (plain or "problem").

    Returns:
        ``[SystemMessage, HumanMessage]``.
    """
    question = request.question
    system = prompts.PAPER_TWO_STEP_SYSTEM_PROMPT.format(question=question.format())
    options = answer_options(question.letters)
    if request.mode in _EXTRA_INSTRUCTIONS:
        step = _EXTRA_INSTRUCTIONS[request.mode]
    elif request.mode == "forced":
        step = prompts.PAPER_TWO_STEP_FORCED_PROMPT.format(options=options)
    else:
        step = prompts.PAPER_TWO_STEP_NEXT_PROMPT.format(options=options)
    if request.messages:
        conversation = render_conversation(request.messages)
        header = prompts.PAPER_TWO_STEP_CONVERSATION.format(sep=prompts.PAPER_SEP,
                                                            conversation=conversation)
        user = header + step
    else:
        user = step if request.mode in _EXTRA_INSTRUCTIONS else first_prompt
    return [SystemMessage(content=system + _persona_block(request)),
            HumanMessage(content=_with_scratchpad(request, user))]


def iqa_eval_view(request: TurnRequest) -> list[BaseMessage]:
    """IQA-EVAL's prompt (``iqa_eval_simulator``): one system message, the conversation
    appended to it; a last user message only for what the paper never sends.

    Returns:
        ``[SystemMessage]``, or ``[SystemMessage, HumanMessage]`` with chain-of-thought notes,
        a chain-of-thought step or the satisfaction question.
    """
    question = request.question
    template = (prompts.PAPER_IQA_EVAL_FORCED_SYSTEM_PROMPT if request.mode == "forced"
                else prompts.PAPER_IQA_EVAL_SYSTEM_PROMPT)
    system = template.format(options=answer_options(question.letters), question=question.format())
    system += _persona_block(request)
    if request.messages:
        system += "\n\n" + render_conversation(request.messages, assistant_term="ASSISTANT")
    view: list[BaseMessage] = [SystemMessage(content=system)]
    extra = _with_scratchpad(request, _EXTRA_INSTRUCTIONS.get(request.mode, "")).strip()
    if extra:
        view.append(HumanMessage(content=extra))
    return view
