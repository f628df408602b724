"""Promises on real local weights (tiny GPT-2s built here; issue 12).

- A rerun at concurrency 1 repeats every transcript exactly, with local models sampling
  through the nodes; another run seed gives other transcripts.
- Temperature and top-k reach sampling: 0 is greedy whatever the seed, a tiny temperature
  puts all the mass on the top token, a huge one spreads it evenly over the top k and never
  past them; a role's settings reach the model through the chat model.
- Training changes the weights and lowers the loss; LoRA trains adapters only (the base is
  frozen), and the merged model differs from the base.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from langchain_core.messages import HumanMessage  # noqa: E402

from chatbench import GraphSpec, StopReason, run_conversations  # noqa: E402
from chatbench.config import RoleSettings  # noqa: E402
from chatbench.data.human_data import load_chatbench_conversations  # noqa: E402
from chatbench.data.questions import Question  # noqa: E402
from chatbench.models.hf import LocalCausalLM, LocalChatModel  # noqa: E402
from chatbench.models.invoke import invoke_chat  # noqa: E402
from chatbench.training.examples import build_examples, tokenize_example  # noqa: E402
from chatbench.training.train import TrainConfig, train_simulator  # noqa: E402
from tests.conftest import FIXTURES, GPT2_TOKENIZER  # noqa: E402

pytestmark = pytest.mark.hf

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
"""A plain chat template, so that the tiny GPT-2 can play the assistant too."""
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def tok():
    return transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)


@pytest.fixture(scope="module")
def gpt2(tok):
    """Random weights, initialised wider than GPT-2's 0.02 so that samples vary."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=512,
                                     vocab_size=len(tok), initializer_range=0.5)
    return transformers.GPT2LMHeadModel(config).eval()


def _chat_model(gpt2, tok) -> LocalChatModel:
    chat_tok = copy.deepcopy(tok)
    chat_tok.chat_template = CHAT_TEMPLATE
    return LocalChatModel(lm=LocalCausalLM(gpt2, chat_tok, "tiny-chat"), model_name="tiny-chat")


def _greedy(model, tok, prompt: str, max_new_tokens: int) -> str:
    """Batch-size-1 greedy ``generate``: the reference for temperature 0."""
    batch = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens,
                             pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)


# --- reruns -----------------------------------------------------------------------------------


QUESTIONS = [
    Question(id="mult", subject="elementary_mathematics", stem="What is 7 x 8?",
             choices=("54", "56", "58", "64"), answer="B"),
    Question(id="add", subject="elementary_mathematics", stem="What is 2 + 2?",
             choices=("3", "4", "5", "6"), answer="B"),
]
SAMPLED = GraphSpec(name="tiny", simulator="causal_lm", max_turns=2,
                    user=RoleSettings(temperature=1.0, max_tokens=6),
                    assistant=RoleSettings(temperature=1.0, max_tokens=6))


def _run(gpt2, tok, seed: int) -> dict[str, tuple]:
    """One run on fresh models over the same weights: an empty prefix cache, as in a new
    process."""
    user = LocalCausalLM(gpt2, copy.deepcopy(tok), "tiny-user")
    records = run_conversations(QUESTIONS, SAMPLED, user=user, assistant=_chat_model(gpt2, tok),
                                seed=seed, replicates=2, concurrency=1)
    assert all(r.stop_reason is not StopReason.ERROR for r in records), records[0].error
    # keyed by question and replicate: each run seed names its own run (run-<hash>)
    return {(r.question_id, r.replicate): (r.transcript, r.final_choice, r.stop_reason)
            for r in records}


def test_a_rerun_on_local_models_repeats_every_transcript(gpt2, tok):
    first, again, other = _run(gpt2, tok, 0), _run(gpt2, tok, 0), _run(gpt2, tok, 1)
    assert len(first) == 4 and first == again
    assert first.keys() == other.keys()
    assert all(other[key][0] != first[key][0] for key in first)
    assert len({tuple(transcript) for transcript, _, _ in first.values()}) == 4
    assert all(len(transcript) == 5 for transcript, _, _ in first.values())  # sampled turns


# --- temperature and top-k --------------------------------------------------------------------


@pytest.fixture(scope="module")
def top3_gpt2(gpt2):
    """The same weights with ``top_k: 3`` in their generation config."""
    model = copy.deepcopy(gpt2)
    model.generation_config.top_k = 3
    return model


def _first_tokens(lm: LocalCausalLM, temperature: float, n: int = 64) -> Counter[str]:
    """The first token of ``n`` samples (row i is seeded with i)."""
    out = lm.complete([PROMPT] * n, max_tokens=1, temperature=temperature, stop=[], seed=0)
    return Counter(c.text for c in out)


@pytest.mark.parametrize("engine", ["continuous", "generate"])
def test_temperature_and_top_k_shape_the_sampled_distribution(top3_gpt2, tok, engine):
    lm = LocalCausalLM(top3_gpt2, copy.deepcopy(tok), "tiny", engine=engine)
    with torch.inference_mode():
        logits = top3_gpt2(**tok(PROMPT, return_tensors="pt")).logits[0, -1]
    top = logits.topk(4)
    texts = [tok.decode([i]) for i in top.indices.tolist()]
    margin = float(top.values[0] - top.values[1])
    assert len(set(texts)) == 4 and tok.eos_token_id not in top.indices.tolist()

    assert _first_tokens(lm, 0.0).keys() == {texts[0]}
    # e^-40 of the mass is on the runner-up: every sample is the top token
    assert _first_tokens(lm, margin / 40).keys() == {texts[0]}
    # near-uniform over the top 3: 64 samples draw each (all but certainly), never a 4th
    assert _first_tokens(lm, 100.0).keys() == set(texts[:3])


def test_role_settings_reach_sampling_through_the_chat_model(gpt2, tok):
    chat = _chat_model(gpt2, tok)  # its own default temperature is 0.7
    messages = [HumanMessage(content="Can you help me with a question?")]

    def texts(temperature: float, max_tokens: int = 8) -> list[str]:
        settings = RoleSettings(temperature=temperature, max_tokens=max_tokens)
        return [invoke_chat(chat, messages, settings, seed=s).text for s in range(6)]

    prompt = chat.lm.chat_prompt([{"role": "user", "content": str(messages[0].content)}])
    assert set(texts(0.0)) == {_greedy(gpt2, tok, prompt, 8).strip()}
    hot = texts(2.0)
    assert len(set(hot)) >= 4  # another seed, another sample
    assert texts(2.0) == hot  # the same seeds, the same samples
    settings = RoleSettings(temperature=2.0, max_tokens=2)
    short = [invoke_chat(chat, messages, settings, seed=s) for s in range(6)]
    assert all(c.output_tokens is not None and c.output_tokens <= 2 for c in short)


# --- training ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory, tok):
    """A tiny GPT-2 at GPT-2's own initialisation, saved with its tokenizer."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=512,
                                     vocab_size=len(tok))
    folder = tmp_path_factory.mktemp("base") / "tiny"
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def conversations():
    return load_chatbench_conversations(FIXTURES / "chatbench_conversations.json")


def _parameters(folder) -> dict[str, torch.Tensor]:
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _loss(folder, conversations) -> float:
    """Mean loss of the model in ``folder`` on every example of the conversations (user turns
    only, as in training)."""
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    losses = []
    with torch.inference_mode():
        for example in build_examples(conversations):
            row = tokenize_example(tokenizer, example, 512)
            out = model(input_ids=torch.tensor([row["input_ids"]]),
                        labels=torch.tensor([row["labels"]]))
            losses.append(float(out.loss))
    return sum(losses) / len(losses)


def test_fine_tuning_changes_every_weight_and_lowers_the_loss(base_folder, conversations,
                                                              tmp_path):
    out = tmp_path / "sim"
    config = TrainConfig(base=str(base_folder), out=out, epochs=4, batch_size=2,
                         learning_rate=1e-2, max_length=512, validation_share=0.4)
    result = train_simulator(conversations, config)
    validation = result.epoch_validation_loss
    assert len(validation) == 4
    assert validation == sorted(validation, reverse=True) and len(set(validation)) == 4
    base_loss = _loss(base_folder, conversations)
    assert _loss(out, conversations) < base_loss - 1.0
    assert result.train_loss is not None and result.train_loss < base_loss
    before, after = _parameters(base_folder), _parameters(out)
    assert before.keys() == after.keys()
    unchanged = [name for name in before if torch.equal(before[name], after[name])]
    assert not unchanged


def test_lora_trains_only_its_adapters_and_the_merged_model_differs(base_folder,
                                                                    conversations, tmp_path):
    pytest.importorskip("peft")
    seen: dict[str, dict[str, torch.Tensor] | set[str]] = {}

    class Probe(transformers.TrainerCallback):
        """Snapshots of the model being trained, at the start and the end of training."""

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            seen["trainable"] = {n for n, p in model.named_parameters() if p.requires_grad}
            seen["begin"] = {n: p.detach().clone() for n, p in model.named_parameters()}

        def on_train_end(self, args, state, control, model=None, **kwargs):
            seen["end"] = {n: p.detach().clone() for n, p in model.named_parameters()}

    out = tmp_path / "lora"
    config = TrainConfig(base=str(base_folder), out=out, epochs=4, batch_size=2,
                         learning_rate=3e-2, max_length=512, lora=True, validation_share=0)
    train_simulator(conversations, config, on_trainer=lambda t: t.add_callback(Probe()))

    begin, end = seen["begin"], seen["end"]
    adapters = {name for name in begin if "lora_" in name}
    assert adapters and seen["trainable"] == adapters  # the base is frozen
    assert {name.split(".lora_")[0] for name in adapters} >= {
        f"base_model.model.transformer.h.{i}.{m}" for i in (0, 1)
        for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
    assert all(torch.equal(begin[n], end[n]) for n in begin if n not in adapters)
    lora_b = [n for n in adapters if "lora_B" in n]
    assert lora_b and all(not torch.equal(begin[n], end[n]) for n in lora_b)

    before, merged = _parameters(base_folder), _parameters(out)
    assert merged.keys() == before.keys()  # merged: no adapter left in the saved model
    assert not torch.equal(merged["transformer.h.0.attn.c_attn.weight"],
                           before["transformer.h.0.attn.c_attn.weight"])
    assert torch.equal(merged["transformer.wte.weight"], before["transformer.wte.weight"])
    assert _loss(out, conversations) < _loss(base_folder, conversations) - 0.1
