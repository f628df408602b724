"""The ``chatbench`` command: a thin layer that parses, builds a ``RunConfig`` and prints."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from chatbench._yaml import format_validation_error
from chatbench.config import RunConfig, list_graph_specs
from chatbench.errors import ChatBenchError, ConfigError
from chatbench.metrics import Summary, summarize_by
from chatbench.personas import list_personas
from chatbench.questions import SUBJECTS
from chatbench.records import ConversationRecord

app = typer.Typer(
    help="Evaluate AI assistants in conversation with simulated users.",
    no_args_is_help=False,
    add_completion=False,
)
console = Console()
EXIT_CONFIG_ERROR = 2


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def summary_table(summaries: list[Summary], title: str) -> Table:
    """A rich table of per-group summaries."""
    table = Table(title=title, caption="acc.: correct / answered; acc. all: no answer = wrong")
    table.add_column("group", no_wrap=True, min_width=24)
    for column in ("n", "err", "answered", "acc.", "acc. all", "turns", "sec"):
        table.add_column(column, justify="right")
    for s in summaries:
        table.add_row(
            s.group,
            str(s.conversations),
            str(s.errors),
            _pct(s.answered_share),
            _pct(s.accuracy),
            _pct(s.accuracy_all),
            _num(s.mean_turns),
            _num(s.mean_seconds),
        )
    return table


def _progress(total: int) -> tuple[Progress, object]:
    progress = Progress(
        TextColumn("[bold]conversations"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task("run", total=total, status="")
    return progress, task


@app.command()
def run(
    questions: Annotated[
        str | None,
        typer.Option(help="Bundled set name or a CSV/JSONL file.", envvar="CHATBENCH_QUESTIONS"),
    ] = None,  # noqa: E501
    subjects: Annotated[
        str | None, typer.Option(help="Comma-separated subjects.", envvar="CHATBENCH_SUBJECTS")
    ] = None,  # noqa: E501
    limit: Annotated[
        int,
        typer.Option(
            help="Questions to run (round-robin over subjects).", envvar="CHATBENCH_LIMIT"
        ),
    ] = 5,  # noqa: E501
    graph: Annotated[
        str,
        typer.Option(help="Graph preset name or GraphSpec YAML path.", envvar="CHATBENCH_GRAPH"),
    ] = "quick",  # noqa: E501
    persona: Annotated[
        str | None, typer.Option(help="Persona name or YAML path.", envvar="CHATBENCH_PERSONA")
    ] = None,  # noqa: E501
    user: Annotated[
        str, typer.Option(help="Simulated user's model.", envvar="CHATBENCH_USER")
    ] = "smollm2",  # noqa: E501
    assistant: Annotated[
        str, typer.Option(help="Assistant model.", envvar="CHATBENCH_ASSISTANT")
    ] = "smollm2",  # noqa: E501
    judge: Annotated[
        str | None, typer.Option(help="Judge model for unclear answers.", envvar="CHATBENCH_JUDGE")
    ] = None,  # noqa: E501
    seed: Annotated[int, typer.Option(help="Run seed.", envvar="CHATBENCH_SEED")] = 0,
    concurrency: Annotated[
        int,
        typer.Option(help="Conversations at once (local models batch them).",
                     envvar="CHATBENCH_CONCURRENCY"),
    ] = 8,
    replicates: Annotated[
        int, typer.Option(help="Conversations per question.", envvar="CHATBENCH_REPLICATES")
    ] = 1,  # noqa: E501
    out: Annotated[Path, typer.Option(help="SQLite result store.", envvar="CHATBENCH_OUT")] = Path(
        "chatbench-results.sqlite"
    ),  # noqa: E501
    run_id: Annotated[
        str | None, typer.Option(help="Run name in the store.", envvar="CHATBENCH_RUN_ID")
    ] = None,  # noqa: E501
) -> None:
    """Run an evaluation. With no options: a small offline run on the embedded SmolLM2."""
    from chatbench.runner.batch import plan_run
    from chatbench.runner.batch import run as run_evaluation

    config = _config(
        questions=questions,
        limit=limit,
        graph=graph,
        persona=persona,
        user=user,
        assistant=assistant,
        judge=judge,
        seed=seed,
        concurrency=concurrency,
        replicates=replicates,
        out=out,
        run_id=run_id,
        subjects=tuple(s.strip() for s in subjects.split(",")) if subjects else None,
    )
    started = time.perf_counter()
    plan = plan_run(config)
    console.print(
        f"run [bold]{plan.run_id}[/]: {plan.planned} conversations, graph "
        f"{config.graph}, user {config.user}, assistant {config.assistant} -> {out}"
    )
    progress, task = _progress(plan.planned)
    correct = answered = 0

    def on_record(record: ConversationRecord) -> None:
        nonlocal correct, answered
        answered += record.final_choice is not None
        correct += record.correct
        status = f"acc {correct}/{answered}" if answered else ""
        progress.update(task, advance=1, status=status)  # type: ignore[arg-type]  # rich TaskID

    with progress:
        records = run_evaluation(plan, on_record=on_record)
    console.print(summary_table(summarize_by(records), "accuracy by subject"))
    console.print(
        f"{len(records)} conversations in {out}; this invocation took "
        f"{time.perf_counter() - started:.1f} s"
    )


def _config(**fields: object) -> RunConfig:
    try:
        return RunConfig(**fields)  # type: ignore[arg-type]  # validated here
    except ValidationError as exc:
        raise ConfigError(format_validation_error("options", exc)) from None


@app.command("list")
def list_presets() -> None:
    """List shipped graph presets, personas and bundled subjects."""
    console.print("[bold]graphs:[/] " + ", ".join(list_graph_specs()))
    console.print("[bold]personas:[/] " + ", ".join(list_personas()))
    console.print("[bold]subjects (mmlu_redux):[/] " + ", ".join(SUBJECTS))


def main() -> None:
    """Entry point: user mistakes print one line and exit 2, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except ChatBenchError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise


if __name__ == "__main__":
    main()
