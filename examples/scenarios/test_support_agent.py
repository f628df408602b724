"""Scenario tests of the support agent, as a project would write them (``pytest
examples/scenarios``): each plays a scenario of ``support.yaml`` with
``chatbench.testing.run_scenario`` and asserts success, ``explain()`` saying why not.

Here every model is a fake (deterministic, offline, seconds). With real models, the user
becomes e.g. ``user="openai:gpt-4o-mini"`` and the agent gets a real chat model
(``build_support_agent(init_chat_model(...))``); set ``CHATBENCH_REPLAY=.chatbench-replay``
(a folder kept in CI's cache) and reruns replay the user's and the judge's replies instead of
calling them again, as ``test_a_rerun_replays_the_user_and_the_judge`` shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from support_agent import (
    SCRIPTED_USERS,
    ScriptedJudge,
    ScriptedSupportModel,
    build_support_agent,
)

from chatbench.testing import run_scenario

SCENARIOS = Path(__file__).with_name("support.yaml")


def scripted_user(scenario_id: str) -> GenericFakeChatModel:
    """A user that says the scenario's scripted turns, one per call (one too many fails)."""
    return GenericFakeChatModel(messages=iter(SCRIPTED_USERS[scenario_id]))


@pytest.mark.parametrize("scenario_id", sorted(SCRIPTED_USERS))
def test_the_agent_meets_every_support_scenario(scenario_id: str) -> None:
    result = run_scenario(SCENARIOS, scenario_id=scenario_id,
                          assistant=build_support_agent(ScriptedSupportModel()),
                          user=scripted_user(scenario_id), judge=ScriptedJudge(), cache=False)
    assert result.success, result.explain()


def test_an_agent_without_tools_fails_the_cancel_scenario() -> None:
    class NoTools(ScriptedSupportModel):
        def bind_tools(self, tools, **kwargs):  # type: ignore[no-untyped-def, override]
            return self  # never bound: it only apologises

    result = run_scenario(SCENARIOS, scenario_id="where-is-5678",
                          assistant=build_support_agent(NoTools()),
                          user=GenericFakeChatModel(messages=iter(["Hello? [GIVE UP]"])),
                          judge=ScriptedJudge(), cache=False)
    assert not result.success
    assert result.criteria[0].passed is False, result.explain()


def test_a_rerun_replays_the_user_and_the_judge(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    replay = tmp_path / "replay"

    def play() -> object:
        return run_scenario(SCENARIOS, scenario_id="cancel-1234-annoyed",
                            assistant=build_support_agent(ScriptedSupportModel()),
                            user=scripted_user("cancel-1234-annoyed"), judge=ScriptedJudge(),
                            cache=replay)

    first = play()
    # CI's next run of the same test: the same models, which now fail if called (no API
    # key, no network); the user's and the judge's replies come from the replay folder
    monkeypatch.setitem(SCRIPTED_USERS, "cancel-1234-annoyed", [])  # nothing left to say
    monkeypatch.setattr(ScriptedJudge, "_generate", _unreachable)
    again = play()
    assert first.success and again.success, again.explain()
    # the agent ran again (it is not cached): the same turns, its tool calls with new ids
    assert [(t.role, t.content) for t in again.transcript] == [
        (t.role, t.content) for t in first.transcript]
    assert again.criteria == first.criteria


def _unreachable(*args: object, **kwargs: object) -> None:
    raise ConnectionError("the judge was called: the replay cache missed")
