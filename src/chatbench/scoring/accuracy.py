"""Accuracy and rubric scores per group: per-question means, their normal and bootstrap CIs.

A group's accuracy is the mean over questions of the per-question mean accuracy; its standard
error is the (sample) std of the per-question means over sqrt(number of questions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from chatbench.scoring.grouping import By, group_columns, groups_by

Convention = Literal["answered", "all"]
CONVENTIONS: tuple[Convention, ...] = ("answered", "all")
"""``answered``: no answer left out; ``all``: no answer counts as wrong."""
Z95 = 1.96


RUBRICS = ("coherence", "satisfaction", "user_satisfaction")


# --- accuracy -------------------------------------------------------------------------------


TOTALS = ("scored", "answered", "correct")
"""Per-question counts every accuracy here is computed from: conversations that reached the
judge (not failed), those answered, those answered correctly."""


def question_totals(conversations: pd.DataFrame, by: By = None) -> pd.DataFrame:
    """Per-question counts (``TOTALS``) within each group, failed conversations left out.

    Args:
        conversations: Needs ``question_id``, ``correct``, ``answered``, ``failed``.
        by: Extra grouping column(s) kept in the result.

    Returns:
        Columns: the ``by`` columns, ``question_id``, ``scored``, ``answered``, ``correct``.
    """
    keys = [*group_columns(by), "question_id"]
    scored = conversations.loc[~conversations["failed"].astype(bool), keys].copy()
    kept = conversations.loc[scored.index]
    scored["scored"] = 1
    scored["answered"] = kept["answered"].astype(bool).astype(int)
    scored["correct"] = (kept["correct"].astype(bool) & kept["answered"].astype(bool)).astype(int)
    return scored.groupby(keys, dropna=False, sort=True)[list(TOTALS)].sum().reset_index()


def per_question_accuracy(totals: pd.DataFrame, convention: Convention = "answered"
                          ) -> pd.DataFrame:
    """Each question's mean accuracy from its counts: correct over answered (``answered``)
    or over scored (``all``); a question with nothing to divide by is left out.

    This is the one definition of accuracy in chatbench: ``chatbench run``'s summary, the
    Python ``summarize`` and ``chatbench report`` all average these means over questions.

    Args:
        totals: ``question_totals`` (or the same counts from SQL).
        convention: ``answered`` or ``all``.

    Returns:
        ``totals`` less ``TOTALS``, with ``accuracy`` and ``n`` (conversations averaged).

    Example:
        >>> t = pd.DataFrame({"question_id": ["a", "b"], "scored": [3, 1],
        ...                   "answered": [2, 0], "correct": [1, 0]})
        >>> per_question_accuracy(t)["accuracy"].tolist()
        [0.5]
        >>> per_question_accuracy(t, "all")["accuracy"].tolist()
        [0.3333333333333333, 0.0]
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; use one of {CONVENTIONS}")
    n = totals["answered" if convention == "answered" else "scored"]
    kept = totals.loc[n > 0]
    keys = [c for c in totals.columns if c not in TOTALS]
    return kept[keys].assign(accuracy=kept["correct"] / n[n > 0], n=n[n > 0])


def question_means(conversations: pd.DataFrame, convention: Convention = "answered",
                   by: By = None) -> pd.DataFrame:
    """Per-question mean accuracy (within each group), failed conversations left out
    (``per_question_accuracy`` of ``question_totals``).

    Args:
        conversations: Needs ``question_id``, ``correct``, ``answered``, ``failed``.
        convention: ``answered`` leaves no-answer conversations out; ``all`` counts them wrong.
        by: Extra grouping column(s) kept in the result.

    Returns:
        Columns: the ``by`` columns, ``question_id``, ``accuracy``, ``n`` (conversations).
    """
    means = per_question_accuracy(question_totals(conversations, by), convention)
    return means.reset_index(drop=True)


def mean_over_questions(totals: pd.DataFrame, convention: Convention = "answered"
                        ) -> tuple[int, float | None]:
    """(questions averaged, mean of their accuracies) of one group's per-question counts;
    None when no question counts. ``accuracy``'s ``c_questions`` and ``c_mean``."""
    means = per_question_accuracy(totals, convention)["accuracy"]
    return len(means), (float(means.mean()) if len(means) else None)


def mean_ci(values: Sequence[float] | np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard error (sample std / sqrt n) and the normal 95% CI (mean +/- 1.96 SE).

    Example:
        >>> [round(x, 3) for x in mean_ci([0.0, 1.0])]
        [0.5, 0.5, -0.48, 1.48]
    """
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return (math.nan,) * 4
    mean = float(array.mean())
    se = float(array.std(ddof=1) / math.sqrt(array.size)) if array.size > 1 else math.nan
    return mean, se, mean - Z95 * se, mean + Z95 * se


def bootstrap_ci(values: Sequence[float] | np.ndarray, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling the values (questions) with replacement.

    Args:
        values: Per-question means.
        n_boot: Resamples (0: no bootstrap, NaN).
        seed: Seed of ``numpy.random.default_rng``: the same seed gives the same CI.
        level: Coverage of the interval.

    Returns:
        (low, high); NaN for no values.
    """
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0 or n_boot <= 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, array.size, size=(n_boot, array.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def accuracy(conversations: pd.DataFrame, by: By = "variant", *, n_boot: int = 2000,
             seed: int = 0) -> pd.DataFrame:
    """Accuracy per group in both conventions, with per-question-means and bootstrap CIs.

    Args:
        conversations: The conversations frame.
        by: Column(s) to group by (``"subject"``, ``"variant"``, ``["variant", "subject"]``);
            None for one overall row.
        n_boot: Bootstrap resamples.
        seed: Bootstrap seed (each group uses it, so results are reproducible).

    Returns:
        One row per group: ``conversations``, ``failed``, ``answered``, and per convention
        ``c`` in (``answered``, ``all``): ``c_questions``, ``c_mean``, ``c_se``, ``c_lo``,
        ``c_hi``, ``c_boot_lo``, ``c_boot_hi``.
    """
    rows = []
    for key, group in groups_by(conversations, by):
        failed = group["failed"].astype(bool)
        row: dict[str, Any] = {**key, "conversations": len(group), "failed": int(failed.sum()),
                               "answered": int((group["answered"].astype(bool) & ~failed).sum())}
        totals = question_totals(group)
        for convention in CONVENTIONS:
            means = per_question_accuracy(totals, convention)["accuracy"].to_numpy()
            mean, se, low, high = mean_ci(means)
            boot_low, boot_high = bootstrap_ci(means, n_boot, seed)
            row.update({f"{convention}_questions": len(means), f"{convention}_mean": mean,
                        f"{convention}_se": se, f"{convention}_lo": low,
                        f"{convention}_hi": high, f"{convention}_boot_lo": boot_low,
                        f"{convention}_boot_hi": boot_high})
        rows.append(row)
    return pd.DataFrame(rows)


# --- rubric scores --------------------------------------------------------------------------


def rubric_scores(conversations: pd.DataFrame, by: By = "variant") -> pd.DataFrame:
    """Mean and 95% CI of each rubric score per group, with the count of missing judgements.

    A judgement whose score is None (an unparseable judge reply) is missing, like an absent
    one. Failed conversations are left out. Rubrics with no score anywhere are skipped.

    Returns:
        Columns: the ``by`` columns, ``rubric``, ``conversations``, ``scored``, ``missing``,
        ``mean``, ``se``, ``lo``, ``hi``.
    """
    present = [r for r in RUBRICS if r in conversations and conversations[r].notna().any()]
    rows = []
    for key, group in groups_by(conversations[~conversations["failed"].astype(bool)], by):
        for rubric in present:
            values = group[rubric].astype(float)
            mean, se, low, high = mean_ci(values.to_numpy())
            rows.append({**key, "rubric": rubric, "conversations": len(group),
                         "scored": int(values.notna().sum()),
                         "missing": int(values.isna().sum()), "mean": mean, "se": se,
                         "lo": low, "hi": high})
    return pd.DataFrame(rows, columns=[*group_columns(by), "rubric", "conversations", "scored",
                                       "missing", "mean", "se", "lo", "hi"])
