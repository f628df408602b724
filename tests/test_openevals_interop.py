"""``chatbench.interop.openevals``: chatbench's simulated user in openevals' simulations, and
openevals' trajectory evaluators as chatbench rubrics (with tool calls in OpenAI format)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from openevals.simulators import run_multiturn_simulation
from openevals.trajectory.llm import create_trajectory_llm_as_judge
from openevals.trajectory.match import create_trajectory_match_evaluator

from chatbench import ConfigError
from chatbench.data.scenario import Scenario
from chatbench.interop.openevals import (
    register_trajectory_evaluator,
    simulated_user,
    trajectory_evaluator,
    transcript_messages,
)
from chatbench.scoring.judges import transcript_dicts
from chatbench.testing import run_scenario, scenario_spec
from examples.scenarios.support_agent import (
    SCRIPTED_USERS,
    ScriptedJudge,
    ScriptedSupportModel,
    build_support_agent,
)

REFUND = Scenario(id="refund", description="You want a refund for order 77.",
                  persona="impatient", criteria=["The assistant starts a refund."],
                  opening_turns=["Refund order 77, please."], max_turns=4)
CANCEL_CALL = [{"role": "assistant", "content": "", "tool_calls": [
    {"id": "x", "type": "function",
     "function": {"name": "cancel_order", "arguments": json.dumps(
         {"order_id": "1234", "email": "sam@example.com"})}}]}]
"""The reference trajectory of the cancel scenario: one cancel_order call with these args."""


class Recording(BaseChatModel):
    """Replies its ``replies`` in turn and keeps every prompt it was sent."""

    replies: list[str]
    prompts: list[list[BaseMessage]] = []

    @property
    def _llm_type(self) -> str:
        return "recording-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        reply = self.replies[len(self.prompts) - 1]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def _app(message: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": f"Noted: {message['content']}",
            "id": str(uuid.uuid4())}


# --- chatbench's user in openevals' simulation ----------------------------------------------


def test_chatbench_user_plays_an_openevals_simulation_to_its_goal():
    model = Recording(replies=["It was a broken mug.", "Great, thanks! [GOAL MET]"])
    user = simulated_user(REFUND, model=model)
    result = run_multiturn_simulation(app=_app, user=user, max_turns=user.max_turns,
                                      stopping_condition=user.stopping_condition)
    said = [(m["role"], m["content"]) for m in result["trajectory"]]
    assert said == [
        ("user", "Refund order 77, please."),  # the opening turn: no model call
        ("assistant", "Noted: Refund order 77, please."),
        ("user", "It was a broken mug."),
        ("assistant", "Noted: It was a broken mug."),
        ("user", "Great, thanks!"),  # the stop token cut out
        ("assistant", "Noted: Great, thanks!"),
    ]
    assert user.end == "goal_met" and user.goal_met and user.max_turns == 4
    assert len(model.prompts) == 2
    first = model.prompts[0]
    # chatbench's scenario prompt, with the scenario and its persona, in the flipped view
    assert isinstance(first[0], SystemMessage)
    assert "You want a refund for order 77." in first[0].text
    assert "impatient" in first[0].text and "[GOAL MET]" in first[0].text
    assert [type(m) for m in first[1:]] == [AIMessage, HumanMessage]
    assert first[1].text == "Refund order 77, please."
    assert first[2].text.startswith("Noted: Refund order 77, please.")


def test_without_a_stop_token_the_simulation_runs_to_max_turns():
    user = simulated_user(REFUND, model="fake:say:Still waiting.")
    result = run_multiturn_simulation(app=_app, user=user, max_turns=3,
                                      stopping_condition=user.stopping_condition)
    assert [m["content"] for m in result["trajectory"] if m["role"] == "user"] == [
        "Refund order 77, please.", "Still waiting.", "Still waiting."]
    assert user.end is None and not user.goal_met


def test_giving_up_ends_the_simulation_too():
    user = simulated_user(REFUND.model_copy(update={"opening_turns": ()}),
                          model="fake:say:This is useless. [GIVE UP]")
    result = run_multiturn_simulation(app=_app, user=user, max_turns=5,
                                      stopping_condition=user.stopping_condition)
    assert len(result["trajectory"]) == 2 and user.end == "gave_up"
    assert result["trajectory"][0]["content"] == "This is useless."


def test_the_same_turn_is_written_for_the_same_trajectory():
    user = simulated_user(REFUND, model="fake:user")
    trajectory = [{"role": "user", "content": "Refund order 77, please."},
                  {"role": "assistant", "content": "Why?"}]
    assert user(trajectory, turn_counter=1)["content"] == user(trajectory)["content"]


def test_the_app_internals_are_not_shown_to_the_user():
    trajectory = [{"role": "user", "content": "hi"}, *CANCEL_CALL,
                  {"role": "tool", "content": "done", "tool_call_id": "x"},
                  {"role": "assistant", "content": "Cancelled."}]
    assert [(m.type, m.text) for m in transcript_messages(trajectory)] == [
        ("human", "hi"), ("ai", "Cancelled.")]
    assert len(transcript_messages({"messages": trajectory})) == 2
    with pytest.raises(ConfigError, match="argument 'trajectory'"):
        transcript_messages([{"no": "role"}])


def test_a_simulator_that_plays_no_scenario_is_refused():
    with pytest.raises(ConfigError, match="simulator 'scripted' is no prompted"):
        simulated_user(REFUND, model="fake:echo",
                       spec=scenario_spec().model_copy(update={"simulator": "scripted"}))


# --- transcript_dicts: the outputs an evaluator gets --------------------------------------------


def test_a_plain_transcript_gives_role_and_content_only():
    messages = [SystemMessage("sys"), HumanMessage("hi"), AIMessage("hello", id="a1")]
    assert transcript_dicts(messages) == [{"role": "user", "content": "hi"},
                                          {"role": "assistant", "content": "hello"}]
    assert transcript_dicts(messages, {"other": [{"type": "tool", "content": "x"}]}) == \
        transcript_dicts(messages)


def test_app_steps_come_before_the_reply_in_openai_format():
    steps = {"a1": [
        {"type": "ai", "content": "", "tool_calls": [
            {"name": "cancel_order", "args": {"order_id": "1234"}, "id": "c1"}]},
        {"type": "tool", "name": "cancel_order", "content": "cancelled", "tool_call_id": "c1",
         "status": "success"},
        {"type": "documents", "key": "context", "documents": []},
    ]}
    messages = [HumanMessage("cancel 1234"), AIMessage("Done.", id="a1")]
    assert transcript_dicts(messages, steps) == [
        {"role": "user", "content": "cancel 1234"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "cancel_order", "arguments": '{"order_id": "1234"}'}}]},
        {"role": "tool", "content": "cancelled", "tool_call_id": "c1"},
        {"role": "assistant", "content": "Done."},
    ]
    # the steps an app's reply carries itself, and an agent's own messages, read the same
    carried = AIMessage("Done.", additional_kwargs={"chatbench_steps": steps["a1"]})
    assert transcript_dicts([messages[0], carried]) == transcript_dicts(messages, steps)
    native = [messages[0],
              AIMessage("", tool_calls=[{"name": "cancel_order", "args": {"order_id": "1234"},
                                         "id": "c1"}]),
              ToolMessage("cancelled", tool_call_id="c1"), AIMessage("Done.")]
    assert transcript_dicts(native) == transcript_dicts(messages, steps)


def test_openevals_trajectory_match_reads_the_tool_calls():
    steps = {"a1": [{"type": "ai", "content": "", "tool_calls": [
        {"name": "cancel_order", "args": {"order_id": "1234", "email": "sam@example.com"},
         "id": "c9"}]}, {"type": "tool", "content": "ok", "tool_call_id": "c9"}]}
    outputs = transcript_dicts([HumanMessage("cancel"), AIMessage("Done.", id="a1")], steps)
    match = create_trajectory_match_evaluator(trajectory_match_mode="superset")
    assert match(outputs=outputs, reference_outputs=CANCEL_CALL)["score"] is True
    plain = transcript_dicts([HumanMessage("cancel"), AIMessage("Done.", id="a1")])
    assert match(outputs=plain, reference_outputs=CANCEL_CALL)["score"] is False


# --- trajectory evaluators as chatbench rubrics ---------------------------------------------


class ToolCallingJudge(BaseChatModel):
    """A judge for openevals' LLM-as-judge (structured output through a tool call): it scores
    true when the trajectory it reads calls ``cancel_order``."""

    bound: bool = False

    @property
    def _llm_type(self) -> str:
        return "tool-calling-judge"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingJudge:  # type: ignore[override]  # a fake
        return self.model_copy(update={"bound": True})

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        called = "cancel_order" in " ".join(m.text for m in messages)
        args = {"reasoning": f"cancel_order {'called' if called else 'never called'}",
                "score": called}
        reply = AIMessage(content="", tool_calls=[{"name": "score", "args": args, "id": "j1"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _cancel_run(name: str, assistant: Any = None) -> Any:
    spec = scenario_spec().model_copy(update={"rubrics": (name,)})
    return run_scenario(
        "examples/scenarios/support.yaml", scenario_id="cancel-1234-annoyed",
        assistant=assistant or build_support_agent(ScriptedSupportModel()),
        user=GenericFakeChatModel(messages=iter(SCRIPTED_USERS["cancel-1234-annoyed"])),
        judge=ScriptedJudge(), spec=spec, cache=False)


def test_a_trajectory_judge_scores_a_scenario_run_and_the_record_keeps_it(registered):
    name = "trajectory_accuracy_test"
    register_trajectory_evaluator(name, create_trajectory_llm_as_judge(
        judge=ToolCallingJudge(), feedback_key="trajectory_accuracy"))
    registered.append(name)
    result = _cancel_run(name)
    assert result.success, result.explain()
    judgement = result.record.judgements[name]
    assert judgement.score in (0, 1) and judgement.reason.startswith("cancel_order")
    raw = json.loads(judgement.raw)
    assert raw["key"] == "trajectory_accuracy" and raw["comment"] == judgement.reason


def test_a_trajectory_match_is_kept_with_its_key(registered):
    name = "cancel_match_test"
    register_trajectory_evaluator(
        name, create_trajectory_match_evaluator(trajectory_match_mode="superset"), CANCEL_CALL)
    registered.append(name)
    judgement = _cancel_run(name).record.judgements[name]
    assert judgement.score in (0, 1)
    assert json.loads(judgement.raw)["key"] == "trajectory_superset_match"


def test_the_app_tool_calls_reach_a_trajectory_evaluator_in_a_scenario_run(registered):
    seen: list[Any] = []

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["outputs"])
        return create_trajectory_match_evaluator(trajectory_match_mode="superset")(**kwargs)

    name = "cancel_spy_test"
    register_trajectory_evaluator(name, spy, CANCEL_CALL)
    registered.append(name)
    judgement = _cancel_run(name).record.judgements[name]
    assert any(m.get("tool_calls") for m in seen[0])
    assert judgement.score == 1


def test_the_reference_trajectory_replaces_the_expected_outcome_text():
    seen = []
    evaluator = trajectory_evaluator(lambda **kw: seen.append(kw) or {"score": 1}, CANCEL_CALL)
    evaluator(inputs="goal", outputs=[], reference_outputs="Order 1234 is cancelled.")
    assert seen[0]["reference_outputs"] == CANCEL_CALL and seen[0]["inputs"] == "goal"
    without = trajectory_evaluator(lambda **kw: seen.append(kw) or {"score": 1})
    without(inputs="goal", outputs=[], reference_outputs="text")
    assert seen[1]["reference_outputs"] is None  # text is no trajectory
