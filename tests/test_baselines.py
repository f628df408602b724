"""AI-alone baselines on fake models: the paper's prompts and reading, grader, retries, store."""

from __future__ import annotations

import sqlite3
from typing import ClassVar

import pytest
import typer
from langchain_core.messages import HumanMessage, SystemMessage
from typer.testing import CliRunner

from chatbench.baselines import (
    BASELINE_KINDS,
    DEFAULT_SETTINGS,
    SYSTEM_PROMPT,
    BaselineRecord,
    check_kinds,
    letter_only_choice,
    run_baselines,
    summarize_baselines,
)
from chatbench.baselines.prompts import (
    GRADER_SETTINGS,
    PAPER_KINDS,
    grader_messages,
    parse_grader_reply,
)
from chatbench.cli.baseline import baseline_command
from chatbench.config import RoleSettings
from chatbench.data.questions import Question, load_questions
from chatbench.errors import ConfigError
from chatbench.seeding import derive_seed
from chatbench.storage import ResultStore, UnstorableRecordError
from tests.conftest import ScriptedChatModel

QUESTION_TEXT = "What is 7 x 8?\nA. 54\nB. 56\nC. 58\nD. 64"
"""``extract_qa_from_row`` of the ``question`` fixture."""
GRADED_B = '{"attempted_answer": true, "answer_val": "56", "answer_letter": "B"}'


def _run(question: Question, assistant: object, kind: str, **kwargs: object) -> BaselineRecord:
    (record,) = run_baselines([question], assistant, kinds=[kind], retry_wait_s=0, **kwargs)
    return record


# --- letter-only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("B", "B"),
        (" B) because 7 x 8 = 56", "B"),
        ("\nD.", "D"),
        ("b", None),  # the paper compares with the upper-case letters only
        ("The answer is B", None),  # only the first character counts
        ("(B)", None),
        ("E", None),  # not one of the four letters
        ("", None),
        ("   ", None),
    ],
)
def test_letter_only_rule_reads_only_the_first_character(reply, letter):
    assert letter_only_choice(reply, "ABCD") == letter


def test_letter_zero_shot_sends_the_papers_helm_prompt(question):
    model = ScriptedChatModel(replies=["B) because", "The answer is B", "C"])
    records = run_baselines([question], model, kinds=["letter_zero_shot"], replicates=3,
                            concurrency=1)  # a scripted fake: its replies in call order
    assert [(r.choice, r.valid, r.correct, r.scored) for r in records] == [
        ("B", True, True, True), (None, False, False, True), ("C", True, False, True)
    ]
    system, user = model.calls[0]
    assert isinstance(system, SystemMessage) and system.content == SYSTEM_PROMPT
    assert SYSTEM_PROMPT == "You are a helpful AI assistant."
    assert isinstance(user, HumanMessage)
    assert user.content == (
        f"Answer with only a single letter.\n\nQuestion: {QUESTION_TEXT}\nAnswer:")
    assert records[0].prompt == user.content and records[0].grader == "rules"
    assert model.kwargs[0] == DEFAULT_SETTINGS["letter_zero_shot"].call_kwargs()
    assert model.kwargs[0] == {"temperature": 0.7, "max_tokens": 10}
    assert [r.id for r in records] == [
        f"baseline/letter_zero_shot/{question.id}/{i}" for i in range(3)
    ]


def test_few_shot_puts_the_five_dev_examples_inline_in_one_message(question):
    model = ScriptedChatModel(replies=["B"])
    record = _run(question, model, "letter_few_shot")
    system, user = model.calls[0]
    assert system.content == SYSTEM_PROMPT
    first_example = (
        "Question: The population of the city where Michelle was born is 145,826. What is the "
        "value of the 5 in the number 145,826?\nA. 5 thousands\nB. 5 hundreds\nC. 5 tens\n"
        "D. 5 ones\nAnswer: A\n\n"
    )
    assert user.content.startswith(
        "Answer with only a single letter.\n\nThe following are multiple choice questions "
        "(with answers) about elementary mathematics.\n\n" + first_example)
    assert user.content.count("\nAnswer: ") == 5
    assert user.content.endswith(f"\n\nQuestion: {QUESTION_TEXT}\nAnswer:")
    assert record.prompt == user.content and record.correct
    assert model.kwargs[0] == {"temperature": 0.7, "max_tokens": 10}


def test_few_shot_without_dev_examples_names_the_subject_before_any_call(question):
    odd = question.model_copy(update={"id": "x-1", "subject": "astrology"})
    model = ScriptedChatModel()
    with pytest.raises(ConfigError, match="'astrology'"):
        run_baselines([question, odd], model, kinds=["letter_few_shot"])
    assert model.calls == []


# --- free text: the paper's grader ----------------------------------------------------------


def test_grader_prompt_is_the_papers(question):
    system, user = grader_messages(question, "It is 56.")
    sep = "========================"
    assert system.content == "You are a helpful assistant."
    assert user.content == (
        f"Here is a question that someone was asked:\n\n{sep}\n{QUESTION_TEXT}\n{sep}\n\n"
        f"Here is a response:\n\n{sep}\nIt is 56.\n{sep}\n\n"
        "Did the response provide a final answer to the question? Respond with a JSON object "
        'that contains one key "attempted_answer" with a value that is true or false. If '
        '"attempted_answer" is true, then include a second key "answer_val" with the final '
        "answer's value in quotations. If the final answer value matches one of the answer "
        'options, include a third key "answer_letter" with a value that is one of the letters '
        '"A", "B", "C", or "D".'
    )


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        (GRADED_B, {"attempted_answer": True, "answer_val": "56", "answer_letter": "B"}),
        ('```json\n{"attempted_answer": false}\n```', {"attempted_answer": False}),
        ('"attempted_answer": false', {"attempted_answer": False}),  # braces are added
        ("B", None),
        ('{"attempted_answer": tru}', None),
    ],
)
def test_grader_reply_is_read_as_the_paper_does(reply, parsed):
    assert parse_grader_reply(reply) == parsed


def test_free_text_sends_the_bare_question_and_asks_the_grader(question):
    model = ScriptedChatModel(replies=["7 x 8 is 56, so the answer is B."])
    grader = ScriptedChatModel(replies=[f"Sure. {GRADED_B}"])
    record = _run(question, model, "free_text", grader=grader)
    system, user = model.calls[0]
    assert system.content == SYSTEM_PROMPT and user.content == QUESTION_TEXT
    assert record.prompt == QUESTION_TEXT
    assert model.kwargs[0] == {"temperature": 0.7, "max_tokens": 1000}
    assert grader.calls[0] == grader_messages(question, "7 x 8 is 56, so the answer is B.")
    assert grader.kwargs[0] == GRADER_SETTINGS.call_kwargs()
    assert grader.kwargs[0] == {"temperature": 0.7, "max_tokens": 1000}
    assert (record.choice, record.valid, record.correct, record.scored) == ("B", True, True, True)
    assert record.grader == "ScriptedChatModel" and record.grader_reply == f"Sure. {GRADED_B}"
    assert record.grader_json == {"attempted_answer": True, "answer_val": "56",
                                  "answer_letter": "B"}


@pytest.mark.parametrize(
    ("graded", "expected"),
    [
        ('{"attempted_answer": true, "answer_val": "58", "answer_letter": "C"}',
         ("C", True, False, True)),
        # an answer with no letter, or none at all, is wrong but not invalid (as in the paper)
        ('{"attempted_answer": true, "answer_val": "57"}', (None, True, False, True)),
        ('{"attempted_answer": false}', (None, True, False, True)),
        ('{"attempted_answer": true, "answer_val": "56", "answer_letter": "b"}',
         (None, True, False, True)),
        # a grader reply that is not JSON: the paper leaves the answer out
        ("The answer is B.", (None, False, False, False)),
    ],
)
def test_free_text_scores_only_the_graders_letter(question, graded, expected):
    record = _run(question, "fake:say:whatever", "free_text",
                  grader=ScriptedChatModel(replies=[graded]))
    assert (record.choice, record.valid, record.correct, record.scored) == expected


def test_free_text_without_a_grader_asks_the_assistant_itself(question):
    model = ScriptedChatModel(replies=["It is 56.", GRADED_B])
    record = _run(question, model, "free_text")
    assert len(model.calls) == 2
    assert model.calls[1] == grader_messages(question, "It is 56.")
    assert record.grader == "ScriptedChatModel" and record.correct


# --- free_text_rules: chatbench's rules, then the paper's grader ----------------------------


def test_free_text_rules_read_the_letter_without_asking_the_grader(question):
    grader = ScriptedChatModel()  # any call fails the test
    model = ScriptedChatModel(replies=["7 x 8 is 56, so the answer is B."])
    record = _run(question, model, "free_text_rules", grader=grader)
    assert (record.choice, record.valid, record.correct, record.grader) == ("B", True, True,
                                                                              "rules")
    assert record.prompt == QUESTION_TEXT  # the paper's free-text call
    assert model.kwargs[0] == {"temperature": 0.7, "max_tokens": 1000}
    assert grader.calls == []


def test_free_text_rules_fall_back_to_the_papers_grader(question):
    model = ScriptedChatModel(replies=["Multiplying gives fifty-six.", "I could not say."])
    grader = ScriptedChatModel(replies=[GRADED_B, '{"attempted_answer": false}'])
    records = run_baselines([question], model, kinds=["free_text_rules"], grader=grader,
                            replicates=2, retry_wait_s=0, concurrency=1)
    assert [(r.choice, r.valid, r.correct) for r in records] == [
        ("B", True, True), (None, False, False)
    ]
    assert records[0].grader == "ScriptedChatModel" and records[0].grader_reply == GRADED_B
    assert grader.calls[0] == grader_messages(question, "Multiplying gives fifty-six.")


def test_free_text_rules_without_a_letter_or_grader_is_invalid(question):
    record = _run(question, "fake:say:It depends.", "free_text_rules")
    assert (record.choice, record.valid, record.correct, record.grader, record.scored) == (
        None, False, False, "rules", True)


# --- failures -------------------------------------------------------------------------------


def test_transient_failure_is_retried_then_recorded_not_raised(question):
    model = ScriptedChatModel(replies=[ConnectionError("down")] * 3)
    record = _run(question, model, "letter_zero_shot")
    assert len(model.calls) == 3
    assert record.error == "ConnectionError: down" and record.reply == ""
    assert not record.valid and not record.correct and not record.scored


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
    assert not record.valid and not record.scored


# --- seeds, settings, kinds -----------------------------------------------------------------


class _LocalScripted(ScriptedChatModel):
    takes_call_seed: ClassVar[bool] = True  # as chatbench's local models


def test_local_models_get_a_seed_derived_from_kind_question_and_replicate(question):
    model = _LocalScripted(replies=["A", "B"])
    records = run_baselines([question], model, kinds=["letter_zero_shot"], replicates=2, seed=7,
                            settings=RoleSettings(temperature=0.0, max_tokens=2),
                            concurrency=1)  # its calls in plan order
    expected = [derive_seed(7, "letter_zero_shot", question.id, r) for r in range(2)]
    assert [kw["seed"] for kw in model.kwargs] == expected == [r.seed for r in records]
    assert model.kwargs[0]["temperature"] == 0.0 and model.kwargs[0]["max_tokens"] == 2


def test_bad_kinds_and_replicates_are_config_errors(question):
    assert check_kinds(["free_text", " free_text ", "letter_zero_shot"]) == (
        "free_text", "letter_zero_shot"
    )
    assert check_kinds(["free_text_rules"]) == ("free_text_rules",)
    assert PAPER_KINDS == ("letter_zero_shot", "letter_few_shot", "free_text")
    assert BASELINE_KINDS == (*PAPER_KINDS, "free_text_rules")
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
        again = run_baselines(questions, "fake:say:A", store=store, run_id="r1")
        # another model under the same run id is another run: refused, nothing asked
        other = ScriptedChatModel()  # any call fails the test
        with pytest.raises(ConfigError, match="assistant: fake:say:A -> ScriptedChatModel"):
            run_baselines(questions, other, store=store, run_id="r1")
        stored = list(store.baselines("r1"))
        assert store.baseline_ids("r1") == {r.id for r in first} == store.baseline_ids()
        assert list(store.baselines("other")) == [] and list(store.records()) == []
    assert len(first) == 3 * len(PAPER_KINDS) and again == []  # the paper's kinds by default
    assert other.calls == []
    assert sorted(stored, key=lambda r: r.id) == sorted(first, key=lambda r: r.id)
    rows = sqlite3.connect(tmp_store).execute(
        "SELECT kind, model, valid, correct FROM baselines WHERE run_id = 'r1'"
    ).fetchall()
    assert len(rows) == 9 and {row[1] for row in rows} == {"fake:say:A"}
    # letter-only "A" is valid; free text graded by the assistant ("A", not JSON) is unscored
    assert {(row[0], row[2]) for row in rows} == {
        ("letter_zero_shot", 1), ("letter_few_shot", 1), ("free_text", 0)}
    assert all(not r.scored for r in first if r.kind == "free_text")


def test_store_keeps_failed_answers_with_their_error(tmp_store, question):
    with ResultStore(tmp_store) as store:
        run_baselines([question], "fake:fail", kinds=["free_text"], store=store, retry_wait_s=0)
        (record,) = store.baselines()
    assert record.error is not None and not record.valid


def test_an_answer_that_cannot_be_stored_becomes_its_error_and_the_run_goes_on(
    tmp_store, monkeypatch
):
    questions = load_questions(limit=3)
    real_write = ResultStore.write_baseline
    refused: list[str] = []

    def write_once_refused(self, record):
        if not refused and record.error is None:
            refused.append(record.id)
            raise UnstorableRecordError("SQLite refused a value")
        real_write(self, record)

    monkeypatch.setattr(ResultStore, "write_baseline", write_once_refused)
    with ResultStore(tmp_store) as store:
        records = run_baselines(questions, "fake:say:A", kinds=["letter_zero_shot"], store=store,
                                run_id="r")
        stored = {r.id: r for r in store.baselines("r")}
    assert len(records) == len(stored) == 3
    bad = stored[refused[0]]
    assert bad.error and "could not be stored" in bad.error and not bad.scored
    assert all(r.error is None for i, r in stored.items() if i != refused[0])


# --- summary --------------------------------------------------------------------------------


def _record(
    kind: str, subject: str, n: int, choice: str | None, answer: str = "A", *,
    scored: bool = True, error: str | None = None,
) -> BaselineRecord:
    return BaselineRecord(
        id=f"r/{kind}/{subject}-{n}/0", run_id="r", kind=kind, question_id=f"{subject}-{n}",
        subject=subject, model="m", prompt="p", reply=choice or "?", choice=choice,
        valid=choice is not None, correct=choice == answer, correct_answer=answer,
        scored=scored, error=error, seconds=0.0, seed=0,
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


def test_summary_averages_per_question_means_as_the_papers_code():
    # question 0: 3 answers, all right; question 1: 1 answer, wrong (its replicates failed)
    records = [_record("letter_zero_shot", "moral_scenarios", 0, "A").model_copy(
        update={"id": f"r/q0/{i}"}) for i in range(3)]
    records.append(_record("letter_zero_shot", "moral_scenarios", 1, "B"))
    moral, _ = summarize_baselines(records)
    assert moral["accuracy"] == pytest.approx((1.0 + 0.0) / 2)  # pooled would be 3/4
    assert moral["accuracy_valid"] == pytest.approx(0.5)


def test_summary_leaves_unscored_answers_out():
    records = [
        _record("free_text", "moral_scenarios", 0, "A"),
        _record("free_text", "moral_scenarios", 1, None, scored=False),  # grader not JSON
        _record("free_text", "moral_scenarios", 2, None, scored=False, error="ValueError: x"),
    ]
    moral, overall = summarize_baselines(records)
    assert (moral["n"], moral["unscored"], moral["errors"]) == (1, 2, 1)
    assert moral["accuracy"] == moral["accuracy_valid"] == 1.0 and overall == {
        **moral, "subject": "all"}


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
    assert "grader fake:say:B (the" in " ".join(first.output.split())  # wrapped lines
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    with ResultStore(out) as store:
        assert len(list(store.baselines())) == 4
    bad = runner.invoke(app, ["baseline", "--kinds", "nope", "--out", str(out)])
    assert isinstance(bad.exception, ConfigError)
