"""Command functions for fine-tuned simulators: ``train`` and ``perplexity`` (``fidelity``, the
realism scorecard, is ``chatbench.cli.fidelity``).

Plain functions with typer ``Annotated`` options; ``chatbench.cli`` registers them
(``app.command("train")(train_command)``). Caller mistakes raise ``ConfigError``, which the
CLI turns into exit code 2. ``train`` and ``perplexity`` need the ``hf`` extra (LoRA also
``train``).

Typical use::

    chatbench train --data halie --base smollm2 --out simulator
    chatbench train --data halie --export chat_train.jsonl   # OpenAI chat format, no training
    chatbench perplexity --model smollm2 --model hf:simulator
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


def load_split(data: str, data_path: Path | None, split: str) -> list[Any]:
    """The human conversations of one split (``load_human_conversations``).

    Raises:
        ConfigError: Bad data or split, or a split with no conversations.
    """
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
    result = export_examples(load_split(data, data_path, split), path, fmt,
                             max_examples=max_examples)
    console.print(f"{data} {split} split: {result.conversations} conversations, "
                  f"{result.questions} questions, {result.examples} {fmt} examples "
                  f"written to {result.path} (each line checked)")


def _train_config(fields: dict[str, Any]) -> Any:
    from chatbench.training.train import TrainConfig

    try:
        return TrainConfig.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("options", exc, TrainConfig)) from None


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
    train_layers: Annotated[int | None, opt("Train only the top N transformer blocks and "
                                             "the final norm (faster on a CPU).",
                                             "TRAIN_LAYERS")] = None,
    keep_first_turns: Annotated[bool, opt("With --max-examples: keep every first-turn "
                                           "example, sample the rest.",
                                           "KEEP_FIRST_TURNS")] = False,
    first_turn_weight: Annotated[int, opt("Train on each first-turn example this many times "
                                           "per epoch.", "FIRST_TURN_WEIGHT")] = 1,
    seed: Seed = 0,
    export: Annotated[Path | None, opt("Write the examples to this JSONL file and stop, "
                                        "without training (for an API fine-tune).",
                                        "EXPORT")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="With --export: chat (default; "
                                            "OpenAI chat fine-tuning lines exactly as the "
                                            "paper's code makes them, refusing the chats it "
                                            "refuses), chat_merged (the same on merged turns: "
                                            "every chat converts) or text "
                                            "(prompt/completion, as trained here).",
                                            envvar="CHATBENCH_EXAMPLE_FORMAT")] = None,
    split: Annotated[str, opt("With --export: train, heldout or all (held-out examples are "
                               "for evaluation only). Training always uses train.",
                               "EXPORT_SPLIT")] = "train",
    export_gguf: Annotated[str | None, opt("After training, also write the simulator as "
                                           "OUT/model-WEIGHTS.gguf (f32, f16 or q8_0) to "
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
                            "validation_share": validation_share,
                            "train_layers": train_layers,
                            "keep_first_turns": keep_first_turns,
                            "first_turn_weight": first_turn_weight})
    conversations = load_split(data, data_path, "train")
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


PART_LABELS = {"end_marker": "[END] markers", "answers": "Answer: X examples",
               "first_word": "first word (after the lone space)", "words": "other words"}
TYPED_WORDS_LABEL = "typed words (natural tokens)"


def _ratio(value: float, base: float) -> str:
    return "-" if math.isnan(value) or math.isnan(base) else f"{value / base:.3f}"


def perplexity_parts_table(rows: list[tuple[str, Any, Any]]) -> Table:
    """A table of ``(model, PerplexityParts, typed-words PerplexityResult)`` rows: per model,
    each part's tokens, share of the targets' NLL and perplexity, then the typed words'
    figure; each perplexity's ratio is to the same line of the first model."""
    table = Table(title="where the loss is, and the words people typed alone",
                  caption=Text("parts of the target tokens above; typed words: user turns "
                               "only, no [END] or Answer: lines, prompt and turn tokenized "
                               "together"))
    table.add_column("model", overflow="fold")
    table.add_column("part")
    for column in ("tokens", "NLL share", "perplexity", "ratio"):
        table.add_column(column, justify="right")
    first = {} if not rows else {**{p.name: p.perplexity for p in rows[0][1].parts},
                                 TYPED_WORDS_LABEL: rows[0][2].perplexity}
    for name, parts, typed in rows:
        for i, part in enumerate(parts.parts):
            table.add_row(*cells(name if i == 0 else "", PART_LABELS[part.name], part.tokens,
                                 f"{part.share:.1%}", f"{part.perplexity:.2f}",
                                 _ratio(part.perplexity, first[part.name])))
        table.add_row(*cells("", TYPED_WORDS_LABEL, typed.target_tokens, "-",
                             f"{typed.perplexity:.2f}",
                             _ratio(typed.perplexity, first[TYPED_WORDS_LABEL])),
                      end_section=True)
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
    """Perplexity of real users' turns (held-out by default) under each model: the targets'
    figure, where its loss is, and the words people typed alone."""
    from chatbench.training.examples import build_examples
    from chatbench.training.perplexity import perplexity_parts, typed_words_perplexity
    from chatbench.training.train import load_base

    if limit is not None and limit < 1:
        raise ConfigError(f"field 'limit': must be positive, got {limit}")
    examples = build_examples(load_split(data, data_path, split))[:limit]
    console.print(f"{data} {split} split: {len(examples)} examples")
    rows = []
    for name in model or ["smollm2"]:
        lm = load_base(name)
        lm.context_window = min(lm.context_window, max_length)
        rows.append((name, perplexity_parts(lm, examples, batch_size),
                     typed_words_perplexity(lm, examples, batch_size)))
    console.print(perplexity_table([(name, parts.total) for name, parts, _ in rows]))
    console.print(perplexity_parts_table(rows))
