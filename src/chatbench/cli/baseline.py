"""The ``chatbench baseline`` command: ask questions AI-alone and print accuracy.

A plain function with typer ``Annotated`` options; ``chatbench.cli`` registers it. The work is
done by ``chatbench.baselines``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from chatbench._text import encodable
from chatbench.cli._common import (
    AllowFailures,
    cells,
    console,
    exit_for_failures,
    opt,
    with_progress,
)
from chatbench.records import BASELINE_KINDS, PAPER_KINDS
from chatbench.storage import ResultStore

if TYPE_CHECKING:  # the baselines (and LangChain) are imported when the command runs
    from chatbench.baselines import BaselinePlan, BaselineRecord

QuestionsOpt = Annotated[str | None, opt("Bundled set name or a CSV/JSONL file.", "QUESTIONS")]
SubjectsOpt = Annotated[str | None, opt("Comma-separated subjects.", "SUBJECTS")]
LimitOpt = Annotated[int | None, opt("Questions to ask (round-robin over subjects).", "LIMIT")]
AssistantOpt = Annotated[str, opt("Model under evaluation.", "ASSISTANT")]
KindsOpt = Annotated[str, opt(f"Comma-separated kinds: {', '.join(BASELINE_KINDS)}.",
                               "BASELINE_KINDS")]
GraderOpt = Annotated[str | None, opt(
    "Model that grades free-text replies with the paper's prompt (the paper: gpt-4o; default: "
    "the assistant itself). free_text_rules asks it only when its rules find no letter.",
    "GRADER")]
ReplicatesOpt = Annotated[int, opt("Answers per question and kind.", "REPLICATES")]
SeedOpt = Annotated[int, opt("Run seed.", "SEED")]
ConcurrencyOpt = Annotated[int, opt("Questions at once (local models batch them).",
                                     "CONCURRENCY")]
OutOpt = Annotated[Path, opt("SQLite result store.", "OUT")]
RunIdOpt = Annotated[str | None, opt(
    "Run name in the store (default: a hash of what determines the answers: the questions' "
    "content, kinds, models, seed, replicates). A stored run with other settings is refused.",
    "RUN_ID")]
MaxAttemptsOpt = Annotated[int, opt("Tries per model call.", "MAX_ATTEMPTS")]
RetryWaitOpt = Annotated[float, opt("Seconds before the first retry (doubles each time).",
                                     "RETRY_WAIT")]
RetryFailedOpt = Annotated[bool, typer.Option(
    "--retry-failed/--no-retry-failed",
    help="Ask again the answers a rerun finds stored as failed (their rows are replaced), or "
         "keep them as they are.",
    envvar="CHATBENCH_RETRY_FAILED")]

PAPER_KINDS_OPTION = ",".join(PAPER_KINDS)
"""The ``--kinds`` default: the paper's three baselines."""


def baseline_command(
    questions: QuestionsOpt = None, subjects: SubjectsOpt = None, limit: LimitOpt = 5,
    assistant: AssistantOpt = "smollm2", kinds: KindsOpt = PAPER_KINDS_OPTION,
    grader: GraderOpt = None, replicates: ReplicatesOpt = 1, seed: SeedOpt = 0,
    concurrency: ConcurrencyOpt = 8, out: OutOpt = Path("chatbench-results.sqlite"),
    run_id: RunIdOpt = None, max_attempts: MaxAttemptsOpt = 3, retry_wait: RetryWaitOpt = 1.0,
    retry_failed: RetryFailedOpt = True,
    allow_failures: AllowFailures = False,
) -> None:
    """Ask the questions AI-alone (the paper's letter-only zero/few-shot and free text).

    Exit status: 0 when every answer call ended without error; 3 when some failed (stored
    with their errors; --allow-failures gives 0); 2 for bad input; 130 after Ctrl-C."""
    from chatbench.baselines import (
        check_execution,
        check_kinds,
        plan_baseline_run,
        summarize_baselines,
    )
    from chatbench.data.questions import load_questions

    check_execution(concurrency, max_attempts, retry_wait)
    checked = check_kinds(kinds.split(","))
    subject_list = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    asked = load_questions(questions, subjects=subject_list, limit=limit)
    plan = plan_baseline_run(
        asked, assistant, kinds=checked, grader=grader, replicates=replicates, seed=seed,
        run_id=run_id, concurrency=concurrency, max_attempts=max_attempts,
        retry_wait_s=retry_wait)
    with ResultStore(out) as store:
        for note in plan.claim(store):  # refused here, before anything is printed or asked
            console.print(Text.assemble(("warning:", "yellow"), " ", note), soft_wrap=True)
        console.print(Text.assemble(
            "baseline ", (plan.run_id, "bold"), f": {len(plan.jobs)} answers "
            f"({', '.join(checked)}), assistant {assistant}"
            f"{_grader_note(checked, grader, assistant)} -> {out}"))
        stored = _stored_note(plan, store, retry_failed)
        _run_with_progress(plan, store, concurrency, stored, retry_failed)
        planned = {encodable(job.id(plan.run_id)) for job in plan.jobs}
        records = [r for r in store.baselines(plan.run_id) if r.id in planned]
    console.print(baseline_table(summarize_baselines(records)))
    exit_for_failures(sum(r.error is not None for r in records), "answers", allow_failures)


def _grader_note(kinds: Sequence[str], grader: str | None, assistant: str) -> str:
    """Which model grades free text, for the command's first line ("" when none does)."""
    if "free_text" in kinds:
        return f", grader {grader or assistant + ' (the assistant itself)'}"
    return f", grader {grader}" if grader and "free_text_rules" in kinds else ""


def _stored_note(plan: BaselinePlan, store: ResultStore, retry_failed: bool) -> int:
    """Say what happens to failed answers stored earlier; returns the answers to skip."""
    stored, failed = plan.stored(store)
    if failed:
        console.print(Text.assemble(
            (f"{failed} failed answers", "yellow"), " stored earlier ",
            "will be asked again" if retry_failed else "are kept (--no-retry-failed)"))
    return stored - failed if retry_failed else stored


def _answer_status(counts: Counter[str], record: BaselineRecord) -> str:
    """The progress bar's count of failed answers."""
    counts["failed"] += record.error is not None
    return f"failed {counts['failed']}" if counts["failed"] else ""


def _run_with_progress(
    plan: BaselinePlan, store: ResultStore, concurrency: int, stored: int, retry_failed: bool
) -> None:
    """Run the plan under the progress bar, which starts at the ``stored`` answers it skips."""

    from chatbench.baselines import run_jobs
    from chatbench.runner.execution import Execution

    def run(on_record: Callable[[BaselineRecord], None]) -> None:
        execution = Execution(concurrency=concurrency, retry_failed=retry_failed)
        for _ in run_jobs(plan.jobs, plan.setup, store=store, execution=execution,
                          on_record=on_record):
            pass

    with_progress("answers", len(plan.jobs), stored, run, _answer_status)


def baseline_table(rows: list[dict[str, Any]]) -> Any:
    """A rich table of ``summarize_baselines`` rows."""
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    table = Table(title="AI-alone baselines",
                  caption="acc.: mean over questions of each question's accuracy (as the "
                          "paper's code), invalid = wrong; acc. valid: invalid dropped; "
                          "unscored (left out): failed calls and grader replies that were "
                          "not JSON")
    for column in ("model", "kind", "subject"):
        table.add_column(column, overflow="fold")
    for column in ("n", "valid", "unscored", "acc.", "acc. valid"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*cells(row["model"], row["kind"], row["subject"], row["n"], row["valid"],
                             row["unscored"], pct(row["accuracy"]), pct(row["accuracy_valid"])))
    return table
