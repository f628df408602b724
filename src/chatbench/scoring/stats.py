"""Statistics of an evaluation: pure functions over the frames of ``chatbench.reporting.results``.

Conventions follow the authors' code (see ``chatbench-notes.md``):

- A group's accuracy is the mean over questions of the per-question mean accuracy; its
  standard error is the (sample) std of the per-question means over sqrt(number of questions),
  and its 95% CI is mean +/- 1.96 SE. A bootstrap over questions gives a second CI.
- Two conventions: ``answered`` (a conversation with no answer is left out, as the paper does
  for simulated runs) and ``all`` (no answer counts as wrong).
- Failed conversations (stop reason ``error``) are never scored; their count is reported.

Every function takes the ``conversations`` (or ``timings``/``baselines``) frame and returns a
new frame or a small dataclass; nothing is mutated.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from chatbench.config import ROLES

Convention = Literal["answered", "all"]
CONVENTIONS: tuple[Convention, ...] = ("answered", "all")
"""``answered``: no answer left out; ``all``: no answer counts as wrong."""
Z95 = 1.96
OUTCOMES = (
    "assistant_wrong_at_some_point",
    "recovered",
    "misled",
    "assistant_right_user_wrong",
    "assistant_never_committed",
)
"""Per-conversation interaction outcomes, from the assistant's choices and the verdict."""
RUBRICS = ("coherence", "satisfaction", "user_satisfaction")
ROLE_OF_NODE = {"user": "user", "user_cot": "user", "force_answer": "user",
                "assistant": "assistant", "judge": "judge"}
"""Graph node -> the role whose model it calls (tokens and latency per role)."""
NO_CHOICE = "-"
"""How a ``None`` assistant choice is written in the ``assistant_choices`` column."""

By = str | Sequence[str] | None


# --- interaction outcomes -------------------------------------------------------------------


def format_choices(choices: Sequence[str | None]) -> str:
    """The assistant's choices as one CSV-friendly string.

    Example:
        >>> format_choices(["A", None, "C"])
        'A,-,C'
    """
    return ",".join(NO_CHOICE if c is None else c for c in choices)


def parse_choices(value: object) -> list[str | None]:
    """Inverse of ``format_choices``; an empty or missing value is no assistant turn.

    Example:
        >>> parse_choices("A,-,C")
        ['A', None, 'C']
    """
    if not isinstance(value, str) or not value:
        return []
    return [None if c == NO_CHOICE else c for c in value.split(",")]


def conversation_outcomes(
    choices: Sequence[str | None], correct_answer: str, verdict: str | None, failed: bool
) -> dict[str, bool | None]:
    """The interaction outcomes of one conversation.

    Args:
        choices: Per assistant turn, the option its reply pointed to (None: none or several).
        correct_answer: The correct option letter.
        verdict: ``correct``, ``wrong`` or ``no_answer`` (a no-answer is never "misled").
        failed: The conversation failed: every outcome is None (excluded from rates).

    Returns:
        One boolean (or None) per name in ``OUTCOMES``.

    Example:
        >>> conversation_outcomes(["B", "A"], "A", "correct", False)["recovered"]
        True
    """
    if failed:
        return dict.fromkeys(OUTCOMES)
    committed = [c for c in choices if c is not None]
    wrong = any(c != correct_answer for c in committed)
    return {
        "assistant_wrong_at_some_point": wrong,
        "recovered": wrong and verdict == "correct",
        "misled": wrong and verdict == "wrong",
        "assistant_right_user_wrong": bool(committed) and committed[-1] == correct_answer
        and verdict == "wrong",
        "assistant_never_committed": not committed,
    }


def interaction_outcomes(conversations: pd.DataFrame) -> pd.DataFrame:
    """One nullable-boolean column per outcome (``OUTCOMES``), NA for failed conversations.

    Args:
        conversations: Needs ``assistant_choices`` (as ``format_choices`` writes it),
            ``correct_answer``, ``verdict`` and ``failed``.

    Returns:
        A frame on the same index.
    """
    rows = [
        conversation_outcomes(parse_choices(ch), ans, None if pd.isna(v) else v, bool(f))
        for ch, ans, v, f in zip(conversations["assistant_choices"],
                                 conversations["correct_answer"], conversations["verdict"],
                                 conversations["failed"], strict=True)
    ]
    frame = pd.DataFrame(rows, index=conversations.index, columns=list(OUTCOMES))
    return frame.astype("boolean")


def outcome_rates(conversations: pd.DataFrame, by: By = "variant") -> pd.DataFrame:
    """Counts and rates of the interaction outcomes per group; failed conversations excluded.

    Rates ``<outcome>_rate`` are over scored conversations; ``recovered_given_wrong`` and
    ``misled_given_wrong`` are over those where the assistant was wrong at some point.

    Args:
        conversations: The conversations frame (with the ``OUTCOMES`` columns).
        by: Column(s) to group by; None for one overall row.

    Returns:
        One row per group.
    """
    rows = []
    for key, group in _groups(conversations, by):
        scored = group[~group["failed"].astype(bool)]
        row: dict[str, Any] = {**key, "scored": len(scored), "failed": len(group) - len(scored)}
        for outcome in OUTCOMES:
            count = int(scored[outcome].fillna(False).astype(bool).sum())
            row[outcome] = count
            row[f"{outcome}_rate"] = _ratio(count, len(scored))
        wrong = row["assistant_wrong_at_some_point"]
        row["recovered_given_wrong"] = _ratio(row["recovered"], wrong)
        row["misled_given_wrong"] = _ratio(row["misled"], wrong)
        rows.append(row)
    return pd.DataFrame(rows)


# --- accuracy -------------------------------------------------------------------------------


def question_means(conversations: pd.DataFrame, convention: Convention = "answered",
                   by: By = None) -> pd.DataFrame:
    """Per-question mean accuracy (within each group), failed conversations left out.

    Args:
        conversations: Needs ``question_id``, ``correct``, ``answered``, ``failed``.
        convention: ``answered`` leaves no-answer conversations out; ``all`` counts them wrong.
        by: Extra grouping column(s) kept in the result.

    Returns:
        Columns: the ``by`` columns, ``question_id``, ``accuracy``, ``n`` (conversations).
    """
    keys = [*_columns(by), "question_id"]
    mask = ~conversations["failed"].astype(bool)
    if convention == "answered":
        mask &= conversations["answered"].astype(bool)
    elif convention != "all":
        raise ValueError(f"unknown convention {convention!r}; use one of {CONVENTIONS}")
    scored = conversations.loc[mask, keys].assign(
        correct=conversations.loc[mask, "correct"].astype(float))
    grouped = scored.groupby(keys, dropna=False, sort=True)["correct"]
    return grouped.agg(accuracy="mean", n="size").reset_index()


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
    for key, group in _groups(conversations, by):
        failed = group["failed"].astype(bool)
        row: dict[str, Any] = {**key, "conversations": len(group), "failed": int(failed.sum()),
                               "answered": int((group["answered"].astype(bool) & ~failed).sum())}
        for convention in CONVENTIONS:
            means = question_means(group, convention)["accuracy"].to_numpy()
            mean, se, low, high = mean_ci(means)
            boot_low, boot_high = bootstrap_ci(means, n_boot, seed)
            row.update({f"{convention}_questions": len(means), f"{convention}_mean": mean,
                        f"{convention}_se": se, f"{convention}_lo": low,
                        f"{convention}_hi": high, f"{convention}_boot_lo": boot_low,
                        f"{convention}_boot_hi": boot_high})
        rows.append(row)
    return pd.DataFrame(rows)


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
    w_stat, w_p = _wilcoxon(diff)
    return PairedComparison(
        a=a, b=b, n_questions=n, mean_a=float(x.mean()) if n else math.nan,
        mean_b=float(y.mean()) if n else math.nan, mean_diff=mean, ci_lo=ci_lo, ci_hi=ci_hi,
        t_statistic=t_stat, t_pvalue=t_p, wilcoxon_statistic=w_stat, wilcoxon_pvalue=w_p,
        cohens_dz=mean / sd if n > 1 and sd > 0 else math.nan,
    )


def _wilcoxon(diff: np.ndarray) -> tuple[float, float]:
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
    for key, group in _groups(per_question, ["kind", "model", *_columns(by)]):
        mean, se, low, high = mean_ci(group["accuracy"].to_numpy(float))
        rows.append({**key, "questions": len(group), "mean": mean, "se": se, "lo": low,
                     "hi": high, "valid_mean": float(group["accuracy_valid"].mean())})
    return pd.DataFrame(rows, columns=["kind", "model", *_columns(by), "questions", "mean",
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
              convention: Convention = "answered") -> pd.DataFrame:
    """How well AI-alone per-question accuracy tracks user-AI accuracy (the paper's r / MAE).

    One row per baseline (kind, model) and variant, on the questions both have.

    Returns:
        Columns ``kind``, ``model``, ``variant``, ``same_model`` (the baseline's model is the
        variant's assistant), ``n``, ``r``, ``p``, ``mae``, ``ai_alone``, ``user_ai``.
    """
    columns = ["kind", "model", "variant", "same_model", "n", "r", "p", "mae", "ai_alone",
               "user_ai"]
    ai = baseline_question_means(baselines)
    if ai.empty or conversations.empty:
        return pd.DataFrame(columns=columns)
    user = question_means(conversations, convention, by="variant")
    assistants = _assistant_models(conversations)
    rows = []
    for (kind, model), base in ai.groupby(["kind", "model"], sort=True):
        for variant, mine in user.groupby("variant", sort=True):
            shared = base.merge(mine, on="question_id", suffixes=("_ai", "_user"))
            stats = pearson_mae(shared["accuracy_ai"], shared["accuracy_user"])
            rows.append({"kind": kind, "model": model, "variant": variant,
                         "same_model": model in assistants.get(variant, set()), **stats,
                         "ai_alone": float(shared["accuracy_ai"].mean()),
                         "user_ai": float(shared["accuracy_user"].mean())})
    return pd.DataFrame(rows, columns=columns)


def _assistant_models(conversations: pd.DataFrame) -> dict[str, set[str]]:
    if "model_assistant" not in conversations:
        return {}
    pairs = conversations[["variant", "model_assistant"]].dropna().drop_duplicates()
    out: dict[str, set[str]] = {}
    for variant, model in pairs.itertuples(index=False):
        out.setdefault(variant, set()).add(model)
    return out


# --- latency, tokens, turns -----------------------------------------------------------------


def describe(values: pd.Series | np.ndarray) -> dict[str, float]:
    """``n``, ``mean``, ``median`` and ``p90`` of the non-missing values (NaN when none).

    Example:
        >>> describe(pd.Series([1.0, 2.0, 3.0]))["median"]
        2.0
    """
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return {"n": 0, "mean": math.nan, "median": math.nan, "p90": math.nan}
    return {"n": int(array.size), "mean": float(array.mean()),
            "median": float(np.median(array)), "p90": float(np.percentile(array, 90))}


def node_latency(timings: pd.DataFrame) -> pd.DataFrame:
    """Per graph node: calls, seconds (mean, median, p90) and mean tokens in/out per call."""
    rows = []
    for key, group in _groups(timings, "node"):
        seconds = describe(group["seconds"])
        rows.append({**key, "calls": seconds.pop("n"), **{f"seconds_{k}": v for k, v in
                                                           seconds.items()},
                     "input_tokens_mean": float(group["input_tokens"].astype(float).mean()),
                     "output_tokens_mean": float(group["output_tokens"].astype(float).mean())})
    return pd.DataFrame(rows, columns=["node", "calls", "seconds_mean", "seconds_median",
                                       "seconds_p90", "input_tokens_mean", "output_tokens_mean"])


def conversation_latency(conversations: pd.DataFrame, by: By = "variant") -> pd.DataFrame:
    """Per group: wall seconds per conversation (mean, median, p90, failed included), and
    user turns to accept (accepted conversations only)."""
    rows = []
    for key, group in _groups(conversations, by):
        seconds = describe(group["seconds"])
        accepted = describe(group.loc[group["stop_reason"] == "accepted", "turns"])
        rows.append({**key, "conversations": seconds.pop("n"),
                     **{f"seconds_{k}": v for k, v in seconds.items()},
                     "accepted": accepted.pop("n"),
                     **{f"turns_to_accept_{k}": v for k, v in accepted.items()}})
    return pd.DataFrame(rows)


def token_usage(conversations: pd.DataFrame, by: By = "variant") -> pd.DataFrame:
    """Mean tokens in/out per conversation for each role (unknown counts left out)."""
    rows = []
    for key, group in _groups(conversations, by):
        row: dict[str, Any] = dict(key)
        for column in [f"{role}_{side}_tokens" for role in ROLES for side in ("input", "output")]:
            values = group[column].astype(float) if column in group else pd.Series(dtype=float)
            row[column] = float(values.mean()) if values.notna().any() else math.nan
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
    for key, group in _groups(conversations[~conversations["failed"].astype(bool)], by):
        for rubric in present:
            values = group[rubric].astype(float)
            mean, se, low, high = mean_ci(values.to_numpy())
            rows.append({**key, "rubric": rubric, "conversations": len(group),
                         "scored": int(values.notna().sum()),
                         "missing": int(values.isna().sum()), "mean": mean, "se": se,
                         "lo": low, "hi": high})
    return pd.DataFrame(rows, columns=[*_columns(by), "rubric", "conversations", "scored",
                                       "missing", "mean", "se", "lo", "hi"])


# --- helpers --------------------------------------------------------------------------------


def _columns(by: By) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _groups(frame: pd.DataFrame, by: By) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """(group key as a dict, rows) in sorted order; one ``{}`` group when ``by`` is None."""
    columns = _columns(by)
    if not columns:
        yield {}, frame
        return
    if frame.empty:
        return
    for values, group in frame.groupby(columns, dropna=False, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        yield dict(zip(columns, values, strict=True)), group


def _ratio(count: int, total: int) -> float:
    return count / total if total else math.nan
