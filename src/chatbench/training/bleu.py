"""The paper's BLEU: Hugging Face ``evaluate``'s ``bleu`` metric, with no dependencies.

The ChatBench authors scored first prompts with ``evaluate.load("bleu")`` (their
``get_bleu_and_rouge_for_question`` in ``generate_conversations.py``). That metric tokenizes
with sacrebleu's ``13a`` tokenizer and scores with Google's ``nmt`` ``compute_bleu``: corpus
BLEU (n-gram matches and lengths summed over all segments before the precisions are taken), max
order 4, no smoothing, on a 0-1 scale. Both pieces are reproduced here line for line, so the
numbers are the metric's own without ``evaluate``, ``datasets`` or a download.

Sources: ``metrics/bleu/{bleu,nmt_bleu,tokenizer_13a}.py`` in github.com/huggingface/evaluate
(Apache-2.0; ``nmt_bleu.py`` is Google's tensorflow/nmt ``scripts/bleu.py``, the tokenizer is
sacrebleu's ``tokenizer_13a.py``, both Apache-2.0).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["BleuScore", "corpus_bleu", "tokenize_13a"]

_REGEXES = (
    # language-dependent part (assuming Western languages)
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    # tokenize period and comma unless preceded by a digit
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    # tokenize period and comma unless followed by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    # tokenize dash when preceded by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)


@lru_cache(maxsize=2**16)
def _tokenize(line: str) -> tuple[str, ...]:
    """Cached ``tokenize_13a`` (tuples, so callers cannot change the cached value)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                .replace("&gt;", ">"))
    line = f" {line} "
    for pattern, replacement in _REGEXES:
        line = pattern.sub(replacement, line)
    return tuple(line.split())


def tokenize_13a(line: str) -> list[str]:
    """Split a segment into tokens as mteval-v13a (and so sacrebleu's ``13a``) does.

    Example:
        >>> tokenize_13a("Hi, what's 3.5-2?")
        ['Hi', ',', "what's", '3.5', '-', '2', '?']
    """
    return list(_tokenize(line))


def _ngrams(tokens: Sequence[str], max_order: int) -> Counter[tuple[str, ...]]:
    """Every n-gram of ``tokens`` up to ``max_order``, with its count."""
    counts: Counter[tuple[str, ...]] = Counter()
    for order in range(1, max_order + 1):
        for i in range(len(tokens) - order + 1):
            counts[tuple(tokens[i:i + order])] += 1
    return counts


@dataclass(frozen=True)
class BleuScore:
    """What ``evaluate``'s ``bleu`` returns, as fields."""

    bleu: float
    """0-1."""
    precisions: tuple[float, ...]
    """Modified n-gram precision per order, 1 to ``max_order``."""
    brevity_penalty: float
    length_ratio: float
    translation_length: int
    reference_length: int


def _counts(
    references: Sequence[Sequence[tuple[str, ...]]],
    translations: Sequence[tuple[str, ...]],
    max_order: int,
) -> tuple[list[int], list[int], int, int]:
    """``(matches, possible matches)`` per order and the two corpus lengths."""
    matches, possible = [0] * max_order, [0] * max_order
    reference_length = translation_length = 0
    for refs, translation in zip(references, translations, strict=True):
        reference_length += min(len(r) for r in refs)
        translation_length += len(translation)
        merged: Counter[tuple[str, ...]] = Counter()
        for ref in refs:
            merged |= _ngrams(ref, max_order)
        for ngram, count in (_ngrams(translation, max_order) & merged).items():
            matches[len(ngram) - 1] += count
        for order in range(1, max_order + 1):
            if len(translation) - order + 1 > 0:
                possible[order - 1] += len(translation) - order + 1
    return matches, possible, reference_length, translation_length


def corpus_bleu(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    max_order: int = 4,
    smooth: bool = False,
) -> BleuScore:
    """``evaluate.load("bleu").compute(predictions=..., references=...)``, reimplemented.

    Args:
        predictions: The segments scored (the paper: the simulated first prompts).
        references: One reference per prediction, or a list of references per prediction
            (the paper: one real first prompt per prediction, every pair listed).
        max_order: Longest n-gram counted.
        smooth: Lin and Och (2004) add-one smoothing (the paper: off).

    Returns:
        The score; 0 when either side has no tokens (where older ``evaluate`` versions
        divided by zero).

    Example:
        >>> corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]).bleu
        1.0
    """
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    tokenized_refs = [[_tokenize(r) for r in group] for group in refs]
    tokenized = [_tokenize(p) for p in predictions]
    matches, possible, ref_length, length = _counts(tokenized_refs, tokenized, max_order)
    if smooth:
        precisions = [(m + 1.0) / (p + 1.0) for m, p in zip(matches, possible, strict=True)]
    else:
        precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible, strict=True)]
    geo_mean = (math.exp(sum((1.0 / max_order) * math.log(p) for p in precisions))
                if min(precisions) > 0 else 0.0)
    if ref_length == 0 or length == 0:
        ratio = penalty = 0.0
    else:
        ratio = length / ref_length
        penalty = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return BleuScore(bleu=geo_mean * penalty, precisions=tuple(precisions),
                     brevity_penalty=penalty, length_ratio=ratio,
                     translation_length=length, reference_length=ref_length)
