"""Perplexity of the words people typed, and where today's target perplexity has its loss,
on hand-made examples with a tiny random GPT-2 and the real GPT-2 tokenizer."""

from __future__ import annotations

import math
import re

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chatbench.data.questions import Question  # noqa: E402
from chatbench.errors import ConfigError  # noqa: E402
from chatbench.simulators.causal_lm import (  # noqa: E402
    FORCED_PREFIX,
    format_target,
    system_block,
)
from chatbench.training.examples import IGNORE_INDEX, TrainingExample, token_ids  # noqa: E402
from chatbench.training.perplexity import (  # noqa: E402
    PART_NAMES,
    perplexity_parts,
    target_parts,
    target_perplexity,
    typed_words_perplexity,
    typed_words_row,
)
from tests.conftest import FIXTURES, GPT2_TOKENIZER, cli  # noqa: E402

pytestmark = pytest.mark.hf

END_IDS = [58, 10619, 60]  # "[END]" with the GPT-2 tokenizer
SPACE_ID = 220
SYSTEM = system_block(Question(id="math-1", subject="elementary_mathematics",
                               stem="What is 7 x 8?", choices=("54", "56", "58", "64"),
                               answer="B"))
BLOCKS = ("[USER] what is seven times eight", "[ASSISTANT] It is 56.",
          "[USER] are you sure?", "[ASSISTANT] Yes: 7 x 8 = 56.")
TEXTS = ["What is 7 x 8?", "(a) or b, not c", "ok.", "line one\nline two", "56"]


def _example(text: str, blocks: tuple[str, ...] = BLOCKS) -> TrainingExample:
    return TrainingExample.from_blocks(SYSTEM, blocks, format_target(text), "math-1")


def _answer(choice: str = "B") -> TrainingExample:
    return _example(f"{FORCED_PREFIX} {choice}")


def _labelled(row: dict[str, list[int]]) -> list[int]:
    return [label for label in row["labels"] if label != IGNORE_INDEX]


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)


def _tiny_gpt2(tokenizer):
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=512,
                                     vocab_size=len(tokenizer))
    return transformers.GPT2LMHeadModel(config)


@pytest.fixture(scope="module")
def tiny_lm(tokenizer):
    from chatbench.models.hf import LocalCausalLM

    return LocalCausalLM(_tiny_gpt2(tokenizer), tokenizer, "tiny-gpt2")


@pytest.fixture
def examples() -> list[TrainingExample]:
    """User turns with and without earlier turns, and two ``Answer: X`` examples."""
    return [_example(TEXTS[0], ()), *(_example(text) for text in TEXTS[1:]),
            _answer("B"), _answer("D")]


# --- which tokens are the typed words ---------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_typed_words_row_labels_exactly_the_typed_text(tokenizer, text):
    example = _example(text)
    row = typed_words_row(tokenizer, example, 512)
    prompt_ids = token_ids(tokenizer, example.prompt)
    assert row["input_ids"] == token_ids(tokenizer, example.prompt + text)  # natural tokenization
    assert prompt_ids[-1] == SPACE_ID  # tokenized alone, the prompt ends in a lone space...
    start = row["labels"].count(IGNORE_INDEX)
    assert row["input_ids"][:start] == prompt_ids[:-1]  # ...which here joins the first word
    assert row["labels"][start:] == row["input_ids"][start:]
    assert tokenizer.decode(_labelled(row)) == " " + text  # the typed words, no [END]
    assert len(row["attention_mask"]) == len(row["input_ids"])


def test_typed_words_row_drops_the_oldest_turns_to_fit(tokenizer):
    example = _example(TEXTS[0])
    full = len(typed_words_row(tokenizer, example, 512)["input_ids"])
    row = typed_words_row(tokenizer, example, full - 1)
    assert len(row["input_ids"]) < full
    assert tokenizer.decode(row["input_ids"]).startswith(SYSTEM)  # the question stays
    assert BLOCKS[0] not in tokenizer.decode(row["input_ids"])
    assert tokenizer.decode(_labelled(row)) == " " + TEXTS[0]
    with pytest.raises(ConfigError, match="max_length=10"):
        typed_words_row(tokenizer, example, 10)


def test_typed_words_perplexity_scores_only_typed_tokens(tiny_lm, examples):
    result = typed_words_perplexity(tiny_lm, examples, batch_size=3)
    turns = [ex for ex in examples if not ex.target.startswith(FORCED_PREFIX)]
    nlls = []
    for example in turns:  # one example at a time, by hand
        row = typed_words_row(tiny_lm.tokenizer, example, tiny_lm.context_window)
        ids, start = row["input_ids"], row["labels"].count(IGNORE_INDEX)
        with torch.no_grad():
            logp = tiny_lm.model(torch.tensor([ids])).logits[0].log_softmax(-1)
        nlls += [-float(logp[t - 1, ids[t]]) for t in range(start, len(ids))]
    assert result.examples == len(turns) == len(TEXTS)
    assert result.target_tokens == len(nlls) == sum(
        len(token_ids(tiny_lm.tokenizer, " " + text)) for text in TEXTS)
    assert result.mean_nll == pytest.approx(sum(nlls) / len(nlls), rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(result.mean_nll), rel=1e-9)


def test_typed_words_perplexity_leaves_out_answer_examples(tiny_lm, examples):
    turns = [ex for ex in examples if not ex.target.startswith(FORCED_PREFIX)]
    with_answers = typed_words_perplexity(tiny_lm, examples)
    without = typed_words_perplexity(tiny_lm, turns, batch_size=2)
    assert (with_answers.examples, with_answers.target_tokens) == (
        without.examples, without.target_tokens)
    assert with_answers.mean_nll == pytest.approx(without.mean_nll, rel=1e-6)
    with pytest.raises(ConfigError, match="no typed user turns"):
        typed_words_perplexity(tiny_lm, [_answer("A"), _answer("C")])
    with pytest.raises(ConfigError, match="no examples"):
        typed_words_perplexity(tiny_lm, [])


# --- where target_perplexity's loss is --------------------------------------------------------


def test_target_parts_name_every_target_token(tokenizer):
    question = _example("What is it?")
    assert token_ids(tokenizer, question.target)[-3:] == END_IDS
    assert target_parts(tokenizer, question) == (
        ["first_word", "words", "words", "words"] + ["end_marker"] * 3)
    # GPT-2 writes ".[" as one token: it goes to the marker, "ok" is the first word
    assert target_parts(tokenizer, _example("ok.")) == ["first_word"] + ["end_marker"] * 3
    answer = _answer("B")
    assert target_parts(tokenizer, answer) == ["answers"] * len(token_ids(tokenizer, answer.target))


def test_perplexity_parts_add_up_to_target_perplexity(tiny_lm, examples):
    total = target_perplexity(tiny_lm, examples)
    split = perplexity_parts(tiny_lm, examples, batch_size=3)
    assert [part.name for part in split.parts] == list(PART_NAMES)
    assert sum(part.tokens for part in split.parts) == total.target_tokens
    assert split.total.target_tokens == total.target_tokens
    assert split.total.examples == total.examples == len(examples)
    summed_nll = sum(part.nll for part in split.parts)
    assert summed_nll == pytest.approx(total.mean_nll * total.target_tokens, rel=1e-5)
    assert split.total.perplexity == pytest.approx(total.perplexity, rel=1e-5)
    assert sum(part.share for part in split.parts) == pytest.approx(1.0)
    for part in split.parts:
        assert part.share == pytest.approx(part.nll / summed_nll)
        assert part.perplexity == pytest.approx(math.exp(part.nll / part.tokens))


def test_perplexity_parts_count_the_format_tokens(tiny_lm, examples):
    tok = tiny_lm.tokenizer
    split = perplexity_parts(tiny_lm, examples)
    answers = [ex for ex in examples if ex.target.startswith(FORCED_PREFIX)]
    assert split.part("answers").tokens == sum(len(token_ids(tok, ex.target)) for ex in answers)
    assert split.part("first_word").tokens == len(TEXTS)  # one per user turn
    assert split.part("end_marker").tokens == len(END_IDS) * len(TEXTS)
    # the other words: each turn's tokens, as tokenized alone, but its first ("ok." gives
    # its "." to the marker's ".[")
    words = sum(len(token_ids(tok, text)) - 1 for text in TEXTS) - 1
    assert split.part("words").tokens == words


# --- the perplexity command -------------------------------------------------------------------


def _row(label: str, output: str) -> tuple[str, ...]:
    """The tokens, NLL share, perplexity and ratio cells of the parts table's ``label`` line."""
    cells = r"│\s+(\d+) │\s+([\d.]+%|-) │\s+([\d.]+) │\s+([\d.]+|-) │"
    found = re.findall(re.escape(label) + r"\s+" + cells, output)
    assert len(found) == 1, output
    return found[0]


def test_perplexity_command_prints_the_parts_and_the_typed_words(
    monkeypatch, capsys, tokenizer, tmp_path
):
    from chatbench.cli.train import PART_LABELS, TYPED_WORDS_LABEL
    from chatbench.data.human_data import load_chatbench_conversations
    from chatbench.training import build_examples
    from chatbench.training.train import load_base

    _tiny_gpt2(tokenizer).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    monkeypatch.chdir(tmp_path)  # a short model name keeps the table on one line per row
    code, output = cli(monkeypatch, capsys, "perplexity", "--model", "tiny", "--data",
                       "chatbench", "--data-path", str(FIXTURES / "chatbench_conversations.json"),
                       "--split", "all", "--max-length", "512", "--limit", "7")
    assert code == 0, output
    # today's figure: examples | target tokens | mean NLL | perplexity | ratio
    today = re.findall(r"│ tiny\s+│\s+7 │\s+(\d+) │\s+([\d.]+) │\s+([\d.]+) │\s+1.000 │", output)
    assert len(today) == 1, output
    parts = {name: _row(label, output) for name, label in PART_LABELS.items()}
    assert sum(int(tokens) for tokens, *_ in parts.values()) == int(today[0][0])
    assert sum(float(share[:-1]) for _, share, *_ in parts.values()) == pytest.approx(100, abs=0.3)
    assert all(ratio == "1.000" for *_, ratio in parts.values())

    examples = build_examples(load_chatbench_conversations(
        FIXTURES / "chatbench_conversations.json"))[:7]
    assert any(ex.target.startswith(FORCED_PREFIX) for ex in examples)
    lm = load_base("tiny")
    lm.context_window = 512
    typed = typed_words_perplexity(lm, examples)
    tokens, share, perplexity, ratio = _row(TYPED_WORDS_LABEL, output)
    assert (int(tokens), share, ratio) == (typed.target_tokens, "-", "1.000")
    assert float(perplexity) == pytest.approx(typed.perplexity, abs=0.006)
