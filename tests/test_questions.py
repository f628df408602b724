"""Tests of the question loaders in ``chatbench.data.questions``."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pytest

from chatbench.data.questions import (
    SUBJECTS,
    TEST_ID_SUBJECTS,
    Question,
    content_key,
    load_bundled,
    load_few_shot,
    load_jsonl,
    load_mmlu_csv,
    load_questions,
    load_redux_csv,
    mmlu_test_rows,
)
from chatbench.errors import ConfigError

REDUX_HEADER = "question,choices,answer,error_type,source,correct_answer,potential_reason\n"


def _expected_ok_counts() -> dict[str, int]:
    """Count ``ok`` rows per subject straight from the bundled CSVs, independently of the loader."""
    counts = {}
    folder = files("chatbench") / "_data" / "questions" / "mmlu_redux"
    for subject in SUBJECTS:
        text = (folder / f"mmlu_{subject}.csv").read_text(encoding="utf-8")
        rows = csv.DictReader(text.splitlines(keepends=True))
        counts[subject] = sum(row["error_type"].strip().lower() == "ok" for row in rows)
    return counts


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, *objects: object) -> Path:
    return _write(path, "".join(json.dumps(obj) + "\n" for obj in objects))


# ---- bundled data ----------------------------------------------------------------------------


def test_bundled_counts_per_subject_drop_flagged_rows() -> None:
    expected = _expected_ok_counts()
    questions = load_bundled()
    assert dict(Counter(q.subject for q in questions)) == expected
    assert 450 <= len(questions) <= 500
    assert len(load_bundled(include_flagged=True)) == 500


def test_bundled_ids_stable_whether_or_not_flagged_rows_are_dropped() -> None:
    kept = load_bundled(["conceptual_physics"])
    everything = {q.id: q for q in load_bundled(["conceptual_physics"], include_flagged=True)}
    assert len(everything) == 100
    assert set(everything) == {f"conceptual_physics-redux-{i}" for i in range(100)}
    assert all(everything[q.id] == q for q in kept)
    assert [q.id for q in load_bundled(["conceptual_physics"])] == [q.id for q in kept]


def test_bundled_answer_letters_and_choices_are_valid() -> None:
    questions = load_bundled(include_flagged=True)
    assert all(len(q.choices) == 4 and q.answer in "ABCD" for q in questions)
    assert len({q.id for q in questions}) == len(questions)
    assert set(Counter(q.answer for q in questions)) == set("ABCD")


def test_bundled_first_row_matches_file() -> None:
    first = load_bundled(["elementary_mathematics"])[0]
    assert first.id == "elementary_mathematics-redux-0"
    assert first.choices == ("44,500", "48,900", "95,000", "99,000")
    assert first.answer == "D"


def test_bundled_unknown_subject_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="astrology") as info:
        load_bundled(["astrology"])
    assert all(subject in str(info.value) for subject in SUBJECTS)


def test_few_shot_has_five_examples_per_subject() -> None:
    for subject in SUBJECTS:
        examples = load_few_shot(subject)
        assert len(examples) == 5
        assert [q.id for q in examples] == [f"{subject}-dev-{i}" for i in range(5)]
        assert all(q.subject == subject and q.answer in "ABCD" for q in examples)
    with pytest.raises(ConfigError, match="nope"):
        load_few_shot("nope")


# ---- load_questions ---------------------------------------------------------------------------


def test_limit_interleaves_subjects_round_robin() -> None:
    five = load_questions(limit=5)
    assert [q.subject for q in five] == list(SUBJECTS)
    assert [q.id for q in five] == [q.id for q in load_questions("mmlu_redux", limit=5)]
    seven = load_questions(limit=7)
    assert [q.id for q in seven[:5]] == [q.id for q in five]
    assert [q.subject for q in seven[5:]] == list(SUBJECTS[:2])


def test_subjects_filter_and_order() -> None:
    questions = load_questions(subjects=["moral_scenarios", "college_mathematics"], limit=4)
    assert [q.subject for q in questions] == ["moral_scenarios", "college_mathematics"] * 2
    assert (
        len(load_questions(subjects=["moral_scenarios"]))
        == _expected_ok_counts()["moral_scenarios"]
    )


def test_bad_limit() -> None:
    with pytest.raises(ConfigError, match="limit"):
        load_questions(limit=0)


def test_load_questions_dispatches_by_file_type(tmp_path: Path) -> None:
    mmlu = _write(tmp_path / "algebra_test.csv", 'What is 1+1?,1,2,3,4,B\n"x?",a,b,c,d,a\n')
    redux = _write(
        tmp_path / "mmlu_algebra.csv", REDUX_HEADER + "\"1+1?\",\"['1', '2']\",1,ok,,,\n"
    )
    lines = _jsonl(
        tmp_path / "q.jsonl", {"id": "a", "question": "?", "choices": ["x", "y"], "answer": 0}
    )
    assert [q.id for q in load_questions(mmlu)] == ["algebra-test-0", "algebra-test-1"]
    assert [q.id for q in load_questions(str(redux))] == ["algebra-redux-0"]
    assert [q.answer for q in load_questions(lines)] == ["A"]


def test_load_questions_interleaves_file_subjects(tmp_path: Path) -> None:
    rows = [
        {"id": f"{s}{i}", "subject": s, "question": "?", "choices": ["x", "y"], "answer": "a"}
        for s in ("p", "q")
        for i in range(3)
    ]
    path = _jsonl(tmp_path / "q.jsonl", *rows)
    assert [q.id for q in load_questions(path, limit=3)] == ["p0", "q0", "p1"]
    assert [q.id for q in load_questions(path, subjects=["q"])] == ["q0", "q1", "q2"]
    with pytest.raises(ConfigError, match="'r'") as info:
        load_questions(path, subjects=["r"])
    assert "q.jsonl" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    for name in ("absent.csv", "absent.jsonl", "absent"):
        with pytest.raises(ConfigError, match="not found") as info:
            load_questions(tmp_path / name)
        assert name in str(info.value)


def test_unknown_file_type(tmp_path: Path) -> None:
    path = _write(tmp_path / "questions.txt", "hello\n")
    with pytest.raises(ConfigError, match=r"questions\.txt.*unknown question file type '\.txt'"):
        load_questions(path)


# ---- each loader on a small good file ---------------------------------------------------------


def test_load_mmlu_csv(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "college_mathematics_val.csv",
        '"Two\nlines?",a,b,c,d,C\n\nWhat?,w,x,y,z, d \n',
    )
    questions = load_mmlu_csv(path)
    assert questions == [
        Question(
            id="college_mathematics-val-0",
            subject="college_mathematics",
            stem="Two\nlines?",
            choices=("a", "b", "c", "d"),
            answer="C",
        ),
        Question(
            id="college_mathematics-val-1",
            subject="college_mathematics",
            stem="What?",
            choices=("w", "x", "y", "z"),
            answer="D",
        ),
    ]
    plain = load_mmlu_csv(_write(tmp_path / "physics.csv", "Q?,a,b,c,d,A\n"), subject="phys")
    assert plain[0].id == "phys-mmlu-0" and plain[0].subject == "phys"


def test_load_redux_csv(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mmlu_algebra.csv",
        REDUX_HEADER
        + "\"1+1?\",\"['1', '2', '3']\",1,OK,,,\n"
        + "\"Flagged?\",\"['a', 'b']\",0,Wrong Groundtruth,,1,\n"
        + "\"2+2?\",\"['4', '5']\",0, Ok ,,,\n",
    )
    questions = load_redux_csv(path)
    assert [(q.id, q.subject, q.answer) for q in questions] == [
        ("algebra-redux-0", "algebra", "B"),
        ("algebra-redux-2", "algebra", "A"),
    ]
    assert questions[0].choices == ("1", "2", "3")
    flagged = load_redux_csv(path, "alg", include_flagged=True)
    assert [q.id for q in flagged] == ["alg-redux-0", "alg-redux-1", "alg-redux-2"]


def test_load_jsonl(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "questions.jsonl",
        '{"id": "q1", "question": "2+2?", "choices": ["3", "4"], "answer": "b"}\n'
        "\n"
        '{"id": 7, "subject": "math", "question": "1+0?", "choices": ["0", "1", "2"], '
        '"answer": 1}\n',
    )
    questions = load_jsonl(path)
    assert [(q.id, q.subject, q.answer) for q in questions] == [("q1", "", "B"), ("7", "math", "B")]
    assert questions[1].choices == ("0", "1", "2")


# ---- bad inputs: the message names the file and the line -------------------------------------


def _raises(loader: Callable[[Path], object], path: Path, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        loader(path)
    message = str(info.value)
    assert path.name in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_redux_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "mmlu_x.csv", "question,answer,error_type\nQ?,0,ok\n")
    _raises(load_redux_csv, path, "line 1", "missing column", "'choices'")
    _raises(
        load_questions,
        _write(tmp_path / "x.csv", "question,choices,answer\n"),
        "line 1",
        "'error_type'",
    )


def test_mmlu_wrong_number_of_fields(tmp_path: Path) -> None:
    path = _write(tmp_path / "x_test.csv", 'Q?,a,b,c,d,A\n"multi\nline",a,b,c,d,B\nQ?,a,b,c,A\n')
    _raises(load_mmlu_csv, path, "line 4", "expected 6 fields", "got 5")
    _raises(load_questions, path, "line 4")


def test_redux_wrong_number_of_fields(tmp_path: Path) -> None:
    path = _write(tmp_path / "mmlu_x.csv", REDUX_HEADER + "\"Q?\",\"['a', 'b']\",0,ok\n")
    _raises(load_redux_csv, path, "line 2", "expected 7 fields", "got 4")


def test_malformed_csv(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", 'Q?,a,b,c,d,A\n"unclosed,a,b,c,d,A\n')
    _raises(load_mmlu_csv, path, "line 2", "malformed CSV")


def test_bad_json_line(tmp_path: Path) -> None:
    good = {"id": "a", "question": "?", "choices": ["x", "y"], "answer": "A"}
    path = _write(tmp_path / "q.jsonl", json.dumps(good) + "\n\n{not json}\n")
    _raises(load_jsonl, path, "line 3", "invalid JSON")
    _raises(load_questions, path, "line 3")


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [("E", "'E' is not one of the option letters ABCD"), (4, "4 is not a valid option index")],
)
def test_bad_answer_jsonl(tmp_path: Path, answer: object, fragment: str) -> None:
    good = {"id": "a", "question": "?", "choices": ["w", "x", "y", "z"], "answer": "A"}
    path = _jsonl(tmp_path / "questions.jsonl", good, {**good, "id": "b", "answer": answer})
    message = _raises(load_jsonl, path, "line 2", "field 'answer'", fragment)
    assert message == f"{path}, line 2: field 'answer': {fragment}" + (
        " (0-3)" if answer == 4 else ""
    )


def test_bad_answer_csv(tmp_path: Path) -> None:
    _raises(
        load_mmlu_csv,
        _write(tmp_path / "x.csv", "Q?,a,b,c,d,E\n"),
        "line 1",
        "field 'answer'",
        "'E'",
    )
    redux = _write(tmp_path / "mmlu_x.csv", REDUX_HEADER + "\"Q?\",\"['a', 'b']\",2,ok,,,\n")
    _raises(load_redux_csv, redux, "line 2", "field 'answer'", "2 is not a valid option index")


def test_bad_fields(tmp_path: Path) -> None:
    redux = _write(tmp_path / "mmlu_x.csv", REDUX_HEADER + '"Q?","[a, b",0,ok,,,\n')
    _raises(load_redux_csv, redux, "line 2", "field 'choices'")
    one = _jsonl(
        tmp_path / "one.jsonl", {"id": "a", "question": "?", "choices": ["x"], "answer": 0}
    )
    _raises(load_jsonl, one, "line 1", "field 'choices'", "got 1")
    missing = _jsonl(tmp_path / "m.jsonl", {"id": "a", "choices": ["x", "y"], "answer": 0})
    _raises(load_jsonl, missing, "line 1", "missing field", "'question'")
    array = _write(tmp_path / "arr.jsonl", "[1, 2]\n")
    _raises(load_jsonl, array, "line 1", "expected a JSON object")


def test_duplicate_id(tmp_path: Path) -> None:
    row = {"id": "dup", "question": "?", "choices": ["x", "y"], "answer": "A"}
    other = {**row, "id": "other"}
    path = _jsonl(tmp_path / "questions.jsonl", row, other, row)
    _raises(load_jsonl, path, "line 3", "line 1", "'dup'")


def test_empty_and_undecodable_files(tmp_path: Path) -> None:
    _raises(load_jsonl, _write(tmp_path / "e.jsonl", "\n\n"), "no questions")
    _raises(load_mmlu_csv, _write(tmp_path / "e.csv", ""), "no questions")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"Q?,a,b,c,d,A\nCaf\xe9?,a,b,c,d,A\n")
    _raises(load_mmlu_csv, latin, "line 2", "UTF-8")


# ---- the paper's question ids -----------------------------------------------------------------

SHARED_MMLU_TEST = Path("/work/shared/data/mmlu/test")
"""MMLU's test CSVs, where this machine has them (never read by the package itself)."""


def _mapping_rows() -> list[dict[str, str]]:
    text = (files("chatbench") / "_data" / "questions" / "mmlu_redux_test_rows.csv").read_text(
        encoding="utf-8")
    return list(csv.DictReader(text.splitlines(keepends=True)))


def test_test_id_subjects_get_mmlu_test_ids_and_others_redux_ids() -> None:
    assert TEST_ID_SUBJECTS == ("high_school_mathematics", "college_mathematics")
    questions = load_bundled(include_flagged=True)
    for subject in SUBJECTS:
        ids = [q.id for q in questions if q.subject == subject]
        kind = "test" if subject in TEST_ID_SUBJECTS else "redux"
        assert len(set(ids)) == 100, subject
        assert all(re.fullmatch(rf"{subject}-{kind}-\d+", qid) for qid in ids), subject
    # the first bundled college-math row is MMLU college_mathematics test row 99
    assert load_bundled(["college_mathematics"], include_flagged=True)[0].id == (
        "college_mathematics-test-99")


def test_mapping_counts_and_the_one_unmatched_row() -> None:
    rows = _mapping_rows()
    assert len(rows) == 500
    unmatched = [(r["subject"], r["redux_row"]) for r in rows if not r["mmlu_test_row"]]
    assert unmatched == [("moral_scenarios", "11")]  # MMLU has a double space there
    for subject in TEST_ID_SUBJECTS:
        mine = [r for r in rows if r["subject"] == subject]
        assert len(mine) == 100 and all(r["mmlu_test_row"] for r in mine)
        assert len({r["mmlu_test_row"] for r in mine}) == 100
    assert len(mmlu_test_rows()) == 499


def test_mapping_keys_are_the_bundled_questions_content() -> None:
    rows = {(r["subject"], int(r["redux_row"])): r["content_key"] for r in _mapping_rows()}
    for subject in SUBJECTS:
        for i, q in enumerate(load_redux_csv(
                files("chatbench") / "_data" / "questions" / "mmlu_redux" / f"mmlu_{subject}.csv",
                include_flagged=True)):
            assert rows[(subject, i)] == content_key(q.stem, q.choices, q.answer)


def test_user_copy_of_a_redux_file_gets_the_same_ids(tmp_path: Path) -> None:
    source = files("chatbench") / "_data" / "questions" / "mmlu_redux"
    text = (source / "mmlu_high_school_mathematics.csv").read_text(encoding="utf-8")
    path = _write(tmp_path / "mmlu_high_school_mathematics.csv", text)
    bundled = load_bundled(["high_school_mathematics"])
    assert [q.id for q in load_redux_csv(path)] == [q.id for q in bundled]
    assert [q.id for q in load_questions(path)] == [q.id for q in bundled]


def test_a_redux_row_not_in_mmlu_keeps_its_redux_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "mmlu_college_mathematics.csv",
                  REDUX_HEADER + "\"Made up?\",\"['1', '2']\",1,ok,,,\n")
    assert [q.id for q in load_redux_csv(path)] == ["college_mathematics-redux-0"]


def test_load_mmlu_csv_ids_are_the_test_row_index(tmp_path: Path) -> None:
    path = _write(tmp_path / "college_mathematics_test.csv",
                  'A?,a,b,c,d,A\n"Two\nlines?",a,b,c,d,B\nC?,a,b,c,d,C\n')
    assert [q.id for q in load_mmlu_csv(path)] == [
        f"college_mathematics-test-{i}" for i in range(3)]


@pytest.mark.skipif(not SHARED_MMLU_TEST.is_dir(), reason="MMLU test CSVs not on this machine")
def test_paper_ids_name_the_mmlu_test_row_with_the_same_question() -> None:
    for subject in TEST_ID_SUBJECTS:
        mmlu = {q.id: q for q in load_mmlu_csv(SHARED_MMLU_TEST / f"{subject}_test.csv")}
        for q in load_bundled([subject], include_flagged=True):
            row = mmlu[q.id]
            assert (row.stem, row.choices, row.answer) == (q.stem, q.choices, q.answer)


@pytest.mark.skipif(not SHARED_MMLU_TEST.is_dir(), reason="MMLU test CSVs not on this machine")
def test_bundled_mapping_is_reproducible_from_mmlu() -> None:
    expected = []
    for subject in SUBJECTS:
        first_row: dict[str, int] = {}
        for q in load_mmlu_csv(SHARED_MMLU_TEST / f"{subject}_test.csv"):
            key = content_key(q.stem, q.choices, q.answer)
            first_row.setdefault(key, int(q.id.rsplit("-", 1)[1]))
        expected += [first_row.get(r["content_key"], "") for r in _mapping_rows()
                     if r["subject"] == subject]
    assert [r["mmlu_test_row"] for r in _mapping_rows()] == [str(row) for row in expected]
