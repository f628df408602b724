"""Ablation grids: the full factorial of a grid's factors, run into one store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from langgraph.types import RetryPolicy
from pydantic import ValidationError

from chatbench._yaml import format_validation_error
from chatbench.config import MODEL_FACTORS, AblationGrid, GraphSpec, load_graph_spec
from chatbench.errors import ConfigError
from chatbench.graphs.builder import DEFAULT_RETRY
from chatbench.questions import Question, load_questions
from chatbench.records import ConversationRecord
from chatbench.runner.batch import Executor, OnRecord, Variant, execute, plan_jobs
from chatbench.runner.build import build_models
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

    @property
    def planned(self) -> int:
        """Conversations in the run."""
        return len(self.questions) * len(self.variants) * self.grid.replicates


def grid_run_id(grid: AblationGrid) -> str:
    """A short hash of everything in the grid that shapes the results."""
    digest = hashlib.sha256(grid.model_dump_json().encode()).hexdigest()
    return f"ablate-{grid.name}-{digest[:8]}"


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
        ConfigError: A cell gives an invalid GraphSpec, or a name cannot be resolved.
    """
    base = load_graph_spec(grid.base)
    variants = []
    for cell in grid.cells():
        spec = _cell_spec(grid, base, cell)
        roles = {role: cell.get(role, getattr(grid, role)) for role in MODEL_FACTORS}
        models = build_models(spec, roles["user"], roles["assistant"], roles["judge"])
        variants.append(Variant.build(spec, models, factors=cell, retry=retry,
                                      call_timeout_s=call_timeout_s))
    questions = load_questions(grid.questions, subjects=grid.subjects, limit=grid.limit)
    return GridPlan(grid, grid_run_id(grid), questions, variants)


def run_grid(
    plan: GridPlan,
    out: str,
    *,
    concurrency: int = 8,
    executor: Executor = "thread",
    ray_address: str | None = None,
    processes: int | None = None,
    on_record: OnRecord | None = None,
) -> list[ConversationRecord]:
    """Run every cell x question x replicate into one store, each row tagged with its
    factor values (``record.factors``). Stored conversations are skipped (resume).

    Returns:
        Every record of the grid's run in the store.
    """
    grid = plan.grid
    jobs = plan_jobs(plan.questions, plan.variants, grid.replicates, grid.seed)
    with ResultStore(out) as store:
        store.write_run(plan.run_id, "ablate", grid.model_dump(mode="json"),
                        datetime.now(timezone.utc).isoformat())
        for _ in execute(jobs, run_id=plan.run_id, store=store, concurrency=concurrency,
                         executor=executor, ray_address=ray_address, processes=processes,
                         on_record=on_record):
            pass
        return list(store.records(plan.run_id))
