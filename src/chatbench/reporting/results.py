"""A result store as pandas DataFrames: conversations, messages, node calls and baselines.

``load_results`` reads a ``ResultStore`` into a frozen ``Results``; ``export`` writes each
frame to CSV or Parquet. The frames are flat (one value per cell) so that both formats round
trip: a conversation's assistant choices are one string (``"A,-,C"``, see
``chatbench.scoring.stats.format_choices``) and its models both one ``models`` string and one
``model_<role>`` column per role.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from chatbench._files import output_folder, writing
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.records import ConversationRecord
from chatbench.scoring.stats import OUTCOMES, ROLE_OF_NODE, ROLES, RUBRICS, format_choices
from chatbench.scoring.stats import interaction_outcomes as _interaction_outcomes
from chatbench.state import StopReason
from chatbench.storage import ResultStore

ExportFormat = Literal["csv", "parquet"]
FRAMES = ("conversations", "turns", "timings", "baselines")

CONVERSATION_COLUMNS = [
    "id", "run_id", "variant", "question_id", "subject", "replicate", "seed", "models",
    "model_user", "model_assistant", "model_judge", "persona", "final_choice", "invalid_answer",
    "correct_answer",
    "verdict", "correct", "answered", "stop_reason", "failed", "error", "turns",
    "assistant_turns", "assistant_steps", "tool_calls", "assistant_choices", "seconds",
    *[f"{role}_{side}_tokens" for role in ROLES for side in ("input", "output")],
    *RUBRICS, *OUTCOMES,
]
"""Columns of ``Results.conversations`` besides the ``factor_<name>`` ones (after ``variant``)."""
TURN_COLUMNS = ["conversation_id", "run_id", "variant", "question_id", "index", "role",
                "turn", "content", "scratchpad", "assistant_choice", "steps"]
TIMING_COLUMNS = ["conversation_id", "run_id", "variant", "question_id", "call", "node", "role",
                  "seconds", "input_tokens", "output_tokens"]
BASELINE_COLUMNS = ["run_id", "kind", "question_id", "subject", "model", "choice", "valid",
                    "correct"]


@dataclass(frozen=True)
class Results:
    """The frames of one store (or one run of it).

    Attributes:
        conversations: One row per conversation record (``CONVERSATION_COLUMNS`` plus
            ``factor_<name>`` columns and the interaction outcomes of ``chatbench.scoring.stats``).
        turns: One row per transcript message, with the user's scratchpad note beside the
            user turn it belongs to, the assistant's choice beside each assistant turn, and
            an app's inner steps (``steps``: JSON text, None when it took none).
        timings: One row per node call.
        baselines: One row per AI-alone baseline answer; empty when the store has none.
    """

    conversations: pd.DataFrame
    turns: pd.DataFrame
    timings: pd.DataFrame
    baselines: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """Frame name -> frame, in ``FRAMES`` order."""
        return {name: getattr(self, name) for name in FRAMES}


def load_results(path: str | Path, run_id: str | None = None) -> Results:
    """Read a result store into DataFrames.

    Args:
        path: The SQLite store.
        run_id: Only this run's conversations (baselines are always all kept).

    Returns:
        The ``Results``.

    The store is opened read-only: it is neither created nor changed. A row that cannot be
    read is skipped, with a logged warning naming it (``ResultStore.records``).

    Raises:
        ConfigError: The file does not exist or is not a result store.
    """
    with ResultStore(path, read_only=True) as store:
        records = list(store.records(run_id))
        baselines = _stored_baselines(store)
    return results_from_records(records, baselines)


def results_from_records(records: Iterable[ConversationRecord],
                         baselines: Iterable[Any] = ()) -> Results:
    """Build the frames from records in memory (what ``load_results`` does after reading).

    Args:
        records: Conversation records.
        baselines: Baseline records (pydantic models, dataclasses or dicts).

    Returns:
        The ``Results``.
    """
    records = list(records)
    return Results(
        conversations=conversations_frame(records),
        turns=pd.DataFrame([row for r in records for row in _turn_rows(r)],
                           columns=TURN_COLUMNS),
        timings=pd.DataFrame([row for r in records for row in _timing_rows(r)],
                             columns=TIMING_COLUMNS),
        baselines=_baselines_frame([_as_dict(b) for b in baselines]),
    )


def conversations_frame(records: Sequence[ConversationRecord]) -> pd.DataFrame:
    """One row per record, with the interaction outcome columns."""
    rows = [_conversation_row(r) for r in records]
    factors = sorted({k for row in rows for k in row if k.startswith("factor_")})
    at = CONVERSATION_COLUMNS.index("variant") + 1
    columns = [c for c in CONVERSATION_COLUMNS if c not in OUTCOMES]
    columns = columns[:at] + factors + columns[at:]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("correct", "answered", "failed"):
        frame[column] = frame[column].astype(bool)
    for column in RUBRICS:
        frame[column] = frame[column].astype(float)
    return pd.concat([frame, _interaction_outcomes(frame)], axis=1)


def _conversation_row(record: ConversationRecord) -> dict[str, Any]:
    failed = record.stop_reason is StopReason.ERROR
    row: dict[str, Any] = {
        "id": record.id, "run_id": record.run_id, "variant": record.variant,
        **{f"factor_{k}": _cell(v) for k, v in record.factors.items()},
        "question_id": record.question_id, "subject": record.subject,
        "replicate": record.replicate, "seed": record.seed,
        "models": ", ".join(f"{role}={name}" for role, name in record.models.items()),
        **{f"model_{role}": record.models.get(role) for role in ROLES},
        "persona": record.persona, "final_choice": record.final_choice,
        "invalid_answer": record.invalid_answer, "correct_answer": record.correct_answer,
        "verdict": record.verdict,
        "correct": record.verdict == "correct",
        "answered": not failed and record.answered,
        "stop_reason": record.stop_reason.value, "failed": failed, "error": record.error,
        "turns": record.turns,
        "assistant_turns": sum(t.role == "assistant" for t in record.transcript),
        "assistant_steps": sum(len(t.steps) for t in record.transcript),
        "tool_calls": tool_calls(record),
        "assistant_choices": format_choices(record.assistant_choices),
        "seconds": record.seconds,
    }
    row.update(_role_tokens(record))
    for name in RUBRICS:
        judgement = record.judgements.get(name)
        score = judgement.score if judgement is not None else None
        row[name] = math.nan if score is None else float(score)
    return row


def _role_tokens(record: ConversationRecord) -> dict[str, float]:
    """Tokens in/out per role; NaN when no call of that role reported a count."""
    out: dict[str, float] = {}
    for role in ROLES:
        calls = [t for t in record.timings if ROLE_OF_NODE.get(t["node"], t["node"]) == role]
        for side in ("input", "output"):
            known = [t[f"{side}_tokens"] for t in calls if t[f"{side}_tokens"] is not None]
            out[f"{role}_{side}_tokens"] = float(sum(known)) if known else math.nan
    return out


def _turn_rows(record: ConversationRecord) -> list[dict[str, Any]]:
    cot = bool(record.spec.get("user_cot"))
    base = {"conversation_id": record.id, "run_id": record.run_id, "variant": record.variant,
            "question_id": record.question_id}
    rows, counts = [], {"user": 0, "assistant": 0}
    for index, message in enumerate(record.transcript):
        turn = counts[message.role]
        counts[message.role] += 1
        note = record.scratchpad[turn] if cot and message.role == "user" and turn < len(
            record.scratchpad) else None
        choice = (record.assistant_choices[turn] if message.role == "assistant"
                  and turn < len(record.assistant_choices) else None)
        rows.append({**base, "index": index, "role": message.role, "turn": turn,
                     "content": message.content, "scratchpad": note, "assistant_choice": choice,
                     "steps": json.dumps(message.steps) if message.steps else None})
    return rows


def tool_calls(record: ConversationRecord) -> int:
    """How many tools an app called in the conversation (over its assistant turns' steps)."""
    return sum(len(step.get("tool_calls") or ()) for turn in record.transcript
               for step in turn.steps)


def _timing_rows(record: ConversationRecord) -> list[dict[str, Any]]:
    return [{"conversation_id": record.id, "run_id": record.run_id, "variant": record.variant,
             "question_id": record.question_id, "call": call, "node": t["node"],
             "role": ROLE_OF_NODE.get(t["node"], t["node"]), "seconds": t["seconds"],
             "input_tokens": math.nan if t["input_tokens"] is None else t["input_tokens"],
             "output_tokens": math.nan if t["output_tokens"] is None else t["output_tokens"]}
            for call, t in enumerate(record.timings)]


def _stored_baselines(store: ResultStore) -> list[Any]:
    """The store's AI-alone baseline records, if this version of the store keeps any."""
    reader = getattr(store, "baselines", None)
    return list(reader()) if callable(reader) and store.has_table("baselines") else []


def _baselines_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    extra = sorted({k for row in rows for k in row} - set(BASELINE_COLUMNS))
    frame = pd.DataFrame([{k: _cell(v) for k, v in row.items()} for row in rows],
                         columns=BASELINE_COLUMNS + extra)
    return frame


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "__dataclass_fields__"):
        return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
    return dict(vars(obj))


def _cell(value: Any) -> Any:
    """A value a CSV/Parquet cell can hold: scalars as they are, anything else as JSON."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, default=str, sort_keys=True)


# --- export ---------------------------------------------------------------------------------


def export(path: str | Path, out_dir: str | Path, fmt: ExportFormat = "csv",
           run_id: str | None = None) -> list[Path]:
    """Write each frame of a store to ``out_dir/<frame>.<fmt>``.

    Args:
        path: The SQLite store.
        out_dir: Folder to write into (created if missing).
        fmt: ``csv`` or ``parquet`` (needs the ``parquet`` extra: pyarrow).
        run_id: Only this run's conversations.

    Returns:
        The files written, in ``FRAMES`` order.

    Raises:
        ConfigError: Unknown format, a missing/bad store, or an output folder that cannot
            be written (a file, read-only).
        MissingDependencyError: Parquet without pyarrow.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"unknown export format {fmt!r}; use csv or parquet")
    if fmt == "parquet":
        _require_pyarrow()
    results = load_results(path, run_id)
    folder = output_folder(Path(out_dir), "the exported tables")
    written = []
    for name, frame in results.frames().items():
        target = folder / f"{name}.{fmt}"
        with writing(target, "the exported table"):
            if fmt == "csv":
                frame.to_csv(target, index=False)
            else:
                _parquet_ready(frame).to_parquet(target, index=False)
        written.append(target)
    return written


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingDependencyError("Parquet export", extra="parquet") from None


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (a factor that is sometimes a bool, sometimes a name)
    become strings: Parquet columns have one type."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype != object:
            continue
        kinds = {type(v) for v in out[column].dropna()}
        if len(kinds) > 1:
            out[column] = out[column].map(lambda v: v if v is None or v != v else str(v))
    return out
