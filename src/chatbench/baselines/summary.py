"""Accuracy of baseline answers per model, kind and subject, in the paper's two conventions."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import fmean
from typing import Any

from chatbench.baselines.prompts import BASELINE_KINDS
from chatbench.data.questions import SUBJECTS
from chatbench.records import BaselineRecord

ALL_SUBJECTS = "all"
"""``subject`` of a kind's overall row in ``summarize_baselines``."""


def _summary_row(
    model: str, kind: str, subject: str, group: list[BaselineRecord]
) -> dict[str, Any]:
    """One summary row over ``group``; unscored answers are counted, not scored."""
    scored = [r for r in group if r.scored]
    by_question: dict[str, list[BaselineRecord]] = {}
    for record in scored:
        by_question.setdefault(record.question_id, []).append(record)
    means = [fmean(r.correct for r in rs) for rs in by_question.values()]
    valid_means = [sum(r.correct for r in rs) / sum(r.valid for r in rs)
                   for rs in by_question.values() if any(r.valid for r in rs)]
    return {
        "model": model, "kind": kind, "subject": subject, "n": len(scored),
        "valid": sum(r.valid for r in scored), "correct": sum(r.correct for r in scored),
        "unscored": len(group) - len(scored),
        "errors": sum(r.error is not None for r in group),
        "accuracy": fmean(means) if means else None,
        "accuracy_valid": fmean(valid_means) if valid_means else None,
    }


def _subject_order(subject: str) -> tuple[int, str]:
    """The ChatBench subjects in ``SUBJECTS`` order, then any others by name."""
    return (SUBJECTS.index(subject) if subject in SUBJECTS else len(SUBJECTS), subject)


def summarize_baselines(records: Iterable[BaselineRecord]) -> list[dict[str, Any]]:
    """Accuracy per (model, kind, subject) and per (model, kind) over all subjects.

    Both of the paper's conventions over the scored answers (``n``), averaged as its
    ``qa_reasoning.py`` averages them: the mean over questions of each question's mean.
    ``accuracy`` counts invalid replies as wrong (a question's correct / its answers);
    ``accuracy_valid`` drops them (a question's correct / its valid answers, questions with
    none left out; None when nothing is valid). Unscored answers (``unscored``: failed calls,
    of which ``errors``, and grader replies that were not JSON) are left out, as in the
    paper. With unequal answers per question (failed calls) this differs from pooling.

    Returns:
        Dicts with ``model, kind, subject, n, valid, correct, unscored, errors, accuracy,
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

