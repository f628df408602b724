"""Command functions that read a result store: ``report``, ``export`` and ``show``.

They are plain functions with typer ``Annotated`` options; ``chatbench.cli`` registers them
(``app.command("report")(report_command)``). Caller mistakes raise ``ConfigError``, which the
CLI turns into exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chatbench.cli._common import cells, console, opt
from chatbench.config import MAX_REPLY_CHARS
from chatbench.data.questions import load_questions
from chatbench.data.scenario import Scenario, Task
from chatbench.datatypes import CRITERION_VERDICTS
from chatbench.errors import ChatBenchError, ConfigError
from chatbench.records import ConversationRecord
from chatbench.storage import ResultStore

IDS_LISTED = 5
"""How many ids an unknown-id error lists."""
SHOWN_CHARS = MAX_REPLY_CHARS
"""Longest text ``show`` prints of one turn, note or reason (a reply within the default
``RoleSettings.max_reply_chars`` is shown whole): rich lays a text out in time that grows
with its length times its lines, so a longer one is cut, saying how much is left out."""


StorePath = Annotated[Path, typer.Argument(help="SQLite result store.")]
RunIdOpt = Annotated[str | None, opt("Only this run's conversations.", "RUN_ID")]


def _existing(path: Path) -> Path:
    """``path`` if something is there (a folder or unreadable file: the store says which)."""
    if not path.exists():
        raise ConfigError(f"{path}: no such result store")
    return path


def report_command(
    path: StorePath,
    html: Annotated[Path | None, opt("HTML report to write (default: the store's name "
                                      "with .html).", "HTML")] = None,
    run_id: RunIdOpt = None,
    figures: Annotated[Path | None, opt("Also write the figures as PNGs into this folder.",
                                         "FIGURES")] = None,
    pool: Annotated[bool, typer.Option(
        "--pool/--no-pool", help="Pool the runs of each variant name into one row (the report "
        "says which runs it pooled); by default each run's variants are rows of their own, "
        "side by side.", envvar="CHATBENCH_POOL")] = False,
) -> None:
    """Print accuracy, AI-alone comparison, interaction outcomes, rubric scores and latency,
    one row per run and variant; for scenario runs, success rate, pass^k and each criterion's
    pass rate; write a self-contained HTML report (with the failed scenarios' transcripts)."""
    from chatbench.reporting.figures import FIGURES
    from chatbench.reporting.report import Report
    from chatbench.reporting.results import load_results, pool_runs

    results = load_results(_existing(path), run_id)
    if run_id is not None and results.conversations.empty:
        raise ConfigError(f"{path}: no conversations of run {run_id!r}; runs: "
                          + (", ".join(_run_ids(path)) or "none"))
    if pool:
        results = pool_runs(results)
    report = Report(results)  # computed once, printed, written as HTML and PNGs
    report.print(console)
    for note in incomplete_runs(path, sorted(set(results.conversations["run_id"]))):
        console.print(Text.assemble(("incomplete:", "yellow"), " ", note), soft_wrap=True)
    try:
        written = report.write_html(html or path.with_suffix(".html"))
    except ConfigError as exc:
        if html is not None:
            raise
        # the default place, beside the store, may be read-only: the tables are printed
        console.print(Text.assemble(("warning:", "yellow"), f" no HTML report: {exc}; give "
                                    "--html to write it elsewhere"), soft_wrap=True)
    else:
        console.print(f"HTML report: {written}")
    if figures is not None:
        pngs = report.save_figures(figures)
        console.print(f"{len(pngs)} figures in {figures}"
                      + (" (the others have no data)" if len(pngs) < len(FIGURES) else ""))


def export_command(
    path: StorePath,
    out_dir: Annotated[Path, typer.Argument(help="Folder for one file per table.")],
    fmt: Annotated[str, typer.Option("--format", "--fmt", help=escape(
        "csv or parquet (pip install 'chatbench[parquet]')."), envvar="CHATBENCH_FORMAT")]
    = "csv",
    run_id: RunIdOpt = None,
) -> None:
    """Export conversations, turns, timings and baselines as CSV or Parquet files."""
    from chatbench.reporting.results import ExportFormat, export

    path = _existing(path)
    if run_id is not None:
        _check_run_exists(path, run_id)
    # export() checks the value and raises ConfigError for anything but csv/parquet
    for written in export(path, out_dir, cast(ExportFormat, fmt), run_id):
        console.print(str(written))


def show_command(
    path: StorePath,
    id: Annotated[str | None, typer.Option("--id", help="Conversation id (default: by "
                                           "--index).")] = None,
    index: Annotated[int, typer.Option(help="Position of the conversation in the store.")] = 0,
) -> None:
    """Print one conversation: question, turns with the user's scratchpad, an app's inner
    steps (tool calls, tool results, documents), the assistant's choices, the verdict and the
    rubric judgements."""
    with ResultStore(_existing(path), read_only=True) as store:
        record = _find_record(store, id, index)
        question = _question_of(store, record)
    for part in render_conversation(record, question):
        console.print(part)


def incomplete_runs(path: Path, run_ids: list[str]) -> list[str]:
    """A line for each run the store holds fewer conversations of than it planned (its
    stored identity: questions x variants x replicates), saying how to finish it; a run
    stored without an identity (an older chatbench) cannot be checked and gives none."""
    from chatbench.runner.identity import RunIdentity, parse_identity

    notes = []
    with ResultStore(path, read_only=True) as store:
        for run_id in run_ids:
            stored = store.run_identity(run_id)
            if stored is None:
                continue
            identity = parse_identity(RunIdentity, stored, f"run {run_id!r}", store)
            planned = len(identity.questions) * len(identity.variants) * identity.replicates
            held = len(store.ids(run_id))
            if held < planned:
                notes.append(f"run {run_id} has {held} of its {planned} planned conversations "
                             f"(the tables cover those); `chatbench run --resume {path} "
                             f"--run-id {run_id}` finishes it")
    return notes


def _check_run_exists(path: Path, run_id: str) -> None:
    """Refuse a run id the store holds neither conversations nor baseline answers of.

    Raises:
        ConfigError: No such run; the message lists the store's runs.
    """
    with ResultStore(path, read_only=True) as store:
        held = bool(store.ids(run_id)) or (
            store.has_table("baselines") and bool(store.baseline_ids(run_id)))
        runs = store.run_ids()
    if not held:
        raise ConfigError(f"{path}: no conversations or baseline answers of run {run_id!r}; "
                          f"runs: {', '.join(runs) or 'none'}")


def _run_ids(path: Path) -> list[str]:
    with ResultStore(path, read_only=True) as store:
        return store.run_ids()


def _find_record(store: ResultStore, id: str | None, index: int) -> ConversationRecord:
    """The record with this id, else the one at this index.

    Raises:
        ConfigError: Unknown or unreadable id, or index out of range (the message lists a
            few ids).
    """
    if id is not None:
        found = store.record(id)
        if found is not None:
            return found
    records = list(store.records())
    if not records:
        raise ConfigError(f"{store.path}: no conversations stored")
    if id is not None:
        listed = ", ".join(r.id for r in records[:IDS_LISTED])
        more = f" (and {len(records) - IDS_LISTED} more)" if len(records) > IDS_LISTED else ""
        raise ConfigError(f"{store.path}: no conversation {id!r}; ids are: {listed}{more}")
    if not -len(records) <= index < len(records):
        raise ConfigError(f"{store.path}: index {index} out of range; {len(records)} "
                          "conversations stored")
    return records[index]


def _question_of(store: ResultStore, record: ConversationRecord) -> Task | None:
    """The question (or scenario) the run asked, as the store keeps it since the run was
    claimed; for a question run stored by an older chatbench, reloaded from its question
    source. None when unavailable (no run entry, or the source moved)."""
    stored = store.question(record.run_id, record.question_id)
    if stored is not None:
        return stored
    runs = [run for run in store.runs() if run.run_id == record.run_id]
    if not runs or record.task == "scenario":  # scenarios were always stored
        return None
    try:
        questions = load_questions(runs[-1].config.get("questions"))
    except ChatBenchError:
        return None
    return next((q for q in questions if q.id == record.question_id), None)


def render_conversation(record: ConversationRecord,
                        question: Task | None = None) -> list[RenderableType]:
    """Rich renderables of one conversation: header, turns, verdict, a scenario's criteria
    and the judgements.

    Args:
        record: The conversation.
        question: Its question (stem and options) or scenario (situation, criteria); None
            shows the id only.

    Returns:
        Renderables to print in order.
    """
    parts: list[RenderableType] = [_header(record, question)]
    parts.extend(_turns(record))
    parts.append(_verdict(record))
    if record.criteria:
        parts.append(_criteria(record))
    if record.judgements:
        parts.append(_judgements(record))
    return parts


def _header(record: ConversationRecord, question: Task | None) -> Panel:
    lines = Text()
    if isinstance(question, Scenario):
        lines.append(question.description + "\n", style="bold")
        if question.persona:
            lines.append(f"the user: {question.persona}\n")
        for number, criterion in enumerate(question.criteria, 1):
            lines.append(f"  criterion {number}. {criterion}\n")
        if question.expected_outcome:
            lines.append(f"expected outcome: {question.expected_outcome}\n", style="green")
    elif question is not None:
        lines.append(question.stem + "\n", style="bold")
        for letter, choice in zip(question.letters, question.choices, strict=True):
            lines.append(f"  {letter}. {choice}\n")
    if record.task == "question":
        lines.append(f"correct answer: {record.correct_answer}\n", style="green")
    models = ", ".join(f"{role}={name}" for role, name in record.models.items())
    lines.append(f"variant: {record.variant}   models: {models}\n")
    if record.persona:
        lines.append(f"persona: {record.persona}\n")
    lines.append(f"stop: {record.stop_reason.value}   verdict: {record.verdict}   "
                 f"user turns: {record.turns}   {record.seconds:.2f} s\n")
    lines.append(f"id: {record.id}", style="dim")
    title = Text(f"{record.question_id} ({record.subject})")
    return Panel(lines, title=title, title_align="left")


def _turns(record: ConversationRecord) -> list[RenderableType]:
    """Each message; the scratchpad note goes before the user turn it belongs to."""
    from chatbench.models.app_steps import step_summary  # LangChain: imported when shown

    cot = bool(record.spec.get("user_cot"))
    out: list[RenderableType] = []
    seen = {"user": 0, "assistant": 0}
    for message in record.transcript:
        turn = seen[message.role]
        seen[message.role] += 1
        if message.role == "user":
            if cot and turn < len(record.scratchpad):
                out.append(Text(f"  (scratchpad) {_shown(record.scratchpad[turn])}",
                                style="dim italic"))
            out.append(Text.assemble((f"USER {turn + 1}: ", "bold cyan"),
                                     _shown(message.content)))
            continue
        out.extend(Text(f"  (step) {step_summary(step)}", style="dim") for step in message.steps)
        said = Text.assemble((f"ASSISTANT {turn + 1}: ", "bold magenta"), _shown(message.content))
        if record.task == "scenario":  # no options to point to
            out.append(said)
            continue
        choice = record.assistant_choices[turn] if turn < len(record.assistant_choices) else None
        note = f"  -> points to {choice}" if choice else "  -> no single option"
        out.append(Group(said, Text(note, style="dim")))
    if not cot and record.scratchpad:
        out.extend(Text(f"  (scratchpad) {_shown(note)}", style="dim italic")
                   for note in record.scratchpad)
    return out


def _shown(text: str) -> str:
    """``text``, cut to ``SHOWN_CHARS`` with a note of what is left out."""
    if len(text) <= SHOWN_CHARS:
        return text
    return (f"{text[:SHOWN_CHARS]} [... {len(text) - SHOWN_CHARS:,} more characters not "
            "shown; chatbench export writes them all]")


def _verdict(record: ConversationRecord) -> Text:
    style = {"correct": "green", "wrong": "red"}.get(record.verdict or "", "yellow")
    if record.task == "scenario":
        passed = sum(c.passed is True for c in record.criteria)
        text = Text.assemble("verdict: ", (str(record.verdict), f"bold {style}"),
                             f"  (success: {record.success}; {passed} of "
                             f"{len(record.criteria)} criteria met)")
    else:
        chose = (f"answered {record.invalid_answer!r}, no option letter"
                 if record.invalid_answer is not None else f"user chose {record.final_choice}")
        text = Text.assemble("verdict: ", (str(record.verdict), f"bold {style}"),
                             f"  ({chose}, correct {record.correct_answer})")
    if record.error:
        text.append(f"\nerror: {_shown(record.error)}", style="red")
    return text


def _criteria(record: ConversationRecord) -> Table:
    table = Table(title="criteria", title_justify="left")
    for column in ("criterion", "verdict", "reason"):
        table.add_column(column, overflow="fold")
    for result in record.criteria:
        verdict = CRITERION_VERDICTS[result.passed]
        reason = result.reason or (f"raw: {result.raw}" if result.raw else "")
        table.add_row(*cells(_shown(result.criterion), verdict, _shown(reason)))
    return table


def _judgements(record: ConversationRecord) -> Table:
    table = Table(title="judgements", title_justify="left")
    for column in ("rubric", "score", "reason"):
        table.add_column(column, overflow="fold")
    for name, judgement in record.judgements.items():
        score = "missing" if judgement.score is None else str(judgement.score)
        reason = judgement.reason or (f"raw: {judgement.raw}" if judgement.raw else "")
        table.add_row(*cells(name, score, _shown(reason)))
    return table
