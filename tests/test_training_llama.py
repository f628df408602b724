"""Training and GGUF export on a tiny random Llama, the architecture of SmolLM2.

``train_layers`` must train only the top block and the final norm (``model.model.norm``,
which GPT-2 does not have). The Llama export must lay out the rotary query and key rows as
llama.cpp expects, grouped-query keys by their own head count: the exported f32, f16 and q8_0
files, run on llama.cpp, must predict what torch predicts.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chatbench.data.human_data import load_halie  # noqa: E402
from chatbench.training.train import TrainConfig, freeze_below, train_simulator  # noqa: E402
from tests.conftest import GPT2_TOKENIZER  # noqa: E402

pytestmark = pytest.mark.hf

LAYERS = 3
TOP = f"model.layers.{LAYERS - 1}."
PROMPTS = [
    "What is 7 x 8?",
    "Which of these is a fruit? A. carrot B. apple",
    "The capital of France is",
    "Answer: C",
]
STEPS = 6
"""Greedy tokens compared per prompt."""
MARGIN = 0.02
"""Torch's greedy path is compared token for token up to the first step whose two likeliest
tokens are closer than this, in nats: llama.cpp keeps keys and values in f16, so even the f32
file's logprobs differ from torch's by a few thousandths, and a closer tie could go either
way without saying anything about the export."""
TOLERANCE = {"f32": 0.02, "f16": 0.02, "q8_0": 0.2}
"""Largest difference between llama.cpp's and torch's logprobs (top candidates of each step).
The exports differ from torch by about 0.005 (f32, f16) and 0.07 (q8_0); query and key rows
in the wrong rotary layout by 0.4 to 3."""


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Llama (grouped-query attention, tied embeddings as SmolLM2's) with the GPT-2
    tokenizer, saved as a transformers folder. Weights a little larger than the default
    initialisation make attention, hence the rotary positions, matter to the predictions."""
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=512,
        initializer_range=0.1, tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    folder = tmp_path_factory.mktemp("llama")
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def trained(llama_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``llama_folder`` fine-tuned on four HALIE training examples, top block only."""
    out = tmp_path_factory.mktemp("trained") / "simulator"
    config = TrainConfig(base=str(llama_folder), out=out, epochs=1, batch_size=2,
                         learning_rate=1e-3, max_length=256, train_layers=1,
                         validation_share=0, max_examples=4)
    result = train_simulator(load_halie("train"), config)
    assert result.train_examples == 4
    return out


def weights(folder: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def test_train_layers_trains_only_the_top_block_and_the_final_norm(llama_folder, trained):
    model = transformers.AutoModelForCausalLM.from_pretrained(llama_folder)
    freeze_below(model, 1)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    top = {name for name, _ in model.named_parameters() if name.startswith(TOP)}
    assert top and trainable == top | {"model.norm.weight"}

    before, after = weights(llama_folder), weights(trained)
    assert before.keys() == after.keys()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == trainable  # every trainable tensor moved, nothing else did
    frozen = before.keys() - changed  # the embeddings (tied to the output) and lower blocks
    assert "model.embed_tokens.weight" in frozen and "model.layers.0.mlp.up_proj.weight" in frozen


@pytest.fixture(scope="module")
def torch_lm(trained: Path) -> tuple[object, object]:
    model = transformers.AutoModelForCausalLM.from_pretrained(trained, dtype=torch.float32)
    return model.eval(), transformers.AutoTokenizer.from_pretrained(trained)


@pytest.fixture(scope="module")
def torch_greedy(torch_lm) -> dict[str, list[int]]:
    """Torch's greedy continuation of each prompt, up to ``STEPS`` tokens: up to the first
    near tie (the next token is then no longer determined), or up to and with an
    end-of-sequence token."""
    model, tok = torch_lm
    paths = {}
    for prompt in PROMPTS:
        ids = tok(prompt)["input_ids"]
        path: list[int] = []
        with torch.no_grad():
            while len(path) < STEPS and tok.eos_token_id not in path:
                logprobs = model(torch.tensor([ids + path])).logits[0, -1].log_softmax(-1)
                best, second = logprobs.topk(2).values.tolist()
                if best - second < MARGIN:
                    break
                path.append(int(logprobs.argmax()))
        paths[prompt] = path
    # Few near ties, or the exact comparison would check little: pick other prompts then.
    assert sum(map(len, paths.values())) >= STEPS * len(PROMPTS) // 2, paths
    return paths


@contextmanager
def served(path: Path):
    from chatbench.models import gguf

    lm = gguf.GGUFModel(path, path.name, gguf.GGUFSettings(slots=1, context=256, threads=1,
                                                          shards=1))
    try:
        yield lm
    finally:
        lm.close()


def engine_greedy(lm, prompt: str) -> tuple[list[int], list[dict[int, float]]]:
    """llama.cpp's greedy continuation of ``prompt``: the token ids, and for each step the
    logprobs of its five likeliest tokens. ``GGUFModel.complete`` gives text only, so the
    request (the same one, with logprobs asked for) goes to the loop directly."""
    body = {"prompt": prompt, "max_tokens": STEPS, "temperature": 0.0, "n_probs": 5, "stop": []}
    steps = lm._request("handle_completions", body, prompt)["choices"][0]["logprobs"]["content"]
    return ([s["id"] for s in steps],
            [{c["id"]: c["logprob"] for c in s["top_logprobs"]} for s in steps])


@pytest.mark.slow
@pytest.mark.parametrize("out_type", ["f32", "f16", "q8_0"])
def test_the_llama_export_predicts_as_torch_does(trained, torch_lm, torch_greedy, out_type):
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gguf")
    from chatbench.models.gguf_export import export_trained

    model, tok = torch_lm
    exported = export_trained(trained, out_type)
    assert exported == trained / f"model-{out_type}.gguf"
    tolerance = TOLERANCE[out_type]
    with served(exported) as lm:
        for prompt in PROMPTS:
            prompt_ids = tok(prompt)["input_ids"]
            assert lm.count_tokens(prompt) == len(prompt_ids)
            path, top = engine_greedy(lm, prompt)
            # Torch's logprobs along llama.cpp's path, each step's from the tokens before it.
            with torch.no_grad():
                logits = model(torch.tensor([prompt_ids + path])).logits[0, len(prompt_ids) - 1:-1]
            logprobs = logits.log_softmax(-1)
            assert path
            for step, candidates in enumerate(top):
                worst = max(abs(logprobs[step, t].item() - lp) for t, lp in candidates.items())
                assert worst < tolerance, (out_type, prompt, step, worst)
                # llama.cpp's choice is torch's, up to the tolerance
                assert logprobs[step, path[step]] > logprobs[step].max() - tolerance
            if out_type != "q8_0":  # the same greedy tokens, as far as torch's are determined
                expected = torch_greedy[prompt]
                assert path[: len(expected)] == expected, (out_type, prompt)
            if out_type == "f32":  # and the same text through the public API
                text = lm.complete([prompt], max_tokens=STEPS, temperature=0.0, stop=[])[0].text
                assert text == tok.decode(path, skip_special_tokens=True)
