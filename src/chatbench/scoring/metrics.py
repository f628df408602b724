"""Metrics: pure functions over conversation records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatbench.records import ConversationRecord
from chatbench.state import StopReason


@dataclass(frozen=True)
class Summary:
    """Accuracy and conversation shape of a group of records.

    Failed conversations (stop reason ``error``) are counted, never scored. Accuracy comes in
    the paper's two conventions: over answered conversations (no answer left out, as the
    authors' code does) and over all scored ones (no answer counts as wrong).
    """

    group: str
    conversations: int
    errors: int
    answered: int
    correct: int
    mean_turns: float | None
    mean_seconds: float | None

    @property
    def scored(self) -> int:
        """Conversations that reached the judge."""
        return self.conversations - self.errors

    @property
    def accuracy(self) -> float | None:
        """Correct over answered; None when nothing was answered."""
        return self.correct / self.answered if self.answered else None

    @property
    def accuracy_all(self) -> float | None:
        """Correct over scored, no answer counting as wrong; None when nothing was scored."""
        return self.correct / self.scored if self.scored else None

    @property
    def answered_share(self) -> float | None:
        """Answered over scored."""
        return self.answered / self.scored if self.scored else None


def summary_from_totals(
    group: str, conversations: int, errors: int, answered: int, correct: int,
    turns: float, seconds: float,
) -> Summary:
    """The ``Summary`` of a group from its counts and sums, however they were counted (in
    Python by ``summarize``, in SQL by ``ResultStore.summarize``).

    Args:
        group: The group's name.
        conversations: Conversations in the group.
        errors: Those that failed (stop reason ``error``).
        answered: Those not failed whose user answered.
        correct: Those answered correctly.
        turns: User turns summed over the conversations that did not fail.
        seconds: Wall time summed over all conversations.

    Returns:
        The ``Summary``; a mean over no conversations is None.

    Example:
        >>> summary_from_totals("all", 2, 1, 1, 1, 3, 5.0).mean_seconds
        2.5
    """
    scored = conversations - errors
    return Summary(
        group=group,
        conversations=conversations,
        errors=errors,
        answered=answered,
        correct=correct,
        mean_turns=turns / scored if scored else None,
        mean_seconds=seconds / conversations if conversations else None,
    )


def summarize(group: str, records: Sequence[ConversationRecord]) -> Summary:
    """The ``Summary`` of one group of records.

    Example:
        >>> summarize("all", []).accuracy is None
        True
    """
    scored = [r for r in records if r.stop_reason is not StopReason.ERROR]
    answered = [r for r in scored if r.answered]
    return summary_from_totals(
        group,
        conversations=len(records),
        errors=len(records) - len(scored),
        answered=len(answered),
        correct=sum(r.correct for r in answered),
        turns=sum(r.turns for r in scored),
        seconds=sum(r.seconds for r in records),
    )


def summarize_by(records: Iterable[ConversationRecord], key: str = "subject") -> list[Summary]:
    """One ``Summary`` per value of a record field (sorted), then one for all records."""
    records = list(records)
    groups: dict[str, list[ConversationRecord]] = defaultdict(list)
    for record in records:
        groups[str(getattr(record, key))].append(record)
    return [summarize(name, groups[name]) for name in sorted(groups)] + [summarize("all", records)]
