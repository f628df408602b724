"""Fine-tuning a tiny GPT-2 as a user simulator, end to end: train, save, load, simulate."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chatbench import GraphSpec, load_questions, run_conversations  # noqa: E402
from chatbench.data.human_data import load_chatbench_conversations  # noqa: E402
from chatbench.training.train import METADATA_FILE, TrainConfig, train_simulator  # noqa: E402
from tests.conftest import FIXTURES, GPT2_TOKENIZER  # noqa: E402

pytestmark = pytest.mark.hf


@pytest.fixture
def tiny_gpt2_folder(tmp_path):
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=512,
                                     vocab_size=len(tok))
    folder = tmp_path / "tiny"
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_train_saves_a_simulator_that_hf_folder_loads(tiny_gpt2_folder, tmp_path):
    conversations = load_chatbench_conversations(FIXTURES / "chatbench_conversations.json")
    out = tmp_path / "sim"
    config = TrainConfig(base=str(tiny_gpt2_folder), out=out, epochs=2, batch_size=2,
                         learning_rate=1e-3, max_length=512, validation_share=0.5)
    result = train_simulator(conversations, config)
    assert result.train_examples > 0 and result.validation_examples > 0
    assert len(result.epoch_validation_loss) == 2
    assert result.precision == "fp32"
    metadata = json.loads((out / METADATA_FILE).read_text())
    assert metadata["config"]["learning_rate"] == 1e-3
    assert metadata["result"]["train_examples"] == result.train_examples

    spec = GraphSpec(simulator="causal_lm", max_turns=1,
                     user={"temperature": 1.0, "max_tokens": 8})
    records = run_conversations(load_questions(limit=1), spec, user=f"hf:{out}",
                                assistant="fake:echo")
    assert records[0].stop_reason.value in ("accepted", "forced"), records[0].error
    assert records[0].transcript[0].role == "user"


def test_lora_training_merges_adapters(tiny_gpt2_folder, tmp_path):
    pytest.importorskip("peft")
    conversations = load_chatbench_conversations(FIXTURES / "chatbench_conversations.json")
    out = tmp_path / "lora"
    config = TrainConfig(base=str(tiny_gpt2_folder), out=out, epochs=1, batch_size=2,
                         learning_rate=1e-3, max_length=512, lora=True, validation_share=0)
    train_simulator(conversations, config)
    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_train_layers_freezes_all_but_the_top_blocks(tiny_gpt2_folder):
    from chatbench.training.train import freeze_below

    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_gpt2_folder)
    freeze_below(model, 1)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith(("transformer.h.1.", "transformer.ln_f."))
                             for name in trainable)
    assert {"transformer.ln_f.weight", "transformer.ln_f.bias"} <= trainable
