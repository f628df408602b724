"""Graph logic on fake chat models: accept, forced answer, scratchpad, persona, variants."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.types import RetryPolicy

from chatbench import (
    GraphSpec,
    SimContext,
    StopReason,
    build_graph,
    get_chat_model,
    initial_state,
    simulate,
)
from chatbench.config import list_graph_specs, load_graph_spec
from chatbench.graphs.builder import transient_error
from chatbench.personas import load_persona
from chatbench.prompts import FORCED_ANSWER_PROMPT, USER_COT_PROMPT
from chatbench.state import ASSISTANT, FORCE_ANSWER, JUDGE, USER, USER_COT
from tests.conftest import ScriptedChatModel

FAST_RETRY = RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False,
                         retry_on=transient_error)


def chat_spec(**fields):
    """chatbench's own variant (natural accept rule, role-flipped chat view): most tests here
    pin its behaviour; the paper's protocol is pinned in test_paper_protocol.py."""
    return GraphSpec(accept="natural", view="chat", **fields)


def _run(spec, question, user, assistant, judge=None, persona=None):
    ctx = SimContext(assistant=assistant, user=user, judge=judge, persona=persona, seed=1)
    return build_graph(spec, retry=FAST_RETRY).invoke(initial_state(question), context=ctx)


def test_user_answer_ends_conversation_at_judge(question):
    user = ScriptedChatModel(replies=["what's 7 times 8?", "Thanks! Answer: B"])
    assistant = ScriptedChatModel(replies=["7 x 8 = 56, option B."])
    out = _run(chat_spec(), question, user, assistant)
    assert out["stop_reason"] is StopReason.ACCEPTED
    assert out["final_choice"] == "B" and out["verdict"] == "correct"
    assert out["turns"] == 2
    assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage, HumanMessage]
    assert [t["node"] for t in out["timings"]] == [USER, ASSISTANT, USER, JUDGE]


def test_wrong_answer_is_judged_wrong(question):
    user = ScriptedChatModel(replies=["I'll go with C"])
    out = _run(chat_spec(), question, user, ScriptedChatModel())
    assert out["verdict"] == "wrong" and out["turns"] == 1


def test_turn_limit_forces_answer_only(question):
    user = ScriptedChatModel(replies=["hi", "hmm, why?", "Answer: D"])
    assistant = ScriptedChatModel(replies=["Hello", "Because."])
    out = _run(chat_spec(max_turns=2), question, user, assistant)
    assert out["stop_reason"] is StopReason.FORCED
    assert out["turns"] == 3 and out["verdict"] == "wrong"
    forced_view = user.calls[-1]
    assert FORCED_ANSWER_PROMPT in forced_view[-2].content
    assert isinstance(forced_view[-1], AIMessage) and forced_view[-1].content == "Answer:"
    assert user.kwargs[-1]["max_tokens"] == 16
    assert all(FORCED_ANSWER_PROMPT not in m.content for call in user.calls[:-1] for m in call)


def test_forced_non_answer_is_no_answer(question):
    user = ScriptedChatModel(replies=["hi", "I really don't know"])
    out = _run(chat_spec(max_turns=1), question, user, ScriptedChatModel(replies=["Hello"]))
    assert out["stop_reason"] is StopReason.FORCED
    assert out["final_choice"] is None and out["verdict"] == "no_answer"
    assert out["messages"][-1].content == "Answer: I really don't know"


def test_forced_prefilled_reply_gets_its_prefix_back(question):
    user = ScriptedChatModel(replies=["hi", " B"])
    out = _run(chat_spec(max_turns=1), question, user, ScriptedChatModel(replies=["Hello"]))
    assert out["messages"][-1].content == "Answer: B" and out["verdict"] == "correct"


def test_judge_model_reads_what_rules_cannot(question):
    user = ScriptedChatModel(replies=["hi", "the second one i guess"])
    judge = ScriptedChatModel(replies=["B"])
    out = _run(chat_spec(max_turns=1), question, user, ScriptedChatModel(replies=["Hello"]), judge)
    assert out["final_choice"] == "B" and out["verdict"] == "correct"
    assert "the second one i guess" in judge.seen_text()


def test_simulator_sees_role_flipped_transcript(question):
    user = ScriptedChatModel(replies=["help me with 7x8", "Answer: B"])
    assistant = ScriptedChatModel(replies=["It is 56."])
    _run(chat_spec(), question, user, assistant)
    second_view = user.calls[1]
    assert isinstance(second_view[0], SystemMessage)
    assert isinstance(second_view[1], AIMessage) and second_view[1].content == "help me with 7x8"
    assert isinstance(second_view[2], HumanMessage) and second_view[2].content.startswith(
        "It is 56."
    )
    # The assistant sees its own system prompt and the user's turn, as a plain chat.
    assert [type(m) for m in assistant.calls[0]] == [SystemMessage, HumanMessage]
    assert question.stem in second_view[0].content
    assert question.stem not in assistant.seen_text()


def test_scratchpad_never_reaches_the_assistant(question):
    user = ScriptedChatModel(
        replies=["NOTE-1 I should ask", "what is 7x8?", "NOTE-2 it said 56", "Answer: B"]
    )
    assistant = ScriptedChatModel(replies=["56, so B."])
    out = _run(chat_spec(user_cot=True), question, user, assistant)
    assert out["user_scratchpad"] == ["NOTE-1 I should ask", "NOTE-2 it said 56"]
    assert "NOTE" not in assistant.seen_text()
    assert all("NOTE" not in m.content for m in out["messages"])
    # The user's turn is written with its own notes in view, and the notes call is marked private.
    assert "NOTE-1 I should ask" in user.calls[1][-1].content
    assert USER_COT_PROMPT in user.calls[0][-1].content
    assert [t["node"] for t in out["timings"]][:3] == [USER_COT, USER, ASSISTANT]


def test_persona_reaches_only_the_simulator(question):
    persona = load_persona("skeptical")
    user = ScriptedChatModel(replies=["are you sure?", "Answer: B"])
    assistant = ScriptedChatModel(replies=["Yes, 56."])
    out = _run(chat_spec(persona="skeptical"), question, user, assistant, persona=persona)
    assert persona.background in user.calls[0][0].content
    assert persona.background not in assistant.seen_text()
    assert out["verdict"] == "correct"


def test_variants_change_the_graph():
    plain = build_graph(chat_spec()).get_graph()
    cot = build_graph(chat_spec(user_cot=True)).get_graph()
    assert USER_COT in cot.nodes and USER_COT not in plain.nodes
    assert {USER, ASSISTANT, FORCE_ANSWER, JUDGE} <= set(plain.nodes)
    assert plain.draw_mermaid() != cot.draw_mermaid()


@pytest.mark.parametrize("name", list_graph_specs())
def test_shipped_graph_snapshot(name, snapshot):
    spec = load_graph_spec(name)
    assert build_graph(spec).get_graph().draw_mermaid() == snapshot


def test_failing_model_is_retried_then_recorded_with_partial_transcript(question):
    user = ScriptedChatModel(replies=["hello?"])
    assistant = ScriptedChatModel(replies=[ConnectionError("api down")] * 3)
    ctx = SimContext(assistant=assistant, user=user, seed=0)
    spec = chat_spec()
    record = simulate(build_graph(spec, retry=FAST_RETRY), question, ctx, spec)
    assert len(assistant.calls) == 3
    assert record.stop_reason is StopReason.ERROR
    assert "ConnectionError: api down" in record.error
    assert [t.content for t in record.transcript] == ["hello?"]
    assert record.verdict is None


def test_transient_error_then_success_continues(question):
    user = ScriptedChatModel(replies=["hello?", "Answer: B"])
    assistant = ScriptedChatModel(replies=[ConnectionError("blip"), "It is B."])
    out = _run(chat_spec(), question, user, assistant)
    assert out["verdict"] == "correct" and len(assistant.calls) == 2


def test_empty_simulator_output_is_retried_once(question):
    user = ScriptedChatModel(
        replies=[
            "",
            "  [END]",
        ]
    )
    ctx = SimContext(assistant=ScriptedChatModel(), user=user, seed=0)
    spec = chat_spec()
    record = simulate(build_graph(spec, retry=FAST_RETRY), question, ctx, spec)
    assert len(user.calls) == 2  # one retry, and no RetryPolicy retries of our own error
    assert record.stop_reason is StopReason.ERROR and "empty" in record.error

    user = ScriptedChatModel(replies=["", "Answer: B"])
    out = _run(spec, question, user, ScriptedChatModel())
    assert out["verdict"] == "correct"


def test_role_settings_reach_the_model(question):
    user = ScriptedChatModel(replies=["Answer: B"])
    _run(chat_spec(user={"temperature": 0.5, "max_tokens": 128}), question, user,
         ScriptedChatModel())
    assert user.kwargs[0] == {"temperature": 0.5, "max_tokens": 128}


def test_help_variant_opens_with_fixed_message(question):
    user = ScriptedChatModel(replies=["Answer: B"])
    assistant = ScriptedChatModel(replies=["Start by multiplying."])
    out = _run(chat_spec(simulator="two_step_help"), question, user, assistant)
    # The paper's opening in either view: it withholds the question.
    assert out["messages"][0].content == (
        "I'm trying to solve a math problem. Can you help me get started on the first step?")
    assert len(user.calls) == 1  # the opening needs no model call


def test_scripted_simulator_needs_no_user_model(question):
    spec = chat_spec(simulator="scripted", scripted_turns=("7x8?", "Answer: B"))
    out = _run(spec, question, None, ScriptedChatModel(replies=["56"]))
    assert out["verdict"] == "correct"


def test_judge_records_what_the_assistant_pointed_to_each_turn(question):
    user = ScriptedChatModel(replies=["help?", "really?", "Answer: B"])
    assistant = ScriptedChatModel(replies=["I think the answer is C.", "Sorry, it is B."])
    out = _run(chat_spec(), question, user, assistant)
    assert out["assistant_choices"] == ["C", "B"]
    assert out["verdict"] == "correct"


def test_rubric_judgements_and_garbage_judge_output(question):
    user = ScriptedChatModel(replies=["what's 7x8?", "Answer: B"])
    assistant = ScriptedChatModel(replies=["56, B."])
    judge = ScriptedChatModel(replies=['{"reason": "on task", "score": 5}', "no idea, sorry"])
    spec = chat_spec(rubrics=("coherence", "satisfaction"))
    out = _run(spec, question, user, assistant, judge)
    assert out["judgements"]["coherence"].score == 5
    assert out["judgements"]["coherence"].reason == "on task"
    assert out["judgements"]["satisfaction"].score is None  # missing, never a number
    assert out["judgements"]["satisfaction"].raw == "no idea, sorry"
    assert "USER: what's 7x8?" in judge.calls[0][0].content
    assert [t["node"] for t in out["timings"]][-2:] == ["judge:coherence", "judge:satisfaction"]


def test_rubrics_without_a_judge_model_are_a_config_error():
    from chatbench import ConfigError, load_questions, run_conversations

    with pytest.raises(ConfigError, match="judge model"):
        run_conversations(load_questions(limit=1), chat_spec(rubrics=("coherence",)),
                          user="fake:user", assistant="fake:echo")


def test_user_rates_satisfaction_in_character_after_answering(question):
    user = ScriptedChatModel(replies=["Answer: B", '{"reason": "quick", "score": 4}'])
    spec = chat_spec(ask_user_satisfaction=True)
    out = _run(spec, question, user, ScriptedChatModel())
    assert out["judgements"]["user_satisfaction"].score == 4
    assert [m.content for m in out["messages"]] == ["Answer: B"]  # feedback stays off-record
    assert "how satisfied" in user.calls[-1][-1].content.lower()
    assert "user_feedback" in build_graph(spec).get_graph().nodes


def test_slow_model_call_times_out_and_is_retried(question):
    import time as _time

    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    class Slow(FakeListChatModel):
        def _call(self, *args, **kwargs):
            _time.sleep(0.5)
            return super()._call(*args, **kwargs)

    user = ScriptedChatModel(replies=["hello?"])
    ctx = SimContext(assistant=Slow(responses=["late"]), user=user, seed=0, call_timeout_s=0.05)
    spec = chat_spec()
    record = simulate(build_graph(spec, retry=FAST_RETRY), question, ctx, spec)
    assert record.stop_reason is StopReason.ERROR
    assert "ModelCallTimeout" in record.error and "0.05 s" in record.error


class _Runs(BaseCallbackHandler):
    """Names of the chain and chat model runs a graph reports to callbacks."""

    def __init__(self) -> None:
        self.chains: list[str] = []
        self.chat_models = 0

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.chains.append(kwargs.get("name") or "")

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.chat_models += 1


def test_traced_run_sees_nodes_and_fake_model_calls_but_not_routers(question):
    ctx = SimContext(user=get_chat_model("fake:user"), assistant=get_chat_model("fake:echo"))
    runs = _Runs()
    out = build_graph(chat_spec()).invoke(initial_state(question), context=ctx,
                                          config={"callbacks": [runs]})
    assert out["stop_reason"] is StopReason.ACCEPTED and out["turns"] == 2
    assert {USER, ASSISTANT, JUDGE} <= set(runs.chains)
    assert not {"route_after_user", "route_after_assistant"} & set(runs.chains)
    assert runs.chat_models == 3  # a watched fake takes LangChain's full path


def test_unwatched_fake_model_answers_the_same(question):
    ctx = SimContext(user=get_chat_model("fake:user"), assistant=get_chat_model("fake:echo"))
    graph = build_graph(chat_spec())
    quiet = graph.invoke(initial_state(question), context=ctx)
    traced = graph.invoke(initial_state(question), context=ctx, config={"callbacks": [_Runs()]})
    assert [m.text for m in quiet["messages"]] == [m.text for m in traced["messages"]]
    assert get_chat_model("fake:say:Hello").invoke("hi").content == "Hello"
