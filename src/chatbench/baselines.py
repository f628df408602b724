"""AI-alone baselines: the assistant answers each question by itself, with no user.

The ChatBench paper compares every user-AI result with three AI-alone baselines, reproduced
from its code (prompts, settings and reading in ``chatbench.baseline_prompts``):

- ``letter_zero_shot``: HELM's letter-only prompt; the answer is the first character of the
  reply if it is one of the upper-case letters, else the reply is *invalid*;
- ``letter_few_shot``: the same with the subject's 5 bundled MMLU dev examples inline;
- ``free_text``: the question and options alone; a grader model (``grader``, by default the
  assistant itself; the paper used GPT-4o) returns JSON with the attempted answer, its value
  and its letter. No letter counts as wrong; a grader reply that is not JSON leaves the answer
  unscored (the paper drops it).

``free_text_rules`` is chatbench's own variant: the same free-text call, its letter read by
chatbench's rules, and the grader asked only when they find none and a grader was given.

Accuracy is reported both ways, as in the paper: invalid replies counted wrong, and invalid
replies dropped. Unscored answers (failed calls, unreadable grader replies) count in neither
and are reported separately. Records go to the same SQLite store as conversations (table
``baselines``), each committed as it finishes, so an interrupted run resumes where it stopped;
answers stored as failed are asked again. The store keeps each run's identity
(``chatbench.baseline_identity``), so a run id reused for other questions, kinds, settings or
models is refused rather than mixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from chatbench._concurrency import map_bounded
from chatbench._text import encodable
from chatbench.baseline_identity import (
    BaselineIdentity,
    baseline_identity,
    claim_baselines,
    default_run_id,
)
from chatbench.baseline_prompts import (
    BASELINE_KINDS,
    DEFAULT_SETTINGS,
    GRADER_SETTINGS,
    LETTER_KINDS,
    PAPER_KINDS,
    SYSTEM_PROMPT,
    BaselineKind,
    build_messages,
    grader_messages,
    grader_verdict,
    letter_only_choice,
    parse_grader_reply,
)
from chatbench.config import RoleSettings
from chatbench.data.questions import SUBJECTS, Question, load_few_shot
from chatbench.errors import ConfigError
from chatbench.models.base import Completion
from chatbench.models.invoke import invoke_chat
from chatbench.models.registry import get_chat_model
from chatbench.records import RULES, BaselineRecord
from chatbench.runner.build import check_timing, model_name
from chatbench.runner.identity import warn_about
from chatbench.scoring.choice import extract_choice
from chatbench.seeding import derive_seed
from chatbench.storage import ResultStore, UnstorableRecordError

__all__ = [
    "BASELINE_KINDS",
    "DEFAULT_SETTINGS",
    "GRADER_SETTINGS",
    "PAPER_KINDS",
    "SYSTEM_PROMPT",
    "BaselineJob",
    "BaselineKind",
    "BaselinePlan",
    "BaselineRecord",
    "build_messages",
    "check_kinds",
    "letter_only_choice",
    "plan_baseline_run",
    "plan_baselines",
    "run_baselines",
    "summarize_baselines",
]

ALL_SUBJECTS = "all"
"""``subject`` of a kind's overall row in ``summarize_baselines``."""

ModelArg = str | BaseChatModel
OnBaseline = Callable[["BaselineRecord"], None]


def baseline_id(run_id: str, kind: str, question_id: str, replicate: int) -> str:
    """The store key of one baseline answer."""
    return f"{run_id}/{kind}/{question_id}/{replicate}"


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineJob:
    """One planned baseline answer."""

    kind: BaselineKind
    question: Question
    replicate: int
    seed: int
    examples: tuple[Question, ...] = ()

    def id(self, run_id: str) -> str:
        """The answer's idempotent key in the store."""
        return baseline_id(run_id, self.kind, self.question.id, self.replicate)


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
        ConfigError: A kind is unknown, ``replicates`` is below 1, or few-shot examples are
            missing for a subject.
    """
    checked = check_kinds(kinds)
    if replicates < 1:
        raise ConfigError(f"replicates must be at least 1, got {replicates}")
    examples = few_shot_examples(questions) if "letter_few_shot" in checked else {}
    return [
        BaselineJob(kind, q, r, derive_seed(seed, kind, q.id, r),
                    examples.get(q.subject, ()) if kind == "letter_few_shot" else ())
        for kind in checked
        for q in questions
        for r in range(replicates)
    ]


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineSetup:
    """What every job of a run shares."""

    run_id: str
    assistant: BaseChatModel
    assistant_name: str
    grader: BaseChatModel | None
    """The grader given, if any."""
    grader_name: str
    settings: dict[BaselineKind, RoleSettings]
    max_attempts: int
    retry_wait_s: float

    def free_text_grader(self) -> tuple[BaseChatModel, str]:
        """``free_text``'s grader and its name: the one given, else the assistant itself."""
        if self.grader is not None:
            return self.grader, self.grader_name
        return self.assistant, self.assistant_name


@dataclass(frozen=True)
class _Reading:
    """How one reply was read."""

    choice: str | None
    valid: bool
    correct: bool
    scored: bool = True
    grader: str = RULES
    grader_reply: str | None = None
    grader_json: dict[str, Any] | None = None


def _call(
    setup: BaselineSetup,
    model: BaseChatModel,
    messages: list[BaseMessage],
    settings: RoleSettings,
    seed: int,
) -> Completion:
    """One model call, retried on transient failures with exponential backoff and jitter.

    Raises:
        Exception: The last failure, once the attempts are spent (or a non-transient one).
    """
    from chatbench.graphs.builder import transient_error  # the conversations' retry predicate

    retrying = Retrying(
        stop=stop_after_attempt(setup.max_attempts),
        wait=wait_exponential(multiplier=setup.retry_wait_s, max=60)
        + wait_random(0, setup.retry_wait_s),
        retry=retry_if_exception(transient_error),
        reraise=True,
    )
    return retrying(invoke_chat, model, messages, settings, seed=seed)


def _grader_for(setup: BaselineSetup, kind: BaselineKind) -> str:
    """The name a record of ``kind`` gives its grader before any call (``RULES``: none)."""
    if kind == "free_text":
        return setup.free_text_grader()[1]
    return setup.grader_name if kind == "free_text_rules" else RULES


def _ask_grader(setup: BaselineSetup, job: BaselineJob, reply: str) -> _Reading:
    """The paper's grader on a free-text reply: JSON with the attempted answer, value, letter.

    ``free_text`` as in the paper: a graded reply is valid, right only with the right
    ``answer_letter``, unscored when the grader's reply is not JSON. ``free_text_rules``: valid
    only with a letter.
    """
    model, name = setup.free_text_grader()
    messages = grader_messages(job.question, reply)
    text = _call(setup, model, messages, GRADER_SETTINGS, derive_seed(job.seed, "grader")).text
    graded = parse_grader_reply(text)
    paper = job.kind == "free_text"
    if graded is None:
        return _Reading(None, valid=False, correct=False, scored=not paper, grader=name,
                        grader_reply=text)
    verdict = grader_verdict(graded, job.question)
    return _Reading(verdict.choice, valid=paper or verdict.choice is not None,
                    correct=verdict.correct, grader=name, grader_reply=text, grader_json=graded)


def _read(setup: BaselineSetup, job: BaselineJob, reply: str) -> _Reading:
    """Read the letter of a reply as the job's kind says (asking a grader where it must)."""
    question = job.question
    if job.kind in LETTER_KINDS:
        choice = letter_only_choice(reply, question.letters)
    elif job.kind == "free_text_rules":
        choice = extract_choice(reply, question.choices)
        if choice is None and setup.grader is not None:
            return _ask_grader(setup, job, reply)
    else:
        return _ask_grader(setup, job, reply)
    return _Reading(choice, valid=choice is not None, correct=choice == question.answer)


def _execute(job: BaselineJob, setup: BaselineSetup) -> BaselineRecord:
    """Ask one baseline question; a failure after the retries is recorded, never raised."""
    question = job.question
    messages = build_messages(job.kind, question, job.examples)
    fields: dict[str, Any] = {"reply": ""}
    reading = _Reading(None, valid=False, correct=False, scored=False,
                       grader=_grader_for(setup, job.kind))
    started = time.perf_counter()
    try:
        completion = _call(setup, setup.assistant, messages, setup.settings[job.kind], job.seed)
        fields.update(reply=completion.text, input_tokens=completion.input_tokens,
                      output_tokens=completion.output_tokens)
        reading = _read(setup, job, completion.text)
    except Exception as exc:  # any failure is stored with the record, as in conversations
        fields["error"] = f"{type(exc).__name__}: {exc}"
    return BaselineRecord(
        id=job.id(setup.run_id), run_id=setup.run_id, kind=job.kind, question_id=question.id,
        subject=question.subject, model=setup.assistant_name, prompt=str(messages[-1].content),
        choice=reading.choice, valid=reading.valid, correct=reading.correct,
        scored=reading.scored, grader=reading.grader, grader_reply=reading.grader_reply,
        grader_json=reading.grader_json, correct_answer=question.answer,
        seconds=time.perf_counter() - started, replicate=job.replicate, seed=job.seed, **fields,
    )


def run_jobs(
    jobs: Iterable[BaselineJob],
    setup: BaselineSetup,
    *,
    store: ResultStore | None = None,
    concurrency: int = 1,
    on_record: OnBaseline | None = None,
    retry_failed: bool = True,
) -> Iterator[BaselineRecord]:
    """Run jobs not yet stored, ``concurrency`` at a time, yielding records as they finish.

    Answers stored as failed (``error`` set) are asked again, their rows replaced, unless
    ``retry_failed`` is False. Each record is stored (from this thread) before it is
    yielded. At most ``2 * concurrency`` jobs are in flight; concurrent calls to one local
    model are batched by its micro-batcher.
    """
    done: set[str] = set()
    if store is not None:
        done = store.baseline_ids(setup.run_id)
        if retry_failed:
            done -= store.failed_baseline_ids(setup.run_id)
    # the store keeps ids as UTF-8 can hold them (``encodable``)
    pending = (job for job in jobs if encodable(job.id(setup.run_id)) not in done)

    def finish(record: BaselineRecord) -> BaselineRecord:
        if store is not None:
            try:
                store.write_baseline(record)
            except UnstorableRecordError as exc:
                # The answer cannot be stored as it is: store its failure, go on with the run.
                record = record.model_copy(update={
                    "reply": "", "prompt": "", "choice": None, "valid": False, "correct": False,
                    "scored": False, "error": f"the answer could not be stored: {exc}"})
                store.write_baseline(record)
        if on_record is not None:
            on_record(record)
        return record

    records = map_bounded(lambda job: _execute(job, setup), pending, concurrency,
                          "chatbench-baseline")
    yield from (finish(record) for record in records)


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
    concurrency: int = 1,
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
    checked = check_kinds(kinds)
    jobs = plan_baselines(questions, checked, replicates, seed)
    identity = baseline_identity(questions, checked, assistant, grader, kind_settings(settings),
                                 seed, replicates)
    setup = make_setup(run_id or default_run_id(identity), assistant, grader, settings,
                       max_attempts, retry_wait_s)
    return BaselinePlan(jobs, setup, identity)


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
    concurrency: int = 1,
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
    (``chatbench.baseline_identity``): a ``run_id`` it holds for other questions, kinds,
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
        concurrency: Questions asked at once (local models batch their calls).
        on_record: Called with each new record (progress display).
        settings: The assistant's settings for every kind; None uses ``DEFAULT_SETTINGS``
            (the paper's).
        max_attempts: Tries per model call.
        retry_wait_s: Wait before the first retry; doubles each time (with jitter).
        retry_failed: Ask again the answers stored as failed (``error`` set), replacing
            their rows; False keeps them like any stored answer.

    Returns:
        The records made now (not those skipped), in finishing order.

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
    return list(run_jobs(plan.jobs, plan.setup, store=store, concurrency=concurrency,
                         on_record=on_record, retry_failed=retry_failed))


def check_execution(concurrency: int, max_attempts: int, retry_wait_s: float) -> None:
    """Check the execution settings (the retry wait as ``chatbench run`` checks it).

    Raises:
        ConfigError: ``concurrency`` or ``max_attempts`` is below 1, or ``retry_wait_s`` is
            not 0 to a day (NaN and infinity included).
    """
    for name, value in (("concurrency", concurrency), ("max_attempts", max_attempts)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    check_timing(None, retry_wait_s)


def kind_settings(settings: RoleSettings | None) -> dict[BaselineKind, RoleSettings]:
    """The assistant's settings per kind: the paper's (``DEFAULT_SETTINGS``) for None, else
    ``settings`` for every kind."""
    if settings is None:
        return dict(DEFAULT_SETTINGS)
    return dict.fromkeys(BASELINE_KINDS, settings)


def make_setup(
    run_id: str,
    assistant: ModelArg,
    grader: ModelArg | None,
    settings: RoleSettings | None,
    max_attempts: int,
    retry_wait_s: float,
) -> BaselineSetup:
    """Resolve the models and settings of a run.

    Raises:
        ConfigError: An unknown model.
    """
    return BaselineSetup(
        run_id=run_id,
        assistant=get_chat_model(assistant),
        assistant_name=model_name(assistant),
        grader=get_chat_model(grader) if grader is not None else None,
        grader_name=model_name(grader) if grader is not None else RULES,
        settings=kind_settings(settings),
        max_attempts=max_attempts,
        retry_wait_s=retry_wait_s,
    )


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _summary_row(
    model: str, kind: str, subject: str, group: list[BaselineRecord]
) -> dict[str, Any]:
    """One summary row over ``group``; unscored answers are counted, not scored."""
    scored = [r for r in group if r.scored]
    n = len(scored)
    valid = sum(r.valid for r in scored)
    correct = sum(r.correct for r in scored)
    return {
        "model": model, "kind": kind, "subject": subject, "n": n, "valid": valid,
        "correct": correct, "unscored": len(group) - n,
        "errors": sum(r.error is not None for r in group),
        "accuracy": correct / n if n else None,
        "accuracy_valid": correct / valid if valid else None,
    }


def _subject_order(subject: str) -> tuple[int, str]:
    """The ChatBench subjects in ``SUBJECTS`` order, then any others by name."""
    return (SUBJECTS.index(subject) if subject in SUBJECTS else len(SUBJECTS), subject)


def summarize_baselines(records: Iterable[BaselineRecord]) -> list[dict[str, Any]]:
    """Accuracy per (model, kind, subject) and per (model, kind) over all subjects.

    Both of the paper's conventions over the scored answers (``n``): ``accuracy`` counts
    invalid replies as wrong (correct / n); ``accuracy_valid`` drops them (correct / valid;
    None when nothing is valid). Unscored answers (``unscored``: failed calls, of which
    ``errors``, and grader replies that were not JSON) are left out, as in the paper. Every
    answer weighs the same, so with equal replicates per question this is the mean of the
    per-question means.

    Returns:
        Dicts with ``model, kind, subject, n, valid, correct, unscored, errors, accuracy,
        accuracy_valid``; per model and kind (in ``BASELINE_KINDS`` order), one row per
        subject (``SUBJECTS`` order, then others by name), then one with subject ``"all"``.
    """
    groups: dict[tuple[str, str], dict[str, list[BaselineRecord]]] = {}
    for record in records:
        subjects = groups.setdefault((record.model, record.kind), {})
        subjects.setdefault(record.subject, []).append(record)
    models = {model: i for i, (model, _) in reversed(list(enumerate(groups)))}
    kinds = {kind: i for i, kind in enumerate(BASELINE_KINDS)}
    rows: list[dict[str, Any]] = []
    for model, kind in sorted(groups, key=lambda key: (models[key[0]], kinds[key[1]])):
        by_subject = groups[(model, kind)]
        rows += [_summary_row(model, kind, s, by_subject[s])
                 for s in sorted(by_subject, key=_subject_order)]
        everything = [r for group in by_subject.values() for r in group]
        rows.append(_summary_row(model, kind, ALL_SUBJECTS, everything))
    return rows

