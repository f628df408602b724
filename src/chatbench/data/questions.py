"""Multiple-choice questions: the ``Question`` model and loaders for bundled and user files.

The code lives in four modules; every name stays importable from here:

- ``question``: the ``Question`` model and its limits;
- ``rows``: CSV records and field checks shared by every file a user gives;
- ``question_formats``: the MMLU, MMLU-Redux and JSONL parsers and the bundled data files;
- ``question_loaders``: ``load_questions`` and the loaders of each source.
"""

# The public names of this part of the package, importable from one place (no private ones).
# ruff: noqa: F401

from __future__ import annotations

from chatbench.data.question import LETTERS, MAX_NAME_CHARS, MAX_TEXT_CHARS, Question, bounded_text
from chatbench.data.question_formats import (
    JSONL_FIELDS,
    JSONL_REQUIRED,
    MMLU_FIELDS,
    REDUX_COLUMNS,
    REDUX_REQUIRED,
    SPLIT_SUFFIX,
    TEST_ID_SUBJECTS,
    TEST_ROWS_FILE,
    bundled_text,
    content_key,
    jsonl_question,
    mmlu_test_rows,
    parse_jsonl,
    parse_mmlu,
    parse_redux,
    redux_answer,
    redux_choices,
    redux_columns,
    redux_id,
)
from chatbench.data.question_loaders import (
    BUNDLED,
    SUBJECTS,
    interleave,
    known_subjects,
    load_bundled,
    load_few_shot,
    load_file,
    load_jsonl,
    load_mmlu_csv,
    load_questions,
    load_redux_csv,
    present_subjects,
)
from chatbench.data.rows import (
    BadField,
    Row,
    answer_letter,
    checked_choices,
    checked_question,
    checked_text,
    csv_records,
    quoted_names,
    validated_row,
)

__all__ = [
    "BUNDLED",
    "LETTERS",
    "MAX_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "SUBJECTS",
    "TEST_ID_SUBJECTS",
    "Question",
    "content_key",
    "load_bundled",
    "load_few_shot",
    "load_jsonl",
    "load_mmlu_csv",
    "load_questions",
    "load_redux_csv",
    "mmlu_test_rows",
    "validated_row",
]
