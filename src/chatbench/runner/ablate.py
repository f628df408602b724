"""Ablation grids: the full factorial of a grid's factors, run into one store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langgraph.types import RetryPolicy
from pydantic import ValidationError

from chatbench._yaml import format_validation_error
from chatbench.config import MODEL_FACTORS, AblationGrid, GraphSpec, load_graph_spec
from chatbench.data.questions import Question, load_questions
from chatbench.errors import ConfigError
from chatbench.graphs.builder import DEFAULT_RETRY
from chatbench.records import ConversationRecord
from chatbench.runner.batch import Executor, OnRecord, Variant, execute, plan_jobs
from chatbench.runner.build import absolute_grid, build_models
from chatbench.runner.identity import RunIdentity, claim_run, run_identity, warn_about
from chatbench.storage import ResultStore


def cell_name(grid: AblationGrid, cell: dict[str, Any]) -> str:
    """A variant's name: the grid's name and its factor values, e.g. ``cot[user_cot=true]``."""
    values = ",".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                      for k, v in cell.items())
    return f"{grid.name}[{values}]"


def _cell_spec(grid: AblationGrid, base: GraphSpec, cell: dict[str, Any]) -> GraphSpec:
    updates = {k: v for k, v in cell.items() if k not in MODEL_FACTORS}
    data = {**base.model_dump(), **updates, "name": cell_name(grid, cell)}
    try:
        return GraphSpec.model_validate(data)
    except ValidationError as exc:
        source = f"grid {grid.name!r}, cell {cell}"
        raise ConfigError(format_validation_error(source, exc)) from None


@dataclass(frozen=True)
class GridPlan:
    """An ablation grid resolved and checked."""

    grid: AblationGrid
    run_id: str
    questions: list[Question]
    variants: list[Variant]
    identity: RunIdentity
    """What determines the grid's results; a stored run with another is refused."""

    @property
    def planned(self) -> int:
        """Conversations in the run."""
        return len(self.questions) * len(self.variants) * self.grid.replicates

    def claim(self, store: ResultStore) -> list[str]:
        """Check the grid against what ``store`` holds under its run id, then record it
        there (grid and identity) for ``--resume``.

        Returns:
            Warnings to show (a run stored by an older chatbench).

        Raises:
            ConfigError: The store holds the run id with other settings.
        """
        names = {v.spec.name: v.models.names for v in self.variants}
        return claim_run(store, self.run_id, self.identity, names=names, kind="ablate",
                         config=self.grid.model_dump(mode="json"))


def grid_run_id(grid: AblationGrid, identity: RunIdentity) -> str:
    """The grid's run id: its name and a short hash of its identity (every cell's resolved
    spec, persona text and models, the questions' content, seed and replicates), so editing
    a file the grid reads gives a new run."""
    return f"ablate-{grid.name}-{identity.digest()[:8]}"


def plan_grid(
    grid: AblationGrid,
    *,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    call_timeout_s: float | None = None,
) -> GridPlan:
    """Resolve every cell of a grid into a variant, failing fast on a bad cell.

    Args:
        grid: The grid.
        retry: Retry policy of every variant's model-calling nodes.
        call_timeout_s: Longest wait for one model call.

    Raises:
        ConfigError: A cell gives an invalid GraphSpec, a name cannot be resolved, or a
            timing setting can only fail.
    """
    grid = absolute_grid(grid)
    base = load_graph_spec(grid.base)
    variants = []
    for cell in grid.cells():
        spec = _cell_spec(grid, base, cell)
        roles = {role: cell.get(role, getattr(grid, role)) for role in MODEL_FACTORS}
        models = build_models(spec, roles["user"], roles["assistant"], roles["judge"])
        variants.append(Variant.build(spec, models, factors=cell, retry=retry,
                                      call_timeout_s=call_timeout_s))
    questions = load_questions(grid.questions, subjects=grid.subjects, limit=grid.limit)
    identity = run_identity([v.identity() for v in variants], questions, grid.seed,
                            grid.replicates)
    return GridPlan(grid, grid_run_id(grid, identity), questions, variants, identity)


def run_grid(
    plan: GridPlan,
    out: str,
    *,
    concurrency: int = 8,
    executor: Executor = "thread",
    ray_address: str | None = None,
    processes: int | None = None,
    on_record: OnRecord | None = None,
    retry_failed: bool = True,
) -> list[ConversationRecord]:
    """Run every cell x question x replicate into one store, each row tagged with its
    factor values (``record.factors``). Stored conversations are skipped (resume), except
    failed ones, which run again (their rows replaced) unless ``retry_failed`` is False.

    Returns:
        Every record of the grid's run in the store.

    Raises:
        ConfigError: The store holds the grid's run id with other settings.
    """
    run_grid_to_store(plan, out, concurrency=concurrency, executor=executor,
                      ray_address=ray_address, processes=processes, on_record=on_record,
                      retry_failed=retry_failed)
    with ResultStore(out, read_only=True) as store:
        return list(store.records(plan.run_id))


def run_grid_to_store(
    plan: GridPlan,
    out: str,
    *,
    concurrency: int = 8,
    executor: Executor = "thread",
    ray_address: str | None = None,
    processes: int | None = None,
    on_record: OnRecord | None = None,
    retry_failed: bool = True,
) -> None:
    """``run_grid``, keeping no record in memory: for grids of any size (the CLI
    summarises the store in SQL afterwards, ``ResultStore.summarize``).

    Raises:
        ConfigError: As ``run_grid``.
    """
    grid = plan.grid
    jobs = plan_jobs(plan.questions, plan.variants, grid.replicates, grid.seed)
    with ResultStore(out) as store:
        warn_about(plan.claim(store))
        for _ in execute(jobs, run_id=plan.run_id, store=store, concurrency=concurrency,
                         executor=executor, ray_address=ray_address, processes=processes,
                         on_record=on_record, retry_failed=retry_failed):
            pass
