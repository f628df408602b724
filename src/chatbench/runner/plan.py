"""Plans: a run is a grid of variants (one, for a plain run) x questions x replicates.

``plan_run`` (a ``RunConfig``) and ``plan_grid`` (an ``AblationGrid``) both give a ``Plan``:
the variants as ``Recipe`` s (checked, nothing loaded), the questions, and the run's identity.
``run_plan`` expands it into jobs and runs them on an executor into the store.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from langgraph.types import RetryPolicy
from pydantic import ValidationError

from chatbench._yaml import format_validation_error
from chatbench.config import (
    MODEL_FACTORS,
    AblationGrid,
    GraphSpec,
    RunConfig,
    factor_label,
    load_graph_spec,
)
from chatbench.data.questions import load_questions
from chatbench.data.scenario import Task, load_scenarios
from chatbench.errors import ConfigError
from chatbench.graphs.builder import DEFAULT_RETRY, check_names, retry_policy
from chatbench.runner.build import absolute_config, absolute_grid, build_spec, run_id_for
from chatbench.runner.execution import Execution
from chatbench.runner.identity import RunIdentity, claim_run, run_identity, warn_about
from chatbench.runner.pipeline import Job, OnRecord, plan_jobs
from chatbench.runner.recipe import Recipe, check_tasks, longest_call
from chatbench.storage import ResultStore


@dataclass(frozen=True)
class Plan:
    """A run resolved and checked, before it starts: its variants, questions and identity."""

    kind: Literal["run", "ablate"]
    config: Any
    """The ``RunConfig`` (paths made absolute) or the ``AblationGrid``."""
    run_id: str
    questions: list[Task]
    """What the run poses: multiple-choice questions, or scenarios."""
    variants: list[Recipe]
    seed: int
    replicates: int
    identity: RunIdentity
    """What determines the run's results; a stored run with another is refused."""

    @property
    def planned(self) -> int:
        """Jobs (conversations) in the run."""
        return len(self.questions) * len(self.variants) * self.replicates

    @property
    def spec(self) -> GraphSpec:
        """The graph spec of a plain run (its only variant)."""
        return self.variants[0].spec

    @property
    def grid(self) -> AblationGrid:
        """The grid of an ablation."""
        return self.config  # type: ignore[no-any-return]  # an AblationGrid for ablations

    def jobs(self) -> list[Job]:
        """Every variant x question x replicate, each with its derived seed."""
        return plan_jobs(self.questions, self.variants, self.replicates, self.seed)

    def claim(self, store: ResultStore) -> list[str]:
        """Check the run against what ``store`` holds under its id, then record it there
        (config and identity, for ``--resume``; its questions, for ``chatbench show``).

        Returns:
            Warnings to show (a run stored by an older chatbench).

        Raises:
            ConfigError: The store holds the run id with other settings.
        """
        names = {recipe.spec.name: recipe.names for recipe in self.variants}
        return claim_run(store, self.run_id, self.identity, names=names, kind=self.kind,
                         config=self.config.model_dump(mode="json"), questions=self.questions)


RunPlan = Plan
GridPlan = Plan
"""The plan of a plain run and of an ablation are one type (a plain run is a grid of one)."""


def plan_run(config: RunConfig) -> Plan:
    """Resolve a config's names (questions, graph, persona, models), failing fast on mistakes
    without loading any local model.

    The plan's config has absolute paths (a resume from another directory reads the same
    files); its run id, unless given, is a hash of the run's identity: what the files
    hold, not their names.

    Raises:
        ConfigError: Bad questions, graph, persona or model names, or timing settings that
            can only fail.
    """
    config = absolute_config(config)
    spec = build_spec(config)
    recipe = Recipe.plan(spec, config.user, config.assistant, config.judge,
                         retry=retry_policy(config.max_attempts, config.retry_wait_s),
                         call_timeout_s=config.call_timeout_s)
    questions = load_tasks(config)
    check_tasks(recipe, questions)
    identity = run_identity([recipe.identity()], questions, config.seed, config.replicates)
    return Plan("run", config, run_id_for(config, identity.digest()), questions, [recipe],
                config.seed, config.replicates, identity)


def load_tasks(config: RunConfig | AblationGrid) -> list[Task]:
    """What a config poses: its scenario file's scenarios (the first ``limit``), else its
    questions (``limit`` of them, round-robin over subjects).

    Raises:
        ConfigError: A bad file, line or field.
    """
    if config.scenarios is not None:
        return list(load_scenarios(config.scenarios)[: config.limit])
    return list(load_questions(config.questions, subjects=config.subjects, limit=config.limit))


def cell_name(grid: AblationGrid, cell: dict[str, Any]) -> str:
    """A variant's name: the grid's name and its factor values, e.g. ``cot[user_cot=true]``."""
    values = ",".join(f"{k}={factor_label(v)}" for k, v in cell.items())
    return f"{grid.name}[{values}]"


def _cell_spec(grid: AblationGrid, base: GraphSpec, cell: dict[str, Any]) -> GraphSpec:
    updates = {k: v for k, v in cell.items() if k not in MODEL_FACTORS}
    data = {**base.model_dump(), **updates, "name": cell_name(grid, cell)}
    source = f"grid {grid.name!r}, cell {cell}"
    try:
        spec = GraphSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, GraphSpec)) from None
    return check_names(spec, source)


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
) -> Plan:
    """Resolve every cell of a grid into a variant's recipe, failing fast on a bad cell
    without loading any local model.

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
    recipes = []
    for cell in grid.cells():
        spec = _cell_spec(grid, base, cell)
        roles = {role: cell.get(role, getattr(grid, role)) for role in MODEL_FACTORS}
        recipes.append(Recipe.plan(spec, roles["user"], roles["assistant"], roles["judge"],
                                   factors=cell, retry=retry, call_timeout_s=call_timeout_s))
    questions = load_tasks(grid)
    for recipe in recipes:
        check_tasks(recipe, questions)
    longest = max(longest_call(recipe.spec) for recipe in recipes)  # one model serves all
    recipes = [replace(recipe, call_tokens=longest) for recipe in recipes]
    identity = run_identity([r.identity() for r in recipes], questions, grid.seed,
                            grid.replicates)
    return Plan("ablate", grid, grid_run_id(grid, identity), questions, recipes, grid.seed,
                grid.replicates, identity)


@dataclass(frozen=True)
class ClaimedRun:
    """A plan claimed in its store (``claim_plan``), ready to run: what the store held for
    it, so a caller can say what will run before it does, and one claim per run."""

    plan: Plan
    out: Path
    execution: Execution
    notes: list[str]
    """Warnings from the claim (a run stored by an older chatbench)."""
    stored: frozenset[str]
    failed: frozenset[str]
    """Stored as failed: they run again when ``execution.retry_failed``."""
    lost: frozenset[str]
    """Stored rows no version can read: they always run again."""

    @property
    def rerun(self) -> frozenset[str]:
        """Stored conversations that run again: the unreadable ones, and the failed ones when
        ``execution.retry_failed`` (else those stay, even unreadable)."""
        if self.execution.retry_failed:
            return self.lost | self.failed
        return self.lost - self.failed

    @property
    def unreadable(self) -> int:
        """Stored rows that run again because none can read them (failed ones aside)."""
        return len(self.rerun - self.failed)

    @property
    def skipped(self) -> int:
        """Stored conversations the run keeps, as the executor will skip them."""
        return len(self.stored - self.rerun)

    def run(self, on_record: OnRecord | None = None) -> None:
        """Run every job not stored yet, each record stored as its job ends (keeping none in
        memory: for runs of any size).

        Raises:
            ConfigError: The executor cannot carry the jobs.
        """
        with ResultStore(self.out) as store:
            for _ in self.execution.run(self.plan.jobs(), run_id=self.plan.run_id, store=store,
                                        on_record=on_record):
                pass


def claim_plan(plan: Plan, out: str | Path, execution: Execution | None = None) -> ClaimedRun:
    """Claim ``plan`` in the store at ``out`` (created if missing; ``Plan.claim``) and read
    what it holds for the run: the one claim a run makes.

    Raises:
        ConfigError: The store cannot be written, or holds the run id with other settings.
    """
    with ResultStore(out) as store:
        notes = plan.claim(store)
        stored, failed = store.ids(plan.run_id), store.failed_ids(plan.run_id)
        lost = store.lost_ids(plan.run_id)
    return ClaimedRun(plan, Path(out), execution or Execution(), notes, frozenset(stored),
                      frozenset(failed), frozenset(lost))


def run_plan(
    plan: Plan,
    out: str | Path,
    execution: Execution | None = None,
    *,
    on_record: OnRecord | None = None,
) -> None:
    """Claim ``plan`` in the store at ``out`` and run every job not stored yet as
    ``execution`` says (default ``Execution()``), each record stored as its job ends.

    Raises:
        ConfigError: The store holds the run id with other settings, or the executor cannot
            carry the jobs.
    """
    claimed = claim_plan(plan, out, execution)
    warn_about(claimed.notes)
    claimed.run(on_record)
