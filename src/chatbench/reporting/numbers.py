"""Numbers as the scorecard's terminal tables and HTML page print them: ``-`` for a missing
value, a CI in brackets when there is one."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def number(value: float | None, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; ``-`` for None or NaN.

    Example:
        >>> number(0.5), number(float("nan"))
        ('0.500', '-')
    """
    return "-" if _missing(value) else f"{value:.{digits}f}"


def with_ci(value: float | None, ci: Sequence[float | None] | None = None,
            digits: int = 3) -> str:
    """``value [low, high]``; the value alone when the CI is missing; ``-`` without a value.

    Example:
        >>> with_ci(0.5, (0.25, 0.75), 2), with_ci(0.5, (float("nan"), float("nan")))
        ('0.50 [0.25, 0.75]', '0.500')
    """
    if ci is None or _missing(ci[0]) or _missing(value):
        return number(value, digits)
    return f"{number(value, digits)} [{number(ci[0], digits)}, {number(ci[1], digits)}]"
