"""Batches of conversations: questions x replicates, stored as each one ends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from chatbench.config import GraphSpec, RunConfig
from chatbench.context import SimContext
from chatbench.graphs import build_graph
from chatbench.questions import Question, load_questions
from chatbench.records import ConversationRecord
from chatbench.runner.build import (
    ModelLike,
    Models,
    build_models,
    build_persona,
    build_spec,
    run_id_for,
)
from chatbench.runner.simulate import conversation_id, simulate
from chatbench.seeding import derive_seed
from chatbench.storage import ResultStore

OnRecord = Callable[[ConversationRecord], None]


def run_conversations(
    questions: Sequence[Question],
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicates: int = 1,
    run_id: str = "run",
    store: ResultStore | None = None,
    on_record: OnRecord | None = None,
) -> list[ConversationRecord]:
    """Run every question x replicate of one variant; store each record as it ends.

    Conversations already in ``store`` under the same id are skipped, so calling this
    again after an interruption finishes the run.

    Args:
        questions: The questions.
        spec: The variant.
        user: The simulator's model: a chat model or a model string (None for scripted), or
            all roles' models already resolved (``Models``).
        assistant: The assistant: a chat model or a model string.
        judge: Optional judge model for final messages the rules cannot read.
        seed: Run seed; each conversation's seed is derived from (seed, question, variant,
            replicate), so reruns with local models reproduce the same transcripts.
        replicates: Conversations per question.
        run_id: Name of the run in the store.
        store: Where records are written as they finish.
        on_record: Called with each new record (progress display).

    Returns:
        The records of the conversations run now (not those skipped).

    Example:
        >>> records = run_conversations(load_questions(limit=1), GraphSpec(),
        ...     user="fake:say:Answer: A", assistant="fake:echo")
        >>> records[0].stop_reason.value
        'accepted'
    """
    models = user if isinstance(user, Models) else build_models(spec, user, assistant, judge)
    persona = build_persona(spec)
    graph = build_graph(spec)
    done = store.ids(run_id) if store is not None else set()
    records = []
    for question in questions:
        for replicate in range(replicates):
            if conversation_id(run_id, spec.name, question.id, replicate) in done:
                continue
            context = SimContext(
                assistant=models.assistant,
                user=models.user,
                judge=models.judge,
                persona=persona,
                seed=derive_seed(seed, question.id, spec.name, replicate),
            )
            record = simulate(
                graph,
                question,
                context,
                spec,
                run_id=run_id,
                replicate=replicate,
                models=models.names,
            )
            if store is not None:
                store.write(record)
            if on_record is not None:
                on_record(record)
            records.append(record)
    return records


@dataclass(frozen=True)
class RunPlan:
    """A ``RunConfig`` resolved and checked: everything a run needs, before it starts."""

    config: RunConfig
    run_id: str
    spec: GraphSpec
    questions: list[Question]
    models: Models

    @property
    def planned(self) -> int:
        """Conversations in the run."""
        return len(self.questions) * self.config.replicates


def plan_run(config: RunConfig) -> RunPlan:
    """Resolve a config's names (questions, graph, persona, models), failing fast on mistakes.

    Raises:
        ConfigError: Bad questions, graph, persona or model names.
    """
    spec = build_spec(config)
    build_persona(spec)  # validate now, not at the first conversation
    questions = load_questions(config.questions, subjects=config.subjects, limit=config.limit)
    models = build_models(spec, config.user, config.assistant, config.judge)
    return RunPlan(config, run_id_for(config), spec, questions, models)


def run(
    config: RunConfig | RunPlan, *, on_record: OnRecord | None = None
) -> list[ConversationRecord]:
    """Run an evaluation described by a ``RunConfig`` (or its plan) into its store.

    Returns:
        Every record of the run in the store (earlier ones included, on a rerun).

    Raises:
        ConfigError: Bad questions, graph, persona or model names.
    """
    plan = config if isinstance(config, RunPlan) else plan_run(config)
    config = plan.config
    with ResultStore(config.out) as store:
        store.write_run(
            plan.run_id, config.model_dump(mode="json"), datetime.now(timezone.utc).isoformat()
        )
        run_conversations(
            plan.questions,
            plan.spec,
            user=plan.models,
            assistant=plan.models.assistant,
            seed=config.seed,
            replicates=config.replicates,
            run_id=plan.run_id,
            store=store,
            on_record=on_record,
        )
        return list(store.records(plan.run_id))
