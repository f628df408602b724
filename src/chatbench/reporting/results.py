"""A result store as pandas DataFrames: conversations, messages, node calls, baselines and a
scenario's criteria.

``load_results`` reads a ``ResultStore`` into a frozen ``Results``; ``export`` writes each
frame to CSV or Parquet. The frames are flat (one value per cell) so that both formats round
trip: a conversation's assistant choices are one string (``"A,-,C"``, see
``chatbench.scoring.stats.format_choices``) and its models both one ``models`` string and one
``model_<role>`` column per role, with the identity the run stored for each
(``model_identity_<role>``: a model string with its dtype, an object with its parameters).

Conversations are grouped by run and variant, never by variant name alone: two runs of the
``quick`` graph with different assistants are two groups. Each conversation's ``group`` is
its group's label (``group_labels``), what the report's tables and figures key on;
``pool_runs`` pools the runs of each variant name instead, when asked (``report --pool``).

A conversation's ``task`` says what it worked on: a multiple-choice ``question``, or an
open-ended ``scenario`` (its ``correct`` is its success, every criterion met; its ``answered``
that every criterion was decided). ``question_part`` and ``scenario_part`` split the frames
by task, so that the report never scores one as the other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from chatbench._files import output_folder, writing
from chatbench._text import encodable
from chatbench.datatypes import StopReason
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.records import ConversationRecord
from chatbench.scoring.stats import OUTCOMES, ROLES, RUBRICS, format_choices, role_of
from chatbench.scoring.stats import interaction_outcomes as _interaction_outcomes
from chatbench.storage import ResultStore

ExportFormat = Literal["csv", "parquet"]
FRAMES = ("conversations", "turns", "timings", "baselines")
"""The frames every store has (``Results.frames``; ``criteria`` too where it has rows)."""
SCENARIO = "scenario"
"""The ``task`` of a scenario's conversation (a question's is ``question``)."""
GROUP = "group"
"""The conversations' column that the report groups by: the label of (run id, variant)."""
LABEL_ROLES = ("assistant", "user", "judge")
"""The order in which a group label names the models that tell groups apart."""
Identities = Mapping[tuple[str, str], Mapping[str, str]]
"""(run id, variant) -> role -> the model identity the run stored."""

CONVERSATION_COLUMNS = [
    "id", "run_id", "variant", GROUP, "question_id", "subject", "task", "replicate", "seed",
    "models",
    "model_user", "model_assistant", "model_judge",
    *[f"model_identity_{role}" for role in ROLES], "persona", "final_choice", "invalid_answer",
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
CRITERION_COLUMNS = ["conversation_id", "run_id", "variant", "question_id", "replicate",
                     "index", "criterion", "passed", "reason", "raw"]
"""Columns of ``Results.criteria``: one row per criterion of a scenario's conversation,
``index`` its place in the scenario's list, ``passed`` True, False or None (undecided)."""


def _no_criteria() -> pd.DataFrame:
    return pd.DataFrame(columns=CRITERION_COLUMNS)


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
        pooled: The runs of each variant name are pooled (``pool_runs``): each
            conversation's ``group`` is its variant's name, not its run's and variant's.
        criteria: One row per success criterion of each scenario conversation
            (``CRITERION_COLUMNS``); empty when no conversation is a scenario's.
    """

    conversations: pd.DataFrame
    turns: pd.DataFrame
    timings: pd.DataFrame
    baselines: pd.DataFrame
    pooled: bool = False
    criteria: pd.DataFrame = field(default_factory=_no_criteria)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Frame name -> frame, in ``FRAMES`` order, then ``criteria`` when it has rows."""
        frames = {name: getattr(self, name) for name in FRAMES}
        return frames | ({"criteria": self.criteria} if len(self.criteria) else {})


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
        identities = _stored_identities(store, {r.run_id for r in records})
    return results_from_records(records, baselines, identities)


def results_from_records(records: Iterable[ConversationRecord],
                         baselines: Iterable[Any] = (),
                         identities: Identities | None = None) -> Results:
    """Build the frames from records in memory (what ``load_results`` does after reading).

    Args:
        records: Conversation records.
        baselines: Baseline records (pydantic models, dataclasses or dicts).
        identities: (run id, variant) -> role -> the model identity the run stored; a
            record with none there gets its model names.

    Returns:
        The ``Results``.
    """
    records = list(records)
    return Results(
        conversations=conversations_frame(records, identities),
        turns=pd.DataFrame([row for r in records for row in _turn_rows(r)],
                           columns=TURN_COLUMNS),
        timings=pd.DataFrame([row for r in records for row in _timing_rows(r)],
                             columns=TIMING_COLUMNS),
        baselines=_baselines_frame([_as_dict(b) for b in baselines]),
        criteria=pd.DataFrame([row for r in records for row in _criterion_rows(r)],
                              columns=CRITERION_COLUMNS),
    )


def conversations_frame(records: Sequence[ConversationRecord],
                        identities: Identities | None = None) -> pd.DataFrame:
    """One row per record, with the interaction outcome columns and each row's ``group``."""
    rows = [_conversation_row(r, (identities or {}).get((r.run_id, r.variant), {}))
            for r in records]
    factors = sorted({k for row in rows for k in row if k.startswith("factor_")})
    at = CONVERSATION_COLUMNS.index("variant") + 1
    columns = [c for c in CONVERSATION_COLUMNS if c not in OUTCOMES]
    columns = columns[:at] + factors + columns[at:]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("correct", "answered", "failed"):
        frame[column] = frame[column].astype(bool)
    for column in RUBRICS:
        frame[column] = frame[column].astype(float)
    frame[GROUP] = group_labels(frame)
    return pd.concat([frame, _interaction_outcomes(frame)], axis=1)


def _conversation_row(record: ConversationRecord,
                      identity: Mapping[str, str]) -> dict[str, Any]:
    failed = record.stop_reason is StopReason.ERROR
    row: dict[str, Any] = {
        "id": record.id, "run_id": record.run_id, "variant": record.variant,
        **{f"factor_{k}": _cell(v) for k, v in record.factors.items()},
        "question_id": record.question_id, "subject": record.subject, "task": record.task,
        "replicate": record.replicate, "seed": record.seed,
        "models": ", ".join(f"{role}={name}" for role, name in record.models.items()),
        **{f"model_{role}": record.models.get(role) for role in ROLES},
        **{f"model_identity_{role}": identity.get(role) or record.models.get(role)
           for role in ROLES},
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
        calls = [t for t in record.timings if role_of(t) == role]
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


def _criterion_rows(record: ConversationRecord) -> list[dict[str, Any]]:
    return [{"conversation_id": record.id, "run_id": record.run_id, "variant": record.variant,
             "question_id": record.question_id, "replicate": record.replicate, "index": index,
             "criterion": result.criterion, "passed": result.passed, "reason": result.reason,
             "raw": result.raw}
            for index, result in enumerate(record.criteria)]


def tool_calls(record: ConversationRecord) -> int:
    """How many tools an app called in the conversation (over its assistant turns' steps)."""
    return sum(len(step.get("tool_calls") or ()) for turn in record.transcript
               for step in turn.steps)


def _timing_rows(record: ConversationRecord) -> list[dict[str, Any]]:
    return [{"conversation_id": record.id, "run_id": record.run_id, "variant": record.variant,
             "question_id": record.question_id, "call": call, "node": t["node"],
             "role": role_of(t), "seconds": t["seconds"],
             "input_tokens": math.nan if t["input_tokens"] is None else t["input_tokens"],
             "output_tokens": math.nan if t["output_tokens"] is None else t["output_tokens"]}
            for call, t in enumerate(record.timings)]


# --- groups: run and variant ----------------------------------------------------------------


def run_groups(conversations: pd.DataFrame) -> pd.DataFrame:
    """One row per (run id, variant) of the conversations, sorted by run id then variant.

    Args:
        conversations: Needs ``run_id`` and ``variant``; the ``model_<role>`` and
            ``model_identity_<role>`` columns where there are any.

    Returns:
        Columns ``run_id``, ``variant``, ``conversations``, ``model_<role>``,
        ``model_identity_<role>`` (several values in a group joined by `` | ``; None when
        unknown) and ``label`` (see ``group_labels``).
    """
    columns = ["run_id", "variant", "conversations", *[f"model_{r}" for r in ROLES],
               *[f"model_identity_{r}" for r in ROLES], "label"]
    if conversations.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (run_id, variant), group in conversations.groupby(["run_id", "variant"], sort=True,
                                                          dropna=False):
        row: dict[str, Any] = {"run_id": run_id, "variant": variant,
                               "conversations": len(group)}
        for role in ROLES:
            name = _distinct(group.get(f"model_{role}"))
            row[f"model_{role}"] = name
            row[f"model_identity_{role}"] = _distinct(group.get(f"model_identity_{role}")) or name
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns[:-1])
    frame["label"] = _labels(frame)
    return frame


def group_labels(conversations: pd.DataFrame) -> pd.Series:
    """Per conversation, the label of its (run id, variant) group.

    With one run, a group's label is its variant's name (as reports always showed it). With
    several, it is ``run-id/variant``, followed by the models that tell the groups apart,
    ``(assistant=..., user=...)``: a role whose model is the same in every group is left
    out, so labels stay short; a role is named by its model names, or by the stored model
    identities where the names alone are ambiguous (one name, two dtypes).

    Example:
        >>> frame = pd.DataFrame({"run_id": ["r1", "r2"], "variant": ["quick", "quick"],
        ...                       "model_assistant": ["a", "b"], "model_user": ["u", "u"]})
        >>> group_labels(frame).tolist()
        ['r1/quick (assistant=a)', 'r2/quick (assistant=b)']
    """
    if conversations.empty:
        return pd.Series([], index=conversations.index, dtype=object)
    groups = run_groups(conversations)
    label = {(r, v): lab for r, v, lab in groups[["run_id", "variant", "label"]].itertuples(
        index=False)}
    return pd.Series([label[key] for key in zip(conversations["run_id"],
                                                conversations["variant"], strict=True)],
                     index=conversations.index, dtype=object)


def _distinct(values: pd.Series | None) -> str | None:
    if values is None:
        return None
    seen = [str(v) for v in dict.fromkeys(values.dropna())]
    return " | ".join(seen) if seen else None


def _labels(groups: pd.DataFrame) -> list[str]:
    """The label of each row of ``run_groups`` (before its ``label`` column)."""
    if groups["run_id"].nunique() <= 1:
        return [str(v) for v in groups["variant"]]
    shown = []
    for role in LABEL_ROLES:
        names, ids = groups[f"model_{role}"].fillna("?"), groups[f"model_identity_{role}"].fillna(
            "?")
        if ids.nunique() <= 1 and names.nunique() <= 1:
            continue  # the same model in every group: the label need not say it
        pairs = len(set(zip(names, ids, strict=True)))
        shown.append((role, names if pairs == names.nunique() else ids))
    labels = []
    for index, (run_id, variant) in enumerate(zip(groups["run_id"], groups["variant"],
                                                  strict=True)):
        models = ", ".join(f"{role}={values.iloc[index]}" for role, values in shown)
        labels.append(f"{run_id}/{variant}" + (f" ({models})" if models else ""))
    return labels


def pool_runs(results: Results) -> Results:
    """The same frames with the runs of each variant name pooled: each conversation's
    ``group`` becomes its variant's name (what ``report --pool`` shows).

    Example:
        >>> frame = pd.DataFrame({"run_id": ["r1", "r2"], "variant": ["quick", "quick"],
        ...                       "group": ["r1/quick", "r2/quick"]})
        >>> empty = pd.DataFrame()
        >>> pool_runs(Results(frame, empty, empty, empty)).conversations["group"].tolist()
        ['quick', 'quick']
    """
    conv = results.conversations.copy()
    conv[GROUP] = conv["variant"].astype(object) if len(conv) else pd.Series(dtype=object)
    return replace(results, conversations=conv, pooled=True)


def with_groups(conversations: pd.DataFrame) -> pd.DataFrame:
    """``conversations`` with its ``group`` column; added (unpooled) when missing, as in a
    frame built by hand."""
    if GROUP in conversations:
        return conversations
    frame = conversations.copy()
    if "run_id" not in frame:
        frame["run_id"] = ""
    frame[GROUP] = group_labels(frame) if len(frame) else pd.Series(dtype=object)
    return frame


# --- tasks: questions and scenarios ---------------------------------------------------------


def is_scenario(conversations: pd.DataFrame) -> pd.Series:
    """Per conversation, whether it is a scenario's; all False for a frame without ``task``
    (one built by hand, or by an older chatbench: questions)."""
    if "task" not in conversations:
        return pd.Series(False, index=conversations.index, dtype=bool)
    return conversations["task"] == SCENARIO


def _task_part(results: Results, scenarios: bool) -> Results:
    """The frames of the scenario conversations (``scenarios``) or of the others; AI-alone
    baselines answer questions, so only the question part keeps them."""
    conv = results.conversations
    kept = conv[is_scenario(conv) == scenarios]
    ids = set(kept["id"])

    def of_kept(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["conversation_id"].isin(ids)] if len(frame) else frame

    return replace(results, conversations=kept, turns=of_kept(results.turns),
                   timings=of_kept(results.timings), criteria=of_kept(results.criteria),
                   baselines=results.baselines if not scenarios
                   else results.baselines.iloc[0:0])


def question_part(results: Results) -> Results:
    """``results`` less its scenario conversations: what the question tables and figures
    read; ``results`` itself when it holds none, so a question run's report is unchanged."""
    if not is_scenario(results.conversations).any():
        return results
    return _task_part(results, scenarios=False)


def scenario_part(results: Results) -> Results:
    """The scenario conversations of ``results`` with their turns, timings and criteria."""
    return _task_part(results, scenarios=True)


def _stored_identities(store: ResultStore, run_ids: Iterable[str]) -> dict[tuple[str, str],
                                                                         dict[str, str]]:
    """(run id, variant) -> role -> the model identity each run stored; runs stored without
    an identity (an older chatbench) or with one this version cannot read are left out."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for run_id in sorted(run_ids):
        try:
            data = json.loads(store.run_identity(run_id) or "null")
        except ValueError:
            continue
        variants = data.get("variants") if isinstance(data, dict) else None
        for variant, identity in (variants or {}).items():
            models = identity.get("models") if isinstance(identity, dict) else None
            if isinstance(models, dict):  # as records store text: lone surrogates escaped
                out[(run_id, encodable(str(variant)))] = {
                    encodable(str(k)): encodable(str(v)) for k, v in models.items()}
    return out


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
                spreadsheet_safe(frame).to_csv(target, index=False)
            else:
                _parquet_ready(frame).to_parquet(target, index=False)
        written.append(target)
    return written


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a CSV cell as a formula (OWASP, "CSV injection")."""


_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _formula_like(value: object) -> bool:
    """A text cell a spreadsheet would run: it starts with ``FORMULA_STARTS`` and is more
    than that one character and not a plain number (``-`` and ``-2`` are data)."""
    return (isinstance(value, str) and value.startswith(FORMULA_STARTS) and len(value) > 1
            and _PLAIN_NUMBER.fullmatch(value) is None)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell a spreadsheet would run as a formula (``=cmd|calc``,
    ``+1+1``, ``-2+3``, ``@SUM``, a leading tab or CR) prefixed with ``'``, so Excel,
    LibreOffice and Sheets show it as text (OWASP's rule for CSV injection); numbers, a lone
    ``-`` and every other cell are unchanged. Only CSV needs this: Parquet keeps types."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        risky = values.map(_formula_like)
        if risky.any():
            out[column] = values.where(~risky, "'" + values.astype(str))
    return out


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
