"""Command functions for fine-tuned simulators: ``train``, ``perplexity`` and ``fidelity``.

Plain functions with typer ``Annotated`` options; ``chatbench.cli`` registers them
(``app.command("train")(train_command)``). Caller mistakes raise ``ConfigError``, which the
CLI turns into exit code 2. ``train`` and ``perplexity`` need the ``hf`` extra (LoRA also
``train``); ``fidelity`` needs ``train`` for ROUGE and BLEU.

Typical use::

    chatbench train --data halie --base smollm2 --out simulator
    chatbench train --data halie --export chat_train.jsonl   # OpenAI chat format, no training
    chatbench perplexity --model smollm2 --model hf:simulator
    chatbench fidelity --user smollm2 --graph two_step --human-model InstructDavinci
    chatbench fidelity --user hf:simulator --graph causal_lm --human-model InstructDavinci
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from chatbench._yaml import format_validation_error
from chatbench.cli._common import cells, console, opt
from chatbench.errors import ConfigError
from chatbench.models.gguf_export import OUT_TYPES as GGUF_WEIGHTS

Data = Annotated[str, opt("Human conversations: halie (bundled) or chatbench.", "DATA")]
DataPath = Annotated[Path | None, opt("chatbench: full_study/conversations.json (required); "
                                       "halie: a folder with its CSVs (default: bundled).",
                                       "DATA_PATH")]
Split = Annotated[str, opt("train, heldout or all (chatbench: a fixed ~20% of questions "
                            "is held out).", "SPLIT")]
MaxLength = Annotated[int, opt("Most tokens per example; older turns are dropped first.",
                                "MAX_LENGTH")]
Seed = Annotated[int, opt("Seed.", "SEED")]


def _conversations(data: str, data_path: Path | None, split: str) -> list[Any]:
    from chatbench.training.fidelity import load_human_conversations

    conversations = load_human_conversations(data, data_path, split)
    if not conversations:
        raise ConfigError(f"field 'split': no {data} conversations in split {split!r}")
    return conversations


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def _export_examples(data: str, data_path: Path | None, split: str, path: Path, fmt: str,
                     max_examples: int | None) -> None:
    """``train --export``: write one split's examples as JSONL, check each line, report."""
    from chatbench.training.export import check_example_format, export_examples

    check_example_format(fmt)
    result = export_examples(_conversations(data, data_path, split), path, fmt,
                             max_examples=max_examples)
    console.print(f"{data} {split} split: {result.conversations} conversations, "
                  f"{result.questions} questions, {result.examples} {fmt} examples "
                  f"written to {result.path} (each line checked)")


def _train_config(fields: dict[str, Any]) -> Any:
    from chatbench.training.train import TrainConfig

    try:
        return TrainConfig.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("options", exc)) from None


def train_command(
    data: Data = "halie",
    data_path: DataPath = None,
    base: Annotated[str, opt("Base model: smollm2, or a transformers folder or hub id.",
                              "BASE")] = "smollm2",
    out: Annotated[Path, opt("Folder to save the fine-tuned simulator in.", "OUT")]
    = Path("simulator"),
    epochs: Annotated[float, opt("Training epochs.", "EPOCHS")] = 2.0,
    lr: Annotated[float, opt("AdamW learning rate.", "LR")] = 5e-5,
    batch_size: Annotated[int, opt("Examples per step.", "BATCH_SIZE")] = 4,
    max_length: MaxLength = 1024,
    lora: Annotated[bool, opt("Train LoRA adapters (r=8, alpha=32), merged on save "
                               "(pip install 'chatbench[train]').", "LORA")] = False,
    max_examples: Annotated[int | None, opt("Train on (or export) at most this many "
                                             "examples.",
                                             "MAX_EXAMPLES")] = None,
    validation_share: Annotated[float, opt("Share of train questions kept out for the "
                                            "per-epoch validation loss (0: none).",
                                            "VALIDATION_SHARE")] = 0.05,
    seed: Seed = 0,
    export: Annotated[Path | None, opt("Write the examples to this JSONL file and stop, "
                                        "without training (for an API fine-tune).",
                                        "EXPORT")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="With --export: chat (default; "
                                            "OpenAI chat fine-tuning lines with the paper's "
                                            "two-step prompts) or text (prompt/completion, "
                                            "as trained here).",
                                            envvar="CHATBENCH_EXAMPLE_FORMAT")] = None,
    split: Annotated[str, opt("With --export: train, heldout or all (held-out examples are "
                               "for evaluation only). Training always uses train.",
                               "EXPORT_SPLIT")] = "train",
    export_gguf: Annotated[str | None, opt("After training, also write the simulator as "
                                           "OUT/model-<weights>.gguf (f32, f16 or q8_0) to "
                                           "serve on llama.cpp with gguf:FILE.",
                                           "EXPORT_GGUF")] = None,
) -> None:
    """Fine-tune a causal LM as a user simulator on the train split of human conversations
    (never the held-out questions), or with --export write the examples as JSONL."""
    from chatbench.training.examples import build_examples
    from chatbench.training.train import train_simulator

    if export is not None:
        _export_examples(data, data_path, split, export, fmt or "chat", max_examples)
        return
    if split != "train":
        raise ConfigError(f"field 'split': training uses the train split only; --split "
                          f"{split} is for --export")
    if fmt is not None:
        raise ConfigError(f"field 'format': --format {fmt} needs --export FILE; training "
                          "here fine-tunes a local causal LM on text examples")
    if export_gguf is not None and export_gguf not in GGUF_WEIGHTS:
        raise ConfigError(f"field 'export_gguf': --export-gguf must be one of "
                          f"{', '.join(GGUF_WEIGHTS)}, not {export_gguf!r}")
    config = _train_config({"base": base, "out": out, "epochs": epochs, "learning_rate": lr,
                            "batch_size": batch_size, "max_length": max_length, "lora": lora,
                            "max_examples": max_examples, "seed": seed,
                            "validation_share": validation_share})
    conversations = _conversations(data, data_path, "train")
    questions = len({c.question.id for c in conversations})
    console.print(f"{data} train split: {len(conversations)} conversations, {questions} "
                  f"questions, {len(build_examples(conversations))} examples (a "
                  f"{config.validation_share:.0%} share of questions is kept for validation)")
    result = train_simulator(conversations, config)
    console.print(f"trained on {result.train_examples} examples, validated on "
                  f"{result.validation_examples} ({result.precision})")
    for epoch, loss in enumerate(result.epoch_validation_loss, start=1):
        console.print(f"  epoch {epoch}: validation loss {loss:.4f}")
    if not result.epoch_validation_loss:
        console.print("no validation loss: no questions were kept out for validation")
    if result.train_loss is not None:
        console.print(f"training loss {result.train_loss:.4f}")
    console.print(f"took {result.seconds:.1f} s; saved to {result.folder}")
    console.print(Text.assemble("use it as the simulator's model: ",
                                (f"hf:{result.folder}", "bold"), " (with --graph causal_lm)"))
    if export_gguf is not None:
        from chatbench.models.gguf_export import export_trained

        path = export_trained(Path(result.folder), export_gguf)
        console.print(Text.assemble("on llama.cpp: ", (f"gguf:{path}", "bold")))


# --------------------------------------------------------------------------------------------
# perplexity
# --------------------------------------------------------------------------------------------


def perplexity_table(rows: list[tuple[str, Any]]) -> Table:
    """A table of ``(model, PerplexityResult)`` rows, with each perplexity's ratio to the
    first row's."""
    table = Table(title="perplexity of real users' turns",
                  caption=Text("target tokens only (user turns and [END]), each given its "
                               "prompt"))
    table.add_column("model", overflow="fold")
    for column in ("examples", "target tokens", "mean NLL", "perplexity", "ratio"):
        table.add_column(column, justify="right")
    first = rows[0][1].perplexity if rows else math.nan
    for name, result in rows:
        table.add_row(*cells(name, result.examples, result.target_tokens,
                             f"{result.mean_nll:.4f}", f"{result.perplexity:.2f}",
                             f"{result.perplexity / first:.3f}"))
    return table


def perplexity_command(
    model: Annotated[list[str] | None, opt("Model to score: smollm2 or hf:FOLDER; repeat to "
                                            "compare (the first is the ratio's base).",
                                            "MODEL")] = None,
    data: Data = "halie",
    data_path: DataPath = None,
    split: Split = "heldout",
    max_length: MaxLength = 1024,
    limit: Annotated[int | None, opt("Score only the first this many examples.", "LIMIT")]
    = None,
    batch_size: Annotated[int, opt("Examples per forward pass.", "BATCH_SIZE")] = 8,
) -> None:
    """Perplexity of real users' turns (held-out by default) under each model."""
    from chatbench.training.examples import build_examples
    from chatbench.training.perplexity import target_perplexity
    from chatbench.training.train import load_base

    if limit is not None and limit < 1:
        raise ConfigError(f"field 'limit': must be positive, got {limit}")
    examples = build_examples(_conversations(data, data_path, split))[:limit]
    console.print(f"{data} {split} split: {len(examples)} examples")
    rows = []
    for name in model or ["smollm2"]:
        lm = load_base(name)
        lm.context_window = min(lm.context_window, max_length)
        rows.append((name, target_perplexity(lm, examples, batch_size)))
    console.print(perplexity_table(rows))


# --------------------------------------------------------------------------------------------
# fidelity
# --------------------------------------------------------------------------------------------


def _number(value: float, digits: int = 3) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


OVERLAP_CAPTION = ("ROUGE-1 F1 0-1 (mean over pairs per question), BLEU 0-1 (one corpus score "
                   "per question, as the paper); then the mean over questions")


def fidelity_tables(report: Any) -> list[Table]:
    """Tables of a ``FidelityReport``: first-prompt overlap, turns, accuracy agreement."""
    overlap = Table(title="first prompts vs people's",
                    caption=Text(report.overlap.note or OVERLAP_CAPTION))
    for column in ("questions", "pairs", "ROUGE-1 F1", "BLEU"):
        overlap.add_column(column, justify="right")
    overlap.add_row(str(report.overlap.questions), str(report.overlap.pairs),
                    _number(report.overlap.rouge1), _number(report.overlap.bleu))
    turns = Table(title="user turns per conversation", caption=Text(
        report.turns.note or "mean over questions of the per-question mean"))
    for column in ("questions", "simulated", "human"):
        turns.add_column(column, justify="right")
    turns.add_row(str(report.turns.questions), _number(report.turns.simulated, 2),
                  _number(report.turns.human, 2))
    tables = [overlap, turns]
    if report.accuracy is not None:
        acc = report.accuracy
        agreement = Table(title=Text(f"user-AI accuracy vs people with {acc.human_model}"),
                          caption=Text(acc.note or "per question: simulated vs real accuracy"))
        for column in ("questions", "Pearson r", "p", "MAE"):
            agreement.add_column(column, justify="right")
        agreement.add_row(str(acc.n), _number(acc.pearson_r), _number(acc.p_value),
                          _number(acc.mae))
        tables.append(agreement)
    return tables


def fidelity_command(
    user: Annotated[str, opt("The simulator's model (hf:FOLDER for a fine-tuned one).",
                              "USER")],
    graph: Annotated[str, opt("Graph preset or GraphSpec YAML: two_step (prompted) or "
                               "causal_lm (fine-tuned).", "GRAPH")] = "two_step",
    assistant: Annotated[str, opt("Assistant model.", "ASSISTANT")] = "smollm2",
    data: Data = "halie",
    data_path: DataPath = None,
    split: Split = "heldout",
    samples: Annotated[int, opt("First prompts per question.", "SAMPLES")] = 10,
    replicates: Annotated[int, opt("Full conversations per question (turns, accuracy).",
                                    "REPLICATES")] = 2,
    limit_questions: Annotated[int | None, opt("Use only the first this many questions.",
                                                "LIMIT_QUESTIONS")] = None,
    human_model: Annotated[str | None, opt("Compare accuracy with people who used this "
                                            "assistant (e.g. gpt-4o, InstructDavinci).",
                                            "HUMAN_MODEL")] = None,
    concurrency: Annotated[int, opt("Calls at once (local models batch them).",
                                     "CONCURRENCY")] = 8,
    seed: Seed = 0,
) -> None:
    """How human-like a simulator is on held-out questions: first-prompt ROUGE-1/BLEU,
    turns per conversation, and (with --human-model) per-question accuracy r and MAE."""
    from chatbench.config import load_graph_spec
    from chatbench.training.fidelity import evaluate_fidelity

    spec = load_graph_spec(graph)
    humans = _conversations(data, data_path, split)
    report = evaluate_fidelity(humans, spec, user, assistant, samples=samples,
                               replicates=replicates, human_model=human_model,
                               limit_questions=limit_questions, concurrency=concurrency,
                               seed=seed)
    console.print(f"simulator {report.graph} ({report.simulator}), user {report.models['user']}"
                  f", assistant {report.models['assistant']}: {report.questions} {data} "
                  f"{split} questions, {report.conversations} conversations "
                  f"({report.failed} failed), {report.seconds:.1f} s")
    for table in fidelity_tables(report):
        console.print(table)
