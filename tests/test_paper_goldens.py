"""chatbench's paper presets against goldens written by the paper's own code.

``tests/golden/make_paper_goldens.py`` ran the ChatBench paper's ``generate_conversations.py``
and ``analyze_results.py`` (GitHub ``serinachang5/interactive-eval``, commit in the JSON) with
scripted model replies and recorded every prompt. These tests read only those files:

- each scenario, replayed through the preset (``two_step``, ``two_step_problem``,
  ``two_step_help``, ``iqa_eval``: ``accept: paper``, ``view: transcript``) with the same
  scripted replies, must send both models the same prompts, byte for byte, store the same
  conversation and reach the same answer and verdict; where chatbench differs on purpose the
  golden names the difference (``expected_difference``) and the test checks chatbench's side;
- ``chatbench train --export`` on the bundled HALIE train split must write the paper's
  ``convert_conversation_to_simulator_data`` examples, line for line.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.types import RetryPolicy

from chatbench import SimContext, build_graph, initial_state
from chatbench.config import load_graph_spec
from chatbench.data.questions import Question
from chatbench.graphs.builder import transient_error
from tests.conftest import ScriptedChatModel

GOLDEN = Path(__file__).parent / "golden" / "paper_code"
DOC = json.loads((GOLDEN / "conversations.json").read_text(encoding="utf-8"))
SCENARIOS = DOC["scenarios"]
HALIE_EXAMPLES = 2974
"""Examples the paper's code made of the 938 bundled HALIE train conversations."""
FAST_RETRY = RetryPolicy(max_attempts=1, retry_on=transient_error)
ROLES = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant"}


def _question(row: dict) -> Question:
    return Question(id=row["questionID"], subject="golden", stem=row["question"],
                    choices=tuple(row[f"option_{x}"] for x in "ABCD"), answer=row["answer"])


def _as_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": ROLES[type(m)], "content": m.content} for m in messages]


def test_golden_covers_every_paper_simulator_and_the_edge_cases():
    assert len(SCENARIOS) >= 50
    assert {s["simulator"] for s in SCENARIOS} == {
        "two_step", "two_step_problem", "two_step_help", "iqa_eval"}
    replies = [r for s in SCENARIOS for r in s["sim_replies"]]
    for marker in ["Answer: B", " Answer: B", '"Answer: B"', "YOU: Answer: B", "Answer: b",
                   "Answer: 12", "Answer:", "", "[END]"]:
        assert marker in replies, marker
    assert any("So, the answer is: C" in r and not r.startswith("So") for r in replies)
    assert {"IndexError"} == {s["exception"] for s in SCENARIOS if s["exception"]}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_golden_paper_preset_sends_the_papers_prompts(scenario):
    spec = load_graph_spec(scenario["simulator"]).model_copy(
        update={"max_turns": scenario["max_turns"]})
    question = _question(DOC["questions"][scenario["question"]])
    user = ScriptedChatModel(replies=list(scenario["sim_replies"]))
    assistant = ScriptedChatModel(replies=list(scenario["assistant_replies"]))
    ctx = SimContext(assistant=assistant, user=user, seed=1)
    out = build_graph(spec, retry=FAST_RETRY).invoke(initial_state(question), context=ctx)

    paper_sim = [c["messages"] for c in scenario["sim_calls"]]
    paper_assistant = [c["messages"] for c in scenario["assistant_calls"]]
    paper_conversation = scenario["conversation"]
    difference = scenario.get("expected_difference")
    if difference == "forced_no_answer":
        # The paper sends the forced non-answer to the assistant once more, then returns no
        # answer; chatbench ends at the forced turn.
        paper_assistant, paper_conversation = paper_assistant[:-1], paper_conversation[:-1]
        assert assistant.replies == scenario["assistant_replies"][-1:]
    else:
        assert assistant.replies == []
    assert user.replies == []

    assert [_as_dicts(call) for call in user.calls] == paper_sim
    assert [_as_dicts(call) for call in assistant.calls] == paper_assistant
    assert all(kw["temperature"] == c["kwargs"]["temperature"]
               for kw, c in zip(user.kwargs, scenario["sim_calls"], strict=True))
    assert all(kw["temperature"] == c["kwargs"]["temperature"]
               for kw, c in zip(assistant.kwargs, scenario["assistant_calls"], strict=False))

    answer = out.get("final_choice") or out.get("invalid_answer")
    if difference == "empty_answer_marker":
        # The paper's code raises IndexError (``answer[0]`` of ""); chatbench stores an
        # invalid, empty answer and scores it wrong.
        assert scenario["exception"] == "IndexError"
        assert out["invalid_answer"] == "" and out["verdict"] == "wrong" and out["answered"]
        return
    assert scenario["exception"] is None
    assert answer == scenario["answer"]
    assert out["verdict"] == scenario["verdict"]
    conversation = _as_dicts(out["messages"])
    if out.get("answered"):
        conversation = conversation[:-1]  # the paper leaves the answer turn out
    assert conversation == paper_conversation


def test_golden_edge_cases_keep_chatbenchs_own_handling_in_its_variant():
    """The paper-exact handling is for the paper presets only: chatbench's ``natural`` rule
    and ``chat`` view still strip the assistant's reply, drop ``[END]`` and retry an empty
    turn."""
    spec = load_graph_spec("two_step").model_copy(update={"accept": "natural", "view": "chat"})
    question = _question(DOC["questions"]["math"])
    user = ScriptedChatModel(replies=["hi [END]", "", "what? ", "Answer: B"])
    assistant = ScriptedChatModel(replies=["  Hello.\n", "Hm?"])
    ctx = SimContext(assistant=assistant, user=user, seed=1)
    out = build_graph(spec, retry=FAST_RETRY).invoke(initial_state(question), context=ctx)
    assert [m.content for m in out["messages"]] == ["hi", "Hello.", "what?", "Hm?", "Answer: B"]
    assert assistant.calls[0][-1].content == "hi" and out["verdict"] == "correct"


def test_golden_halie_export_equals_the_papers_simulator_data(tmp_path):
    from typer.testing import CliRunner

    from chatbench.cli import app

    path = tmp_path / "chat_train.jsonl"
    result = CliRunner().invoke(app, ["train", "--data", "halie", "--export", str(path)])
    assert result.exit_code == 0, result.output
    ours = path.read_text(encoding="utf-8").splitlines()
    paper = gzip.decompress((GOLDEN / "halie_simulator_data.jsonl.gz").read_bytes()).decode(
        "utf-8").splitlines()
    assert len(paper) == HALIE_EXAMPLES and len(ours) == HALIE_EXAMPLES
    for i, (line, golden) in enumerate(zip(ours, paper, strict=True)):
        assert json.loads(line) == json.loads(golden), f"line {i + 1}"
    assert ours == paper


# --- first prompts, chat export edge cases and chat length (issue 21) ------------------------

FIRST_PROMPTS = json.loads((GOLDEN / "first_prompts.json").read_text(encoding="utf-8"))
CHAT_EDGE_CASES = json.loads((GOLDEN / "chat_edge_cases.json").read_text(encoding="utf-8"))
CHAT_LENGTHS = json.loads((GOLDEN / "chat_lengths.json").read_text(encoding="utf-8"))


def _load_records(tmp_path: Path, records: object) -> list:
    from chatbench.data.human_data import load_chatbench_conversations

    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return load_chatbench_conversations(path)


@pytest.mark.parametrize("method", ["two_step", "iqa_eval"])
def test_golden_first_prompt_pairs_are_the_papers(method, tmp_path):
    """The paper takes each simulated conversation's first message after its cleaning (an
    IQA-EVAL answer at once gives none), each real chat's first message when the user wrote
    it (not joined to a second; a blank one kept), and scores only its ``-redux-`` ids."""
    from chatbench.runner.recipe import Recipe
    from chatbench.training.fidelity import first_prompt_questions, real_first_prompts
    from chatbench.training.openings import first_prompt_pairs, openings_of, sample_turn

    spec = load_graph_spec(method)
    records = []
    for qid, name in FIRST_PROMPTS["questions"].items():
        question = _question({**DOC["questions"][name], "questionID": qid})
        for index, reply in enumerate(FIRST_PROMPTS["first_replies"][method]):
            recipe = Recipe.plan(spec, ScriptedChatModel(replies=[reply]), "fake:echo")
            records.append(sample_turn("first_prompt", "golden", recipe, 1, question, index,
                                       [], "first"))
    simulated = openings_of(records)
    for qid, runs in FIRST_PROMPTS["sim_results"].items():  # the paper's conversation[0]
        assert simulated.get(qid, []) == [c["conversation"][0]["content"]
                                          for c in runs[method] if c["conversation"]]
    real = first_prompt_questions(real_first_prompts(
        _load_records(tmp_path, FIRST_PROMPTS["conversations"])), "chatbench")
    pairs = first_prompt_pairs(simulated, real)
    golden = FIRST_PROMPTS["scored"][method]
    assert sorted(pairs) == sorted(golden["questions"])
    for qid, listed in pairs.items():
        assert [s for s, _ in listed] == golden["pairs"][qid]["predictions"], qid
        assert [r for _, r in listed] == golden["pairs"][qid]["references"], qid


CASES = {k: v for k, v in CHAT_EDGE_CASES.items() if isinstance(v, dict) and "record" in v}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_chat_export_handles_consecutive_and_leading_messages_as_the_paper(
        name, tmp_path):
    from chatbench.training.chat import PaperRefusal, conversation_chat_examples

    case = CASES[name]
    (conversation,) = _load_records(tmp_path, [case["record"]])
    if case["exception"] is not None:
        with pytest.raises(PaperRefusal) as caught:
            conversation_chat_examples(conversation)
        assert case["message"] in str(caught.value) and "\n" not in str(caught.value)
        assert conversation_chat_examples(conversation, merged=True)
        return
    ours = [e.record() for e in conversation_chat_examples(conversation)]
    assert ours == case["examples"]


def test_golden_edge_cases_cover_the_issue():
    assert {c["exception"] for c in CASES.values()} == {None, "AssertionError"}
    assert {"you_you_bot", "bot_bot", "bot_first", "question_table"} <= set(CASES)


def test_golden_chat_length_is_the_papers_len_chat_history(tmp_path):
    """``chatbench paper``'s ``messages`` column is the paper's chat length: mean and SE as
    ``get_conversations_from_checkpoints`` prints them, per subject."""
    from chatbench.paper._summary import length_summary
    from chatbench.paper.release import load_conversations

    records = [{"questionID": qid, "questionText": "q", "choices": ["1", "2", "3", "4"],
                "correctAnswer": "B", "selectedAnswer": "B", "model": "gpt-4o",
                "chatHistory": chat}
               for qid, chats in CHAT_LENGTHS["chats"].items() for chat in chats]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    frame = load_conversations(path)
    printed = [line.strip() for line in CHAT_LENGTHS["printed"]]
    for subject, chats in frame.groupby("subject", sort=False):
        summary = length_summary(chats["messages"], chats["user_turns"])
        at = printed.index(f"{subject} {len(chats)} conversations")
        assert printed[at + 1] == (f"chat length: mean={summary['messages']:.2f}, "
                                   f"SE={summary['messages_se']:.2f}")
    assert len(frame) == sum(len(c) for c in CHAT_LENGTHS["chats"].values())
