"""Interaction outcomes of a conversation (was the assistant wrong at some point, did the user
recover or get misled), from the assistant's choices and the verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from chatbench.scoring.grouping import By, groups_by, ratio

OUTCOMES = (
    "assistant_wrong_at_some_point",
    "recovered",
    "misled",
    "assistant_right_user_wrong",
    "assistant_never_committed",
)
"""Per-conversation interaction outcomes, from the assistant's choices and the verdict."""


NO_CHOICE = "-"
"""How a ``None`` assistant choice is written in the ``assistant_choices`` column."""


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
    for key, group in groups_by(conversations, by):
        scored = group[~group["failed"].astype(bool)]
        row: dict[str, Any] = {**key, "scored": len(scored), "failed": len(group) - len(scored)}
        for outcome in OUTCOMES:
            count = int(scored[outcome].fillna(False).astype(bool).sum())
            row[outcome] = count
            row[f"{outcome}_rate"] = ratio(count, len(scored))
        wrong = row["assistant_wrong_at_some_point"]
        row["recovered_given_wrong"] = ratio(row["recovered"], wrong)
        row["misled_given_wrong"] = ratio(row["misled"], wrong)
        rows.append(row)
    return pd.DataFrame(rows)
