"""``ResultStore``: a store's tables together, opened as a context manager."""

from __future__ import annotations

from types import TracebackType

from chatbench.storage.baselines import BaselineTable
from chatbench.storage.conversations import ConversationTable
from chatbench.storage.questions import QuestionTable
from chatbench.storage.runs import RunTable
from chatbench.storage.samples import SampleTable


class ResultStore(ConversationTable, RunTable, BaselineTable, SampleTable, QuestionTable):
    """A SQLite file of conversation records.

    Example:
        >>> with ResultStore("results.sqlite") as store:  # doctest: +SKIP
        ...     store.write(record)
    """

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
