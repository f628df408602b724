"""langchain-huggingface's local models (``ChatHuggingFace``, ``HuggingFacePipeline``) served by
chatbench's batched engine, on a tiny random Llama (real GPT-2 tokenizer, a small chat
template).

The adapter recognises the objects by class name and shape, so most tests use stand-ins of
the same shape; the last ones use the real classes where langchain-huggingface is installed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402

from chatbench import GraphSpec, load_questions, run_conversations  # noqa: E402
from chatbench.config import RoleSettings  # noqa: E402
from chatbench.errors import ConfigError  # noqa: E402
from chatbench.models.hf import LocalCausalLM, LocalChatModel  # noqa: E402
from chatbench.models.hf_langchain import (  # noqa: E402
    adapt_hf_langchain,
    hf_identity,
    is_hf_langchain,
    served_lm,
)
from chatbench.models.invoke import invoke_chat, seedable  # noqa: E402
from chatbench.models.reference import ModelRef  # noqa: E402
from chatbench.runner.build import build_models  # noqa: E402
from tests.conftest import GPT2_TOKENIZER  # noqa: E402

pytestmark = pytest.mark.hf

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
QUICK = GraphSpec(name="quick-hf", simulator="two_step", accept="natural", view="chat",
                  max_turns=1, user=RoleSettings(temperature=1.0, max_tokens=12),
                  assistant=RoleSettings(temperature=0.7, max_tokens=9))


class HuggingFacePipeline:
    """A stand-in shaped like langchain-huggingface's ``HuggingFacePipeline``."""

    def __init__(self, pipeline: Any, pipeline_kwargs: dict[str, Any] | None = None) -> None:
        self.pipeline = pipeline
        self.model_id = pipeline.model.name_or_path
        self.pipeline_kwargs = pipeline_kwargs


class ChatHuggingFace:
    """A stand-in shaped like langchain-huggingface's ``ChatHuggingFace``."""

    def __init__(self, llm: Any, tokenizer: Any = None, temperature: float | None = None,
                 max_tokens: int | None = None) -> None:
        self.llm = llm
        self.tokenizer = tokenizer
        self.model_id = getattr(llm, "model_id", None)
        self.temperature = temperature
        self.max_tokens = max_tokens


def _tiny_pipeline() -> Any:
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    tok.chat_template = TEMPLATE
    config = transformers.LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, vocab_size=len(tok),
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    model = transformers.LlamaForCausalLM(config)
    for param in model.parameters():  # wider than the default 0.02: varied tokens, no ties
        torch.nn.init.normal_(param, std=0.5)
    model.name_or_path = "tiny-llama"
    return transformers.pipeline("text-generation", model=model.eval(), tokenizer=tok)


@pytest.fixture(scope="module")
def pipe() -> Any:
    return _tiny_pipeline()


@pytest.fixture
def chat(pipe) -> ChatHuggingFace:
    return ChatHuggingFace(llm=HuggingFacePipeline(pipe), tokenizer=pipe.tokenizer)


def test_a_chat_huggingface_is_served_on_the_same_weights(pipe, chat):
    adapted = adapt_hf_langchain(chat)
    assert isinstance(adapted, LocalChatModel) and adapted.model_name == "tiny-llama"
    assert adapted.lm.model is pipe.model  # no second copy of the weights
    assert adapt_hf_langchain(chat).lm is adapted.lm  # one engine per model: batched together
    assert served_lm(HuggingFacePipeline(pipe)) is adapted.lm
    assert seedable(adapted)


def test_reply_is_new_text_only_within_the_limit_with_token_counts(pipe, chat):
    messages = [SystemMessage("Be brief."), HumanMessage("What is 7 x 8?")]
    reply = invoke_chat(adapt_hf_langchain(chat), messages, RoleSettings(temperature=0.0,
                                                                         max_tokens=6))
    prompt = pipe.tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 7 x 8?"}],
        tokenize=False, add_generation_prompt=True,
    )
    (expected,) = pipe(prompt, max_new_tokens=6, do_sample=False, return_full_text=False)
    assert "<|user|>" not in reply.text
    assert reply.text == expected["generated_text"].strip()  # greedy: the pipeline's own text
    assert reply.output_tokens is not None and 1 <= reply.output_tokens <= 6
    assert reply.input_tokens == len(pipe.tokenizer(prompt)["input_ids"])


def test_seed_and_temperature_reach_every_call(chat):
    model = adapt_hf_langchain(chat)
    hot = RoleSettings(temperature=1.5, max_tokens=10)
    ask = [HumanMessage("Tell me a story.")]
    first, again, other = (invoke_chat(model, ask, hot, seed=s).text for s in (1, 1, 2))
    assert first == again and first != other


def test_concurrent_calls_share_decoding_steps(chat):
    model = adapt_hf_langchain(chat)
    engine = model.lm.engine
    assert engine is not None
    engine.stats.batch_sizes.clear()
    settings = RoleSettings(temperature=1.0, max_tokens=12)
    threads = [threading.Thread(target=invoke_chat, args=(model, [HumanMessage(f"Q{i}?")],
                                                          settings, i)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(engine.stats.batch_sizes) > 1


def test_identity_names_the_weights_and_the_defaults(pipe, chat):
    assert hf_identity(chat) == ("ChatHuggingFace(model='tiny-llama', dtype='torch.float32', "
                                 "temperature=0.0, max_tokens=256)")
    assert hf_identity(ChatHuggingFace(HuggingFacePipeline(pipe), max_tokens=9)).endswith(
        "max_tokens=9)")


def test_defaults_come_from_the_chat_model_then_its_pipeline(pipe):
    sampled = HuggingFacePipeline(pipe, {"max_new_tokens": 40, "do_sample": True,
                                         "temperature": 0.8})
    assert adapt_hf_langchain(sampled).temperature == 0.8
    assert adapt_hf_langchain(sampled).max_tokens == 40
    own = adapt_hf_langchain(ChatHuggingFace(sampled, pipe.tokenizer, 0.3, 12))
    assert (own.temperature, own.max_tokens) == (0.3, 12)
    assert adapt_hf_langchain(HuggingFacePipeline(pipe)).temperature == 0.0  # greedy


def test_build_models_serves_every_role_and_the_causal_lm_simulator(pipe, chat):
    spec = GraphSpec(rubrics=("coherence",))
    models = build_models(spec, chat, chat, chat)
    for model in (models.user, models.assistant, models.judge):
        assert isinstance(model, LocalChatModel) and model.lm.model is pipe.model
    causal = build_models(GraphSpec(simulator="causal_lm"), HuggingFacePipeline(pipe), chat)
    assert isinstance(causal.user, LocalCausalLM) and causal.user is models.assistant.lm


def test_what_cannot_be_served_is_refused_or_left_alone(pipe):
    endpoint = ChatHuggingFace(llm=object())  # an endpoint-backed chat model: not ours
    assert not is_hf_langchain(endpoint) and not is_hf_langchain("smollm2")

    class Text2Text:
        task = "text2text-generation"
        model = pipe.model
        tokenizer = pipe.tokenizer

    with pytest.raises(ConfigError, match="text-generation pipelines"):
        adapt_hf_langchain(HuggingFacePipeline(Text2Text()))


def test_another_chat_template_on_the_same_weights_is_refused(pipe, chat):
    served = adapt_hf_langchain(chat)  # kept: the engine lives while a model uses it
    other = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    other.chat_template = "{{ messages[0]['content'] }}"
    with pytest.raises(ConfigError, match="another chat template"):
        adapt_hf_langchain(ChatHuggingFace(HuggingFacePipeline(pipe), other))
    assert served.lm.tokenizer is pipe.tokenizer


# --- the real classes -------------------------------------------------------------------------


@pytest.fixture
def real_chat(pipe) -> Any:
    hf = pytest.importorskip("langchain_huggingface")
    return hf.ChatHuggingFace(llm=hf.HuggingFacePipeline(pipeline=pipe), tokenizer=pipe.tokenizer)


def test_real_chat_huggingface_runs_end_to_end_with_the_specs_settings(real_chat, tmp_path):
    records = run_conversations(load_questions(limit=2), QUICK, user="fake:user",
                                assistant=real_chat, seed=3)
    for record in records:
        assert record.error is None, record.error
        replies = [t.content for t in record.transcript if t.role == "assistant"]
        assert replies and all("<|user|>" not in reply for reply in replies)
        calls = [t for t in record.timings if t["node"] == "assistant"]
        assert calls and all(1 <= (t["output_tokens"] or 0) <= 9 for t in calls)
        assert all(t["input_tokens"] for t in calls)
    again = run_conversations(load_questions(limit=2), QUICK, user="fake:user",
                              assistant=real_chat, seed=3)
    assert [r.transcript for r in again] == [r.transcript for r in records]


def test_real_chat_huggingface_identity_is_stable(real_chat, pipe):
    hf = pytest.importorskip("langchain_huggingface")
    twin = hf.ChatHuggingFace(llm=hf.HuggingFacePipeline(pipeline=pipe), tokenizer=pipe.tokenizer)
    assert ModelRef.of(real_chat).identity == ModelRef.of(twin).identity
    assert "0x" not in ModelRef.of(real_chat).identity
    assert hf_identity(real_chat) == hf_identity(twin) == (
        "ChatHuggingFace(model='tiny-llama', dtype='torch.float32', temperature=0.0, "
        "max_tokens=256)"
    )


def test_a_real_bare_pipeline_is_served_as_the_assistant(pipe):
    hf = pytest.importorskip("langchain_huggingface")
    (record,) = run_conversations(load_questions(limit=1), QUICK, user="fake:user",
                                  assistant=hf.HuggingFacePipeline(pipeline=pipe), seed=1)
    assert record.error is None, record.error
    calls = [t for t in record.timings if t["node"] == "assistant"]
    assert calls and all(1 <= (t["output_tokens"] or 0) <= 9 for t in calls)
