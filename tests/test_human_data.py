"""Loaders of real human-AI conversations: ChatBench's schema (a fixture) and bundled HALIE."""

from __future__ import annotations

import csv
import json
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import ValidationError

from chatbench.data.human_data import (
    HALIE_HELDOUT_IDS,
    HALIE_TRAIN_IDS,
    HumanConversation,
    chatbench_subject,
    halie_question_number,
    human_accuracy_by_question,
    load_chatbench_conversations,
    load_halie,
)
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from tests.conftest import FIXTURES

CONVERSATIONS = FIXTURES / "chatbench_conversations.json"
MATH = "elementary_mathematics-redux-12"
PHYSICS = "conceptual_physics-test-40"


def _records() -> list[dict]:
    return json.loads(CONVERSATIONS.read_text(encoding="utf-8"))


def _write(tmp_path: Path, records: object) -> Path:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


# --- ChatBench ------------------------------------------------------------------------------


def test_chatbench_fixture_loads_conversations_in_order():
    convs = load_chatbench_conversations(CONVERSATIONS)
    assert len(convs) == 4  # the fifth record has no chat
    first = convs[0]
    assert first.source == "chatbench"
    assert first.question.id == MATH
    assert first.question.subject == "elementary_mathematics"
    assert first.question.choices == ("54", "56", "58", "64")
    assert first.question.answer == "B"
    assert first.user_turns == ["what is 7 times 8", "are you sure?"]
    assert first.assistant_turns == ["7 x 8 = 56, so the answer is B.", "Yes: 7 x 8 = 56."]
    assert (first.final_choice, first.correct) == ("B", True)
    assert (first.assistant_model, first.condition, first.worker_id) == (
        "gpt-4o",
        "direct-to-AI",
        "w1",
    )
    assert convs[1].correct is False
    assert {c.assistant_model for c in convs} == {"gpt-4o", "llama-3.1-8b"}
    assert convs[2].question.subject == "conceptual_physics"


def test_chatbench_unanswered_conversation_and_missing_last_reply():
    unanswered = load_chatbench_conversations(CONVERSATIONS)[3]
    assert unanswered.final_choice is None and unanswered.correct is None
    assert len(unanswered.user_turns) == 2 and len(unanswered.assistant_turns) == 1


def test_chatbench_min_user_turns_zero_keeps_records_without_chat():
    convs = load_chatbench_conversations(CONVERSATIONS, min_user_turns=0)
    assert len(convs) == 5
    assert convs[4].user_turns == [] and convs[4].final_choice == "A"


def test_chatbench_labels_and_answers_by_text_map_to_letters(tmp_path):
    record = _records()[0] | {
        "choiceLabels": ["a", "b", "c", "d"],
        "correctAnswer": "56",
        "selectedAnswer": "c",
    }
    (conv,) = load_chatbench_conversations(_write(tmp_path, [record]))
    assert (conv.question.answer, conv.final_choice, conv.correct) == ("B", "C", False)


def test_chatbench_merges_repeated_roles_and_drops_a_leading_bot_message(tmp_path):
    record = _records()[1] | {
        "chatHistory": [
            {"role": "Bot", "content": "Hi! How can I help?"},
            {"role": "You", "content": "7 x 8?"},
            {"role": "You", "content": "quickly please"},
            {"role": "Bot", "content": "56."},
        ]
    }
    (conv,) = load_chatbench_conversations(_write(tmp_path, [record]))
    assert conv.user_turns == ["7 x 8?\n\nquickly please"]
    assert conv.assistant_turns == ["56."]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"selectedAnswer": "E"}, "field 'selectedAnswer'"),
        ({"chatHistory": [{"role": "Human", "content": "hi"}]}, "chatHistory[0].role"),
        ({"choices": "54, 56"}, "field 'choices'"),
        ({"choiceLabels": ["A", "B"]}, "field 'choiceLabels'"),
        ({"questionText": ""}, "field 'questionText'"),
    ],
)
def test_chatbench_bad_record_names_file_and_index(tmp_path, change, message):
    records = _records()
    records[1] = records[1] | change
    path = _write(tmp_path, records)
    with pytest.raises(ConfigError, match="record 1") as info:
        load_chatbench_conversations(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_chatbench_missing_field_and_bad_files(tmp_path):
    records = _records()
    del records[2]["model"]
    with pytest.raises(ConfigError, match=r"record 2: missing field\(s\) 'model'"):
        load_chatbench_conversations(_write(tmp_path, records))
    with pytest.raises(ConfigError, match="expected a JSON list"):
        load_chatbench_conversations(_write(tmp_path, {"records": []}))
    bad = tmp_path / "bad.json"
    bad.write_text("[{]", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_chatbench_conversations(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_chatbench_conversations(tmp_path / "missing.json")


def test_chatbench_subject_from_question_id():
    assert chatbench_subject(MATH) == "elementary_mathematics"
    assert chatbench_subject("high_school_mathematics-test-3") == "high_school_mathematics"
    assert chatbench_subject("q17") == ""


def test_human_accuracy_by_question_skips_unknown_outcomes():
    convs = load_chatbench_conversations(CONVERSATIONS, min_user_turns=0)
    assert human_accuracy_by_question(convs) == {
        (MATH, "gpt-4o"): 1.0,
        (MATH, "llama-3.1-8b"): 0.0,
        (PHYSICS, "gpt-4o"): 0.5,  # one right with the chat, one wrong without
    }


# --- HumanConversation ------------------------------------------------------------------------

QUESTION = Question(id="q", stem="2+2?", choices=("3", "4"), answer="B")


def test_conversation_messages_interleave_user_first():
    conv = HumanConversation(
        question=QUESTION,
        user_turns=["u1", "u2"],
        assistant_turns=["a1"],
        assistant_model="m",
        source="chatbench",
    )
    messages = conv.messages()
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, HumanMessage]
    assert [m.text for m in messages] == ["u1", "a1", "u2"]


@pytest.mark.parametrize(
    ("users", "replies", "choice"),
    [(["u"], ["a", "b"], "B"), (["u", "v", "w"], ["a"], "B"), (["u"], ["a"], "C")],
)
def test_conversation_rejects_unpaired_turns_and_foreign_letters(users, replies, choice):
    with pytest.raises(ValidationError):
        HumanConversation(
            question=QUESTION,
            user_turns=users,
            assistant_turns=replies,
            final_choice=choice,
            assistant_model="m",
            source="halie",
        )


# --- HALIE ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def halie_splits() -> dict[str, list[HumanConversation]]:
    return {split: load_halie(split) for split in ("train", "heldout", "all")}


def test_halie_bundled_split_is_disjoint_by_question(halie_splits):
    train, heldout = halie_splits["train"], halie_splits["heldout"]
    train_ids = {halie_question_number(c.question.id) for c in train}
    heldout_ids = {halie_question_number(c.question.id) for c in heldout}
    assert train_ids == set(HALIE_TRAIN_IDS) and heldout_ids == set(HALIE_HELDOUT_IDS)
    assert len(train) > 0 and len(heldout) > 0
    assert len(train) + len(heldout) == len(halie_splits["all"])
    # Counts of the bundled copy (stanford-crfm/halie b0225c9), rows with a non-blank query.
    assert (len(train), len(heldout)) == (938, 477)


def test_halie_turns_and_answers_are_parsed(halie_splits):
    convs = halie_splits["all"]
    first = convs[0]
    assert first.question.id == "halie-0" and first.question.subject == "miscellany"
    assert first.question.stem.startswith("During what war did Francis Scott Key")
    assert first.user_turns == ['In which war was "The Star Spangled Banner" written?']
    assert first.assistant_turns == ["The War of 1812."]
    assert (first.final_choice, first.correct) == ("B", True)
    assert first.source == "halie" and first.condition is None
    assert all(len(c.user_turns) == len(c.assistant_turns) >= 1 for c in convs)
    assert {c.final_choice for c in convs} <= {"A", "B", "C", "D"}
    assert {c.assistant_model for c in convs} == {
        "InstructDavinci",
        "Davinci",
        "Jumbo",
        "InstructBabbage",
    }
    assert all(c.correct == (c.final_choice == c.question.answer) for c in convs)
    assert sum(len(c.user_turns) for c in convs) == 3162


def test_halie_min_user_turns_zero_keeps_every_lm_row():
    convs = load_halie("all", min_user_turns=0)
    assert len(convs) == 1655  # every question_type == "lm" row of event_blocks.csv


def test_halie_unknown_split():
    with pytest.raises(ConfigError, match="unknown HALIE split"):
        load_halie("test")  # type: ignore[arg-type]


def _halie_folder(tmp_path: Path, edit: dict[str, str]) -> Path:
    """A HALIE folder with the bundled questions and the first 3 lm rows, row 2 edited."""
    bundled = files("chatbench") / "_data" / "halie"
    shutil.copy(str(bundled / "questions.csv"), tmp_path / "questions.csv")
    reader = csv.DictReader((bundled / "event_blocks.csv").read_text("utf-8").splitlines())
    rows = [row for row in reader if row["question_type"] == "lm"][:3]
    rows[1].update(edit)
    with open(tmp_path / "event_blocks.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_halie_from_a_folder(tmp_path):
    convs = load_halie(path=_halie_folder(tmp_path, {}))
    assert len(convs) == 3 and convs[0].user_turns == load_halie("train")[0].user_turns


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"user_queries": "['unclosed"}, "field 'user_queries'"),
        ({"lm_responses": "['one', 'two', 'three', 'four', 'five']"}, "field 'lm_responses'"),
        ({"user_correct": "yes"}, "field 'user_correct'"),
        ({"user_answer": "e"}, "field 'user_answer'"),
        ({"question_id": "99"}, "field 'question_id'"),
        ({"answer": "z"}, "field 'answer'"),
    ],
)
def test_halie_bad_row_names_file_and_line(tmp_path, edit, message):
    folder = _halie_folder(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        load_halie(path=folder)
    assert f"{folder / 'event_blocks.csv'}, line 3" in str(info.value)
    assert message in str(info.value)


def test_halie_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        load_halie(path=tmp_path / "nowhere")
