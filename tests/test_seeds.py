"""The per-call seed reaches every model that takes one (``invoke_chat``), and what cannot be
seeded is known (``seedable``, ``unseeded_roles``, ``ConversationRecord.unseeded_roles``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from chatbench import GraphSpec, SimContext, build_graph, initial_state, load_questions
from chatbench.config import RoleSettings
from chatbench.models.invoke import invoke_chat, seed_field, seedable, unseeded_roles
from chatbench.models.registry import get_chat_model
from chatbench.records import ConversationRecord
from chatbench.seeding import derive_seed
from chatbench.state import ASSISTANT, JUDGE
from tests.conftest import ScriptedChatModel

ASK = [HumanMessage("Which option?")]


class SeededChat(BaseChatModel):
    """A provider that takes its seed as a field (as ``ChatOpenAI`` and ``ChatOllama`` do) and
    replies with it; ``seen`` keeps the seed of every call and the call arguments."""

    seed: int | None = None
    reply: str = ""
    seen: list[tuple[int | None, dict[str, Any]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "seeded-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append((self.seed, kwargs))
        text = self.reply or f"seed {self.seed}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class MistralLike(ScriptedChatModel):
    """A provider whose seed field is ``random_seed`` (as ``ChatMistralAI``)."""

    random_seed: int | None = None

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.replies.append(f"random seed {self.random_seed}")
        return super()._generate(messages, stop, run_manager, **kwargs)


def test_a_provider_with_a_seed_field_gets_the_seed_and_the_original_is_untouched():
    model = SeededChat()
    reply = invoke_chat(model, ASK, RoleSettings(temperature=0.7, max_tokens=5), seed=7)
    assert reply.text == "seed 7"
    assert model.seed is None  # a copy carried it: the run's model object is not changed
    assert model.seen == [(7, {"temperature": 0.7, "max_tokens": 5})]
    assert invoke_chat(model, ASK, RoleSettings()).text == "seed None"  # no seed: none sent


def test_the_seed_field_is_found_by_name():
    assert seed_field(SeededChat()) == "seed"
    assert seed_field(MistralLike()) == "random_seed"
    assert seed_field(ScriptedChatModel()) is None
    assert invoke_chat(MistralLike(), ASK, RoleSettings(), seed=5).text == "random seed 5"


def test_a_model_without_a_seed_gets_no_seed_argument():
    model = ScriptedChatModel(replies=["B"])
    invoke_chat(model, ASK, RoleSettings(), seed=7)
    assert model.kwargs == [{}]


@pytest.mark.parametrize(("model", "expected"), [
    (get_chat_model("fake:echo"), True),  # deterministic: needs no seed
    (GenericFakeChatModel(messages=iter(["B"])), True),
    (SeededChat(), True),
    (ScriptedChatModel(), False),
])
def test_seedable(model, expected):
    assert seedable(model) is expected


def test_a_text_completer_is_seedable():
    class Completer:
        name = "tiny"
        context_window = 64

        def count_tokens(self, text: str) -> int:
            return len(text)

        def complete(self, prompts: list[str], **kwargs: Any) -> list[Any]:
            return []

    assert seedable(Completer())


def test_unseeded_roles_lists_the_roles_whose_model_takes_no_seed():
    models = {"user": None, "assistant": ScriptedChatModel(), "judge": SeededChat()}
    assert unseeded_roles(models) == ["assistant"]


def test_every_role_gets_its_derived_seed_in_a_conversation(question):
    spec = GraphSpec(simulator="two_step", accept="natural", view="chat", max_turns=1,
                     rubrics=("coherence",))
    assistant = SeededChat(reply="It is 56, option B.")
    judge = SeededChat(reply='{"score": 4, "reason": "clear"}')
    ctx = SimContext(user=get_chat_model("fake:user"), assistant=assistant, judge=judge, seed=11)
    out = build_graph(spec).invoke(initial_state(question), context=ctx)
    assert out["judgements"]["coherence"].score == 4
    assert [seed for seed, _ in assistant.seen] == [derive_seed(11, ASSISTANT, 1)]
    assert [seed for seed, _ in judge.seen] == [derive_seed(11, JUDGE, "coherence")]


def test_old_records_without_unseeded_roles_still_load():
    record = ConversationRecord(
        id="r/v/q/0", run_id="r", question_id="q", subject="s", variant="v", spec={},
        models={"assistant": "x"}, correct_answer="A", stop_reason="accepted", seconds=1.0,
        started_at="2025-01-01T00:00:00Z", unseeded_roles=["assistant"],
    )
    stored = json.loads(record.model_dump_json())
    assert stored["unseeded_roles"] == ["assistant"]
    del stored["unseeded_roles"]
    assert ConversationRecord.model_validate(stored).unseeded_roles == []


# --- a real OpenAI-compatible client (llama-server, vLLM...), its HTTP transport mocked -----


def _openai_server(bodies: list[dict[str, Any]]) -> Any:
    httpx = pytest.importorskip("httpx")

    def handle(request: Any) -> Any:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "local",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Answer: B"}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        })

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_chat_openai_sends_the_seed_in_the_request_body():
    openai = pytest.importorskip("langchain_openai")
    bodies: list[dict[str, Any]] = []
    model = openai.ChatOpenAI(model="local", base_url="http://127.0.0.1:8080/v1", api_key="none",
                              http_client=_openai_server(bodies), max_retries=0)
    assert seedable(model)
    reply = invoke_chat(model, ASK, RoleSettings(temperature=0.7, max_tokens=5), seed=42)
    assert (reply.text, reply.input_tokens, reply.output_tokens) == ("Answer: B", 9, 3)
    assert bodies[-1]["seed"] == 42 and bodies[-1]["temperature"] == 0.7
    invoke_chat(model, ASK, RoleSettings())
    assert "seed" not in bodies[-1]


def test_chat_openai_conversations_send_the_same_seeds_on_a_rerun():
    openai = pytest.importorskip("langchain_openai")
    from chatbench import run_conversations

    def seeds(run_seed: int) -> list[int]:
        bodies: list[dict[str, Any]] = []
        model = openai.ChatOpenAI(model="local", base_url="http://127.0.0.1:8080/v1",
                                  api_key="none", http_client=_openai_server(bodies))
        spec = GraphSpec(simulator="two_step", accept="natural", view="chat", max_turns=2)
        run_conversations(load_questions(limit=2), spec, user="fake:user", assistant=model,
                          seed=run_seed)
        return sorted(body["seed"] for body in bodies)

    first = seeds(3)
    assert first and first == seeds(3) and first != seeds(4)
