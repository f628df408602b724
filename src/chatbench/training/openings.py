"""First prompts: the simulator's opening messages, sampled as pipeline jobs, and their
overlap with real people's (the paper's BLEU and ROUGE-1, see ``chatbench.training.fidelity``)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

from langchain_core.messages import AnyMessage
from pydantic import BaseModel, ConfigDict

from chatbench.config import DEFAULT_CONCURRENCY, GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.errors import ConfigError, MissingDependencyError, ModelOutputError
from chatbench.graphs.call import call_with_retry
from chatbench.nodes.user import stored_turn, turn_request, write_turn
from chatbench.records import SampleKind, SampleRecord, failed_sample
from chatbench.runner.pipeline import JobExecutor, RecordKind, ThreadExecutor, execute
from chatbench.runner.recipe import Recipe, resolve
from chatbench.seeding import conversation_seed
from chatbench.simulators import TurnMode, TurnRequest, get_simulator
from chatbench.simulators.prompted import paper_exact
from chatbench.training.bleu import corpus_bleu

_PLACEHOLDER_ASSISTANT = "fake:echo"
"""First prompts never reach the assistant; ``SimContext`` still needs one."""


def simulator_turn(spec: GraphSpec, context: SimContext, question: Question,
                   messages: Sequence[AnyMessage], mode: TurnMode, turn_index: int) -> str:
    """One user turn exactly as the conversation graph writes it at ``turn_index``: for a
    ``user_cot`` variant's first or next turn the think step runs first and its notes go to
    the turn; seeds are derived as the user nodes derive them; an empty turn is retried once
    with the next seed (``write_turn``), except under the paper presets, which send it as the
    paper's code does (``paper_exact``).

    Raises:
        ModelOutputError: The turn was empty twice (not under the paper presets).
        Exception: What the model call raised.
    """
    simulate = get_simulator(spec.simulator)

    def request(step: TurnMode, scratchpad: str | None) -> TurnRequest:
        return turn_request(spec, context, question, messages, step, turn_index, scratchpad)

    notes = None
    if spec.user_cot and mode in ("first", "next"):
        notes, _ = write_turn(simulate, request("think", None))
    return write_turn(simulate, request(mode, notes), paper=paper_exact(spec))[0]


def sample_turn(kind: SampleKind, run_id: str, recipe: Recipe, seed: int, question: Question,
                index: int, messages: Sequence[AnyMessage], mode: TurnMode) -> SampleRecord:
    """One scorecard sample: the simulator's next turn after ``messages`` (``mode`` ``first``
    for an opening, ``forced`` for the answer at the turn limit), written as the graph writes
    it (``simulator_turn``, retried by the variant's policy) and stored as the graph's user
    node reads it (``stored_turn``: cleaned, with the answer if it is one). A failure after
    the retries is the record's ``error``, never raised."""
    variant = resolve(recipe)
    spec, context = variant.spec, variant.context(seed)
    turn_index = sum(1 for m in messages if m.type == "human")
    started = time.perf_counter()
    record = SampleRecord(id=sample_id(run_id, kind, question.id, index), run_id=run_id,
                          kind=kind, question_id=question.id, index=index)
    try:
        text = call_with_retry(lambda: simulator_turn(spec, context, question, messages, mode,
                                                      turn_index), variant.retry)
    except Exception as exc:  # recorded, counted and shown; the rerun asks again
        return failed_sample(record, f"{type(exc).__name__}: {exc}").model_copy(
            update={"seconds": time.perf_counter() - started})
    turn = stored_turn(spec, question, text, first=mode == "first")
    return record.model_copy(update={"text": turn.text, "choice": turn.choice,
                                     "answered": turn.answered,
                                     "seconds": time.perf_counter() - started})


def sample_id(run_id: str, kind: str, question_id: str, index: int) -> str:
    """The idempotent key of a sample in the store."""
    return f"{run_id}/{kind}/{question_id}/{index}"


SAMPLES: RecordKind[SampleRecord] = RecordKind(
    SampleRecord,
    ids=lambda store, run_id: store.sample_ids(run_id),
    failed_ids=lambda store, run_id: store.failed_sample_ids(run_id),
    lost_ids=lambda store, run_id: set(),
    write=lambda store, record: store.write_sample(record),
    unstorable=failed_sample,
)
"""How scorecard samples are stored (the store's ``samples`` table)."""


@dataclass(frozen=True)
class FirstPromptJob:
    """One opening message to sample: a job of the run pipeline."""

    question: Question
    sample: int
    seed: int
    recipe: Recipe
    """The simulator's variant (its assistant is never called)."""
    record_kind = SAMPLES

    def id(self, run_id: str) -> str:
        """The sample's key."""
        return sample_id(run_id, "first_prompt", self.question.id, self.sample)

    def run(self, run_id: str) -> SampleRecord:
        """Sample the opening message; a failure is recorded, never raised."""
        return sample_turn("first_prompt", run_id, self.recipe, self.seed, self.question,
                           self.sample, [], "first")


def first_prompt_jobs(recipe: Recipe, questions: Sequence[Question], samples: int,
                      seed: int) -> list[FirstPromptJob]:
    """``samples`` openings per question; sample ``i`` has the seed of replicate ``i`` of the
    same variant's conversations, so it is the opening of that conversation too."""
    return [FirstPromptJob(q, i, conversation_seed(seed, q.id, recipe.spec.name, i), recipe)
            for q in questions for i in range(samples)]


def openings_of(records: Iterable[SampleRecord]) -> dict[str, list[str]]:
    """``{question_id: [opening, ...]}`` in sample order: the openings as the conversation
    stores them, of the samples that did not fail. An opening that is already the answer
    (IQA-EVAL's "So, the answer is: B" at once, or "I'll go with B" under ``natural``) is
    left out: it is never sent to the assistant, and the paper leaves such conversations
    out of its first-prompt metrics."""
    by_question: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for record in records:
        if record.error is None and record.text is not None and not record.answered:
            by_question[record.question_id].append((record.index, record.text))
    return {qid: [text for _, text in sorted(pairs)] for qid, pairs in by_question.items()}


def sample_first_prompts(jobs: Sequence[FirstPromptJob], executor: JobExecutor,
                         ) -> dict[str, list[str]]:
    """Run first-prompt jobs (not stored): ``{question_id: [opening, ...]}`` in sample order.

    Raises:
        ModelOutputError: A sample failed (the message says why); the scorecard stores and
            counts failures instead.
    """
    records = list(execute(jobs, executor, run_id="fidelity"))
    failed = [r for r in records if r.error is not None]
    if failed:
        raise ModelOutputError(f"{len(failed)} of {len(records)} first prompts failed; the "
                               f"first: {failed[0].error}")
    return openings_of(records)


def first_prompts(
    spec: GraphSpec,
    user_model: object,
    questions: Sequence[Question],
    samples: int = 10,
    seed: int = 0,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, list[str]]:
    """Sample the simulator's first user turn ``samples`` times per question.

    Sample ``i`` of a question uses the seed of replicate ``i`` of ``run_conversations``
    (same run seed and spec), so it is the opening of that conversation too. The samples are
    jobs of the run pipeline on threads, so a local model batches them.

    Args:
        spec: The simulator variant (its simulator, persona and user settings are used).
        user_model: The simulator's model: a model string or an object.
        questions: The questions.
        samples: Openings per question.
        seed: Run seed.
        concurrency: Calls at once.

    Returns:
        ``{question_id: [opening, ...]}``; empty openings (twice) are left out.

    Raises:
        ConfigError: ``samples`` or ``concurrency`` is not positive, or a bad model name.
    """
    if samples < 1 or concurrency < 1:
        raise ConfigError(f"samples and concurrency must be positive, got {samples} and "
                          f"{concurrency}")
    recipe = Recipe.plan(spec, user_model, _PLACEHOLDER_ASSISTANT)
    jobs = first_prompt_jobs(recipe, questions, samples, seed)
    return sample_first_prompts(jobs, ThreadExecutor(concurrency))


class QuestionOverlap(BaseModel):
    """Overlap of one question's simulated and real opening messages, over all their pairs."""

    model_config = ConfigDict(frozen=True)

    rouge1: float
    """Mean ROUGE-1 F1 of the pairs, 0-1."""
    bleu: float
    """Corpus BLEU of the pairs (the paper's), 0-1."""
    pairs: int


class OverlapResult(BaseModel):
    """Lexical overlap of simulated and real first prompts, averaged per question first."""

    model_config = ConfigDict(frozen=True)

    rouge1: float
    """Mean over questions of ROUGE-1 F1, 0-1 (NaN when no question has pairs)."""
    bleu: float
    """Mean over questions of the paper's per-question corpus BLEU, 0-1 (NaN likewise)."""
    questions: int
    """Questions with at least one (simulated, real) pair."""
    pairs: int
    """(simulated, real) pairs scored, over all questions."""
    per_question: dict[str, QuestionOverlap] = {}
    note: str | None = None


def rouge1_scorer() -> Callable[[str, str], float]:
    """``rouge1_f1(simulated, real)``, imported lazily.

    Raises:
        MissingDependencyError: rouge-score is not installed.
    """
    try:
        from rouge_score.rouge_scorer import RougeScorer
    except ImportError as exc:
        raise MissingDependencyError("ROUGE-1 (rouge-score)", extra="train") from exc
    rouge = RougeScorer(["rouge1"], use_stemmer=False)

    def rouge1(simulated: str, real: str) -> float:
        return float(rouge.score(real, simulated)["rouge1"].fmeasure)

    return rouge1


def question_overlap(
    pairs: Sequence[tuple[str, str]], rouge1: Callable[[str, str], float]
) -> QuestionOverlap:
    """The paper's scores of one question's (simulated, real) first-prompt pairs.

    BLEU is ``evaluate.load("bleu").compute(predictions=simulated, references=real)`` over the
    pairs: one corpus score, not a mean of sentence scores. ROUGE-1 is the mean F1 of the pairs;
    the paper's ``evaluate.load("rouge")`` reports the median of 1,000 bootstrap means of those
    F1s instead, a random estimate of the same mean (off by about 0.001).
    """
    return QuestionOverlap(
        rouge1=fmean(rouge1(s, r) for s, r in pairs),
        bleu=corpus_bleu([s for s, _ in pairs], [r for _, r in pairs]).bleu,
        pairs=len(pairs))


def first_prompt_pairs(simulated: Mapping[str, Sequence[str]], real: Mapping[str, Sequence[str]],
                       ) -> dict[str, list[tuple[str, str]]]:
    """Each question's ``(simulated, real)`` first-prompt pairs, as the paper's
    ``get_bleu_and_rouge_for_question`` lists them (every simulated prompt with every real
    one, in that order), for the questions that have both, in id order."""
    pairs = {qid: [(s, r) for s in simulated[qid] for r in real[qid]]
             for qid in sorted(simulated.keys() & real.keys())}
    return {qid: listed for qid, listed in pairs.items() if listed}


def overlap(simulated: dict[str, list[str]], real: dict[str, list[str]]) -> OverlapResult:
    """ROUGE-1 F1 and BLEU between each simulated and each real first prompt of a question.

    Each question's pairs (the simulated prompt as prediction, the real one as reference) are
    scored as in the paper (``question_overlap``); the result is the mean over questions that
    have both simulated and real prompts. Blank prompts are scored as the paper's code scores
    them (a pair with a blank side scores 0), not left out.

    Args:
        simulated: ``{question_id: [simulated opening, ...]}``, e.g. from ``first_prompts``.
        real: ``{question_id: [real opening, ...]}``, e.g. from ``real_first_prompts``.

    Returns:
        Question-averaged ROUGE-1 F1 and BLEU, both 0-1; NaN with a note when no question
        has a pair.

    Raises:
        MissingDependencyError: The ``train`` extra (rouge-score) is not installed.
    """
    rouge1 = rouge1_scorer()
    per_question = {qid: question_overlap(pairs, rouge1)
                    for qid, pairs in first_prompt_pairs(simulated, real).items()}
    if not per_question:
        return OverlapResult(rouge1=math.nan, bleu=math.nan, questions=0, pairs=0,
                             note="no question has both simulated and real first prompts")
    scores = per_question.values()
    return OverlapResult(
        rouge1=fmean(s.rouge1 for s in scores), bleu=fmean(s.bleu for s in scores),
        questions=len(per_question), pairs=sum(s.pairs for s in scores),
        per_question=per_question)


