"""Perplexity of real users' turns under a local causal LM (needs the ``hf`` extra).

The model card of chatbench-distilgpt2 reports held-out perplexity of real users' turns
(13.63 for distilgpt2, 3.38 fine-tuned). ``target_perplexity`` measures the same thing on
``TrainingExample``s: only target tokens (the user's turn and its ``[END]``) count, each
conditioned on its prompt. torch is imported inside the functions, so importing this module
does not need it.

Most of a base model's loss on those targets is in the format, not in the words:
``perplexity_parts`` splits ``target_perplexity``'s NLL into the ``[END]`` markers, the
``Answer: X`` examples, the first word after the prompt's lone space token, and the other
words. ``typed_words_perplexity`` scores only what people typed, tokenized as natural text
(the prompt's trailing space joins the first word).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from chatbench.errors import ConfigError
from chatbench.simulators.causal_lm import FORCED_PREFIX
from chatbench.state import END_TOKEN
from chatbench.training.examples import IGNORE_INDEX, TrainingExample, token_ids, tokenize_example

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


PartName = Literal["end_marker", "answers", "first_word", "words"]
PART_NAMES: tuple[PartName, ...] = ("end_marker", "answers", "first_word", "words")
"""The parts of ``target_perplexity``'s targets, in the order ``perplexity_parts`` lists them:
the ``[END]`` markers of user turns, every token of the ``Answer: X`` examples, the first
token of each user turn (after the prompt's lone space token), and the other tokens of the
user turns."""


@dataclass(frozen=True)
class PerplexityPart:
    """One part of the target tokens and its share of their NLL."""

    name: PartName
    tokens: int
    """Number of target tokens in this part."""
    nll: float
    """Summed negative log-likelihood of those tokens, in nats."""
    share: float
    """``nll`` over the NLL of all target tokens (0-1)."""
    perplexity: float
    """``exp(nll / tokens)``; NaN when the part has no tokens."""


@dataclass(frozen=True)
class PerplexityParts:
    """``target_perplexity``'s figure and its NLL split into ``PART_NAMES``."""

    total: PerplexityResult
    """The figure of all target tokens, as ``target_perplexity`` gives it."""
    parts: tuple[PerplexityPart, ...]
    """One per name of ``PART_NAMES``, in that order; their tokens and NLL add up to the total."""

    def part(self, name: PartName) -> PerplexityPart:
        """The part called ``name``."""
        return next(part for part in self.parts if part.name == name)


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


def _check_inputs(examples: Sequence[TrainingExample], batch_size: int) -> None:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    if not examples:
        raise ConfigError("no examples to score")


@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """No dropout, even when the caller has been training the model; restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _summed_nll(
    lm: LocalCausalLM, rows: Sequence[dict[str, list[int]]], batch_size: int
) -> tuple[float, int]:
    """Summed NLL (nats) and count of the labelled tokens of all rows."""
    rows = sorted(rows, key=lambda row: len(row["input_ids"]))  # less padding; same sums
    pad_id = _pad_id(lm.tokenizer)
    total_nll, total_tokens = 0.0, 0
    with _eval_mode(lm.model):
        for start in range(0, len(rows), batch_size):
            nll, tokens = _batch_nll(lm.model, _pad_batch(rows[start : start + batch_size], pad_id))
            total_nll += nll
            total_tokens += tokens
    return total_nll, total_tokens


def _result(total_nll: float, total_tokens: int, examples: int) -> PerplexityResult:
    mean_nll = total_nll / total_tokens
    return PerplexityResult(math.exp(mean_nll), mean_nll, total_tokens, examples)


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
    _check_inputs(examples, batch_size)
    rows = [tokenize_example(lm.tokenizer, example, lm.context_window) for example in examples]
    return _result(*_summed_nll(lm, rows, batch_size), len(rows))


# --- the words people typed -----------------------------------------------------------------


def is_answer_example(example: TrainingExample) -> bool:
    """Whether the example targets the final ``Answer: X`` rather than a typed user turn."""
    return example.target.startswith(FORCED_PREFIX)


def typed_text(example: TrainingExample) -> str:
    """What the user typed: the example's target without its ``[END]`` marker."""
    return example.target.removesuffix(END_TOKEN)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two id lists."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def typed_words_row(
    tokenizer: Any, example: TrainingExample, max_length: int
) -> dict[str, list[int]]:
    """Ids of prompt and typed text tokenized as one string; labels on the typed text only.

    The prompt's trailing space joins the first typed word (GPT-2's ``" What"``), as in
    natural text. The labelled tokens are those from the first one where the ids depart from
    the prompt's own ids: every token that holds a character the user typed, and no ``[END]``.
    Where the tokenizer keeps the space apart (SmolLM2 before a digit), it stays in the prompt.
    The oldest turn blocks are dropped, as in ``tokenize_example``, until it fits.

    Args:
        tokenizer: A transformers tokenizer.
        example: A user-turn example (not an ``Answer: X`` one).
        max_length: Most tokens of prompt plus typed text.

    Returns:
        ``{"input_ids", "labels", "attention_mask"}`` as in ``tokenize_example``.

    Raises:
        ConfigError: Even with every turn dropped the example needs more than ``max_length``.
    """
    text = typed_text(example)
    needed = 0
    for prompt in example.shortened_prompts():
        ids = token_ids(tokenizer, prompt + text)
        needed = len(ids)
        if needed <= max_length:
            start = _common_prefix(ids, token_ids(tokenizer, prompt))
            return {
                "input_ids": ids,
                "labels": [IGNORE_INDEX] * start + ids[start:],
                "attention_mask": [1] * needed,
            }
    raise ConfigError(
        f"a typed turn of question {example.question_id!r} needs {needed} tokens "
        f"without its earlier turns, more than max_length={max_length}"
    )


def typed_words_perplexity(
    lm: LocalCausalLM, examples: Sequence[TrainingExample], batch_size: int = 8
) -> PerplexityResult:
    """Perplexity of only the words people typed, each turn given its prompt.

    Unlike ``target_perplexity`` this leaves out the ``Answer: X`` examples and the ``[END]``
    markers, and tokenizes prompt and turn together (``typed_words_row``), so no lone space
    token sits before the first word. Turns with no text are left out too.

    Args:
        lm: The local model and its tokenizer.
        examples: The examples, e.g. ``build_examples(load_halie("heldout"))``.
        batch_size: Examples per forward pass.

    Returns:
        The perplexity, mean NLL, and the numbers of typed tokens and of examples scored.

    Raises:
        ConfigError: There are no examples or none has typed text, ``batch_size`` is not
            positive, or an example does not fit the context window.
    """
    _check_inputs(examples, batch_size)
    typed = [ex for ex in examples if not is_answer_example(ex) and typed_text(ex).strip()]
    if not typed:
        raise ConfigError("no typed user turns to score (only Answer: examples or empty turns)")
    rows = [typed_words_row(lm.tokenizer, example, lm.context_window) for example in typed]
    return _result(*_summed_nll(lm, rows, batch_size), len(rows))


# --- where target_perplexity's loss is ------------------------------------------------------


def target_parts(tokenizer: Any, example: TrainingExample) -> list[PartName]:
    """The part of each target token of ``tokenize_example``, in order.

    Every token of an ``Answer: X`` example is ``"answers"``. In a user turn the tokens from
    where the target's ids depart from the typed text's are ``"end_marker"`` (so a token that
    holds the turn's last character and the marker's ``[``, GPT-2's ``".["``, counts as the
    marker); before them the first token is ``"first_word"`` and the rest ``"words"``.
    """
    target_ids = token_ids(tokenizer, example.target)
    if is_answer_example(example):
        return ["answers"] * len(target_ids)
    words = _common_prefix(target_ids, token_ids(tokenizer, typed_text(example)))
    typed: list[PartName] = ["first_word"] + ["words"] * (words - 1) if words else []
    return typed + ["end_marker"] * (len(target_ids) - words)


def _batch_token_nlls(model: Any, batch: dict[str, Any]) -> list[list[float]]:
    """NLL (nats) of each labelled token of each row of one padded batch, in order."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    labels = batch["labels"].to(device)[:, 1:]
    with torch.inference_mode():
        logits = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
        ).logits.float()
    # Token t is predicted from the logits at position t - 1. Flattened as in _batch_nll: a
    # (batch, vocab, position) layout takes a less precise kernel (1e-4 relative on SmolLM2).
    nll = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view(labels.shape)
    return [row[mask].tolist() for row, mask in zip(nll, labels != IGNORE_INDEX, strict=True)]


def _part_sums(
    lm: LocalCausalLM,
    rows: Sequence[tuple[dict[str, list[int]], list[PartName]]],
    batch_size: int,
) -> dict[PartName, tuple[float, int]]:
    """Summed NLL and token count per part over rows of ``(tokenized example, parts)``."""
    rows = sorted(rows, key=lambda row: len(row[0]["input_ids"]))
    pad_id = _pad_id(lm.tokenizer)
    sums = {name: (0.0, 0) for name in PART_NAMES}
    with _eval_mode(lm.model):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            batch = _pad_batch([row for row, _ in chunk], pad_id)
            for nlls, (_, parts) in zip(_batch_token_nlls(lm.model, batch), chunk, strict=True):
                for nll, name in zip(nlls, parts, strict=True):
                    total, count = sums[name]
                    sums[name] = (total + nll, count + 1)
    return sums


def perplexity_parts(
    lm: LocalCausalLM, examples: Sequence[TrainingExample], batch_size: int = 8
) -> PerplexityParts:
    """``target_perplexity``'s figure, and how much of its NLL each part of the targets holds.

    The examples are tokenized and scored exactly as by ``target_perplexity``; each target
    token then goes to one of ``PART_NAMES`` (``target_parts``).

    Args:
        lm: The local model and its tokenizer.
        examples: The examples, e.g. ``build_examples(load_halie("heldout"))``.
        batch_size: Examples per forward pass.

    Returns:
        The total figure and, per part, its tokens, summed NLL, share of the NLL and
        perplexity.

    Raises:
        ConfigError: As ``target_perplexity``.
    """
    _check_inputs(examples, batch_size)
    rows = [
        (
            tokenize_example(lm.tokenizer, example, lm.context_window),
            target_parts(lm.tokenizer, example),
        )
        for example in examples
    ]
    sums = _part_sums(lm, rows, batch_size)
    total_nll = sum(nll for nll, _ in sums.values())
    total = _result(total_nll, sum(count for _, count in sums.values()), len(rows))
    parts = tuple(
        PerplexityPart(
            name,
            count,
            nll,
            nll / total_nll if total_nll else math.nan,
            math.exp(nll / count) if count else math.nan,
        )
        for name, (nll, count) in sums.items()
    )
    return PerplexityParts(total, parts)
