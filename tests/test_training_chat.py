"""Chat-format fine-tuning data with the paper's two-step prompts: exact lines, the k + 1
rule, the fixed splits, JSONL checks, and ``chatbench train --export``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from langchain_core.language_models import FakeListChatModel
from typer.testing import CliRunner

from chatbench.cli.train import train_command
from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.human_data import (
    HALIE_HELDOUT_IDS,
    HALIE_TRAIN_IDS,
    HumanConversation,
    halie_question_number,
    load_chatbench_conversations,
    load_halie,
)
from chatbench.data.question_loaders import load_bundled
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.prompts import PAPER_SEP, PAPER_TWO_STEP_FIRST_PROMPT
from chatbench.simulators.base import TurnRequest
from chatbench.simulators.transcript_view import answer_options, two_step_view
from chatbench.training import (
    build_chat_examples,
    conversation_chat_examples,
    export_examples,
    paper_two_step_prompts,
    validate_jsonl,
)
from chatbench.training.chat import PaperRefusal, chat_record_problem, paper_question
from tests.conftest import FIXTURES

QUESTION = Question(
    id="elementary_mathematics-redux-999",  # not in the bundled table: its own text is used
    subject="elementary_mathematics",
    stem="What is 7 x 8?",
    choices=("54", "56", "58", "64"),
    answer="B",
)

SYSTEM = (
    "You are a human user interacting with an AI system, and you are trying to answer the "
    "following question:\n\nWhat is 7 x 8?\nA. 54\nB. 56\nC. 58\nD. 64"
)
FIRST = (
    "Generate the first prompt you would say to the system to get started with answering "
    "your question. Remember to write exactly as a real user would."
)
INSTRUCTION = (
    'If your question is answered by this conversation, return ONLY the answer in the format '
    '"Answer: A, B, C, or D". If not, generate the next prompt you would say to the system to '
    "answer your question. Remember to keep your writing style consistent."
)
SEP = "=" * 24


def _conversation(users: int = 2, replies: int | None = None, choice: str | None = "B"):
    replies = users if replies is None else replies
    return HumanConversation(
        question=QUESTION,
        user_turns=[f"user turn {i}" for i in range(users)],
        assistant_turns=[f"assistant reply {i}" for i in range(replies)],
        final_choice=choice,
        assistant_model="gpt-4o",
        source="chatbench",
    )


def _line(user: str, assistant: str) -> dict[str, object]:
    return {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}]}


# --- the examples ------------------------------------------------------------------------------


def test_two_turn_conversation_gives_three_exact_lines(tmp_path):
    conversation = HumanConversation(
        question=QUESTION,
        user_turns=["whats 7 times 8", "are you sure?"],
        assistant_turns=["7 x 8 = 56.", "Yes: 7 x 8 = 56, option B."],
        final_choice="B",
        assistant_model="gpt-4o",
        source="chatbench",
    )
    after_one = (f"Here is your conversation so far with the AI system:\n{SEP}\n"
                 f"YOU: whats 7 times 8\n\nSYSTEM: 7 x 8 = 56.\n{SEP}\n{INSTRUCTION}")
    after_two = (f"Here is your conversation so far with the AI system:\n{SEP}\n"
                 "YOU: whats 7 times 8\n\nSYSTEM: 7 x 8 = 56.\n\nYOU: are you sure?\n\n"
                 f"SYSTEM: Yes: 7 x 8 = 56, option B.\n{SEP}\n{INSTRUCTION}")
    expected = [_line(FIRST, "whats 7 times 8"),
                _line(after_one, "are you sure?"),
                _line(after_two, "Answer: B")]

    assert [e.record() for e in conversation_chat_examples(conversation)] == expected
    path = tmp_path / "chat.jsonl"
    result = export_examples([conversation], path)
    assert result.examples == 3 and result.format == "chat"
    assert path.read_text(encoding="utf-8").splitlines() == [
        json.dumps(line, ensure_ascii=False) for line in expected]
    assert [p.name for p in tmp_path.iterdir()] == ["chat.jsonl"]  # no staging file left


def test_paper_strings():
    assert PAPER_SEP == SEP
    assert answer_options("ABCD") == "A, B, C, or D"
    assert answer_options("AB") == "A, or B"  # the paper's join, applied as written
    assert paper_two_step_prompts(QUESTION) == (SYSTEM, FIRST)


def test_examples_match_what_the_two_step_graph_sends_at_run_time():
    """Train/run parity: each example's prompts are the transcript view's, turn by turn."""
    conversation = _conversation(3)
    messages = conversation.messages()
    spec = GraphSpec(simulator="two_step", view="transcript")
    context = SimContext(assistant=FakeListChatModel(responses=["x"]))
    for i, example in enumerate(conversation_chat_examples(conversation)):
        request = TurnRequest(question=QUESTION, messages=messages[: 2 * i],
                              mode="first" if i == 0 else "next", context=context, spec=spec,
                              turn_index=i)
        view = two_step_view(request, PAPER_TWO_STEP_FIRST_PROMPT)
        assert [m.content for m in view] == [example.system, example.user]


@pytest.mark.parametrize("users", [1, 2, 5])
def test_k_user_turns_give_k_plus_one_examples(users):
    examples = conversation_chat_examples(_conversation(users))
    assert len(examples) == users + 1
    assert [e.assistant for e in examples] == [f"user turn {i}" for i in range(users)] + [
        "Answer: B"]
    # example i shows exactly the first i exchanges
    for i, example in enumerate(examples[1:], start=1):
        assert example.user.count("YOU: ") == example.user.count("SYSTEM: ") == i
        assert f"SYSTEM: assistant reply {i - 1}\n{SEP}" in example.user


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize(
    ("conversation", "count"),
    [(_conversation(2, replies=1), 2),  # no reply to the last turn: no answer example
     (_conversation(0, choice="A"), 0)],  # no chat at all
)
def test_answer_example_needs_a_last_reply(conversation, count, merged):
    examples = conversation_chat_examples(conversation, merged=merged)
    assert len(examples) == count
    assert all(not e.assistant.startswith("Answer:") for e in examples)


def test_no_chosen_answer_after_the_last_reply_is_refused_as_the_paper_refuses_it():
    with pytest.raises(PaperRefusal, match=r"redux-999 ends with the assistant and has no "
                                           r"selected answer.*chat_merged"):
        conversation_chat_examples(_conversation(2, choice=None))
    merged = conversation_chat_examples(_conversation(2, choice=None), merged=True)
    assert [e.assistant for e in merged] == ["user turn 0", "user turn 1"]


def _logged(tmp_path, *log: tuple[str, str], choice: str | None = "B") -> HumanConversation:
    """A ChatBench record with this chat, read by the loader (which keeps the log)."""
    record = {"questionID": QUESTION.id, "questionText": QUESTION.stem,
              "choices": list(QUESTION.choices), "correctAnswer": "B",
              "selectedAnswer": choice, "model": "gpt-4o",
              "chatHistory": [{"role": "You" if r == "user" else "Bot", "content": t}
                              for r, t in log]}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    (conversation,) = load_chatbench_conversations(path)
    assert conversation.log == log
    return conversation


def test_two_user_messages_in_a_row_the_first_is_the_target_both_are_context(tmp_path):
    conversation = _logged(tmp_path, ("user", "hi"), ("user", "7x8?"), ("assistant", "56"))
    examples = conversation_chat_examples(conversation)
    assert [e.assistant for e in examples] == ["hi", "Answer: B"]
    assert "YOU: hi\n\nYOU: 7x8?\n\nSYSTEM: 56\n" in examples[1].user
    merged = conversation_chat_examples(conversation, merged=True)
    assert [e.assistant for e in merged] == ["hi\n\n7x8?", "Answer: B"]


@pytest.mark.parametrize(("log", "message"), [
    ((("assistant", "Hello!"), ("user", "hi"), ("assistant", "56")), "opens with the assistant"),
    ((("user", "hi"), ("assistant", "56"), ("assistant", "sure"), ("user", "ok"),
      ("assistant", "B")), "messages 2 and 3 are both the assistant's"),
])
def test_chats_the_papers_code_refuses_are_refused_in_one_line(tmp_path, log, message):
    conversation = _logged(tmp_path, *log)
    with pytest.raises(PaperRefusal, match=message) as caught:
        conversation_chat_examples(conversation)
    assert "\n" not in str(caught.value) and "chat_merged" in str(caught.value)
    assert conversation_chat_examples(conversation, merged=True)  # chatbench's converts it


def test_a_chatbench_question_takes_the_papers_table_text():
    """The paper builds the prompt from its question table, not from ``questionText``."""
    table = load_bundled(include_flagged=True)[0]
    edited = table.model_copy(update={"stem": table.stem + " (as shown, with $MathJax$)"})
    conversation = _conversation(1).model_copy(update={"question": edited})
    assert paper_question(conversation) == table
    assert table.stem in conversation_chat_examples(conversation)[0].system
    assert "MathJax" not in conversation_chat_examples(conversation)[0].system
    halie = conversation.model_copy(update={"source": "halie"})
    assert paper_question(halie) == edited


def test_record_problem_checks_roles_and_content():
    good = _line(FIRST, "hi")
    assert chat_record_problem(good) is None
    assert chat_record_problem({"messages": good["messages"][1:]}) is None  # no system
    bad = [
        [],
        {"messages": []},
        {"messages": good["messages"][:2]},  # ends with user
        {"messages": [good["messages"][0], good["messages"][2], good["messages"][1]]},
        {"messages": [{"role": "tool", "content": "x"}]},
        {"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                      {"role": "assistant", "content": "c"}]},
    ]
    for record in bad:
        assert chat_record_problem(record) is not None, record


def test_validate_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(_line(FIRST, "hi")) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2: invalid JSON"):
        validate_jsonl(path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "a"}]}) + "\n")
    with pytest.raises(ConfigError, match=r"line 1: not a chat example: roles user"):
        validate_jsonl(path)
    path.write_text("\n")
    with pytest.raises(ConfigError, match="no examples"):
        validate_jsonl(path)
    with pytest.raises(ConfigError, match="not found"):
        validate_jsonl(tmp_path / "missing.jsonl")


def test_text_format_writes_prompt_completion_pairs(tmp_path):
    result = export_examples([_conversation(2)], tmp_path / "t.jsonl", "text")
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert result.examples == len(lines) == 3
    assert lines[-1]["completion"] == "Answer: B[END]"
    assert all(line["prompt"].endswith("[USER] ") for line in lines)


# --- splits ------------------------------------------------------------------------------------


def test_halie_split_is_respected():
    train = build_chat_examples(load_halie("train"))
    heldout = build_chat_examples(load_halie("heldout"))
    assert {halie_question_number(e.question_id) for e in train} <= set(HALIE_TRAIN_IDS)
    assert {halie_question_number(e.question_id) for e in heldout} <= set(HALIE_HELDOUT_IDS)
    assert len(train) + len(heldout) == len(build_chat_examples(load_halie("all")))
    for example in train:
        assert json.loads(example.to_json()) == example.record()
        assert chat_record_problem(example.record()) is None


# --- the command -------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_command)
    app.command("noop")(lambda: None)  # two commands, so "train" is a subcommand
    return app


def _invoke(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_export_writes_train_split_chat_lines(cli, tmp_path):
    path = tmp_path / "out" / "chat_train.jsonl"  # missing folders are created
    result = _invoke(cli, "train", "--export", str(path))
    assert result.exit_code == 0, result.output
    expected = build_chat_examples(load_halie("train"))
    assert f"{len(expected)} chat examples" in result.output
    assert "halie train split" in result.output and "20 questions" in result.output
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [e.to_json() for e in expected]
    assert validate_jsonl(path) == len(expected)


def test_cli_export_chatbench_heldout_and_max_examples(cli, tmp_path):
    conversations = FIXTURES / "chatbench_conversations.json"
    path = tmp_path / "heldout.jsonl"
    result = _invoke(cli, "train", "--data", "chatbench", "--data-path", str(conversations),
                     "--split", "heldout", "--export", str(path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    held = [c for c in load_chatbench_conversations(conversations)
            if c.question.id == "conceptual_physics-test-40"]
    assert lines == [e.record() for e in build_chat_examples(held)]
    result = _invoke(cli, "train", "--export", str(path), "--max-examples", "2",
                     "--format", "text")
    assert result.exit_code == 0, result.output
    assert validate_jsonl(path, "text") == 2


def test_cli_export_refuses_a_chat_the_paper_refuses_and_chat_merged_converts_it(cli, tmp_path):
    record = {"questionID": QUESTION.id, "questionText": QUESTION.stem,
              "choices": list(QUESTION.choices), "correctAnswer": "B", "selectedAnswer": "B",
              "model": "gpt-4o", "worker_id": "w7",
              "chatHistory": [{"role": "Bot", "content": "Hello!"},
                              {"role": "You", "content": "7x8?"},
                              {"role": "Bot", "content": "56"}]}
    conversations = tmp_path / "conversations.json"
    conversations.write_text(json.dumps([record]), encoding="utf-8")
    path = tmp_path / "out.jsonl"
    base = ("train", "--data", "chatbench", "--data-path", str(conversations), "--split", "all",
            "--export", str(path))
    result = _invoke(cli, *base)
    assert isinstance(result.exception, ConfigError)
    assert "redux-999 (worker w7) opens with the assistant" in str(result.exception)
    assert not path.exists()
    result = _invoke(cli, *base, "--format", "chat_merged")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["messages"][2]["content"] for line in
            path.read_text(encoding="utf-8").splitlines()] == ["7x8?", "Answer: B"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--format", "chat"), "needs --export"),
     (("--split", "heldout"), "train split only"),
     (("--export", "x.jsonl", "--format", "csv"), "unknown example format"),
     (("--export", "x.jsonl", "--max-examples", "0"), "max_examples")],
)
def test_cli_bad_options_raise_config_error(cli, args, message):
    result = _invoke(cli, "train", *args)
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception)


def test_bad_output_path_is_a_config_error(cli, tmp_path):
    result = _invoke(cli, "train", "--export", str(tmp_path))
    assert isinstance(result.exception, ConfigError)
    assert "is a folder" in str(result.exception)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        export_examples(load_halie("train")[:1], a_file / "chat.jsonl")


@pytest.mark.slow
def test_bad_output_path_exits_2_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "chatbench.cli", "train", "--export", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "is a folder" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
