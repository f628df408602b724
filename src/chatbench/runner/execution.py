"""``Execution``: how a run executes, as one frozen object built and checked once.

How many conversations run at once, on which executor, in how many worker processes or on
which Ray cluster, and whether failed conversations stored earlier run again: none of this
changes what a run computes (none of it is in a run's identity), and every entry point (the
CLI, ``run``, ``run_conversations``, ``arun_conversations``, grids, baselines) makes one
``Execution`` at its door and hands it down, so the default (``DEFAULT_CONCURRENCY``) and
the rules (``RunConfig``'s fields) are stated once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import TypeAdapter, ValidationError

from chatbench.config import DEFAULT_CONCURRENCY, RunConfig
from chatbench.errors import ConfigError
from chatbench.runner.executors import ExecutorName, make_executor
from chatbench.runner.pipeline import JobExecutor, OnRecord, RecordKind, execute

if TYPE_CHECKING:
    from chatbench.storage import ResultStore


def checked_arguments(**values: object) -> None:
    """Check Python arguments by the rules of the ``RunConfig`` fields of the same names
    (``seed``, ``replicates``, ``concurrency``, ...): the CLI's rules, at the door.

    Raises:
        ConfigError: A value breaks its field's rule; the message names the argument.
    """
    for name, value in values.items():
        field = RunConfig.model_fields[name]
        try:
            TypeAdapter(Annotated[field.annotation, field]).validate_python(value)
        except ValidationError as exc:
            raise ConfigError(f"argument {name!r}: {exc.errors()[0]['msg'].lower()}, got "
                              f"{value!r}") from None


@dataclass(frozen=True)
class Execution:
    """How a run executes (see the module).

    Raises:
        ConfigError: A value breaks the rule of its ``RunConfig`` field, named.

    Example:
        >>> Execution().concurrency, Execution(concurrency=2, executor="process").executor
        (8, 'process')
    """

    concurrency: int = DEFAULT_CONCURRENCY
    """Jobs run at once (in each worker process or Ray task with those executors); calls to
    a local model are batched across them."""
    executor: ExecutorName = "thread"
    """Threads in this process, worker processes on this machine, or Ray tasks."""
    processes: int | None = None
    """Worker processes of the process executor; None for one per CPU."""
    ray_address: str | None = None
    """Ray cluster address; None starts a local one."""
    retry_failed: bool = True
    """Run again the jobs stored as failed (their rows replaced); False keeps them."""

    def __post_init__(self) -> None:
        checked_arguments(concurrency=self.concurrency, executor=self.executor,
                          processes=self.processes, ray_address=self.ray_address,
                          retry_failed=self.retry_failed)

    @classmethod
    def of(cls, settings: Any) -> Execution:
        """The execution settings of a ``RunConfig`` (or anything with those fields)."""
        return cls(concurrency=settings.concurrency, executor=settings.executor,
                   processes=settings.processes, ray_address=settings.ray_address,
                   retry_failed=settings.retry_failed)

    def runner(self) -> JobExecutor:
        """The executor that runs the jobs (``executors.make_executor``)."""
        return make_executor(self.executor, concurrency=self.concurrency,
                             processes=self.processes, ray_address=self.ray_address)

    def run(self, jobs: Sequence[Any], *, run_id: str, store: ResultStore | None = None,
            on_record: OnRecord | None = None, kind: RecordKind[Any] | None = None
            ) -> Iterator[Any]:
        """``pipeline.execute`` of ``jobs`` on this executor, failed stored jobs run again as
        ``retry_failed`` says: records in finishing order, each stored before it is yielded.

        Raises:
            ConfigError: The executor cannot carry these jobs, before anything runs.
        """
        return execute(jobs, self.runner(), run_id=run_id, store=store, on_record=on_record,
                       retry_failed=self.retry_failed, kind=kind)
