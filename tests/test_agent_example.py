"""``examples/agent_with_tools.py`` in its fake mode: offline, in seconds."""

from __future__ import annotations

from chatbench import ResultStore, StopReason


def test_the_agent_example_compares_the_agent_with_the_bare_model(tmp_path, capsys):
    from examples import agent_with_tools as example

    out = example.main(["--fake", "--out", str(tmp_path / "agent.sqlite")])
    with ResultStore(out, read_only=True) as store:
        records = list(store.records())
    assert len(records) == 8 and all(r.stop_reason is StopReason.ACCEPTED for r in records)
    assert {r.subject for r in records} <= set(example.MATH)
    by_model: dict[str, list] = {}
    for record in records:
        by_model.setdefault(record.models["assistant"], []).append(record)
    agent = by_model.pop("app:examples.agent_with_tools:fake_agent")
    (bare,) = by_model.values()
    for record in agent:
        steps = record.transcript[1].steps
        assert steps[0]["tool_calls"][0]["name"] == "calculate"
        assert steps[1] == {**steps[1], "type": "tool", "content": "99000"}
        assert record.transcript[1].content == "The calculator gives 99000. Answer: D"
    assert all(t.steps == [] for record in bare for t in record.transcript)
    summary = example.summary(out, records[0].run_id).set_index("variant")
    assert summary.loc["agent", "tool_calls"] == 1.0 and summary.loc["bare", "tool_calls"] == 0
    assert summary.loc["agent", "tokens_in"] > summary.loc["bare", "tokens_in"]
    assert "Per conversation" in capsys.readouterr().out


def test_the_prompt_loop_parses_a_calculate_call():
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.messages import HumanMessage

    from examples import agent_with_tools as example

    model = FakeListChatModel(responses=["Let me see. calculate(2 * (3 + 4)) and more",
                                         "It is 14."])
    agent = example.build_agent(model)
    messages = agent.invoke({"messages": [HumanMessage("What is 2*(3+4)?")]})["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls[0]["args"] == {"expression": "2 * (3 + 4)"}
    assert messages[2].text == "14" and messages[3].text == "It is 14."
