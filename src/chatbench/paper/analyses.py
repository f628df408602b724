"""The paper's analyses of the ChatBench release, computed as the authors' code computes them.

- ``accuracy_table``: per model and MMLU subject, AI-alone (the three methods of
  ``ai_alone_answers.csv``), user-alone, user-AI direct-to-AI and user-AI answer-first
  accuracy: the mean over questions of per-question means, with its SE and 95% CI
  (``compare_study_results_and_ai_alone`` and ``group_by_question_and_summarize`` in
  ``analyze_results.py``).
- ``transitions``: answer-first users' own answer vs their answer with the AI: wrong->right
  ("fixed", out of the wrong own answers) and right->wrong ("misled", out of the right ones).
- ``agreement_table``: per-question Pearson r and MAE between AI-alone accuracy and real
  users' user-AI accuracy (the paper's simulator table).
- ``length_table``: messages (the paper's chat length) and user turns per conversation, per
  model and condition.

``analyze`` runs them all, on the release alone or with a chatbench store of simulator runs
(``chatbench.paper.runs``).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from chatbench.paper._summary import (
    LENGTH_COLUMNS,
    SUMMARY_COLUMNS,
    length_summary,
    ordered,
    question_summary,
)
from chatbench.paper.release import (
    ANSWER_FIRST,
    DIRECT,
    METHODS,
    MODELS,
    SUBJECTS,
    USER_AI,
    USER_ALONE,
)
from chatbench.scoring.stats import pearson_mae

AnswerSource = Literal["cleaned", "filtered"]

AI_ALONE_LABELS = {
    "letter_only_zero_shot": "AI-alone, letter-only zero-shot",
    "letter_only_few_shot": "AI-alone, letter-only few-shot",
    "free_text": "AI-alone, free-text",
}
USER_LABELS = {
    "User-alone": (USER_ALONE, None),
    "User-AI, direct-to-AI": (USER_AI, DIRECT),
    "User-AI, answer-first": (USER_AI, ANSWER_FIRST),
}
"""Row label -> (answer type, condition or None for both)."""
ACCURACY_COLUMNS = ["model", "subject", "condition", *SUMMARY_COLUMNS]
TRANSITION_COLUMNS = ["model", "subject", "pairs", "alone_wrong", "fixed", "fixed_rate",
                      "alone_right", "misled", "misled_rate"]
AGREEMENT_COLUMNS = ["model", "method", "questions", "r", "p", "mae", "method_mean",
                     "users_mean"]
ALL_SUBJECTS = "all"


def accuracy_table(answers: pd.DataFrame, ai_alone: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per model, subject and condition (AI-alone methods, then users).

    Args:
        answers: Clean user answers (``clean_user_answers(...).answers``).
        ai_alone: ``load_ai_alone``; a question whose ``acc`` is blank is left out, as the
            code's ``dropna(subset=[m + "_mean"])``.

    Returns:
        ``ACCURACY_COLUMNS``; ``answers`` of an AI-alone row is the sum of ``{method}_count``.
        A condition with no answers for a (model, subject) has no row.
    """
    cells = list(answers[["model", "dataset"]].itertuples(index=False, name=None))
    cells += list(ai_alone[["model", "subject"]].itertuples(index=False, name=None))
    rows = []
    for model in ordered((m for m, _ in cells), MODELS):
        for subject in ordered((s for m, s in cells if m == model), SUBJECTS):
            rows += _ai_alone_rows(ai_alone, model, subject)
            rows += _user_rows(answers, model, subject)
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def _ai_alone_rows(ai_alone: pd.DataFrame, model: str, subject: str) -> list[dict[str, Any]]:
    rows = []
    cell = ai_alone[(ai_alone["model"] == model) & (ai_alone["subject"] == subject)]
    for method in METHODS:
        scored = cell[(cell["method"] == method) & cell["acc"].notna()]
        if scored.empty:
            continue
        summary = question_summary(scored["question_id"], scored["acc"],
                                   answers=float(scored["count"].sum(min_count=1)))
        rows.append({"model": model, "subject": subject, "condition": AI_ALONE_LABELS[method],
                     **summary})
    return rows


def _user_rows(answers: pd.DataFrame, model: str, subject: str) -> list[dict[str, Any]]:
    rows = []
    cell = answers[(answers["model"] == model) & (answers["dataset"] == subject)]
    for label, (answer_type, condition) in USER_LABELS.items():
        chosen = cell[cell["answer_type"] == answer_type]
        if condition is not None:
            chosen = chosen[chosen["condition"] == condition]
        if not chosen.empty:
            rows.append({"model": model, "subject": subject, "condition": label,
                         **question_summary(chosen["question_id"], chosen["acc"])})
    return rows


def transitions(answers: pd.DataFrame) -> pd.DataFrame:
    """Answer-first users' own answer vs their answer with the AI, per model and subject.

    Each pair is one worker's user-alone and user-AI answer to one question in the
    answer-first condition. ``fixed_rate`` = fixed / alone_wrong (of the questions a user got
    wrong alone, the share right with the AI); ``misled_rate`` = misled / alone_right (of those
    right alone, the share wrong with the AI). Rates pool pairs (no per-question means). Each
    model also gets a row for all its subjects (``subject == "all"``).

    Args:
        answers: Clean user answers.

    Returns:
        ``TRANSITION_COLUMNS``; a rate is NaN when its denominator is 0.
    """
    first = answers[answers["condition"] == ANSWER_FIRST]
    keys = ["worker_id", "question_id"]
    alone = first[first["answer_type"] == USER_ALONE][[*keys, "model", "dataset", "acc"]]
    with_ai = first[first["answer_type"] == USER_AI][[*keys, "acc"]]
    pairs = alone.merge(with_ai, on=keys, suffixes=("_alone", "_ai"))
    rows = []
    for model in ordered(pairs["model"], MODELS):
        mine = pairs[pairs["model"] == model]
        for subject in ordered(mine["dataset"], SUBJECTS):
            rows.append(_transition_row(mine[mine["dataset"] == subject], model, subject))
        rows.append(_transition_row(mine, model, ALL_SUBJECTS))
    return pd.DataFrame(rows, columns=TRANSITION_COLUMNS)


def _transition_row(pairs: pd.DataFrame, model: str, subject: str) -> dict[str, Any]:
    wrong = pairs[pairs["acc_alone"] == 0]
    right = pairs[pairs["acc_alone"] == 1]
    fixed = int((wrong["acc_ai"] == 1).sum())
    misled = int((right["acc_ai"] == 0).sum())
    return {"model": model, "subject": subject, "pairs": len(pairs),
            "alone_wrong": len(wrong), "fixed": fixed, "fixed_rate": _rate(fixed, len(wrong)),
            "alone_right": len(right), "misled": misled,
            "misled_rate": _rate(misled, len(right))}


def _rate(count: int, total: int) -> float:
    return count / total if total else float("nan")


def user_ai_by_question(answers: pd.DataFrame) -> pd.DataFrame:
    """Real users' user-AI accuracy per model and question, both conditions pooled.

    Returns:
        Columns ``model``, ``question_id``, ``accuracy``, ``n``.
    """
    user_ai = answers[answers["answer_type"] == USER_AI]
    grouped = user_ai.groupby(["model", "question_id"], sort=True)["acc"]
    return grouped.agg(accuracy="mean", n="size").reset_index()


def agreement_row(model: str, method: str, predicted: pd.DataFrame,
                  users: pd.DataFrame) -> dict[str, Any]:
    """Pearson r and MAE between a method's and real users' per-question accuracy.

    Args:
        model: The ChatBench model whose users are the reference.
        method: The row's label.
        predicted: Columns ``question_id``, ``accuracy`` (one row per question).
        users: ``user_ai_by_question`` rows of ``model``.

    Returns:
        One ``AGREEMENT_COLUMNS`` row, on the questions both have.
    """
    shared = predicted.merge(users[["question_id", "accuracy"]], on="question_id",
                             suffixes=("_method", "_users"))
    stats = pearson_mae(shared["accuracy_method"], shared["accuracy_users"])
    return {"model": model, "method": method, "questions": stats["n"], "r": stats["r"],
            "p": stats["p"], "mae": stats["mae"],
            "method_mean": float(shared["accuracy_method"].mean()),
            "users_mean": float(shared["accuracy_users"].mean())}


def agreement_table(answers: pd.DataFrame, ai_alone: pd.DataFrame) -> pd.DataFrame:
    """Per-question agreement of each AI-alone method with real users' user-AI accuracy.

    For each model, each method's per-question ``acc`` of that model is paired with the
    per-question user-AI accuracy of that model's users (``user_ai_by_question``).

    Returns:
        ``AGREEMENT_COLUMNS``.
    """
    users = user_ai_by_question(answers)
    rows = []
    for model in ordered(users["model"], MODELS):
        mine = users[users["model"] == model]
        for method in METHODS:
            ai = ai_alone[(ai_alone["model"] == model) & (ai_alone["method"] == method)]
            predicted = ai.dropna(subset=["acc"]).rename(columns={"acc": "accuracy"})
            rows.append(agreement_row(model, AI_ALONE_LABELS[method],
                                      predicted[["question_id", "accuracy"]], mine))
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def length_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Conversation length per model and condition (``length_summary``): the paper's
    messages per chat and chatbench's user turns.

    Returns:
        ``LENGTH_COLUMNS`` with ``source`` ``ChatBench``.
    """
    rows = []
    for model in ordered(conversations["model"], MODELS):
        mine = conversations[conversations["model"] == model]
        for condition in ordered(mine["condition"], (DIRECT, ANSWER_FIRST)):
            chats = mine[mine["condition"] == condition]
            rows.append({"source": "ChatBench", "model": model, "condition": condition,
                         **length_summary(chats["messages"], chats["user_turns"])})
    return pd.DataFrame(rows, columns=LENGTH_COLUMNS)
