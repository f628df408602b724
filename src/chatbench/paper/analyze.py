"""Every analysis of the paper at once, on a release and optionally on chatbench runs
(``chatbench paper DATA_DIR [--runs STORE]``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chatbench.errors import ConfigError
from chatbench.paper import runs as run_analyses
from chatbench.paper._summary import ordered
from chatbench.paper.analyses import (
    AnswerSource,
    accuracy_table,
    agreement_table,
    length_table,
    transitions,
)
from chatbench.paper.cleaning import ATTENTION_CHECK_IDS, CleaningStep, clean_user_answers
from chatbench.paper.release import MODELS, SUBJECTS, Release


@dataclass(frozen=True)
class PaperAnalysis:
    """The paper's analyses of one release (and, optionally, chatbench runs).

    Attributes:
        answers: The user answers analysed.
        source: ``cleaned`` (``user_answers.csv`` cleaned here) or ``filtered`` (the
            release's ``user_answers_filtered.csv`` as it is).
        cleaning: The cleaning steps (empty for ``filtered``).
        filtered_rows: Rows of ``user_answers_filtered.csv`` (None when absent), to compare.
        accuracy: ``accuracy_table`` (plus chatbench runs).
        transitions: ``transitions``.
        agreement: ``agreement_table`` (plus chatbench runs).
        lengths: ``length_table`` (plus chatbench runs).
    """

    answers: pd.DataFrame
    source: AnswerSource
    cleaning: tuple[CleaningStep, ...]
    filtered_rows: int | None
    accuracy: pd.DataFrame
    transitions: pd.DataFrame
    agreement: pd.DataFrame
    lengths: pd.DataFrame


def analyze(release: Release, runs: pd.DataFrame | None = None, model: str | None = None,
            source: AnswerSource = "cleaned") -> PaperAnalysis:
    """Run every analysis on a release, and on chatbench runs when given.

    Args:
        release: ``load_release``.
        runs: ``chatbench.paper.runs.load_runs`` of a store, or None.
        model: Compare every run with this ChatBench model's users (default: the model the
            run's assistant names, or both when it names neither).
        source: ``cleaned`` cleans ``user_answers.csv`` here; ``filtered`` uses the release's
            ``user_answers_filtered.csv`` (attention-check rows dropped, nothing else).

    Returns:
        The ``PaperAnalysis``.

    Raises:
        ConfigError: ``filtered`` without that file, an unknown source or model.
    """
    answers, steps = _answers(release, source)
    if model is not None and model not in set(answers["model"]):
        known = ", ".join(ordered(answers["model"], MODELS)) or "none"
        raise ConfigError(f"unknown ChatBench model {model!r}; the answers have: {known}")
    filtered = None if release.answers_filtered is None else len(release.answers_filtered)
    tables = [accuracy_table(answers, release.ai_alone), agreement_table(answers,
              release.ai_alone), length_table(release.conversations)]
    if runs is not None:
        extra = [run_analyses.accuracy_rows(runs, model),
                 run_analyses.agreement_rows(runs, answers, model),
                 run_analyses.length_rows(runs)]
        tables = [_concat(a, b) for a, b in zip(tables, extra, strict=True)]
        tables[0] = _by_cell(tables[0])
    return PaperAnalysis(answers=answers, source=source, cleaning=steps,
                         filtered_rows=filtered, accuracy=tables[0],
                         transitions=transitions(answers), agreement=tables[1],
                         lengths=tables[2])


def _answers(release: Release,
             source: AnswerSource) -> tuple[pd.DataFrame, tuple[CleaningStep, ...]]:
    """The answers to analyse and the cleaning steps that made them."""
    if source == "cleaned":
        cleaned = clean_user_answers(release.answers)
        return cleaned.answers, cleaned.steps
    if source != "filtered":
        raise ConfigError(f"unknown answers source {source!r}; use cleaned or filtered")
    if release.answers_filtered is None:
        raise ConfigError(f"{Path(release.folder) / 'full_study'}: no "
                          "user_answers_filtered.csv; use the cleaned answers")
    filtered = release.answers_filtered
    return filtered[~filtered["question_id"].isin(ATTENTION_CHECK_IDS)], ()


def _by_cell(table: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by model and subject (the paper's orders first), keeping their order
    within a group, so that a run's row sits under the study's rows it compares with."""
    models = {m: i for i, m in enumerate(ordered(table["model"], MODELS))}
    subjects = {s: i for i, s in enumerate(ordered(table["subject"], SUBJECTS))}
    key = table["model"].map(models) * len(subjects) + table["subject"].map(subjects)
    return table.iloc[key.argsort(kind="stable")].reset_index(drop=True)


def _concat(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    if second.empty:
        return first
    return pd.concat([first, second], ignore_index=True) if not first.empty else second
