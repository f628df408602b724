"""Apps as the assistant: Runnables, compiled graphs with tools, sync and async functions,
``app:module:attribute`` strings; their inner steps, tokens, threads and run metadata."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver

from chatbench import ConfigError, GraphSpec, ResultStore, StopReason, load_questions
from chatbench.models.apps import AppChatModel, as_chat_model, is_factory
from chatbench.models.reference import ModelRef
from chatbench.models.registry import get_chat_model
from chatbench.runner.batch import run_conversations
from chatbench.runner.build import build_models
from chatbench.runner.recipe import Variant
from chatbench.runner.simulate import conversation_id, simulate
from tests.app_targets import ANSWER_TOKENS, TOOL_TOKENS, calculator_agent, echo_app

USER_TURNS = ("What is 6*7?", "And once more?", "Answer: B")
SPEC = GraphSpec(name="apps", simulator="scripted", scripted_turns=USER_TURNS, max_turns=3,
                 assistant_system_prompt=None)
"""Two questions to the assistant, then the answer: two assistant turns per conversation."""
AGENT_REPLY = "The calculator says 42. Answer: B"


def _run(assistant: Any, questions: int = 1, **kwargs: Any) -> list[Any]:
    records = run_conversations(load_questions(limit=questions), SPEC, user=None,
                                assistant=assistant, **kwargs)
    assert [r.error for r in records] == [None] * questions
    return sorted(records, key=lambda r: r.id)


def _replies(record: Any) -> list[str]:
    return [t.content for t in record.transcript if t.role == "assistant"]


def _last_text(messages: list[BaseMessage]) -> str:
    return f"re: {messages[-1].text}"


async def _async_app(messages: list[BaseMessage]) -> AIMessage:
    await asyncio.sleep(0)
    return AIMessage(content=_last_text(messages))


_PROMPT = ChatPromptTemplate.from_messages([("system", "Be brief."),
                                            MessagesPlaceholder("messages")])

KINDS = {
    "chat model": (lambda: FakeListChatModel(responses=["first", "second"]),
                   ["first", "second"]),
    "runnable": (lambda: RunnableLambda(_last_text), [f"re: {t}" for t in USER_TURNS[:2]]),
    "prompt | model": (lambda: _PROMPT | FakeListChatModel(responses=["a", "b"]), ["a", "b"]),
    "graph with a tool": (calculator_agent, [AGENT_REPLY, AGENT_REPLY]),
    "sync callable": (lambda: _last_text, [f"re: {t}" for t in USER_TURNS[:2]]),
    "async callable": (lambda: _async_app, [f"re: {t}" for t in USER_TURNS[:2]]),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_app_answers_with_its_final_reply_only(kind):
    make, replies = KINDS[kind]
    (record,) = _run(make())
    assert record.stop_reason is StopReason.ACCEPTED
    assert [t.role for t in record.transcript] == ["user", "assistant"] * 2 + ["user"]
    assert [t.content for t in record.transcript if t.role == "user"] == list(USER_TURNS)
    assert _replies(record) == replies
    has_steps = kind == "graph with a tool"
    assert all(bool(t.steps) is (has_steps and t.role == "assistant")
               for t in record.transcript)


def test_tool_steps_and_inner_tokens_survive_the_store(tmp_path):
    with ResultStore(tmp_path / "apps.sqlite") as store:
        (record,) = _run(calculator_agent(), store=store)
        (stored,) = list(store.records())
    assert stored == record
    steps = stored.transcript[1].steps
    assert steps == [
        {"type": "ai", "content": "", "name": "calculator",
         "tool_calls": [{"name": "calculate", "args": {"expression": "6*7"}, "id": "call-1"}],
         "input_tokens": TOOL_TOKENS[0], "output_tokens": TOOL_TOKENS[1]},
        {"type": "tool", "content": "42", "name": "calculate", "tool_call_id": "call-1",
         "status": "success"},
    ]
    per_turn = (TOOL_TOKENS[0] + ANSWER_TOKENS[0], TOOL_TOKENS[1] + ANSWER_TOKENS[1])
    assert stored.tokens("assistant") == (2 * per_turn[0], 2 * per_turn[1])
    assert [t["input_tokens"] for t in stored.timings if t["node"] == "assistant"] == [
        per_turn[0]] * 2


def test_a_plain_models_turns_are_stored_as_before():
    (record,) = _run("fake:echo")
    assert all(t.steps == [] for t in record.transcript)
    assert '"steps"' not in record.model_dump_json()  # older chatbench reads these rows


def test_an_app_with_memory_gets_one_thread_per_conversation():
    saver = InMemorySaver()
    records = _run(calculator_agent(checkpointer=saver), questions=2)
    threads = {thread for thread, history in saver.storage.items() if history}
    assert threads == {r.id for r in records}
    agent = calculator_agent(checkpointer=saver)
    for record in records:
        state = agent.get_state({"configurable": {"thread_id": record.id}}).values
        humans = [m.text for m in state["messages"] if isinstance(m, HumanMessage)]
        assert humans == list(USER_TURNS[:2])  # its own turns, each sent once
        assert [m.text for m in state["messages"] if isinstance(m, AIMessage) and m.text] == [
            AGENT_REPLY] * 2


def test_a_rerun_starts_the_apps_thread_empty():
    saver = InMemorySaver()
    _run(calculator_agent(checkpointer=saver))
    (record,) = _run(calculator_agent(checkpointer=saver))
    state = calculator_agent(checkpointer=saver).get_state(
        {"configurable": {"thread_id": record.id}}).values
    assert [m.text for m in state["messages"] if isinstance(m, HumanMessage)] == list(
        USER_TURNS[:2])


def test_a_rag_chain_output_gives_its_answer_and_documents():
    docs = [Document(page_content="6*7 is 42", metadata={"source": "table"})]
    chain = RunnableLambda(lambda messages: {"answer": "42", "context": docs})
    (record,) = _run(chain)
    assert _replies(record) == ["42", "42"]
    assert record.transcript[1].steps == [
        {"type": "documents", "key": "context",
         "documents": [{"page_content": "6*7 is 42", "metadata": {"source": "table"}}]}]


def test_an_app_returning_something_else_fails_the_conversation_clearly():
    records = run_conversations(load_questions(limit=1), SPEC, user=None,
                                assistant=lambda messages: 42)
    assert records[0].stop_reason is StopReason.ERROR
    assert "ModelOutputError: the assistant app returned a int" in records[0].error


def test_app_strings_resolve_and_name_the_app():
    model = get_chat_model("app:tests.app_targets:calculator_agent")
    assert isinstance(model, AppChatModel) and model.app_name == (
        "app:tests.app_targets:calculator_agent")
    assert get_chat_model("app:tests.app_targets:echo_app").invoke("hi").text == (
        "1 messages; last: hi")
    assert is_factory(calculator_agent) and not is_factory(echo_app)
    assert ModelRef.of(echo_app).display == ModelRef.of(echo_app).identity == (
        "callable:tests.app_targets.echo_app")
    assert ModelRef.of(calculator_agent()).display == "graph:calculator"


def test_app_strings_run_in_worker_processes(tmp_path):
    with ResultStore(tmp_path / "p.sqlite") as store:
        records = _run("app:tests.app_targets:calculator_agent", questions=2, store=store,
                       executor="process", processes=1)
    assert [_replies(r) for r in records] == [[AGENT_REPLY] * 2] * 2
    assert all(r.models["assistant"] == "app:tests.app_targets:calculator_agent"
               for r in records)
    assert [len(r.transcript[1].steps) for r in records] == [2, 2]


def test_an_app_object_that_cannot_be_pickled_is_refused_by_the_process_executor():
    unpicklable = RunnableLambda(lambda messages: "hi")
    with pytest.raises(ConfigError, match="cannot be pickled"):
        run_conversations(load_questions(limit=1), SPEC, user=None, assistant=unpicklable,
                          executor="process", processes=1)


@pytest.mark.parametrize(("assistant", "message"), [
    (42, "must be a model string, a LangChain chat model or an app"),
    (dict, "must be a model string, a LangChain chat model or an app"),
    ("app:tests.app_targets:not_an_app", "is a int, not an app"),
    ("app:tests.app_targets:missing", "has no attribute 'missing'"),
    ("app:tests.no_such_module:app", "cannot be imported"),
    ("app:tests.app_targets", "expected app:<package.module>:<attribute>"),
])
def test_what_is_no_app_is_a_clear_config_error(assistant, message):
    with pytest.raises(ConfigError, match=message):
        run_conversations(load_questions(limit=1), SPEC, user=None, assistant=assistant)


def test_as_chat_model_refuses_a_non_app():
    with pytest.raises(ConfigError, match="not a model or an app"):
        as_chat_model(3.5)


def test_the_async_path_calls_the_app_asynchronously():
    sync_calls: list[int] = []

    def sync_only(messages: list[BaseMessage]) -> str:
        sync_calls.append(1)
        return "sync"

    model = as_chat_model(_async_app)
    assert asyncio.run(model.ainvoke([HumanMessage("hi")])).text == "re: hi"
    agent = as_chat_model(calculator_agent())
    reply = asyncio.run(agent.ainvoke([SystemMessage("x"), HumanMessage("6*7?")]))
    assert reply.text == AGENT_REPLY and reply.usage_metadata["output_tokens"] == 8
    assert asyncio.run(as_chat_model(sync_only).ainvoke("hi")).text == "sync" and sync_calls


class MetadataCollector(BaseCallbackHandler):
    """Every run's name, tags, metadata and parent, as a tracer would see them."""

    def __init__(self) -> None:
        self.runs: dict[UUID, dict[str, Any]] = {}

    def _start(self, kind: str, run_id: UUID, parent_run_id: UUID | None,
               kw: dict[str, Any]) -> None:
        self.runs[run_id] = {"name": kw.get("name") or kind, "kind": kind,
                             "parent": parent_run_id, "tags": kw.get("tags"),
                             "metadata": kw.get("metadata") or {}}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, **kw: Any) -> None:
        self._start("chain", run_id, parent_run_id, kw)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, **kw: Any) -> None:
        self._start("chat_model", run_id, parent_run_id, kw)


def test_runs_carry_the_conversations_name_tags_and_metadata():
    collector = MetadataCollector()
    spec = SPEC.model_copy(update={"max_turns": 2})
    variant = Variant.build(spec, build_models(spec, None, calculator_agent()))
    question = load_questions(limit=1)[0]
    record = simulate(variant.graph.with_config(callbacks=[collector]), question,
                      variant_context(variant), spec, run_id="traced", replicate=3)
    cid = conversation_id("traced", spec.name, question.id, 3)
    assert record.id == cid and record.error is None
    expected = {"run_id": "traced", "variant": spec.name, "question_id": question.id,
                "replicate": 3, "seed": 11, "conversation_id": cid}
    root = next(r for r in collector.runs.values() if r["parent"] is None)
    assert root["name"] == f"chatbench:{spec.name}"
    assert {"chatbench", "run:traced", f"variant:{spec.name}"} <= set(root["tags"])
    assert all(expected.items() <= r["metadata"].items() for r in collector.runs.values())
    # the app's own runs nest under the assistant's chat model call
    chat_runs = {i for i, r in collector.runs.items() if r["kind"] == "chat_model"}
    app_roots = [r for r in collector.runs.values() if r["name"] == "calculator"]
    assert app_roots and all(r["parent"] in chat_runs for r in app_roots)


def variant_context(variant: Variant) -> Any:
    from chatbench.context import SimContext

    return SimContext(assistant=variant.models.assistant, seed=11)


def test_reports_and_show_count_and_print_the_steps(tmp_path):
    from rich.console import Console

    from chatbench.cli.report import render_conversation
    from chatbench.reporting.html_report import write_html_report
    from chatbench.reporting.results import load_results
    from chatbench.reporting.tables import APP_STEPS_TITLE, report_tables

    with ResultStore(tmp_path / "apps.sqlite") as store:
        (record,) = _run(calculator_agent(), store=store)
    console = Console(record=True, width=200)
    for part in render_conversation(record):
        console.print(part)
    shown = console.export_text()
    assert "(step) calls calculate(expression='6*7')" in shown and "(step) calculate -> 42" in shown
    results = load_results(tmp_path / "apps.sqlite")
    row = results.conversations.iloc[0]
    assert (row["assistant_steps"], row["tool_calls"]) == (4, 2)
    assert results.turns["steps"].notna().tolist() == [False, True, False, True, False]
    tables = dict(report_tables(results))
    assert tables[APP_STEPS_TITLE]["tool calls / conversation"].tolist() == ["2.0"]
    page = write_html_report(results, tmp_path / "r.html").read_text()
    assert "step: calculate -&gt; 42" in page


def test_an_app_beside_a_grid_file_is_found_from_any_folder(tmp_path, monkeypatch):
    import subprocess
    import sys

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "beside_grid_bot.py").write_text(
        "from langchain_core.runnables import RunnableLambda\n"
        "app = RunnableLambda(lambda messages: 'I would say B.')\n")
    (folder / "grid.yaml").write_text(
        "name: beside\nbase: quick\nfactors: {user_cot: [false]}\nlimit: 1\n"
        "user: fake:user\nassistant: app:beside_grid_bot:app\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CHATBENCH_APP_PATH"}
    result = subprocess.run([sys.executable, "-m", "chatbench.cli", "ablate",
                             str(folder / "grid.yaml"), "--out", str(tmp_path / "a.sqlite")],
                            cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 conversations" in result.stdout
