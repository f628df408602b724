"""AI-alone baselines: the assistant answers each question by itself, with no user.

The ChatBench paper compares every user-AI result with three AI-alone baselines:

- ``letter_zero_shot``: the model is told to answer with only the option letter; the answer is
  the first non-space character of the reply if it is one of the question's letters (any
  case), else the reply is *invalid*;
- ``letter_few_shot``: the same, after the 5 bundled MMLU dev examples of the question's
  subject as earlier user/assistant turns (each answered with just its letter);
- ``free_text``: the model explains and answers freely; the letter is read by chatbench's rules
  (:func:`chatbench.choice.extract_choice`) and, when they find none and a grader model is
  given, by asking the grader. No letter means invalid.

Accuracy is reported both ways, as in the paper: invalid replies counted wrong, and invalid
replies dropped. Records go to the same SQLite store as conversations (table ``baselines``),
each committed as it finishes, so an interrupted run resumes where it stopped.

Sampling settings: the paper sampled the assistant with its conversation settings, so the
defaults are temperature 0.7 with at most 8 new tokens for the letter-only kinds (a letter
needs one or two) and 512 for free text (``DEFAULT_SETTINGS``); the grader is greedy.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from chatbench._cli import console, opt
from chatbench._concurrency import map_bounded
from chatbench.choice import extract_choice
from chatbench.config import RoleSettings
from chatbench.errors import ConfigError
from chatbench.models.base import Completion
from chatbench.models.invoke import invoke_chat
from chatbench.models.registry import get_chat_model
from chatbench.questions import SUBJECTS, Question, load_few_shot, load_questions
from chatbench.seeding import derive_seed
from chatbench.storage import ResultStore

BaselineKind = Literal["letter_zero_shot", "letter_few_shot", "free_text"]
BASELINE_KINDS: tuple[BaselineKind, ...] = get_args(BaselineKind)
"""Every baseline kind, in report order."""
LETTER_KINDS: tuple[BaselineKind, ...] = ("letter_zero_shot", "letter_few_shot")

SYSTEM_PROMPT = "You are a helpful AI assistant."
"""The paper's assistant system prompt."""
LETTER_ONLY_PROMPT = "{question}\n\nAnswer with only the letter of the correct option."
"""Letter-only user message (also each few-shot example's); ``{question}`` is
``Question.format()``."""
FREE_TEXT_PROMPT = "{question}\n\nExplain your reasoning, then give your answer."
"""Free-text user message."""
GRADER_PROMPT = (
    "Here is a multiple-choice question and an answer to it.\n\n"
    "Question:\n{question}\n\nAnswer:\n{reply}\n\n"
    "Which option letter does this answer choose? Reply with only the letter, or NONE."
)
"""Asked of the grader when the rules find no letter in a free-text reply."""

DEFAULT_SETTINGS: dict[BaselineKind, RoleSettings] = {
    "letter_zero_shot": RoleSettings(temperature=0.7, max_tokens=8),
    "letter_few_shot": RoleSettings(temperature=0.7, max_tokens=8),
    "free_text": RoleSettings(temperature=0.7, max_tokens=512),
}
"""The assistant's settings per kind when ``run_baselines`` gets none."""
GRADER_SETTINGS = RoleSettings(temperature=0.0, max_tokens=16)
"""The grader's settings: greedy, a letter or NONE."""
RULES = "rules"
"""``BaselineRecord.grader`` when no grader model was asked."""
ALL_SUBJECTS = "all"
"""``subject`` of a kind's overall row in ``summarize_baselines``."""

ModelArg = str | BaseChatModel
OnBaseline = Callable[["BaselineRecord"], None]


class BaselineRecord(BaseModel):
    """One AI-alone answer to one question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """``{run_id}/{kind}/{question_id}/{replicate}``: the idempotent key in the store."""
    run_id: str
    kind: BaselineKind
    question_id: str
    subject: str
    model: str
    """The assistant's name (its model string, or its class and model name)."""
    prompt: str
    """The final user message (few-shot examples precede it as earlier turns)."""
    reply: str
    """The assistant's reply ("" when the call failed)."""
    choice: str | None
    """The letter read from the reply, or None."""
    valid: bool
    """Letter-only: the reply starts with one of the letters; free text: a letter was read."""
    correct: bool
    """``choice`` is the right letter (an invalid reply is never correct)."""
    correct_answer: str
    grader: str = RULES
    """``"rules"``, or the grader model's name when it was asked."""
    grader_reply: str | None = None
    """What the grader said, when it was asked."""
    seconds: float
    """Wall time of this record's model calls, retries included."""
    input_tokens: int | None = None
    """The assistant call's prompt tokens, where the model reports them."""
    output_tokens: int | None = None
    error: str | None = None
    """Why a model call failed after its retries (the record is then invalid)."""
    replicate: int = 0
    seed: int
    """The per-call seed (only local models receive it)."""


def baseline_id(run_id: str, kind: str, question_id: str, replicate: int) -> str:
    """The store key of one baseline answer."""
    return f"{run_id}/{kind}/{question_id}/{replicate}"


def letter_only_choice(reply: str, letters: Sequence[str]) -> str | None:
    """The paper's letter-only rule: the reply's first non-space character, if it is a letter.

    Example:
        >>> letter_only_choice(" b) because", "ABCD"), letter_only_choice("The answer is B", "ABCD")
        ('B', None)
    """
    text = reply.lstrip()
    first = text[0].upper() if text else ""
    return first if first and first in letters else None


def build_messages(
    kind: BaselineKind, question: Question, examples: Sequence[Question] = ()
) -> list[BaseMessage]:
    """The prompt of one baseline: system message, few-shot turns, then the question.

    Args:
        kind: The baseline kind.
        question: The question asked.
        examples: Few-shot examples (``letter_few_shot`` only), each asked letter-only and
            answered with its letter.

    Returns:
        The messages to send.
    """
    messages: list[BaseMessage] = [SystemMessage(SYSTEM_PROMPT)]
    if kind == "letter_few_shot":
        for example in examples:
            messages.append(HumanMessage(LETTER_ONLY_PROMPT.format(question=example.format())))
            messages.append(AIMessage(example.answer))
    template = FREE_TEXT_PROMPT if kind == "free_text" else LETTER_ONLY_PROMPT
    messages.append(HumanMessage(template.format(question=question.format())))
    return messages


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
class _Setup:
    """What every job of a run shares."""

    run_id: str
    assistant: BaseChatModel
    assistant_name: str
    grader: BaseChatModel | None
    grader_name: str
    settings: dict[BaselineKind, RoleSettings]
    max_attempts: int
    retry_wait_s: float


def _call(
    setup: _Setup,
    model: BaseChatModel,
    messages: list[BaseMessage],
    settings: RoleSettings,
    seed: int,
) -> Completion:
    """One model call, retried on transient failures with exponential backoff and jitter.

    Raises:
        Exception: The last failure, once the attempts are spent (or a non-transient one).
    """
    from chatbench.graphs.builder import _transient  # the conversations' retry predicate

    retrying = Retrying(
        stop=stop_after_attempt(setup.max_attempts),
        wait=wait_exponential(multiplier=setup.retry_wait_s, max=60)
        + wait_random(0, setup.retry_wait_s),
        retry=retry_if_exception(_transient),
        reraise=True,
    )
    return retrying(invoke_chat, model, messages, settings, seed=seed)


def _grade(setup: _Setup, question: Question, reply: str, seed: int) -> tuple[str | None, str]:
    """Ask the grader which letter a free-text reply chose; returns (letter, grader reply)."""
    assert setup.grader is not None
    prompt = GRADER_PROMPT.format(question=question.format(), reply=reply)
    answer = _call(setup, setup.grader, [HumanMessage(prompt)], GRADER_SETTINGS, seed).text
    return extract_choice(answer, question.choices), answer


def _read_choice(
    setup: _Setup, job: BaselineJob, reply: str
) -> tuple[str | None, str, str | None]:
    """The letter of a reply, with the grader's name and reply when the grader was asked."""
    question = job.question
    if job.kind in LETTER_KINDS:
        return letter_only_choice(reply, question.letters), RULES, None
    choice = extract_choice(reply, question.choices)
    if choice is not None or setup.grader is None:
        return choice, RULES, None
    grader_seed = derive_seed(job.seed, "grader")
    choice, grader_reply = _grade(setup, question, reply, grader_seed)
    return choice, setup.grader_name, grader_reply


def _execute(job: BaselineJob, setup: _Setup) -> BaselineRecord:
    """Ask one baseline question; a failure after the retries is recorded, never raised."""
    question = job.question
    messages = build_messages(job.kind, question, job.examples)
    fields: dict[str, Any] = {"reply": "", "choice": None, "grader": RULES}
    started = time.perf_counter()
    try:
        completion = _call(setup, setup.assistant, messages, setup.settings[job.kind], job.seed)
        fields.update(reply=completion.text, input_tokens=completion.input_tokens,
                      output_tokens=completion.output_tokens)
        if setup.grader is not None and job.kind == "free_text":
            fields["grader"] = setup.grader_name  # a failing grader is named in the record
        choice, grader, grader_reply = _read_choice(setup, job, completion.text)
        fields.update(choice=choice, grader=grader, grader_reply=grader_reply)
    except Exception as exc:  # any failure is stored with the record, as in conversations
        fields["error"] = f"{type(exc).__name__}: {exc}"
    choice = fields["choice"]
    return BaselineRecord(
        id=job.id(setup.run_id), run_id=setup.run_id, kind=job.kind, question_id=question.id,
        subject=question.subject, model=setup.assistant_name, prompt=str(messages[-1].content),
        valid=choice is not None, correct=choice == question.answer,
        correct_answer=question.answer, seconds=time.perf_counter() - started,
        replicate=job.replicate, seed=job.seed, **fields,
    )


def _run_jobs(
    jobs: Iterable[BaselineJob],
    setup: _Setup,
    *,
    store: ResultStore | None = None,
    concurrency: int = 1,
    on_record: OnBaseline | None = None,
) -> Iterator[BaselineRecord]:
    """Run jobs not yet stored, ``concurrency`` at a time, yielding records as they finish.

    Each record is stored (from this thread) before it is yielded. At most
    ``2 * concurrency`` jobs are in flight; concurrent calls to one local model are batched
    by its micro-batcher.
    """
    done = store.baseline_ids(setup.run_id) if store is not None else set()
    pending = (job for job in jobs if job.id(setup.run_id) not in done)

    def finish(record: BaselineRecord) -> BaselineRecord:
        if store is not None:
            store.write_baseline(record)
        if on_record is not None:
            on_record(record)
        return record

    records = map_bounded(lambda job: _execute(job, setup), pending, concurrency,
                          "chatbench-baseline")
    yield from (finish(record) for record in records)


def run_baselines(
    questions: Sequence[Question],
    assistant: ModelArg,
    *,
    kinds: Sequence[str] = BASELINE_KINDS,
    grader: ModelArg | None = None,
    replicates: int = 1,
    seed: int = 0,
    run_id: str = "baseline",
    store: ResultStore | None = None,
    concurrency: int = 1,
    on_record: OnBaseline | None = None,
    settings: RoleSettings | None = None,
    max_attempts: int = 3,
    retry_wait_s: float = 1.0,
) -> list[BaselineRecord]:
    """Ask every question AI-alone, for each kind and replicate; store each answer as it ends.

    Answers already in ``store`` under the same id are skipped, so calling this again after
    an interruption finishes the run. A model call that still fails after its retries is
    stored with ``error`` set (and counts as invalid); it is never raised.

    Args:
        questions: The questions.
        assistant: The model under evaluation: a chat model or a model string.
        kinds: Baseline kinds to run (``BASELINE_KINDS`` by default).
        grader: Optional model (object or string) asked for the letter of a free-text reply
            the rules cannot read.
        replicates: Answers per question and kind.
        seed: Run seed; each call's seed is ``derive_seed(seed, kind, question id, replicate)``
            (only local models take it).
        run_id: Name of the run in the store.
        store: Where records are written as they finish.
        concurrency: Questions asked at once (local models batch their calls).
        on_record: Called with each new record (progress display).
        settings: The assistant's settings for every kind; None uses ``DEFAULT_SETTINGS``.
        max_attempts: Tries per model call.
        retry_wait_s: Wait before the first retry; doubles each time (with jitter).

    Returns:
        The records made now (not those skipped), in finishing order.

    Raises:
        ConfigError: An unknown kind or model, ``replicates``, ``concurrency`` or
            ``max_attempts`` below 1, or no few-shot examples for a subject.

    Example:
        >>> from chatbench.questions import load_questions
        >>> records = run_baselines(load_questions(limit=1), "fake:say:B",
        ...                         kinds=["letter_zero_shot"])
        >>> records[0].choice, records[0].valid
        ('B', True)
    """
    _check_execution(concurrency, max_attempts)
    jobs = plan_baselines(questions, kinds, replicates, seed)
    setup = _make_setup(run_id, assistant, grader, settings, max_attempts, retry_wait_s)
    return list(_run_jobs(jobs, setup, store=store, concurrency=concurrency,
                                  on_record=on_record))


def _check_execution(concurrency: int, max_attempts: int) -> None:
    """Check the execution settings.

    Raises:
        ConfigError: ``concurrency`` or ``max_attempts`` is below 1.
    """
    for name, value in (("concurrency", concurrency), ("max_attempts", max_attempts)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")


def _make_setup(
    run_id: str,
    assistant: ModelArg,
    grader: ModelArg | None,
    settings: RoleSettings | None,
    max_attempts: int,
    retry_wait_s: float,
) -> _Setup:
    """Resolve the models and settings of a run.

    Raises:
        ConfigError: An unknown model.
    """
    from chatbench.runner.build import model_name

    per_kind = dict(DEFAULT_SETTINGS) if settings is None else dict.fromkeys(
        BASELINE_KINDS, settings)
    return _Setup(
        run_id=run_id,
        assistant=get_chat_model(assistant),
        assistant_name=model_name(assistant),
        grader=get_chat_model(grader) if grader is not None else None,
        grader_name=model_name(grader) if grader is not None else RULES,
        settings=per_kind,
        max_attempts=max_attempts,
        retry_wait_s=max(0.0, retry_wait_s),
    )


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _summary_row(
    model: str, kind: str, subject: str, group: list[BaselineRecord]
) -> dict[str, Any]:
    """One summary row over ``group``."""
    n = len(group)
    valid = sum(r.valid for r in group)
    correct = sum(r.correct for r in group)
    return {
        "model": model, "kind": kind, "subject": subject, "n": n, "valid": valid,
        "correct": correct, "errors": sum(r.error is not None for r in group),
        "accuracy": correct / n if n else None,
        "accuracy_valid": correct / valid if valid else None,
    }


def _subject_order(subject: str) -> tuple[int, str]:
    """The ChatBench subjects in ``SUBJECTS`` order, then any others by name."""
    return (SUBJECTS.index(subject) if subject in SUBJECTS else len(SUBJECTS), subject)


def summarize_baselines(records: Iterable[BaselineRecord]) -> list[dict[str, Any]]:
    """Accuracy per (model, kind, subject) and per (model, kind) over all subjects.

    Both of the paper's conventions: ``accuracy`` counts invalid replies as wrong (correct /
    n); ``accuracy_valid`` drops them (correct / valid; None when nothing is valid). Every
    answer weighs the same, so with equal replicates per question this is the mean of the
    per-question means.

    Returns:
        Dicts with ``model, kind, subject, n, valid, correct, errors, accuracy,
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


# --------------------------------------------------------------------------------------------
# Command (registered as ``chatbench baseline`` in chatbench.cli)
# --------------------------------------------------------------------------------------------


QuestionsOpt = Annotated[str | None, opt("Bundled set name or a CSV/JSONL file.", "QUESTIONS")]
SubjectsOpt = Annotated[str | None, opt("Comma-separated subjects.", "SUBJECTS")]
LimitOpt = Annotated[int | None, opt("Questions to ask (round-robin over subjects).", "LIMIT")]
AssistantOpt = Annotated[str, opt("Model under evaluation.", "ASSISTANT")]
KindsOpt = Annotated[str, opt(f"Comma-separated kinds: {', '.join(BASELINE_KINDS)}.",
                               "BASELINE_KINDS")]
GraderOpt = Annotated[str | None, opt("Model that reads free-text answers the rules can't.",
                                       "GRADER")]
ReplicatesOpt = Annotated[int, opt("Answers per question and kind.", "REPLICATES")]
SeedOpt = Annotated[int, opt("Run seed.", "SEED")]
ConcurrencyOpt = Annotated[int, opt("Questions at once (local models batch them).",
                                     "CONCURRENCY")]
OutOpt = Annotated[Path, opt("SQLite result store.", "OUT")]
RunIdOpt = Annotated[str | None, opt("Run name in the store (default: a hash of the options).",
                                      "RUN_ID")]
MaxAttemptsOpt = Annotated[int, opt("Tries per model call.", "MAX_ATTEMPTS")]
RetryWaitOpt = Annotated[float, opt("Seconds before the first retry (doubles each time).",
                                     "RETRY_WAIT")]


ALL_KINDS_OPTION = ",".join(BASELINE_KINDS)
"""The ``--kinds`` default: every kind."""


def baseline_run_id(options: dict[str, Any]) -> str:
    """``baseline-`` and a short hash of the options that shape the results."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    return f"baseline-{digest.hexdigest()[:10]}"


def baseline_command(
    questions: QuestionsOpt = None, subjects: SubjectsOpt = None, limit: LimitOpt = 5,
    assistant: AssistantOpt = "smollm2", kinds: KindsOpt = ALL_KINDS_OPTION,
    grader: GraderOpt = None, replicates: ReplicatesOpt = 1, seed: SeedOpt = 0,
    concurrency: ConcurrencyOpt = 8, out: OutOpt = Path("chatbench-results.sqlite"),
    run_id: RunIdOpt = None, max_attempts: MaxAttemptsOpt = 3, retry_wait: RetryWaitOpt = 1.0,
) -> None:
    """Ask the questions AI-alone (letter-only zero/few-shot, free text); print accuracy."""
    checked = check_kinds(kinds.split(","))
    subject_list = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    asked = load_questions(questions, subjects=subject_list, limit=limit)
    shaping = {"questions": questions, "subjects": subject_list, "limit": limit,
               "assistant": assistant, "kinds": checked, "grader": grader,
               "replicates": replicates, "seed": seed}
    run_id = run_id or baseline_run_id(shaping)
    _check_execution(concurrency, max_attempts)
    jobs = plan_baselines(asked, checked, replicates, seed)
    setup = _make_setup(run_id, assistant, grader, None, max_attempts, retry_wait)
    console.print(f"baseline [bold]{run_id}[/]: {len(jobs)} answers ({', '.join(checked)}), "
                  f"assistant {assistant} -> {out}")
    planned = {job.id(run_id) for job in jobs}
    with ResultStore(out) as store:
        _run_with_progress(console, jobs, setup, store, concurrency)
        records = [r for r in store.baselines(run_id) if r.id in planned]
    console.print(baseline_table(summarize_baselines(records)))


def _run_with_progress(
    console: Any, jobs: list[BaselineJob], setup: _Setup, store: ResultStore, concurrency: int
) -> None:
    """Run the jobs under a progress bar that starts at the answers already stored."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    stored = len(store.baseline_ids(setup.run_id) & {job.id(setup.run_id) for job in jobs})
    progress = Progress(TextColumn("[bold]answers"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                        console=console)
    task = progress.add_task("baseline", total=len(jobs), completed=stored, status="")
    failed = 0

    def on_record(record: BaselineRecord) -> None:
        nonlocal failed
        failed += record.error is not None
        progress.update(task, advance=1, status=f"failed {failed}" if failed else "")

    with progress:
        for _ in _run_jobs(jobs, setup, store=store, concurrency=concurrency,
                                   on_record=on_record):
            pass


def baseline_table(rows: list[dict[str, Any]]) -> Any:
    """A rich table of ``summarize_baselines`` rows."""
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    table = Table(title="AI-alone baselines",
                  caption="acc.: invalid = wrong; acc. valid: invalid dropped")
    for column in ("model", "kind", "subject"):
        table.add_column(column, overflow="fold")
    for column in ("n", "valid", "err", "acc.", "acc. valid"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["model"], row["kind"], row["subject"], str(row["n"]),
                      str(row["valid"]), str(row["errors"]), pct(row["accuracy"]),
                      pct(row["accuracy_valid"]))
    return table
