"""Summaries shared by the paper's analyses: per-question means, turn-count distributions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

Z95 = 1.96
"""Normal quantile of a two-sided 95% interval."""
TURN_BUCKETS = ("0", "1", "2", "3", "4", "5+")
"""Columns of the turn-count distribution: conversations with 0, 1, ... and 5 or more turns."""
SUMMARY_COLUMNS = ["questions", "answers", "accuracy", "se", "ci_low", "ci_high"]
LENGTH_COLUMNS = ["source", "model", "condition", "conversations", "mean", "se", "median",
                  "max", *TURN_BUCKETS]


def question_summary(question_ids: pd.Series, values: pd.Series,
                     answers: float | None = None) -> dict[str, float]:
    """Mean over questions of the per-question mean, as ``group_by_question_and_summarize``
    in the authors' ``analyze_results.py`` computes it.

    The standard error is ``np.std`` of the per-question means (population std, ddof=0, as
    the code calls it) over sqrt(number of questions); it ignores the uncertainty within a
    question. The interval is mean +/- 1.96 SE.

    Args:
        question_ids: One question id per value.
        values: 1.0 right, 0.0 wrong (or a per-question accuracy, one value per question).
        answers: Answers behind the values (default: how many values there are).

    Returns:
        ``questions``, ``answers``, ``accuracy``, ``se``, ``ci_low``, ``ci_high``.

    Example:
        >>> question_summary(pd.Series(["a", "a", "b"]), pd.Series([1.0, 0.0, 1.0]))["accuracy"]
        0.75
    """
    per_question = values.astype(float).groupby(question_ids.to_numpy()).mean()
    return summary_of_means(per_question.to_numpy(), len(values) if answers is None else answers)


def summary_of_means(means: np.ndarray, answers: float) -> dict[str, float]:
    """``question_summary`` of per-question means already computed."""
    n = len(means)
    if n == 0:
        return {"questions": 0, "answers": answers, "accuracy": math.nan, "se": math.nan,
                "ci_low": math.nan, "ci_high": math.nan}
    mean = float(np.mean(means))
    se = float(np.std(means) / math.sqrt(n))
    return {"questions": n, "answers": answers, "accuracy": mean, "se": se,
            "ci_low": mean - Z95 * se, "ci_high": mean + Z95 * se}


def length_summary(turns: Iterable[int]) -> dict[str, Any]:
    """The distribution of turns per conversation.

    The standard error is ``np.std(lengths) / sqrt(n)``, as ``get_conversations_from_
    checkpoints`` in ``analyze_results.py`` reports chat lengths.

    Returns:
        ``conversations``, ``mean``, ``se``, ``median``, ``max`` and one count per
        ``TURN_BUCKETS`` entry.
    """
    values = np.asarray(list(turns), dtype=float)
    n = len(values)
    out: dict[str, Any] = {"conversations": n}
    if n == 0:
        out.update(mean=math.nan, se=math.nan, median=math.nan, max=math.nan)
    else:
        out.update(mean=float(values.mean()), se=float(values.std() / math.sqrt(n)),
                   median=float(np.median(values)), max=int(values.max()))
    for bucket in TURN_BUCKETS:
        low = int(bucket.rstrip("+"))
        out[bucket] = int((values >= low).sum() if bucket.endswith("+")
                          else (values == low).sum())
    return out


def ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """The distinct values, those in ``preferred`` first in its order, the rest sorted."""
    present = set(values)
    return [v for v in preferred if v in present] + sorted(present - set(preferred))
