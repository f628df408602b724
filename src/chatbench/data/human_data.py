"""Real human-AI conversations on multiple-choice questions: HALIE (bundled) and ChatBench.

Both sources become ``HumanConversation`` objects: the question, the user's turns and the
assistant's replies in order (user first), and the user's final choice. They feed the
fine-tuned simulator (``chatbench.training``) and the fidelity checks that compare simulated
users with real ones.

HALIE (Lee et al. 2023, Apache-2.0) ships with chatbench: 30 MMLU questions answered by crowd
workers who could query a language model. Its split is fixed: questions 0-19 are for training
and tuning (``HALIE_TRAIN_IDS``), 20-29 are held out (``HALIE_HELDOUT_IDS``) and only measure
how human-like a simulator is. ChatBench's own ``full_study/conversations.json`` (CC BY 4.0)
is read from a path the user gives.

The code lives in ``human_conversation`` (the model), ``halie`` and ``chatbench_conversations``
(one reader per source); every name stays importable from here.

Example:
    >>> train = load_halie("train")
    >>> train[0].user_turns[0]  # doctest: +SKIP
    'In which war was "The Star Spangled Banner" written?'
"""

# The public names of this part of the package, importable from one place (no private ones).
# ruff: noqa: F401

from __future__ import annotations

from chatbench.data.chatbench_conversations import (
    CHATBENCH_REQUIRED,
    CHATBENCH_ROLES,
    SUBJECT,
    chat_turns,
    chatbench_entries,
    chatbench_record,
    chatbench_subject,
    choice_labels,
    load_chatbench_conversations,
    option_index,
    optional_text,
)
from chatbench.data.halie import (
    HALIE_EVENTS,
    HALIE_HELDOUT_IDS,
    HALIE_ID_PREFIX,
    HALIE_QUESTION_COLUMNS,
    HALIE_QUESTIONS,
    HALIE_REQUIRED,
    HALIE_TRAIN_IDS,
    Split,
    halie_fields,
    halie_file,
    halie_flag,
    halie_question,
    halie_question_number,
    halie_questions,
    header_rows,
    literal_list,
    load_halie,
    split_ids,
)
from chatbench.data.human_conversation import (
    HumanConversation,
    LoggedMessage,
    Source,
    checked_conversation,
    has_turns,
    human_accuracy_by_question,
)
from chatbench.data.question import LETTERS, Question
from chatbench.data.rows import (
    BadField,
    checked_choices,
    checked_question,
    checked_text,
    csv_records,
    validated_row,
)

__all__ = [
    "HALIE_HELDOUT_IDS",
    "HALIE_ID_PREFIX",
    "HALIE_TRAIN_IDS",
    "HumanConversation",
    "LoggedMessage",
    "Source",
    "Split",
    "chatbench_subject",
    "halie_question_number",
    "human_accuracy_by_question",
    "load_chatbench_conversations",
    "load_halie",
]
