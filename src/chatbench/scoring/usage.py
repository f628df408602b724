"""What an evaluation cost: seconds per node call and per conversation, user turns to accept,
and tokens per role."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from chatbench.config import ROLES
from chatbench.scoring.grouping import By, groups_by

ROLE_OF_NODE = {"user": "user", "user_cot": "user", "force_answer": "user",
                "user_feedback": "user", "assistant": "assistant", "judge": "judge"}
"""Graph node -> the role whose model it calls (tokens and latency per role)."""


def role_of(timing: Mapping[str, Any]) -> str:
    """The role whose model a timed call used: as recorded at the call, or, in a record
    stored before calls recorded it, ``role_of_node`` of its node."""
    role = timing.get("role")
    return role if isinstance(role, str) and role else role_of_node(str(timing["node"]))


def role_of_node(node: str) -> str:
    """The role whose model a timed call used: ``ROLE_OF_NODE`` of the node, where a rubric
    judgement ``judge:<rubric>`` is the judge's; a node of a user's own graph is its own role.

    Example:
        >>> role_of_node("judge:coherence"), role_of_node("user_feedback")
        ('judge', 'user')
    """
    return ROLE_OF_NODE.get(node.partition(":")[0], node)


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
    for key, group in groups_by(timings, "node"):
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
    for key, group in groups_by(conversations, by):
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
    for key, group in groups_by(conversations, by):
        row: dict[str, Any] = dict(key)
        for column in [f"{role}_{side}_tokens" for role in ROLES for side in ("input", "output")]:
            values = group[column].astype(float) if column in group else pd.Series(dtype=float)
            row[column] = float(values.mean()) if values.notna().any() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
