"""Chatbench simulator runs in the paper's analyses: accuracy, agreement with real users and
conversation length, computed as for the release.

A run is one (run id, variant) of a chatbench result store; its conversations are read with
``chatbench.reporting.results.load_results``. A conversation counts when its verdict is
``correct`` or ``wrong``: one with no answer (``no_answer``) or that failed is left out of the
mean, as the authors' scoring leaves out a simulated run with no answer. Runs join the release
on question id (chatbench's ``{subject}-redux-{i}`` / ``{subject}-test-{i}`` ids are the paper's).

Which ChatBench model's users a run is compared with: ``--model`` when given; otherwise the
model the run's assistant names (``openai:gpt-4o``, ``hf:meta-llama/Llama-3.1-8B-Instruct``);
otherwise both, one row each, so that a run on another assistant (a fake or a small local
model) still gets a comparison with each study model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from chatbench.errors import ConfigError
from chatbench.paper._summary import LENGTH_COLUMNS, length_summary, ordered, question_summary
from chatbench.paper.analyses import (
    ACCURACY_COLUMNS,
    AGREEMENT_COLUMNS,
    agreement_row,
    user_ai_by_question,
)
from chatbench.paper.release import MODELS, SUBJECTS

RUN_COLUMNS = ["run", "assistant", "question_id", "subject", "scored", "correct", "failed",
               "chat_turns", "chat_messages"]
SOURCE = "chatbench run"
_SUFFIXES = re.compile(r"(-instruct|-chat|-\d{4}-\d{2}-\d{2})+$")


def load_runs(path: str | Path, run_id: str | None = None) -> pd.DataFrame:
    """A result store's conversations, one row each.

    Args:
        path: The SQLite store written by ``chatbench run`` / ``ablate``.
        run_id: Only this run.

    Returns:
        ``RUN_COLUMNS``: ``run`` is ``{run_id}/{variant}``; ``assistant`` the assistant model;
        ``scored`` whether the verdict is correct or wrong; ``chat_turns`` the user turns that
        reached the assistant (the simulator's final "Answer: X" is picked outside the chat
        in the study, so it is not counted); ``chat_messages`` the chat's messages, both
        sides, without that answer (the conversation the paper's
        ``generate_simulated_conversation`` returns, as its chat length counts them).

    Raises:
        ConfigError: The store is missing, not a store, or has no conversations (of the run).
    """
    from chatbench.reporting.results import load_results

    frame = load_results(path, run_id).conversations
    if frame.empty:
        which = f" of run {run_id!r}" if run_id is not None else ""
        raise ConfigError(f"{path}: no conversations{which} in the store")
    verdict = frame["verdict"].fillna("")
    return pd.DataFrame({
        "run": frame["run_id"] + "/" + frame["variant"],
        "assistant": frame["model_assistant"].fillna(""),
        "question_id": frame["question_id"], "subject": frame["subject"],
        "scored": verdict.isin(["correct", "wrong"]) & ~frame["failed"],
        "correct": (verdict == "correct").astype(float),
        "failed": frame["failed"].astype(bool),
        "chat_turns": frame["assistant_turns"].astype(int),
        "chat_messages": (frame["turns"] + frame["assistant_turns"]
                          - frame["answered"].astype(int)).astype(int),
    }, columns=RUN_COLUMNS)


def chatbench_models(assistant: str, model: str | None = None) -> list[str]:
    """The ChatBench models whose users a run on ``assistant`` is compared with.

    Args:
        assistant: The run's assistant model string.
        model: The model asked for (``--model``); it wins.

    Returns:
        ``[model]``; else the model the assistant's name ends with (after the provider and
        organisation, less ``-instruct``/``-chat``/a date); else every model of ``MODELS``.

    Example:
        >>> chatbench_models("hf:meta-llama/Llama-3.1-8B-Instruct")
        ['llama-3.1-8b']
        >>> chatbench_models("openai:gpt-4o-mini")
        ['gpt-4o', 'llama-3.1-8b']
    """
    if model is not None:
        return [model]
    base = _SUFFIXES.sub("", re.split(r"[:/]", assistant.lower())[-1])
    named = [m for m in MODELS if base == m or base.endswith("-" + m)]
    return named or list(MODELS)


def _groups(runs: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """``(run, assistant, rows)`` in the store's order."""
    keys = runs[["run", "assistant"]].drop_duplicates().itertuples(index=False, name=None)
    return [(run, assistant, runs[(runs["run"] == run) & (runs["assistant"] == assistant)])
            for run, assistant in keys]


def _label(run: str, assistant: str, models: list[str]) -> str:
    """The row label: the run, and its assistant unless that is the one model it stands for."""
    shown = "" if len(models) == 1 and models[0] in assistant.lower() else f" ({assistant})"
    return f"chatbench: {run}{shown}"


def accuracy_rows(runs: pd.DataFrame, model: str | None = None) -> pd.DataFrame:
    """Per-subject accuracy of each run, as ``accuracy_table`` rows.

    A run stands in the ``model`` column for the one ChatBench model it is compared with, or
    under its assistant's name when that is several.

    Returns:
        ``ACCURACY_COLUMNS``.
    """
    rows: list[dict[str, Any]] = []
    for run, assistant, mine in _groups(runs):
        models = chatbench_models(assistant, model)
        shown = models[0] if len(models) == 1 else assistant
        scored = mine[mine["scored"]]
        for subject in ordered(scored["subject"], SUBJECTS):
            part = scored[scored["subject"] == subject]
            rows.append({"model": shown, "subject": subject,
                         "condition": _label(run, assistant, models),
                         **question_summary(part["question_id"], part["correct"])})
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def agreement_rows(runs: pd.DataFrame, answers: pd.DataFrame,
                   model: str | None = None) -> pd.DataFrame:
    """Per-question Pearson r and MAE of each run vs real users' user-AI accuracy.

    Args:
        runs: ``load_runs``.
        answers: Clean user answers of the release.
        model: Compare every run with this ChatBench model (``chatbench_models``).

    Returns:
        ``AGREEMENT_COLUMNS``, one row per run and ChatBench model compared.
    """
    users = user_ai_by_question(answers)
    rows = []
    for run, assistant, mine in _groups(runs):
        scored = mine[mine["scored"]]
        predicted = scored.groupby("question_id", sort=True)["correct"].mean()
        predicted = predicted.rename("accuracy").reset_index()
        models = chatbench_models(assistant, model)
        for name in models:
            rows.append(agreement_row(name, _label(run, assistant, models), predicted,
                                      users[users["model"] == name]))
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def length_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Conversation length of each run (failed conversations left out): messages and user
    turns, as ``length_summary`` counts them.

    Returns:
        ``LENGTH_COLUMNS`` with ``source`` ``chatbench run``, the assistant as ``model`` and
        the run as ``condition``.
    """
    rows = [{"source": SOURCE, "model": assistant, "condition": run,
             **length_summary(mine.loc[~mine["failed"], "chat_messages"],
                              mine.loc[~mine["failed"], "chat_turns"])}
            for run, assistant, mine in _groups(runs)]
    return pd.DataFrame(rows, columns=LENGTH_COLUMNS)
