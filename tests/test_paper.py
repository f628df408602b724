"""chatbench.paper and ``chatbench paper`` on the small release in fixtures/chatbench_release.

The fixture (see its README.md) has 4 questions over 2 subjects, 2 models, both conditions,
and rows the cleaning must drop. Every expected number is worked out by hand in a comment.
Names: EM1/EM2 = elementary_mathematics-redux-1/2, CP1/CP2 = conceptual_physics-test-1/2.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from chatbench.errors import ConfigError
from chatbench.paper import (
    accuracy_table,
    agreement_table,
    analyze,
    chatbench_models,
    clean_user_answers,
    length_table,
    load_conversations,
    load_release,
    load_runs,
    load_user_answers,
    transitions,
)
from chatbench.paper._summary import question_summary
from chatbench.storage import ResultStore
from tests.test_stats import make_record

RELEASE = Path(__file__).parent / "fixtures" / "chatbench_release"
ANSWERS = RELEASE / "full_study" / "user_answers.csv"
EM1, EM2 = "elementary_mathematics-redux-1", "elementary_mathematics-redux-2"
CP1, CP2 = "conceptual_physics-test-1", "conceptual_physics-test-2"
EM, CP = "elementary_mathematics", "conceptual_physics"
GPT, LLAMA = "gpt-4o", "llama-3.1-8b"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def release():
    return load_release(RELEASE)


@pytest.fixture(scope="module")
def clean(release):
    return clean_user_answers(release.answers)


def row(frame: pd.DataFrame, **where: str) -> dict:
    """The one row of ``frame`` matching every ``column=value``."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    (found,) = frame[mask].to_dict("records")
    return found


def copy_release(tmp_path: Path) -> Path:
    target = tmp_path / "ChatBench"
    shutil.copytree(RELEASE, target)
    return target


# --- loaders ----------------------------------------------------------------------------------


def test_release_reads_every_file(release):
    assert list(release.questions["question_id"]) == [EM1, EM2, CP1, CP2]
    assert set(release.questions["subject"]) == {EM, CP}
    assert len(release.ai_alone) == 8 * 3  # 4 questions x 2 models, one row per method
    assert len(release.answers) == 43 and len(release.answers_filtered) == 26
    assert len(release.conversations) == 18
    assert set(release.answers["answer_type"]) == {"user-alone", "user-AI"}
    assert set(release.answers["condition"]) == {"direct-to-AI", "answer-first"}


def test_ai_alone_long_form_keeps_blanks_and_optional_columns(release):
    ai = release.ai_alone
    blank = row(ai, model=LLAMA, question_id=CP2, method="free_text")
    assert math.isnan(blank["acc"]) and blank["count"] == 0
    zero_shot = row(ai, model=GPT, question_id=EM2, method="letter_only_zero_shot")
    assert zero_shot["acc"] == 0.5 and zero_shot["invalid"] == 1
    assert zero_shot["acc_valid"] == pytest.approx(2 / 3, abs=1e-4)
    assert row(ai, model=GPT, question_id=CP1, method="free_text")["subject"] == CP


def test_answers_in_the_authors_spelling(tmp_path):
    # the authors' code names: questionID -> question_id here, userAIAnswer, onlyAI/answerFirst
    # conditions (matched by prefix), and no acc column: acc = selectedAnswer == correctAnswer
    path = tmp_path / "answers.csv"
    path.write_text(
        "worker_id,model,condition,answer_type,question_id,selectedAnswer,correctAnswer\n"
        f"w1,gpt-4o,answerFirst_allowCopy,userAnswer,{EM1},b,B\n"
        f"w1,gpt-4o,answerFirst_allowCopy,userAIAnswer,{EM1},C,B\n"
        f"w2,gpt-4o,onlyAI,userAIAnswer,{CP1},A,A\n", encoding="utf-8")
    answers = load_user_answers(path)
    assert list(answers["answer_type"]) == ["user-alone", "user-AI", "user-AI"]
    assert list(answers["condition"]) == ["answer-first", "answer-first", "direct-to-AI"]
    assert list(answers["acc"]) == [1.0, 0.0, 1.0]
    assert list(answers["dataset"]) == [EM, EM, CP] and list(answers["line"]) == [2, 3, 4]


def test_conversations_as_a_list_or_keyed_by_question_id(tmp_path):
    records = json.loads((RELEASE / "full_study" / "conversations.json").read_text())
    keyed: dict[str, list[dict]] = {}
    for record in records:
        keyed.setdefault(record["questionID"], []).append(
            {k: v for k, v in record.items() if k != "questionID"})
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(keyed), encoding="utf-8")
    as_list = load_conversations(RELEASE / "full_study" / "conversations.json")
    as_dict = load_conversations(path)
    columns = ["question_id", "model", "condition", "worker_id", "user_turns", "correct"]
    key = ["question_id", "worker_id"]
    pd.testing.assert_frame_equal(
        as_list[columns].sort_values(key).reset_index(drop=True),
        as_dict[columns].sort_values(key).reset_index(drop=True))
    # w03's CP2 chat has 5 user messages; w04's CP2 chat is empty but kept (0 turns)
    assert row(as_list, worker_id="w03", question_id=CP2)["user_turns"] == 5
    assert row(as_list, worker_id="w04", question_id=CP2)["user_turns"] == 0


def test_keyed_conversations_must_agree_with_their_key(tmp_path):
    record = json.loads((RELEASE / "full_study" / "conversations.json").read_text())[0]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps({EM2: [record]}), encoding="utf-8")  # the record is EM1's
    with pytest.raises(ConfigError, match=r"question 'elementary_mathematics-redux-2', "
                                          r"record 0: questionID"):
        load_conversations(path)
    path.write_text(json.dumps({"records": [record]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a JSON list of records, or an object"):
        load_conversations(path)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BAD_FILES = [
    # (file, old text, new text, the message names ...)
    ("ai_alone_answers.csv", "free_text_acc,", "free_text_accuracy,",
     r"ai_alone_answers.csv, line 1: missing column\(s\) 'free_text_acc'"),
    ("ai_alone_answers.csv", "gpt-4o,4,1.0", "gpt-4o,4,high",
     r"ai_alone_answers.csv, line 2: column 'letter_only_zero_shot_acc': 'high' is not a "
     r"number"),
    ("questions.csv", "questionID,", "qid,",
     r"questions.csv, line 1: missing column\(s\) 'question_id' or 'questionID'"),
    ("full_study/user_answers.csv", ",answer_type,", ",kind,",
     r"user_answers.csv, line 1: missing column\(s\) 'answer_type'"),
    ("full_study/user_answers.csv", "2,user-AI,conceptual", "2,with-AI,conceptual",
     r"user_answers.csv, line 3: column 'answer_type': unknown value 'with-AI'"),
    ("full_study/user_answers.csv", "C,A,0,very", "C,A,maybe,very",
     r"user_answers.csv, line 3: column 'acc': 'maybe' is not 0/1"),
    ("full_study/user_answers.csv", "direct-to-AI,physics,1,3", "by-email,physics,1,3",
     r"user_answers.csv, line 2: column 'condition': unknown value 'by-email'"),
    ("full_study/conversations.json", '"selectedAnswer": "B"', '"selectedAnswer": "Z"',
     r"conversations.json, record 0: field 'selectedAnswer'"),
    ("full_study/conversations.json", "[\n", "[\n{,",
     r"conversations.json, line 2: invalid JSON"),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), BAD_FILES)
def test_bad_files_name_the_file_and_the_line_or_column(tmp_path, name, old, new, message):
    folder = copy_release(tmp_path)
    _replace(folder / name, old, new)
    with pytest.raises(ConfigError, match=message):
        load_release(folder)


def test_missing_files_and_folder(tmp_path):
    folder = copy_release(tmp_path)
    (folder / "full_study" / "user_answers_filtered.csv").unlink()  # optional
    assert load_release(folder).answers_filtered is None
    (folder / "full_study" / "conversations.json").unlink()
    with pytest.raises(ConfigError, match=r"conversations.json: file not found"):
        load_release(folder)
    with pytest.raises(ConfigError, match="not a folder"):
        load_release(tmp_path / "nowhere")


def test_a_row_with_missing_fields_names_its_line(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("worker_id,model,condition,answer_type,questionID,acc\n"
                    f"w1,gpt-4o,direct-to-AI,user-AI,{EM1},1\nw2,gpt-4o\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"answers.csv, line 3: expected 6 fields"):
        load_user_answers(path)


# --- cleaning (make_clean_data.py) ----------------------------------------------------------


def _keys(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(frame[["worker_id", "question_id", "answer_type"]].itertuples(index=False))


def test_cleaning_steps_count_rows_and_workers(clean):
    # 43 rows of 12 workers; 12 attention-check rows (every worker but w12, and w02 twice);
    # w10 (RETURNED) leaves 1 row; w09 (failed check) and w12 (no check) 1 row each;
    # w02's second assignment 1 row; w04's repeated CP2 user-AI row 1 row
    assert [(s.rows, s.workers) for s in clean.steps] == [
        (43, 12), (31, 12), (30, 11), (28, 9), (27, 9), (26, 9)]
    assert clean.steps[4].note == "1 workers had more than one"


def test_cleaning_drops_attention_checks_and_the_workers_who_fail_or_lack_them(clean):
    kept = set(clean.answers["worker_id"])
    assert "example-1" not in set(clean.answers["question_id"])
    assert {"w09", "w12"}.isdisjoint(kept)  # w09 answered B (wrong), w12 has no check
    assert {"w01", "w13"} <= kept


def test_cleaning_keeps_finished_workers_by_prolific_status(clean):
    kept = set(clean.answers["worker_id"])
    assert "w10" not in kept  # RETURNED
    assert "w03" in kept  # AWAITING REVIEW counts as finished, as APPROVED


def test_cleaning_keeps_the_first_assignment_in_time_order(clean):
    # w02's physics rows (batch 1) come first in the file but have later timestamps
    w02 = clean.answers[clean.answers["worker_id"] == "w02"]
    assert set(w02["subject"]) == {"math"}
    assert _keys(w02) == {("w02", EM2, "user-alone"), ("w02", EM1, "user-AI"),
                          ("w02", EM2, "user-AI")}


def test_without_timestamps_the_file_order_decides(release):
    answers = release.answers.drop(columns="timestamp")
    w02 = clean_user_answers(answers).answers.query("worker_id == 'w02'")
    assert _keys(w02) == {("w02", CP1, "user-AI")}


def test_cleaning_drops_duplicate_rows(clean):
    w04 = clean.answers[clean.answers["worker_id"] == "w04"]
    assert len(w04) == 2 and list(w04["question_id"]) == [CP1, CP2]


def test_cleaning_reproduces_the_released_filtered_file(release, clean):
    assert _keys(clean.answers) == _keys(release.answers_filtered)
    assert len(clean.answers) == len(release.answers_filtered)


def test_finished_rule_from_a_finished_column_or_skipped(release):
    answers = release.answers.drop(columns="status")
    skipped = clean_user_answers(answers)
    assert skipped.steps[2].rows == 31 and skipped.steps[2].note.startswith("skipped")
    assert "w10" in set(skipped.answers["worker_id"])
    flagged = answers.assign(finished=(release.answers["worker_id"] != "w10").map(str))
    assert "w10" not in set(clean_user_answers(flagged).answers["worker_id"])


def test_duplicates_that_disagree_are_an_error(release):
    answers = release.answers.copy()
    last = answers.index[(answers["worker_id"] == "w04") & (answers["question_id"] == CP2)][-1]
    answers.loc[last, "selected_answer"] = "C"
    with pytest.raises(ConfigError, match="differing answers for worker 'w04'"):
        clean_user_answers(answers)


# --- analyses ---------------------------------------------------------------------------------


def test_question_summary_is_the_mean_of_question_means_with_population_std():
    # q1: 1, 1, 0 -> 2/3; q2: 0 -> 0; mean (2/3 + 0) / 2 = 1/3 (pooled would be 2/4)
    # SE = pstdev([2/3, 0]) / sqrt(2) = (1/3) / sqrt(2), as np.std (ddof=0) in the code
    summary = question_summary(pd.Series(["q1", "q1", "q1", "q2"]),
                               pd.Series([1.0, 1.0, 0.0, 0.0]))
    se = statistics.pstdev([2 / 3, 0]) / math.sqrt(2)
    assert summary == pytest.approx({"questions": 2, "answers": 4, "accuracy": 1 / 3,
                                     "se": se, "ci_low": 1 / 3 - 1.96 * se,
                                     "ci_high": 1 / 3 + 1.96 * se})


def test_accuracy_table_user_rows(release, clean):
    table = accuracy_table(clean.answers, release.ai_alone)
    # gpt-4o EM direct-to-AI: EM1 w02 right, w13 right -> 1; EM2 w02 wrong -> 0 (w09 dropped)
    # mean (1 + 0) / 2 = 0.5 (3 answers); SE = pstdev([1, 0]) / sqrt 2 = 0.5 / 1.41421
    direct = row(table, model=GPT, subject=EM, condition="User-AI, direct-to-AI")
    assert (direct["questions"], direct["answers"]) == (2, 3)
    assert direct["accuracy"] == 0.5 and direct["se"] == pytest.approx(0.353553, abs=1e-6)
    assert direct["ci_low"] == pytest.approx(0.5 - 1.96 * 0.353553, abs=1e-5)
    # gpt-4o EM user-alone: EM1 w01 right -> 1; EM2 w01 wrong, w02 (phase 1) right -> 0.5
    # mean 0.75, SE pstdev([1, .5]) / sqrt 2 = 0.25 / 1.41421 = 0.176777
    alone = row(table, model=GPT, subject=EM, condition="User-alone")
    assert (alone["questions"], alone["answers"], alone["accuracy"]) == (2, 3, 0.75)
    assert alone["se"] == pytest.approx(0.176777, abs=1e-6)
    # gpt-4o CP answer-first: w03 CP1 B (wrong), CP2 B (wrong) -> 0
    assert row(table, model=GPT, subject=CP, condition="User-AI, answer-first")["accuracy"] == 0
    # llama CP direct: w08 CP1 wrong, CP2 right -> 0.5 (w12 dropped)
    assert row(table, model=LLAMA, subject=CP, condition="User-AI, direct-to-AI")[
        "accuracy"] == 0.5


def test_accuracy_table_ai_alone_rows(release, clean):
    table = accuracy_table(clean.answers, release.ai_alone)
    # gpt-4o CP few-shot: [1.0, 0.25] -> 0.625, SE pstdev = 0.375 / sqrt 2 = 0.265165
    few = row(table, model=GPT, subject=CP, condition="AI-alone, letter-only few-shot")
    assert few["accuracy"] == 0.625 and few["se"] == pytest.approx(0.265165, abs=1e-6)
    assert few["answers"] == 8  # letter_only_few_shot_count: 4 + 4
    # llama CP free-text: CP2 is blank -> left out: 1 question (CP1, 1.0), 4 answers
    free = row(table, model=LLAMA, subject=CP, condition="AI-alone, free-text")
    assert (free["questions"], free["answers"], free["accuracy"], free["se"]) == (1, 4, 1, 0)
    # order: per model (gpt-4o first), per subject in the paper's order, AI-alone then users
    first = table[(table["model"] == GPT) & (table["subject"] == EM)]["condition"].tolist()
    assert first == ["AI-alone, letter-only zero-shot", "AI-alone, letter-only few-shot",
                     "AI-alone, free-text", "User-alone", "User-AI, direct-to-AI",
                     "User-AI, answer-first"]
    assert list(dict.fromkeys(table["subject"])) == [EM, CP]


def test_answer_first_transitions(clean):
    table = transitions(clean.answers)
    # pairs (alone -> with AI): gpt-4o w01 EM1 R->R, EM2 W->R (fixed); w03 CP1 R->W (misled),
    # CP2 W->W. llama w05 EM1 W->R (fixed), EM2 R->R; w07 CP1 R->R, CP2 R->W (misled).
    # fixed rate = fixed / wrong alone; misled rate = misled / right alone
    expected = [
        (GPT, EM, 2, 1, 1, 1.0, 1, 0, 0.0),
        (GPT, CP, 2, 1, 0, 0.0, 1, 1, 1.0),
        (GPT, "all", 4, 2, 1, 0.5, 2, 1, 0.5),  # 1/2 fixed, 1/2 misled
        (LLAMA, EM, 2, 1, 1, 1.0, 1, 0, 0.0),
        (LLAMA, CP, 2, 0, 0, math.nan, 2, 1, 0.5),  # nothing wrong alone: no fixed rate
        (LLAMA, "all", 4, 1, 1, 1.0, 3, 1, 1 / 3),
    ]
    got = list(table.itertuples(index=False, name=None))
    assert len(got) == len(expected)
    for actual, wanted in zip(got, expected, strict=True):
        assert actual[:5] == wanted[:5] and actual[6:8] == wanted[6:8]
        assert actual[5] == pytest.approx(wanted[5], nan_ok=True)
        assert actual[8] == pytest.approx(wanted[8])


def test_agreement_of_ai_alone_with_real_users(release, clean):
    table = agreement_table(clean.answers, release.ai_alone)
    # users' user-AI accuracy per question, both conditions pooled:
    #   gpt-4o: EM1 (w01 R, w02 R, w13 R) 1; EM2 (w01 R, w02 W) .5; CP1 (w03 W, w04 R) .5;
    #           CP2 (w03 W, w04 R) .5
    #   llama:  EM1 (w05 R, w06 W) .5; EM2 (w05 R, w06 R) 1; CP1 (w07 R, w08 W) .5;
    #           CP2 (w07 W, w08 R) .5
    # gpt-4o free-text [1, 1, .5, .5] vs [1, .5, .5, .5]: dx = [.25, .25, -.25, -.25],
    #   dy = [.375, -.125, -.125, -.125]; r = .125 / sqrt(.25 * .1875) = 0.57735;
    #   MAE = (0 + .5 + 0 + 0) / 4 = .125
    free = row(table, model=GPT, method="AI-alone, free-text")
    assert free["questions"] == 4
    assert (free["r"], free["mae"]) == pytest.approx((0.57735, 0.125), abs=1e-5)
    # llama zero-shot [.5, 0, .75, .25] vs [.5, 1, .5, .5]: sum dx dy = -.1875,
    #   sum dx^2 = .3125, sum dy^2 = .1875 -> r = -0.774597; MAE = (0+1+.25+.25)/4 = .375
    zero = row(table, model=LLAMA, method="AI-alone, letter-only zero-shot")
    assert (zero["r"], zero["mae"]) == pytest.approx((-0.774597, 0.375), abs=1e-5)
    # llama free-text has no CP2 value: 3 questions
    assert row(table, model=LLAMA, method="AI-alone, free-text")["questions"] == 3


def test_conversation_lengths(release):
    table = length_table(release.conversations)
    # gpt-4o direct-to-AI: user turns [2, 1, 3, 1, 0, 1] (w09's chat is kept: conversations
    # are not cleaned, as in the code) -> mean 8/6, median 1, max 3;
    # SE = np.std / sqrt 6 = sqrt(5.3333 / 6) / 2.44949 = 0.384900
    direct = row(table, model=GPT, condition="direct-to-AI")
    assert direct["conversations"] == 6 and direct["mean"] == pytest.approx(8 / 6)
    assert direct["se"] == pytest.approx(0.384900, abs=1e-6)
    assert (direct["median"], direct["max"]) == (1, 3)
    assert [direct[b] for b in ("0", "1", "2", "3", "4", "5+")] == [1, 3, 1, 1, 0, 0]
    # the paper's chat length counts every message: these chats alternate, so twice the turns
    assert direct["messages"] == pytest.approx(16 / 6)
    assert direct["messages_se"] == pytest.approx(2 * 0.384900, abs=1e-6)
    # gpt-4o answer-first: [1, 2, 1, 5] -> mean 2.25, median 1.5, one chat of 5+ turns
    first = row(table, model=GPT, condition="answer-first")
    assert (first["mean"], first["median"], first["5+"]) == (2.25, 1.5, 1)
    assert list(table["source"].unique()) == ["ChatBench"] and len(table) == 4


# --- chatbench runs ---------------------------------------------------------------------------


def test_runs_are_matched_to_the_model_their_assistant_names():
    assert chatbench_models("openai:gpt-4o") == [GPT]
    assert chatbench_models("openai:gpt-4o-2024-08-06") == [GPT]
    assert chatbench_models("hf:meta-llama/Meta-Llama-3.1-8B-Instruct") == [LLAMA]
    assert chatbench_models("openai:gpt-4o-mini") == [GPT, LLAMA]  # not gpt-4o: both
    assert chatbench_models("fake:echo") == [GPT, LLAMA]
    assert chatbench_models("fake:echo", LLAMA) == [LLAMA]


def _run_records() -> list:
    """Run ``run/two_step`` on openai:gpt-4o and ``run/echo`` on fake:echo (answer A is right;
    ``choices`` has one entry per assistant turn)."""
    def rec(qid: str, rep: int, choice: str | None, turns: int, **kw):
        return make_record(qid, "two_step", final_choice=choice, replicate=rep,
                           choices=["A"] * turns, subject=qid.split("-")[0],
                           assistant="openai:gpt-4o", **kw)
    return [
        rec(EM1, 0, "A", 1), rec(EM1, 1, "A", 2),  # EM1: 1.0
        rec(EM2, 0, "A", 1), rec(EM2, 1, "B", 1),  # EM2: 0.5
        rec(CP1, 0, "B", 3), rec(CP1, 1, None, 0),  # CP1: 0.0 (the no-answer is left out)
        rec(CP2, 0, "A", 1), rec(CP2, 1, None, 1, failed=True),  # CP2: 1.0 (failure left out)
        rec("moral_scenarios-test-9", 0, "A", 1),  # not in the release: no join
        make_record(EM1, "echo", assistant="fake:echo", subject=EM, choices=["A"]),
    ]


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "runs.sqlite"
    with ResultStore(path) as opened:
        for record in _run_records():
            opened.write(record)
    return path


def test_runs_join_the_analyses(release, store):
    result = analyze(release, load_runs(store))
    # two_step per question [EM1 1, EM2 .5, CP1 0, CP2 1] vs gpt-4o users [1, .5, .5, .5]:
    #   dx = [.375, -.125, -.625, .375], dy = [.375, -.125, -.125, -.125];
    #   r = .1875 / sqrt(.6875 * .1875) = 0.522233; MAE = (0 + 0 + .5 + .5) / 4 = .25
    run = row(result.agreement, model=GPT, method="chatbench: run/two_step")
    assert run["questions"] == 4
    assert (run["r"], run["mae"], run["method_mean"]) == pytest.approx((0.522233, 0.25, .625))
    assert (result.agreement["method"] == "chatbench: run/two_step").sum() == 1  # gpt-4o only
    # echo (fake:echo) names no study model: compared with both. EM1 right vs gpt-4o users 1
    # (MAE 0) and llama users .5 (MAE .5); one question: no r
    echo = result.agreement[result.agreement["method"] == "chatbench: run/echo (fake:echo)"]
    assert list(echo["model"]) == [GPT, LLAMA] and list(echo["mae"]) == [0.0, 0.5]
    assert echo["r"].isna().all()
    # accuracy: EM [1, .5] -> .75 from 4 answers; CP [0, 1] -> .5 from 2 scored answers
    acc = result.accuracy
    em = row(acc, model=GPT, subject=EM, condition="chatbench: run/two_step")
    assert (em["questions"], em["answers"], em["accuracy"]) == (2, 4, 0.75)
    cp = row(acc, model=GPT, subject=CP, condition="chatbench: run/two_step")
    assert (cp["questions"], cp["answers"], cp["accuracy"]) == (2, 2, 0.5)
    assert row(acc, model="fake:echo", subject=EM,
               condition="chatbench: run/echo (fake:echo)")["accuracy"] == 1.0
    # a run's rows sit under the study's rows of their model and subject; others come last
    cells = list(acc[["model", "subject"]].itertuples(index=False, name=None))
    assert cells[:7] == [(GPT, EM)] * 7  # 3 AI-alone + 3 user rows + the run, together
    assert acc["condition"].tolist()[cells.index((GPT, CP)) - 1] == "chatbench: run/two_step"
    assert cells[-1] == ("fake:echo", EM)
    # lengths: assistant turns of the 8 non-failed two_step chats [1,2,1,1,3,0,1,1]: mean 1.25
    lengths = row(result.lengths, source="chatbench run", condition="run/two_step")
    assert (lengths["conversations"], lengths["mean"], lengths["max"]) == (8, 1.25, 3)
    # messages: each chat's user and assistant messages, the final answer left out; the
    # no-answer chat's last user message is no answer, so it counts: [2,4,2,2,6,1,2,2]
    assert lengths["messages"] == pytest.approx(21 / 8)
    assert [lengths[b] for b in ("0", "1", "2", "3")] == [1, 5, 1, 1]


def test_model_option_sets_the_comparison(release, store):
    result = analyze(release, load_runs(store), model=GPT)
    echo = result.agreement[result.agreement["method"].str.contains("echo")]
    assert list(echo["model"]) == [GPT]
    assert set(result.accuracy.loc[result.accuracy["condition"].str.contains("echo"),
                                   "model"]) == {GPT}
    with pytest.raises(ConfigError, match="unknown ChatBench model 'gpt-5'"):
        analyze(release, load_runs(store), model="gpt-5")


def test_bad_stores(tmp_path, store):
    with pytest.raises(ConfigError, match="no such result store"):
        load_runs(tmp_path / "missing.sqlite")
    with pytest.raises(ConfigError, match="no conversations of run 'other'"):
        load_runs(store, "other")


def test_filtered_answers_as_released(release):
    result = analyze(release, source="filtered")
    assert result.cleaning == () and len(result.answers) == 26
    assert result.accuracy.equals(analyze(release).accuracy)


# --- the command ------------------------------------------------------------------------------


def test_paper_command_prints_every_table_and_writes_the_figure(tmp_path, store):
    from chatbench.cli import app

    figure = tmp_path / "figures" / "accuracy.png"
    result = CliRunner().invoke(app, ["paper", str(RELEASE), "--runs", str(store),
                                      "--figure", str(figure)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    output = result.output
    for text in ("cleaning", "accuracy by subject", "answer-first transitions",
                 "Pearson r", "conversation length", "same rows as cleaned here",
                 "run/two_step", "0.522", "0.577", "0.354"):
        assert text in output, text
    # the CI is mean +/- 1.96 SE as the authors' code reports it: 0.750 + 1.96 x 0.177 > 1
    assert "[0.404, 1.096]" in output and "unclipped" in output
    assert figure.read_bytes().startswith(PNG)


def test_paper_command_uses_the_filtered_file_on_request(tmp_path):
    from chatbench.cli import app

    result = CliRunner().invoke(app, ["paper", str(RELEASE), "--answers", "filtered"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "user_answers_filtered.csv as released" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere"], "nowhere: not a folder"),
        ([str(RELEASE), "--answers", "raw"], "unknown answers source 'raw'"),
        ([str(RELEASE), "--runs", "missing.sqlite"], "missing.sqlite: no such result store"),
    ],
)
def test_paper_command_mistakes_exit_2(monkeypatch, capsys, args, message):
    from chatbench import cli

    monkeypatch.setattr(sys, "argv", ["chatbench", "paper", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    output = " ".join(capsys.readouterr().out.split())
    assert message in output and "Traceback" not in output
