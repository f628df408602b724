"""openevals-style evaluators as rubrics (``register_evaluator``): scored by the judge node
beside chatbench's own rubrics, with no judge model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda

from chatbench import GraphSpec, SimContext, build_graph, initial_state
from chatbench.errors import ConfigError
from chatbench.models.registry import get_chat_model
from chatbench.runner.build import build_models
from chatbench.scoring.judges import evaluator_judgement, run_evaluator
from chatbench.scoring.rubrics import (
    RUBRICS,
    get_evaluator,
    needs_judge_model,
    register_evaluator,
)

SPEC = dict(simulator="two_step", accept="natural", view="chat", max_turns=1)


def _register(names: list[str], name: str, evaluator: Any, **kwargs: Any) -> str:
    register_evaluator(name, evaluator, **kwargs)
    names.append(name)
    return name


def _conversation(question: Any, spec: GraphSpec, judge: Any = None) -> dict[str, Any]:
    ctx = SimContext(user=get_chat_model("fake:say:Answer: B"), judge=judge,
                     assistant=get_chat_model("fake:echo"), seed=0)
    return build_graph(spec).invoke(initial_state(question), context=ctx)


def test_a_plain_evaluator_is_scored_without_a_judge_model(question, registered):
    seen: dict[str, Any] = {}

    def mentions_56(*, inputs: Any, outputs: Any, reference_outputs: Any = None,
                    **kwargs: Any) -> dict[str, Any]:
        seen.update(inputs=inputs, outputs=outputs, reference_outputs=reference_outputs)
        said = any("56" in m["content"] for m in outputs)
        return {"key": "mentions_56", "score": said, "comment": "looked for 56"}

    name = _register(registered, "mentions_56", mentions_56)
    spec = GraphSpec(rubrics=(name,), **SPEC)
    assert not needs_judge_model(spec.rubrics) and name in RUBRICS
    build_models(spec, "fake:user", "fake:echo")  # no --judge demanded
    out = _conversation(question, spec)
    judgement = out["judgements"][name]
    assert (judgement.score, judgement.reason) == (0, "looked for 56")  # False -> 0
    assert seen["inputs"] == question.format() and seen["reference_outputs"] == "B"
    assert seen["outputs"] == [{"role": "user", "content": "Answer: B"}]
    assert any(t["node"] == f"judge:{name}" for t in out["timings"])


def test_evaluators_and_judge_rubrics_are_scored_together(question, registered):
    name = _register(registered, "always", lambda **kw: {"key": "k", "score": 0.25})
    spec = GraphSpec(rubrics=("coherence", name), **SPEC)
    assert needs_judge_model(spec.rubrics)
    with pytest.raises(ConfigError, match="give a judge model"):
        build_models(spec, "fake:user", "fake:echo")
    out = _conversation(question, spec, get_chat_model('fake:say:{"score": 5, "reason": "ok"}'))
    assert out["judgements"]["coherence"].score == 5
    assert out["judgements"][name].score == 0.25


def test_a_list_of_results_is_one_judgement_per_key(question, registered):
    def two(**kwargs: Any) -> list[dict[str, Any]]:
        return [{"key": "a", "score": True, "comment": None}, {"key": "b", "score": 3}]

    name = _register(registered, "two", two)
    judgements = run_evaluator(name, get_evaluator(name), question, [], None)
    assert {key: j.score for key, j in judgements.items()} == {"two:a": 1, "two:b": 3}


@pytest.mark.parametrize(("result", "score"), [
    ({"score": True}, 1), ({"score": False}, 0), ({"score": 0.5}, 0.5), ({"score": 4}, 4),
    ({"score": float("nan")}, None), ({"score": "good"}, None), ({"comment": "x"}, None),
    ("not a dict", None),
])
def test_scores_are_kept_as_numbers_or_missing(result, score):
    judgement = evaluator_judgement(result)
    assert judgement.score == score and type(judgement.score) is type(score)
    assert judgement.raw


def test_registration_refuses_what_it_cannot_tell_apart(registered):
    with pytest.raises(ValueError, match="already registered"):
        register_evaluator("coherence", lambda **kw: {})
    with pytest.raises(ValueError, match="must be callable"):
        register_evaluator("nothing", None)  # type: ignore[arg-type]  # checking it is refused
    assert get_evaluator("coherence") is None


# --- openevals itself, where installed ------------------------------------------------------


def test_openevals_exact_match_on_the_final_answer(question, registered):
    exact = pytest.importorskip("openevals.exact")
    name = _register(registered, "exact", exact.exact_match, outputs="answer")
    out = _conversation(question, GraphSpec(rubrics=(name,), **SPEC))
    assert out["final_choice"] == "B" == question.answer
    assert out["judgements"][name].score == 1


class StructuredFake(FakeListChatModel):
    """A fake judge that answers openevals' structured-output call with a fixed verdict."""

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        return RunnableLambda(lambda messages: {"reasoning": "it answered", "score": True})


def test_openevals_llm_as_judge_on_a_fake_model(question, registered):
    llm = pytest.importorskip("openevals.llm")
    evaluator = llm.create_llm_as_judge(
        prompt="Question: {inputs}\nConversation: {outputs}\nCorrect: {reference_outputs}\n"
               "Did the user answer correctly?",
        judge=StructuredFake(responses=[""]), feedback_key="correct",
    )
    name = _register(registered, "llm_correct", evaluator)
    out = _conversation(question, GraphSpec(rubrics=(name,), **SPEC))
    judgement = out["judgements"][name]
    assert (judgement.score, judgement.reason) == (1, "it answered")
