"""The paper's first-prompt text metrics with bootstrap CIs, and the reference rows that make
them readable.

ROUGE-1 and BLEU (``openings.overlap``, the paper's pairing: every simulated first prompt of a
question with every real one) mean little alone. Three rows computed on the real users give
them a scale:

- ``copy_question``: the question's stem pasted as the first prompt. Real users often paste the
  question, so this row scores high: a simulator that copies the task text beats real users'
  agreement with each other on these metrics without being any more human.
- ``human_ceiling``: each real user's first prompt against the other real users' of the same
  question (pairs of two different people).
- ``other_questions_floor``: each real user's first prompt against real users' of other
  questions (``FLOOR_PARTNERS`` seeded partners each).

CIs resample questions (the unit the paper averages over).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatbench.data.questions import Question
from chatbench.scoring.accuracy import bootstrap_ci
from chatbench.training.openings import (
    OverlapResult,
    QuestionOverlap,
    overlap,
    question_overlap,
    rouge1_scorer,
)

CI = tuple[float, float]
FLOOR_PARTNERS = 5
"""Prompts of other questions each real first prompt is paired with, for the floor row."""


class TextScore(BaseModel):
    """First-prompt ROUGE-1 and BLEU (0-1, means over questions) with bootstrap 95% CIs."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    rouge1: float
    rouge1_ci: CI
    bleu: float
    bleu_ci: CI
    questions: int
    pairs: int


def text_score(name: str, result: OverlapResult | Mapping[str, QuestionOverlap], *,
               description: str = "", bootstrap: int = 1000, seed: int = 0) -> TextScore:
    """Question-mean ROUGE-1 and BLEU of per-question overlaps, with CIs over questions."""
    per_question = result.per_question if isinstance(result, OverlapResult) else result
    scores = list(per_question.values())
    rouge = np.array([s.rouge1 for s in scores])
    bleu = np.array([s.bleu for s in scores])
    return TextScore(name=name, description=description,
                     rouge1=float(rouge.mean()) if scores else math.nan,
                     rouge1_ci=bootstrap_ci(rouge, bootstrap, seed),
                     bleu=float(bleu.mean()) if scores else math.nan,
                     bleu_ci=bootstrap_ci(bleu, bootstrap, seed),
                     questions=len(scores), pairs=sum(s.pairs for s in scores))


def copy_question(questions: Sequence[Question], real: Mapping[str, list[str]], *,
                  bootstrap: int = 1000, seed: int = 0) -> TextScore:
    """The row of a "simulator" that pastes each question's stem as its first prompt."""
    pasted = {q.id: [q.stem] for q in questions}
    return text_score("copy_question", overlap(pasted, dict(real)),
                      description="the question's stem pasted as the first prompt",
                      bootstrap=bootstrap, seed=seed)


def human_ceiling(real: Mapping[str, list[str]], *, bootstrap: int = 1000,
                  seed: int = 0) -> TextScore:
    """Real users against other real users of the same question (ordered pairs of two
    different people)."""
    rouge1 = rouge1_scorer()
    per_question = {}
    for qid, prompts in sorted(real.items()):
        pairs = [(a, b) for i, a in enumerate(prompts) for j, b in enumerate(prompts) if i != j]
        if pairs:
            per_question[qid] = question_overlap(pairs, rouge1)
    return text_score("human_ceiling", per_question,
                      description="real users vs other real users of the same question",
                      bootstrap=bootstrap, seed=seed)


def other_questions_floor(real: Mapping[str, list[str]], *, bootstrap: int = 1000,
                          seed: int = 0) -> TextScore:
    """Real users against ``FLOOR_PARTNERS`` seeded real users of other questions each."""
    rouge1 = rouge1_scorer()
    rng = random.Random(seed)
    per_question = {}
    for qid, prompts in sorted(real.items()):
        others = [p for other, ps in sorted(real.items()) if other != qid for p in ps]
        if not others:
            continue
        pairs = [(a, b) for a in prompts
                 for b in rng.sample(others, min(FLOOR_PARTNERS, len(others)))]
        per_question[qid] = question_overlap(pairs, rouge1)
    return text_score("other_questions_floor", per_question,
                      description=f"real users vs {FLOOR_PARTNERS} real users of other "
                                  f"questions each", bootstrap=bootstrap, seed=seed)


def reference_rows(questions: Sequence[Question], real: Mapping[str, list[str]], *,
                   bootstrap: int = 1000, seed: int = 0) -> list[TextScore]:
    """The copy-the-question, human-ceiling and other-questions-floor rows."""
    return [copy_question(questions, real, bootstrap=bootstrap, seed=seed),
            human_ceiling(real, bootstrap=bootstrap, seed=seed),
            other_questions_floor(real, bootstrap=bootstrap, seed=seed)]


__all__ = ["FLOOR_PARTNERS", "TextScore", "copy_question", "human_ceiling",
           "other_questions_floor", "reference_rows", "text_score"]
