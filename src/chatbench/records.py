"""``ConversationRecord``: one finished (or failed) conversation, as stored and reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbench.judges import Judgement
from chatbench.state import NodeTiming, StopReason, Verdict


class TranscriptTurn(BaseModel):
    """One message of the canonical transcript."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["user", "assistant"]
    content: str


class ConversationRecord(BaseModel):
    """Everything known about one conversation; the unit the store writes and reports read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Idempotent key: run, variant, question and replicate."""
    run_id: str
    question_id: str
    subject: str
    variant: str
    """``GraphSpec.name`` of the variant."""
    replicate: int = 0
    seed: int | None = None
    spec: dict[str, Any]
    """The full ``GraphSpec``, as stored."""
    models: dict[str, str]
    """Model name per role: user, assistant, judge."""
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
    verdict: Verdict | None = None
    """None when the conversation failed before the judge."""
    stop_reason: StopReason
    assistant_choices: list[str | None] = Field(default_factory=list)
    """Per assistant turn, the option its reply pointed to (None: none or several)."""
    judgements: dict[str, Judgement] = Field(default_factory=dict)
    """Rubric scores: ``coherence``/``satisfaction`` from a judge model, ``user_satisfaction``
    from the simulator in character. A missing score is ``score=None``, never a number."""
    turns: int = 0
    """User turns, the forced answer included."""
    error: str | None = None
    timings: list[NodeTiming] = Field(default_factory=list)
    seconds: float
    """Wall time of the whole conversation."""
    started_at: datetime

    @property
    def answered(self) -> bool:
        """The user gave an answer: an option letter, or an invalid one (scored wrong)."""
        return self.final_choice is not None or self.invalid_answer is not None

    @property
    def correct(self) -> bool:
        """The user's final choice is the correct option."""
        return self.verdict == "correct"

    def tokens(self, node: str | None = None) -> tuple[int, int]:
        """Input and output tokens summed over calls (of one node, if given); unknown counts
        as 0."""
        calls = [t for t in self.timings if node is None or t["node"] == node]
        return (
            sum(t["input_tokens"] or 0 for t in calls),
            sum(t["output_tokens"] or 0 for t in calls),
        )
