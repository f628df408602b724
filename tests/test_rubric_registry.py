"""The rubric registry (``scoring.rubrics``, re-exported by ``scoring.judges``), and
``GraphSpec.rubrics`` checked against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from chatbench import ConfigError, GraphSpec, get_chat_model, load_questions, run_conversations
from chatbench.config import RoleSettings, load_graph_spec
from chatbench.graphs import build_graph
from chatbench.graphs.builder import graph_spec
from chatbench.scoring import rubrics
from chatbench.scoring.judges import RUBRICS, get_rubric, judge_rubric, register_rubric

CONCISION = "CONCISION RUBRIC: how short and to the point are the AI's replies?"


@pytest.fixture
def concision() -> Iterator[str]:
    """A rubric registered for one test, then removed so that no other test sees it."""
    register_rubric("concision", CONCISION)
    yield "concision"
    rubrics._RUBRICS.pop("concision", None)


def test_a_registered_rubric_makes_a_valid_spec_and_the_judge_reads_its_text(concision):
    spec = GraphSpec(rubrics=("coherence", concision))
    assert spec.rubrics == ("coherence", "concision")
    assert RUBRICS[concision] == CONCISION == get_rubric(concision)
    question = load_questions(limit=1)[0]
    messages = [HumanMessage(content="7x8?"), AIMessage(content="56")]
    # fake:echo replies with the prompt it was sent: the judge was shown the rubric's text
    judgement, _ = judge_rubric(get_chat_model("fake:echo"), concision, question, messages,
                                RoleSettings())
    assert CONCISION in judgement.raw
    assert "USER: 7x8?" in judgement.raw


def test_a_registered_rubric_is_scored_end_to_end(concision):
    spec = GraphSpec(rubrics=(concision,))
    (record,) = run_conversations(
        load_questions(limit=1), spec, user="fake:say:Answer: B", assistant="fake:echo",
        judge='fake:say:{"score": 4, "reason": "short"}',
    )
    assert record.error is None
    assert record.judgements[concision].score == 4
    assert record.judgements[concision].reason == "short"


def test_an_unknown_rubric_is_refused_naming_the_field_and_the_known_ones():
    spec = GraphSpec(rubrics=("coherence", "concisness"))  # a spec is data: names unchecked
    for run in (lambda: build_graph(spec),
                lambda: run_conversations(load_questions(limit=1), spec, user="fake:user",
                                          assistant="fake:echo", judge="fake:echo")):
        with pytest.raises(ConfigError) as caught:
            run()
        assert ("graph spec 'two_step': field 'rubrics.1': unknown rubric 'concisness'; "
                "known: coherence, satisfaction") in str(caught.value)


def test_a_rubric_registered_after_the_spec_was_made_counts():
    spec = GraphSpec(rubrics=("coherence", "brevity"))
    with pytest.raises(ConfigError, match="unknown rubric 'brevity'"):
        build_graph(spec)
    register_rubric("brevity", CONCISION)
    try:
        assert build_graph(spec) is not None
    finally:
        rubrics._RUBRICS.pop("brevity", None)


def test_an_unknown_rubric_in_yaml_is_a_config_error_naming_the_file_and_field(tmp_path):
    path = tmp_path / "graph.yaml"
    path.write_text("rubrics: [coherence, tone]\n", encoding="utf-8")
    assert load_graph_spec(path).rubrics == ("coherence", "tone")  # loaded as data
    with pytest.raises(ConfigError, match=r"graph.yaml: field 'rubrics.1': unknown rubric "
                                          r"'tone'; known: coherence, satisfaction"):
        graph_spec(path)


def test_the_shipped_rubrics_stay_valid():
    assert GraphSpec(rubrics=("coherence", "satisfaction")).rubrics == ("coherence",
                                                                         "satisfaction")


def test_a_duplicate_rubric_name_raises_and_keeps_the_first_text(concision):
    with pytest.raises(ValueError, match="already registered"):
        register_rubric(concision, "another text")
    with pytest.raises(ValueError, match="already registered"):
        register_rubric("coherence", "another text")
    assert RUBRICS[concision] == CONCISION


@pytest.mark.parametrize(("name", "text", "match"), [
    ("user_satisfaction", "How satisfied?", "simulator's own satisfaction"),
    ("", "How satisfied?", "needs a name and a text"),
    ("tone", "  ", "needs a name and a text"),
])
def test_a_rubric_that_cannot_be_told_apart_is_refused(name, text, match):
    with pytest.raises(ValueError, match=match):
        register_rubric(name, text)
    assert name not in RUBRICS


def test_the_registry_is_read_only_except_through_register_rubric():
    with pytest.raises(TypeError):
        RUBRICS["tone"] = "How friendly?"  # type: ignore[index]  # checking it is refused
    with pytest.raises(ConfigError, match="unknown rubric 'tone'"):
        get_rubric("tone")


def test_a_worker_process_without_the_rubric_refuses_rather_than_skipping_it(concision):
    """A rubric registered only in the planning process is unknown in a fresh worker: the
    run stops with a clear error instead of storing conversations without the score."""
    spec = GraphSpec(rubrics=(concision,))
    with pytest.raises(ConfigError, match="concision.*in this worker process"):
        run_conversations(load_questions(limit=1), spec, user="fake:say:Answer: B",
                          assistant="fake:echo", judge="fake:echo", executor="process",
                          processes=1)


def test_an_unknown_simulator_is_refused_where_the_run_is_planned(tmp_path):
    spec = GraphSpec(name="mine", simulator="two_stepp")
    with pytest.raises(ConfigError, match=r"graph spec 'mine': field 'simulator': unknown "
                                          r"simulator 'two_stepp'; known: .*two_step"):
        run_conversations(load_questions(limit=1), spec, user="fake:user", assistant="fake:echo")
    path = tmp_path / "g.yaml"
    path.write_text("simulator: two_stepp\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"g.yaml: field 'simulator': unknown simulator"):
        graph_spec(path)
