"""``chatbench.testing``: ``run_scenario``, ``ScenarioResult`` and the replay cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from chatbench import ConfigError, ResultStore, StopReason
from chatbench.data.scenario import Scenario
from chatbench.testing import (
    REPLAY_ENV,
    ReplayChatModel,
    ScenarioResult,
    resolve_scenario,
    run_scenario,
    scenario_spec,
)

GREETING = Scenario(id="greet", description="You want a friendly greeting.",
                    criteria=["The assistant greets the user.", "The assistant is polite."],
                    opening_turns=["Hello?"])


class Scripted(BaseChatModel):
    """Replies its ``replies`` in turn, counting calls; ``broken`` makes every call raise.
    Its identity (class name, no parameters) is the same whatever its replies or state, as a
    model string's is when its API is not reachable."""

    replies: list[str] = []
    broken: bool = False
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        if self.broken:
            raise RuntimeError("model called")  # not transient: no retries, no waits
        reply = self.replies[self.calls % len(self.replies)]
        self.calls += 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def _user() -> Scripted:
    return Scripted(replies=["Thanks, that is nice. [GOAL MET]"])


def _judge() -> Scripted:
    return Scripted(replies=['{"reason": "it does", "passed": true}'])


def test_a_passing_scenario_explains_itself():
    result = run_scenario(GREETING, assistant="fake:say:Hi there, nice to meet you!",
                          user=_user(), judge=_judge(), cache=False)
    assert isinstance(result, ScenarioResult)
    assert result.success and result.stop_reason is StopReason.GOAL_MET
    assert [c.passed for c in result.criteria] == [True, True]
    assert [(t.role, t.content) for t in result.transcript] == [
        ("user", "Hello?"), ("assistant", "Hi there, nice to meet you!"),
        ("user", "Thanks, that is nice.")]
    text = result.explain()
    assert text.splitlines()[0] == "scenario 'greet': PASSED (goal_met after 2 user turns)"
    assert "  PASS      The assistant greets the user." in text
    assert "because: it does" in text
    assert "  assistant: Hi there, nice to meet you!" in text
    assert result.record.task == "scenario" and result.record.question_id == "greet"


def test_failed_and_undecided_criteria_are_named_in_the_explanation():
    judge = GenericFakeChatModel(messages=iter(['{"reason": "no greeting", "passed": false}',
                                                "hmm, hard to say"]))
    result = run_scenario(GREETING, assistant="fake:say:What?", user=_user(), judge=judge,
                          cache=False)
    assert not result.success
    lines = result.explain().splitlines()
    assert lines[0].startswith("scenario 'greet': FAILED")
    assert "  FAIL      The assistant greets the user." in lines
    assert "            because: no greeting" in lines
    assert "  UNDECIDED The assistant is polite." in lines
    assert "            because: hmm, hard to say" in lines


def test_a_failed_run_is_a_result_with_its_error_not_an_exception():
    result = run_scenario(GREETING, assistant=Scripted(broken=True), user=_user(), judge=_judge(),
                          cache=False)
    assert not result.success and result.stop_reason is StopReason.ERROR
    assert "error: " in result.explain() and "(none judged)" in result.explain()


def test_the_judge_defaults_to_the_user_model():
    user = GenericFakeChatModel(messages=iter(["Thanks [GOAL MET]", "PASS", "FAIL"]))
    result = run_scenario(GREETING, assistant="fake:echo", user=user, cache=False)
    assert [c.passed for c in result.criteria] == [True, False]
    assert result.record.models["judge"] == result.record.models["user"]


def test_the_default_spec_leaves_room_for_a_scenario():
    spec = scenario_spec()
    assert spec.view == "chat" and spec.max_turns == 6
    assert spec.judge.max_tokens == 160 and spec.user.max_tokens == 96
    result = run_scenario(GREETING, assistant="fake:echo", user=_user(), judge=_judge(),
                          cache=False)
    assert result.record.variant == "scenario_test"


def test_a_scenario_may_be_a_dict_or_a_file_and_an_id(tmp_path):
    data = {"id": "greet", "description": "You want a greeting.", "criteria": ["It greets."]}
    assert resolve_scenario(data).id == "greet"
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(data) + "\n" + json.dumps({**data, "id": "other"}) + "\n")
    assert resolve_scenario(path, "other").id == "other"
    with pytest.raises(ConfigError, match="holds 2 scenarios; name one"):
        resolve_scenario(path)
    with pytest.raises(ConfigError, match="no scenario 'nope' in"):
        resolve_scenario(path, "nope")
    with pytest.raises(ConfigError, match="field 'criteria'"):
        resolve_scenario({"id": "x", "description": "d"})
    with pytest.raises(ConfigError, match="argument 'scenario': expected a Scenario"):
        resolve_scenario(42)  # type: ignore[arg-type]  # the wrong type on purpose


def test_bad_cache_arguments_are_one_line_errors(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        run_scenario(GREETING, assistant="fake:echo", user=_user(), cache=afile)
    with pytest.raises(ConfigError, match="argument 'cache'"):
        run_scenario(GREETING, assistant="fake:echo", user=_user(), cache=True)
    with pytest.raises(ConfigError, match="argument 'cached_roles': unknown roles"):
        run_scenario(GREETING, assistant="fake:echo", user=_user(), cache=tmp_path / "r",
                     cached_roles=("users",))


# --- the replay cache ------------------------------------------------------------------------


def _play(scenario: Scenario, user: BaseChatModel, judge: BaseChatModel, cache: Any,
          **options: Any) -> ScenarioResult:
    return run_scenario(scenario, assistant="fake:say:Hello! How can I help?", user=user,
                        judge=judge, cache=cache, **options)


def test_a_rerun_with_the_cache_calls_no_model_and_gives_the_same_result(tmp_path):
    first = _play(GREETING, _user(), _judge(), tmp_path)
    assert first.success
    assert len(list(tmp_path.glob("*.json"))) == 3  # one user turn, two criteria
    broken_user, broken_judge = Scripted(broken=True), Scripted(broken=True)
    again = _play(GREETING, broken_user, broken_judge, tmp_path)
    assert again.record.error is None, again.explain()
    assert again.success and again.criteria == first.criteria
    assert again.transcript == first.transcript
    assert again.record.run_id == first.record.run_id  # names and identities unchanged
    assert again.record.models == first.record.models


def test_without_the_cache_the_broken_models_fail():
    result = _play(GREETING, Scripted(broken=True), Scripted(broken=True), False)
    assert result.stop_reason is StopReason.ERROR  # what the replay test above rules out


def test_a_changed_scenario_misses_the_cache(tmp_path):
    _play(GREETING, _user(), _judge(), tmp_path)
    changed = GREETING.model_copy(update={"description": "You want a cheerful greeting."})
    user, judge = _user(), _judge()
    result = _play(changed, user, judge, tmp_path)
    assert user.calls == 1 and judge.calls == 2
    assert result.success
    assert len(list(tmp_path.glob("*.json"))) == 6


def test_another_seed_or_model_misses_the_cache(tmp_path):
    _play(GREETING, _user(), _judge(), tmp_path)
    user, judge = _user(), _judge()
    _play(GREETING, user, judge, tmp_path, seed=1)
    assert user.calls == 1 and judge.calls == 2
    other_user = GenericFakeChatModel(messages=iter(["Thanks, that is nice. [GOAL MET]"]))
    judge = _judge()
    _play(GREETING, other_user, judge, tmp_path)
    assert judge.calls == 0  # the judge sees the same transcript: its calls replay


def test_the_cache_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(REPLAY_ENV, str(tmp_path / "from-env"))
    _play(GREETING, _user(), _judge(), None)
    assert len(list((tmp_path / "from-env").glob("*.json"))) == 3
    broken = _play(GREETING, Scripted(broken=True), Scripted(broken=True), None)
    assert broken.success
    off = _play(GREETING, Scripted(broken=True), Scripted(broken=True), False)
    assert off.stop_reason is StopReason.ERROR


def test_a_cached_app_assistant_replays_with_its_steps(tmp_path):
    from langchain_core.messages import ToolMessage

    calls = []

    def app(messages: list[BaseMessage]) -> list[BaseMessage]:
        calls.append(len(messages))
        call = {"name": "greet", "args": {"who": "you"}, "id": "c1"}
        return [*messages, AIMessage(content="", tool_calls=[call]),
                ToolMessage("hello, you", tool_call_id="c1", name="greet"),
                AIMessage(content="Hello, you!")]

    roles = ("user", "judge", "assistant")
    first = run_scenario(GREETING, assistant=app, user=_user(), judge=_judge(), cache=tmp_path,
                         cached_roles=roles)
    assert len(calls) == 1 and first.transcript[1].steps[0]["tool_calls"][0]["name"] == "greet"

    def broken_app(messages: list[BaseMessage]) -> list[BaseMessage]:
        raise ConnectionError("app called")

    broken_app.__qualname__ = app.__qualname__  # the same app name, as after an edit
    broken_app.__name__ = app.__name__
    again = run_scenario(GREETING, assistant=broken_app, user=Scripted(broken=True),
                         judge=Scripted(broken=True), cache=tmp_path, cached_roles=roles)
    assert again.record.error is None, again.explain()
    assert again.transcript == first.transcript  # steps included
    assert again.transcript[1].steps[1]["content"] == "hello, you"


def test_an_app_is_not_cached_by_default(tmp_path):
    calls = []

    def app(messages: list[BaseMessage]) -> str:
        calls.append(1)
        return "Hello!"

    for _ in range(2):
        run_scenario(GREETING, assistant=app, user=_user(), judge=_judge(), cache=tmp_path)
    assert len(calls) == 2


def test_the_key_ignores_message_ids_and_reads_settings_and_seed(tmp_path):
    model = ReplayChatModel(model=_user(), folder=str(tmp_path), role="user", identity="m")
    one = model.key([HumanMessage("hi", id="a")], None, {"seed": 1, "temperature": 1.0})
    assert one == model.key([HumanMessage("hi", id="b")], None,
                            {"temperature": 1.0, "seed": 1})
    assert one != model.key([HumanMessage("hi")], None, {"seed": 2, "temperature": 1.0})
    assert one != model.key([HumanMessage("hi")], None, {"seed": 1, "temperature": 0.5})
    assert one != model.key([HumanMessage("hi!")], None, {"seed": 1, "temperature": 1.0})
    assert one != model.key([AIMessage("hi")], None, {"seed": 1, "temperature": 1.0})
    judge = model.model_copy(update={"role": "judge"})
    assert one != judge.key([HumanMessage("hi")], None, {"seed": 1, "temperature": 1.0})


def test_the_seed_reaches_a_model_that_takes_one(tmp_path):
    seen = []

    class Seeded(Scripted):
        takes_call_seed: ClassVar[bool] = True

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                      **kwargs: Any) -> ChatResult:
            seen.append(kwargs.get("seed"))
            return super()._generate(messages, stop, run_manager)

    model = ReplayChatModel(model=Seeded(replies=["x"]), folder=str(tmp_path), role="user",
                            identity="seeded")
    assert model.invoke("hi", seed=7).content == "x"
    assert seen == [7]


def test_an_unreadable_cache_file_is_named(tmp_path):
    model = ReplayChatModel(model=_user(), folder=str(tmp_path), role="user", identity="m")
    model.invoke("hi")
    (entry,) = tmp_path.glob("*.json")
    entry.write_text("{not json")
    with pytest.raises(ConfigError, match=f"replay cache file {entry}: unreadable"):
        model.invoke("hi")


def test_a_stored_record_is_the_one_returned(tmp_path):
    with ResultStore(tmp_path / "runs.sqlite") as store:
        result = _play(GREETING, _user(), _judge(), False, store=store)
        (stored,) = store.records()
    assert stored.id == result.record.id and stored.criteria == result.criteria


def test_chatbench_testing_is_a_lazy_name_of_the_package():
    code = ("import sys, chatbench\n"
            "assert 'chatbench.testing' not in sys.modules\n"
            "print(chatbench.testing.run_scenario.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "run_scenario"
