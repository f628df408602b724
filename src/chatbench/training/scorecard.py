"""The realism scorecard: one or more user simulators side by side against the real users of a
split (``chatbench fidelity``).

For each simulator, three kinds of pipeline jobs run (concurrently, each record stored before
it counts, stored ones skipped on a rerun, failures counted and shown):

1. first prompts, ``samples`` per question (``openings.FirstPromptJob``);
2. whole conversations with the assistant, ``replicates`` per question (the run pipeline);
3. answers given each real transcript (``agreement.AnswerJob``).

From them: the behaviours (``behaviours``: distributions, distances, CIs), the answer
agreement, and the paper's first-prompt ROUGE-1/BLEU beside the reference rows
(``references``). A simulator's run id is a digest of everything its samples depend on (its
variant and models, the assistant, the seed, the real data), so a changed setting can never
reuse another's results, and the same settings resume.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from chatbench.config import DEFAULT_CONCURRENCY, GraphSpec
from chatbench.data.human_data import HumanConversation
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.records import ConversationRecord, SampleRecord
from chatbench.runner.identity import StoredIdentity, VariantIdentity
from chatbench.runner.pipeline import ThreadExecutor, execute, plan_jobs
from chatbench.runner.recipe import Recipe
from chatbench.storage import ResultStore
from chatbench.training.agreement import AnswerAgreement, answer_agreement, answer_jobs
from chatbench.training.behaviours import (
    BehaviourResult,
    Session,
    compare_behaviours,
    human_sessions,
    opening_sessions,
    simulated_sessions,
)
from chatbench.training.fidelity import (
    conversation_questions,
    first_prompt_questions,
    real_first_prompts,
)
from chatbench.training.openings import first_prompt_jobs, openings_of, overlap
from chatbench.training.references import TextScore, reference_rows, text_score

OnRecord = Callable[[Any], None]


@dataclass(frozen=True)
class ScorecardSimulator:
    """One row of the scorecard: a name, the simulator's variant and its model."""

    name: str
    spec: GraphSpec
    user: object
    """A model string (``smollm2``, ``hf:FOLDER``, ``gguf:FILE``...) or a chat model object."""


SAMPLES_VERSION = 2
"""Bumped whenever what a stored sample holds changes (2: openings read by the accept rule),
so samples an older chatbench stored are never mixed with new ones."""


class ScorecardIdentity(StoredIdentity):
    """What a simulator's scorecard samples depend on: its run id is this digest."""

    version: int = SAMPLES_VERSION
    variant: VariantIdentity
    seed: int
    data: str
    """SHA-256 of the real conversations (their questions, turns and answers)."""


class RealSummary(BaseModel):
    """The real users a scorecard compares with."""

    model_config = ConfigDict(frozen=True)

    conversations: int
    questions: int
    workers: int
    """Distinct workers (people) in the split; 0 when the data names none."""
    workers_also_in_train: int | None = None
    """Of them, workers who also answered train questions (None: not known). Held-out
    questions are held out; such people are not."""


class SimulatorScore(BaseModel):
    """One simulator's row."""

    model_config = ConfigDict(frozen=True)

    name: str
    graph: str
    simulator: str
    models: dict[str, str]
    run_id: str
    behaviours: dict[str, BehaviourResult]
    answer_agreement: AnswerAgreement | None
    rouge1: float
    rouge1_ci: tuple[float, float]
    bleu: float
    bleu_ci: tuple[float, float]
    questions: int
    """Questions with both simulated and real first prompts."""
    pairs: int
    """(simulated, real) first-prompt pairs scored."""
    first_prompts: int
    failed_first_prompts: int
    conversations: int
    failed_conversations: int
    failures: list[str] = []
    """The first few failure messages, for the table."""
    seconds: float

    @property
    def failed_calls(self) -> int:
        """Every simulator call of this row that failed: first prompts, conversations and
        answers given a real transcript."""
        return self.failed_first_prompts + self.failed_conversations + (
            self.answer_agreement.failed if self.answer_agreement else 0)


class Scorecard(BaseModel):
    """Simulators beside real users: ``chatbench fidelity --json`` writes ``to_json()``."""

    model_config = ConfigDict(frozen=True)

    data: str
    split: str
    real: RealSummary
    simulators: list[SimulatorScore]
    references: list[TextScore]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The scorecard as JSON data: NaN becomes null."""
        return _nulls(self.model_dump(mode="python"))


def _nulls(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nulls(v) for v in value]
    return value


def data_digest(humans: Sequence[HumanConversation]) -> str:
    """SHA-256 of the conversations' content, in order."""
    digest = hashlib.sha256()
    for conversation in humans:
        # a source without a message log (HALIE) hashes as before the log existed
        unlogged = {"log"} if conversation.log is None else None
        digest.update(conversation.model_dump_json(exclude=unlogged).encode())
    return digest.hexdigest()


def scorecard_run_id(recipe: Recipe, seed: int, data: str) -> str:
    """``fidelity-<digest>``: the run id of a simulator's samples (``ScorecardIdentity``)."""
    identity = ScorecardIdentity(variant=recipe.identity(), seed=seed, data=data)
    return f"fidelity-{identity.digest()[:16]}"


@dataclass(frozen=True)
class _Real:
    """The real side, computed once for every simulator row."""

    humans: list[HumanConversation]
    """The conversations with a user turn."""
    questions: list[Question]
    digest: str
    first_prompts: dict[str, list[str]]
    """The real openings the text metrics score: the paper's, on its question set."""
    sessions: list[Session]


@dataclass(frozen=True)
class _Settings:
    samples: int
    replicates: int
    agreement: bool
    agreement_limit: int | None
    concurrency: int
    seed: int
    bootstrap: int


def _check(humans: Sequence[HumanConversation], simulators: Sequence[ScorecardSimulator],
           settings: _Settings) -> list[Question]:
    """The questions to use.

    Raises:
        ConfigError: No conversations with a user turn, no simulator, a repeated name, or a
            count that is not positive.
    """
    if not simulators:
        raise ConfigError("field 'simulators': give at least one simulator")
    names = [s.name for s in simulators]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"field 'simulators': names must differ; repeated: "
                          f"{', '.join(repeated)}")
    for field in ("samples", "replicates", "concurrency"):
        if getattr(settings, field) < 1:
            raise ConfigError(f"field {field!r}: must be positive, got "
                              f"{getattr(settings, field)}")
    if settings.agreement_limit is not None and settings.agreement_limit < 1:
        raise ConfigError(f"field 'agreement_limit': must be positive, got "
                          f"{settings.agreement_limit}")
    if settings.bootstrap < 0:
        raise ConfigError(f"field 'bootstrap': must be 0 or more, got {settings.bootstrap}")
    if not any(h.user_turns for h in humans):
        raise ConfigError("the real conversations have no user turns: nothing to compare")
    return conversation_questions(h for h in humans if h.user_turns)


def _run_jobs(jobs: Sequence[Any], settings: _Settings, run_id: str,
              store: ResultStore | None, on_record: OnRecord | None) -> list[Any]:
    """Run the jobs not stored yet; return every record of them, stored or new."""
    fresh = list(execute(jobs, ThreadExecutor(settings.concurrency), run_id=run_id,
                         store=store, on_record=on_record))
    if store is None:
        return fresh
    wanted = {job.id(run_id) for job in jobs}
    stored = (store.samples(run_id) if jobs and jobs[0].record_kind.record_type is SampleRecord
              else store.records(run_id))
    return [r for r in stored if r.id in wanted]


def _score(entry: ScorecardSimulator, real: _Real, assistant: object, settings: _Settings,
           store: ResultStore | None, on_record: OnRecord | None) -> SimulatorScore:
    started = time.perf_counter()
    recipe = Recipe.plan(entry.spec, entry.user, assistant)
    run_id = scorecard_run_id(recipe, settings.seed, real.digest)
    first = _run_jobs(first_prompt_jobs(recipe, real.questions, settings.samples,
                                        settings.seed), settings, run_id, store, on_record)
    records: list[ConversationRecord] = _run_jobs(
        plan_jobs(real.questions, [recipe], settings.replicates, settings.seed), settings,
        run_id, store, on_record)
    answers = (_run_jobs(answer_jobs(recipe, real.humans, settings.seed,
                                     settings.agreement_limit),
                         settings, run_id, store, on_record) if settings.agreement else [])
    by_id = {q.id: q for q in real.questions}
    openings = openings_of(first)
    text = text_score(entry.name, overlap(openings, real.first_prompts),
                      bootstrap=settings.bootstrap, seed=settings.seed)
    failures = [r.error for r in (*first, *records, *answers) if r.error]
    return SimulatorScore(
        name=entry.name, graph=entry.spec.name, simulator=entry.spec.simulator,
        models=dict(recipe.names), run_id=run_id,
        behaviours=compare_behaviours(real.sessions, simulated_sessions(records, by_id),
                                      opening_sessions(openings, by_id),
                                      bootstrap=settings.bootstrap, seed=settings.seed),
        answer_agreement=answer_agreement(real.humans, answers, bootstrap=settings.bootstrap,
                                          seed=settings.seed) if settings.agreement else None,
        rouge1=text.rouge1, rouge1_ci=text.rouge1_ci, bleu=text.bleu, bleu_ci=text.bleu_ci,
        questions=text.questions, pairs=text.pairs,
        first_prompts=sum(len(v) for v in openings.values()),
        failed_first_prompts=sum(1 for r in first if r.error is not None),
        conversations=len(records),
        failed_conversations=sum(1 for r in records if r.error is not None),
        failures=list(dict.fromkeys(failures))[:3], seconds=time.perf_counter() - started)


def real_summary(humans: Sequence[HumanConversation],
                 train: Sequence[HumanConversation] | None = None) -> RealSummary:
    """Counts of the real side, and how many of its workers also appear in ``train``."""
    workers = {h.worker_id for h in humans if h.worker_id}
    seen = None if train is None else len(workers & {h.worker_id for h in train})
    return RealSummary(conversations=len(humans),
                       questions=len({h.question.id for h in humans}), workers=len(workers),
                       workers_also_in_train=seen)


def evaluate_scorecard(
    humans: Sequence[HumanConversation],
    simulators: Sequence[ScorecardSimulator],
    assistant: object = "smollm2",
    *,
    samples: int = 10,
    replicates: int = 3,
    agreement: bool = True,
    agreement_limit: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    seed: int = 0,
    bootstrap: int = 1000,
    store: ResultStore | None = None,
    train: Sequence[HumanConversation] | None = None,
    data: str = "halie",
    split: str = "heldout",
    on_record: OnRecord | None = None,
) -> Scorecard:
    """Score each simulator against the real users of ``humans``.

    Args:
        humans: Real conversations of held-out questions (never trained or tuned on).
        simulators: The rows to compare, each a name, a variant and its user model.
        assistant: The assistant of the simulated conversations.
        samples: First prompts per question.
        replicates: Whole simulated conversations per question.
        agreement: Also ask each simulator for its answer after every real transcript.
        agreement_limit: Ask after a seeded sample of this many real transcripts only.
        concurrency: Jobs at once (a local model batches concurrent calls).
        seed: Run seed (samples, conversations and the bootstrap).
        bootstrap: Resamples for every CI (0: none).
        store: Where samples and conversations are kept (None: memory only); a rerun with the
            same settings skips what is stored and asks failed ones again.
        train: The train split, to count real workers seen in training (optional).
        data: The data's name, for the record.
        split: The split's name, for the record.
        on_record: Called with each new record (progress).

    Returns:
        The scorecard.

    Raises:
        ConfigError: Bad counts, no simulators, repeated names, no user turns, or a bad model.
    """
    settings = _Settings(samples, replicates, agreement, agreement_limit, concurrency, seed,
                         bootstrap)
    questions = _check(humans, simulators, settings)
    typed = [h for h in humans if h.user_turns]
    real = _Real(typed, questions, data_digest(typed),
                 first_prompt_questions(real_first_prompts(typed), data), human_sessions(typed))
    rows = [_score(entry, real, assistant, settings, store, on_record) for entry in simulators]
    return Scorecard(data=data, split=split, real=real_summary(typed, train), simulators=rows,
                     references=reference_rows(questions, real.first_prompts,
                                               bootstrap=bootstrap, seed=seed),
                     settings={"samples": samples, "replicates": replicates,
                               "agreement": agreement, "agreement_limit": agreement_limit,
                               "seed": seed, "bootstrap": bootstrap})


__all__ = ["RealSummary", "Scorecard", "ScorecardIdentity", "ScorecardSimulator",
           "SimulatorScore", "data_digest", "evaluate_scorecard", "real_summary",
           "scorecard_run_id"]
