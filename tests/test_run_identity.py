"""A run's identity and failed conversations (issue 12, classes 2 and 3).

Class 2: a run id names one experiment. A rerun after the graph, persona or question file
changed is a new run; a run id (given, or resumed) stored with other settings is refused
with what differs; a resume from another directory reads the files the run was made from.
Class 3: failed conversations run again on resume and rerun (their rows replaced), unless
told not to; settings that can only fail are refused before anything runs.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from chatbench import ConfigError, GraphSpec, ResultStore, StopReason, run_conversations
from chatbench.config import AblationGrid, RoleSettings, RunConfig
from chatbench.data.questions import Question
from chatbench.graphs.builder import retry_policy
from chatbench.runner.ablate import plan_grid, run_grid
from chatbench.runner.batch import Variant, plan_run, run
from chatbench.runner.build import build_models
from tests.conftest import ScriptedChatModel, cli


def error_line(output: str) -> str:
    """The one ``error:`` line of a refused command (no traceback)."""
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


def rows(out: Path) -> list[tuple[str, str, str, str]]:
    """(run id, question id, stop reason, record JSON) of every stored conversation."""
    db = sqlite3.connect(out)
    try:
        return db.execute(
            "SELECT run_id, question_id, stop_reason, record FROM conversations ORDER BY id"
        ).fetchall()
    finally:
        db.close()


def write_questions(path: Path, prefix: str = "q", n: int = 3, answer: str = "A") -> Path:
    lines = [json.dumps({"id": f"{prefix}{i}", "subject": "s", "question": f"{prefix} {i}?",
                         "choices": ["yes", "no", "maybe"], "answer": answer})
             for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def fake_run(out: Path, *extra: str, assistant: str = "fake:echo",
             user: str = "fake:say:Answer: A") -> list[str]:
    return ["run", "--user", user, "--assistant", assistant, "--limit", "3",
            "--concurrency", "1", "--out", str(out), *extra]


# --- class 2: the run's identity ----------------------------------------------------------------


def test_editing_the_graph_yaml_reruns_under_a_new_run_id(tmp_path, monkeypatch, capsys):
    graph, out = tmp_path / "g.yaml", tmp_path / "r.sqlite"
    graph.write_text("name: g\nmax_turns: 3\n")
    assert cli(monkeypatch, capsys, *fake_run(out, "--graph", str(graph)))[0] == 0
    graph.write_text("name: g\nmax_turns: 2\n")
    code, output = cli(monkeypatch, capsys, *fake_run(out, "--graph", str(graph)))
    assert code == 0, output
    stored = rows(out)
    assert len(stored) == 6 and len({run_id for run_id, *_ in stored}) == 2
    assert {json.loads(r[3])["spec"]["max_turns"] for r in stored} == {2, 3}


def test_editing_the_graph_yaml_under_the_same_run_id_is_refused(tmp_path, monkeypatch, capsys):
    graph, out = tmp_path / "g.yaml", tmp_path / "r.sqlite"
    graph.write_text("name: g\nmax_turns: 3\nuser: {temperature: 1.0, max_tokens: 50}\n")
    assert cli(monkeypatch, capsys, *fake_run(out, "--graph", str(graph), "--run-id", "r"))[0] == 0
    # how it runs is not what it is: the same run, nothing to do
    code, output = cli(monkeypatch, capsys, *fake_run(out, "--graph", str(graph), "--run-id", "r"),
                       "--concurrency", "3", "--call-timeout", "30", "--max-attempts", "1")
    assert code == 0, output
    graph.write_text("name: g\nmax_turns: 3\nuser: {temperature: 0.5, max_tokens: 50}\n")
    code, output = cli(monkeypatch, capsys, *fake_run(out, "--graph", str(graph), "--run-id", "r"))
    assert code == 2
    assert "graph user.temperature: 1.0 -> 0.5" in error_line(output)
    assert len(rows(out)) == 3


def test_editing_the_question_file_is_refused_and_says_how_many_differ(
    tmp_path, monkeypatch, capsys
):
    questions, out = write_questions(tmp_path / "q.jsonl", n=5), tmp_path / "r.sqlite"
    args = fake_run(out, "--questions", str(questions), "--limit", "5", "--run-id", "r")
    assert cli(monkeypatch, capsys, *args)[0] == 0
    text = questions.read_text().splitlines()
    text[1] = text[1].replace('"q 1?"', '"q 1, edited?"')
    text[3] = text[3].replace('"maybe"', '"perhaps"')
    questions.write_text("\n".join(text[:4]) + "\n")  # q4 removed too
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 2
    assert "questions changed (3 of 5 differ: 2 edited, 1 removed)" in error_line(output)
    # without --run-id the edited file is a new run, run in full
    code, output = cli(monkeypatch, capsys, *args[:-2])
    assert code == 0, output
    assert len(rows(out)) == 5 + 4


@pytest.mark.parametrize(("option", "before", "after", "expected"), [
    ("--assistant", "fake:echo", "fake:say:B", "assistant: fake:echo -> fake:say:B"),
    ("--user", "fake:say:Answer: A", "fake:say:Answer: B",
     "user: fake:say:Answer: A -> fake:say:Answer: B"),
    ("--judge", None, "fake:say:A", "judge: rules -> fake:say:A"),
    ("--seed", "0", "7", "seed: 0 -> 7"),
    ("--replicates", "1", "2", "replicates: 1 -> 2"),
])
def test_reusing_a_run_id_with_other_settings_is_refused(
    tmp_path, monkeypatch, capsys, option, before, after, expected
):
    out = tmp_path / "r.sqlite"
    first = [option, before] if before is not None else []
    assert cli(monkeypatch, capsys, *fake_run(out, "--run-id", "r"), *first)[0] == 0
    code, output = cli(monkeypatch, capsys, *fake_run(out, "--run-id", "r"), option, after)
    assert code == 2
    line = error_line(output)
    assert "'r'" in line and expected in line
    assert len(rows(out)) == 3


def test_editing_the_persona_text_is_refused(tmp_path, monkeypatch, capsys):
    persona, out = tmp_path / "p.yaml", tmp_path / "r.sqlite"
    persona.write_text("name: p\nbackground: A nurse on a break.\n")
    args = fake_run(out, "--persona", str(persona), "--run-id", "r")
    assert cli(monkeypatch, capsys, *args)[0] == 0
    persona.write_text("name: p\nbackground: A retired judge.\n")
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 2
    assert "persona p text changed (background)" in error_line(output)


def test_python_api_refuses_a_run_id_stored_with_other_models(tmp_store):
    questions = [Question(id="q1", stem="?", choices=("a", "b"), answer="A")]
    spec = GraphSpec(max_turns=1)
    one = {"user": "fake:say:Answer: A", "run_id": "r", "store": None}
    with ResultStore(tmp_store) as store:
        one["store"] = store
        first = run_conversations(questions, spec,
                                  assistant=FakeListChatModel(responses=["one"]), **one)
        again = run_conversations(questions, spec,
                                  assistant=FakeListChatModel(responses=["one"]), **one)
        # the same model object, described the same way: the stored record, nothing rerun
        assert [r.id for r in again] == [r.id for r in first]
        assert again[0].started_at == first[0].started_at
        with pytest.raises(ConfigError, match=r"assistant: .*FakeListChatModel\(responses="
                                              r"\['one'\]\) -> .*\['two'\]") as caught:
            run_conversations(questions, spec,
                              assistant=FakeListChatModel(responses=["two"]), **one)
        # a Python caller is told the Python arguments, not the CLI's flags
        assert "run_id=" in str(caught.value) and "--run-id" not in str(caught.value)
        with pytest.raises(ConfigError, match="graph max_turns: 1 -> 2"):
            run_conversations(questions, GraphSpec(max_turns=2),
                              assistant=FakeListChatModel(responses=["one"]), **one)


def test_python_api_names_runs_by_their_settings_as_the_cli_does(tmp_store):
    """No run id: ``run-<hash>`` of the settings, the id ``chatbench run`` gives them, so a
    second assistant into the same store is a second run, never a refusal or a mix."""
    from chatbench.config import load_graph_spec
    from chatbench.data.questions import load_questions
    from chatbench.runner.plan import plan_run

    questions, quick = load_questions(limit=2), load_graph_spec("quick")
    with ResultStore(tmp_store) as store:
        echo = run_conversations(questions, quick, user="fake:say:Answer: A",
                                 assistant="fake:echo", store=store)
        other = run_conversations(questions, quick, user="fake:say:Answer: A",
                                  assistant="fake:say:hi", store=store)
    assert len({r.run_id for r in echo}) == 1 and echo[0].run_id.startswith("run-")
    assert other[0].run_id != echo[0].run_id
    cli_plan = plan_run(RunConfig(limit=2, graph="quick", user="fake:say:Answer: A",
                                  assistant="fake:echo"))
    assert cli_plan.run_id == echo[0].run_id


def test_resume_from_another_directory_reads_the_files_the_run_was_made_from(
    tmp_path, monkeypatch, capsys
):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    for folder, prefix in ((here, "here"), (elsewhere, "other")):
        folder.mkdir()
        write_questions(folder / "q.jsonl", prefix)
        (folder / "g.yaml").write_text(f"name: {prefix}\nmax_turns: 2\n")
    out = tmp_path / "r.sqlite"
    monkeypatch.chdir(here)
    args = fake_run(out, "--questions", "q.jsonl", "--graph", "g.yaml")
    assert cli(monkeypatch, capsys, *args)[0] == 0
    with sqlite3.connect(out) as db:  # an interrupted run: one conversation left to do
        db.execute("DELETE FROM conversations WHERE question_id = 'here1'")
    db = sqlite3.connect(out)
    (config,) = [json.loads(c) for (c,) in db.execute("SELECT config FROM runs")]
    db.close()
    assert config["questions"] == str(here / "q.jsonl") and config["graph"] == str(here / "g.yaml")
    monkeypatch.chdir(elsewhere)
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert code == 0, output
    assert sorted(q for _, q, _, _ in rows(out)) == ["here0", "here1", "here2"]
    # the files it was made from changed since: refused, with what changed
    write_questions(here / "q.jsonl", "here", answer="B")
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert code == 2
    assert "questions changed (3 of 3 differ: 3 edited)" in error_line(output)


def test_an_ablation_whose_base_graph_changed_is_a_new_run_and_refused_under_the_old_id(
    tmp_path
):
    base, out = tmp_path / "base.yaml", tmp_path / "grid.sqlite"
    base.write_text("name: base\nmax_turns: 2\n")
    grid = AblationGrid(name="g", base=str(base), factors={"user_cot": [False, True]},
                        limit=2, user="fake:say:Answer: A", assistant="fake:echo")
    first = plan_grid(grid)
    assert len(run_grid(first, str(out), concurrency=2)) == 4
    base.write_text("name: base\nmax_turns: 3\n")
    second = plan_grid(grid)
    assert second.run_id != first.run_id
    with pytest.raises(ConfigError, match=r"g\[user_cot=false\]: graph max_turns: 2 -> 3"):
        run_grid(dataclasses.replace(second, run_id=first.run_id), str(out))
    assert len(rows(out)) == 4


def _store_from_an_older_chatbench(out: Path) -> None:
    """What a store written before run identities looks like: no identity table."""
    with sqlite3.connect(out) as db:
        db.execute("DROP TABLE run_identities")


def test_resume_of_a_run_stored_by_an_older_chatbench_warns_and_records_it(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "r.sqlite"
    assert cli(monkeypatch, capsys, *fake_run(out, "--run-id", "r"))[0] == 0
    _store_from_an_older_chatbench(out)
    with sqlite3.connect(out) as db:
        db.execute("DELETE FROM conversations WHERE question_id = "
                   "(SELECT MIN(question_id) FROM conversations)")
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert code == 0, output
    assert "warning:" in output and "older chatbench" in output
    assert len(rows(out)) == 3
    # its settings are recorded now: other models are refused from here on
    code, output = cli(monkeypatch, capsys, *fake_run(out, "--run-id", "r",
                                                      assistant="fake:say:B"))
    assert code == 2 and "assistant: fake:echo -> fake:say:B" in error_line(output)


def test_a_run_stored_by_an_older_chatbench_with_other_models_is_refused(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "r.sqlite"
    assert cli(monkeypatch, capsys, *fake_run(out, "--run-id", "r"))[0] == 0
    _store_from_an_older_chatbench(out)
    code, output = cli(monkeypatch, capsys, *fake_run(out, "--run-id", "r",
                                                      assistant="fake:say:B"))
    assert code == 2
    line = error_line(output)
    assert "older chatbench" in line and "assistant: fake:echo -> fake:say:B" in line


def test_the_python_api_warns_about_a_run_from_an_older_chatbench(tmp_path):
    out = tmp_path / "r.sqlite"
    config = RunConfig(user="fake:say:Answer: A", assistant="fake:echo", limit=2, out=out,
                       run_id="r")
    run(config)
    _store_from_an_older_chatbench(out)
    from chatbench.runner.identity import RunIdentityWarning

    with pytest.warns(RunIdentityWarning, match="older chatbench"):
        assert len(run(config)) == 2


# --- class 3: failed conversations run again ----------------------------------------------------


def _failed_then_fixed(tmp_store: Path, retry_failed: bool) -> tuple[list, ScriptedChatModel]:
    """One conversation fails (its assistant raises), then runs again with a working one."""
    questions = [Question(id="q1", stem="?", choices=("a", "b"), answer="A")]
    spec = GraphSpec(max_turns=1)
    fixed = ScriptedChatModel(replies=["all good"])
    with ResultStore(tmp_store) as store:
        # ValueError is not transient: not retried within the conversation
        run_conversations(questions, spec, user="fake:say:Answer: A",
                          assistant=ScriptedChatModel(replies=[ValueError("outage")]),
                          store=store)
        assert [r.stop_reason for r in store.records()] == [StopReason.ERROR]
        run_conversations(questions, spec, user="fake:say:Answer: A", assistant=fixed,
                          store=store, retry_failed=retry_failed)
        return list(store.records()), fixed


def test_a_rerun_retries_a_failed_conversation_once_replacing_its_row(tmp_store):
    stored, fixed = _failed_then_fixed(tmp_store, retry_failed=True)
    assert len(fixed.calls) == 1
    assert len(stored) == 1
    assert stored[0].stop_reason is not StopReason.ERROR and stored[0].error is None


def test_retry_failed_false_keeps_the_failed_row(tmp_store):
    stored, fixed = _failed_then_fixed(tmp_store, retry_failed=False)
    assert fixed.calls == []
    assert [r.stop_reason for r in stored] == [StopReason.ERROR]


def _timed_out_run(out: Path, monkeypatch, capsys) -> list[str]:
    """A run whose every conversation failed: the assistant is slower than the timeout."""
    # fake:user asks the assistant for help once, then answers
    args = fake_run(out, "--call-timeout", "0.05", "--max-attempts", "1",
                    assistant="fake:echo@0.3", user="fake:user")
    assert cli(monkeypatch, capsys, *args)[0] == 3  # every conversation failed
    assert {stop for _, _, stop, _ in rows(out)} == {"error"}
    return args


def test_resume_retries_failed_conversations_after_the_cause_is_fixed(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "r.sqlite"
    _timed_out_run(out, monkeypatch, capsys)
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out), "--call-timeout", "5")
    assert code == 0, output
    assert "3 failed conversations stored earlier will run again" in output
    assert sorted(stop for _, _, stop, _ in rows(out)) == ["accepted"] * 3  # replaced


def test_rerunning_the_same_command_retries_failed_conversations(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.sqlite"
    args = _timed_out_run(out, monkeypatch, capsys)
    args[args.index("--call-timeout") + 1] = "5"  # not part of the identity: the same run
    assert cli(monkeypatch, capsys, *args)[0] == 0
    assert len({run_id for run_id, *_ in rows(out)}) == 1
    assert sorted(stop for _, _, stop, _ in rows(out)) == ["accepted"] * 3


def test_no_retry_failed_flag_keeps_failed_rows(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.sqlite"
    _timed_out_run(out, monkeypatch, capsys)
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out), "--call-timeout", "5",
                       "--no-retry-failed")
    assert code == 3, output  # the failed rows are kept, so the run still has failures
    assert "are kept" in output
    assert {stop for _, _, stop, _ in rows(out)} == {"error"}


def test_an_ablation_resume_retries_its_failed_cells(tmp_path):
    out = tmp_path / "grid.sqlite"
    grid = AblationGrid(name="g", base="two_step", factors={"max_turns": [1, 2]}, limit=1,
                        user="fake:user", assistant="fake:echo@0.3")
    slow = plan_grid(grid, retry=retry_policy(1, 0.0), call_timeout_s=0.05)
    assert {r.stop_reason for r in run_grid(slow, str(out))} == {StopReason.ERROR}
    kept = run_grid(slow, str(out), retry_failed=False)
    assert {r.stop_reason for r in kept} == {StopReason.ERROR}
    patient = plan_grid(grid, retry=retry_policy(1, 0.0), call_timeout_s=5)
    assert patient.run_id == slow.run_id
    records = run_grid(patient, str(out), concurrency=2)
    assert len(records) == 2 and all(r.error is None for r in records)


@pytest.mark.parametrize("command", ["run", "ablate"])
@pytest.mark.parametrize(("option", "value"), [
    ("--call-timeout", "nan"), ("--call-timeout", "inf"), ("--call-timeout", "-1"),
    ("--call-timeout", "0"), ("--call-timeout", "1e9"),
    ("--retry-wait", "nan"), ("--retry-wait", "inf"), ("--retry-wait", "-1"),
    ("--retry-wait", "1e9"),
])
def test_timings_that_can_only_fail_are_refused_up_front(
    tmp_path, monkeypatch, capsys, command, option, value
):
    out = tmp_path / "r.sqlite"
    args = (fake_run(out) if command == "run" else
            ["ablate", "cot", "--user", "fake:user", "--assistant", "fake:echo", "--limit", "1",
             "--out", str(out)])
    code, output = cli(monkeypatch, capsys, *args, f"{option}={value}")
    assert code == 2
    assert option in error_line(output)
    assert not out.exists() or rows(out) == []


@pytest.mark.parametrize("timing", [{"call_timeout_s": float("nan")},
                                    {"call_timeout_s": float("inf")},
                                    {"retry_wait_s": float("inf")}])
def test_the_python_api_refuses_timings_that_can_only_fail(timing):
    valid = RunConfig(user="fake:user", assistant="fake:echo", limit=1)
    config = RunConfig.model_construct(**{**valid.model_dump(), **timing})  # as a caller may
    with pytest.raises(ConfigError, match="must be"):
        plan_run(config)
    models = build_models(GraphSpec(), "fake:user", "fake:echo")
    retry = retry_policy(2, timing.get("retry_wait_s", 1.0))
    with pytest.raises(ConfigError, match="must be"):
        Variant.build(GraphSpec(), models, retry=retry, call_timeout_s=timing.get("call_timeout_s"))


@pytest.mark.parametrize("delay", ["-1", "nan", "inf", "-inf", "1e9"])
@pytest.mark.parametrize("role", ["--user", "--assistant", "--judge"])
def test_fake_delays_that_can_only_fail_are_refused_up_front(
    tmp_path, monkeypatch, capsys, delay, role
):
    out = tmp_path / "r.sqlite"
    code, output = cli(monkeypatch, capsys, *fake_run(out), role, f"fake:echo@{delay}")
    assert code == 2
    assert f"fake:echo@{delay}" in error_line(output)
    assert not out.exists() or rows(out) == []


def test_a_local_models_identity_includes_its_weights_dtype(monkeypatch):
    from chatbench.models.reference import ModelRef

    monkeypatch.delenv("CHATBENCH_DTYPE", raising=False)
    assert ModelRef.of("hf:some/model").identity == "hf:some/model"
    monkeypatch.setenv("CHATBENCH_DTYPE", "bfloat16")
    assert ModelRef.of("hf:some/model").identity == "hf:some/model (dtype bfloat16)"
    assert ModelRef.of("smollm2").identity == "smollm2 (dtype bfloat16)"
    assert ModelRef.of("fake:echo").identity == "fake:echo"  # no weights


def _racing(store: ResultStore) -> None:
    """The store misses the first read, as when another process claims the run between this
    claim's read and its write."""
    real, calls = store.run_identity, []

    def run_identity(key: str) -> str | None:
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    store.run_identity = run_identity  # type: ignore[method-assign]


def test_two_concurrent_claims_of_one_run_id_cannot_both_proceed(tmp_store):
    """The claim reads back what the store kept (its first write), runs and baselines alike."""
    from chatbench.baselines.identity import baseline_identity, claim_baselines
    from chatbench.runner.identity import claim_run, run_identity
    from chatbench.runner.recipe import Recipe

    questions = [Question(id="q1", stem="?", choices=("a", "b"), answer="A")]

    def identity(assistant: str):
        recipe = Recipe.plan(GraphSpec(), "fake:user", assistant)
        return run_identity([recipe.identity()], questions, 0, 1), recipe.names

    with ResultStore(tmp_store) as store:
        first, names = identity("fake:echo")
        claim_run(store, "r", first, names={"two_step": names})
        second, names = identity("fake:say:B")
        _racing(store)
        with pytest.raises(ConfigError, match="assistant: fake:echo -> fake:say:B"):
            claim_run(store, "r", second, names={"two_step": names})
        def answers(assistant: str):
            return baseline_identity(questions, ["letter_zero_shot"], assistant, None,
                                     {"letter_zero_shot": RoleSettings()}, 0, 1)

        claim_baselines(store, "b", answers("fake:echo"), "fake:echo")
        _racing(store)
        with pytest.raises(ConfigError, match="baseline run 'b'.*other settings"):
            claim_baselines(store, "b", answers("fake:say:B"), "fake:say:B")
