"""The paper's BLEU (Hugging Face ``evaluate``'s ``bleu``): hand-computed cases, sacrebleu."""

from __future__ import annotations

import math
import random
from importlib.util import find_spec

import pytest

from chatbench.training.bleu import corpus_bleu, tokenize_13a


def test_identical_segments_score_one():
    score = corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert score.bleu == 1.0 and score.brevity_penalty == 1.0
    assert score.precisions == (1.0, 1.0, 1.0, 1.0)


def test_one_word_changed_by_hand():
    # 1-grams 5/6 ("the" is clipped to once), 2-grams 3/5, 3-grams 2/4, 4-grams 1/3
    score = corpus_bleu(["the cat sat on a mat"], ["the cat sat on the mat"])
    assert score.precisions == pytest.approx((5 / 6, 3 / 5, 2 / 4, 1 / 3))
    assert score.bleu == pytest.approx((1 / 12) ** 0.25)
    assert score.bleu == pytest.approx(0.537285, abs=1e-6)


def test_short_prediction_pays_the_brevity_penalty():
    score = corpus_bleu(["the cat sat on"], ["the cat sat on the mat"])
    assert score.precisions == (1.0, 1.0, 1.0, 1.0)
    assert score.length_ratio == pytest.approx(4 / 6)
    assert score.bleu == pytest.approx(math.exp(1 - 6 / 4))  # 0.6065


def test_no_smoothing_a_missing_order_gives_zero():
    assert corpus_bleu(["the cat"], ["the cat sat"]).bleu == 0.0  # no 3-grams at all
    assert corpus_bleu(["alpha beta gamma delta"], ["one two three four"]).bleu == 0.0


def test_counts_are_pooled_over_the_corpus():
    score = corpus_bleu(["the cat sat on the mat", "a b"], ["the cat sat on the mat", "c d"])
    assert score.precisions == pytest.approx((6 / 8, 5 / 6, 1.0, 1.0))
    assert score.bleu == pytest.approx((6 / 8 * 5 / 6) ** 0.25)  # 0.8891, not (1 + 0) / 2


def test_several_references_per_prediction():
    score = corpus_bleu(["hello there general kenobi", "foo bar foobar"],
                        [["hello there general kenobi", "hello there!"], ["foo bar foobar"]])
    assert score.bleu == 1.0  # the example in evaluate's bleu docstring
    assert score.reference_length == 3 + 3  # the shortest reference of each prediction


def test_empty_side_scores_zero():
    assert corpus_bleu([""], ["some words here"]).bleu == 0.0


def test_13a_tokenizer():
    # the apostrophe is not split off; a dash after a digit is
    assert tokenize_13a("Hi, what's 3.5-2?") == ["Hi", ",", "what's", "3.5", "-", "2", "?"]
    assert tokenize_13a("x &amp; y\nz") == ["x", "&", "y", "z"]
    assert tokenize_13a("I paid $1,000.") == ["I", "paid", "$", "1,000", "."]


@pytest.mark.skipif(find_spec("sacrebleu") is None, reason="cross-check needs sacrebleu")
def test_agrees_with_sacrebleu_corpus_bleu_without_smoothing():
    from sacrebleu.metrics import BLEU

    words = "what is the answer to x = 2 , . ? it's 3.5-2 & &amp; help me solve this".split()
    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(1, 8)
        preds = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(n)]
        refs = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(n)]
        theirs = BLEU(tokenize="13a", smooth_method="none").corpus_score(preds, [refs])
        assert corpus_bleu(preds, refs).bleu == pytest.approx(theirs.score / 100, abs=1e-12)
