"""The dtype of local models' weights: ``--dtype`` / ``$CHATBENCH_DTYPE``."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from chatbench.errors import ConfigError  # noqa: E402
from chatbench.models.base import DTYPE_ENV  # noqa: E402
from chatbench.models.engine import Row  # noqa: E402
from chatbench.models.hf import load_pretrained, resolve_dtype  # noqa: E402
from tests.conftest import GPT2_TOKENIZER  # noqa: E402

pytestmark = pytest.mark.hf


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    config = transformers.LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, vocab_size=len(tok),
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_default_is_float32_and_the_environment_chooses(monkeypatch):
    monkeypatch.delenv(DTYPE_ENV, raising=False)
    assert resolve_dtype() is torch.float32
    monkeypatch.setenv(DTYPE_ENV, "bfloat16")
    assert resolve_dtype() is torch.bfloat16
    assert resolve_dtype("float16") is torch.float16  # an argument wins


def test_auto_is_bfloat16_only_where_the_cpu_computes_it(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve_dtype("auto") is torch.float32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_dtype("auto") is torch.bfloat16


def test_unknown_dtype_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="float32, bfloat16, float16, auto, not 'int3'"):
        resolve_dtype("int3")


def test_bfloat16_model_loads_and_generates_in_bfloat16(tiny_folder):
    lm = load_pretrained(tiny_folder, dtype="bfloat16")
    assert lm.model.dtype is torch.bfloat16 and lm.engine is not None
    rows = [Row("Once upon a time", 6, 0.0), Row("The capital of France is", 4, 0.0)]
    out = lm.engine.submit(rows)
    assert all(1 <= c.output_tokens <= r.max_tokens for c, r in zip(out, rows, strict=True))
    assert lm.engine._layers[0].key_buffer.dtype is torch.bfloat16
