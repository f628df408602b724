"""Planning and running a baseline run: kinds x questions x replicates, as pipeline jobs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import cast

from chatbench._text import encodable, unicode_problem
from chatbench.baselines.identity import (
    BaselineIdentity,
    baseline_identity,
    claim_baselines,
    default_run_id,
)
from chatbench.baselines.jobs import (
    BASELINES,
    BaselineJob,
    BaselineSetup,
    ModelArg,
    OnBaseline,
    kind_settings,
    make_setup,
)
from chatbench.baselines.prompts import BASELINE_KINDS, PAPER_KINDS, BaselineKind
from chatbench.config import DEFAULT_CONCURRENCY, MAX_REPLICATES, MAX_SEED, RoleSettings
from chatbench.data.questions import SUBJECTS, Question, load_few_shot
from chatbench.errors import ConfigError
from chatbench.records import BaselineRecord
from chatbench.runner.build import check_timing
from chatbench.runner.execution import Execution, checked_arguments
from chatbench.runner.identity import warn_about
from chatbench.seeding import derive_seed
from chatbench.storage import ResultStore

__all__ = ["BaselinePlan", "check_execution", "check_kinds", "few_shot_examples",
           "kind_settings", "plan_baseline_run", "plan_baselines", "run_baselines", "run_jobs"]


def check_kinds(kinds: Iterable[str]) -> tuple[BaselineKind, ...]:
    """Validate baseline kind names, dropping repeats.

    Raises:
        ConfigError: A kind is unknown, or there is none.
    """
    wanted = list(dict.fromkeys(kind.strip() for kind in kinds if kind.strip()))
    unknown = [kind for kind in wanted if kind not in BASELINE_KINDS]
    if unknown or not wanted:
        got = ", ".join(map(repr, unknown)) if unknown else "none"
        raise ConfigError(f"unknown baseline kind(s) {got}; known: {', '.join(BASELINE_KINDS)}")
    return cast("tuple[BaselineKind, ...]", tuple(wanted))  # checked just above


def few_shot_examples(questions: Sequence[Question]) -> dict[str, tuple[Question, ...]]:
    """The bundled MMLU dev examples of each subject among ``questions``.

    Raises:
        ConfigError: A subject has no bundled dev examples (the message names it).
    """
    examples: dict[str, tuple[Question, ...]] = {}
    for question in questions:
        if question.subject in examples:
            continue
        if question.subject not in SUBJECTS:
            raise ConfigError(
                f"letter_few_shot: no bundled MMLU dev examples for subject "
                f"{question.subject!r} (question {question.id!r}); they exist for "
                f"{', '.join(SUBJECTS)}. Leave letter_few_shot out of the kinds."
            )
        examples[question.subject] = tuple(load_few_shot(question.subject))
    return examples


def plan_baselines(
    questions: Sequence[Question], kinds: Sequence[str], replicates: int, seed: int
) -> list[BaselineJob]:
    """Every kind x question x replicate, each with seed ``derive_seed(seed, kind, id, r)``.

    Raises:
        ConfigError: A kind is unknown, ``replicates`` is not 1 to ``MAX_REPLICATES``, the
            seed not 0 to ``MAX_SEED``, or few-shot examples are missing for a subject.
    """
    checked = check_kinds(kinds)
    if not 1 <= replicates <= MAX_REPLICATES:
        raise ConfigError(f"replicates must be 1 to {MAX_REPLICATES}, got {replicates}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    examples = few_shot_examples(questions) if "letter_few_shot" in checked else {}
    return [
        BaselineJob(kind, q, r, derive_seed(seed, kind, q.id, r),
                    examples.get(q.subject, ()) if kind == "letter_few_shot" else ())
        for kind in checked
        for q in questions
        for r in range(replicates)
    ]


def run_jobs(
    jobs: Iterable[BaselineJob],
    setup: BaselineSetup,
    *,
    store: ResultStore | None = None,
    execution: Execution | None = None,
    on_record: OnBaseline | None = None,
) -> Iterator[BaselineRecord]:
    """Run jobs not yet stored as ``execution`` says (default ``Execution()``), yielding
    records as they finish; each is stored before it is yielded.

    Answers stored as failed (``error`` set) are asked again, their rows replaced, unless
    ``execution.retry_failed`` is False. Concurrent calls to one local model are batched by
    its engine.
    """
    planned = [job if job.recipe is setup else replace(job, recipe=setup) for job in jobs]
    return (execution or Execution()).run(planned, run_id=setup.run_id, store=store,
                                          on_record=on_record, kind=BASELINES)


@dataclass(frozen=True)
class BaselinePlan:
    """A baseline run resolved and checked: everything it needs, before anything is asked."""

    jobs: list[BaselineJob]
    setup: BaselineSetup
    identity: BaselineIdentity
    """What determines the run's answers; a stored run with another is refused."""

    @property
    def run_id(self) -> str:
        """The run's id in the store."""
        return self.setup.run_id

    def claim(self, store: ResultStore) -> list[str]:
        """Check the run against what ``store`` holds under its id, then record its identity.

        Returns:
            Warnings to show (a run stored by an older chatbench).

        Raises:
            ConfigError: The store holds the run id with other settings.
        """
        return claim_baselines(store, self.run_id, self.identity, self.setup.assistant_name)

    def stored(self, store: ResultStore) -> tuple[int, int]:
        """How many of the planned answers ``store`` holds, and how many of those failed."""
        planned = {encodable(job.id(self.run_id)) for job in self.jobs}
        return (len(store.baseline_ids(self.run_id) & planned),
                len(store.failed_baseline_ids(self.run_id) & planned))


def plan_baseline_run(
    questions: Sequence[Question],
    assistant: ModelArg,
    *,
    kinds: Sequence[str] = PAPER_KINDS,
    grader: ModelArg | None = None,
    replicates: int = 1,
    seed: int = 0,
    run_id: str | None = None,
    settings: RoleSettings | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_attempts: int = 3,
    retry_wait_s: float = 1.0,
) -> BaselinePlan:
    """Resolve and check a baseline run (``run_baselines``' arguments) before it starts.

    Args:
        run_id: The run's id; None gives ``baseline-`` and a hash of the run's identity
            (the questions' content, kinds, settings, models, seed, replicates, protocol).

    Returns:
        The plan: jobs, shared setup and the run's identity.

    Raises:
        ConfigError: An unknown kind or model, ``replicates``, ``concurrency`` or
            ``max_attempts`` below 1, a retry wait that is not 0 to a day, or no few-shot
            examples for a subject.
    """
    check_execution(concurrency, max_attempts, retry_wait_s)
    if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
        raise ConfigError(f"run_id must be a non-empty text or None, got {run_id!r}")
    if run_id is not None and unicode_problem(run_id):
        raise ConfigError(f"run_id {encodable(run_id)!r} {unicode_problem(run_id)}")
    checked = check_kinds(kinds)
    jobs = plan_baselines(questions, checked, replicates, seed)
    identity = baseline_identity(questions, checked, assistant, grader, kind_settings(settings),
                                 seed, replicates)
    setup = make_setup(run_id or default_run_id(identity), assistant, grader, settings,
                       max_attempts, retry_wait_s)
    return BaselinePlan([replace(job, recipe=setup) for job in jobs], setup, identity)


def run_baselines(
    questions: Sequence[Question],
    assistant: ModelArg,
    *,
    kinds: Sequence[str] = PAPER_KINDS,
    grader: ModelArg | None = None,
    replicates: int = 1,
    seed: int = 0,
    run_id: str | None = "baseline",
    store: ResultStore | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_record: OnBaseline | None = None,
    settings: RoleSettings | None = None,
    max_attempts: int = 3,
    retry_wait_s: float = 1.0,
    retry_failed: bool = True,
) -> list[BaselineRecord]:
    """Ask every question AI-alone, for each kind and replicate; store each answer as it ends.

    Answers already in ``store`` under the same id are skipped, so calling this again after
    an interruption finishes the run; failed ones are asked again (``retry_failed``). A
    model call that still fails after its retries is stored with ``error`` set (and left
    unscored); it is never raised. The store keeps the run's identity
    (``chatbench.baselines.identity``): a ``run_id`` it holds for other questions, kinds,
    settings or models is refused.

    Args:
        questions: The questions.
        assistant: The model under evaluation: a chat model or a model string.
        kinds: Baseline kinds to run (the paper's three, ``PAPER_KINDS``, by default).
        grader: The model (object or string) that grades free-text replies with the paper's
            prompt (the paper: GPT-4o). ``free_text`` asks the assistant itself when it is
            None; ``free_text_rules`` asks it only when the rules find no letter.
        replicates: Answers per question and kind.
        seed: Run seed; each call's seed is ``derive_seed(seed, kind, question id, replicate)``
            (only local models take it).
        run_id: Name of the run in the store; None for ``baseline-`` and a hash of the run's
            identity.
        store: Where records are written as they finish.
        concurrency: Questions asked at once (local models batch their calls), 8 by default
            as everywhere (``DEFAULT_CONCURRENCY``).
        on_record: Called with each new record (progress display).
        settings: The assistant's settings for every kind; None uses ``DEFAULT_SETTINGS``
            (the paper's).
        max_attempts: Tries per model call.
        retry_wait_s: Wait before the first retry; doubles each time (with jitter).
        retry_failed: Ask again the answers stored as failed (``error`` set), replacing
            their rows; False keeps them like any stored answer.

    Returns:
        The records made now (not those skipped), in plan order (kind, question,
        replicate) however they finished. A model object that keeps state between calls (a
        scripted fake) is shared by the questions asked at once: pass ``concurrency=1``.

    Raises:
        ConfigError: An unknown kind or model, ``replicates``, ``concurrency`` or
            ``max_attempts`` below 1, a retry wait that is not 0 to a day, no few-shot
            examples for a subject, or ``run_id`` is stored in ``store`` with other settings.

    Example:
        >>> from chatbench.data.questions import load_questions
        >>> records = run_baselines(load_questions(limit=1), "fake:say:B",
        ...                         kinds=["letter_zero_shot"])
        >>> records[0].choice, records[0].valid
        ('B', True)
    """
    plan = plan_baseline_run(
        questions, assistant, kinds=kinds, grader=grader, replicates=replicates, seed=seed,
        run_id=run_id, settings=settings, concurrency=concurrency, max_attempts=max_attempts,
        retry_wait_s=retry_wait_s)
    if store is not None:
        warn_about(plan.claim(store))
    execution = Execution(concurrency=concurrency, retry_failed=retry_failed)
    fresh = list(run_jobs(plan.jobs, plan.setup, store=store, execution=execution,
                          on_record=on_record))
    place = {}
    for index, job in enumerate(plan.jobs):
        job_id = job.id(plan.setup.run_id)
        place[job_id] = place[encodable(job_id)] = index  # as run, or as a worker sent it
    return sorted(fresh, key=lambda r: place.get(r.id, len(place)))  # plan order


def check_execution(concurrency: int, max_attempts: int, retry_wait_s: float) -> None:
    """Check the execution settings (the retry wait as ``chatbench run`` checks it).

    Raises:
        ConfigError: ``concurrency`` or ``max_attempts`` is below 1, or ``retry_wait_s`` is
            not 0 to a day (NaN and infinity included).
    """
    checked_arguments(concurrency=concurrency)
    if max_attempts < 1:
        raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
    check_timing(None, retry_wait_s)
