"""Fine-tuning examples (k user turns -> k+1 examples), tokenization with loss masking, and
target perplexity on a tiny random GPT-2 with the real GPT-2 tokenizer."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import pytest

from chatbench.data.human_data import HumanConversation, load_chatbench_conversations, load_halie
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.simulators.causal_lm import render_prompt, system_block, turn_blocks
from chatbench.training import (
    TrainingExample,
    build_examples,
    conversation_examples,
    tokenize_example,
)
from chatbench.training.examples import IGNORE_INDEX
from tests.conftest import FIXTURES, GPT2_TOKENIZER

END_IDS = [58, 10619, 60]  # "[END]" with the GPT-2 tokenizer
SPACE_ID = 220

QUESTION = Question(
    id="elementary_mathematics-redux-12",
    subject="elementary_mathematics",
    stem="What is 7 x 8?",
    choices=("54", "56", "58", "64"),
    answer="B",
)


def _conversation(users: int = 3, replies: int | None = None, choice: str | None = "B"):
    replies = users if replies is None else replies
    return HumanConversation(
        question=QUESTION,
        user_turns=[f"user turn {i}" for i in range(users)],
        assistant_turns=[f"assistant reply {i}" for i in range(replies)],
        final_choice=choice,
        assistant_model="gpt-4o",
        source="chatbench",
    )


@pytest.fixture(scope="module")
def tokenizer():
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# --- example construction ---------------------------------------------------------------------


@pytest.mark.parametrize("users", [0, 1, 3])
def test_k_user_turns_give_k_plus_one_examples(users):
    examples = conversation_examples(_conversation(users))
    assert len(examples) == users + 1
    assert [e.target for e in examples[:-1]] == [f"user turn {i}[END]" for i in range(users)]
    assert examples[-1].target == "Answer: B[END]"
    assert {e.question_id for e in examples} == {QUESTION.id}


def test_history_before_each_user_turn_in_order():
    conv = _conversation(3)
    examples = conversation_examples(conv)
    system = system_block(QUESTION)
    messages = conv.messages()
    for i, example in enumerate(examples[:-1]):
        assert example.prompt == render_prompt(system, turn_blocks(messages[: 2 * i]))
    assert examples[-1].prompt == render_prompt(system, turn_blocks(messages))
    last = examples[-1].prompt
    order = [
        last.index(text)
        for text in (
            "[SYSTEM]",
            "user turn 0",
            "assistant reply 0",
            "user turn 1",
            "assistant reply 1",
            "user turn 2",
            "assistant reply 2",
        )
    ]
    assert order == sorted(order)
    assert examples[0].prompt == f"{system}\n\n[USER] "
    assert last.endswith("[ASSISTANT] assistant reply 2\n\n[USER] ")


def test_no_answer_gives_k_examples_and_a_missing_last_reply_is_fine():
    examples = conversation_examples(_conversation(2, replies=1, choice=None))
    assert [e.target for e in examples] == ["user turn 0[END]", "user turn 1[END]"]
    assert examples[1].prompt.endswith("[ASSISTANT] assistant reply 0\n\n[USER] ")
    answered = conversation_examples(_conversation(2, replies=1))
    assert answered[-1].prompt.endswith("[USER] user turn 1\n\n[USER] ")


def test_examples_match_the_simulator_prompt_with_a_persona():
    from chatbench.personas import Persona

    persona = Persona(name="student", background="A curious high-school student.")
    (example,) = conversation_examples(_conversation(0), persona)
    assert example.prompt == render_prompt(system_block(QUESTION, persona), [])


def test_build_examples_on_fixture_and_halie_train():
    convs = load_chatbench_conversations(FIXTURES / "chatbench_conversations.json")
    # 2, 1, 1 and 2 user turns; the last picked no answer.
    assert len(build_examples(convs)) == 3 + 2 + 2 + 2
    train = load_halie("train")
    examples = build_examples(train)
    assert len(examples) == sum(len(c.user_turns) + 1 for c in train)
    assert all(e.question_id.startswith("halie-") for e in examples)


def test_example_prompt_must_match_its_blocks():
    with pytest.raises(ValueError, match="render_prompt"):
        TrainingExample("a prompt", "t[END]", "q", system="[SYSTEM] s", blocks=())


# --- tokenization -----------------------------------------------------------------------------


def test_tokenize_masks_exactly_the_prompt_tokens(tokenizer):
    example = conversation_examples(_conversation(2))[1]
    row = tokenize_example(tokenizer, example, max_length=1024)
    prompt_ids, target_ids = _ids(tokenizer, example.prompt), _ids(tokenizer, example.target)
    assert row["input_ids"] == prompt_ids + target_ids
    assert row["labels"] == [IGNORE_INDEX] * len(prompt_ids) + target_ids
    assert row["attention_mask"] == [1] * len(row["input_ids"])
    # The prompt ends in its own space token, as at generation time; the target in [END].
    assert prompt_ids[-1] == SPACE_ID
    assert target_ids[-len(END_IDS) :] == END_IDS
    assert tokenizer.decode(target_ids) == "user turn 1[END]"


def test_truncation_drops_oldest_turns_and_keeps_system_and_target(tokenizer):
    example = conversation_examples(_conversation(3))[-1]  # 6 turn blocks
    target_ids = _ids(tokenizer, example.target)
    shorter = render_prompt(example.system, example.blocks[2:])
    max_length = len(_ids(tokenizer, shorter)) + len(target_ids)
    row = tokenize_example(tokenizer, example, max_length)
    assert len(row["input_ids"]) == max_length
    assert tokenizer.decode(row["input_ids"]) == shorter + example.target
    assert row["labels"][-len(target_ids) :] == target_ids
    assert row["labels"].count(IGNORE_INDEX) == len(_ids(tokenizer, shorter))
    tighter = tokenize_example(tokenizer, example, max_length - 1)
    text = tokenizer.decode(tighter["input_ids"])
    assert text == render_prompt(example.system, example.blocks[3:]) + example.target
    assert text.startswith(system_block(QUESTION)) and "user turn 1" not in text


def test_truncation_never_cuts_the_question_or_the_target(tokenizer):
    example = conversation_examples(_conversation(1))[-1]
    alone = len(_ids(tokenizer, render_prompt(example.system, []))) + len(
        _ids(tokenizer, example.target)
    )
    assert len(tokenize_example(tokenizer, example, alone)["input_ids"]) == alone
    with pytest.raises(ConfigError, match="max_length"):
        tokenize_example(tokenizer, example, alone - 1)
    bare = TrainingExample(example.prompt, example.target, example.question_id)
    with pytest.raises(ConfigError, match=QUESTION.id):
        tokenize_example(tokenizer, bare, alone)


@pytest.mark.slow
def test_training_modules_import_without_torch():
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from chatbench.training import build_examples\n"
        "from chatbench.training.perplexity import target_perplexity\n"
        "from chatbench.data.human_data import load_halie\n"
        "print(len(build_examples(load_halie('heldout'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0


# --- perplexity on a tiny GPT-2 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_gpt2(tokenizer):
    """A random 2-layer GPT-2 with the real GPT-2 vocabulary, built once per module."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    # One thread: on a busy 2-core box, two threads per tiny matmul run several times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=32, n_positions=256, vocab_size=len(tokenizer)
    )
    yield transformers.GPT2LMHeadModel(config)
    torch.set_num_threads(threads)


@pytest.fixture()
def tiny_lm(tiny_gpt2, tokenizer):
    """A fresh copy of the tiny GPT-2 (tests may train it) as a ``LocalCausalLM``."""
    from chatbench.models.hf import LocalCausalLM

    return LocalCausalLM(copy.deepcopy(tiny_gpt2), tokenizer, "tiny-gpt2")


@pytest.fixture(scope="module")
def fixture_examples():
    convs = load_chatbench_conversations(FIXTURES / "chatbench_conversations.json")
    return build_examples(convs)


@pytest.mark.hf
def test_perplexity_is_exp_of_mean_target_nll(tiny_lm, fixture_examples):
    import torch

    from chatbench.training.perplexity import target_perplexity

    example = fixture_examples[1]
    row = tokenize_example(tiny_lm.tokenizer, example, tiny_lm.context_window)
    ids = row["input_ids"]
    n_prompt = row["labels"].count(IGNORE_INDEX)
    with torch.no_grad():
        logp = tiny_lm.model(torch.tensor([ids])).logits[0].log_softmax(-1)
    nlls = [-float(logp[t - 1, ids[t]]) for t in range(n_prompt, len(ids))]
    result = target_perplexity(tiny_lm, [example])
    assert result.target_tokens == len(nlls) == len(_ids(tiny_lm.tokenizer, example.target))
    assert result.examples == 1
    assert result.mean_nll == pytest.approx(sum(nlls) / len(nlls), rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(sum(nlls) / len(nlls)), rel=1e-5)


@pytest.mark.hf
def test_perplexity_does_not_depend_on_batching(tiny_lm, fixture_examples):
    from chatbench.training.perplexity import target_perplexity

    one = target_perplexity(tiny_lm, fixture_examples, batch_size=1)
    padded = target_perplexity(tiny_lm, fixture_examples, batch_size=4)
    assert one.target_tokens == padded.target_tokens
    assert padded.mean_nll == pytest.approx(one.mean_nll, rel=1e-5)
    with pytest.raises(ConfigError, match="no examples"):
        target_perplexity(tiny_lm, [])


@pytest.mark.hf
def test_perplexity_decreases_after_training(tiny_lm, fixture_examples):
    import torch

    from chatbench.training.perplexity import target_perplexity

    before = target_perplexity(tiny_lm, fixture_examples)
    rows = [
        tokenize_example(tiny_lm.tokenizer, e, tiny_lm.context_window) for e in fixture_examples
    ]
    model = tiny_lm.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(50):
        row = rows[step % len(rows)]
        loss = model(
            input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]])
        ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = target_perplexity(tiny_lm, fixture_examples)
    assert model.training  # the caller's mode is restored
    assert after.perplexity < before.perplexity / 10  # ~52,000 -> ~26 with seed 0
