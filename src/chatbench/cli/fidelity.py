"""``chatbench fidelity``: the realism scorecard, one or more simulators beside real users.

Typical use::

    chatbench fidelity --user smollm2 --graph two_step
    chatbench fidelity --user smollm2 --graph two_step --user hf:simulator --graph causal_lm \\
        --json scorecard.json --html scorecard.html
    chatbench fidelity --simulators simulators.yaml
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field
from rich.table import Table
from rich.text import Text

from chatbench._files import writing
from chatbench.cli._common import (
    AllowFailures,
    console,
    exit_for_failures,
    opt,
    with_progress,
)
from chatbench.cli.train import Data, DataPath, Seed, Split, load_split
from chatbench.errors import ConfigError
from chatbench.reporting.numbers import number, with_ci

DEFAULT_STORE = Path("chatbench-fidelity.sqlite")


class SimulatorEntry(BaseModel):
    """One simulator of a ``--simulators`` YAML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    """Its row's name (default: ``graph / user``)."""
    graph: str = "two_step"
    """A graph preset or a GraphSpec YAML path."""
    user: str
    """The simulator's model string."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """The simulator's sampling temperature (default: the graph's)."""
    max_tokens: int | None = Field(default=None, ge=1)


class SimulatorsFile(BaseModel):
    """A ``--simulators`` YAML file: ``simulators: [{name, graph, user, temperature}, ...]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    simulators: list[SimulatorEntry] = Field(min_length=1)


def _entries(users: list[str], graphs: list[str], simulators: Path | None,
             temperature: float | None, max_tokens: int | None) -> list[SimulatorEntry]:
    """The simulators from ``--simulators`` or paired ``--user``/``--graph`` options.

    Raises:
        ConfigError: Neither given, both given, or the counts of --user and --graph differ.
    """
    if simulators is not None:
        if users:
            raise ConfigError("give simulators either with --simulators or with --user, "
                              "not both")
        from chatbench._yaml import load_yaml_model
        from chatbench.models.apps import add_app_folder

        add_app_folder(simulators.parent)  # an app: model it names may sit beside it
        return load_yaml_model(SimulatorsFile, "simulators", simulators).simulators
    if not users:
        raise ConfigError("give a simulator: --user MODEL (with --graph), or --simulators "
                          "FILE")
    graphs = graphs or ["two_step"]
    if len(graphs) == 1:
        graphs = graphs * len(users)
    if len(graphs) != len(users):
        raise ConfigError(f"give one --graph for all, or one per --user: got {len(users)} "
                          f"--user and {len(graphs)} --graph")
    return [SimulatorEntry(graph=g, user=u, temperature=temperature, max_tokens=max_tokens)
            for u, g in zip(users, graphs, strict=True)]


def build_simulators(entries: list[SimulatorEntry]) -> list[Any]:
    """``ScorecardSimulator`` rows: each entry's graph loaded, its sampling settings set."""
    from chatbench.config import RoleSettings
    from chatbench.graphs.builder import graph_spec
    from chatbench.training.scorecard import ScorecardSimulator

    rows = []
    for entry in entries:
        spec = graph_spec(entry.graph)
        user = spec.user.model_dump()
        user.update({k: v for k, v in (("temperature", entry.temperature),
                                       ("max_tokens", entry.max_tokens)) if v is not None})
        spec = spec.model_copy(update={"user": RoleSettings(**user)})
        name = entry.name or f"{spec.name} / {entry.user}"
        if entry.name is None and entry.temperature is not None:
            name += f" T={entry.temperature:g}"
        rows.append(ScorecardSimulator(name, spec, entry.user))
    return rows


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


_DISTANCE_LABEL = {"wasserstein_1": "W1", "total_variation": "TV",
                   "absolute_difference": "|diff|"}


def behaviour_table(row: Any) -> Table:
    """One simulator's behaviours beside the real users', with the distance."""
    table = Table(title=Text(f"behaviours: real users vs {row.name} (mean [95% CI]; distance: "
                             f"lower is more human)"), caption=Text(
                                 "W1: Wasserstein-1 in the behaviour's unit; TV: total "
                                 "variation |p_real - p_sim|; CIs: bootstrap over sessions"))
    table.add_column("behaviour", no_wrap=True)
    for column in ("real users", "simulated", "distance", "n (real / sim.)"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, b in row.behaviours.items():
        table.add_row(Text(name), Text(with_ci(b.real, b.real_ci, 2)),
                      Text(with_ci(b.simulated, b.simulated_ci, 2)),
                      Text(f"{_DISTANCE_LABEL[b.distance_kind]} "
                           f"{with_ci(b.distance, b.distance_ci, 2)}"),
                      Text(f"{b.real_n} / {b.simulated_n}"))
    return table


def distance_table(card: Any) -> Table | None:
    """With several simulators: each behaviour's distance per simulator, the lowest marked."""
    if len(card.simulators) < 2:
        return None
    table = Table(title="distance to real users per simulator (lower is more human; * lowest)")
    table.add_column("behaviour", no_wrap=True)
    for row in card.simulators:
        table.add_column(Text(row.name), justify="right")
    for name in card.simulators[0].behaviours:
        distances = [row.behaviours[name].distance for row in card.simulators]
        known = [d for d in distances if not math.isnan(d)]
        best = min(known) if known else None
        table.add_row(Text(name), *(Text(number(d, 2) + (" *" if d == best else ""))
                                    for d in distances))
    return table


def text_table(card: Any) -> Table:
    """The paper's first-prompt metrics, simulators beside the reference rows."""
    table = Table(title="first prompts vs real users' (the paper's ROUGE-1 and BLEU, 0-1, "
                        "mean over questions [95% CI over questions])")
    for column in ("row", "ROUGE-1", "BLEU", "questions", "pairs"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for row in card.simulators:
        table.add_row(Text(row.name), Text(with_ci(row.rouge1, row.rouge1_ci)),
                      Text(with_ci(row.bleu, row.bleu_ci)), Text(str(row.questions)),
                      Text(str(row.pairs)))
    for ref in card.references:
        table.add_row(Text(f"reference: {ref.name}"), Text(with_ci(ref.rouge1, ref.rouge1_ci)),
                      Text(with_ci(ref.bleu, ref.bleu_ci)), Text(str(ref.questions)),
                      Text(str(ref.pairs)))
    return table


def agreement_table(card: Any) -> Table | None:
    """Answers given each real transcript, against the person's own answer."""
    rows = [row for row in card.simulators if row.answer_agreement is not None]
    if not rows:
        return None
    table = Table(title="answers given the real transcript (the simulator reads each real "
                        "conversation and answers)")
    for column in ("simulator", "asked", "failed", "letter agreement", "sim. acc.",
                   "real acc.", "questions", "r (per question)", "MAE"):
        table.add_column(column, justify="left" if column == "simulator" else "right")
    for row in rows:
        a = row.answer_agreement
        table.add_row(Text(row.name), str(a.conversations), str(a.failed),
                      Text(with_ci(a.letter_agreement, a.letter_agreement_ci)),
                      number(a.simulated_accuracy), number(a.real_accuracy), str(a.questions),
                      Text(with_ci(a.r, a.r_ci)), Text(with_ci(a.mae, a.mae_ci)))
    return table


def print_scorecard(card: Any) -> None:
    """The scorecard's summary lines and tables."""
    real = card.real
    seen = ("" if real.workers_also_in_train is None else
            f"; {real.workers_also_in_train} of them also answered train questions "
            f"(held-out questions, not held-out people)")
    console.print(f"real users: {card.data} {card.split}, {real.conversations} conversations "
                  f"on {real.questions} questions, {real.workers} workers{seen}")
    for row in card.simulators:
        failed = row.failed_calls
        console.print(Text(f"{row.name}: {row.first_prompts} first prompts "
                           f"({row.failed_first_prompts} failed), {row.conversations} "
                           f"conversations ({row.failed_conversations} failed), "
                           f"{row.seconds:.1f} s; run id {row.run_id}"))
        if failed:
            console.print(Text(f"  {failed} calls failed; first: {row.failures[0]}",
                               style="yellow"))
    tables = [*(behaviour_table(row) for row in card.simulators), distance_table(card),
              text_table(card), agreement_table(card)]
    for table in tables:
        if table is not None:
            console.print(table)


def _planned(humans: list[Any], simulators: int, samples: int, replicates: int,
             agreement: bool, limit: int | None) -> int:
    """Jobs a fresh scorecard runs (a resumed one skips its stored jobs and ends early)."""
    from chatbench.training.agreement import answerable

    questions = len({h.question.id for h in humans if h.user_turns})
    answers = len(answerable(humans)) if agreement else 0
    if limit is not None:
        answers = min(answers, limit)
    return simulators * (questions * (samples + replicates) + answers)


def _failed_status(counts: Counter[str], record: Any) -> str:
    counts["failed"] += record.error is not None
    return f"{counts['failed']} failed" if counts["failed"] else ""


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def fidelity_command(
    user: Annotated[list[str] | None, typer.Option(
        "--user", help="A simulator's model (repeat for several; hf:FOLDER for a "
        "fine-tuned one).", envvar="CHATBENCH_USER")] = None,
    graph: Annotated[list[str] | None, typer.Option(
        "--graph", help="Graph preset or GraphSpec YAML per --user (or one for all): "
        "two_step (prompted), causal_lm (fine-tuned)...", envvar="CHATBENCH_GRAPH")] = None,
    simulators: Annotated[Path | None, opt("A YAML file listing simulators (name, graph, "
                                            "user, temperature) instead of --user.",
                                            "SIMULATORS")] = None,
    assistant: Annotated[str, opt("Assistant of the simulated conversations.",
                                   "ASSISTANT")] = "smollm2",
    data: Data = "halie",
    data_path: DataPath = None,
    split: Split = "heldout",
    samples: Annotated[int, opt("First prompts per question.", "SAMPLES")] = 10,
    replicates: Annotated[int, opt("Whole simulated conversations per question.",
                                    "REPLICATES")] = 3,
    agreement: Annotated[bool, opt("Ask each simulator for its answer after every real "
                                    "transcript.", "AGREEMENT")] = True,
    agreement_limit: Annotated[int | None, opt("Ask after a seeded sample of this many real "
                                                "transcripts only.", "AGREEMENT_LIMIT")]
    = None,
    temperature: Annotated[float | None, opt("The simulators' sampling temperature "
                                              "(default: each graph's).",
                                              "USER_TEMPERATURE")] = None,
    max_tokens: Annotated[int | None, opt("The simulators' most new tokens per turn.",
                                           "USER_MAX_TOKENS")] = None,
    limit_questions: Annotated[int | None, opt("Use only the first this many questions.",
                                                "LIMIT_QUESTIONS")] = None,
    concurrency: Annotated[int, opt("Calls at once (local models batch them).",
                                     "CONCURRENCY")] = 8,
    bootstrap: Annotated[int, opt("Bootstrap resamples for the CIs.", "BOOTSTRAP")] = 1000,
    store: Annotated[Path, opt("SQLite store of the samples and conversations (a rerun "
                                "with the same settings resumes).", "FIDELITY_STORE")]
    = DEFAULT_STORE,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the scorecard as "
                                                   "JSON here.")] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="Write a self-contained "
                                                   "page with a plot per behaviour here.")]
    = None,
    seed: Seed = 0,
    allow_failures: AllowFailures = False,
) -> None:
    """The realism scorecard: simulators beside the real users of a split (HALIE held-out by
    default): behaviours with distances and CIs, answers given the real transcripts, and the
    paper's first-prompt ROUGE-1/BLEU beside copy-the-question, human and floor rows.

    Exit status: 0 when every simulator call ended without error; 3 when some failed (they
    are stored and left out; --allow-failures gives 0); 2 for bad input; 130 after Ctrl-C."""
    from chatbench.storage import ResultStore
    from chatbench.training.scorecard import evaluate_scorecard

    for path, what in ((json_path, "--json"), (html_path, "--html")):
        if path is not None and not path.parent.is_dir():  # before hours of model calls
            raise ConfigError(f"{what} {path}: its folder {path.parent} does not exist")
    rows = build_simulators(_entries(user or [], graph or [], simulators, temperature,
                                     max_tokens))
    humans = load_split(data, data_path, split)
    if limit_questions is not None:
        if limit_questions < 1:
            raise ConfigError(f"--limit-questions must be positive, got {limit_questions}")
        kept = list(dict.fromkeys(h.question.id for h in humans))[:limit_questions]
        humans = [h for h in humans if h.question.id in kept]
    train = load_split(data, data_path, "train") if split == "heldout" else None
    cards: list[Any] = []

    def run(on_record: Any) -> None:
        with ResultStore(store) as results:
            cards.append(evaluate_scorecard(
                humans, rows, assistant, samples=samples, replicates=replicates,
                agreement=agreement, agreement_limit=agreement_limit,
                concurrency=concurrency, seed=seed, bootstrap=bootstrap, store=results,
                train=train, data=data, split=split, on_record=on_record))

    with_progress("simulator calls", _planned(humans, len(rows), samples, replicates,
                                              agreement, agreement_limit), 0, run,
                  _failed_status)
    card = cards[0]
    print_scorecard(card)
    if json_path is not None:
        with writing(json_path, "the scorecard"):
            json_path.write_text(json.dumps(card.to_json(), indent=2))
        console.print(f"scorecard written to {json_path}")
    if html_path is not None:
        from chatbench.reporting.scorecard_html import write_scorecard_html

        write_scorecard_html(card, html_path)
        console.print(f"page written to {html_path}")
    failed = sum(row.failed_calls for row in card.simulators)
    exit_for_failures(failed, "simulator calls", allow_failures)
