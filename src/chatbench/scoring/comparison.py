"""Comparisons: two variants question by question (paired tests), and AI-alone baselines against
user-AI accuracy (the paper's r / MAE)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from chatbench.scoring.accuracy import Convention, mean_ci, question_means
from chatbench.scoring.grouping import By, group_columns, groups_by

# --- paired comparison ----------------------------------------------------------------------


@dataclass(frozen=True)
class PairedComparison:
    """Variant ``b`` against variant ``a`` on the questions both answered (diff = b - a)."""

    a: str
    b: str
    n_questions: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_lo: float
    """95% CI of the mean difference, t-based so that it excludes 0 iff the t-test p < .05."""
    ci_hi: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_statistic: float
    """NaN when every difference is zero."""
    wilcoxon_pvalue: float
    cohens_dz: float
    """Mean difference over the std of the differences; NaN when that std is 0."""

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict (a table row)."""
        return asdict(self)


def paired_comparison(conversations: pd.DataFrame, a: str, b: str, *, column: str = "variant",
                      convention: Convention = "answered") -> PairedComparison:
    """Compare two variants question by question: paired t-test, Wilcoxon, Cohen's d_z.

    Args:
        conversations: The conversations frame.
        a: The reference value of ``column``.
        b: The compared value.
        column: The column holding the variants.
        convention: Accuracy convention of the per-question means.

    Returns:
        The comparison; statistics that need 2 questions (or a non-zero spread) are NaN.
    """
    means = question_means(conversations, convention, by=column)
    wide = means.pivot(index="question_id", columns=column, values="accuracy")
    if a not in wide or b not in wide:
        wide = wide.reindex(columns=[a, b])
    pairs = wide[[a, b]].dropna()
    x, y = pairs[a].to_numpy(float), pairs[b].to_numpy(float)
    diff = y - x
    n = diff.size
    mean = float(diff.mean()) if n else math.nan
    sd = float(diff.std(ddof=1)) if n > 1 else math.nan
    t_stat = t_p = ci_lo = ci_hi = math.nan
    if n > 1 and sd > 0:
        t_stat, t_p = (float(v) for v in sps.ttest_rel(y, x))
        half = float(sps.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        ci_lo, ci_hi = mean - half, mean + half
    elif n > 1:  # every difference equal: the CI is the point
        ci_lo = ci_hi = mean
    w_stat, w_p = wilcoxon(diff)
    return PairedComparison(
        a=a, b=b, n_questions=n, mean_a=float(x.mean()) if n else math.nan,
        mean_b=float(y.mean()) if n else math.nan, mean_diff=mean, ci_lo=ci_lo, ci_hi=ci_hi,
        t_statistic=t_stat, t_pvalue=t_p, wilcoxon_statistic=w_stat, wilcoxon_pvalue=w_p,
        cohens_dz=mean / sd if n > 1 and sd > 0 else math.nan,
    )


def wilcoxon(diff: np.ndarray) -> tuple[float, float]:
    if not np.any(diff != 0):
        return math.nan, math.nan
    with warnings.catch_warnings():  # tiny samples: scipy warns about the normal approximation
        warnings.simplefilter("ignore")
        result = sps.wilcoxon(diff)
    return float(result.statistic), float(result.pvalue)


def paired_comparisons(conversations: pd.DataFrame, *, column: str = "variant",
                       convention: Convention = "answered") -> pd.DataFrame:
    """Each variant against the first (sorted) one; empty with fewer than two variants."""
    variants = sorted(conversations[column].dropna().astype(str).unique())
    rows = [paired_comparison(conversations, variants[0], other, column=column,
                              convention=convention).as_dict() for other in variants[1:]]
    return pd.DataFrame(rows, columns=[f for f in PairedComparison.__dataclass_fields__])


# --- AI-alone vs user-AI --------------------------------------------------------------------


def baseline_question_means(baselines: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, model, question) AI-alone accuracy: an invalid answer counts as wrong.

    Returns:
        Columns ``kind``, ``model``, ``question_id``, ``subject``, ``accuracy``,
        ``accuracy_valid`` (invalid answers dropped; NaN when none was valid), ``n``.
    """
    columns = ["kind", "model", "question_id", "subject", "accuracy", "accuracy_valid", "n"]
    if "scored" in baselines:
        # The paper leaves out answers it could not score (a failed call, a grader reply that
        # is not JSON), as the baseline summary does.
        baselines = baselines[baselines["scored"].fillna(True).astype(bool)]
    if baselines.empty:
        return pd.DataFrame(columns=columns)
    frame = baselines.assign(
        correct=baselines["correct"].fillna(False).astype(bool).astype(float),
        valid=baselines.get("valid", pd.Series(True, index=baselines.index))
        .fillna(False).astype(bool))
    frame["correct_valid"] = frame["correct"].where(frame["valid"])
    if "subject" not in frame:
        frame["subject"] = ""
    grouped = frame.groupby(["kind", "model", "question_id"], dropna=False, sort=True)
    out = grouped.agg(subject=("subject", "first"), accuracy=("correct", "mean"),
                      accuracy_valid=("correct_valid", "mean"), n=("correct", "size"))
    return out.reset_index()[columns]


def baseline_accuracy(baselines: pd.DataFrame, by: By = "subject") -> pd.DataFrame:
    """AI-alone accuracy per (kind, model[, by]) as the mean of per-question means, with CI.

    Returns:
        Columns: ``kind``, ``model``, the ``by`` columns, ``questions``, ``mean``, ``se``,
        ``lo``, ``hi``, ``valid_mean`` (invalid answers dropped).
    """
    per_question = baseline_question_means(baselines)
    rows = []
    for key, group in groups_by(per_question, ["kind", "model", *group_columns(by)]):
        mean, se, low, high = mean_ci(group["accuracy"].to_numpy(float))
        rows.append({**key, "questions": len(group), "mean": mean, "se": se, "lo": low,
                     "hi": high, "valid_mean": float(group["accuracy_valid"].mean())})
    return pd.DataFrame(rows, columns=["kind", "model", *group_columns(by), "questions", "mean",
                                       "se", "lo", "hi", "valid_mean"])


def pearson_mae(x: Sequence[float] | np.ndarray,
                y: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Pearson r (with its p-value) and mean absolute error of two paired arrays.

    r and p are NaN with fewer than 2 pairs or a constant array.

    Example:
        >>> pearson_mae([0, 0.5, 1], [0, 0.5, 1])["mae"]
        0.0
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = a.size
    r = p = math.nan
    if n >= 2 and np.ptp(a) > 0 and np.ptp(b) > 0:
        result = sps.pearsonr(a, b)
        r, p = float(result.statistic), float(result.pvalue)
    mae = float(np.abs(a - b).mean()) if n else math.nan
    return {"r": r, "p": p, "mae": mae, "n": n}


def agreement(conversations: pd.DataFrame, baselines: pd.DataFrame,
              convention: Convention = "answered", *, column: str = "variant") -> pd.DataFrame:
    """How well AI-alone per-question accuracy tracks user-AI accuracy (the paper's r / MAE).

    One row per baseline (kind, model) and variant, on the questions both have.

    Args:
        conversations: The conversations frame.
        baselines: The baselines frame.
        convention: Accuracy convention of the user-AI per-question means.
        column: The column holding the variants (the report passes ``group``: run and
            variant); its values fill the ``variant`` column of the result.

    Returns:
        Columns ``kind``, ``model``, ``variant``, ``same_model`` (the baseline's model is the
        variant's assistant), ``n``, ``r``, ``p``, ``mae``, ``ai_alone``, ``user_ai``.
    """
    columns = ["kind", "model", "variant", "same_model", "n", "r", "p", "mae", "ai_alone",
               "user_ai"]
    ai = baseline_question_means(baselines)
    if ai.empty or conversations.empty:
        return pd.DataFrame(columns=columns)
    user = question_means(conversations, convention, by=column)
    assistants = assistant_models(conversations, column)
    rows = []
    for (kind, model), base in ai.groupby(["kind", "model"], sort=True):
        for variant, mine in user.groupby(column, sort=True):
            shared = base.merge(mine, on="question_id", suffixes=("_ai", "_user"))
            stats = pearson_mae(shared["accuracy_ai"], shared["accuracy_user"])
            rows.append({"kind": kind, "model": model, "variant": variant,
                         "same_model": model in assistants.get(variant, set()), **stats,
                         "ai_alone": float(shared["accuracy_ai"].mean()),
                         "user_ai": float(shared["accuracy_user"].mean())})
    return pd.DataFrame(rows, columns=columns)


def assistant_models(conversations: pd.DataFrame,
                      column: str = "variant") -> dict[str, set[str]]:
    if "model_assistant" not in conversations:
        return {}
    pairs = conversations[[column, "model_assistant"]].dropna().drop_duplicates()
    out: dict[str, set[str]] = {}
    for variant, model in pairs.itertuples(index=False):
        out.setdefault(variant, set()).add(model)
    return out
