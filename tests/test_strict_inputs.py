"""Strict inputs, round 3: each class of lax reading refused, and question files streamed.

1. A key (JSON) or column (CSV) given twice is an error naming the file, line and key, in
   every JSON and CSV the product reads.
2. Ids (question ids, run ids, variant names) that are not valid Unicode are refused, naming
   the field.
3. A grid factor value given twice is refused (it would plan one variant twice).
4. Integers are bounded where a backend bounds them (``max_tokens``, the seed).
5. YAML is read as YAML 1.2: ``010``, ``1:30`` and ``yes``/``no``/``on``/``off`` are text, so
   a number or boolean field refuses them and a text field keeps them as written.
6. An empty or blank value for any option of any command is refused (exit code 2).
7. Question files are read line by line and only as far as ``--limit`` needs.
Fake models only; each test takes at most a few seconds.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import tracemalloc
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chatbench import run_conversations
from chatbench.config import (
    MAX_SEED,
    MAX_TOKENS,
    AblationGrid,
    GraphSpec,
    RoleSettings,
    RunConfig,
    load_graph_spec,
    load_grid,
)
from chatbench.data import question_loaders
from chatbench.data.human_data import load_chatbench_conversations, load_halie
from chatbench.data.questions import Question, load_jsonl, load_questions, load_redux_csv
from chatbench.errors import ConfigError
from chatbench.paper.release import load_questions as load_release_questions
from chatbench.storage import ResultStore
from tests.conftest import cli

REDUX_HEADER = "question,choices,answer,error_type,source,correct_answer,potential_reason\n"


def _row(qid: str, subject: str = "s", **extra: Any) -> dict[str, Any]:
    return {"id": qid, "subject": subject, "question": f"{qid}?", "choices": ["x", "y"],
            "answer": "a", **extra}


def _jsonl(path: Path, rows: list[dict[str, Any]], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + tail, encoding="utf-8")
    return path


def _one_line(message: str, *names: str) -> None:
    assert "\n" not in message, message
    for name in names:
        assert name in message, message


def fake_run(out: Path, *extra: str) -> list[str]:
    return ["run", "--user", "fake:say:Answer: A", "--assistant", "fake:echo", "--limit", "2",
            "--concurrency", "1", "--out", str(out), *extra]


# --- 1. keys and columns given twice -----------------------------------------------------------


def test_a_jsonl_question_with_a_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(_row("q1")) + "\n"
                    + '{"id": "q2", "question": "?", "choices": ["x", "y"], "answer": "A", '
                    '"answer": "B"}\n', encoding="utf-8")
    for load in (load_jsonl, load_questions):
        with pytest.raises(ConfigError) as info:
            load(path)
        _one_line(str(info.value), "q.jsonl, line 2", "duplicate key 'answer'", "column")


def test_a_nested_key_given_twice_is_placed_on_its_line(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text('[\n  {"questionID": "elementary_mathematics-redux-1",\n'
                    '   "chatHistory": [{"role": "You", "content": "hi",\n'
                    '                    "role": "Bot"}]}\n]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_chatbench_conversations(path)
    _one_line(str(info.value), "conversations.json, line 4", "duplicate key 'role'")


def test_training_jsonl_and_model_configs_refuse_keys_given_twice(tmp_path):
    from chatbench.models.gguf_export import read_json
    from chatbench.training.export import validate_jsonl

    examples = tmp_path / "train.jsonl"
    examples.write_text('{"prompt": "a", "completion": "b", "prompt": "c"}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        validate_jsonl(examples, "text")
    _one_line(str(info.value), "train.jsonl, line 1", "duplicate key 'prompt'")
    config = tmp_path / "config.json"
    config.write_text('{\n "model_type": "llama",\n "model_type": "gpt2"\n}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_json(config)
    _one_line(str(info.value), "config.json", "duplicate key 'model_type'", "line 3")


def test_a_question_csv_with_a_column_given_twice_is_refused(tmp_path):
    path = tmp_path / "mmlu_algebra.csv"
    path.write_text(REDUX_HEADER.replace("source", "answer") + "\"1+1?\",\"['1', '2']\",1,ok,0,,\n",
                    encoding="utf-8")
    for load in (load_redux_csv, load_questions):
        with pytest.raises(ConfigError) as info:
            load(path)
        _one_line(str(info.value), "mmlu_algebra.csv, line 1", "'answer' appears twice",
                  "columns 3 and 5")


def test_halie_and_release_csvs_with_a_column_given_twice_are_refused(tmp_path):
    halie = tmp_path / "halie"
    halie.mkdir()
    for name in ("event_blocks.csv", "questions.csv"):
        shutil.copy(Path(str(files("chatbench") / "_data" / "halie" / name)), halie / name)
    questions = (halie / "questions.csv").read_text(encoding="utf-8").splitlines()
    questions[0] += ",answer"
    (halie / "questions.csv").write_text(
        "\n".join([questions[0], *(line + ",Z" for line in questions[1:] if line)]) + "\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_halie(path=halie)
    _one_line(str(info.value), "questions.csv, line 1", "'answer' appears twice")

    release = tmp_path / "questions.csv"
    release.write_text("question_id,subject,question_id\nq1,math,q2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_release_questions(release)
    _one_line(str(info.value), "questions.csv, line 1", "'question_id' appears twice")


# --- 2. ids that are not valid Unicode ---------------------------------------------------------


def test_a_question_id_with_a_lone_surrogate_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "q\\ud800", "question": "?", "choices": ["x", "y"], "answer": 0}\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_questions(path)
    _one_line(str(info.value), "q.jsonl, line 1", "field 'id'", "not valid Unicode", "\\ud800")
    with pytest.raises(ValidationError, match="not valid Unicode"):
        Question(id="q\udcff", stem="?", choices=("x", "y"), answer="A")


def test_a_fresh_store_never_refuses_its_own_run_for_a_question_id(tmp_path, monkeypatch,
                                                                   capsys):
    # before: the run was refused with "questions changed" by its own, fresh store
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "q\\ud800", "question": "?", "choices": ["x", "y"], "answer": 0}\n',
                    encoding="utf-8")
    code, output = cli(monkeypatch, capsys, *fake_run(tmp_path / "r.sqlite", "--questions",
                                                      str(path)))
    assert code == 2, output
    assert "questions changed" not in output and "field 'id'" in output


@pytest.mark.parametrize("make", [
    lambda: RunConfig(run_id="r\ud800"),
    lambda: GraphSpec(name="v\udcff"),
    lambda: AblationGrid(name="g\ud800", factors={"user_cot": [False, True]}),
], ids=["run-id", "variant-name", "grid-name"])
def test_ids_with_a_lone_surrogate_are_refused(make):
    with pytest.raises(ValidationError, match="not valid Unicode"):
        make()


def test_python_run_ids_with_a_lone_surrogate_are_refused(tmp_store):
    from chatbench.baselines import plan_baseline_run

    questions = load_questions(limit=1)
    with ResultStore(tmp_store) as store, pytest.raises(ConfigError, match="run_id.*Unicode"):
        run_conversations(questions, GraphSpec(), user="fake:say:Answer: A",
                          assistant="fake:echo", store=store, run_id="r\ud800")
    with pytest.raises(ConfigError, match="run_id.*Unicode"):
        plan_baseline_run(questions, "fake:say:A", run_id="b\udcff")


# --- 3. a grid factor value given twice --------------------------------------------------------


@pytest.mark.parametrize("values", [[2, 2], [2, 3, 2.0], ["novice", "novice"], [None, "null"]],
                         ids=["int", "int-and-float", "text", "null-and-its-text"])
def test_a_factor_value_given_twice_is_refused(values):
    factor = "persona" if any(isinstance(v, str) or v is None for v in values) else "max_turns"
    with pytest.raises(ValidationError, match=f"factor '{factor}'.*given twice"):
        AblationGrid(name="g", factors={factor: values})


def test_a_grid_file_with_a_factor_value_given_twice_names_factor_and_value(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: g\nfactors:\n  max_turns: [2, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_grid(path)
    _one_line(str(info.value), "g.yaml", "factor 'max_turns': 2 is given twice",
              "values 1 and 2")


# --- 4. integers bounded where a backend bounds them -------------------------------------------


def test_max_tokens_and_seed_are_bounded(tmp_path):
    with pytest.raises(ValidationError, match="less than or equal to"):
        RoleSettings(max_tokens=99999999999999999999)
    assert RoleSettings(max_tokens=MAX_TOKENS).max_tokens == MAX_TOKENS
    path = tmp_path / "g.yaml"
    path.write_text("assistant:\n  max_tokens: 99999999999999999999\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="assistant.max_tokens"):
        load_graph_spec(path)
    for seed in (MAX_SEED + 1, -1):
        with pytest.raises(ValidationError, match="seed"):
            RunConfig(seed=seed)
        with pytest.raises(ValidationError, match="seed"):
            AblationGrid(name="g", factors={"user_cot": [True]}, seed=seed)
    assert RunConfig(seed=MAX_SEED).seed == MAX_SEED


def test_seeds_out_of_range_are_refused_by_the_cli_and_the_python_api(tmp_path, monkeypatch,
                                                                      capsys):
    from chatbench.baselines import plan_baseline_run

    code, output = cli(monkeypatch, capsys,
                       *fake_run(tmp_path / "r.sqlite", "--seed", "99999999999999999999"))
    assert code == 2 and "seed" in output, output
    with pytest.raises(ConfigError, match="seed"):
        run_conversations(load_questions(limit=1), GraphSpec(), user="fake:say:Answer: A",
                          assistant="fake:echo", seed=2**63)
    with pytest.raises(ConfigError, match="seed"):
        plan_baseline_run(load_questions(limit=1), "fake:say:A", seed=2**63)


# --- 5. YAML 1.2 scalars -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["010", "012", "1:30", "1:05"])
def test_yaml_11_numbers_are_refused_where_a_number_is_expected(tmp_path, value):
    path = tmp_path / "g.yaml"
    path.write_text(f"max_turns: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_graph_spec(path)
    _one_line(str(info.value), "g.yaml", "field 'max_turns'")


@pytest.mark.parametrize("value", ["yes", "on", "off"])
def test_yaml_11_booleans_are_refused_where_a_boolean_is_expected(tmp_path, value):
    path = tmp_path / "g.yaml"
    path.write_text(f"user_cot: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="field 'user_cot'"):
        load_graph_spec(path)


def test_yaml_11_forms_are_kept_as_written_where_text_is_expected(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("simulator: scripted\nscripted_turns: [yes, no, on, off, 010, 1:30]\n"
                    "max_turns: 8\nuser_cot: false\n", encoding="utf-8")
    spec = load_graph_spec(path)
    assert spec.scripted_turns == ("yes", "no", "on", "off", "010", "1:30")
    assert spec.max_turns == 8 and spec.user_cot is False


def test_a_yaml_11_number_names_what_to_write(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("max_turns: 010\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="010 is read as text.*decimal"):
        load_graph_spec(path)


def test_grid_factor_values_in_yaml_11_form_are_text(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: g\nfactors:\n  user_cot: [no, yes]\n", encoding="utf-8")
    assert load_grid(path).factors == {"user_cot": ["no", "yes"]}  # refused when planned


# --- 6. blank option values --------------------------------------------------------------------


@pytest.mark.parametrize("args, option", [
    (["run", "--user", ""], "--user"),
    (["run", "--subjects", ""], "--subjects"),
    (["run", "--run-id", ""], "--run-id"),
    (["run", "--run-id", "  "], "--run-id"),
    (["run", "--questions", ""], "--questions"),
    (["run", "--out", ""], "--out"),
    (["run", "--resume", ""], "--resume"),
    (["ablate", ""], "GRID"),
    (["ablate", "persona", "--assistant", " "], "--assistant"),
    (["baseline", "--assistant", ""], "--assistant"),
    (["baseline", "--run-id", ""], "--run-id"),
    (["report", ""], "PATH"),
    (["report", "x.sqlite", "--html", ""], "--html"),
    (["show", "x.sqlite", "--id", ""], "--id"),
    (["export", "x.sqlite", ""], "OUT_DIR"),
    (["train", "--out", ""], "--out"),
    (["fidelity", "--user", "fake:echo", "--user", ""], "--user"),
    (["paper", ""], "DATA_DIR"),
], ids=lambda value: value if isinstance(value, str) else " ".join(value))
def test_an_empty_option_value_is_refused(monkeypatch, capsys, tmp_path, args, option):
    monkeypatch.chdir(tmp_path)
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 2, output
    assert output.strip().startswith("error:") and len(output.strip().splitlines()) == 1, output
    assert f"{option} is empty" in output, output
    assert not list(tmp_path.iterdir())  # nothing was made


def test_a_blank_environment_variable_is_refused(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATBENCH_USER", "  ")
    code, output = cli(monkeypatch, capsys, "run")
    assert code == 2 and "CHATBENCH_USER (for --user) is blank" in output, output


def test_blank_texts_are_refused_from_python():
    for field in ("user", "assistant", "graph", "questions", "judge", "run_id"):
        with pytest.raises(ValidationError, match="is empty"):
            RunConfig(**{field: " "})
    with pytest.raises(ValidationError, match="subjects.1"):
        RunConfig(subjects=("a", ""))


# --- 7. question files streamed ----------------------------------------------------------------


def test_reading_stops_once_the_limit_is_met(tmp_path):
    # a broken line after the look-ahead: never reached with a limit
    rows = [_row(f"q{i}") for i in range(question_loaders.SUBJECT_LOOKAHEAD + 10)]
    path = _jsonl(tmp_path / "q.jsonl", rows, tail="not json\n")
    assert [q.id for q in load_questions(path, limit=5)] == ["q0", "q1", "q2", "q3", "q4"]
    assert [q.id for q in load_questions(path, subjects=["s"], limit=3)] == ["q0", "q1", "q2"]
    with pytest.raises(ConfigError, match=f"line {len(rows) + 1}: invalid JSON"):
        load_questions(path)


def test_a_csv_stops_at_the_limit(tmp_path):
    path = tmp_path / "algebra_test.csv"
    path.write_text("".join(f"q{i}?,a,b,c,d,A\n" for i in range(5)) + "broken,row\n",
                    encoding="utf-8")
    assert [q.id for q in load_questions(path, limit=3)] == [f"algebra-test-{i}" for i in range(3)]
    with pytest.raises(ConfigError, match="line 6: expected 6 fields"):
        load_questions(path)


def test_memory_is_bounded_by_the_limit(tmp_path):
    path = _jsonl(tmp_path / "q.jsonl", [_row(f"q{i}", f"s{i % 3}") for i in range(100_000)])
    tracemalloc.start()
    try:
        picked = load_questions(path, limit=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [q.id for q in picked] == ["q0", "q1", "q2", "q3", "q4"]
    assert peak < 20_000_000, peak  # the whole file held as questions: hundreds of MB


def _reference(rows: list[dict[str, Any]], subjects: list[str] | None, limit: int | None,
               window: int) -> list[str]:
    """The selection as documented: round-robin over the wanted subjects, or over those met
    among the first ``window`` questions."""
    shown = rows if limit is None else rows[:window]
    order = subjects or list(dict.fromkeys(r["subject"] for r in shown))
    groups: dict[str, list[str]] = {subject: [] for subject in order}
    for row in rows:
        if row["subject"] in groups:
            groups[row["subject"]].append(row["id"])
    picked = [i for batch in itertools.zip_longest(*groups.values()) for i in batch if i]
    return picked[:limit]


@pytest.mark.parametrize("lookahead", [4, question_loaders.SUBJECT_LOOKAHEAD])
def test_the_selection_is_the_documented_round_robin(tmp_path, monkeypatch, lookahead):
    monkeypatch.setattr(question_loaders, "SUBJECT_LOOKAHEAD", lookahead)
    rng = random.Random(7)
    for trial in range(150):
        subjects = "abcde"[:rng.randint(1, 5)]
        rows = [_row(f"i{i}", rng.choice(subjects)) for i in range(rng.randint(1, 30))]
        path = _jsonl(tmp_path / f"q{trial}.jsonl", rows)
        limit = rng.choice([None, 1, 2, 3, 5, 8, 13])
        present = list(dict.fromkeys(r["subject"] for r in rows))
        wanted = rng.sample(present, rng.randint(1, len(present))) if rng.random() < 0.4 else None
        got = [q.id for q in load_questions(path, subjects=wanted, limit=limit)]
        window = max(lookahead, limit or 0)
        assert got == _reference(rows, wanted, limit, window), (rows, wanted, limit)


def test_a_wanted_subject_is_waited_for_to_the_end_of_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(question_loaders, "SUBJECT_LOOKAHEAD", 3)
    rows = [*(_row(f"a{i}", "a") for i in range(20)), _row("b0", "b")]
    path = _jsonl(tmp_path / "q.jsonl", rows)
    assert [q.id for q in load_questions(path, limit=3)] == ["a0", "a1", "a2"]  # b: too late
    picked = load_questions(path, subjects=["a", "b"], limit=4)
    assert [q.id for q in picked] == ["a0", "b0", "a1", "a2"]


def test_the_run_identity_covers_the_questions_used(tmp_path):
    from chatbench.runner.plan import plan_run

    rows = [_row(f"q{i}") for i in range(question_loaders.SUBJECT_LOOKAHEAD + 5)]
    path = _jsonl(tmp_path / "q.jsonl", rows)
    config = RunConfig(questions=str(path), limit=3, user="fake:say:Answer: A",
                       assistant="fake:echo", graph="two_step")
    plan = plan_run(config)
    assert sorted(plan.identity.questions) == ["q0", "q1", "q2"]
    rows[-1] = _row("edited")  # past where reading stops: the same run
    _jsonl(path, rows)
    assert plan_run(config).run_id == plan.run_id
    rows[1] = {**rows[1], "question": "changed?"}  # a question used: another run
    _jsonl(path, rows)
    assert plan_run(config).run_id != plan.run_id
