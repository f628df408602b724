"""Perplexity of real users' turns under a local causal LM (needs the ``hf`` extra).

The model card of chatbench-distilgpt2 reports held-out perplexity of real users' turns
(13.63 for distilgpt2, 3.38 fine-tuned). ``target_perplexity`` measures the same thing on
``TrainingExample``s: only target tokens (the user's turn and its ``[END]``) count, each
conditioned on its prompt. torch is imported inside the functions, so importing this module
does not need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatbench.errors import ConfigError
from chatbench.training.examples import IGNORE_INDEX, TrainingExample, tokenize_example

if TYPE_CHECKING:
    from chatbench.models.hf import LocalCausalLM


@dataclass(frozen=True)
class PerplexityResult:
    """Token-weighted perplexity of the targets of a set of examples."""

    perplexity: float
    """``exp(mean_nll)``."""
    mean_nll: float
    """Mean negative log-likelihood per target token, in nats."""
    target_tokens: int
    """Number of target tokens scored."""
    examples: int
    """Number of examples scored."""


def _pad_batch(rows: Sequence[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    """Right-pad tokenized rows into tensors; padding has attention 0 and label -100."""
    import torch

    width = max(len(row["input_ids"]) for row in rows)

    def padded(key: str, fill: int) -> Any:
        return torch.tensor([row[key] + [fill] * (width - len(row[key])) for row in rows])

    return {
        "input_ids": padded("input_ids", pad_id),
        "attention_mask": padded("attention_mask", 0),
        "labels": padded("labels", IGNORE_INDEX),
    }


def _batch_nll(model: Any, batch: dict[str, Any]) -> tuple[float, int]:
    """Summed NLL (nats) and count of the labelled tokens of one padded batch."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    labels = batch["labels"].to(device)
    with torch.inference_mode():
        logits = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
        ).logits.float()
    # Token t is predicted from the logits at position t - 1.
    shifted_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shifted_labels = labels[:, 1:].reshape(-1)
    nll = F.cross_entropy(
        shifted_logits, shifted_labels, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return float(nll), int((shifted_labels != IGNORE_INDEX).sum())


def target_perplexity(
    lm: LocalCausalLM, examples: Sequence[TrainingExample], batch_size: int = 8
) -> PerplexityResult:
    """Perplexity of the examples' targets (user turns) given their prompts.

    Each example is tokenized as for training (``tokenize_example``, fitted to the model's
    context window by dropping the oldest turns), batched with right padding, and scored
    without gradients in eval mode. The result is ``exp`` of the mean NLL over all target
    tokens of all examples (token-weighted, not a mean of per-example perplexities).

    Args:
        lm: The local model and its tokenizer.
        examples: The examples, e.g. ``build_examples(load_halie("heldout"))``.
        batch_size: Examples per forward pass.

    Returns:
        The perplexity, mean NLL, and the numbers of target tokens and examples.

    Raises:
        ConfigError: There are no examples, ``batch_size`` is not positive, or an example
            does not fit the context window.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    if not examples:
        raise ConfigError("no examples to score")
    rows = [tokenize_example(lm.tokenizer, example, lm.context_window) for example in examples]
    rows.sort(key=lambda row: len(row["input_ids"]))  # less padding; the sums do not change
    pad_id = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    was_training = lm.model.training
    lm.model.eval()  # no dropout, even when the caller has been training the model
    total_nll, total_tokens = 0.0, 0
    try:
        for start in range(0, len(rows), batch_size):
            nll, tokens = _batch_nll(lm.model, _pad_batch(rows[start : start + batch_size], pad_id))
            total_nll += nll
            total_tokens += tokens
    finally:
        lm.model.train(was_training)
    mean_nll = total_nll / total_tokens
    return PerplexityResult(math.exp(mean_nll), mean_nll, total_tokens, len(rows))
