"""A baseline run's identity and its failed answers (issue 12, classes 2 and 3, for baselines).

Class 2: a baseline run id names one set of answers. A rerun after the question file changed
is a new run; a run id given again with other questions, kinds, settings or models is refused
with what differs. Class 3: failed answers are asked again on a rerun (their rows replaced),
unless told not to; a retry wait that can only fail is refused before anything runs.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from chatbench.baselines import identity as identity_module
from chatbench.baselines import run_baselines
from chatbench.config import GraphSpec, RoleSettings
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.runner.batch import run_conversations
from chatbench.runner.identity import RunIdentityWarning
from chatbench.storage import ResultStore
from tests.conftest import ScriptedChatModel
from tests.test_run_identity import cli, error_line


def rows(out: Path) -> list[tuple[str, str, str | None]]:
    """(run id, id, error) of every stored baseline answer, by id."""
    db = sqlite3.connect(out)
    try:
        found = db.execute("SELECT run_id, id, record FROM baselines ORDER BY id").fetchall()
    finally:
        db.close()
    return [(run_id, key, json.loads(record)["error"]) for run_id, key, record in found]


def write_questions(path: Path, n: int = 3) -> Path:
    lines = [json.dumps({"id": f"q{i}", "subject": "s", "question": f"q {i}?",
                         "choices": ["yes", "no"], "answer": "A"}) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def baseline(out: Path, *extra: str, assistant: str = "fake:say:A") -> list[str]:
    return ["baseline", "--assistant", assistant, "--kinds", "letter_zero_shot,free_text",
            "--limit", "2", "--concurrency", "1", "--retry-wait", "0", "--out", str(out),
            *extra]


# --- class 2: the run's identity ----------------------------------------------------------------


def test_editing_the_question_file_reruns_under_a_new_run_id(tmp_path, monkeypatch, capsys):
    questions, out = write_questions(tmp_path / "q.jsonl"), tmp_path / "b.sqlite"
    args = ["baseline", "--assistant", "fake:say:A", "--kinds", "letter_zero_shot",
            "--questions", str(questions), "--limit", "3", "--out", str(out)]
    assert cli(monkeypatch, capsys, *args)[0] == 0
    assert cli(monkeypatch, capsys, *args)[0] == 0  # unchanged: the same run, nothing asked
    assert len(rows(out)) == 3
    questions.write_text(questions.read_text().replace('"q 1?"', '"q 1, edited?"'))
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 0, output
    stored = rows(out)
    assert len(stored) == 6 and len({run_id for run_id, _, _ in stored}) == 2


def test_editing_the_question_file_under_the_same_run_id_is_refused(
    tmp_path, monkeypatch, capsys
):
    questions, out = write_questions(tmp_path / "q.jsonl", n=4), tmp_path / "b.sqlite"
    args = ["baseline", "--assistant", "fake:say:A", "--kinds", "letter_zero_shot",
            "--questions", str(questions), "--limit", "4", "--out", str(out), "--run-id", "b"]
    assert cli(monkeypatch, capsys, *args)[0] == 0
    lines = questions.read_text().splitlines()
    lines[2] = lines[2].replace('"no"', '"perhaps"')
    questions.write_text("\n".join(lines[:3]) + "\n")  # q3 removed too
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 2
    line = error_line(output)
    assert "baseline run 'b'" in line
    assert "questions changed (2 of 4 differ: 1 edited, 1 removed)" in line
    assert len(rows(out)) == 4


@pytest.mark.parametrize(("option", "before", "after", "expected"), [
    ("--assistant", "fake:say:A", "fake:say:B", "assistant: fake:say:A -> fake:say:B"),
    ("--grader", None, "fake:say:A", "grader: none -> fake:say:A"),
    ("--grader", "fake:say:A", "fake:say:B", "grader: fake:say:A -> fake:say:B"),
    ("--seed", "0", "7", "seed: 0 -> 7"),
    ("--replicates", "1", "2", "replicates: 1 -> 2"),
    ("--kinds", "letter_zero_shot,free_text", "letter_zero_shot", "kinds removed: free_text"),
])
def test_reusing_a_run_id_with_other_settings_is_refused(
    tmp_path, monkeypatch, capsys, option, before, after, expected
):
    out = tmp_path / "b.sqlite"
    first = [option, before] if before is not None else []
    code, output = cli(monkeypatch, capsys, *baseline(out, "--run-id", "b"), *first)
    assert code == 0, output
    stored = rows(out)
    code, output = cli(monkeypatch, capsys, *baseline(out, "--run-id", "b"), option, after)
    assert code == 2
    line = error_line(output)
    assert "'b'" in line and expected in line
    assert rows(out) == stored


def test_how_a_run_executes_is_not_what_it_is(tmp_path, monkeypatch, capsys, question):
    out = tmp_path / "b.sqlite"
    assert cli(monkeypatch, capsys, *baseline(out, "--run-id", "b"))[0] == 0
    stored = rows(out)
    code, output = cli(monkeypatch, capsys, *baseline(out, "--run-id", "b"), "--concurrency",
                       "3", "--max-attempts", "1", "--retry-wait", "2.5")
    assert code == 0, output
    assert rows(out) == stored
    # a grader no kind asks is no part of the run
    with ResultStore(tmp_path / "c.sqlite") as store:
        run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], store=store)
        again = run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"],
                              grader=ScriptedChatModel(), store=store)
    assert again == []


def test_settings_and_protocol_are_part_of_the_identity(tmp_store, question, monkeypatch):
    with ResultStore(tmp_store) as store:
        run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], store=store)
        with pytest.raises(ConfigError, match=(
                r"letter_zero_shot max_tokens: 10 -> 5; letter_zero_shot temperature: "
                r"0\.7 -> 0\.0")):
            run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], store=store,
                          settings=RoleSettings(temperature=0.0, max_tokens=5))
        monkeypatch.setattr(identity_module, "PROTOCOL", "paper-v2")
        with pytest.raises(ConfigError, match="protocol: paper-v1 -> paper-v2"):
            run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], store=store)


def test_the_default_run_id_hashes_content_not_names(tmp_path, question):
    copy = question.model_copy()
    edited = question.model_copy(update={"stem": "What is 8 x 7?"})
    with ResultStore(tmp_path / "b.sqlite") as store:
        first = run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"],
                              store=store, run_id=None)
        same = run_baselines([copy], "fake:say:B", kinds=["letter_zero_shot"], store=store,
                             run_id=None)
        other = run_baselines([edited], "fake:say:B", kinds=["letter_zero_shot"], store=store,
                              run_id=None)
    assert same == [] and len(other) == 1
    assert first[0].run_id.startswith("baseline-") and other[0].run_id != first[0].run_id


def test_a_conversation_run_and_a_baseline_run_may_share_a_name(tmp_store, question):
    with ResultStore(tmp_store) as store:
        run_conversations([question], GraphSpec(), user="fake:say:Answer: B",
                          assistant="fake:echo", run_id="x", store=store)
        run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], run_id="x",
                      store=store)
        assert run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], run_id="x",
                             store=store) == []
        ran = []
        assert len(run_conversations([question], GraphSpec(), user="fake:say:Answer: B",
                                     assistant="fake:echo", run_id="x", store=store,
                                     on_record=ran.append)) == 1
        assert ran == []


def test_a_run_stored_without_an_identity_is_checked_by_its_rows(tmp_store, question):
    with ResultStore(tmp_store) as store:
        run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"], run_id="old",
                      store=store)
    db = sqlite3.connect(tmp_store)  # as an older chatbench left it: no identity
    with db:
        db.execute("DELETE FROM run_identities")
    db.close()
    with ResultStore(tmp_store) as store:
        with pytest.raises(ConfigError, match=r"older chatbench.*assistant: fake:say:B -> "
                                              r"fake:say:C"):
            run_baselines([question], "fake:say:C", kinds=["letter_zero_shot"], run_id="old",
                          store=store)
        with pytest.warns(RunIdentityWarning, match="stored by an older chatbench"):
            again = run_baselines([question], "fake:say:B", kinds=["letter_zero_shot"],
                                  run_id="old", store=store)
        assert again == [] and store.run_identity("baselines:old") is not None


# --- class 3: failed answers --------------------------------------------------------------------


def _one_failed(store: ResultStore, question: Question) -> None:
    """Replicate 0 fails (a non-transient error: no retry), replicate 1 is answered."""
    model = ScriptedChatModel(replies=[ValueError("outage"), "B"])
    first = run_baselines([question], model, kinds=["letter_zero_shot"], replicates=2,
                          store=store, retry_wait_s=0, concurrency=1)  # scripted: in order
    assert [r.error for r in sorted(first, key=lambda r: r.replicate)] == [
        "ValueError: outage", None]


def test_failed_answers_are_asked_again_and_their_rows_replaced(tmp_store, question):
    with ResultStore(tmp_store) as store:
        _one_failed(store, question)
        # the same model (same identity: its class), working now
        model = ScriptedChatModel(replies=["C"])  # one call only: the failed answer
        (retried,) = run_baselines([question], model, kinds=["letter_zero_shot"],
                                   replicates=2, store=store, retry_wait_s=0)
        assert len(model.calls) == 1 and retried.replicate == 0
        assert (retried.error, retried.choice) == (None, "C")
        stored = {r.replicate: r for r in store.baselines("baseline")}
        assert store.failed_baseline_ids("baseline") == set()
    assert len(rows(tmp_store)) == 2  # replaced, exactly once
    assert (stored[0].choice, stored[0].error, stored[1].choice) == ("C", None, "B")


def test_no_retry_failed_keeps_failed_answers(tmp_store, question):
    with ResultStore(tmp_store) as store:
        _one_failed(store, question)
        model = ScriptedChatModel()  # any call fails the test
        again = run_baselines([question], model, kinds=["letter_zero_shot"], replicates=2,
                              store=store, retry_failed=False)
        assert again == [] and model.calls == []
        assert len(store.failed_baseline_ids("baseline")) == 1
    assert [error for _, _, error in rows(tmp_store)] == ["ValueError: outage", None]


def test_command_asks_failed_answers_again_after_an_outage(tmp_path, monkeypatch, capsys):
    from chatbench.baselines import jobs as baselines  # where the answers are asked

    out, real = tmp_path / "b.sqlite", baselines.invoke_chat

    def down(*args, **kwargs):
        raise ConnectionError("outage")

    monkeypatch.setattr(baselines, "invoke_chat", down)
    args = baseline(out, "--kinds", "letter_zero_shot", "--max-attempts", "1")
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 3, output  # failed answers: exit 3
    assert [error for _, _, error in rows(out)] == ["ConnectionError: outage"] * 2
    monkeypatch.setattr(baselines, "invoke_chat", real)  # the outage is over
    code, output = cli(monkeypatch, capsys, *args, "--no-retry-failed")
    assert code == 3 and "2 failed answers stored earlier are kept" in output, output
    assert [error for _, _, error in rows(out)] == ["ConnectionError: outage"] * 2
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 0 and "2 failed answers stored earlier will be asked again" in output, output
    assert [error for _, _, error in rows(out)] == [None, None]
    code, output = cli(monkeypatch, capsys, *args)  # nothing left to ask
    assert code == 0 and "failed answers" not in output, output


@pytest.mark.parametrize("wait", ["-1", "nan", "inf", "1e9"])
def test_a_retry_wait_that_can_only_fail_is_refused_up_front(
    tmp_path, monkeypatch, capsys, question, wait
):
    out = tmp_path / "b.sqlite"
    code, output = cli(monkeypatch, capsys, *baseline(out)[:-4], "--retry-wait", wait,
                       "--out", str(out))
    assert code == 2 and "--retry-wait" in error_line(output)
    assert not out.exists()
    model = ScriptedChatModel()
    with pytest.raises(ConfigError, match="retry_wait_s"):
        run_baselines([question], model, retry_wait_s=float(wait))
    assert model.calls == []
