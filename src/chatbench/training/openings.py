"""First prompts: the simulator's opening messages, sampled as pipeline jobs, and their
overlap with real people's (the paper's BLEU and ROUGE-1, see ``chatbench.training.fidelity``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.runner.pipeline import JobExecutor, RecordKind, ThreadExecutor, execute
from chatbench.runner.recipe import Recipe, resolve
from chatbench.seeding import derive_seed
from chatbench.simulators import TurnRequest, get_simulator
from chatbench.state import END_TOKEN, USER
from chatbench.training.bleu import corpus_bleu

_PLACEHOLDER_ASSISTANT = "fake:echo"
"""First prompts never reach the assistant; ``SimContext`` still needs one."""


def _first_prompt(spec: GraphSpec, context: SimContext, question: Question) -> str | None:
    """One opening message, seeded as the conversation's user node would seed it; an empty
    one is retried once with the next seed (as the node does), then left out (``None``)."""
    simulate = get_simulator(spec.simulator)
    seed = derive_seed(context.seed, USER, "first", 0)
    for attempt in (seed, seed + 1):
        request = TurnRequest(question=question, messages=[], mode="first", context=context,
                              spec=spec, seed=attempt, turn_index=0)
        text = simulate(request).text.replace(END_TOKEN, "").strip()
        if text:
            return text
    return None


class FirstPrompt(BaseModel):
    """One sampled opening message (None: empty twice)."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    sample: int
    text: str | None


FIRST_PROMPTS: RecordKind[FirstPrompt] = RecordKind(
    FirstPrompt,
    ids=lambda store, run_id: set(),
    failed_ids=lambda store, run_id: set(),
    lost_ids=lambda store, run_id: set(),
    write=lambda store, record: None,  # compared in memory, never stored
    unstorable=lambda record, why: record,
)


@dataclass(frozen=True)
class FirstPromptJob:
    """One opening message to sample: a job of the run pipeline."""

    question: Question
    sample: int
    seed: int
    recipe: Recipe
    """The simulator's variant (its assistant is never called)."""
    record_kind = FIRST_PROMPTS

    def id(self, run_id: str) -> str:
        """The sample's key."""
        return f"{run_id}/first/{self.question.id}/{self.sample}"

    def run(self, run_id: str) -> FirstPrompt:
        """Sample the opening message (a failed call raises: fidelity needs every sample)."""
        variant = resolve(self.recipe)
        return FirstPrompt(question_id=self.question.id, sample=self.sample,
                           text=_first_prompt(variant.spec, variant.context(self.seed),
                                              self.question))


def first_prompt_jobs(recipe: Recipe, questions: Sequence[Question], samples: int,
                      seed: int) -> list[FirstPromptJob]:
    """``samples`` openings per question; sample ``i`` has the seed of replicate ``i`` of the
    same variant's conversations, so it is the opening of that conversation too."""
    return [FirstPromptJob(q, i, derive_seed(seed, q.id, recipe.spec.name, i), recipe)
            for q in questions for i in range(samples)]


def sample_first_prompts(jobs: Sequence[FirstPromptJob], executor: JobExecutor,
                         ) -> dict[str, list[str]]:
    """Run first-prompt jobs: ``{question_id: [opening, ...]}`` in sample order, empty
    openings left out."""
    texts: dict[str, dict[int, str | None]] = {job.question.id: {} for job in jobs}
    for record in execute(jobs, executor, run_id="fidelity"):
        texts[record.question_id][record.sample] = record.text
    return {qid: [t for _, t in sorted(by_sample.items()) if t is not None]
            for qid, by_sample in texts.items()}


def first_prompts(
    spec: GraphSpec,
    user_model: object,
    questions: Sequence[Question],
    samples: int = 10,
    seed: int = 0,
    concurrency: int = 8,
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


def _rouge1() -> Callable[[str, str], float]:
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


def overlap(simulated: dict[str, list[str]], real: dict[str, list[str]]) -> OverlapResult:
    """ROUGE-1 F1 and BLEU between each simulated and each real first prompt of a question.

    Each question's pairs (the simulated prompt as prediction, the real one as reference) are
    scored as in the paper (``question_overlap``); the result is the mean over questions that
    have both simulated and real prompts. Blank prompts are left out.

    Args:
        simulated: ``{question_id: [simulated opening, ...]}``, e.g. from ``first_prompts``.
        real: ``{question_id: [real opening, ...]}``, e.g. from ``real_first_prompts``.

    Returns:
        Question-averaged ROUGE-1 F1 and BLEU, both 0-1; NaN with a note when no question
        has a pair.

    Raises:
        MissingDependencyError: The ``train`` extra (rouge-score) is not installed.
    """
    rouge1 = _rouge1()
    per_question: dict[str, QuestionOverlap] = {}
    for qid in sorted(simulated.keys() & real.keys()):
        pairs = [(s, r) for s in simulated[qid] if s.strip() for r in real[qid] if r.strip()]
        if pairs:
            per_question[qid] = question_overlap(pairs, rouge1)
    if not per_question:
        return OverlapResult(rouge1=math.nan, bleu=math.nan, questions=0, pairs=0,
                             note="no question has both simulated and real first prompts")
    scores = per_question.values()
    return OverlapResult(
        rouge1=fmean(s.rouge1 for s in scores), bleu=fmean(s.bleu for s in scores),
        questions=len(per_question), pairs=sum(s.pairs for s in scores),
        per_question=per_question)


