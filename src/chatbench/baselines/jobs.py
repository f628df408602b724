"""One AI-alone answer as a job of the run pipeline: its plain-data setup, the call (retried
by the conversations' ``RetryPolicy``), and how the reply is read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.types import RetryPolicy

from chatbench.baselines.prompts import (
    BASELINE_KINDS,
    DEFAULT_SETTINGS,
    GRADER_SETTINGS,
    LETTER_KINDS,
    BaselineKind,
    build_messages,
    grader_messages,
    grader_verdict,
    letter_only_choice,
    parse_grader_reply,
)
from chatbench.config import RoleSettings
from chatbench.data.questions import Question
from chatbench.datatypes import Completion
from chatbench.graphs.builder import retry_policy
from chatbench.graphs.call import call_with_retry
from chatbench.models.invoke import invoke_chat
from chatbench.models.reference import ModelRef
from chatbench.models.registry import get_chat_model
from chatbench.records import RULES, BaselineRecord
from chatbench.runner.pipeline import RecordKind
from chatbench.runner.recipe import check_chat_model, new_token, resolve
from chatbench.scoring.choice import extract_choice
from chatbench.seeding import derive_seed

ModelArg = str | BaseChatModel
OnBaseline = Callable[[BaselineRecord], None]


def baseline_id(run_id: str, kind: str, question_id: str, replicate: int) -> str:
    """The store key of one baseline answer."""
    return f"{run_id}/{kind}/{question_id}/{replicate}"


def _unstorable(record: BaselineRecord, why: str) -> BaselineRecord:
    """The answer cut down to what any store holds, failed with ``why``."""
    return record.model_copy(update={
        "reply": "", "prompt": "", "choice": None, "valid": False, "correct": False,
        "scored": False, "error": why.replace("the record", "the answer")})


BASELINES: RecordKind[BaselineRecord] = RecordKind(
    BaselineRecord,
    ids=lambda store, run_id: store.baseline_ids(run_id),
    failed_ids=lambda store, run_id: store.failed_baseline_ids(run_id),
    lost_ids=lambda store, run_id: set(),
    write=lambda store, record: store.write_baseline(record),
    unstorable=_unstorable,
)
"""How baseline answers are stored (the store's ``baselines`` table)."""


@dataclass(frozen=True)
class _Models:
    """A setup's models, made in the process that asks."""

    assistant: BaseChatModel
    grader: BaseChatModel | None


@dataclass(frozen=True)
class BaselineSetup:
    """What every job of a baseline run shares, as plain data: models as given (strings or
    picklable objects, made where the first job runs), names, settings, retries."""

    run_id: str
    assistant: ModelArg
    assistant_name: str
    grader: ModelArg | None
    """The grader given, if any."""
    grader_name: str
    settings: dict[BaselineKind, RoleSettings]
    max_attempts: int
    retry_wait_s: float
    token: str = field(default_factory=lambda: new_token(), compare=False, repr=False)
    """Key of the models made from this setup in each process (``resolve``)."""

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call (the conversations' own, same settings)."""
        return retry_policy(self.max_attempts, self.retry_wait_s)

    def build(self) -> _Models:
        """The models, made in this process.

        Raises:
            ConfigError: A model that cannot be made or loaded here.
        """
        grader = get_chat_model(self.grader) if self.grader is not None else None
        return _Models(get_chat_model(self.assistant), grader)

    def free_text_grader(self, models: _Models) -> tuple[BaseChatModel, str]:
        """``free_text``'s grader and its name: the one given, else the assistant itself."""
        if models.grader is not None:
            return models.grader, self.grader_name
        return models.assistant, self.assistant_name


def make_setup(
    run_id: str,
    assistant: ModelArg,
    grader: ModelArg | None,
    settings: RoleSettings | None,
    max_attempts: int,
    retry_wait_s: float,
) -> BaselineSetup:
    """Check the models (no local weights are loaded) and settle the settings of a run.

    Raises:
        ConfigError: An unknown model.
    """
    check_chat_model("assistant", assistant)
    if grader is not None:
        check_chat_model("grader", grader)
    return BaselineSetup(
        run_id=run_id,
        assistant=assistant,
        assistant_name=ModelRef.of(assistant).display,
        grader=grader,
        grader_name=ModelRef.of(grader).display if grader is not None else RULES,
        settings=kind_settings(settings),
        max_attempts=max_attempts,
        retry_wait_s=retry_wait_s,
    )


def kind_settings(settings: RoleSettings | None) -> dict[BaselineKind, RoleSettings]:
    """The assistant's settings per kind: the paper's (``DEFAULT_SETTINGS``) for None, else
    ``settings`` for every kind."""
    if settings is None:
        return dict(DEFAULT_SETTINGS)
    return dict.fromkeys(BASELINE_KINDS, settings)


@dataclass(frozen=True)
class BaselineJob:
    """One planned baseline answer."""

    kind: BaselineKind
    question: Question
    replicate: int
    seed: int
    examples: tuple[Question, ...] = ()
    recipe: BaselineSetup | None = None
    """The run's setup (set by the plan; executors send it once per worker)."""
    record_kind = BASELINES

    def id(self, run_id: str) -> str:
        """The answer's idempotent key in the store."""
        return baseline_id(run_id, self.kind, self.question.id, self.replicate)

    def run(self, run_id: str) -> BaselineRecord:
        """Ask the question; a failure after the retries is recorded, never raised."""
        assert self.recipe is not None, "a planned job has its setup"
        return execute_baseline(self, self.recipe, resolve(self.recipe))


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
    grader_truncated: int | None = None
    """The characters the grader's reply had when it was cut to its ``max_reply_chars``."""


def _call(setup: BaselineSetup, model: BaseChatModel, messages: list[BaseMessage],
          settings: RoleSettings, seed: int) -> Completion:
    """One model call, retried on transient failures by the run's ``RetryPolicy``.

    Raises:
        Exception: The last failure, once the attempts are spent (or a non-transient one).
    """
    return call_with_retry(partial(invoke_chat, model, messages, settings, seed=seed),
                           setup.retry)


def _grader_for(setup: BaselineSetup, kind: BaselineKind) -> str:
    """The name a record of ``kind`` gives its grader before any call (``RULES``: none)."""
    if kind == "free_text":
        return setup.grader_name if setup.grader is not None else setup.assistant_name
    return setup.grader_name if kind == "free_text_rules" else RULES


def _ask_grader(setup: BaselineSetup, models: _Models, job: BaselineJob,
                reply: str) -> _Reading:
    """The paper's grader on a free-text reply: JSON with the attempted answer, value, letter.

    ``free_text`` as in the paper: a graded reply is valid, right only with the right
    ``answer_letter``, unscored when the grader's reply is not JSON. ``free_text_rules``: valid
    only with a letter.
    """
    model, name = setup.free_text_grader(models)
    messages = grader_messages(job.question, reply)
    completion = _call(setup, model, messages, GRADER_SETTINGS, derive_seed(job.seed, "grader"))
    text, cut = completion.text, completion.truncated.get("text")
    graded = parse_grader_reply(text)
    paper = job.kind == "free_text"
    if graded is None:
        return _Reading(None, valid=False, correct=False, scored=not paper, grader=name,
                        grader_reply=text, grader_truncated=cut)
    verdict = grader_verdict(graded, job.question)
    return _Reading(verdict.choice, valid=paper or verdict.choice is not None,
                    correct=verdict.correct, grader=name, grader_reply=text, grader_json=graded,
                    grader_truncated=cut)


def _read(setup: BaselineSetup, models: _Models, job: BaselineJob, reply: str) -> _Reading:
    """Read the letter of a reply as the job's kind says (asking a grader where it must)."""
    question = job.question
    if job.kind in LETTER_KINDS:
        choice = letter_only_choice(reply, question.letters)
    elif job.kind == "free_text_rules":
        choice = extract_choice(reply, question.choices)
        if choice is None and setup.grader is not None:
            return _ask_grader(setup, models, job, reply)
    else:
        return _ask_grader(setup, models, job, reply)
    return _Reading(choice, valid=choice is not None, correct=choice == question.answer)


def execute_baseline(job: BaselineJob, setup: BaselineSetup, models: _Models) -> BaselineRecord:
    """Ask one baseline question; a failure after the retries is recorded, never raised."""
    question = job.question
    messages = build_messages(job.kind, question, job.examples)
    fields: dict[str, Any] = {"reply": ""}
    reading = _Reading(None, valid=False, correct=False, scored=False,
                       grader=_grader_for(setup, job.kind))
    started = time.perf_counter()
    try:
        completion = _call(setup, models.assistant, messages, setup.settings[job.kind],
                           job.seed)
        fields.update(reply=completion.text, input_tokens=completion.input_tokens,
                      output_tokens=completion.output_tokens)
        if "text" in completion.truncated:  # cut to the assistant's max_reply_chars
            fields["truncated"] = {"reply": completion.truncated["text"]}
        reading = _read(setup, models, job, completion.text)
    except Exception as exc:  # any failure is stored with the record, as in conversations
        fields["error"] = f"{type(exc).__name__}: {exc}"
    if reading.grader_truncated is not None:
        fields["truncated"] = {**fields.get("truncated", {}),
                               "grader_reply": reading.grader_truncated}
    return BaselineRecord(
        id=job.id(setup.run_id), run_id=setup.run_id, kind=job.kind, question_id=question.id,
        subject=question.subject, model=setup.assistant_name, prompt=str(messages[-1].content),
        choice=reading.choice, valid=reading.valid, correct=reading.correct,
        scored=reading.scored, grader=reading.grader, grader_reply=reading.grader_reply,
        grader_json=reading.grader_json, correct_answer=question.answer,
        seconds=time.perf_counter() - started, replicate=job.replicate, seed=job.seed, **fields,
    )


