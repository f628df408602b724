"""Multiple-choice questions: the ``Question`` model and loaders for bundled and user files.

The code lives in four modules; every name stays importable from here:

- ``question``: the ``Question`` model and its limits;
- ``rows``: CSV records and field checks shared by every file a user gives;
- ``question_formats``: the MMLU, MMLU-Redux and JSONL parsers and the bundled data files;
- ``question_loaders``: ``load_questions`` and the loaders of each source.
"""

# Every import re-exports (private names too, for code that imported them from here).
# ruff: noqa: F401

from __future__ import annotations

from chatbench.data.question import LETTERS, MAX_NAME_CHARS, MAX_TEXT_CHARS, Question, _bounded_text
from chatbench.data.question_formats import (
    _JSONL_FIELDS,
    _JSONL_REQUIRED,
    _MMLU_FIELDS,
    _REDUX_COLUMNS,
    _REDUX_REQUIRED,
    _SPLIT_SUFFIX,
    _TEST_ROWS_FILE,
    TEST_ID_SUBJECTS,
    _bundled_text,
    _jsonl_question,
    _parse_jsonl,
    _parse_mmlu,
    _parse_redux,
    _redux_answer,
    _redux_choices,
    _redux_columns,
    _redux_id,
    content_key,
    mmlu_test_rows,
)
from chatbench.data.question_loaders import (
    BUNDLED,
    SUBJECTS,
    _interleave,
    _known_subjects,
    _load_file,
    _present_subjects,
    load_bundled,
    load_few_shot,
    load_jsonl,
    load_mmlu_csv,
    load_questions,
    load_redux_csv,
)
from chatbench.data.rows import (
    _answer_letter,
    _BadField,
    _choices,
    _csv_records,
    _names,
    _question,
    _Row,
    _text,
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
