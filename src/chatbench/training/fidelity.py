"""How human-like a user simulator is, measured against real people on held-out questions.

The ChatBench paper judges simulators three ways, all reproduced here:

- **First prompts** (``first_prompts``, ``overlap``): the simulator's opening message is sampled
  ``samples`` times per question and paired with every real user's opening message of the
  same question, as in the paper's ``get_bleu_and_rouge_for_question``: BLEU is the corpus BLEU
  of the question's pairs (Hugging Face ``evaluate``'s ``bleu``, 0-1, see
  ``chatbench.training.bleu``) and ROUGE-1 the mean F1 of its pairs (``rouge-score``, 0-1, no
  stemming); both are then averaged over questions.
- **Conversation length** (``turns_vs_people``): mean user turns per conversation, simulated
  vs human, per question and averaged over questions.
- **Accuracy** (``accuracy_agreement``): per-question user-AI accuracy of simulated
  conversations vs real ones with the same assistant model: Pearson r and mean absolute error.

``evaluate_fidelity`` runs all three for one simulator on the questions of a set of human
conversations (the held-out split: never the questions it was trained or tuned on).
ROUGE needs the ``train`` extra (``pip install 'chatbench[train]'``); BLEU needs nothing.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.human_data import (
    HumanConversation,
    human_accuracy_by_question,
    load_chatbench_conversations,
    load_halie,
)
from chatbench.data.questions import Question
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.runner.batch import run_conversations
from chatbench.runner.build import ModelLike, build_models, build_persona
from chatbench.seeding import derive_seed
from chatbench.simulators import TurnRequest, get_simulator
from chatbench.state import END_TOKEN, USER, StopReason
from chatbench.training.bleu import corpus_bleu

DATA_SOURCES = ("halie", "chatbench")
"""Sources of human conversations: HALIE (bundled) and ChatBench (a conversations.json)."""
SPLITS = ("train", "heldout", "all")
CHATBENCH_HELDOUT_BUCKETS = 5
"""ChatBench has no published split: a question is held out when
``derive_seed(CHATBENCH_SPLIT_SALT, question_id) % 5 == 0`` (about 20% of questions)."""
CHATBENCH_SPLIT_SALT = "chatbench-split"
_PLACEHOLDER_ASSISTANT = "fake:echo"
"""First prompts never reach the assistant; ``SimContext`` still needs one."""


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def chatbench_split(question_id: str) -> str:
    """``"heldout"`` or ``"train"``: the fixed, hash-based split of a ChatBench question."""
    bucket = derive_seed(CHATBENCH_SPLIT_SALT, question_id) % CHATBENCH_HELDOUT_BUCKETS
    return "heldout" if bucket == 0 else "train"


def load_human_conversations(
    data: str, path: Path | None = None, split: str = "heldout"
) -> list[HumanConversation]:
    """Human conversations of one split of HALIE or ChatBench.

    Args:
        data: ``"halie"`` or ``"chatbench"``.
        path: HALIE: a folder with its CSVs (``None``: the bundled copy). ChatBench: the
            ``conversations.json`` file (required).
        split: ``"train"``, ``"heldout"`` or ``"all"``. HALIE's split is its fixed one;
            ChatBench's is ``chatbench_split`` (by question, about 20% held out).

    Returns:
        The conversations of the split, in file order.

    Raises:
        ConfigError: Unknown data or split, a missing path, or a malformed file.
    """
    if split not in SPLITS:
        raise ConfigError(f"field 'split': unknown split {split!r}; expected "
                          f"{', '.join(SPLITS)}")
    if data == "halie":
        return load_halie(split, path)  # type: ignore[arg-type]  # checked above
    if data != "chatbench":
        raise ConfigError(f"field 'data': unknown data {data!r}; expected "
                          f"{' or '.join(DATA_SOURCES)}")
    if path is None:
        raise ConfigError("field 'data_path': chatbench data needs the path of its "
                          "full_study/conversations.json")
    conversations = load_chatbench_conversations(path)
    if split == "all":
        return conversations
    return [c for c in conversations if chatbench_split(c.question.id) == split]


def conversation_questions(conversations: Iterable[HumanConversation]) -> list[Question]:
    """The distinct questions of the conversations, in order of first appearance."""
    questions: dict[str, Question] = {}
    for conversation in conversations:
        questions.setdefault(conversation.question.id, conversation.question)
    return list(questions.values())


def real_first_prompts(conversations: Iterable[HumanConversation]) -> dict[str, list[str]]:
    """Each question's real opening messages (blank ones left out)."""
    prompts: dict[str, list[str]] = defaultdict(list)
    for conversation in conversations:
        if conversation.user_turns and conversation.user_turns[0].strip():
            prompts[conversation.question.id].append(conversation.user_turns[0])
    return dict(prompts)


# --------------------------------------------------------------------------------------------
# First prompts and their overlap with people's
# --------------------------------------------------------------------------------------------


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
    (same run seed and spec), so it is the opening of that conversation too. Calls run in
    threads, so a local model batches them.

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
    models = build_models(spec, user_model, _PLACEHOLDER_ASSISTANT)
    base = SimContext(assistant=models.assistant, user=models.user, persona=build_persona(spec))
    jobs = [(q, derive_seed(seed, q.id, spec.name, i)) for q in questions for i in range(samples)]

    def one(job: tuple[Question, int]) -> str | None:
        return _first_prompt(spec, replace(base, seed=job[1]), job[0])

    with ThreadPoolExecutor(concurrency, thread_name_prefix="chatbench-first") as pool:
        texts = list(pool.map(one, jobs))
    out: dict[str, list[str]] = {q.id: [] for q in questions}
    for (question, _), text in zip(jobs, texts, strict=True):
        if text is not None:
            out[question.id].append(text)
    return out


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


# --------------------------------------------------------------------------------------------
# Conversation length
# --------------------------------------------------------------------------------------------


class QuestionTurns(BaseModel):
    """Mean user turns per conversation on one question."""

    model_config = ConfigDict(frozen=True)

    simulated: float
    human: float
    simulated_conversations: int
    human_conversations: int


class TurnComparison(BaseModel):
    """Mean user turns per conversation, simulated vs human, on shared questions."""

    model_config = ConfigDict(frozen=True)

    simulated: float
    """Mean over shared questions of the per-question mean (NaN when none are shared)."""
    human: float
    questions: int
    per_question: dict[str, QuestionTurns] = {}
    note: str | None = None


def simulated_turns(transcript: Sequence[TranscriptTurn]) -> int:
    """User messages the assistant replied to: the turns a person would have typed.

    The simulator's final ``Answer: X`` message is not counted: people give their answer in
    the study's form, not in the chat, so their conversations hold no such message.
    """
    return sum(1 for turn, after in zip(transcript, transcript[1:], strict=False)
               if turn.role == "user" and after.role == "assistant")


def _grouped(pairs: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return groups


def _scored(records: Iterable[ConversationRecord]) -> list[ConversationRecord]:
    return [r for r in records if r.stop_reason is not StopReason.ERROR]


def turns_vs_people(
    records: Iterable[ConversationRecord], humans: Iterable[HumanConversation]
) -> TurnComparison:
    """Mean user turns per conversation, simulated (``simulated_turns``) vs human.

    Failed simulated conversations are left out. Only questions with both simulated and
    human conversations count; overall means are means of the per-question means.

    Args:
        records: Simulated conversations.
        humans: Real conversations (a human's turns are its ``user_turns``).

    Returns:
        Per-question and overall means; NaN with a note when no question is shared.
    """
    sim = _grouped((r.question_id, simulated_turns(r.transcript)) for r in _scored(records))
    real = _grouped((h.question.id, len(h.user_turns)) for h in humans)
    per_question = {
        qid: QuestionTurns(simulated=fmean(sim[qid]), human=fmean(real[qid]),
                           simulated_conversations=len(sim[qid]),
                           human_conversations=len(real[qid]))
        for qid in sorted(sim.keys() & real.keys())
    }
    if not per_question:
        return TurnComparison(simulated=math.nan, human=math.nan, questions=0,
                              note="no question has both simulated and human conversations")
    return TurnComparison(simulated=fmean(q.simulated for q in per_question.values()),
                          human=fmean(q.human for q in per_question.values()),
                          questions=len(per_question), per_question=per_question)


# --------------------------------------------------------------------------------------------
# Accuracy agreement
# --------------------------------------------------------------------------------------------


class AccuracyAgreement(BaseModel):
    """Per-question simulated vs real user-AI accuracy (the paper's r and MAE)."""

    model_config = ConfigDict(frozen=True)

    human_model: str
    """The assistant the real users talked to."""
    pearson_r: float
    """NaN when fewer than 2 questions are shared or an accuracy is constant."""
    p_value: float
    mae: float
    """Mean absolute error of the accuracies (0-1); NaN when no question is shared."""
    n: int
    """Shared questions."""
    per_question: dict[str, tuple[float, float]] = {}
    """``{question_id: (simulated accuracy, real accuracy)}``."""
    note: str | None = None


def simulated_accuracy_by_question(records: Iterable[ConversationRecord]) -> dict[str, float]:
    """Mean correct over answered, non-failed simulated conversations, per question."""
    answered = (r for r in _scored(records) if r.answered)
    return {qid: fmean(v) for qid, v in _grouped((r.question_id, r.correct) for r in answered)
            .items()}


def _pearson(xs: list[float], ys: list[float]) -> tuple[float, float, str | None]:
    """``(r, p, note)``: NaN and a note when r is undefined."""
    if len(xs) < 2:
        return math.nan, math.nan, f"{len(xs)} shared question(s): r needs at least 2"
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return math.nan, math.nan, "an accuracy is the same on every question: r is undefined"
    from scipy.stats import pearsonr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pearsonr(xs, ys)
    return float(result.statistic), float(result.pvalue), None


def accuracy_agreement(
    records: Iterable[ConversationRecord],
    humans: Iterable[HumanConversation],
    human_model: str,
) -> AccuracyAgreement:
    """Pearson r and MAE of per-question simulated vs real user-AI accuracy.

    Args:
        records: Simulated conversations (answered, non-failed ones are scored).
        humans: Real conversations; those with ``human_model`` as assistant are used.
        human_model: The real users' assistant, e.g. ``gpt-4o`` or ``InstructDavinci``.

    Returns:
        r (with its p-value), MAE and the number of shared questions; NaN with a note when
        there are too few questions or no variation.
    """
    real = {qid: acc for (qid, model), acc in human_accuracy_by_question(humans).items()
            if model == human_model}
    simulated = simulated_accuracy_by_question(records)
    shared = sorted(real.keys() & simulated.keys())
    per_question = {qid: (simulated[qid], real[qid]) for qid in shared}
    if not shared:
        return AccuracyAgreement(human_model=human_model, pearson_r=math.nan,
                                 p_value=math.nan, mae=math.nan, n=0,
                                 note=f"no question has both simulated answers and real "
                                      f"answers with {human_model!r}")
    xs, ys = [simulated[q] for q in shared], [real[q] for q in shared]
    r, p, note = _pearson(xs, ys)
    return AccuracyAgreement(human_model=human_model, pearson_r=r, p_value=p,
                             mae=fmean(abs(x - y) for x, y in zip(xs, ys, strict=True)),
                             n=len(shared), per_question=per_question, note=note)


# --------------------------------------------------------------------------------------------
# Everything together
# --------------------------------------------------------------------------------------------


class FidelityReport(BaseModel):
    """How human-like one simulator is on a set of questions."""

    model_config = ConfigDict(frozen=True)

    graph: str
    simulator: str
    models: dict[str, str]
    """Model name per role (user, assistant, judge)."""
    questions: int
    samples: int
    """First prompts sampled per question."""
    replicates: int
    """Full conversations per question."""
    conversations: int
    failed: int
    """Conversations that ended in an error (left out of turns and accuracy)."""
    overlap: OverlapResult
    turns: TurnComparison
    accuracy: AccuracyAgreement | None = None
    """Only when a ``human_model`` was given."""
    seconds: float


def _check_human_model(humans: Sequence[HumanConversation], human_model: str | None) -> None:
    """Raises ConfigError when ``human_model`` is not an assistant of ``humans``."""
    known = sorted({h.assistant_model for h in humans})
    if human_model is not None and human_model not in known:
        raise ConfigError(f"field 'human_model': no conversations with {human_model!r}; "
                          f"assistants in the data: {', '.join(known) or 'none'}")


def evaluate_fidelity(
    humans: Sequence[HumanConversation],
    spec: GraphSpec,
    user: object,
    assistant: ModelLike,
    *,
    samples: int = 10,
    replicates: int = 2,
    human_model: str | None = None,
    limit_questions: int | None = None,
    concurrency: int = 8,
    seed: int = 0,
    on_record: Callable[[ConversationRecord], None] | None = None,
) -> FidelityReport:
    """Compare a simulator with the people of ``humans`` on their questions.

    Args:
        humans: Real conversations of held-out questions (``load_human_conversations``).
        spec: The simulator variant, e.g. the ``two_step`` or ``causal_lm`` preset.
        user: The simulator's model (``hf:FOLDER`` for a fine-tuned one).
        assistant: The assistant of the simulated conversations.
        samples: First prompts per question (the paper: 10).
        replicates: Full conversations per question, for turns and accuracy.
        human_model: Compare accuracy with real users of this assistant (``None``: skip).
        limit_questions: Use only the first this many questions.
        concurrency: Model calls / conversations at once.
        seed: Run seed.
        on_record: Called with each finished conversation (progress).

    Returns:
        The report.

    Raises:
        ConfigError: No questions, non-positive counts, or an unknown ``human_model``.
    """
    started = time.perf_counter()
    if limit_questions is not None and limit_questions < 1:
        raise ConfigError(f"field 'limit_questions': must be positive, got {limit_questions}")
    questions = conversation_questions(humans)[:limit_questions]
    if not questions or replicates < 1:
        raise ConfigError(f"nothing to evaluate: {len(questions)} questions, "
                          f"{replicates} replicates")
    _check_human_model(humans, human_model)
    kept = {q.id for q in questions}
    humans = [h for h in humans if h.question.id in kept]
    models = build_models(spec, user, assistant)
    simulated = first_prompts(spec, models.user, questions, samples, seed, concurrency)
    records = run_conversations(questions, spec, user=models, assistant=assistant, seed=seed,
                                replicates=replicates, concurrency=concurrency,
                                on_record=on_record)
    peers = [h for h in humans if human_model is None or h.assistant_model == human_model]
    return FidelityReport(
        graph=spec.name, simulator=spec.simulator, models=models.names, questions=len(questions),
        samples=samples, replicates=replicates, conversations=len(records),
        failed=len(records) - len(_scored(records)),
        overlap=overlap(simulated, real_first_prompts(humans)),
        turns=turns_vs_people(records, peers),
        accuracy=None if human_model is None else accuracy_agreement(records, humans,
                                                                     human_model),
        seconds=time.perf_counter() - started)


__all__ = [
    "AccuracyAgreement",
    "FidelityReport",
    "OverlapResult",
    "QuestionOverlap",
    "QuestionTurns",
    "TurnComparison",
    "accuracy_agreement",
    "chatbench_split",
    "conversation_questions",
    "evaluate_fidelity",
    "first_prompts",
    "load_human_conversations",
    "overlap",
    "question_overlap",
    "real_first_prompts",
    "simulated_accuracy_by_question",
    "simulated_turns",
    "turns_vs_people",
]
