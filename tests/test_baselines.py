"""AI-alone baselines on fake models: parse rules, prompts, grader, retries, store, summary."""

from __future__ import annotations

import sqlite3

import pytest
import typer
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from typer.testing import CliRunner

from chatbench.baselines import (
    BASELINE_KINDS,
    DEFAULT_SETTINGS,
    SYSTEM_PROMPT,
    BaselineRecord,
    baseline_command,
    check_kinds,
    letter_only_choice,
    run_baselines,
    summarize_baselines,
)
from chatbench.config import RoleSettings
from chatbench.errors import ConfigError
from chatbench.models.invoke import LOCAL_LLM_TYPE
from chatbench.questions import Question, load_few_shot, load_questions
from chatbench.seeding import derive_seed
from chatbench.storage import ResultStore
from tests.conftest import ScriptedChatModel


def _run(question: Question, assistant: object, kind: str, **kwargs: object) -> BaselineRecord:
    (record,) = run_baselines([question], assistant, kinds=[kind], retry_wait_s=0, **kwargs)
    return record


# --- letter-only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("B", "B"),
        (" b) because 7 x 8 = 56", "B"),
        ("\nD.", "D"),
        ("The answer is B", None),  # the paper's rule: only the first character counts
        ("(B)", None),
        ("E", None),  # not one of the four letters
        ("", None),
    ],
)
def test_letter_only_rule_reads_only_the_first_character(reply, letter):
    assert letter_only_choice(reply, "ABCD") == letter


def test_letter_zero_shot_records_validity_and_prompt(question):
    model = ScriptedChatModel(replies=["b) because", "The answer is B", "C"])
    records = run_baselines([question], model, kinds=["letter_zero_shot"], replicates=3)
    assert [(r.choice, r.valid, r.correct) for r in records] == [
        ("B", True, True), (None, False, False), ("C", True, False)
    ]
    prompt = model.calls[0]
    assert [type(m) for m in prompt] == [SystemMessage, HumanMessage]
    assert prompt[0].content == SYSTEM_PROMPT
    assert prompt[1].content.startswith(question.format())
    assert "Answer with only the letter of the correct option." in prompt[1].content
    assert records[0].prompt == prompt[1].content and records[0].grader == "rules"
    assert model.kwargs[0] == DEFAULT_SETTINGS["letter_zero_shot"].call_kwargs()
    assert model.kwargs[0] == {"temperature": 0.7, "max_tokens": 8}
    assert [r.id for r in records] == [
        f"baseline/letter_zero_shot/{question.id}/{i}" for i in range(3)
    ]


def test_few_shot_prompt_has_the_five_dev_examples_as_turns_before_the_question(question):
    model = ScriptedChatModel(replies=["B"])
    record = _run(question, model, "letter_few_shot")
    examples = load_few_shot(question.subject)
    prompt = model.calls[0]
    assert len(examples) == 5 and len(prompt) == 1 + 2 * 5 + 1
    assert isinstance(prompt[0], SystemMessage)
    for i, example in enumerate(examples):
        user, assistant = prompt[1 + 2 * i], prompt[2 + 2 * i]
        assert isinstance(user, HumanMessage) and user.content.startswith(example.format())
        assert "Answer with only the letter" in user.content
        assert isinstance(assistant, AIMessage) and assistant.content == example.answer
    assert isinstance(prompt[-1], HumanMessage) and prompt[-1].content.startswith(question.stem)
    assert record.prompt == prompt[-1].content and record.correct


def test_few_shot_without_dev_examples_names_the_subject_before_any_call(question):
    odd = question.model_copy(update={"id": "x-1", "subject": "astrology"})
    model = ScriptedChatModel()
    with pytest.raises(ConfigError, match="'astrology'"):
        run_baselines([question, odd], model, kinds=["letter_few_shot"])
    assert model.calls == []


# --- free text ------------------------------------------------------------------------------


def test_free_text_rules_read_the_letter_without_asking_the_grader(question):
    grader = ScriptedChatModel()  # any call fails the test
    model = ScriptedChatModel(replies=["7 x 8 is 56, so the answer is B."])
    record = _run(question, model, "free_text", grader=grader)
    assert (record.choice, record.valid, record.correct, record.grader) == ("B", True, True,
                                                                              "rules")
    assert "Explain your reasoning, then give your answer." in record.prompt
    assert model.kwargs[0] == {"temperature": 0.7, "max_tokens": 512}
    assert grader.calls == []


def test_free_text_falls_back_to_the_grader(question):
    model = ScriptedChatModel(replies=["Multiplying gives fifty-six.", "I could not say."])
    grader = ScriptedChatModel(replies=["B", "NONE"])
    records = run_baselines([question], model, kinds=["free_text"], grader=grader,
                            replicates=2, retry_wait_s=0)
    assert [(r.choice, r.valid, r.correct) for r in records] == [
        ("B", True, True), (None, False, False)
    ]
    assert records[0].grader == "ScriptedChatModel" and records[0].grader_reply == "B"
    asked = grader.calls[0][-1].content
    assert question.format() in asked and "Multiplying gives fifty-six." in asked
    assert "Reply with only the letter, or NONE" in asked


def test_free_text_without_a_letter_or_grader_is_invalid(question):
    record = _run(question, "fake:say:It depends.", "free_text")
    assert (record.choice, record.valid, record.correct, record.grader) == (None, False, False,
                                                                              "rules")


# --- failures -------------------------------------------------------------------------------


def test_transient_failure_is_retried_then_recorded_not_raised(question):
    model = ScriptedChatModel(replies=[ConnectionError("down")] * 3)
    record = _run(question, model, "letter_zero_shot")
    assert len(model.calls) == 3
    assert record.error == "ConnectionError: down" and record.reply == ""
    assert not record.valid and not record.correct


def test_retry_recovers_after_a_transient_failure(question):
    model = ScriptedChatModel(replies=[ConnectionError("blip"), "B"])
    record = _run(question, model, "letter_zero_shot")
    assert record.error is None and record.correct and len(model.calls) == 2


def test_non_transient_failure_is_recorded_without_retries(question):
    model = ScriptedChatModel(replies=[ValueError("prompt too long")])
    record = _run(question, model, "letter_zero_shot", max_attempts=5)
    assert len(model.calls) == 1 and record.error == "ValueError: prompt too long"


def test_failing_grader_is_recorded_with_the_reply_kept(question):
    record = _run(question, "fake:say:No idea.", "free_text", grader="fake:fail")
    assert record.reply == "No idea." and record.grader == "fake:fail"
    assert record.error is not None and record.error.startswith("ConnectionError")
    assert not record.valid


# --- seeds, settings, kinds -----------------------------------------------------------------


class _LocalScripted(ScriptedChatModel):
    @property
    def _llm_type(self) -> str:
        return LOCAL_LLM_TYPE


def test_local_models_get_a_seed_derived_from_kind_question_and_replicate(question):
    model = _LocalScripted(replies=["A", "B"])
    records = run_baselines([question], model, kinds=["letter_zero_shot"], replicates=2, seed=7,
                            settings=RoleSettings(temperature=0.0, max_tokens=2))
    expected = [derive_seed(7, "letter_zero_shot", question.id, r) for r in range(2)]
    assert [kw["seed"] for kw in model.kwargs] == expected == [r.seed for r in records]
    assert model.kwargs[0]["temperature"] == 0.0 and model.kwargs[0]["max_tokens"] == 2


def test_bad_kinds_and_replicates_are_config_errors(question):
    assert check_kinds(["free_text", " free_text ", "letter_zero_shot"]) == (
        "free_text", "letter_zero_shot"
    )
    with pytest.raises(ConfigError, match="unknown baseline kind.*'letters'"):
        run_baselines([question], "fake:say:B", kinds=["letters"])
    with pytest.raises(ConfigError, match="replicates"):
        run_baselines([question], "fake:say:B", replicates=0)
    with pytest.raises(ConfigError, match="concurrency"):
        run_baselines([question], "fake:say:B", concurrency=0)


# --- store ----------------------------------------------------------------------------------


def test_store_round_trip_and_resume_runs_nothing(tmp_store):
    questions = load_questions(limit=3)
    with ResultStore(tmp_store) as store:
        first = run_baselines(questions, "fake:say:A", store=store, run_id="r1", concurrency=4)
        again = run_baselines(questions, ScriptedChatModel(), store=store, run_id="r1")
        stored = list(store.baselines("r1"))
        assert store.baseline_ids("r1") == {r.id for r in first} == store.baseline_ids()
        assert list(store.baselines("other")) == [] and list(store.records()) == []
    assert len(first) == 3 * len(BASELINE_KINDS) and again == []
    assert sorted(stored, key=lambda r: r.id) == sorted(first, key=lambda r: r.id)
    rows = sqlite3.connect(tmp_store).execute(
        "SELECT kind, model, valid, correct FROM baselines WHERE run_id = 'r1'"
    ).fetchall()
    assert len(rows) == 9 and {row[1] for row in rows} == {"fake:say:A"}
    assert {row[2] for row in rows} == {1}


def test_store_keeps_failed_answers_with_their_error(tmp_store, question):
    with ResultStore(tmp_store) as store:
        run_baselines([question], "fake:fail", kinds=["free_text"], store=store, retry_wait_s=0)
        (record,) = store.baselines()
    assert record.error is not None and not record.valid


# --- summary --------------------------------------------------------------------------------


def _record(
    kind: str, subject: str, n: int, choice: str | None, answer: str = "A"
) -> BaselineRecord:
    return BaselineRecord(
        id=f"r/{kind}/{subject}-{n}/0", run_id="r", kind=kind, question_id=f"{subject}-{n}",
        subject=subject, model="m", prompt="p", reply=choice or "?", choice=choice,
        valid=choice is not None, correct=choice == answer, correct_answer=answer,
        seconds=0.0, seed=0,
    )


def test_summary_reports_both_accuracy_conventions():
    records = [
        _record("free_text", "moral_scenarios", 0, "A"),
        _record("letter_zero_shot", "moral_scenarios", 0, "A"),
        _record("letter_zero_shot", "moral_scenarios", 1, "B"),
        _record("letter_zero_shot", "moral_scenarios", 2, None),
        _record("letter_zero_shot", "elementary_mathematics", 0, None),
    ]
    rows = summarize_baselines(records)
    assert [(r["kind"], r["subject"]) for r in rows] == [
        ("letter_zero_shot", "elementary_mathematics"),
        ("letter_zero_shot", "moral_scenarios"),
        ("letter_zero_shot", "all"),
        ("free_text", "moral_scenarios"),
        ("free_text", "all"),
    ]
    moral, overall = rows[1], rows[2]
    assert (moral["n"], moral["valid"], moral["correct"]) == (3, 2, 1)
    assert moral["accuracy"] == pytest.approx(1 / 3) and moral["accuracy_valid"] == 0.5
    assert (overall["n"], overall["valid"]) == (4, 2) and overall["accuracy"] == 0.25
    assert rows[0]["accuracy"] == 0.0 and rows[0]["accuracy_valid"] is None
    assert rows[4]["accuracy"] == rows[4]["accuracy_valid"] == 1.0


# --- command --------------------------------------------------------------------------------


def test_command_runs_stores_and_resumes(tmp_path):
    app = typer.Typer()
    app.command("baseline")(baseline_command)
    app.command("noop")(lambda: None)  # keeps "baseline" a subcommand
    out = tmp_path / "b.sqlite"
    args = ["baseline", "--assistant", "fake:say:B", "--limit", "2", "--out", str(out),
            "--kinds", "letter_zero_shot,free_text", "--concurrency", "2"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "AI-alone baselines" in first.output and "letter_zero_shot" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    with ResultStore(out) as store:
        assert len(list(store.baselines())) == 4
    bad = runner.invoke(app, ["baseline", "--kinds", "nope", "--out", str(out)])
    assert isinstance(bad.exception, ConfigError)
