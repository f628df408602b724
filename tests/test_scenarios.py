"""Open-ended scenarios (issue 27): loading with line-and-field errors, the scenario graph
(stop tokens, max turns, a caller's stopping condition, scripted opening turns), the judge's
per-criterion verdicts, the store (resume, a question run beside a scenario run), the CLI and
ablation grids, and the refusals: no judge, a causal-LM simulator, a stopping condition with
no scenarios. Multiple-choice records keep their exact shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from chatbench import GraphSpec, ResultStore, Scenario, load_scenarios, run_scenarios
from chatbench.datatypes import StopReason
from chatbench.errors import ConfigError
from chatbench.graphs.builder import build_graph
from chatbench.runner.batch import run_conversations
from tests.conftest import cli

SPEC = GraphSpec(name="scenario-test", max_turns=3, accept="natural", view="chat")


class PromptModel(BaseChatModel):
    """A fake whose reply is a function of the prompt's text (so runs are deterministic at
    any concurrency), counting its calls."""

    rules: list[tuple[str, str]]
    """(text in the prompt, reply): the first that matches; else ``default``."""
    default: str = "ok"
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "prompt-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kw: Any) -> ChatResult:
        self.calls += 1
        text = "\n".join(str(m.content) for m in messages)
        reply = next((r for needle, r in self.rules if needle in text), self.default)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def greeting(**fields: Any) -> Scenario:
    data: dict[str, Any] = {"id": "greet", "description": "You want a friendly greeting.",
                            "criteria": ["The assistant greets the user."], **fields}
    return Scenario(**data)


# --- loading -------------------------------------------------------------------------------------

def test_yaml_and_jsonl_give_the_same_scenarios(tmp_path: Path) -> None:
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(
        "scenarios:\n"
        "  - id: cancel\n"
        "    description: You want to cancel order 1234.\n"
        "    persona: terse and annoyed\n"
        "    criteria: [The order is cancelled., The assistant asks for the email.]\n"
        "    opening_turns: [Cancel my order.]\n"
        "    max_turns: 4\n"
    )
    jsonl_file = tmp_path / "s.jsonl"
    jsonl_file.write_text(json.dumps({
        "id": "cancel", "description": "You want to cancel order 1234.",
        "persona": "terse and annoyed",
        "criteria": ["The order is cancelled.", "The assistant asks for the email."],
        "opening_turns": ["Cancel my order."], "max_turns": 4}) + "\n")
    [from_yaml] = load_scenarios(yaml_file)
    assert load_scenarios(jsonl_file) == [from_yaml]
    assert from_yaml.turn_limit(10) == 4 and greeting().turn_limit(10) == 10


@pytest.mark.parametrize(("text", "where"), [
    ('{"id": "a", "description": "d", "criteria": ["c"]}\n{"id": "b", "description": "d"}\n',
     "line 2: field 'criteria'"),
    ('{"id": "a", "description": "d", "criteria": ["c"], "colour": 1}\n', "line 1: field 'colour'"),
    ('{"id": "a", "description": "d", "criteria": ["c"]}\n{"id": "a", "description": "e", '
     '"criteria": ["c"]}\n', "line 2"),
    ('{"id": "a", "description": "d", "criteria": []}\n', "line 1: field 'criteria'"),
    ('{"id": "a", "description": "d", "criteria": ["c"], "max_turns": 0}\n',
     "line 1: field 'max_turns'"),
    ('{"id": "a", "description": "d"\n', "line 1"),
    ('{"id": "a", "description": "d", "criteria": ["c"], "opening_turns": ["x", "y"], '
     '"max_turns": 1}\n', "line 1: field 'max_turns'"),
])
def test_a_bad_scenario_file_names_its_line_and_field(tmp_path: Path, text: str,
                                                      where: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_scenarios(path)
    message = str(caught.value)
    assert str(path) in message and where in message and "\n" not in message


def test_a_bad_yaml_scenario_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- id: a\n  description: d\n  criteria: [c]\n"
                    "- id: b\n  description: d\n  criteria: [c]\n  max_turns: many\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line 4: field 'max_turns'"):
        load_scenarios(path)


# --- the graph -----------------------------------------------------------------------------------

def test_the_scenario_graph_has_no_answer_nodes() -> None:
    nodes = set(build_graph(SPEC, task="scenario").get_graph().nodes)
    assert {"user", "assistant", "judge"} <= nodes
    assert not {"force_answer"} & nodes
    cot = set(build_graph(SPEC.model_copy(update={"user_cot": True}),
                          task="scenario").get_graph().nodes)
    assert "user_cot" in cot


def test_goal_met_ends_the_conversation_and_every_criterion_is_judged() -> None:
    user = PromptModel(rules=[("Hello, friend!", "Lovely, thanks. [GOAL MET]")],
                       default="Hi there?")
    judge = PromptModel(rules=[("greets", '{"reason": "it said hello", "passed": true}')],
                        default='{"reason": "no", "passed": false}')
    scenario = greeting(criteria=["The assistant greets the user.", "It names a price."])
    [record] = run_scenarios([scenario], SPEC, user=user,
                             assistant=PromptModel(rules=[], default="Hello, friend!"),
                             judge=judge)
    assert record.stop_reason is StopReason.GOAL_MET and record.task == "scenario"
    assert [(c.criterion, c.passed) for c in record.criteria] == [
        ("The assistant greets the user.", True), ("It names a price.", False)]
    assert record.criteria[0].reason == "it said hello"
    assert record.verdict == "wrong" and not record.success
    # the stop token is cut out of what the assistant and the record see
    assert all("[GOAL MET]" not in turn.content for turn in record.transcript)
    assert record.transcript[-1].content == "Lovely, thanks."
    assert record.correct_answer == ""


def test_giving_up_and_max_turns_end_it_with_their_reasons() -> None:
    judge = PromptModel(rules=[], default="PASS")
    [gave_up] = run_scenarios([greeting()], SPEC, user="fake:say:This is useless. [GIVE UP]",
                              assistant="fake:echo", judge=judge)
    assert gave_up.stop_reason is StopReason.GAVE_UP and gave_up.turns == 1
    [limited] = run_scenarios([greeting(max_turns=2)], SPEC, user="fake:say:Tell me more.",
                              assistant="fake:echo", judge=judge)
    assert limited.stop_reason is StopReason.MAX_TURNS and limited.turns == 2
    assert limited.success  # the judge passed its one criterion


def test_scripted_opening_turns_come_first_word_for_word() -> None:
    user = PromptModel(rules=[], default="Thanks. [GOAL MET]")
    [record] = run_scenarios(
        [greeting(opening_turns=["Cancel order 1234.", "Now, please."])], SPEC, user=user,
        assistant="fake:echo", judge="fake:say:PASS")
    sent = [turn.content for turn in record.transcript if turn.role == "user"]
    assert sent[:2] == ["Cancel order 1234.", "Now, please."]
    assert user.calls == 1  # the simulator wrote only the third turn


def test_a_stopping_condition_ends_the_conversation() -> None:
    seen: list[int] = []

    def refund_offered(state: dict[str, Any]) -> bool:
        seen.append(len(state["messages"]))
        return any("refund" in str(m.content) for m in state["messages"])

    [record] = run_scenarios(
        [greeting(max_turns=10)], SPEC, user="fake:say:My mug broke.",
        assistant=PromptModel(rules=[], default="I can offer a refund."),
        judge="fake:say:PASS", stopping_condition=refund_offered)
    assert record.stop_reason is StopReason.STOPPED and record.turns == 1
    assert seen and seen[-1] == 2  # it saw the state after the assistant's reply


def test_an_undecided_criterion_leaves_the_conversation_undecided() -> None:
    [record] = run_scenarios([greeting()], SPEC, user="fake:say:Bye [GOAL MET]",
                             assistant="fake:echo", judge="fake:say:I cannot tell.")
    assert record.criteria[0].passed is None and record.criteria[0].raw == "I cannot tell."
    assert record.verdict == "no_answer" and not record.answered


# --- refusals ------------------------------------------------------------------------------------

def test_scenarios_need_a_judge() -> None:
    with pytest.raises(ConfigError, match="judge"):
        run_conversations([greeting()], SPEC, user="fake:say:hi", assistant="fake:echo")


def test_a_causal_lm_simulator_cannot_play_a_scenario() -> None:
    spec = GraphSpec(name="clm", simulator="causal_lm")
    with pytest.raises(ConfigError, match="scenario"):
        build_graph(spec, task="scenario")
    build_graph(spec)  # questions it plays


def test_a_stopping_condition_without_scenarios_is_refused(question) -> None:
    with pytest.raises(ConfigError, match="stopping_condition"):
        run_conversations([question], SPEC, user="fake:say:Answer: B", assistant="fake:echo",
                          stopping_condition=lambda state: True)


# --- the store -----------------------------------------------------------------------------------

def test_a_question_run_and_a_scenario_run_share_a_store_and_resume(tmp_path: Path,
                                                                     question) -> None:
    out = tmp_path / "r.sqlite"
    with ResultStore(out) as store:
        [asked] = run_conversations([question], SPEC, user="fake:say:Answer: B",
                                    assistant="fake:echo", store=store, run_id="mc")
        judge = PromptModel(rules=[], default="PASS")
        first = run_scenarios([greeting()], SPEC, user="fake:say:Thanks [GOAL MET]",
                              assistant="fake:echo", judge=judge, replicates=3, store=store,
                              run_id="open")
        calls = judge.calls
        again = run_scenarios([greeting()], SPEC, user="fake:say:Thanks [GOAL MET]",
                              assistant="fake:echo", judge=judge, replicates=3, store=store,
                              run_id="open")
        assert judge.calls == calls  # resumed: nothing ran again
        assert [r.id for r in again] == [r.id for r in first]
        stored = {r.run_id: r for r in store.records()}  # one record per run id kept
        assert stored["mc"].task == "question" and stored["open"].task == "scenario"
        assert [c.passed for c in stored["open"].criteria] == [True]
        assert store.question("open", "greet") == greeting()
    dumped = asked.model_dump(mode="json")
    assert "task" not in dumped and "criteria" not in dumped  # question records as before


# --- the CLI and ablation grids ------------------------------------------------------------------

SCENARIO_FILE = """\
scenarios:
  - id: cancel
    description: You want to cancel order 1234. You are annoyed.
    criteria: [The assistant cancels order 1234.]
    opening_turns: [Cancel my order.]
  - id: refund
    description: You want a refund for a broken mug.
    criteria: [The assistant offers a refund.]
"""


def test_cli_runs_a_scenario_file(tmp_path: Path, monkeypatch, capsys) -> None:
    scenarios = tmp_path / "s.yaml"
    scenarios.write_text(SCENARIO_FILE)
    out = tmp_path / "r.sqlite"
    code, printed = cli(monkeypatch, capsys, "run", "--scenarios", str(scenarios), "--user",
                        "fake:say:ok [GOAL MET]", "--assistant", "fake:echo", "--judge",
                        "fake:say:PASS", "--replicates", "2", "--out", str(out))
    assert code == 0, printed
    assert "4 conversations" in printed and "success" in printed
    with ResultStore(out) as store:
        records = list(store.records())
    assert sorted({r.question_id for r in records}) == ["cancel", "refund"]
    assert all(r.success for r in records)
    cancel = next(r for r in records if r.question_id == "cancel")
    code, printed = cli(monkeypatch, capsys, "show", str(out), "--id", cancel.id)
    assert code == 0, printed
    assert "You want to cancel order 1234" in printed and "criterion 1." in printed
    assert "PASS" in printed and "points to" not in printed and "correct answer" not in printed

    code, printed = cli(monkeypatch, capsys, "run", "--scenarios", str(scenarios), "--user",
                        "fake:say:ok", "--assistant", "fake:echo", "--out", str(out))
    assert code == 2 and "judge" in printed
    code, printed = cli(monkeypatch, capsys, "run", "--scenarios", str(scenarios),
                        "--questions", "mmlu_redux", "--judge", "fake:echo")
    assert code == 2 and "scenarios or questions" in printed


def test_limit_takes_the_first_scenarios_and_defaults_to_all(tmp_path: Path) -> None:
    from chatbench.config import RunConfig
    from chatbench.runner.plan import load_tasks

    scenarios = tmp_path / "s.yaml"
    scenarios.write_text(SCENARIO_FILE)
    assert [t.id for t in load_tasks(RunConfig(scenarios=str(scenarios)))] == [
        "cancel", "refund"]
    assert [t.id for t in load_tasks(RunConfig(scenarios=str(scenarios), limit=1))] == [
        "cancel"]
    assert len(load_tasks(RunConfig())) == 5  # questions keep their default of 5


def test_an_ablation_grid_runs_scenarios(tmp_path: Path, monkeypatch, capsys) -> None:
    scenarios = tmp_path / "s.yaml"
    scenarios.write_text(SCENARIO_FILE)
    out = tmp_path / "a.sqlite"
    code, printed = cli(monkeypatch, capsys, "ablate", "persona", "--scenarios",
                        str(scenarios), "--user", "fake:say:ok [GOAL MET]", "--assistant",
                        "fake:echo", "--judge", "fake:say:PASS", "--out", str(out))
    assert code == 0, printed
    assert "x 2 scenarios x" in printed
    with ResultStore(out) as store:
        records = list(store.records())
    personas = {r.factors["persona"] for r in records}
    assert len(personas) > 1 and len(records) == 2 * len(personas)
    assert {r.stop_reason for r in records} == {StopReason.GOAL_MET}


def test_a_persona_reaches_the_scenario_prompt() -> None:
    user = PromptModel(rules=[], default="ok [GOAL MET]")
    user_seen: list[str] = []

    class Watching(PromptModel):
        def _generate(self, messages: list[BaseMessage], *args: Any, **kw: Any) -> ChatResult:
            user_seen.append("\n".join(str(m.content) for m in messages))
            return super()._generate(messages, *args, **kw)

    watching = Watching(rules=user.rules, default=user.default)
    run_scenarios([greeting(persona="You type in capitals.")],
                  SPEC.model_copy(update={"persona": "skeptical"}), user=watching,
                  assistant="fake:echo", judge="fake:say:PASS")
    assert "You type in capitals." in user_seen[0] and "friendly greeting" in user_seen[0]
    assert "You do not trust the AI" in user_seen[0]  # the variant's persona, as for questions
    assert "[GOAL MET]" in user_seen[0] and "[GIVE UP]" in user_seen[0]


# --- executors -----------------------------------------------------------------------------------

def two_messages(state: dict[str, Any]) -> bool:
    """A stopping condition a worker process can unpickle (module level)."""
    return len(state["messages"]) >= 2


@pytest.mark.slow  # starts worker processes
def test_scenarios_run_in_worker_processes_with_a_stopping_condition() -> None:
    scenarios = [greeting(id=f"s{i}") for i in range(3)]
    records = run_scenarios(scenarios, SPEC, user="fake:say:hi", assistant="fake:echo",
                            judge="fake:say:PASS", executor="process", processes=2,
                            stopping_condition=two_messages)
    assert [(r.question_id, r.stop_reason, r.success) for r in records] == [
        (f"s{i}", StopReason.STOPPED, True) for i in range(3)]
    with pytest.raises(ConfigError, match="stopping condition must be picklable"):
        run_scenarios(scenarios, SPEC, user="fake:say:hi", assistant="fake:echo",
                      judge="fake:say:PASS", executor="process", processes=2,
                      stopping_condition=lambda state: True)


# --- the judge's room for a reason ---------------------------------------------------------------

class KwargsModel(PromptModel):
    """Records each call's keyword arguments (the settings ``invoke_chat`` passes)."""

    seen: list[dict[str, Any]] = []

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kw: Any) -> ChatResult:
        self.seen.append(kw)
        return super()._generate(messages, stop, run_manager, **kw)


def test_criteria_and_rubrics_get_room_for_their_reason(question) -> None:
    """GraphSpec's judge default of 16 tokens reads a letter; a JSON reply with its reason
    first would be cut before its verdict or score, so judgements get at least 256."""
    assert GraphSpec().judge.max_tokens == 16
    judge = KwargsModel(rules=[], default='{"reason": "fine", "passed": true, "score": 4}',
                        seen=[])
    spec = SPEC.model_copy(update={"rubrics": ("coherence",)})
    [record] = run_scenarios([greeting()], spec, user="fake:say:Bye [GOAL MET]",
                             assistant="fake:echo", judge=judge)
    assert record.criteria[0].passed is True and record.judgements["coherence"].score == 4
    assert len(judge.seen) == 2 and all(kw["max_tokens"] >= 256 for kw in judge.seen)
    judge.seen.clear()
    [asked] = run_conversations([question], spec, user="fake:say:Answer: B",
                                assistant="fake:echo", judge=judge)
    assert asked.judgements["coherence"].score == 4
    assert len(judge.seen) == 1 and judge.seen[0]["max_tokens"] >= 256


@pytest.mark.parametrize(("reply", "passed"), [
    ('{"reason": "asked first", "passed": true}', True),
    ('Sure: {"passed": "fail", "reason": "never asked"}', False),
    ("PASS. It asked.", True),
    ("**FAIL**", False),
    ("The conversation (as shown) meets the criterion of asking for the email.", True),
    ("The conversation does not meet the criterion.", False),
    ("It meets the criterion, or rather it doesn't meet the criterion.", None),
    ("The conversation (the assistant's tool calls and their results", None),  # cut, no verdict
])
def test_a_judge_reply_is_read_as_its_verdict_or_left_undecided(reply: str,
                                                                passed: bool | None) -> None:
    [record] = run_scenarios([greeting()], SPEC, user="fake:say:Bye [GOAL MET]",
                             assistant="fake:echo", judge=PromptModel(rules=[], default=reply))
    assert record.criteria[0].passed is passed and record.criteria[0].raw == reply
