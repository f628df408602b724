"""Run wiring: evaluator rubrics need no judge model, records name unseeded roles, and a
langchain-huggingface pipeline plays the causal-LM simulator."""

from __future__ import annotations

import pytest

from chatbench import GraphSpec, load_questions, run_conversations
from chatbench.config import RoleSettings
from chatbench.scoring import rubrics
from chatbench.scoring.rubrics import register_evaluator
from tests.conftest import ScriptedChatModel

SPEC = dict(simulator="two_step", accept="natural", view="chat", max_turns=1)


def test_a_run_whose_rubrics_are_all_evaluators_needs_no_judge():
    register_evaluator("answered_b", lambda *, outputs, **kw: {"score": outputs == "B"},
                       outputs="answer")
    try:
        (record,) = run_conversations(load_questions(limit=1), GraphSpec(rubrics=("answered_b",),
                                      **SPEC), user="fake:say:Answer: B", assistant="fake:echo")
    finally:
        rubrics._RUBRICS.pop("answered_b", None)
        rubrics._EVALUATORS.pop("answered_b", None)
    assert record.error is None and record.models["judge"] == "rules"
    assert record.judgements["answered_b"].score == 1


def test_records_name_the_roles_that_could_not_be_seeded():
    spec = GraphSpec(**SPEC)
    (seeded,) = run_conversations(load_questions(limit=1), spec, user="fake:user",
                                  assistant="fake:echo")
    assert seeded.unseeded_roles == []
    (unseeded,) = run_conversations(load_questions(limit=1), spec, user="fake:user",
                                    assistant=ScriptedChatModel(replies=["It is B."] * 3))
    assert unseeded.unseeded_roles == ["assistant"]


def test_a_pipeline_plays_the_causal_lm_simulator():
    pytest.importorskip("torch")
    from tests.test_hf_langchain import HuggingFacePipeline, _tiny_pipeline

    pipe = _tiny_pipeline()
    spec = GraphSpec(simulator="causal_lm", max_turns=1, user=RoleSettings(max_tokens=16))
    (record,) = run_conversations(load_questions(limit=1), spec,
                                  user=HuggingFacePipeline(pipe), assistant="fake:echo", seed=0)
    assert record.error is None, record.error
    assert record.unseeded_roles == []
