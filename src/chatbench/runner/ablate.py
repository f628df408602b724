"""Ablation grids: the full factorial of a grid's factors, run into one store.

Planning lives in ``runner.plan`` (a grid is the general plan; a plain run is a grid of
one); this module runs a grid's plan.
"""

from __future__ import annotations

from pathlib import Path

from chatbench.config import DEFAULT_CONCURRENCY
from chatbench.records import ConversationRecord
from chatbench.runner.execution import Execution
from chatbench.runner.executors import ExecutorName
from chatbench.runner.pipeline import OnRecord
from chatbench.runner.plan import GridPlan, Plan, cell_name, grid_run_id, plan_grid, run_plan
from chatbench.storage import ResultStore

__all__ = ["GridPlan", "cell_name", "grid_run_id", "plan_grid", "run_grid", "run_grid_to_store"]


def run_grid(
    plan: Plan,
    out: str | Path,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    executor: ExecutorName = "thread",
    ray_address: str | None = None,
    processes: int | None = None,
    on_record: OnRecord | None = None,
    retry_failed: bool = True,
) -> list[ConversationRecord]:
    """Run every cell x question x replicate into one store, each row tagged with its
    factor values (``record.factors``). Stored conversations are skipped (resume), except
    failed ones, which run again (their rows replaced) unless ``retry_failed`` is False.
    The execution keywords are ``Execution``'s.

    Returns:
        Every record of the grid's run in the store.

    Raises:
        ConfigError: A bad execution setting, or the store holds the grid's run id with
            other settings.
    """
    execution = Execution(concurrency=concurrency, executor=executor, ray_address=ray_address,
                          processes=processes, retry_failed=retry_failed)
    run_grid_to_store(plan, out, execution, on_record=on_record)
    with ResultStore(out, read_only=True) as store:
        return list(store.records(plan.run_id))


def run_grid_to_store(
    plan: Plan,
    out: str | Path,
    execution: Execution | None = None,
    *,
    on_record: OnRecord | None = None,
) -> None:
    """``run_grid`` as ``execution`` says, keeping no record in memory: for grids of any
    size (the CLI summarises the store in SQL afterwards, ``metrics.summarize_store``).

    Raises:
        ConfigError: As ``run_grid``.
    """
    run_plan(plan, out, execution, on_record=on_record)
