"""Run summaries: accuracy and conversation shape per group, from records or from the
store's per-question counts (``summarize_store``), by one definition of accuracy
(``accuracy.per_question_accuracy``, the one ``chatbench report`` uses)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from chatbench.datatypes import StopReason, Summary
from chatbench.records import ConversationRecord

if TYPE_CHECKING:
    import pandas as pd

    from chatbench.storage import ResultStore

ACCURACY_WORDS = ("acc.: mean over questions of each question's correct / answered, as "
                  "chatbench report computes it (no answer left out); acc. all: the same with "
                  "no answer counted wrong; correct/answered: pooled counts")
"""What the accuracy columns of a summary mean, as a table caption says it."""


def summary_from_totals(
    group: str, per_question: pd.DataFrame, conversations: int, turns: float, seconds: float,
) -> Summary:
    """The ``Summary`` of a group from its per-question counts and its sums, however they
    were counted (in Python by ``summarize``, in SQL by ``summarize_store``).

    Args:
        group: The group's name.
        per_question: One row per question: ``question_id`` and ``accuracy.TOTALS``
            (``scored``, ``answered``, ``correct``), failed conversations not counted.
        conversations: Conversations in the group, failed ones included.
        turns: User turns summed over the conversations that did not fail.
        seconds: Wall time summed over all conversations.

    Returns:
        The ``Summary``; a mean over no conversations (or questions) is None.

    Example:
        >>> import pandas as pd
        >>> counts = pd.DataFrame({"question_id": ["a", "b"], "scored": [2, 1],
        ...                        "answered": [2, 1], "correct": [2, 0]})
        >>> s = summary_from_totals("all", counts, 4, 6, 10.0)
        >>> s.accuracy, s.pooled_accuracy, s.errors, s.mean_turns
        (0.5, 0.6666666666666666, 1, 2.0)
    """
    from chatbench.scoring.accuracy import mean_over_questions

    scored = int(per_question["scored"].sum())
    questions, accuracy = mean_over_questions(per_question, "answered")
    _, accuracy_all = mean_over_questions(per_question, "all")
    return Summary(
        group=group,
        conversations=conversations,
        errors=conversations - scored,
        answered=int(per_question["answered"].sum()),
        correct=int(per_question["correct"].sum()),
        questions=questions,
        accuracy=accuracy,
        accuracy_all=accuracy_all,
        mean_turns=turns / scored if scored else None,
        mean_seconds=seconds / conversations if conversations else None,
    )


def question_counts(records: Iterable[ConversationRecord]) -> pd.DataFrame:
    """Per-question counts (``accuracy.TOTALS``) of records, failed ones not counted."""
    import pandas as pd

    from chatbench.scoring.accuracy import question_totals

    frame = pd.DataFrame([(r.question_id, r.stop_reason is StopReason.ERROR, r.answered,
                           r.correct) for r in records],
                         columns=["question_id", "failed", "answered", "correct"])
    return question_totals(frame)


def summarize(group: str, records: Sequence[ConversationRecord]) -> Summary:
    """The ``Summary`` of one group of records.

    Example:
        >>> summarize("all", []).accuracy is None
        True
    """
    scored = [r for r in records if r.stop_reason is not StopReason.ERROR]
    return summary_from_totals(
        group, question_counts(scored), conversations=len(records),
        turns=sum(r.turns for r in scored), seconds=sum(r.seconds for r in records),
    )


def summarize_store(store: ResultStore, run_id: str, by: str = "subject") -> list[Summary]:
    """``summarize_by(store.records(run_id), by)`` from the store's per-question counts
    (``ResultStore.question_counts``, computed in SQLite): no record is loaded, so memory
    stays flat however many conversations the run has.

    Returns:
        One ``Summary`` per value of ``by`` (sorted), then one for all rows.
    """
    import pandas as pd

    frame = pd.DataFrame(store.question_counts(run_id, by),
                         columns=["grp", "question_id", "n", "scored", "answered", "correct",
                                  "turns", "seconds"])

    def summary(name: str, part: pd.DataFrame) -> Summary:
        counts = part.groupby("question_id", sort=True)[["scored", "answered",
                                                         "correct"]].sum().reset_index()
        return summary_from_totals(name, counts, int(part["n"].sum()),
                                   float(part["turns"].sum()), float(part["seconds"].sum()))

    return [summary(name, frame[frame["grp"] == name])
            for name in sorted(frame["grp"].unique())] + [summary("all", frame)]


def summarize_by(records: Iterable[ConversationRecord], key: str = "subject") -> list[Summary]:
    """One ``Summary`` per value of a record field (sorted), then one for all records."""
    records = list(records)
    groups: dict[str, list[ConversationRecord]] = defaultdict(list)
    for record in records:
        groups[str(getattr(record, key))].append(record)
    return [summarize(name, groups[name]) for name in sorted(groups)] + [summarize("all", records)]
