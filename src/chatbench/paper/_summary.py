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
LENGTH_COLUMNS = ["source", "model", "condition", "conversations", "messages", "messages_se",
                  "mean", "se", "median", "max", *TURN_BUCKETS]
"""``messages``/``messages_se``: the paper's chat length (messages per chat, both sides);
``mean`` to the buckets: chatbench's user turns per conversation."""


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


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and ``np.std(values) / sqrt(n)`` (ddof=0), NaN for none."""
    if not len(values):
        return math.nan, math.nan
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


def length_summary(messages: Iterable[int], turns: Iterable[int]) -> dict[str, Any]:
    """How long the conversations are, two ways, one value of each per conversation.

    - ``messages``, ``messages_se``: the paper's chat length, ``len(chatHistory)`` (every
      message, both sides), with SE ``np.std(lengths) / sqrt(n)``, as
      ``get_conversations_from_checkpoints`` in ``analyze_results.py`` prints it;
    - ``mean``, ``se``, ``median``, ``max`` and one count per ``TURN_BUCKETS`` entry:
      chatbench's user turns (the user's messages, consecutive ones joined).

    Returns:
        ``conversations`` and the fields above.
    """
    sizes = np.asarray(list(messages), dtype=float)
    values = np.asarray(list(turns), dtype=float)
    if len(sizes) != len(values):
        raise ValueError(f"{len(sizes)} message counts for {len(values)} conversations")
    n = len(values)
    out: dict[str, Any] = {"conversations": n}
    out["messages"], out["messages_se"] = _mean_se(sizes)
    out["mean"], out["se"] = _mean_se(values)
    out.update(median=float(np.median(values)) if n else math.nan,
               max=int(values.max()) if n else math.nan)
    for bucket in TURN_BUCKETS:
        low = int(bucket.rstrip("+"))
        out[bucket] = int((values >= low).sum() if bucket.endswith("+")
                          else (values == low).sum())
    return out


def ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """The distinct values, those in ``preferred`` first in its order, the rest sorted."""
    present = set(values)
    return [v for v in preferred if v in present] + sorted(present - set(preferred))
