"""How human-like a user simulator is, measured against real people on held-out questions.

The ChatBench paper judges simulators three ways, all reproduced here:

- **First prompts** (``first_prompts``, ``overlap``): the simulator's opening message is sampled
  ``samples`` times per question and paired with every real user's opening message of the
  same question, as in the paper's ``get_bleu_and_rouge_for_question``: BLEU is the corpus BLEU
  of the question's pairs (Hugging Face ``evaluate``'s ``bleu``, 0-1, see
  ``chatbench.training.bleu``) and ROUGE-1 the mean F1 of its pairs (``rouge-score``, 0-1, no
  stemming); both are then averaged over questions.
- **Conversation length** (``turns_vs_people``): mean user turns per conversation, simulated
  vs human, per question and averaged over questions.
- **Accuracy** (``accuracy_agreement``): per-question user-AI accuracy of simulated
  conversations vs real ones with the same assistant model: Pearson r and mean absolute error.

The realism scorecard (``chatbench.training.scorecard.evaluate_scorecard``, ``chatbench
fidelity``) reports the first-prompt metrics with CIs; length and accuracy appear there as the
distributions ``user_messages`` and ``accuracy`` (``chatbench.training.behaviours``) and as
answers given the real transcripts (``chatbench.training.agreement``). The two functions here
remain for comparing a stored run with people's means.
ROUGE needs the ``train`` extra (``pip install 'chatbench[train]'``); BLEU needs nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from chatbench.data.human_data import (
    HumanConversation,
    human_accuracy_by_question,
    load_chatbench_conversations,
    load_halie,
)
from chatbench.data.questions import Question
from chatbench.datatypes import StopReason
from chatbench.errors import ConfigError
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.scoring.comparison import pearson_mae
from chatbench.seeding import derive_seed
from chatbench.training.openings import (
    FirstPromptJob,
    OverlapResult,
    QuestionOverlap,
    first_prompts,
    overlap,
    question_overlap,
)

DATA_SOURCES = ("halie", "chatbench")
"""Sources of human conversations: HALIE (bundled) and ChatBench (a conversations.json)."""
SPLITS = ("train", "heldout", "all")
CHATBENCH_HELDOUT_BUCKETS = 5
"""ChatBench has no published split: a question is held out when
``derive_seed(CHATBENCH_SPLIT_SALT, question_id) % 5 == 0`` (about 20% of questions)."""
CHATBENCH_SPLIT_SALT = "chatbench-split"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def chatbench_split(question_id: str) -> str:
    """``"heldout"`` or ``"train"``: the fixed, hash-based split of a ChatBench question."""
    bucket = derive_seed(CHATBENCH_SPLIT_SALT, question_id) % CHATBENCH_HELDOUT_BUCKETS
    return "heldout" if bucket == 0 else "train"


def load_human_conversations(
    data: str, path: Path | None = None, split: str = "heldout"
) -> list[HumanConversation]:
    """Human conversations of one split of HALIE or ChatBench.

    Args:
        data: ``"halie"`` or ``"chatbench"``.
        path: HALIE: a folder with its CSVs (``None``: the bundled copy). ChatBench: the
            ``conversations.json`` file (required).
        split: ``"train"``, ``"heldout"`` or ``"all"``. HALIE's split is its fixed one;
            ChatBench's is ``chatbench_split`` (by question, about 20% held out).

    Returns:
        The conversations of the split, in file order.

    Raises:
        ConfigError: Unknown data or split, a missing path, or a malformed file.
    """
    if split not in SPLITS:
        raise ConfigError(f"field 'split': unknown split {split!r}; expected "
                          f"{', '.join(SPLITS)}")
    if data == "halie":
        return load_halie(split, path)  # type: ignore[arg-type]  # checked above
    if data != "chatbench":
        raise ConfigError(f"field 'data': unknown data {data!r}; expected "
                          f"{' or '.join(DATA_SOURCES)}")
    if path is None:
        raise ConfigError("field 'data_path': chatbench data needs the path of its "
                          "full_study/conversations.json")
    conversations = load_chatbench_conversations(path)
    if split == "all":
        return conversations
    return [c for c in conversations if chatbench_split(c.question.id) == split]


def conversation_questions(conversations: Iterable[HumanConversation]) -> list[Question]:
    """The distinct questions of the conversations, in order of first appearance."""
    questions: dict[str, Question] = {}
    for conversation in conversations:
        questions.setdefault(conversation.question.id, conversation.question)
    return list(questions.values())


def real_first_prompts(conversations: Iterable[HumanConversation]) -> dict[str, list[str]]:
    """Each question's real opening messages, as the paper's ``get_first_prompts_for_question``
    takes them: the chat's first logged message when the user wrote it (``chatHistory[0]``
    with role ``You``), blank ones kept; a chat that opens with the assistant gives none, and
    a user's second message in a row is not joined to the first (``HumanConversation.log``)."""
    prompts: dict[str, list[str]] = defaultdict(list)
    for conversation in conversations:
        history = conversation.history()
        if history and history[0][0] == "user":
            prompts[conversation.question.id].append(history[0][1])
    return dict(prompts)


PAPER_FIRST_PROMPT_MARK = "-redux-"
"""The paper scores first prompts on ChatBench's questions whose id holds this
(``get_bleu_and_rouge_for_all_questions``: ``"-redux-" in qid``); the ``-test-`` ids of high
school and college mathematics are left out."""


def first_prompt_questions(prompts: dict[str, list[str]], data: str) -> dict[str, list[str]]:
    """The questions whose first prompts the paper's metrics score: on ChatBench's data its
    ``-redux-`` ids only (``PAPER_FIRST_PROMPT_MARK``); on HALIE (which the paper did not
    score) every question."""
    if data != "chatbench":
        return prompts
    return {qid: texts for qid, texts in prompts.items() if PAPER_FIRST_PROMPT_MARK in qid}


# --------------------------------------------------------------------------------------------
# Conversation length
# --------------------------------------------------------------------------------------------


class QuestionTurns(BaseModel):
    """Mean user turns per conversation on one question."""

    model_config = ConfigDict(frozen=True)

    simulated: float
    human: float
    simulated_conversations: int
    human_conversations: int


class TurnComparison(BaseModel):
    """Mean user turns per conversation, simulated vs human, on shared questions."""

    model_config = ConfigDict(frozen=True)

    simulated: float
    """Mean over shared questions of the per-question mean (NaN when none are shared)."""
    human: float
    questions: int
    per_question: dict[str, QuestionTurns] = {}
    note: str | None = None


def simulated_turns(transcript: Sequence[TranscriptTurn]) -> int:
    """User messages the assistant replied to: the turns a person would have typed.

    The simulator's final ``Answer: X`` message is not counted: people give their answer in
    the study's form, not in the chat, so their conversations hold no such message.
    """
    return sum(1 for turn, after in zip(transcript, transcript[1:], strict=False)
               if turn.role == "user" and after.role == "assistant")


def _grouped(pairs: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return groups


def _scored(records: Iterable[ConversationRecord]) -> list[ConversationRecord]:
    return [r for r in records if r.stop_reason is not StopReason.ERROR]


def turns_vs_people(
    records: Iterable[ConversationRecord], humans: Iterable[HumanConversation]
) -> TurnComparison:
    """Mean user turns per conversation, simulated (``simulated_turns``) vs human.

    Failed simulated conversations are left out. Only questions with both simulated and
    human conversations count; overall means are means of the per-question means.

    Args:
        records: Simulated conversations.
        humans: Real conversations (a human's turns are its ``user_turns``).

    Returns:
        Per-question and overall means; NaN with a note when no question is shared.
    """
    sim = _grouped((r.question_id, simulated_turns(r.transcript)) for r in _scored(records))
    real = _grouped((h.question.id, len(h.user_turns)) for h in humans)
    per_question = {
        qid: QuestionTurns(simulated=fmean(sim[qid]), human=fmean(real[qid]),
                           simulated_conversations=len(sim[qid]),
                           human_conversations=len(real[qid]))
        for qid in sorted(sim.keys() & real.keys())
    }
    if not per_question:
        return TurnComparison(simulated=math.nan, human=math.nan, questions=0,
                              note="no question has both simulated and human conversations")
    return TurnComparison(simulated=fmean(q.simulated for q in per_question.values()),
                          human=fmean(q.human for q in per_question.values()),
                          questions=len(per_question), per_question=per_question)


# --------------------------------------------------------------------------------------------
# Accuracy agreement
# --------------------------------------------------------------------------------------------


class AccuracyAgreement(BaseModel):
    """Per-question simulated vs real user-AI accuracy (the paper's r and MAE)."""

    model_config = ConfigDict(frozen=True)

    human_model: str
    """The assistant the real users talked to."""
    pearson_r: float
    """NaN when fewer than 2 questions are shared or an accuracy is constant."""
    p_value: float
    mae: float
    """Mean absolute error of the accuracies (0-1); NaN when no question is shared."""
    n: int
    """Shared questions."""
    per_question: dict[str, tuple[float, float]] = {}
    """``{question_id: (simulated accuracy, real accuracy)}``."""
    note: str | None = None


def simulated_accuracy_by_question(records: Iterable[ConversationRecord]) -> dict[str, float]:
    """Mean correct over answered, non-failed simulated conversations, per question."""
    answered = (r for r in _scored(records) if r.answered)
    return {qid: fmean(v) for qid, v in _grouped((r.question_id, r.correct) for r in answered)
            .items()}


def _undefined_r(xs: list[float], ys: list[float]) -> str | None:
    """Why Pearson r of the per-question accuracies is undefined (None: it is not)."""
    if len(xs) < 2:
        return f"{len(xs)} shared question(s): r needs at least 2"
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return "an accuracy is the same on every question: r is undefined"
    return None


def accuracy_agreement(
    records: Iterable[ConversationRecord],
    humans: Iterable[HumanConversation],
    human_model: str,
) -> AccuracyAgreement:
    """Pearson r and MAE of per-question simulated vs real user-AI accuracy.

    Args:
        records: Simulated conversations (answered, non-failed ones are scored).
        humans: Real conversations; those with ``human_model`` as assistant are used.
        human_model: The real users' assistant, e.g. ``gpt-4o`` or ``InstructDavinci``.

    Returns:
        r (with its p-value), MAE and the number of shared questions; NaN with a note when
        there are too few questions or no variation.
    """
    real = {qid: acc for (qid, model), acc in human_accuracy_by_question(humans).items()
            if model == human_model}
    simulated = simulated_accuracy_by_question(records)
    shared = sorted(real.keys() & simulated.keys())
    per_question = {qid: (simulated[qid], real[qid]) for qid in shared}
    if not shared:
        return AccuracyAgreement(human_model=human_model, pearson_r=math.nan,
                                 p_value=math.nan, mae=math.nan, n=0,
                                 note=f"no question has both simulated answers and real "
                                      f"answers with {human_model!r}")
    xs, ys = [simulated[q] for q in shared], [real[q] for q in shared]
    fit = pearson_mae(xs, ys)
    return AccuracyAgreement(human_model=human_model, pearson_r=fit["r"], p_value=fit["p"],
                             mae=fit["mae"], n=len(shared), per_question=per_question,
                             note=_undefined_r(xs, ys))


__all__ = [
    "AccuracyAgreement",
    "FirstPromptJob",
    "OverlapResult",
    "QuestionOverlap",
    "QuestionTurns",
    "TurnComparison",
    "accuracy_agreement",
    "chatbench_split",
    "conversation_questions",
    "first_prompts",
    "load_human_conversations",
    "overlap",
    "question_overlap",
    "real_first_prompts",
    "simulated_accuracy_by_question",
    "simulated_turns",
    "turns_vs_people",
]
