"""The causal-LM simulator on a tiny real GPT-2 (real GPT-2 tokenizer, weights trained here)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402

from chatbench import GraphSpec, SimContext, StopReason, build_graph, initial_state  # noqa: E402
from chatbench.config import RoleSettings  # noqa: E402
from chatbench.errors import ConfigError  # noqa: E402
from chatbench.models.hf import LocalCausalLM, LocalChatModel  # noqa: E402
from chatbench.simulators.causal_lm import (  # noqa: E402
    fit_prompt,
    format_target,
    render_prompt,
    system_block,
    turn_blocks,
)
from tests.conftest import GPT2_TOKENIZER, ScriptedChatModel  # noqa: E402

pytestmark = pytest.mark.hf

OPENING = "Can you help me with this?"
ANSWER = "Answer: B"


def _examples(question):
    """Prompt/target pairs: open with OPENING, answer ANSWER once the assistant has replied."""
    reply = AIMessage(content="7 x 8 is 56, which is option B.")
    first = render_prompt(system_block(question), [])
    later = render_prompt(system_block(question), turn_blocks([HumanMessage(OPENING), reply]))
    return [(first, format_target(OPENING)), (later, format_target(ANSWER))]


@pytest.fixture(scope="module")
def tiny_gpt2():
    from chatbench.data.questions import Question

    question = Question(
        id="math-1",
        subject="elementary_mathematics",
        stem="What is 7 x 8?",
        choices=("54", "56", "58", "64"),
        answer="B",
    )
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    config = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=32, n_positions=256, vocab_size=len(tok)
    )
    model = transformers.GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batches = []
    for prompt, target in _examples(question):
        p, t = tok(prompt)["input_ids"], tok(target)["input_ids"]  # separately, as at run time
        batches.append((torch.tensor([p + t]), torch.tensor([[-100] * len(p) + t])))
    model.train()
    for step in range(150):
        ids, labels = batches[step % len(batches)]
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return LocalCausalLM(model, tok, "tiny-gpt2")


GREEDY = GraphSpec(simulator="causal_lm", user=RoleSettings(temperature=0.0, max_tokens=16))


def test_tiny_gpt2_tokenizer_is_real_gpt2():
    tok = transformers.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    assert tok("Hello, my dog is cute")["input_ids"] == [15496, 11, 616, 3290, 318, 13779]
    assert tok("[END]")["input_ids"] == [58, 10619, 60]


def test_turn_ends_at_end_token_and_conversation_is_accepted(tiny_gpt2, question):
    assistant = ScriptedChatModel(replies=["7 x 8 is 56, which is option B."])
    ctx = SimContext(assistant=assistant, user=tiny_gpt2, seed=0)
    out = build_graph(GREEDY).invoke(initial_state(question), context=ctx)
    assert [m.content for m in out["messages"]] == [OPENING, assistant_reply(out), ANSWER]
    assert out["stop_reason"] is StopReason.ACCEPTED and out["verdict"] == "correct"
    user_timing = out["timings"][0]
    assert user_timing["input_tokens"] > 20 and 0 < user_timing["output_tokens"] <= 16


def assistant_reply(out):
    return out["messages"][1].content


def test_forced_answer_continues_after_answer_prefix(tiny_gpt2, question):
    assistant = ScriptedChatModel(replies=["7 x 8 is 56, which is option B."])
    ctx = SimContext(assistant=assistant, user=tiny_gpt2, seed=0)
    spec = GREEDY.model_copy(update={"max_turns": 1})
    out = build_graph(spec).invoke(initial_state(question), context=ctx)
    assert out["stop_reason"] is StopReason.FORCED
    assert out["messages"][-1].content.startswith("Answer:")


def test_long_history_drops_oldest_turns_never_the_question(tiny_gpt2, question):
    system = system_block(question)
    long_reply = "blah " * 250
    blocks = turn_blocks(
        [
            HumanMessage("first question"),
            AIMessage(long_reply),
            HumanMessage("second question"),
            AIMessage("short reply"),
        ]
    )
    prompt = fit_prompt(tiny_gpt2, system, blocks, max_tokens=16)
    assert prompt.startswith(system)
    assert "first question" not in prompt and "blah" not in prompt
    assert prompt.endswith("[ASSISTANT] short reply\n\n[USER] ")
    assert tiny_gpt2.count_tokens(prompt) <= tiny_gpt2.context_window - 16


def test_graph_survives_replies_longer_than_the_window(tiny_gpt2, question):
    # Without trimming, GPT-2 fails past its 256 positions; the simulator keeps within them.
    assistant = ScriptedChatModel(replies=["word " * 300] * 3)
    ctx = SimContext(assistant=assistant, user=tiny_gpt2, seed=0)
    spec = GREEDY.model_copy(update={"max_turns": 3})
    out = build_graph(spec).invoke(initial_state(question), context=ctx)
    assert out["stop_reason"] in (StopReason.ACCEPTED, StopReason.FORCED)


def test_question_too_long_for_window_is_a_config_error(tiny_gpt2, question):
    huge = question.model_copy(update={"stem": "long " * 400})
    with pytest.raises(ConfigError, match="question alone"):
        fit_prompt(tiny_gpt2, system_block(huge), [], max_tokens=16)


def test_batched_generation_matches_single_calls(tiny_gpt2, question):
    prompts = [p for p, _ in _examples(question)]
    batched = tiny_gpt2.complete(prompts, max_tokens=16, temperature=0, stop=["[END]"])
    single = [
        tiny_gpt2.complete([p], max_tokens=16, temperature=0, stop=["[END]"])[0] for p in prompts
    ]
    assert [c.text for c in batched] == [c.text for c in single] == [OPENING, ANSWER]


def test_gpt2_has_no_chat_template(tiny_gpt2):
    chat = LocalChatModel(lm=tiny_gpt2)
    with pytest.raises(ConfigError, match="no chat template"):
        chat.invoke("hello")


def test_concurrent_calls_share_a_batch_and_keep_their_own_samples(tiny_gpt2, question):
    from concurrent.futures import ThreadPoolExecutor

    first, later = (p for p, _ in _examples(question))

    def sample(prompt, seed):
        return tiny_gpt2.complete([prompt], max_tokens=12, temperature=1.5, stop=[], seed=seed)[0]

    alone = sample(first, 11)
    tiny_gpt2.engine.stats.batch_sizes.clear()
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(sample, first if s % 2 else later, s) for s in range(10, 16)]
        results = [f.result() for f in futures]
    assert max(tiny_gpt2.engine.stats.batch_sizes) > 1
    assert results[1].text == alone.text  # seed 11, whatever shared its batch
    assert len({r.text for r in results}) > 1  # different seeds, different samples


def test_rows_keep_their_own_token_limits(tiny_gpt2, question):
    from chatbench.models.hf import Row

    prompt = _examples(question)[0][0]
    out = tiny_gpt2.generate_rows([Row(prompt, 3, 1.0, 1), Row(prompt, 9, 1.0, 2)])
    assert out[0].output_tokens <= 3 and out[1].output_tokens <= 9
