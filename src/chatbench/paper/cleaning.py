"""The paper's cleaning of user answers, as ``get_clean_answers`` in the authors'
``make_clean_data.py`` does it (the default "strong" filter).

In order:

1. Sort by ``timestamp`` when the file has one (``get_answers_from_checkpoints(...)
   .sort_values("timestamp")``); otherwise keep the file's order.
2. Drop the attention check (``questionID == "example-1"``).
3. Keep workers who finished the study. The authors read this from Prolific's export
   (``Status`` in ``AWAITING REVIEW``/``APPROVED``), which is not part of the release; a
   ``status`` column with those values, or a true/false ``finished``/``completed`` column, is
   used when the file has one, and otherwise the rule is skipped (the report says so).
4. Keep workers whose attention-check answers are all right (mean ``acc`` == 1.0); a worker
   with no attention-check answer is dropped, as in the code.
5. Keep each worker's first assignment: the first (subject, batch, model, condition) of the
   worker's rows, in order; rows of any later assignment are dropped.
6. Drop duplicate (worker, question, answer type) rows, keeping the first. The code asserts
   that duplicates agree on the selected answer; here a disagreement raises ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from chatbench.errors import ConfigError

ATTENTION_CHECK_IDS = frozenset({"example-1"})
"""Question ids of the attention check (the authors' ``example-1``)."""
FINISHED_STATUSES = frozenset({"AWAITING REVIEW", "APPROVED"})
"""Prolific statuses of workers who completed the study (``make_clean_data.py``)."""
ASSIGNMENT_COLUMNS = ("subject", "batch", "model", "condition")
"""What makes an assignment (``assignment_cols`` in ``make_clean_data.py``)."""
_TRUE = {"1", "1.0", "true", "yes"}
_NA = "\x00na"  # stands in for a missing assignment cell so that two missing cells are equal


@dataclass(frozen=True)
class CleaningStep:
    """What one rule left.

    Attributes:
        rule: The rule, in words.
        rows: Answer rows left after it.
        workers: Workers left after it.
        note: Why it was skipped, or what it found.
    """

    rule: str
    rows: int
    workers: int
    note: str = ""


@dataclass(frozen=True)
class Cleaned:
    """Clean answers and the trail of rules that made them.

    Attributes:
        answers: The rows kept, in their (sorted) order.
        steps: One ``CleaningStep`` per rule, the first being the rows read.
    """

    answers: pd.DataFrame
    steps: tuple[CleaningStep, ...]


def clean_user_answers(answers: pd.DataFrame,
                       attention_check_ids: Iterable[str] = ATTENTION_CHECK_IDS) -> Cleaned:
    """Apply the paper's cleaning rules (module docstring) to ``user_answers.csv``.

    Args:
        answers: ``chatbench.paper.release.load_user_answers``.
        attention_check_ids: Question ids of the attention check.

    Returns:
        The ``Cleaned`` answers (attention checks removed) and the step counts.

    Raises:
        ConfigError: Duplicate rows of one worker, question and answer type disagree.

    Example:
        >>> cleaned = clean_user_answers(load_user_answers("user_answers.csv"))  # doctest: +SKIP
    """
    frame = answers
    if "timestamp" in frame:
        frame = frame.sort_values("timestamp", kind="stable")
    steps = [_step("rows read", frame)]
    is_check = frame["question_id"].isin(set(attention_check_ids))
    checks, frame = frame[is_check], frame[~is_check]
    steps.append(_step("attention-check answers dropped", frame,
                       f"{int(is_check.sum())} rows"))
    frame, note = _finished(frame)
    steps.append(_step("workers who finished the study", frame, note))
    passed = checks.groupby("worker_id")["acc"].mean()
    frame = frame[frame["worker_id"].isin(passed[passed == 1.0].index)]
    steps.append(_step("workers who passed the attention check", frame))
    frame, multiple = _first_assignments(frame)
    steps.append(_step("each worker's first assignment", frame,
                       f"{multiple} workers had more than one"))
    frame = _deduplicate(frame)
    steps.append(_step("duplicate (worker, question, answer type) rows dropped", frame))
    return Cleaned(answers=frame.reset_index(drop=True), steps=tuple(steps))


def _step(rule: str, frame: pd.DataFrame, note: str = "") -> CleaningStep:
    return CleaningStep(rule, len(frame), int(frame["worker_id"].nunique()), note)


def _finished(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Rows of workers who finished, by ``status`` or ``finished``; all rows when neither."""
    if "status" in frame:
        done = frame["status"].str.strip().str.upper().isin(FINISHED_STATUSES)
        source = "status"
    elif "finished" in frame:
        done = frame["finished"].str.strip().str.lower().isin(_TRUE)
        source = "finished"
    else:
        return frame, "skipped: no status/finished column (the release may hold finished " \
                      "workers only)"
    workers = set(frame.loc[done, "worker_id"])
    return frame[frame["worker_id"].isin(workers)], f"from the {source!r} column"


def _first_assignments(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Each worker's rows of their first assignment, and how many workers had several."""
    columns = [c for c in ASSIGNMENT_COLUMNS if c in frame]
    keys = frame[columns].astype(object).where(frame[columns].notna(), _NA)
    keep = pd.Series(True, index=frame.index)
    multiple = 0
    for _, rows in keys.groupby(frame["worker_id"], sort=False):
        if len(rows.drop_duplicates()) > 1:
            multiple += 1
            first = rows.iloc[0]
            keep[rows.index] = (rows == first).all(axis=1)
    return frame[keep], multiple


def _deduplicate(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated (worker, question, answer type) rows, keeping the first.

    Raises:
        ConfigError: The repeated rows select different answers.
    """
    key = ["worker_id", "question_id", "answer_type"]
    if "selected_answer" in frame:
        answers = frame.groupby(key)["selected_answer"].nunique()
        differing = answers[answers > 1]
        if not differing.empty:
            worker, question, kind = differing.index[0]
            raise ConfigError(f"differing answers for worker {worker!r}, question "
                              f"{question!r}, answer type {kind!r}: the paper's cleaning "
                              "expects duplicates to agree")
    return frame.drop_duplicates(key, keep="first")
