"""The ChatBench paper's data and analyses: read the released files (microsoft/ChatBench),
clean the user answers by the paper's rules and compute its tables, for the release and for
chatbench's own simulator runs alike (``chatbench paper DATA_DIR [--runs STORE]``).

Example:
    >>> from chatbench.paper import analyze, load_release
    >>> result = analyze(load_release("ChatBench"))  # doctest: +SKIP
    >>> result.accuracy.head()  # doctest: +SKIP
"""

from __future__ import annotations

from chatbench.paper.analyses import (
    accuracy_table,
    agreement_table,
    length_table,
    transitions,
    user_ai_by_question,
)
from chatbench.paper.analyze import PaperAnalysis, analyze
from chatbench.paper.cleaning import Cleaned, CleaningStep, clean_user_answers
from chatbench.paper.figure import accuracy_figure, save_accuracy_figure
from chatbench.paper.release import (
    Release,
    load_ai_alone,
    load_conversations,
    load_questions,
    load_release,
    load_user_answers,
)
from chatbench.paper.runs import chatbench_models, load_runs

__all__ = [
    "Cleaned",
    "CleaningStep",
    "PaperAnalysis",
    "Release",
    "accuracy_figure",
    "accuracy_table",
    "agreement_table",
    "analyze",
    "chatbench_models",
    "clean_user_answers",
    "length_table",
    "load_ai_alone",
    "load_conversations",
    "load_questions",
    "load_release",
    "load_runs",
    "load_user_answers",
    "save_accuracy_figure",
    "transitions",
    "user_ai_by_question",
]
