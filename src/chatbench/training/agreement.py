"""Answer agreement given the real transcript: the simulator reads a real person's conversation
and gives its answer, which is compared with the person's.

Each real conversation is one pipeline job (``AnswerJob``): the simulator sees the real
transcript in its own view, exactly as at its last turn (the ``forced`` turn of the graph,
``simulator_turn``), and its reply is read by the variant's accept rule. The scores:

- **letter agreement**: the share of real conversations (with a real answer) where the
  simulator picks the person's letter; a simulator reply with no letter counts as a
  disagreement, a failed call is left out and counted;
- **per-question accuracy**, simulated vs real (the paper's simulator-vs-users table): Pearson
  r and the mean absolute error over questions.

CIs are percentile bootstraps: conversations resampled for the letter agreement, questions
(paired) for r and MAE.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatbench.data.human_data import HumanConversation
from chatbench.records import SampleRecord
from chatbench.runner.recipe import Recipe
from chatbench.scoring.accuracy import bootstrap_ci
from chatbench.scoring.comparison import pearson_mae
from chatbench.seeding import derive_seed
from chatbench.training.behaviours import percentile_ci
from chatbench.training.openings import SAMPLES, sample_id, sample_turn

CI = tuple[float, float]


@dataclass(frozen=True)
class AnswerJob:
    """The simulator's answer after one real conversation: a job of the run pipeline."""

    conversation: HumanConversation
    index: int
    """The conversation's number in the split (its key with the question id)."""
    seed: int
    recipe: Recipe
    record_kind = SAMPLES

    def id(self, run_id: str) -> str:
        """The sample's key."""
        return sample_id(run_id, "answer", self.conversation.question.id, self.index)

    def run(self, run_id: str) -> SampleRecord:
        """Ask for the answer; a failure is recorded, never raised."""
        return sample_turn("answer", run_id, self.recipe, self.seed,
                           self.conversation.question, self.index,
                           self.conversation.messages(), "forced")


def answerable(conversations: Sequence[HumanConversation]) -> list[int]:
    """The numbers of the real conversations a simulator is asked about: those with a user
    turn and a real answer."""
    return [i for i, c in enumerate(conversations) if c.user_turns and c.final_choice]


def answer_jobs(recipe: Recipe, conversations: Sequence[HumanConversation], seed: int,
                limit: int | None = None) -> list[AnswerJob]:
    """One job per real conversation with a user turn and a real answer; with ``limit``, a
    seeded sample of that many of them (the same sample for every simulator)."""
    asked = answerable(conversations)
    if limit is not None and limit < len(asked):
        asked = sorted(random.Random(seed).sample(asked, limit))
    return [AnswerJob(conversations[i], i,
                      derive_seed(seed, "answer", conversations[i].question.id, i), recipe)
            for i in asked]


class AnswerAgreement(BaseModel):
    """How the simulator's answers, given the real transcripts, agree with the people's."""

    model_config = ConfigDict(frozen=True)

    conversations: int
    """Real conversations asked about (each has a real answer), failed calls included."""
    failed: int
    """Calls that failed after their retries (left out of every score)."""
    answered: int
    """Replies with an option letter."""
    letter_agreement: float
    """Share of the non-failed conversations where the simulator picked the person's letter."""
    letter_agreement_ci: CI
    simulated_accuracy: float
    """Share of the simulator's letters that are correct (pooled)."""
    real_accuracy: float
    questions: int
    """Questions with both a simulated and a real accuracy."""
    r: float | None
    """Pearson r of per-question accuracy; None when undefined (fewer than 2 questions, or
    a constant accuracy)."""
    r_ci: CI
    p_value: float | None
    mae: float | None
    mae_ci: CI
    per_question: dict[str, tuple[float, float]] = {}
    """``{question id: (simulated accuracy, real accuracy)}``."""
    note: str | None = None


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def answer_agreement(conversations: Sequence[HumanConversation],
                     samples: Iterable[SampleRecord], *, bootstrap: int = 1000,
                     seed: int = 0) -> AnswerAgreement:
    """Letter agreement and per-question accuracy agreement of the simulator's answers.

    Args:
        conversations: The real conversations, in the order ``answer_jobs`` numbered them.
        samples: The ``answer`` samples of one simulator.
        bootstrap: Resamples for the CIs.
        seed: The resampling seed.

    Returns:
        The agreement; NaN/None scores with a note when nothing could be compared.
    """
    answers = {s.index: s for s in samples if s.kind == "answer"}
    asked = [(conversations[i], s) for i, s in sorted(answers.items())
             if i < len(conversations)]
    scored = [(c, s) for c, s in asked if s.error is None]
    same = np.array([float(s.choice == c.final_choice) for c, s in scored])
    agreement_ci = bootstrap_ci(same, bootstrap, seed)
    sim_by_q: dict[str, list[float]] = defaultdict(list)
    real_by_q: dict[str, list[float]] = defaultdict(list)
    for c, s in scored:
        real_by_q[c.question.id].append(float(c.final_choice == c.question.answer))
        if s.choice is not None:
            sim_by_q[c.question.id].append(float(s.choice == c.question.answer))
    shared = sorted(sim_by_q.keys() & real_by_q.keys())
    per_question = {q: (float(np.mean(sim_by_q[q])), float(np.mean(real_by_q[q])))
                    for q in shared}
    xs = np.array([per_question[q][0] for q in shared])
    ys = np.array([per_question[q][1] for q in shared])
    fit = pearson_mae(xs, ys)
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(shared), len(shared)) for _ in range(bootstrap)
             ] if shared else []
    refits = [pearson_mae(xs[i], ys[i]) for i in picks]
    letters = [x for v in sim_by_q.values() for x in v]
    note = None if scored else "no simulator answer could be scored"
    if scored and math.isnan(fit["r"]):
        note = (f"r is undefined: {len(shared)} question(s) with answers, or an accuracy "
                f"the same on every question")
    return AnswerAgreement(
        conversations=len(asked), failed=len(asked) - len(scored),
        answered=len(letters),
        letter_agreement=float(same.mean()) if len(same) else math.nan,
        letter_agreement_ci=agreement_ci,
        simulated_accuracy=float(np.mean(letters)) if letters else math.nan,
        real_accuracy=float(np.mean([x for v in real_by_q.values() for x in v]))
        if real_by_q else math.nan,
        questions=len(shared), r=_finite(fit["r"]),
        r_ci=percentile_ci(f["r"] for f in refits), p_value=_finite(fit["p"]),
        mae=_finite(fit["mae"]), mae_ci=percentile_ci(f["mae"] for f in refits),
        per_question=per_question, note=note)


__all__ = ["AnswerAgreement", "AnswerJob", "answer_agreement", "answer_jobs",
           "answerable"]
