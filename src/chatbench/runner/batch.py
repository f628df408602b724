"""The Python API of runs: ``run`` (a ``RunConfig``), ``run_conversations`` (questions and
models in hand), and the names older code imports from here."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chatbench._text import encodable, unicode_problem
from chatbench.config import GraphSpec, RunConfig
from chatbench.data.questions import Question, load_questions
from chatbench.data.rows import validated_row
from chatbench.data.scenario import Scenario, Task, scenario_list
from chatbench.errors import ConfigError
from chatbench.graphs.builder import graph_spec
from chatbench.records import ConversationRecord
from chatbench.runner.build import ModelLike, Models
from chatbench.runner.execution import DEFAULT_CONCURRENCY, Execution, checked_arguments
from chatbench.runner.executors import ExecutorName
from chatbench.runner.identity import claim_run, run_identity, warn_about
from chatbench.runner.pipeline import (
    Job,
    OnRecord,
    Recorder,
    execute_job,
    plan_jobs,
)
from chatbench.runner.plan import Plan, RunPlan, plan_run, run_plan
from chatbench.runner.recipe import Recipe, StoppingCondition, Variant, check_tasks
from chatbench.storage import ResultStore

Executor = ExecutorName
"""The executor names (``RunConfig.executor``)."""
PYTHON_ADVICE = "pass another run_id= (None gives an id made from the settings) or store="
"""How a Python caller avoids a run id the store holds with other settings."""

__all__ = [
    "DEFAULT_CONCURRENCY", "Execution", "Executor", "Job", "OnRecord", "Plan", "Recorder",
    "RunPlan", "Variant", "execute", "execute_job", "plan_conversations", "plan_jobs",
    "plan_run", "planned_conversations", "records_of", "run", "run_conversations",
    "run_scenarios", "run_to_store",
]


def execute(
    jobs: Sequence[Job],
    *,
    run_id: str,
    store: ResultStore | None = None,
    execution: Execution | None = None,
    on_record: OnRecord | None = None,
) -> Iterator[ConversationRecord]:
    """Run jobs as ``execution`` says (default ``Execution()``: threads in this process,
    ``DEFAULT_CONCURRENCY`` at a time), yielding records as they finish. Same resume and
    storage semantics on every executor: this process stores each record before it is
    yielded. Stored conversations are skipped, except failed ones, which run again (their
    rows replaced) unless ``execution.retry_failed`` is False."""
    return (execution or Execution()).run(list(jobs), run_id=run_id, store=store,
                                          on_record=on_record)


def run_conversations(
    questions: Sequence[Question] | str | os.PathLike[str],
    spec: GraphSpec | str | None = None,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicates: int = 1,
    run_id: str | None = None,
    store: ResultStore | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_record: OnRecord | None = None,
    executor: ExecutorName = "thread",
    processes: int | None = None,
    retry_failed: bool = True,
    stopping_condition: StoppingCondition | None = None,
) -> list[ConversationRecord]:
    """Run every question x replicate of one variant; store each record as it ends.

    Conversations already in ``store`` under the same id are skipped, so calling this
    again after an interruption finishes the run; failed ones run again (``retry_failed``).
    The store keeps the run's identity (``chatbench.runner.identity``): calling this with
    a ``run_id`` the store holds for other questions, spec, persona or models is refused.

    Args:
        questions: The questions: ``Question`` objects, dicts of their fields, or a
            questions file's path (``load_questions``).
        spec: The variant: a ``GraphSpec``, a preset name (``"quick"``) or a YAML path;
            None (the default) is ``GraphSpec()``, the paper's ``two_step`` protocol (the CLI's
            default graph is chatbench's ``quick`` variant, and its run's first line says so).
        user: The simulator's model: a chat model or a model string (None for scripted), or
            all roles' models already resolved (``Models``).
        assistant: The assistant: a chat model or a model string.
        judge: Optional judge model for final messages the rules cannot read.
        seed: Run seed; each conversation's seed is derived from (seed, question, variant,
            replicate), so reruns with local models reproduce the same transcripts.
        replicates: Conversations per question.
        run_id: Name of the run in the store; None (the default) gives the id ``chatbench
            run`` gives the same settings, ``run-<hash>`` of the run's identity (questions,
            variant, models, seed, replicates), so other settings never meet a stored run.
        store: Where records are written as they finish.
        concurrency: Conversations run at once (local models batch their calls), 8 by
            default as in the CLI; with the process or Ray executor, in each worker process
            or task. A model object that keeps state between calls (a scripted fake) is
            shared by the conversations running at once: pass 1 for it.
        on_record: Called with each new record (progress display).
        executor: ``"thread"`` (this process), ``"process"`` (worker processes: for fake
            and API models given as strings or picklable objects) or ``"ray"``.
        processes: Worker processes of the process executor; None for one per CPU.
        retry_failed: Run again conversations stored as failed (stop reason ``error``),
            replacing their rows; False skips them like any stored conversation.
        stopping_condition: Scenarios only: a function of the conversation state, called
            after every user and assistant turn; true ends the conversation (stop reason
            ``stopped``). Part of the run's identity by its module and name.

    Returns:
        Every conversation's record, in plan order (question by question, replicate by
        replicate): those run now, and, on a rerun into the same store, those it held and
        skipped. ``record.run_id`` is the run's id.

    Raises:
        ConfigError: An argument of the wrong type or out of range (``RunConfig``'s rules,
            named by argument), bad models, or ``run_id`` is stored in ``store`` with other
            settings.

    Example:
        >>> records = run_conversations(load_questions(limit=1), GraphSpec(),
        ...     user="fake:say:Answer: A", assistant="fake:echo")
        >>> records[0].stop_reason.value
        'accepted'
    """
    execution = Execution(concurrency=concurrency, executor=executor, processes=processes,
                          retry_failed=retry_failed)
    run_id, jobs = planned_conversations(questions, spec, user=user, assistant=assistant,
                                         judge=judge, seed=seed, replicates=replicates,
                                         run_id=run_id, store=store,
                                         stopping_condition=stopping_condition)
    fresh = list(execute(jobs, run_id=run_id, store=store, execution=execution,
                         on_record=on_record))
    return records_of(jobs, run_id, fresh, store)


def run_scenarios(
    scenarios: Sequence[Scenario] | str | os.PathLike[str],
    spec: GraphSpec | str | None = None,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike,
    stopping_condition: StoppingCondition | None = None,
    **options: Any,
) -> list[ConversationRecord]:
    """``run_conversations`` on open-ended scenarios: every scenario x replicate of one
    variant, on the scenario graph, each record with its criteria and ``success``.

    Args:
        scenarios: ``Scenario`` objects, dicts of their fields, or a scenario file's path
            (``.jsonl``, ``.yaml``: ``load_scenarios``).
        spec: The variant (persona, ``user_cot``, ``max_turns``, rubrics...), as for questions.
        user: The simulator's model.
        assistant: The assistant or app under evaluation.
        judge: The model that decides each success criterion.
        stopping_condition: A function of the state that ends a conversation when true.
        **options: Any other argument of ``run_conversations`` (``seed``, ``replicates``,
            ``store``, ``run_id``, ``concurrency``, ``executor``...).

    Raises:
        ConfigError: As ``run_conversations``; a bad scenario is named by item or file line.

    Example:
        >>> from chatbench.data.scenario import Scenario
        >>> s = Scenario(id="hi", description="You want a greeting.", criteria=["It greets."])
        >>> [r.stop_reason.value for r in run_scenarios([s], "quick",
        ...     user="fake:say:Thanks [GOAL MET]", assistant="fake:echo", judge="fake:say:PASS")]
        ['goal_met']
    """
    return run_conversations(scenario_list(scenarios), spec, user=user, assistant=assistant,
                             judge=judge, stopping_condition=stopping_condition, **options)


def records_of(jobs: Sequence[Job], run_id: str, fresh: Iterable[ConversationRecord],
               store: ResultStore | None) -> list[ConversationRecord]:
    """The jobs' records in plan order: ``fresh`` ones (just run), else the store's."""
    by_id = {record.id: record for record in fresh}
    missing = [job for job in jobs if job.id(run_id) not in by_id]
    if missing and store is not None:
        wanted = {job.id(run_id) for job in missing}
        by_id.update((r.id, r) for r in store.records(run_id) if r.id in wanted)
    return [by_id[job.id(run_id)] for job in jobs if job.id(run_id) in by_id]


def plan_conversations(
    questions: Sequence[Question],
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicates: int = 1,
    run_id: str | None = None,
    store: ResultStore | None = None,
) -> list[Job]:
    """The jobs ``run_conversations`` runs, its models checked and, with a ``store``, the
    run's identity claimed in it (``planned_conversations`` without the run id).

    Returns:
        One job per question x replicate, each with its derived seed.

    Raises:
        ConfigError: Bad models, or ``run_id`` is stored in ``store`` with other settings.
    """
    return planned_conversations(questions, spec, user=user, assistant=assistant, judge=judge,
                                 seed=seed, replicates=replicates, run_id=run_id,
                                 store=store)[1]


def question_list(questions: object) -> list[Task]:
    """The questions of a Python call: ``Question`` objects, dicts of their fields, or a
    questions file's path (``load_questions``); ``Scenario`` objects among them are kept
    (their conversations run on the scenario graph).

    Raises:
        ConfigError: Anything else, or an item that is no valid question (named by index).
    """
    if isinstance(questions, (str, os.PathLike)):
        return load_questions(questions)
    if isinstance(questions, (bytes, Mapping)) or not isinstance(questions, Iterable):
        raise ConfigError(f"argument 'questions': expected Question objects or a questions "
                          f"file's path, got {type(questions).__name__}")
    out: list[Task] = []
    for index, item in enumerate(questions):
        if isinstance(item, (Question, Scenario)):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(validated_row(Question, f"argument 'questions', item {index}",
                                     dict(item)))
        else:
            raise ConfigError(f"argument 'questions', item {index}: expected a Question, got "
                              f"{type(item).__name__}")
    return out


def planned_conversations(
    questions: Sequence[Question] | str | os.PathLike[str],
    spec: GraphSpec | str | None = None,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicates: int = 1,
    run_id: str | None = None,
    store: ResultStore | None = None,
    stopping_condition: StoppingCondition | None = None,
) -> tuple[str, list[Job]]:
    """The run id and the jobs of ``run_conversations`` (and ``arun_conversations``).

    The run id is ``run_id``, or, for None, ``run-<hash>`` of the run's identity, as
    ``chatbench run`` names a run with the same settings (``runner.build.run_id_for``).

    Raises:
        ConfigError: Bad models, or ``run_id`` is stored in ``store`` with other settings
            (the message names the Python arguments to change).
    """
    checked_arguments(seed=seed, replicates=replicates)
    if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
        raise ConfigError(f"argument 'run_id': expected a non-empty text or None, got "
                          f"{run_id!r}")
    if run_id is not None and unicode_problem(run_id):
        raise ConfigError(f"argument 'run_id': {encodable(run_id)!r} {unicode_problem(run_id)}")
    if store is not None and not isinstance(store, ResultStore):
        raise ConfigError(f"argument 'store': expected an open ResultStore (with "
                          f"ResultStore(path) as store: ...), got {type(store).__name__}")
    questions, spec = question_list(questions), graph_spec(spec)
    if isinstance(user, Models):
        recipe = Variant.build(spec, user, stopping_condition=stopping_condition).recipe
    else:
        recipe = Recipe.plan(spec, user, assistant, judge, stopping_condition=stopping_condition)
    check_tasks(recipe, questions)
    identity = run_identity([recipe.identity()], questions, seed, replicates)
    run_id = run_id if run_id is not None else f"run-{identity.digest()[:10]}"
    if store is not None:
        warn_about(claim_run(store, run_id, identity, names={spec.name: recipe.names},
                             advice=PYTHON_ADVICE, questions=questions))
    return run_id, plan_jobs(questions, [recipe], replicates, seed)


def run(
    config: RunConfig | Plan, *, on_record: OnRecord | None = None
) -> list[ConversationRecord]:
    """Run an evaluation described by a ``RunConfig`` (or its plan) into its store.

    Stored conversations are skipped, except failed ones, which run again unless
    ``config.retry_failed`` is False.

    Returns:
        Every record of the run in the store (earlier ones included, on a rerun).

    Raises:
        ConfigError: Bad questions, graph, persona or model names, or the store holds the
            run id with other settings (edited files, other models...).
    """
    plan = run_to_store(config, on_record=on_record)
    with ResultStore(plan.config.out, read_only=True) as store:
        return list(store.records(plan.run_id))


def run_to_store(config: RunConfig | Plan, *, on_record: OnRecord | None = None) -> Plan:
    """``run``, keeping no record in memory: for runs of any size (the CLI summarises the
    store in SQL afterwards, ``metrics.summarize_store``).

    Returns:
        The run's plan (its ``run_id``, and ``config.out``, the store).

    Raises:
        ConfigError: As ``run``.
    """
    plan = config if isinstance(config, Plan) else plan_run(config)
    config = plan.config
    run_plan(plan, config.out, Execution.of(config), on_record=on_record)
    return plan

