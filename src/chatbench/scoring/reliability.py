"""Reliability over replicates: pass^k over tasks, and a pass rate with its CI, from counts.

tau2-bench's pass^k (``pass_hat_k`` in ``tau2/metrics/agent_metrics.py``): a task tried ``n``
times with ``c`` successes passes k tries drawn without replacement with chance
``C(c, k) / C(n, k)``; a run's pass^k is the mean of that over its tasks, for k from 1 (the
success rate) up to the fewest tries of any task. Every function here is pure, over
``(trials, successes)`` counts; the per-task chance is ``accuracy.pass_hat_k``, the one
definition chatbench has. pass^k's CI over tasks is ``accuracy.mean_ci``'s (mean +/- 1.96
SE, sample std), the convention of chatbench's accuracy; one proportion's (``pass_rate``, a
criterion's passes over its conversations) is the Wilson score interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chatbench.scoring.accuracy import mean_ci, pass_hat_k

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
