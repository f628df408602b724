"""Grouping the frames of an evaluation: the ``by`` argument of every statistic, and the groups it
makes."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

By = str | Sequence[str] | None


# --- helpers --------------------------------------------------------------------------------


def group_columns(by: By) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def groups_by(frame: pd.DataFrame, by: By) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """(group key as a dict, rows) in sorted order; one ``{}`` group when ``by`` is None."""
    columns = group_columns(by)
    if not columns:
        yield {}, frame
        return
    if frame.empty:
        return
    for values, group in frame.groupby(columns, dropna=False, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        yield dict(zip(columns, values, strict=True)), group


def ratio(count: int, total: int) -> float:
    return count / total if total else math.nan
