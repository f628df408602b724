"""Reliability over replicates: pass^k over tasks (questions or scenarios), and a pass rate
with its CI.

tau2-bench's pass^k (``pass_hat_k`` in ``tau2/metrics/agent_metrics.py``): a task tried ``n``
times with ``c`` successes passes k tries drawn without replacement with chance
``C(c, k) / C(n, k)``; a run's pass^k is the mean of that over its tasks, for k from 1 (the
success rate) up to the fewest tries of any task. ``pass_hat_k_curve`` computes it from
``(trials, successes)`` counts, ``reliability`` from a conversations frame by group. pass^k's
CI over tasks is ``accuracy.mean_ci``'s (mean +/- 1.96 SE, sample std), the convention of
chatbench's accuracy; one proportion's (``pass_rate``, a criterion's passes over its
conversations) is the Wilson score interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from chatbench.scoring.accuracy import mean_ci, question_totals
from chatbench.scoring.grouping import By, group_columns, groups_by


def pass_hat_k(trials: int, successes: int, k: int) -> float:
    """tau-bench's pass^k of one task: the chance that ``k`` of its ``trials`` drawn without
    replacement all succeed, ``C(successes, k) / C(trials, k)`` (pass^1 is the success rate).

    Example:
        >>> pass_hat_k(4, 3, 1), pass_hat_k(4, 3, 2), pass_hat_k(4, 3, 4)
        (0.75, 0.5, 0.0)
    """
    if not 1 <= k <= trials:
        raise ValueError(f"pass^k needs 1 <= k <= trials, got k={k}, trials={trials}")
    return math.comb(successes, k) / math.comb(trials, k)


Counts = Sequence[tuple[int, int]]
"""Per task, ``(trials, successes)``: its scored tries and how many succeeded."""


@dataclass(frozen=True)
class PassHatK:
    """pass^k of a group of tasks for one k, with the 95% CI over tasks (NaN with one)."""

    k: int
    tasks: int
    mean: float
    lo: float
    hi: float


def check_counts(counts: Counts) -> None:
    """Refuse counts no task can have.

    Raises:
        ValueError: Negative trials, or successes outside ``0..trials``.

    Example:
        >>> check_counts([(3, 4)])
        Traceback (most recent call last):
        ...
        ValueError: a task has 4 successes in 3 trials; need 0 <= successes <= trials
    """
    for trials, successes in counts:
        if trials < 0 or not 0 <= successes <= trials:
            raise ValueError(f"a task has {successes} successes in {trials} trials; need "
                             "0 <= successes <= trials")


def max_k(counts: Counts) -> int:
    """The largest k pass^k has for these tasks: the fewest trials of a task (0 for none);
    a task with no trial (every try failed before scoring) is left out.

    Example:
        >>> max_k([(4, 2), (3, 3), (0, 0)]), max_k([])
        (3, 0)
    """
    check_counts(counts)
    tried = [trials for trials, _ in counts if trials > 0]
    return min(tried) if tried else 0


def pass_hat_k_mean(counts: Counts, k: int) -> PassHatK:
    """pass^k averaged over the tasks with at least one trial.

    Raises:
        ValueError: ``k`` outside ``1..max_k(counts)``.

    Example:
        >>> p = pass_hat_k_mean([(4, 2), (4, 4)], 2)   # (1/6 + 1) / 2
        >>> round(p.mean, 4), p.tasks
        (0.5833, 2)
    """
    most = max_k(counts)
    if not 1 <= k <= most:
        raise ValueError(f"pass^k needs 1 <= k <= {most} (the fewest trials), got k={k}")
    values = [pass_hat_k(trials, successes, k) for trials, successes in counts if trials > 0]
    mean, _, low, high = mean_ci(values)
    return PassHatK(k=k, tasks=len(values), mean=mean, lo=low, hi=high)


def pass_hat_k_curve(counts: Counts) -> list[PassHatK]:
    """pass^k for every k from 1 to ``max_k(counts)``; empty without a trial.

    pass^1 is the success rate (mean over tasks of successes / trials), and pass^k never
    grows with k.

    Example:
        >>> [round(p.mean, 4) for p in pass_hat_k_curve([(4, 2)])]   # 2/4, 1/6, 0, 0
        [0.5, 0.1667, 0.0, 0.0]
        >>> [round(p.mean, 4) for p in pass_hat_k_curve([(4, 3), (2, 2)])]
        [0.875, 0.75]
    """
    return [pass_hat_k_mean(counts, k) for k in range(1, max_k(counts) + 1)]


def pass_rate(successes: int, trials: int) -> tuple[float, float, float]:
    """``successes / trials`` with its 95% Wilson score interval (``scipy.stats.binomtest``):
    within [0, 1] and not collapsed to a point when every trial agrees, as a normal interval
    over a few 0/1 outcomes would be; all NaN without a trial.

    Example:
        >>> [round(x, 3) for x in pass_rate(2, 4)]
        [0.5, 0.15, 0.85]
        >>> [round(x, 3) for x in pass_rate(3, 3)]
        [1.0, 0.439, 1.0]
    """
    from scipy.stats import binomtest

    check_counts([(trials, successes)])
    if trials == 0:
        return math.nan, math.nan, math.nan
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95,
                                                          method="wilson")
    return successes / trials, float(interval.low), float(interval.high)


def reliability(conversations: pd.DataFrame, by: By = "variant", *,
                needs_replicates: bool = True) -> pd.DataFrame:
    """pass^k of each group for k = 1 up to the fewest scored replicates of its tasks
    (``pass_hat_k_curve`` of each task's scored and correct conversations: all k tries of a
    question right, or of a scenario successful), failed conversations left out, no answer
    counted wrong; with a 95% CI over tasks (mean +/- 1.96 SE).

    Args:
        conversations: The conversations frame.
        by: The grouping columns.
        needs_replicates: Questions: a group has rows only when every question was scored
            more than once (pass^1 alone is the accuracy table). False (scenarios): a row
            for each k the group's tried tasks allow, pass^1 included, tasks whose every
            try failed left out.

    Returns:
        Columns: the ``by`` columns, ``k``, ``questions`` (tasks), ``mean``, ``lo``, ``hi``.
    """
    rows = []
    for key, group in groups_by(conversations, by):
        totals = question_totals(group)
        counts = list(zip(totals["scored"].astype(int), totals["correct"].astype(int),
                          strict=True))
        if needs_replicates and min((n for n, _ in counts), default=0) <= 1:
            continue
        rows.extend({**key, "k": p.k, "questions": p.tasks, "mean": p.mean, "lo": p.lo,
                     "hi": p.hi} for p in pass_hat_k_curve(counts))
    return pd.DataFrame(rows, columns=[*group_columns(by), "k", "questions", "mean", "lo",
                                       "hi"])
