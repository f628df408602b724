"""Fine-tune a causal LM as a user simulator on human conversations (the ChatBench recipe).

Defaults follow the chatbench-distilgpt2 model card: AdamW, learning rate 5e-5, 2 epochs,
batch 4, bf16 where the hardware has it (else fp32), optional LoRA (r=8, alpha=32, dropout
0.05). The loss is on the user's turn only. The saved folder loads with ``hf:FOLDER`` as a
causal-LM simulator (LoRA weights are merged first).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatbench._files import output_folder, writing
from chatbench.data.human_data import HumanConversation
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.training.examples import TrainingExample, build_examples, tokenize_example

METADATA_FILE = "chatbench_simulator.json"
"""Written beside the weights: how the simulator was trained."""


class TrainConfig(BaseModel):
    """How to fine-tune a simulator. Defaults are the model card's recipe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: str = "smollm2"
    """``smollm2`` or a transformers folder or hub id (``hf:`` prefix optional)."""
    out: Path = Path("simulator")
    """Folder to save the fine-tuned model in."""
    epochs: float = Field(default=2.0, gt=0)
    learning_rate: float = Field(default=5e-5, gt=0)
    batch_size: int = Field(default=4, ge=1)
    max_length: int = Field(default=1024, ge=16)
    """Longest example in tokens; longer ones drop their oldest turns (never the question)."""
    train_layers: int | None = Field(default=None, ge=1)
    """Train only the last N transformer blocks (and the final norm); None trains all.
    Backpropagation then stops N blocks from the top, which makes CPU training several
    times faster."""
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    validation_share: float = Field(default=0.05, ge=0, lt=1)
    """Share of training conversations kept out for the per-epoch validation loss."""
    max_examples: int | None = Field(default=None, ge=1)
    """Train on at most this many examples (a random, seeded subset)."""
    keep_first_turns: bool = False
    """With ``max_examples``: keep every first-turn example (a conversation's opening, the
    message the first-prompt metrics compare) and sample the cap's rest from the others."""
    first_turn_weight: int = Field(default=1, ge=1)
    """Each first-turn example is trained on this many times per epoch (its loss weighted
    up), after the subset is drawn."""
    seed: int = 0


@dataclass
class TrainResult:
    """What training did, as saved in ``chatbench_simulator.json``."""

    folder: Path
    train_examples: int
    validation_examples: int
    epoch_validation_loss: list[float] = field(default_factory=list)
    train_loss: float | None = None
    seconds: float = 0.0
    precision: str = "fp32"


def split_conversations(
    conversations: Sequence[HumanConversation], share: float, seed: int
) -> tuple[list[HumanConversation], list[HumanConversation]]:
    """Train and validation conversations, split by question so none is in both."""
    questions = sorted({c.question.id for c in conversations})
    random.Random(seed).shuffle(questions)
    n_val = round(len(questions) * share) if share else 0
    val_ids = set(questions[:n_val])
    train = [c for c in conversations if c.question.id not in val_ids]
    return train, [c for c in conversations if c.question.id in val_ids]


class _Rows:
    """A list of tokenized examples as a torch-style dataset."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


def _tokenized(tokenizer: Any, examples: Sequence[TrainingExample], max_length: int) -> _Rows:
    return _Rows([tokenize_example(tokenizer, e, max_length) for e in examples])


def _is_first_turn(example: TrainingExample) -> bool:
    return example.system is not None and not example.blocks


def _subset(examples: list[TrainingExample], config: TrainConfig) -> list[TrainingExample]:
    """The seeded subset of ``config.max_examples`` (first turns kept whole if asked), with
    each first-turn example repeated ``config.first_turn_weight`` times."""
    limit = config.max_examples
    if limit is not None and limit < len(examples):
        kept = [e for e in examples if config.keep_first_turns and _is_first_turn(e)]
        rest = [e for e in examples if not (config.keep_first_turns and _is_first_turn(e))]
        drawn = random.Random(config.seed).sample(rest, max(0, min(limit - len(kept),
                                                                   len(rest))))
        examples = kept + drawn if config.keep_first_turns else drawn
    repeats = config.first_turn_weight
    return [e for e in examples for _ in range(repeats if _is_first_turn(e) else 1)]


def _with_lora(model: Any, config: TrainConfig) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise MissingDependencyError("LoRA fine-tuning (peft)", extra="train") from exc
    from transformers.pytorch_utils import Conv1D

    # GPT-2's layers are Conv1D (weights stored transposed): say so, as peft would do itself
    # with a warning on every run
    conv1d = any(isinstance(module, Conv1D) for module in model.modules())
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, task_type="CAUSAL_LM",
                      target_modules="all-linear", fan_in_fan_out=conv1d)
    return get_peft_model(model, lora)


def _blocks(model: Any) -> Any:
    """The model's list of transformer blocks (``model.layers``, ``transformer.h``, ...)."""
    import torch

    n_layers = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return module
    raise ConfigError(f"cannot find the {n_layers} transformer blocks of {type(model).__name__}")


def _final_norms(model: Any) -> list[Any]:
    """The norm after the last block: Llama's ``model.norm``, GPT-2's ``transformer.ln_f``."""
    found = [getattr(getattr(model, owner, None), name, None)
             for owner, name in (("model", "norm"), ("transformer", "ln_f"))]
    return [norm for norm in found if norm is not None]


def freeze_below(model: Any, train_layers: int) -> None:
    """Freeze every parameter except the last ``train_layers`` blocks and the final norm."""
    blocks = _blocks(model)
    trainable = {id(p) for block in list(blocks)[-train_layers:] for p in block.parameters()}
    for final_norm in _final_norms(model):
        trainable |= {id(p) for p in final_norm.parameters()}
    for parameter in model.parameters():
        parameter.requires_grad = id(parameter) in trainable


def _bf16_available() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _training_args(config: TrainConfig, scratch: Path, bf16: bool) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(scratch), num_train_epochs=config.epochs,
        learning_rate=config.learning_rate, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, optim="adamw_torch", bf16=bf16,
        eval_strategy="epoch", save_strategy="no", logging_steps=10, report_to=[],
        seed=config.seed, disable_tqdm=False, remove_unused_columns=False,
        dataloader_pin_memory=False,
        # Batches of similar lengths: far less padding, so CPU steps are several times cheaper.
        train_sampling_strategy="group_by_length",
    )


def load_base(base: str) -> Any:
    """A fresh (uncached, trainable) ``LocalCausalLM`` from ``smollm2``, ``hf:X`` or ``X``."""
    from chatbench.models import hf

    name = base.removeprefix("hf:")
    return hf.load_pretrained(hf.smollm2_folder() if name == "smollm2" else name)


def _examples(
    conversations: Sequence[HumanConversation], config: TrainConfig
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    train_convs, val_convs = split_conversations(conversations, config.validation_share,
                                                 config.seed)
    train = _subset(build_examples(train_convs), config)
    if not train:
        raise ConfigError("no training examples: the conversations have no user turns")
    return train, build_examples(val_convs)


def _save(model: Any, tokenizer: Any, result: TrainResult, config: TrainConfig) -> None:
    metadata = {"config": config.model_dump(mode="json"),
                "result": {k: v for k, v in vars(result).items() if k != "folder"}}
    with writing(output_folder(config.out, "the trained simulator"), "the trained simulator"):
        model.save_pretrained(config.out)
        tokenizer.save_pretrained(config.out)
        (config.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2))


def train_simulator(
    conversations: Sequence[HumanConversation],
    config: TrainConfig,
    on_trainer: Callable[[Any], None] | None = None,
) -> TrainResult:
    """Fine-tune ``config.base`` on the conversations' user turns and save it.

    Args:
        conversations: Human conversations (training split only: never pass held-out data).
        config: The recipe.
        on_trainer: Called with the transformers ``Trainer`` before training (callbacks).

    Returns:
        Example counts, per-epoch validation loss, training loss, seconds, precision.

    Raises:
        ConfigError: No training examples, the base model cannot be loaded, or ``config.out``
            cannot be written.
    """
    from transformers import DataCollatorForSeq2Seq, Trainer

    started = time.perf_counter()
    train, validation = _examples(conversations, config)
    output_folder(config.out, "the trained simulator")  # now, not after hours of training
    lm = load_base(config.base)
    tokenizer = lm.tokenizer
    tokenizer.padding_side = "right"  # labels and inputs padded alike for training
    if config.train_layers is not None:
        freeze_below(lm.model, config.train_layers)
    model = _with_lora(lm.model, config) if config.lora else lm.model
    model.train()
    bf16 = _bf16_available()
    args = _training_args(config, config.out / ".checkpoints", bf16)
    if not validation:
        args.eval_strategy = "no"
    trainer = Trainer(
        model=model, args=args, train_dataset=_tokenized(tokenizer, train, config.max_length),
        eval_dataset=_tokenized(tokenizer, validation, config.max_length) if validation else None,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
    )
    if on_trainer is not None:
        on_trainer(trainer)
    output = trainer.train()
    if config.lora:
        model = model.merge_and_unload()
    history = trainer.state.log_history
    result = TrainResult(
        folder=config.out, train_examples=len(train), validation_examples=len(validation),
        epoch_validation_loss=[float(log["eval_loss"]) for log in history if "eval_loss" in log],
        train_loss=float(output.training_loss), seconds=time.perf_counter() - started,
        precision="bf16" if bf16 else "fp32",
    )
    tokenizer.padding_side = "left"
    _save(model, tokenizer, result, config)
    return result
