"""The realism scorecard: behaviours on hand-made sessions with known values, answer agreement,
reference rows, first prompts that are the conversations' openings (CoT included), the
pipeline (stored, resumed, failures counted), and ``chatbench fidelity``."""

from __future__ import annotations

import hashlib
import json
import math
from importlib.util import find_spec
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from chatbench import ConfigError, GraphSpec, Question, run_conversations
from chatbench.config import load_graph_spec
from chatbench.data.human_data import HumanConversation, load_chatbench_conversations
from chatbench.records import SampleRecord
from chatbench.storage import ResultStore
from chatbench.training.agreement import answer_agreement
from chatbench.training.behaviours import (
    BEHAVIOUR_NAMES,
    BEHAVIOURS,
    Session,
    compare,
    compare_behaviours,
    copies_question,
    distinct_2,
    human_sessions,
    is_lower_case,
)
from chatbench.training.fidelity import first_prompts
from chatbench.training.references import human_ceiling, other_questions_floor
from chatbench.training.scorecard import ScorecardSimulator, evaluate_scorecard
from tests.conftest import FIXTURES, cli

needs_metrics = pytest.mark.skipif(
    find_spec("rouge_score") is None, reason="ROUGE needs the train extra (rouge-score)")
CONVERSATIONS = FIXTURES / "chatbench_conversations.json"
Q = Question(id="q1", subject="elementary_mathematics", stem="What is seven times eight?",
             choices=("54", "56", "58", "64"), answer="B")


def _session(*messages: str, replies: tuple[str, ...] = (), choice: str | None = None,
             question: Question = Q) -> Session:
    return Session(question, messages, replies, choice,
                   None if choice is None else choice == question.answer)


def _behaviour(name: str) -> Any:
    return next(b for b in BEHAVIOURS if b.name == name)


# --------------------------------------------------------------------------------------------
# behaviours on hand-made sessions
# --------------------------------------------------------------------------------------------


def test_each_behaviour_reads_known_values_from_a_session():
    s = _session("What is seven times eight? help", "ok thanks", "Is it 56?",
                 replies=("It is 56.", "Yes, the answer is B."), choice="B")
    values = {b.name: b.values(s) for b in BEHAVIOURS}
    assert values == {
        "first_message_words": [6.0],
        "question_copy": [1.0],
        "user_messages": [3.0],
        "later_message_words": [2.0, 3.0],
        "question_share": [1.0, 0.0, 1.0],
        "lowercase_share": [0.0, 1.0, 0.0],
        "follows_assistant": [1.0],
        "accuracy": [1.0],
    }


def test_sessions_without_messages_or_answers_give_no_values_where_undefined():
    silent = _session()
    assert _behaviour("first_message_words").values(silent) == []
    assert _behaviour("user_messages").values(silent) == [0.0]
    assert _behaviour("accuracy").values(silent) == []  # no answer: not scored
    no_letter = _session("hi", replies=("I can't say.",), choice="C")
    assert _behaviour("follows_assistant").values(no_letter) == []
    assert _behaviour("accuracy").values(no_letter) == [0.0]
    assert _behaviour("lowercase_share").values(_session("56 ?", "123")) == []  # no letters


def test_copy_lower_case_and_distinct_2_definitions():
    assert copies_question("what is seven times eight", Q.stem)
    assert not copies_question("7x8", Q.stem)
    assert not copies_question("what is seven", Q.stem)  # 1 of 3 trigrams
    assert copies_question("pH?", "pH")  # a stem under three words: all its words
    assert is_lower_case("whats 7x8") and not is_lower_case("Whats 7x8")
    assert not is_lower_case("7 * 8")
    assert distinct_2(["a b c", "a b d"]) == pytest.approx(3 / 4)
    assert math.isnan(distinct_2(["one"]))


def test_compare_gives_means_distances_and_cis():
    real = [_session("a b"), _session("a b c d")]
    same = compare(_behaviour("first_message_words"), real, real, bootstrap=200)
    assert same.real == same.simulated == 3.0 and same.distance == 0.0
    assert same.real_ci[0] <= 3.0 <= same.real_ci[1] and same.distance_ci[0] == 0.0
    longer = compare(_behaviour("first_message_words"), real, [_session("a b c d e f g")],
                     bootstrap=200)
    assert longer.distance == pytest.approx(((7 - 2) + (7 - 4)) / 2)  # W1 to a point mass
    share = compare(_behaviour("question_share"), [_session("why?", "ok")],
                    [_session("ok")], bootstrap=0)
    assert share.distance == pytest.approx(0.5) and math.isnan(share.distance_ci[0])
    empty = compare(_behaviour("later_message_words"), real, real, bootstrap=10)
    assert math.isnan(empty.distance) and empty.note


def test_real_sessions_of_the_chatbench_fixture():
    sessions = human_sessions(load_chatbench_conversations(CONVERSATIONS))
    results = compare_behaviours(sessions, sessions, bootstrap=50)
    assert list(results) == list(BEHAVIOUR_NAMES) and len(results) >= 9
    assert len(sessions) == 4  # the loader leaves out the conversation with no messages
    assert results["user_messages"].real == pytest.approx((2 + 1 + 1 + 2) / 4)
    assert results["accuracy"].real_n == 3  # the one with no answer is not scored
    assert results["accuracy"].real == pytest.approx(2 / 3)
    assert all(r.distance in (0.0,) or math.isnan(r.distance) for r in results.values())


# --------------------------------------------------------------------------------------------
# answer agreement and reference rows
# --------------------------------------------------------------------------------------------


def _sample(index: int, choice: str | None, error: str | None = None) -> SampleRecord:
    return SampleRecord(id=f"r/answer/q/{index}", run_id="r", kind="answer", question_id="q",
                        index=index, text=None if error else f"Answer: {choice}", choice=choice,
                        error=error)


def test_answer_agreement_counts_letters_failures_and_questions():
    humans = load_chatbench_conversations(CONVERSATIONS)
    # real final choices: B, C, C, None (conversation 3 has no answer: never asked)
    samples = [_sample(0, "B"), _sample(1, "B"), _sample(2, None), _sample(5, "A"),
               _sample(3, "A", "boom")]
    result = answer_agreement(humans, samples, bootstrap=100)
    assert (result.conversations, result.failed, result.answered) == (4, 1, 2)
    assert result.letter_agreement == pytest.approx(1 / 3)  # B=B, B!=C, none != C
    assert result.simulated_accuracy == 1.0  # both B answers on the B question are right
    assert result.questions == 1 and result.r is None and result.note
    assert result.per_question == {"elementary_mathematics-redux-12": (1.0, 0.5)}
    assert result.mae == pytest.approx(0.5)


@needs_metrics
def test_reference_rows_pair_people_as_documented():
    real = {"q1": ["a b c", "a b c"], "q2": ["x y z"]}
    ceiling = human_ceiling(real, bootstrap=0)
    assert ceiling.rouge1 == 1.0 and ceiling.questions == 1 and ceiling.pairs == 2
    floor = other_questions_floor(real, bootstrap=0)
    assert floor.rouge1 == 0.0 and floor.questions == 2


# --------------------------------------------------------------------------------------------
# first prompts are the conversations' openings, on variants whose opening calls the model
# --------------------------------------------------------------------------------------------


class SeededEcho(BaseChatModel):
    """Replies with a digest of its seed and its whole prompt: any difference in either (a
    CoT note, another seed) changes the reply."""

    seed: int | None = None
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "seeded-echo"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls += 1
        text = "".join(str(m.content) for m in messages) + f"|{self.seed}"
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return ChatResult(generations=[ChatGeneration(
            message=AIMessage(content=f"hmm what about {digest}?"))])


@pytest.mark.parametrize("spec", [
    load_graph_spec("quick"),
    load_graph_spec("two_step"),
    load_graph_spec("quick").model_copy(update={"user_cot": True, "name": "quick_cot"}),
    load_graph_spec("two_step").model_copy(update={"user_cot": True, "name": "two_step_cot"}),
], ids=lambda spec: spec.name)
def test_first_prompts_are_the_openings_of_the_conversations(spec):
    questions = [Q]
    prompts = first_prompts(spec, SeededEcho(), questions, samples=2, concurrency=1)
    records = run_conversations(questions, spec, user=SeededEcho(), assistant="fake:echo",
                                replicates=2)
    openings = [r.transcript[0].content for r in sorted(records, key=lambda r: r.replicate)]
    assert prompts["q1"] == openings
    assert openings[0] != openings[1]  # each replicate has its own seed


def test_openings_are_read_as_the_conversation_stores_them():
    two_step = load_graph_spec("two_step")  # the paper's cleaning drops the quotes
    prompts = first_prompts(two_step, 'fake:say:"Can you help?"', [Q], samples=1)
    record = run_conversations([Q], two_step, user='fake:say:"Can you help?"',
                               assistant="fake:echo")[0]
    assert prompts["q1"] == [record.transcript[0].content] == ["Can you help?"]
    # an IQA-EVAL opening that is already the answer is never sent: no first prompt
    iqa = first_prompts(load_graph_spec("iqa_eval"), "fake:say:So, the answer is: B", [Q],
                        samples=2)
    assert iqa.get("q1", []) == []


def test_the_cot_step_changes_the_opening():
    plain = first_prompts(load_graph_spec("quick"), SeededEcho(), [Q], samples=1)
    cot = first_prompts(load_graph_spec("quick").model_copy(update={"user_cot": True}),
                        SeededEcho(), [Q], samples=1)
    assert plain != cot


# --------------------------------------------------------------------------------------------
# the scorecard on the pipeline
# --------------------------------------------------------------------------------------------


def _humans() -> list[HumanConversation]:
    return load_chatbench_conversations(CONVERSATIONS)


@needs_metrics
def test_a_fake_user_with_a_fixed_message_gives_exact_figures():
    spec = load_graph_spec("quick")  # 3 turns; "what is it?" is never an answer
    card = evaluate_scorecard(_humans(), [ScorecardSimulator("say", spec, "fake:say:what is it?")],
                              "fake:echo", samples=4, replicates=2, bootstrap=50)
    row = card.simulators[0]
    b = {name: r.simulated for name, r in row.behaviours.items()}
    assert b["first_message_words"] == 3.0 and b["question_copy"] == 0.0
    assert b["user_messages"] == 3.0  # the forced answer is not a typed message
    assert b["later_message_words"] == 3.0
    assert b["question_share"] == 1.0 and b["lowercase_share"] == 1.0
    assert math.isnan(b["accuracy"]) and math.isnan(b["follows_assistant"])
    assert b["distinct_2"] == pytest.approx(1 / 2)  # 2 identical openings per question
    assert (row.first_prompts, row.conversations, row.failed_conversations) == (8, 4, 0)
    agreement = row.answer_agreement
    assert agreement.conversations == 3 and agreement.answered == 0  # 3 real answers
    assert agreement.letter_agreement == 0.0
    assert card.real.conversations == 4 and card.real.questions == 2  # 1 had no user turn
    data = card.to_json()
    assert data["simulators"][0]["behaviours"]["accuracy"]["simulated"] is None
    assert set(data) >= {"real", "simulators", "references"}
    json.dumps(data, allow_nan=False)


class FailsOn(BaseChatModel):
    """``Answer: B`` except for prompts naming ``word``, which raise (not retried)."""

    word: str
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "fails-on"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls += 1
        if any(self.word in str(m.content) for m in messages):
            raise ValueError(f"cannot do {self.word}")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="Answer: B"))])


@needs_metrics
def test_failures_are_counted_stored_and_asked_again_and_stored_work_is_not(tmp_path):
    spec = load_graph_spec("two_step")
    model = FailsOn(word="Velocity")  # the physics question's options
    with ResultStore(tmp_path / "f.sqlite") as store:
        card = evaluate_scorecard(_humans(), [ScorecardSimulator("f", spec, model)],
                                  "fake:echo", samples=2, replicates=1, bootstrap=0,
                                  store=store)
        row = card.simulators[0]
        assert row.failed_first_prompts == 2 and row.failed_conversations == 1
        assert row.answer_agreement.failed == 1 and "cannot do Velocity" in row.failures[0]
        calls = model.calls
        again = evaluate_scorecard(_humans(), [ScorecardSimulator("f", spec, model)],
                                   "fake:echo", samples=2, replicates=1, bootstrap=0,
                                   store=store)
        assert model.calls - calls == 2 + 1 + 1  # only the failed ones were asked again
        assert again.simulators[0].first_prompts == row.first_prompts
        assert again.simulators[0].run_id == row.run_id
        other = evaluate_scorecard(_humans(), [ScorecardSimulator("f", spec, model)],
                                   "fake:echo", samples=2, replicates=1, bootstrap=0,
                                   store=store, seed=1)
        assert other.simulators[0].run_id != row.run_id  # other settings, other results


def test_bad_scorecard_inputs_are_named():
    spec = GraphSpec()
    row = ScorecardSimulator("a", spec, "fake:user")
    with pytest.raises(ConfigError, match="simulators"):
        evaluate_scorecard(_humans(), [], "fake:echo")
    with pytest.raises(ConfigError, match="repeated: a"):
        evaluate_scorecard(_humans(), [row, row], "fake:echo")
    with pytest.raises(ConfigError, match="'samples'"):
        evaluate_scorecard(_humans(), [row], "fake:echo", samples=0)
    silent = [h.model_copy(update={"user_turns": [], "assistant_turns": []}) for h in _humans()]
    with pytest.raises(ConfigError, match="no user turns"):
        evaluate_scorecard(silent, [row], "fake:echo")


# --------------------------------------------------------------------------------------------
# chatbench fidelity
# --------------------------------------------------------------------------------------------


@needs_metrics
def test_fidelity_command_compares_several_simulators_and_writes_json_and_html(
        monkeypatch, capsys, tmp_path):
    out, page = tmp_path / "card.json", tmp_path / "card.html"
    code, text = cli(monkeypatch, capsys, "fidelity", "--user", "fake:user", "--graph", "quick",
                     "--user", "fake:say:hi", "--graph", "two_step", "--assistant",
                     "fake:echo", "--data", "chatbench", "--data-path", str(CONVERSATIONS),
                     "--split", "all", "--samples", "2", "--replicates", "1", "--bootstrap",
                     "20", "--store", str(tmp_path / "s.sqlite"), "--json", str(out),
                     "--html", str(page))
    assert code == 0, text
    for expected in ("behaviours", "first_message_words", "copy_question", "human_ceiling",
                     "letter", "4 conversations on 2 questions"):
        assert expected in text
    data = json.loads(out.read_text())
    assert data["real"] == {"conversations": 4, "questions": 2, "workers": 4,
                            "workers_also_in_train": None}
    names = [s["name"] for s in data["simulators"]]
    assert names == ["quick / fake:user", "two_step / fake:say:hi"]
    first = data["simulators"][0]
    assert set(first["behaviours"]) == set(BEHAVIOUR_NAMES)
    assert {"real", "simulated", "distance", "distance_ci"} <= set(
        first["behaviours"]["first_message_words"])
    assert {"letter_agreement", "r", "mae"} <= set(first["answer_agreement"])
    assert "rouge1" in first and "bleu" in first
    # the paper scores first prompts on ChatBench's -redux- ids only: not conceptual_physics-test-40
    assert first["questions"] == 1
    assert {row["name"]: row["questions"] for row in data["references"]}["copy_question"] == 1
    html = page.read_text()
    assert html.count("<img src=\"data:image/png;base64,") == len(BEHAVIOUR_NAMES)


def test_fidelity_command_reads_a_simulators_file_and_names_bad_fields(
        monkeypatch, capsys, tmp_path):
    good = tmp_path / "sims.yaml"
    good.write_text("simulators:\n  - {name: one, graph: quick, user: 'fake:user', "
                    "temperature: 0.3}\n")
    code, text = cli(monkeypatch, capsys, "fidelity", "--simulators", str(good), "--assistant",
                     "fake:echo", "--data", "chatbench", "--data-path", str(CONVERSATIONS),
                     "--samples", "1", "--replicates", "1", "--no-agreement", "--bootstrap",
                     "0", "--store", str(tmp_path / "s.sqlite"))
    assert code == 0, text
    assert "one:" in text and "answers given the real transcript" not in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("simulators:\n  - {user: 'fake:user', temprature: 0.3}\n")
    code, text = cli(monkeypatch, capsys, "fidelity", "--simulators", str(bad))
    assert code == 2 and "temprature" in text and "bad.yaml" in text


@pytest.mark.parametrize(("args", "message"), [
    (("--user", "fake:user", "--user", "fake:echo", "--graph", "quick", "--graph", "quick",
      "--graph", "quick"), "one per --user"),
    ((), "give a simulator"),
    (("--user", "fake:user", "--graph", "no_such_graph"), "no_such_graph"),
    (("--user", "fake:user", "--data", "chatbench"), "data_path"),
    (("--user", "fake:user", "--samples", "0"), "'samples'"),
    (("--user", "fake:user", "--json", "/no/such/folder/card.json"), "does not exist"),
])
def test_fidelity_command_bad_options_exit_2(monkeypatch, capsys, tmp_path, args, message):
    code, text = cli(monkeypatch, capsys, "fidelity", *args, "--store",
                     str(tmp_path / "s.sqlite"))
    assert code == 2, text
    assert message in text


@needs_metrics
def test_fidelity_command_on_bundled_halie_names_the_worker_overlap(monkeypatch, capsys,
                                                                    tmp_path):
    code, text = cli(monkeypatch, capsys, "fidelity", "--user", "fake:user", "--graph",
                     "quick", "--assistant", "fake:echo", "--limit-questions", "1",
                     "--samples", "1", "--replicates", "1", "--agreement-limit", "3",
                     "--bootstrap", "10", "--store", str(tmp_path / "s.sqlite"), "--json",
                     str(tmp_path / "card.json"))
    assert code == 0, text
    assert "halie heldout" in text and "also answered train questions" in text
    data = json.loads((tmp_path / "card.json").read_text())
    assert data["real"]["questions"] == 1 and data["real"]["workers_also_in_train"] > 0
    assert data["simulators"][0]["answer_agreement"]["conversations"] == 3
