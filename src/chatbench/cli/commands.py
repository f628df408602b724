"""The ``chatbench`` command: a thin layer that parses, builds a config and prints."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from chatbench._yaml import format_validation_error
from chatbench.cli._common import (
    AllowFailures,
    cells,
    console,
    exit_for_failures,
    opt,
    with_progress,
)
from chatbench.cli._strict import NoBlankValues
from chatbench.config import AblationGrid, RunConfig, list_graph_specs, load_grid
from chatbench.data.questions import SUBJECTS
from chatbench.datatypes import StopReason, Summary
from chatbench.errors import ConfigError
from chatbench.models.base import DTYPE_ENV, check_dtype
from chatbench.personas import list_personas
from chatbench.records import ConversationRecord
from chatbench.scoring.metrics import ACCURACY_WORDS, summarize_store
from chatbench.storage import ResultStore

if TYPE_CHECKING:  # the runner is imported when a run starts, not for every command
    from chatbench.runner.ablate import GridPlan
    from chatbench.runner.batch import RunPlan
    from chatbench.runner.execution import Execution
    from chatbench.runner.plan import ClaimedRun

app = typer.Typer(
    help="Evaluate AI assistants in conversation with simulated users.", add_completion=False,
    rich_markup_mode="markdown",  # a docstring paragraph wraps as one, at word boundaries
    cls=NoBlankValues,  # an empty value for any option of any command is refused
)
EXIT_CONFIG_ERROR = 2


Questions = Annotated[str | None, opt("Bundled set name or a CSV/JSONL file.", "QUESTIONS")]
Subjects = Annotated[str | None, opt("Comma-separated subjects.", "SUBJECTS")]
Scenarios = Annotated[str | None, opt(
    "A scenario file (.jsonl, .yaml): open-ended tasks with success criteria, instead of "
    "questions (needs --judge).", "SCENARIOS")]
Limit = Annotated[int | None, opt(
    "Questions to run, round-robin over subjects [default: 5]; or the first scenarios "
    "[default: all].", "LIMIT")]
Graph = Annotated[str, opt("Graph preset name or GraphSpec YAML path.", "GRAPH")]
PersonaOpt = Annotated[str | None, opt("Persona name or YAML path.", "PERSONA")]
User = Annotated[str | None, opt("Simulated user's model.", "USER")]
Assistant = Annotated[str | None, opt("Assistant model.", "ASSISTANT")]
Judge = Annotated[str | None, opt("Judge model for final messages the rules can't read.", "JUDGE")]
Seed = Annotated[int, opt("Run seed.", "SEED")]
Replicates = Annotated[int, opt("Conversations per question.", "REPLICATES")]
Concurrency = Annotated[int, opt("Conversations at once (local models batch them).", "CONCURRENCY")]
ExecutorOpt = Annotated[
    str,
    opt(
        "thread; process (worker processes, for fake and API models); "
        "or ray (pip install 'chatbench[ray]').",
        "EXECUTOR",
    ),
]
Dtype = Annotated[
    str | None,
    opt(
        "Weights of local models (smollm2, hf:): float32 (default), "
        "bfloat16, float16, or auto (bfloat16 where the CPU has "
        "AVX512-BF16 or AMX).",
        "DTYPE",
    ),
]
Processes = Annotated[
    int | None, opt("Worker processes of --executor process (default: one per CPU).", "PROCESSES")
]
RayAddress = Annotated[
    str | None, opt("Ray cluster address (default: start a local one).", "RAY_ADDRESS")
]
MaxAttempts = Annotated[
    int, opt("Tries per model call before a conversation fails.", "MAX_ATTEMPTS")
]
RetryWait = Annotated[
    float, opt("Seconds before the first retry (doubles each time).", "RETRY_WAIT")
]
CallTimeout = Annotated[float, opt("Seconds to wait for one model call.", "CALL_TIMEOUT")]
Out = Annotated[Path, opt("SQLite result store.", "OUT")]
RunId = Annotated[str | None, opt("Run name in the store.", "RUN_ID")]
RetryFailed = Annotated[
    bool,
    typer.Option(
        "--retry-failed/--no-retry-failed",
        help="Run again the conversations a resumed or rerun run stored as failed "
        "(their rows are replaced), or keep them as they are.",
        envvar="CHATBENCH_RETRY_FAILED",
    ),
]
Resume = Annotated[
    Path | None, opt("Finish the latest (or --run-id) run stored in this file.", "RESUME")
]


def _pct(value: float | None, none: str = "-") -> str:
    return none if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


SUMMARY_CAPTION = (f"{ACCURACY_WORDS}; turns: mean user "
                   "turns, a forced answer after the turn limit counted as one; s/conv: mean "
                   "seconds per conversation (conversations overlap, so they add up to more "
                   "than the wall time)")


def summary_table(summaries: list[Summary], title: str) -> Table:
    """A rich table of per-group summaries (the title is plain text, never markup)."""
    table = Table(title=Text(title), caption=SUMMARY_CAPTION)
    table.add_column("group", min_width=16, overflow="fold")
    for column in ("conv.", "failed", "correct/answered", "acc.", "acc. all", "turns",
                   "s/conv"):
        table.add_column(column, justify="right")
    for s in summaries:
        scored = s.scored > 0
        table.add_row(*cells(
            s.group,
            s.conversations,
            s.errors,
            f"{s.correct} / {s.answered}" if scored else "-",
            _pct(s.accuracy, "no answer" if scored else "-"),
            _pct(s.accuracy_all),
            _num(s.mean_turns),
            _num(s.mean_seconds),
        ))
    return table


DEFAULT_GRAPH_NOTE = (" (chatbench's quick variant: 3 turns, natural answers; the paper's "
                      "protocol, and GraphSpec() in Python, is --graph two_step)")
"""What the run's first line adds when the graph is the CLI's default: it is not Python's."""


def graph_note(graph: str) -> str:
    """The note on the CLI's default graph (``DEFAULT_GRAPH_NOTE``); empty for any other."""
    return DEFAULT_GRAPH_NOTE if graph == RunConfig.model_fields["graph"].default else ""


def model_line(model: str) -> str:
    """A role's model as the run's first line names it: a local one with its engine."""
    from chatbench.models.reference import ModelRef

    engine = ModelRef.parse(model).engine
    return f"{model} ({ENGINE_NAMES[engine]})" if engine else model


ENGINE_NAMES = {"llamacpp": "llama.cpp in this process", "torch": "torch in this process"}


def _claimed(plan: RunPlan | GridPlan, out: Path, execution: Execution) -> ClaimedRun:
    """The run claimed in ``out`` (``claim_plan``: the one claim), its notes printed, and
    what the store held for it: failed conversations that run again (or are kept), rows
    no version can read. All before anything runs.

    Raises:
        ConfigError: The store cannot be written, or holds the run id with other settings.
    """
    from chatbench.runner.plan import claim_plan

    claimed = claim_plan(plan, out, execution)
    for note in claimed.notes:
        console.print(Text.assemble(("warning:", "yellow"), " ", note), soft_wrap=True)
    if claimed.failed:
        console.print(Text.assemble(
            (f"{len(claimed.failed)} failed conversations", "yellow"), " stored earlier ",
            "will run again" if execution.retry_failed else "are kept (--no-retry-failed)",
        ))
    if claimed.unreadable:
        console.print(Text.assemble(
            (f"{claimed.unreadable} stored conversations", "yellow"),
            " cannot be read (no valid JSON) and will run again",
        ))
    return claimed


def _conversation_status(counts: Counter[str], record: ConversationRecord) -> str:
    """The progress bar's live counts: correct and answered conversations, and failures."""
    counts["answered"] += record.answered
    counts["correct"] += record.correct
    counts["failed"] += record.stop_reason is StopReason.ERROR
    status = f"correct {counts['correct']} / answered {counts['answered']}"
    return status + (f" failed {counts['failed']}" if counts["failed"] else "")


def _report(out: Path, run_id: str, started: float, by: str, scenarios: bool = False) -> int:
    """The run's summary table and failures, computed in SQL from the store: no record is
    loaded, so memory stays flat however long the run (``metrics.summarize_store``). A
    scenario run's table reads correct as success (every criterion met) and answered as
    decided (every criterion judged).

    Returns:
        The run's failed conversations (stored with their errors).
    """
    # writable: this run just wrote the store, and the last connection to close (this one)
    # checkpoints the write-ahead log away (a read-only one leaves -wal and -shm beside it)
    with ResultStore(out) as store:
        summaries = summarize_store(store, run_id, by)
        kinds = store.failure_kinds(run_id)
        lost = len(store.lost_ids(run_id))
        others = [r for r in store.run_ids() if r != run_id]
    measure = ("success (correct: every criterion met; answered: every criterion decided)"
               if scenarios else "accuracy")
    console.print(summary_table(summaries, f"run {run_id}: {measure} by {by}"))
    if kinds:
        console.print(Text.assemble(
            (f"{sum(n for _, n in kinds)} failed conversations", "yellow"),
            " (stored with their errors): ",
            ", ".join(f"{k} x{n}" for k, n in kinds),
        ))
    if lost:
        console.print(Text.assemble((f"{lost} stored conversations", "yellow"),
                                    " cannot be read (no valid JSON) and are left out"))
    if others:
        console.print(Text.assemble(
            ("note:", "yellow"), f" {out} holds {len(others)} other "
            f"run{'s' if len(others) > 1 else ''} ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}): the table above is this run's alone, and "
            "`chatbench report` shows each run apart"), soft_wrap=True)
    console.print(Text(
        f"{summaries[-1].conversations} conversations in {out} (run {run_id}); this invocation "
        f"took {time.perf_counter() - started:.1f} s"
    ))
    return sum(n for _, n in kinds)


def _validated(
    model: type[RunConfig] | type[AblationGrid], data: dict[str, Any], source: str
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, model)) from None


def _execute_run(config: RunConfig, started: float, allow_failures: bool = False) -> None:
    from chatbench.runner.execution import Execution
    from chatbench.runner.plan import plan_run

    plan = plan_run(config)
    claimed = _claimed(plan, config.out, Execution.of(config))
    console.print(Text.assemble(
        "run ", (plan.run_id, "bold"), f": {plan.planned} conversations, graph "
        f"{config.graph}{graph_note(config.graph)}, user {model_line(config.user)}, "
        f"assistant {model_line(config.assistant)}"
        + (f", judge {model_line(config.judge)}" if config.judge else "") + f" -> {config.out}"
    ), soft_wrap=True)
    with_progress("conversations", plan.planned, claimed.skipped, claimed.run,
                  _conversation_status)
    failed = _report(config.out, plan.run_id, started, "subject", poses_scenarios(plan))
    exit_for_failures(failed, "conversations", allow_failures)


def poses_scenarios(plan: RunPlan | GridPlan) -> bool:
    """Whether the plan's tasks are scenarios (a run poses one kind)."""
    from chatbench.data.scenario import task_kind

    return any(task_kind(task) == "scenario" for task in plan.questions)


GRID_EXECUTION = ("concurrency", "executor", "ray_address", "processes", "retry_failed")
"""Execution settings that ``run_grid`` takes; the others shape each variant's graph."""


def _execute_grid(grid: AblationGrid, out: Path, execution: dict[str, Any], started: float,
                  allow_failures: bool = False) -> None:
    from chatbench.graphs.builder import retry_policy
    from chatbench.runner.ablate import plan_grid
    from chatbench.runner.execution import Execution

    retry = retry_policy(execution["max_attempts"], execution["retry_wait_s"])
    plan = plan_grid(grid, retry=retry, call_timeout_s=execution["call_timeout_s"])
    claimed = _claimed(plan, out, Execution(**{key: execution[key] for key in GRID_EXECUTION}))
    console.print(Text.assemble(
        "ablation ", (plan.run_id, "bold"), f": {len(plan.variants)} variants x "
        f"{len(plan.questions)} {'scenarios' if poses_scenarios(plan) else 'questions'} x "
        f"{grid.replicates} = {plan.planned} "
        f"conversations -> {out}"
    ))
    with_progress("conversations", plan.planned, claimed.skipped, claimed.run,
                  _conversation_status)
    failed = _report(out, plan.run_id, started, "variant", poses_scenarios(plan))
    exit_for_failures(failed, "conversations", allow_failures)


RESUME_KEEPS = frozenset({"resume", "run_id", "concurrency", "executor", "processes",
                          "ray_address", "max_attempts", "retry_wait", "call_timeout", "dtype",
                          "retry_failed", "allow_failures"})
"""The options ``run --resume`` takes: which run, and how to execute it. Every other option
is the stored run's own, so giving one is refused rather than ignored."""


def refuse_ignored_options(ctx: typer.Context, kept: frozenset[str], mode: str) -> None:
    """Refuse the options given on the command line that ``mode`` ignores (a ``CHATBENCH_*``
    variable is ambient configuration, not a request for this run, so it is not refused).

    Raises:
        ConfigError: One line naming them.
    """
    def given_by_user(name: str) -> bool:
        # by name: typer may vendor its own copy of click's ParameterSource enum
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    given = [name for name in ctx.params if name not in kept and given_by_user(name)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ConfigError(f"{mode} ignores {flags}: the stored run keeps its own; give only "
                          f"--run-id and execution options, or start a new run without it")


@app.command()
def run(
    ctx: typer.Context,
    questions: Questions = None,
    scenarios: Scenarios = None,
    subjects: Subjects = None,
    limit: Limit = None,
    graph: Graph = "quick",
    persona: PersonaOpt = None,
    user: User = None,
    assistant: Assistant = None,
    judge: Judge = None,
    seed: Seed = 0,
    replicates: Replicates = 1,
    concurrency: Concurrency = 8,
    executor: ExecutorOpt = "thread",
    processes: Processes = None,
    ray_address: RayAddress = None,
    out: Out = Path("chatbench-results.sqlite"),
    run_id: RunId = None,
    resume: Resume = None,
    max_attempts: MaxAttempts = 3,
    retry_wait: RetryWait = 1.0,
    call_timeout: CallTimeout = 600.0,
    dtype: Dtype = None,
    retry_failed: RetryFailed = True,
    allow_failures: AllowFailures = False,
) -> None:
    """Run an evaluation. With no options: a small offline run on the embedded SmolLM2.

    Exit status: 0 when every conversation ended without error; 3 when some failed (stored
    with their errors; --allow-failures gives 0); 2 for bad input (nothing ran); 130 after
    Ctrl-C (what finished is stored: run the same command again to go on)."""
    started = time.perf_counter()
    execution = _execution(
        concurrency, executor, processes, ray_address, max_attempts, retry_wait, call_timeout,
        dtype, retry_failed,
    )
    if resume is not None:
        refuse_ignored_options(ctx, RESUME_KEEPS, "--resume")
        return _resume(resume, run_id, execution, started, allow_failures)
    fields = {
        "questions": questions,
        "scenarios": scenarios,
        **({"limit": limit} if limit is not None else {}),
        "graph": graph,
        "persona": persona,
        "user": user or "smollm2",
        "assistant": assistant or "smollm2",
        "judge": judge,
        "seed": seed,
        "replicates": replicates,
        "out": out,
        "run_id": run_id,
        "subjects": tuple(s.strip() for s in subjects.split(",")) if subjects else None,
    }
    _execute_run(_validated(RunConfig, {**fields, **execution}, "options"), started,
                 allow_failures)


@app.command()
def ablate(
    grid: Annotated[str, typer.Argument(help="Grid name (graphs/grids) or YAML path.")],
    scenarios: Scenarios = None,
    limit: Limit = None,
    user: User = None,
    assistant: Assistant = None,
    judge: Judge = None,
    concurrency: Concurrency = 8,
    executor: ExecutorOpt = "thread",
    processes: Processes = None,
    ray_address: RayAddress = None,
    out: Out = Path("chatbench-ablation.sqlite"),
    max_attempts: MaxAttempts = 3,
    retry_wait: RetryWait = 1.0,
    call_timeout: CallTimeout = 600.0,
    dtype: Dtype = None,
    retry_failed: RetryFailed = True,
    allow_failures: AllowFailures = False,
) -> None:
    """Run the full factorial of an ablation grid into one store, rows tagged by factor.

    Exit status as for run: 0 all ended without error, 3 some failed (--allow-failures
    gives 0), 2 bad input, 130 Ctrl-C."""
    started = time.perf_counter()
    loaded = load_grid(grid)
    if Path(grid).is_file():  # an app: model the grid names may sit beside it
        from chatbench.models.apps import add_app_folder

        add_app_folder(Path(grid).parent)
    overrides = {
        k: v
        for k, v in {"scenarios": scenarios, "limit": limit, "user": user,
                     "assistant": assistant, "judge": judge}.items()
        if v is not None
    }
    # the grid's own fields as it gave them: a grid without a limit run on --scenarios runs
    # all of them, not the questions' default of 5
    given = loaded.model_dump(include=loaded.model_fields_set)
    merged = _validated(AblationGrid, {**given, **overrides}, "options")
    execution = _execution(
        concurrency, executor, processes, ray_address, max_attempts, retry_wait, call_timeout,
        dtype, retry_failed,
    )
    _execute_grid(merged, out, execution, started, allow_failures)


def _execution(
    concurrency: int,
    executor: str,
    processes: int | None,
    ray_address: str | None,
    max_attempts: int,
    retry_wait: float,
    call_timeout: float,
    dtype: str | None = None,
    retry_failed: bool = True,
) -> dict[str, Any]:
    """The options that change how a run executes, not its results, checked; validated
    again with the rest of the config. ``dtype`` goes to the environment, where local models
    (and worker processes started later) read it."""
    if dtype is not None:
        os.environ[DTYPE_ENV] = check_dtype(dtype)
    if executor not in ("thread", "process", "ray"):
        raise ConfigError(f"--executor must be thread, process or ray, not {executor!r}")
    if processes is not None and processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {processes}")
    from chatbench.runner.build import check_timing

    check_timing(call_timeout, retry_wait)  # here, to name the options; ``Recipe.plan`` again
    return {
        "concurrency": concurrency,
        "executor": executor,
        "processes": processes,
        "ray_address": ray_address,
        "max_attempts": max_attempts,
        "retry_wait_s": retry_wait,
        "call_timeout_s": call_timeout,
        "retry_failed": retry_failed,
    }


def _resume(path: Path, run_id: str | None, execution: dict[str, Any], started: float,
            allow_failures: bool = False) -> None:
    if not path.exists():  # a folder or unreadable file: the store says which
        raise ConfigError(f"nothing to resume: {path} does not exist")
    with ResultStore(path, read_only=True) as store:  # written only once the run is claimed
        names = store.run_ids()
        runs = {r.run_id: r for r in store.runs()}
    wanted = run_id if run_id is not None else (names[-1] if names else None)
    if wanted is None or wanted not in names:
        raise ConfigError(f"{path}: no run {'named ' + repr(run_id) if run_id else 'stored'}")
    if wanted not in runs:  # the latest one, unless named: not an older one instead
        raise ConfigError(f"{path}: run {wanted!r} cannot be resumed: its stored "
                          "configuration cannot be read (see the warning above); run it "
                          "again with its options, or give another --run-id")
    stored = runs[wanted]
    console.print(Text.assemble("resuming ", (stored.run_id, "bold"), f" from {path}"))
    if stored.kind == "ablate":
        grid = _validated(AblationGrid, stored.config, f"{path} run {stored.run_id}")
        return _execute_grid(grid, path, execution, started, allow_failures)
    data = {**stored.config, **execution, "out": path, "run_id": stored.run_id}
    _execute_run(_validated(RunConfig, data, f"{path} run {stored.run_id}"), started,
                 allow_failures)


@app.command("list")
def list_presets() -> None:
    """List shipped graph presets, ablation grids, personas and bundled subjects."""
    from chatbench._yaml import preset_names

    for label, names in (("graphs", list_graph_specs()),
                         ("ablation grids", preset_names("graphs/grids")),
                         ("personas", list_personas()), ("subjects (mmlu_redux)", SUBJECTS)):
        console.print(Text.assemble((f"{label}:", "bold"), " ", ", ".join(names)))


def _register_commands() -> None:
    """Commands that live in their own modules (reports, training, baselines)."""
    from chatbench.cli.baseline import baseline_command
    from chatbench.cli.fidelity import fidelity_command
    from chatbench.cli.paper import paper_command
    from chatbench.cli.report import export_command, report_command, show_command
    from chatbench.cli.train import perplexity_command, train_command

    app.command("report")(report_command)
    app.command("export")(export_command)
    app.command("show")(show_command)
    app.command("train")(train_command)
    app.command("perplexity")(perplexity_command)
    app.command("fidelity")(fidelity_command)
    app.command("baseline")(baseline_command)
    app.command("paper")(paper_command)


_register_commands()

