"""The ``paper`` command: the ChatBench paper's analyses of its released data, and of
chatbench's simulator runs beside them.

``chatbench.cli`` registers it (``app.command("paper")(paper_command)``); caller mistakes
raise ``ConfigError``, which the CLI turns into exit code 2.

Example:
    chatbench paper ChatBench --runs results.sqlite --figure accuracy.png
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table
from rich.text import Text

from chatbench.cli._common import cells, console, opt

if TYPE_CHECKING:
    import pandas as pd

    from chatbench.paper.analyses import AnswerSource
    from chatbench.paper.analyze import PaperAnalysis
    from chatbench.paper.release import Release

DataDir = Annotated[Path, typer.Argument(help="The downloaded microsoft/ChatBench folder.")]
Runs = Annotated[Path | None, opt("A chatbench result store whose runs join the analyses.",
                                  "RUNS")]
RunIdOpt = Annotated[str | None, opt("Only this run of --runs.", "RUN_ID")]
Model = Annotated[str | None, opt("Compare every run with this ChatBench model's users "
                                  "(gpt-4o or llama-3.1-8b; default: the model the run's "
                                  "assistant names, else both).", "PAPER_MODEL")]
FigureOpt = Annotated[Path | None, opt("Write the accuracy figure to this PNG.", "FIGURE")]
Answers = Annotated[str, opt("cleaned: clean user_answers.csv by the paper's rules; "
                             "filtered: use the release's user_answers_filtered.csv.",
                             "ANSWERS")]


def paper_command(
    data_dir: DataDir,
    runs: Runs = None,
    run_id: RunIdOpt = None,
    model: Model = None,
    figure: FigureOpt = None,
    answers: Answers = "cleaned",
) -> None:
    """The ChatBench paper's analyses: accuracy by subject (AI-alone, user-alone, user-AI),
    answer-first transitions, per-question agreement with real users, conversation length."""
    from chatbench.paper.analyze import analyze
    from chatbench.paper.figure import save_accuracy_figure
    from chatbench.paper.release import load_release
    from chatbench.paper.runs import load_runs

    release = load_release(data_dir)
    run_frame = None if runs is None else load_runs(runs, run_id)
    result = analyze(release, run_frame, model, cast("AnswerSource", answers))  # checked there
    for table in paper_tables(release, result):
        console.print(table)
    if figure is not None:
        console.print(f"figure: {save_accuracy_figure(result.accuracy, figure)}")


def paper_tables(release: Release, result: PaperAnalysis) -> list[Table]:
    """Every table the command prints, in order.

    Args:
        release: The loaded release.
        result: ``analyze(release, ...)``.

    Returns:
        Rich tables: data, cleaning, accuracy, transitions, agreement, lengths.
    """
    return [_data_table(release, result), _cleaning_table(result), _accuracy_table(result),
            _transition_table(result), _agreement_table(result), _length_table(result)]


def _number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals (0: an integer); NaN or None is ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):.{digits}f}" if digits else str(int(value))


_LEFT = {"file", "note", "rule", "model", "subject", "condition", "method", "source"}
"""Columns that name a row or hold words: left-aligned; numbers are right-aligned."""


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=Text(title), title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column in _LEFT else "right",
                         overflow="fold")
    return table


def _data_table(release: Release, result: PaperAnalysis) -> Table:
    table = _table(f"ChatBench release: {release.folder}", ["file", "rows", "note"])
    table.add_row(*cells("questions.csv", str(len(release.questions)),
                         f"{release.questions['subject'].nunique()} subjects"))
    table.add_row(*cells("ai_alone_answers.csv", str(len(release.ai_alone) // 3),
                         "rows of question x model"))
    table.add_row(*cells("full_study/user_answers.csv", str(len(release.answers)),
                         f"{len(result.answers)} analysed ({result.source})"))
    filtered = "absent" if result.filtered_rows is None else str(result.filtered_rows)
    check = ""
    if result.filtered_rows is not None and result.source == "cleaned":
        same = result.filtered_rows == len(result.answers)
        check = "same rows as cleaned here" if same else "differs from the rows cleaned here"
    table.add_row(*cells("full_study/user_answers_filtered.csv", filtered, check))
    table.add_row(*cells("full_study/conversations.json", str(len(release.conversations)),
                         "user-AI conversations (not filtered, as in the authors' code)"))
    return table


def _cleaning_table(result: PaperAnalysis) -> Table:
    table = _table("cleaning (make_clean_data.py rules)", ["rule", "rows", "workers", "note"])
    for step in result.cleaning:
        table.add_row(*cells(step.rule, str(step.rows), str(step.workers), step.note))
    if not result.cleaning:
        table.add_row(*cells("user_answers_filtered.csv as released", len(result.answers),
                             result.answers["worker_id"].nunique(), "attention checks dropped"))
    return table


def _ci(low: float, high: float) -> str:
    """mean +/- 1.96 SE as the authors' code reports it: not clipped to [0, 1]."""
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low:.3f}, {high:.3f}]"


def _accuracy_table(result: PaperAnalysis) -> Table:
    table = _table("accuracy by subject (mean of per-question means; SE = std of question "
                   "means / sqrt(questions); CI = mean +/- 1.96 SE, unclipped)",
                   ["model", "subject", "condition", "questions", "answers", "accuracy",
                    "SE", "95% CI"])
    for row in _records(result.accuracy):
        table.add_row(*cells(row["model"], row["subject"], row["condition"], str(row["questions"]),
                             _number(row["answers"], 0), _number(row["accuracy"]),
                             _number(row["se"]), _ci(row["ci_low"], row["ci_high"])))
    return table


def _transition_table(result: PaperAnalysis) -> Table:
    table = _table("answer-first transitions (fixed = wrong alone -> right with AI, out of "
                   "wrong alone; misled = right alone -> wrong with AI, out of right alone)",
                   ["model", "subject", "pairs", "wrong alone", "fixed", "fixed rate",
                    "right alone", "misled", "misled rate"])
    for row in _records(result.transitions):
        table.add_row(*cells(row["model"], row["subject"], row["pairs"], row["alone_wrong"],
                             row["fixed"], _number(row["fixed_rate"]), row["alone_right"],
                             row["misled"], _number(row["misled_rate"])))
    return table


def _agreement_table(result: PaperAnalysis) -> Table:
    table = _table("per-question agreement with real users' user-AI accuracy (both "
                   "conditions)", ["model", "method", "questions", "Pearson r", "MAE",
                                   "method mean", "users mean"])
    for row in _records(result.agreement):
        table.add_row(*cells(row["model"], row["method"], str(row["questions"]), _number(row["r"]),
                             _number(row["mae"]), _number(row["method_mean"]),
                             _number(row["users_mean"])))
    return table


def _length_table(result: PaperAnalysis) -> Table:
    from chatbench.paper._summary import TURN_BUCKETS

    table = _table("conversation length (messages: the paper's len(chatHistory); user turns: "
                   "chatbench's, consecutive messages joined)",
                   ["source", "model", "condition", "conversations", "messages", "SE",
                    "user turns", "SE", "median", "max", *TURN_BUCKETS])
    for row in _records(result.lengths):
        table.add_row(*cells(row["source"], row["model"], row["condition"],
                             str(row["conversations"]), _number(row["messages"], 2),
                             _number(row["messages_se"], 2), _number(row["mean"], 2),
                             _number(row["se"], 2), _number(row["median"], 1),
                             _number(row["max"], 0), *(str(row[b]) for b in TURN_BUCKETS)))
    return table


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")  # type: ignore[return-value]  # pandas types keys as Hashable
