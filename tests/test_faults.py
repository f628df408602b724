"""Injected faults (issue 12): bad characters from models, user text that looks like console
markup, and files that cannot be read or written. Fake models only; each test takes seconds.

1. A model reply with text UTF-8 cannot hold (a lone surrogate), or odd but valid text (NUL,
   noncharacters), is stored, escaped where it must be, and never ends the run; a record the
   store cannot hold at all becomes that conversation's error record.
5. Run ids, paths, model strings and model output with square brackets print as they are.
6. A graph, persona or grid file that is binary, a folder or unreadable, and an output
   (store, HTML report, figures, export) that cannot be written, give one line naming the
   file and exit code 2.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from chatbench import GraphSpec, ResultStore, StopReason, load_questions, run_conversations
from chatbench.errors import MissingDependencyError
from chatbench.runner.batch import Variant, execute, plan_jobs
from chatbench.runner.build import build_models
from tests.conftest import DENIED, ScriptedChatModel, cli, make_read_only, needs_read_only


def encodable(text: str) -> str:
    """What the store keeps of ``text``: each lone surrogate as its backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
"""Root reads and writes files whatever their mode: chmod cases cannot fail there."""
needs_non_root = pytest.mark.skipif(IS_ROOT, reason="root reads any file whatever its mode")

BAD_TEXT = [
    pytest.param("\ud800", id="lone-high-surrogate"),
    pytest.param("\udcff", id="surrogate-escaped-byte"),
    pytest.param("\ud83d half an emoji", id="half-surrogate-pair"),
    pytest.param("nul\x00byte", id="nul"),
    pytest.param("\ufffe\uffff\x01\x1b[31m", id="noncharacters-and-controls"),
]

BRACKETS = ["[bold]", "[/]", "x[extra]", "[red]r[/red]", "a[/b]\\"]
"""Strings rich would restyle, drop or choke on if they were read as markup."""



def chatbench(*args: str, strict: bool = False) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a child process (arguments may carry surrogates: they
    reach the child as the bytes they escape). ``strict``: the child's stdout refuses text
    UTF-8 cannot hold, as it does under a UTF-8 locale other than C.UTF-8."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"} if strict else None
    return subprocess.run([sys.executable, "-m", "chatbench.cli", *args], capture_output=True,
                          text=True, errors="backslashreplace", timeout=120, env=env)


def assert_one_error_line(code: int, output: str, *names: str, alone: bool = False) -> None:
    """Exit code 2, no traceback, and exactly one ``error:`` line, which holds each of
    ``names`` (the file, and a word of the reason). ``alone``: nothing else was printed."""
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2, output
    assert "Traceback" not in output, output
    assert len(errors) == 1, output
    for name in names:
        assert name in errors[0], output
    if alone:
        assert output.strip() == errors[0], output


def fake_run_args(out: Path, *extra: str, user: str = "fake:say:Answer: A") -> list[str]:
    return ["run", "--user", user, "--assistant", "fake:echo", "--limit", "2", "--concurrency",
            "1", "--out", str(out), *extra]


# --- 1. bad characters from models ------------------------------------------------------------

RICH_SPEC = GraphSpec(user_cot=True, rubrics=("coherence",), ask_user_satisfaction=True,
                      max_turns=2)
"""A graph that stores model text everywhere: transcript, scratchpad, invalid answer, judge
and user-satisfaction judgements."""


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_bad_model_text_is_stored_in_every_field_and_the_run_goes_on(tmp_store, bad):
    text = f"Answer: {bad} tail"
    with ResultStore(tmp_store) as store:
        run_conversations(load_questions(limit=3), RICH_SPEC, user=f"fake:say:{text}",
                          assistant="fake:echo", judge=f"fake:say:{text}", store=store)
        stored = list(store.records())
    assert len(stored) == 3
    kept = encodable(text)
    for record in stored:
        assert record.stop_reason is StopReason.ACCEPTED, record.error
        assert {turn.content for turn in record.transcript} == {kept}
        assert record.scratchpad and set(record.scratchpad) == {kept}
        assert record.invalid_answer == encodable(f"{bad} tail")
        assert {j.raw for j in record.judgements.values()} == {kept}
        assert record.models["user"] == f"fake:say:{kept}"


@pytest.mark.parametrize("bad", ["\ud800", "\udcff\x00"])
def test_bad_text_in_an_error_message_is_stored(tmp_store, question, bad):
    spec = GraphSpec(max_turns=1)
    user = ScriptedChatModel(replies=["Hi", "Answer: B"])
    # ValueError: not retried, so the one scripted reply is enough
    assistant = ScriptedChatModel(replies=[ValueError(f"provider said {bad}")])
    with ResultStore(tmp_store) as store:
        run_conversations([question], spec, user=user, assistant=assistant, store=store)
        (record,) = store.records()
    assert record.stop_reason is StopReason.ERROR
    assert record.error is not None and encodable(bad) in record.error


def test_surrogates_in_a_run_id_and_factor_keys_resume_cleanly(tmp_store):
    # a variant name holding one is refused (tests/test_strict_inputs.py); the low-level
    # execute still stores a run id or factor key holding one escaped, and finds it again
    spec = GraphSpec(name="v")
    models = build_models(spec, "fake:say:Answer: A", "fake:echo", None)
    jobs = plan_jobs(load_questions(limit=2), [Variant.build(spec, models, {"k\ud800": 1})], 1, 0)
    with ResultStore(tmp_store) as store:
        first = list(execute(jobs, run_id="run\udcff", store=store))
        again = list(execute(jobs, run_id="run\udcff", store=store))
        stored = list(store.records("run\udcff"))
    assert len(first) == 2 and again == []  # stored under escaped ids, and found again
    assert {r.factors["k\\ud800"] for r in stored} == {1}


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_bad_text_crosses_worker_processes(tmp_store, executor):
    with ResultStore(tmp_store) as store:
        run_conversations(load_questions(limit=3), GraphSpec(), user="fake:say:Answer: \ud800",
                          assistant="fake:echo", store=store, executor=executor, processes=2)
        stored = list(store.records())
    assert len(stored) == 3
    assert all(r.invalid_answer == "\\ud800" for r in stored)


@pytest.mark.parametrize("factor", [object(), b"\xff\xfe", range(3)],
                         ids=["object", "non-utf8-bytes", "range"])
def test_record_the_store_cannot_hold_becomes_its_error_record(tmp_store, factor):
    spec = GraphSpec()
    models = build_models(spec, "fake:say:Answer: A", "fake:echo", None)
    variant = Variant.build(spec, models, {"odd": factor, "plain": "kept"})
    jobs = plan_jobs(load_questions(limit=3), [variant], 1, 0)
    with ResultStore(tmp_store) as store:
        returned = list(execute(jobs, run_id="r", store=store))
        stored = list(store.records("r"))
    assert len(returned) == len(stored) == 3  # every conversation accounted for
    for record in stored:
        assert record.stop_reason is StopReason.ERROR
        assert record.error is not None and "could not be stored" in record.error
        assert record.factors["plain"] == "kept" and record.models["user"] == "fake:say:Answer: A"
        assert record.transcript == [] and record.verdict is None


@pytest.mark.slow
def test_cli_stores_every_conversation_and_shows_them(tmp_path):
    out = tmp_path / "r.sqlite"
    ran = chatbench(*fake_run_args(out, user="fake:say:Answer: A \udcff\x01 [/]"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    with ResultStore(out) as store:
        assert len(store.ids()) == 2
    shown = chatbench("show", str(out))
    reported = chatbench("report", str(out), "--html", str(tmp_path / "r.html"))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "Answer: A \\udcff" in shown.stdout and "[/]" in shown.stdout
    assert reported.returncode == 0, reported.stdout + reported.stderr
    assert "\\udcff" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_text_utf8_cannot_hold_prints_escaped_on_a_strict_console(tmp_path):
    out = tmp_path / "r.sqlite"
    ran = chatbench(*fake_run_args(out, user="fake:say:Answer: A \udcff"), strict=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "user fake:say:Answer: A \\udcff" in ran.stdout
    refused = chatbench(*fake_run_args(out, "--run-id", "r\udcff"), strict=True)  # an id
    assert_one_error_line(refused.returncode, refused.stdout + refused.stderr, "run_id",
                          "\\udcff", alone=True)
    failed = chatbench("run", "--graph", str(tmp_path / "g\udcff.yaml"), strict=True)
    assert_one_error_line(failed.returncode, failed.stdout + failed.stderr, "g\\udcff.yaml",
                          alone=True)


# --- 5. user text is never console markup ------------------------------------------------------


@pytest.mark.parametrize("text", BRACKETS)
def test_run_id_and_model_output_with_brackets_print_as_they_are(tmp_path, monkeypatch, capsys,
                                                                 text):
    out = tmp_path / "r.sqlite"
    code, output = cli(monkeypatch, capsys,
                       *fake_run_args(out, "--run-id", text, user=f"fake:say:Answer: A {text}"))
    assert code == 0, output
    assert f"run {text}:" in output
    code, output = cli(monkeypatch, capsys, "show", str(out))
    assert code == 0, output
    assert f"USER 1: Answer: A {text}" in output and f"id: {text}/" in output
    code, output = cli(monkeypatch, capsys, "report", str(out), "--run-id", text, "--html",
                       str(tmp_path / "r.html"))
    assert code == 0, output


@pytest.mark.parametrize("text", BRACKETS)
def test_error_lines_with_brackets_print_as_they_are(tmp_path, monkeypatch, capsys, text):
    out = tmp_path / "r.sqlite"
    graph = str(tmp_path / f"g{text}.yaml")
    code, output = cli(monkeypatch, capsys, *fake_run_args(out, "--graph", graph))
    assert_one_error_line(code, output, graph, alone=True)
    assert cli(monkeypatch, capsys, *fake_run_args(out))[0] == 0
    code, output = cli(monkeypatch, capsys, "show", str(out), "--id", text)
    assert_one_error_line(code, output, repr(text))
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out), "--run-id", text)
    assert_one_error_line(code, output, repr(text))


@pytest.mark.parametrize("extra", ["hf", "parquet", "ray"])
def test_install_hints_keep_their_extra(tmp_path, monkeypatch, capsys, extra):
    import chatbench.reporting.results

    def missing() -> None:
        raise MissingDependencyError("this", extra=extra)

    out = tmp_path / "r.sqlite"
    assert cli(monkeypatch, capsys, *fake_run_args(out))[0] == 0
    monkeypatch.setattr(chatbench.reporting.results, "_require_pyarrow", missing)
    code, output = cli(monkeypatch, capsys, "export", str(out), str(tmp_path / "x"), "--format",
                       "parquet")
    assert_one_error_line(code, output, f"pip install 'chatbench[{extra}]'")


@pytest.mark.parametrize(("command", "hint"), [("run", "chatbench[ray]"),
                                               ("export", "chatbench[parquet]"),
                                               ("train", "chatbench[train]")])
def test_help_keeps_install_hints(monkeypatch, capsys, command, hint):
    monkeypatch.setenv("COLUMNS", "300")
    code, output = cli(monkeypatch, capsys, command, "--help")
    assert code == 0 and hint in output, output


def test_tables_are_plain_text_on_any_console():
    """Tables are API too: printed on a console that reads markup, they still show user text
    as it is."""
    from chatbench.cli import summary_table
    from chatbench.cli.report import render_conversation
    from chatbench.cli.train import perplexity_table
    from chatbench.scoring.metrics import summarize_by
    from chatbench.training.perplexity import PerplexityResult

    records = run_conversations(load_questions(limit=1), GraphSpec(name="v[/]"),
                                user="fake:say:Answer: [bold]A", assistant="fake:echo",
                                run_id="[red]")
    ppl = PerplexityResult(examples=1, target_tokens=2, mean_nll=0.5, perplexity=1.6)
    console = Console(markup=True, width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(summary_table(summarize_by(records, "variant"), "by variant"))
    console.print(perplexity_table([("hf:m[/]", ppl)]))
    for part in render_conversation(records[0]):
        console.print(part)
    text = console.export_text()
    assert "v[/]" in text and "hf:m[/]" in text and "Answer: [bold]A" in text


# --- 6. files that cannot be read or written ---------------------------------------------------


def _binary(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    return path


def _latin1(path: Path) -> Path:
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    return path


def _controls(path: Path) -> Path:
    path.write_bytes(b"name: x\x00\x01\n")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _no_permission(path: Path) -> Path:
    path.write_text("name: x\n")
    path.chmod(0)
    return path


BAD_INPUTS = [
    pytest.param(_binary, "UTF-8", id="binary"),
    pytest.param(_latin1, "UTF-8", id="not-utf8"),
    pytest.param(_controls, "not valid YAML", id="control-characters"),
    pytest.param(_folder, "is a directory", id="directory"),
    pytest.param(_no_permission, "permission denied", id="no-permission", marks=needs_non_root),
]
"""How to spoil an input file, and a word the error line must hold."""


@pytest.mark.parametrize(("make", "reason"), BAD_INPUTS)
@pytest.mark.parametrize("option", ["--graph", "--persona", "ablate"])
def test_unreadable_yaml_gives_one_line_naming_it(tmp_path, monkeypatch, capsys, make, reason,
                                                  option):
    bad = make(tmp_path / "bad.yaml")
    args = ["ablate", str(bad)] if option == "ablate" else fake_run_args(
        tmp_path / "r.sqlite", option, str(bad))
    code, output = cli(monkeypatch, capsys, *args)
    assert_one_error_line(code, output, str(bad), reason, alone=True)


def _under_a_file(tmp_path: Path, name: str) -> Path:
    (tmp_path / "plain.txt").write_text("not a folder")
    return tmp_path / "plain.txt" / name


def _read_only_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    make_read_only(folder)
    return folder / name


UNWRITABLE_OUT = [
    pytest.param(lambda tmp, name: _folder(tmp / name), "is a directory", id="a-directory"),
    pytest.param(_under_a_file, "plain.txt is not a folder", id="under-a-file"),
    pytest.param(_read_only_folder, "", id="read-only-folder", marks=needs_read_only),
]


@pytest.mark.parametrize(("where", "reason"), UNWRITABLE_OUT)
@pytest.mark.parametrize("command", ["run", "ablate"])
def test_unwritable_out_gives_one_line_naming_it(tmp_path, monkeypatch, capsys, where, reason,
                                                 command):
    out = where(tmp_path, "r.sqlite")
    args = (fake_run_args(out) if command == "run" else
            ["ablate", "cot", "--limit", "1", "--user", "fake:say:Answer: A",
             "--assistant", "fake:echo", "--out", str(out)])
    code, output = cli(monkeypatch, capsys, *args)
    assert_one_error_line(code, output, str(out), reason, alone=True)


def _read_only_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """Open every store as SQLite opens a file it may not write (root ignores chmod)."""
    connect = sqlite3.connect

    def read_only(path: object, *args: object, uri: bool = False,
                  **kwargs: object) -> sqlite3.Connection:
        target = path if uri else f"file:{path}?mode=ro"  # a reader's URI is read-only already
        return connect(target, *args, uri=True, **kwargs)  # type: ignore[arg-type]  # test shim

    monkeypatch.setattr("chatbench.storage.sqlite3.connect", read_only)


@pytest.mark.parametrize("command", ["run", "resume"])
def test_read_only_store_gives_one_line_naming_it(tmp_path, monkeypatch, capsys, command):
    out = tmp_path / "r.sqlite"
    assert cli(monkeypatch, capsys, *fake_run_args(out, "--limit", "1"))[0] == 0
    if command == "resume":  # leave something to do
        db = sqlite3.connect(out)
        with db:
            db.execute("DELETE FROM conversations")
        db.close()
    _read_only_sqlite(monkeypatch)
    args = fake_run_args(out, "--seed", "7") if command == "run" else ["run", "--resume",
                                                                       str(out)]
    code, output = cli(monkeypatch, capsys, *args)
    assert_one_error_line(code, output, str(out), "readonly")


@needs_read_only
def test_read_only_store_file_gives_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.sqlite"
    assert cli(monkeypatch, capsys, *fake_run_args(out, "--limit", "1"))[0] == 0
    for path in tmp_path.iterdir():
        make_read_only(path)
    make_read_only(tmp_path)
    code, output = cli(monkeypatch, capsys, *fake_run_args(out, "--seed", "7"))
    assert_one_error_line(code, output, str(out))


def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "r.sqlite"
    assert cli(monkeypatch, capsys, *fake_run_args(out))[0] == 0
    return out


OUTPUT_TARGETS = [
    pytest.param(lambda tmp: _folder(tmp / "out.html"), "is a directory", id="a-directory"),
    pytest.param(lambda tmp: _under_a_file(tmp, "out.html"), "is not a folder",
                 id="under-a-file"),
    pytest.param(lambda tmp: _read_only_folder(tmp, "out.html"), DENIED,
                 id="read-only-folder", marks=needs_read_only),
]


@pytest.mark.parametrize(("where", "reason"), OUTPUT_TARGETS)
def test_unwritable_html_report_gives_one_line(tmp_path, monkeypatch, capsys, where, reason):
    store = _store(tmp_path, monkeypatch, capsys)
    html = where(tmp_path)
    code, output = cli(monkeypatch, capsys, "report", str(store), "--html", str(html))
    assert_one_error_line(code, output, str(html), reason)


FOLDER_TARGETS = [
    pytest.param(lambda tmp: tmp / "plain.txt", "is not a folder", id="an-existing-file"),
    pytest.param(lambda tmp: _under_a_file(tmp, "sub"), "is not a folder", id="under-a-file"),
    pytest.param(lambda tmp: _read_only_folder(tmp, "sub"), DENIED,
                 id="read-only-folder", marks=needs_read_only),
]


@pytest.mark.parametrize(("where", "reason"), FOLDER_TARGETS)
@pytest.mark.parametrize("command", ["export", "figures"])
def test_unwritable_output_folder_gives_one_line(tmp_path, monkeypatch, capsys, where, reason,
                                                 command):
    store = _store(tmp_path, monkeypatch, capsys)
    (tmp_path / "plain.txt").write_text("not a folder")
    folder = where(tmp_path)
    args = (["export", str(store), str(folder)] if command == "export" else
            ["report", str(store), "--html", str(tmp_path / "ok.html"), "--figures",
             str(folder)])
    code, output = cli(monkeypatch, capsys, *args)
    assert_one_error_line(code, output, str(folder), reason, alone=command == "export")


def test_any_other_file_error_still_gives_one_line(tmp_path, monkeypatch, capsys):
    """The backstop in ``main``: a file error no entry point foresaw names its file."""
    import chatbench.reporting.results

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "x[/].csv"))

    store = _store(tmp_path, monkeypatch, capsys)
    monkeypatch.setattr(chatbench.reporting.results, "load_results", denied)
    code, output = cli(monkeypatch, capsys, "export", str(store), str(tmp_path / "x"))
    assert_one_error_line(code, output, str(tmp_path / "x[/].csv"), "permission denied")


def test_unreadable_yaml_through_the_console_script(tmp_path):
    """The same, end to end in a child process: one line, exit 2, no traceback."""
    bad = _binary(tmp_path / "g[x].yaml")
    result = chatbench("run", "--graph", str(bad), "--out", str(tmp_path / "r.sqlite"))
    assert_one_error_line(result.returncode, result.stdout + result.stderr, str(bad),
                          alone=True)


def test_error_lines_are_not_wrapped(tmp_path, monkeypatch, capsys):
    deep = tmp_path.joinpath(*["a-long-folder-name"] * 12, "graph.yaml")
    code, output = cli(monkeypatch, capsys, "run", "--graph", str(deep))
    assert_one_error_line(code, output, str(deep), alone=True)


@pytest.mark.parametrize("command", ["show", "report", "export", "resume"])
def test_store_that_is_a_folder_gives_one_line(tmp_path, monkeypatch, capsys, command):
    folder = _folder(tmp_path / "r.sqlite")
    args = {"show": ["show", str(folder)], "report": ["report", str(folder)],
            "export": ["export", str(folder), str(tmp_path / "x")],
            "resume": ["run", "--resume", str(folder)]}[command]
    code, output = cli(monkeypatch, capsys, *args)
    assert_one_error_line(code, output, str(folder), "is a directory", alone=True)


def test_train_checks_its_out_folder_before_training(tmp_path, monkeypatch, capsys):
    pytest.importorskip("transformers")
    out = tmp_path / "plain.txt"
    out.write_text("not a folder")
    code, output = cli(monkeypatch, capsys, "train", "--out", str(out), "--max-examples", "2")
    assert_one_error_line(code, output, str(out), "is not a folder")
