"""The paper's protocol (accept: paper, view: transcript), rule by rule, against its code.

Expected strings are transcribed by hand from ``generate_conversations.py`` of GitHub
``serinachang5/interactive-eval`` (``two_step_simulator``, ``iqa_eval_simulator``,
``get_next_system_response``), not built from chatbench's constants.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.types import RetryPolicy

from chatbench import GraphSpec, SimContext, StopReason, build_graph, initial_state
from chatbench.config import load_graph_spec, load_grid
from chatbench.graphs.builder import transient_error
from chatbench.personas import load_persona
from chatbench.runner.batch import run_conversations
from chatbench.scoring.metrics import summarize
from tests.conftest import ScriptedChatModel

FAST_RETRY = RetryPolicy(max_attempts=1, retry_on=transient_error)
PAPER_PRESETS = ("two_step", "two_step_problem", "two_step_help", "iqa_eval")

QUESTION_TEXT = "What is 7 x 8?\nA. 54\nB. 56\nC. 58\nD. 64"
TWO_STEP_SYSTEM = ("You are a human user interacting with an AI system, and you are trying to "
                   "answer the following question:\n\n" + QUESTION_TEXT)
FIRST = ("Generate the first prompt you would say to the system to get started with answering "
         "your question. Remember to write exactly as a real user would.")
SEP = "=" * 24
NEXT = ('If your question is answered by this conversation, return ONLY the answer in the '
        'format "Answer: A, B, C, or D". If not, generate the next prompt you would say to the '
        'system to answer your question. Remember to keep your writing style consistent.')
FORCED = ('Answer the question based on this conversation. Return ONLY the answer in the format '
          '"Answer: A, B, C, or D".')
IQA_INTRO = ("You are mimicking a human. You are trying to choose the correct answer to the "
             "given question. ")
IQA_SYSTEM = IQA_INTRO + (
    "Please ask an assistant sub-questions for help approaching answers. In each turn, please "
    "only ask one sub-question to interact with an assistant. In the sub-questions, please "
    "include all necessary information, such as the question and options, in the original "
    'question. If you know the answer, please output "So, the answer is: A, B, C, or D."\n\n'
    + QUESTION_TEXT)
IQA_FORCED = IQA_INTRO + (
    'Please choose the correct answer to the given question. Please output "So, the answer is: '
    'A, B, C, or D."\n\n' + QUESTION_TEXT)


def _run(spec, question, user, assistant, judge=None, persona=None):
    ctx = SimContext(assistant=assistant, user=user, judge=judge, persona=persona, seed=1)
    return build_graph(spec, retry=FAST_RETRY).invoke(initial_state(question), context=ctx)


def _conversation(*lines: str) -> str:
    return f"Here is your conversation so far with the AI system:\n{SEP}\n" + \
        "\n\n".join(lines) + f"\n{SEP}\n"


# --- when a conversation ends ---------------------------------------------------------------

@pytest.mark.parametrize("opening", ["I think it's B", "Answer: B", "B"])
def test_turn_one_always_goes_to_the_ai(question, opening):
    user = ScriptedChatModel(replies=[opening, "Answer: B"])
    assistant = ScriptedChatModel(replies=["It is 56."])
    out = _run(GraphSpec(), question, user, assistant)
    assert out["turns"] == 2 and len(assistant.calls) == 1
    assert out["messages"][0].content == opening and out["verdict"] == "correct"


def test_natural_rule_reads_a_hedged_first_turn(question):
    out = _run(GraphSpec(accept="natural"), question,
               ScriptedChatModel(replies=["I think it's B"]), ScriptedChatModel())
    assert out["turns"] == 1 and out["final_choice"] == "B"


@pytest.mark.parametrize("reply", [
    "I'll go with B", "So the answer is B.", "answer: B", "Thanks! Answer: B", "B"])
def test_only_a_reply_starting_with_answer_ends_the_conversation(question, reply):
    user = ScriptedChatModel(replies=["help?", reply, "Answer: C"])
    assistant = ScriptedChatModel(replies=["Sure.", "Okay."])
    out = _run(GraphSpec(), question, user, assistant)
    assert out["turns"] == 3 and out["messages"][2].content == reply
    assert out["final_choice"] == "C" and out["verdict"] == "wrong"


@pytest.mark.parametrize(("reply", "stored"), [
    ('"Answer: B"', "Answer: B"), ("YOU: Answer: B", "Answer: B"),
    ('  "YOU: Answer: B" ', "Answer: B"),
])
def test_reply_is_cleaned_as_the_paper_cleans_it(question, reply, stored):
    user = ScriptedChatModel(replies=["hi", reply])
    out = _run(GraphSpec(), question, user, ScriptedChatModel(replies=["Hello"]))
    assert out["messages"][-1].content == stored and out["final_choice"] == "B"


@pytest.mark.parametrize(("reply", "invalid"), [
    ("Answer: 12", "12"), ("Answer: b", "b"), ("Answer: E", "E"), ("Answer:  B", " B"),
    ("Answer: The answer is B", "The answer is B")])
def test_an_answer_that_is_no_option_letter_is_scored_wrong(question, reply, invalid):
    user = ScriptedChatModel(replies=["hi", reply])
    out = _run(GraphSpec(), question, user, ScriptedChatModel(replies=["Hello"]))
    assert out["stop_reason"] is StopReason.ACCEPTED
    assert out["final_choice"] is None and out["invalid_answer"] == invalid
    assert out["verdict"] == "wrong" and out["answered"]


def test_invalid_answer_is_stored_and_counted_as_answered_wrong(question):
    spec = GraphSpec(simulator="scripted", scripted_turns=("hi", "Answer: 12"))
    [record] = run_conversations([question], spec, user=None, assistant="fake:echo")
    assert record.invalid_answer == "12" and record.verdict == "wrong" and record.answered
    summary = summarize("all", [record])
    assert summary.answered == 1 and summary.correct == 0 and summary.accuracy == 0.0


def test_forced_turn_without_the_prefix_is_no_answer_and_no_judge_is_asked(question):
    user = ScriptedChatModel(replies=["hi", "I would say B"])
    judge = ScriptedChatModel()  # any call fails the test
    out = _run(GraphSpec(max_turns=1), question, user, ScriptedChatModel(replies=["Hello"]), judge)
    assert out["stop_reason"] is StopReason.FORCED and out["verdict"] == "no_answer"
    assert judge.calls == []


# --- what the simulator sees (transcript view) and the settings ------------------------------

def test_two_step_prompts_are_the_papers(question):
    user = ScriptedChatModel(replies=["what is 7*8", "why?", "Answer: B"])
    assistant = ScriptedChatModel(replies=["56", "Because 7*8=56."])
    out = _run(GraphSpec(max_turns=2), question, user, assistant)
    first, second, forced = user.calls
    assert first == [SystemMessage(content=TWO_STEP_SYSTEM), HumanMessage(content=FIRST)]
    assert second == [SystemMessage(content=TWO_STEP_SYSTEM),
                      HumanMessage(content=_conversation("YOU: what is 7*8", "SYSTEM: 56") + NEXT)]
    assert forced[1].content == _conversation(
        "YOU: what is 7*8", "SYSTEM: 56", "YOU: why?", "SYSTEM: Because 7*8=56.") + FORCED
    assert len(forced) == 2  # no prefilled "Answer:" turn
    assert out["stop_reason"] is StopReason.FORCED and out["verdict"] == "correct"
    assert all(kw == {"temperature": 1.0, "max_tokens": 1000} for kw in user.kwargs)


def test_assistant_gets_the_papers_system_prompt_and_settings(question):
    assistant = ScriptedChatModel(replies=["56"])
    _run(GraphSpec(), question, ScriptedChatModel(replies=["7*8?", "Answer: B"]), assistant)
    [call] = assistant.calls
    assert [(type(m), m.content) for m in call] == [
        (SystemMessage, "You are a helpful AI assistant."), (HumanMessage, "7*8?")]
    assert assistant.kwargs == [{"temperature": 0.7, "max_tokens": 1000}]


def test_problem_variant_first_prompt(question):
    user = ScriptedChatModel(replies=["What is 7 x 8?", "Answer: B"])
    _run(GraphSpec(simulator="two_step_problem"), question, user, ScriptedChatModel(replies=["56"]))
    assert user.calls[0][1].content == (
        "Generate the first prompt you would say to the system to get started with answering your "
        "question. Include the problem statement in some form, and remember to write exactly as "
        "a real user would.")


@pytest.mark.parametrize("view", ["transcript", "chat"])
def test_help_variant_opens_with_the_papers_fixed_request(question, view):
    user = ScriptedChatModel(replies=["Answer: B"])
    assistant = ScriptedChatModel(replies=["Sure, what is the problem?"])
    out = _run(GraphSpec(simulator="two_step_help", view=view), question, user, assistant)
    opening = out["messages"][0].content
    assert opening == ("I'm trying to solve a math problem. Can you help me get started on the "
                       "first step?")
    assert question.stem not in assistant.calls[0][-1].content
    assert len(user.calls) == 1


def test_iqa_eval_sends_one_system_prompt_with_the_conversation_appended(question):
    user = ScriptedChatModel(replies=["What is 7*8? Options: 54, 56, 58, 64", "Is 56 right?",
                                      "So, the answer is: B"])
    assistant = ScriptedChatModel(replies=["56", "Yes."])
    out = _run(GraphSpec(simulator="iqa_eval", max_turns=2), question, user, assistant)
    assert user.calls[0] == [SystemMessage(content=IQA_SYSTEM)]
    assert user.calls[1] == [SystemMessage(
        content=IQA_SYSTEM + "\n\nYOU: What is 7*8? Options: 54, 56, 58, 64\n\nASSISTANT: 56")]
    assert user.calls[2][0].content.startswith(IQA_FORCED + "\n\nYOU: ")
    assert out["final_choice"] == "B" and out["stop_reason"] is StopReason.FORCED


@pytest.mark.parametrize(("reply", "choice", "invalid"), [
    ("Let me think. So, the answer is: C.", "C", None),
    ("So, the answer is: 56", None, "56"),
])
def test_iqa_eval_answers_anywhere_on_any_turn(question, reply, choice, invalid):
    out = _run(GraphSpec(simulator="iqa_eval"), question, ScriptedChatModel(replies=[reply]),
               ScriptedChatModel())
    assert out["turns"] == 1 and out["final_choice"] == choice
    assert out["invalid_answer"] == invalid and out["verdict"] == "wrong"


def test_iqa_eval_answer_prefix_of_two_step_is_not_an_answer(question):
    user = ScriptedChatModel(replies=["Answer: B", "So, the answer is: B"])
    out = _run(GraphSpec(simulator="iqa_eval"), question, user, ScriptedChatModel(replies=["?"]))
    assert out["turns"] == 2 and out["verdict"] == "correct"


def test_persona_goes_after_the_papers_system_prompt(question):
    persona = load_persona("novice")
    user = ScriptedChatModel(replies=["hi", "Answer: B"])
    _run(GraphSpec(persona="novice"), question, user, ScriptedChatModel(replies=["Hello"]),
         persona=persona)
    system = user.calls[0][0].content
    assert system.startswith(TWO_STEP_SYSTEM + "\n") and "The person you are playing" in system


def test_chat_view_sends_a_role_flipped_chat(question):
    user = ScriptedChatModel(replies=["hi", "Answer: B"])
    _run(GraphSpec(view="chat"), question, user, ScriptedChatModel(replies=["Hello"]))
    second = user.calls[1]
    assert [type(m) for m in second] == [SystemMessage, AIMessage, HumanMessage]
    assert second[1].content == "hi" and second[2].content.startswith("Hello")


# --- presets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_paper_presets_run_the_papers_protocol(name):
    spec = load_graph_spec(name)
    assert (spec.simulator, spec.accept, spec.view) == (name, "paper", "transcript")
    assert spec.max_turns == 10
    assert (spec.user.temperature, spec.user.max_tokens) == (1.0, 1000)
    assert (spec.assistant.temperature, spec.assistant.max_tokens) == (0.7, 1000)
    assert spec.assistant_system_prompt == "You are a helpful AI assistant."
    assert spec.persona is None and not spec.user_cot


def test_paper_simulators_grid_has_the_four_simulators():
    grid = load_grid("paper_simulators")
    assert grid.cells() == [{"simulator": name} for name in PAPER_PRESETS]
    assert load_graph_spec(grid.base) == load_graph_spec("two_step")


def test_quick_preset_is_chatbenchs_own_variant():
    spec = load_graph_spec("quick")
    assert (spec.accept, spec.view) == ("natural", "chat")


def test_show_names_an_invalid_answer(tmp_path, question):
    from typer.testing import CliRunner

    from chatbench.cli import app
    from chatbench.storage import ResultStore

    spec = GraphSpec(simulator="scripted", scripted_turns=("hi", "Answer: 12"))
    out = tmp_path / "s.sqlite"
    with ResultStore(out) as store:
        run_conversations([question], spec, user=None, assistant="fake:echo", store=store)
    result = CliRunner().invoke(app, ["show", str(out)])
    assert result.exit_code == 0, result.output
    assert "answered '12', no option letter" in result.output and "wrong" in result.output
