"""``ConversationRecord``: one finished (or failed) conversation, as stored and reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from chatbench._text import encodable, json_data
from chatbench.datatypes import CriterionResult, Judgement, NodeTiming, StopReason, Verdict


class TranscriptTurn(BaseModel):
    """One message of the canonical transcript."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["user", "assistant"]
    content: str
    steps: list[dict[str, Any]] = Field(default_factory=list)
    """An app's inner steps behind an assistant turn, in order (``chatbench.models.apps``):
    ``{"type": "ai", "content", "tool_calls": [{"name", "args", "id"}], "input_tokens",
    "output_tokens"}``, ``{"type": "tool", "name", "tool_call_id", "content", "status",
    "artifact"}``, ``{"type": "documents", "key", "documents": [{"page_content",
    "metadata"}]}``. Empty for a plain model, and then not written, so such records read the
    same in older versions."""

    def __hash__(self) -> int:
        """The role and text's hash: turns stay hashable whatever their steps hold."""
        return hash((self.role, self.content))

    @model_serializer(mode="wrap")
    def _without_empty_steps(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = write(self)
        if not self.steps:
            data.pop("steps", None)
        return data


class ConversationRecord(BaseModel):
    """Everything known about one conversation; the unit the store writes and reports read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Idempotent key: run, variant, question and replicate."""
    run_id: str
    question_id: str
    """The question's id, or the scenario's."""
    subject: str
    task: Literal["question", "scenario"] = "question"
    """What the conversation worked on: a multiple-choice question, or an open-ended scenario
    (then ``verdict`` is ``correct`` for success, every criterion met; ``wrong`` when one
    failed; ``no_answer`` when one was undecided). Left out of the dump for questions, so
    their records read as before."""
    variant: str
    """``GraphSpec.name`` of the variant."""
    replicate: int = 0
    seed: int | None = None
    spec: dict[str, Any]
    """The full ``GraphSpec``, as stored."""
    models: dict[str, str]
    """Model name per role: user, assistant, judge."""
    unseeded_roles: list[str] = Field(default_factory=list)
    """Roles whose model could not take the per-call seed (``models.invoke.seedable``), so a
    rerun may differ there; empty when every model was seeded or needs no seed."""
    factors: dict[str, Any] = Field(default_factory=dict)
    """Ablation factor values of the variant, e.g. ``{"persona": "novice", "user_cot": True}``."""
    persona: str | None = None
    transcript: list[TranscriptTurn] = Field(default_factory=list)
    scratchpad: list[str] = Field(default_factory=list)
    final_choice: str | None = None
    invalid_answer: str | None = None
    """What the user answered when it is not an option letter (scored wrong, as the paper
    does); None otherwise."""
    correct_answer: str
    """The correct option letter; a scenario's expected outcome ("" when it has none)."""
    verdict: Verdict | None = None
    """None when the conversation failed before the judge."""
    stop_reason: StopReason
    assistant_choices: list[str | None] = Field(default_factory=list)
    """Per assistant turn, the option its reply pointed to (None: none or several)."""
    judgements: dict[str, Judgement] = Field(default_factory=dict)
    """Rubric scores: ``coherence``/``satisfaction`` from a judge model, ``user_satisfaction``
    from the simulator in character. A missing score is ``score=None``, never a number."""
    criteria: list[CriterionResult] = Field(default_factory=list)
    """Scenarios: the judge's decision on each success criterion, in order (empty for
    questions, and then not written)."""
    turns: int = 0
    """User turns, the forced answer included."""
    error: str | None = None
    timings: list[NodeTiming] = Field(default_factory=list)
    seconds: float
    """Wall time of the whole conversation."""
    started_at: datetime

    @model_serializer(mode="wrap")
    def _question_fields_only(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = write(self)
        if self.task == "question":
            data.pop("task", None)
        if not self.criteria:
            data.pop("criteria", None)
        return data

    @property
    def success(self) -> bool:
        """A scenario's every criterion was met (for a question: the answer is correct)."""
        return self.verdict == "correct"

    @property
    def answered(self) -> bool:
        """The user gave an answer: an option letter, or an invalid one (scored wrong). A
        scenario's is decided: the judge passed or failed every criterion (no error)."""
        if self.task == "scenario":
            return self.verdict != "no_answer" and self.stop_reason is not StopReason.ERROR
        return self.final_choice is not None or self.invalid_answer is not None

    @property
    def correct(self) -> bool:
        """The user's final choice is the correct option."""
        return self.verdict == "correct"

    @property
    def truncated(self) -> list[NodeTiming]:
        """The timings of the calls whose reply was cut to the role's
        ``RoleSettings.max_reply_chars`` (each with its ``truncated`` note); empty when none
        was."""
        return [timing for timing in self.timings if timing.get("truncated")]

    def tokens(self, node: str | None = None) -> tuple[int, int]:
        """Input and output tokens summed over calls (of one node, if given); unknown counts
        as 0."""
        calls = [t for t in self.timings if node is None or t["node"] == node]
        return (
            sum(t["input_tokens"] or 0 for t in calls),
            sum(t["output_tokens"] or 0 for t in calls),
        )


def error_record(record: ConversationRecord, error: str) -> ConversationRecord:
    """``record`` cut down to what any store can hold, stopped with ``error``.

    For a record the store cannot write as it is: the conversation still gets its row (an
    error, which a rerun retries) and the run goes on. Its identity, variant, models and
    timing are kept; what the conversation produced (transcript, choices, judgements) is
    dropped.

    Args:
        record: The record that could not be stored.
        error: Why, for the record's ``error`` (after the record's own error, if any).

    Returns:
        A record with stop reason ``error`` whose every string is valid UTF-8.
    """
    reason = error if record.error is None else f"{error}; {record.error}"
    return ConversationRecord(
        **json_data(record.model_dump(include=_IDENTITY, mode="python")),
        spec=json_data(record.spec),
        models=json_data(record.models),
        factors=json_data(record.factors),
        stop_reason=StopReason.ERROR,
        error=encodable(reason),
        started_at=record.started_at,
    )


_IDENTITY = {"id", "run_id", "question_id", "subject", "task", "variant", "replicate", "seed",
             "persona", "correct_answer", "turns", "seconds", "unseeded_roles"}
"""The fields ``error_record`` keeps as they are (strings escaped)."""


BaselineKind = Literal["letter_zero_shot", "letter_few_shot", "free_text", "free_text_rules"]
"""The AI-alone baselines (``chatbench.baselines``): the paper's three and chatbench's own."""
BASELINE_KINDS: tuple[BaselineKind, ...] = get_args(BaselineKind)
"""Every baseline kind, in report order."""
PAPER_KINDS: tuple[BaselineKind, ...] = ("letter_zero_shot", "letter_few_shot", "free_text")
"""The paper's three AI-alone baselines (the default kinds)."""

RULES = "rules"
"""``BaselineRecord.grader`` when chatbench's rules read the answer (no grader model)."""


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
    """The user message (few-shot examples are inline in it)."""
    reply: str
    """The assistant's reply ("" when the call failed)."""
    choice: str | None
    """The letter read from the reply, or None."""
    valid: bool
    """Letter-only: the reply starts with a letter; ``free_text``: the grader's reply was read
    (the paper marks no free-text answer invalid); ``free_text_rules``: a letter was read."""
    correct: bool
    """``choice`` is the right letter (an invalid or unscored answer is never correct)."""
    correct_answer: str
    scored: bool = True
    """False when the paper leaves the answer out of accuracy: a call failed, or the
    grader's reply was not JSON."""
    grader: str = RULES
    """``"rules"``, or the grader model's name when it was asked."""
    grader_reply: str | None = None
    """What the grader said, when it was asked."""
    grader_json: dict[str, Any] | None = None
    """The grader's parsed object (``attempted_answer``, ``answer_val``, ``answer_letter``)."""
    seconds: float
    """Wall time of this record's model calls, retries included."""
    input_tokens: int | None = None
    """The assistant call's prompt tokens, where the model reports them."""
    output_tokens: int | None = None
    error: str | None = None
    """Why a model call failed after its retries (the record is then unscored)."""
    replicate: int = 0
    seed: int
    """The per-call seed (only local models receive it)."""
    truncated: dict[str, int] = Field(default_factory=dict)
    """The replies cut to their ``RoleSettings.max_reply_chars``, with the characters each
    had: ``{"reply": n}`` (the assistant's), ``{"grader_reply": n}``. Empty when none was,
    and then not written, so such records read the same in older versions."""

    @model_serializer(mode="wrap")
    def _without_empty_truncated(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = write(self)
        if not self.truncated:
            data.pop("truncated", None)
        return data


SampleKind = Literal["first_prompt", "answer"]


class SampleRecord(BaseModel):
    """One simulator call of a realism scorecard (``chatbench fidelity``): a sampled first
    prompt, or the answer the simulator gives after reading a real person's transcript."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """``{run_id}/{kind}/{question_id}/{index}``: the idempotent key in the store."""
    run_id: str
    kind: SampleKind
    question_id: str
    index: int
    """The sample number (first prompts) or the real conversation's number (answers)."""
    text: str | None = None
    """What the simulator wrote (None when the call failed)."""
    choice: str | None = None
    """The option letter read from ``text`` by the variant's accept rule (None: no answer,
    or no letter)."""
    answered: bool = False
    """``text`` is an answer under the accept rule (a first prompt that is one is no
    opening: the conversation ends before the assistant sees it)."""
    error: str | None = None
    """Why the call failed after its retries; None when it did not."""
    seconds: float = 0.0


def failed_sample(record: SampleRecord, error: str) -> SampleRecord:
    """``record`` with its text dropped and ``error`` set: what any store can hold."""
    return record.model_copy(update={"text": None, "choice": None, "error": encodable(error)})
