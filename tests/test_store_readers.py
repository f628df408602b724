"""Reading result stores (issue 12): unreadable rows, read-only opening, other files, and a
run's summary at any size. Fake models and hand-built stores; each test takes seconds.

7. A row a reader cannot read (an unknown field, as a newer chatbench may write; invalid or
   truncated JSON; a value of the wrong type) or a run whose configuration is no JSON object
   is skipped with a warning naming it; report, show, export, ``paper --runs`` and resume go
   on. Resume runs again only rows no version can read (no JSON object): it keeps rows that
   are JSON, which a newer chatbench may have written and could still read.
9. Readers open stores read-only: never creating or changing the file, and reading one in a
   read-only folder. A file that is not a chatbench store (not SQLite, another application's
   database) is refused by readers and writers with one line naming it, and left as it is.
11. The summary after ``run``/``ablate`` is computed in SQL: no record is loaded, and the
    numbers are those of ``metrics.summarize_by`` over the records.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from chatbench import ResultStore, StopReason
from chatbench.config import RunConfig
from chatbench.datatypes import Summary
from chatbench.errors import ConfigError
from chatbench.paper.runs import load_runs
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.reporting.results import load_results
from chatbench.runner.batch import run
from chatbench.scoring.metrics import summarize_by, summarize_store
from tests.conftest import make_read_only, needs_read_only
from tests.test_faults import assert_one_error_line, cli, fake_run_args
from tests.test_stats import make_record

# --- shared helpers -----------------------------------------------------------------------------


def mixed_records() -> list[ConversationRecord]:
    """Two subjects, two variants: correct, wrong, no answer, an invalid answer, failures."""
    return [
        make_record("q1", seconds=1.5),
        make_record("q2", final_choice="B", seconds=2.25),
        make_record("q3", final_choice=None, subject="physics", forced=True),
        make_record("q4", final_choice=None, subject="physics").model_copy(
            update={"invalid_answer": "E", "verdict": "wrong"}),
        make_record("q5", failed=True, seconds=0.5).model_copy(
            update={"error": "TimeoutError: the assistant took too long"}),
        make_record("q6", "v2", failed=True).model_copy(update={"error": "ValueError: x: y"}),
        make_record("q7", "v2", failed=True, subject="physics").model_copy(
            update={"error": "TimeoutError: again"}),
        make_record("q1", "v2", choices=["A", "B"], seconds=3.0),
    ]


GOOD = "run/v1/q1/0"
BAD = "run/v1/q2/0"


def mixed_store(tmp_path: Path, name: str = "mixed.sqlite") -> Path:
    path = tmp_path / name
    with ResultStore(path) as store:
        for record in mixed_records():
            store.write(record)
        store.write_run("run", "run", {"questions": None}, "2026-01-01T00:00:00")
    return path


def sql(path: Path, statement: str, *args: object) -> None:
    """Change a store behind chatbench's back, as another program or a bad disk might."""
    db = sqlite3.connect(path)
    with db:
        db.execute(statement, args)
    db.close()


def corrupt(path: Path, expression: str, row_id: str = BAD) -> None:
    sql(path, f"UPDATE conversations SET record = {expression} WHERE id = ?", row_id)


def stored_record(path: Path, row_id: str) -> object:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT record FROM conversations WHERE id = ?", (row_id,)).fetchone()[0]
    finally:
        db.close()


def warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The store's warnings, one string each."""
    return [r.getMessage() for r in caplog.records if r.name == "chatbench.storage"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_state(folder: Path) -> dict[str, str]:
    """Every file in a folder and its content hash: what 'left as it is' compares."""
    return {p.name: digest(p) if p.is_file() else "<dir>" for p in sorted(folder.iterdir())}


# --- 7. unreadable rows -------------------------------------------------------------------------

CORRUPTIONS = [
    pytest.param("json_set(record, '$.added_in_v9', 1)", "unknown field 'added_in_v9'",
                 id="unknown-field"),
    pytest.param("substr(record, 1, length(record) / 2)", "not valid JSON", id="truncated"),
    pytest.param("'{not json'", "not valid JSON", id="invalid-json"),
    pytest.param("x'00ff10'", "not valid JSON", id="binary"),
    pytest.param("json_set(record, '$.turns', 'three')", "turns", id="wrong-type"),
    pytest.param("json_set(record, '$.stop_reason', 'exploded')", "stop_reason",
                 id="unknown-stop-reason"),
    pytest.param("json_remove(record, '$.correct_answer')", "correct_answer",
                 id="missing-field"),
    pytest.param("'[1, 2]'", "the record", id="json-array"),
]
"""How to spoil a stored record, and a word the warning about it must hold."""


@pytest.mark.parametrize(("corruption", "reason"), CORRUPTIONS)
def test_load_results_skips_an_unreadable_row_and_names_it(tmp_path, caplog, corruption,
                                                           reason):
    store = mixed_store(tmp_path)
    corrupt(store, corruption)
    with caplog.at_level(logging.WARNING):
        ids = list(load_results(store).conversations["id"])
    assert sorted(ids) == sorted(r.id for r in mixed_records() if r.id != BAD)
    (warning,) = warned(caplog)
    assert repr(BAD) in warning and reason in warning and str(store) in warning


@pytest.mark.parametrize(("corruption", "reason"), CORRUPTIONS[:3])
@pytest.mark.parametrize("command", ["report", "export", "show", "paper"])
def test_every_reader_goes_on_past_an_unreadable_row(tmp_path, monkeypatch, capsys, caplog,
                                                     corruption, reason, command):
    store = mixed_store(tmp_path)
    corrupt(store, corruption)
    with caplog.at_level(logging.WARNING):
        if command == "paper":
            assert len(load_runs(store)) == len(mixed_records()) - 1
        else:
            args = {"report": ["report", str(store), "--html", str(tmp_path / "r.html")],
                    "export": ["export", str(store), str(tmp_path / "csv")],
                    "show": ["show", str(store), "--index", "1"]}[command]
            code, output = cli(monkeypatch, capsys, *args)
            assert code == 0, output
    assert [w for w in warned(caplog) if repr(BAD) in w and reason in w]
    if command == "export":
        conversations = (tmp_path / "csv" / "conversations.csv").read_text()
        assert GOOD in conversations and BAD not in conversations
    if command == "show":  # the index counts readable conversations: q1, then q3
        assert "q3 (physics)" in output


def test_show_names_an_unreadable_conversation_asked_for(tmp_path, monkeypatch, capsys):
    store = mixed_store(tmp_path)
    corrupt(store, "json_set(record, '$.added_in_v9', 1)")
    code, output = cli(monkeypatch, capsys, "show", str(store), "--id", BAD)
    assert_one_error_line(code, output, str(store), repr(BAD), "unknown field 'added_in_v9'")
    code, output = cli(monkeypatch, capsys, "show", str(store), "--id", GOOD)
    assert code == 0 and "q1 (math)" in output


def test_many_unreadable_rows_are_named_then_counted(tmp_path, caplog):
    store = mixed_store(tmp_path)
    with ResultStore(store) as s:
        for i in range(12):
            s.write(make_record(f"extra{i}"))
    sql(store, "UPDATE conversations SET record = '{' WHERE question_id LIKE 'extra%'")
    with caplog.at_level(logging.WARNING):
        assert len(load_results(store).conversations) == len(mixed_records())
    lines = warned(caplog)
    assert len(lines) == 6  # five named, then one line for the other seven
    assert all("'run/v1/extra" in line for line in lines)
    assert "7 more unreadable conversations skipped" in lines[-1]


@pytest.mark.slow
def test_the_console_prints_one_line_per_unreadable_row(tmp_path):
    store = mixed_store(tmp_path)
    corrupt(store, "'{'", BAD)
    corrupt(store, "json_set(record, '$.x', 1)", GOOD)
    result = subprocess.run(
        [sys.executable, "-m", "chatbench.cli", "export", str(store), str(tmp_path / "csv")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, result.stderr
    assert repr(GOOD) in lines[0] and repr(BAD) in lines[1] and "Traceback" not in result.stderr


BAD_CONFIGS = [
    pytest.param("'{\"questions\": '", id="truncated"),
    pytest.param("'[1, 2]'", id="not-an-object"),
    pytest.param("'null'", id="null"),
]


@pytest.mark.parametrize("config", BAD_CONFIGS)
def test_a_run_whose_config_cannot_be_read_is_skipped_by_readers(tmp_path, monkeypatch, capsys,
                                                                 caplog, config):
    store = mixed_store(tmp_path)
    sql(store, f"UPDATE runs SET config = {config}")
    with caplog.at_level(logging.WARNING):
        code, output = cli(monkeypatch, capsys, "show", str(store), "--id", GOOD)
        assert code == 0 and "q1 (math)" in output, output
        code, output = cli(monkeypatch, capsys, "report", str(store), "--run-id", "other",
                           "--html", str(tmp_path / "r.html"))
    assert_one_error_line(code, output, "runs: run")  # the run is still listed by its id
    assert [w for w in warned(caplog) if "run 'run' cannot be read" in w]


def _cli_run(tmp_path: Path, monkeypatch, capsys, *extra: str) -> Path:
    out = tmp_path / "r.sqlite"
    code, output = cli(monkeypatch, capsys, *fake_run_args(out, "--limit", "3", *extra))
    assert code == 0, output
    return out


def _run_id(out: Path) -> str:
    with ResultStore(out, read_only=True) as store:
        return store.run_ids()[-1]


@pytest.mark.parametrize("config", BAD_CONFIGS)
def test_resume_of_a_run_whose_config_cannot_be_read_is_one_line(tmp_path, monkeypatch, capsys,
                                                                 config):
    out = _cli_run(tmp_path, monkeypatch, capsys)
    sql(out, f"UPDATE runs SET config = {config}")
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert_one_error_line(code, output, str(out), repr(_run_id(out)), "cannot be read")


def test_resume_never_falls_back_to_an_older_run(tmp_path, monkeypatch, capsys):
    out = _cli_run(tmp_path, monkeypatch, capsys)
    older = _run_id(out)
    _cli_run(tmp_path, monkeypatch, capsys, "--seed", "5")
    latest = _run_id(out)
    sql(out, "UPDATE runs SET config = '{' WHERE run_id = ?", latest)
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert_one_error_line(code, output, repr(latest), "cannot be read")
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out), "--run-id", older)
    assert code == 0, output


@pytest.mark.parametrize(("corruption", "reason"), [
    p for p in CORRUPTIONS if p.id in ("truncated", "invalid-json", "binary", "json-array")])
def test_resume_runs_again_a_row_no_version_can_read(tmp_path, monkeypatch, capsys, caplog,
                                                     corruption, reason):
    out = _cli_run(tmp_path, monkeypatch, capsys)
    run_id = _run_id(out)
    with ResultStore(out, read_only=True) as store:
        victim = sorted(store.ids(run_id))[0]
    corrupt(out, corruption, victim)
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert code == 0, output
    assert "1 stored conversations cannot be read (no valid JSON) and will run again" in output
    assert "3 conversations in" in output
    caplog.clear()
    with ResultStore(out, read_only=True) as store:
        assert len(list(store.records(run_id))) == 3
    assert not warned(caplog)


@pytest.mark.parametrize(("corruption", "reason"), [
    p for p in CORRUPTIONS if p.id in ("unknown-field", "wrong-type", "missing-field")])
def test_resume_keeps_a_row_a_newer_chatbench_may_read(tmp_path, monkeypatch, capsys, caplog,
                                                       corruption, reason):
    out = _cli_run(tmp_path, monkeypatch, capsys)
    run_id = _run_id(out)
    with ResultStore(out, read_only=True) as store:
        victim = sorted(store.ids(run_id))[0]
    corrupt(out, corruption, victim)
    kept = stored_record(out, victim)
    with caplog.at_level(logging.WARNING):
        code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
        assert code == 0, output
        assert stored_record(out, victim) == kept
        with ResultStore(out, read_only=True) as store:  # the Python API, from its config
            config = RunConfig.model_validate(store.runs()[0].config)
        assert len(run(config)) == 2
    assert [w for w in warned(caplog) if repr(victim) in w and reason in w]


def test_resume_of_an_older_run_with_a_corrupt_row_does_not_crash(tmp_path, monkeypatch, capsys):
    """A run stored without its identity is checked against its rows' models: a row that is
    no JSON is left out of that check."""
    out = _cli_run(tmp_path, monkeypatch, capsys)
    run_id = _run_id(out)
    sql(out, "DELETE FROM run_identities")
    with ResultStore(out, read_only=True) as store:
        victim = sorted(store.ids(run_id))[0]
    corrupt(out, "'{'", victim)
    code, output = cli(monkeypatch, capsys, "run", "--resume", str(out))
    assert code == 0, output
    assert "3 conversations in" in output


# --- 9. read-only opening; files that are not chatbench stores -----------------------------------

READERS = {
    "report": lambda store, tmp: ["report", str(store), "--html", str(tmp / "out.html")],
    "show": lambda store, tmp: ["show", str(store)],
    "export": lambda store, tmp: ["export", str(store), str(tmp / "csv")],
}


def _block_sidecars(store: Path) -> None:
    """Make SQLite unable to create the store's -wal and -shm files, as a read-only folder
    does (folders in their place: this holds for root too, whom chmod does not stop)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").mkdir()


@pytest.mark.parametrize("command", [*READERS, "paper", "resume-read"])
def test_readers_read_a_store_whose_folder_sqlite_cannot_write(tmp_path, monkeypatch, capsys,
                                                              command):
    store = mixed_store(tmp_path)
    assert not Path(f"{store}-wal").exists()  # closed cleanly: a WAL store with no -wal file
    _block_sidecars(store)
    before = digest(store)
    if command == "paper":
        assert len(load_runs(store)) == len(mixed_records())
    elif command == "resume-read":
        with ResultStore(store, read_only=True) as s:
            assert [r.run_id for r in s.runs()] == ["run"]
            assert len(s.ids("run")) == len(mixed_records())
    else:
        code, output = cli(monkeypatch, capsys, *READERS[command](store, tmp_path))
        assert code == 0, output
    assert digest(store) == before


@needs_read_only
@pytest.mark.parametrize("command", list(READERS))
def test_readers_read_a_store_in_a_read_only_folder(tmp_path, monkeypatch, capsys, command):
    folder = tmp_path / "locked"
    folder.mkdir()
    store = mixed_store(folder)
    make_read_only(folder)
    code, output = cli(monkeypatch, capsys, *READERS[command](store, tmp_path))
    assert code == 0, output


def test_report_beside_a_store_it_cannot_write_still_prints(tmp_path, monkeypatch, capsys):
    """The default HTML report goes beside the store; where it cannot be written, the
    tables are still printed and a warning says how to write it elsewhere."""
    store = mixed_store(tmp_path)
    store.with_suffix(".html").mkdir()  # as unwritable as a read-only folder, for root too
    code, output = cli(monkeypatch, capsys, "report", str(store))
    assert code == 0, output
    assert "Accuracy by variant and subject" in output
    assert "warning: no HTML report" in output and "--html" in output


def test_readers_leave_an_older_store_as_it_is(tmp_path, monkeypatch, capsys):
    """A store written by an older chatbench lacks the newer tables: reading it adds none."""
    store = mixed_store(tmp_path)
    sql(store, "DROP TABLE run_identities")
    sql(store, "DROP TABLE baselines")
    before = folder_state(tmp_path)
    for command, args in READERS.items():
        code, output = cli(monkeypatch, capsys, *args(store, tmp_path / "elsewhere"))
        assert code == 0, (command, output)
    with ResultStore(store, read_only=True) as s:
        assert s.run_identity("run") is None and len(list(s.records())) == len(mixed_records())
    after = {k: v for k, v in folder_state(tmp_path).items() if not k.startswith("elsewhere")}
    # -wal/-shm files a reader may leave beside a WAL store are SQLite's, not the store's
    assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == before


@pytest.mark.parametrize("command", [*READERS, "resume"])
def test_readers_never_create_a_store(tmp_path, monkeypatch, capsys, command):
    missing = tmp_path / "none.sqlite"
    args = (["run", "--resume", str(missing)] if command == "resume"
            else READERS[command](missing, tmp_path))
    code, output = cli(monkeypatch, capsys, *args)
    assert_one_error_line(code, output, str(missing))
    with pytest.raises(ConfigError, match="no such result store"):
        ResultStore(missing, read_only=True)
    assert not missing.exists()


def _foreign(path: Path, journal: str = "delete", table: str = "users") -> Path:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA journal_mode={journal}")
    with db:
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute(f"INSERT INTO {table} (body) VALUES ('hello')")
    db.close()
    return path


FOREIGN = [
    pytest.param(lambda p: _foreign(p), "tables users", id="sqlite-app"),
    pytest.param(lambda p: _foreign(p, "wal"), "tables users", id="sqlite-app-wal"),
    pytest.param(lambda p: _foreign(p, table="conversations"), "tables conversations",
                 id="app-with-a-conversations-table"),
    pytest.param(lambda p: (p.write_text("name,score\nann,3\n"), p)[1], "not a SQLite database",
                 id="csv"),
    pytest.param(lambda p: (p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), p)[1],
                 "not a SQLite database", id="png"),
    pytest.param(lambda p: (p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200), p)[1], "",
                 id="sqlite-header-then-garbage"),
]
"""Files that are not chatbench stores, and a word the error line must hold."""


@pytest.mark.parametrize(("make", "reason"), FOREIGN)
@pytest.mark.parametrize("command", ["run", "ablate", *READERS, "resume"])
def test_a_file_that_is_no_store_is_refused_and_left_as_it_is(tmp_path, monkeypatch, capsys,
                                                              make, reason, command):
    path = make(tmp_path / "app.db")
    before = folder_state(tmp_path)
    args = {"run": fake_run_args(path),
            "ablate": ["ablate", "cot", "--limit", "1", "--user", "fake:say:Answer: A",
                       "--assistant", "fake:echo", "--out", str(path)],
            "resume": ["run", "--resume", str(path)]}.get(command)
    code, output = cli(monkeypatch, capsys, *(args or READERS[command](path, tmp_path / "x")))
    assert_one_error_line(code, output, str(path), "not a chatbench result store", reason)
    assert folder_state(tmp_path) == before  # the file byte for byte, and no -wal/-shm beside


@pytest.mark.parametrize(("make", "reason"), FOREIGN[:3])
def test_the_python_api_refuses_another_database_too(tmp_path, make, reason):
    path = make(tmp_path / "app.db")
    before = folder_state(tmp_path)
    for read_only in (False, True):
        with pytest.raises(ConfigError, match="not a chatbench result store"):
            ResultStore(path, read_only=read_only)
    assert folder_state(tmp_path) == before


def test_an_empty_file_is_refused_by_readers_and_becomes_a_store_for_writers(
        tmp_path, monkeypatch, capsys):
    path = tmp_path / "r.sqlite"
    path.touch()
    code, output = cli(monkeypatch, capsys, "report", str(path))
    assert_one_error_line(code, output, str(path), "an empty file")
    assert path.stat().st_size == 0
    code, output = cli(monkeypatch, capsys, *fake_run_args(path))
    assert code == 0, output
    assert "2 conversations in" in output


def test_a_reader_opens_the_store_read_only(tmp_path):
    store = mixed_store(tmp_path)
    with ResultStore(store, read_only=True) as s, pytest.raises(ConfigError, match="readonly"):
        s.write(make_record("q9"))


# --- 11. the summary of run/ablate --------------------------------------------------------------


def assert_same(got: list[Summary], want: list[Summary]) -> None:
    """Equal summaries; means up to float rounding (SQL and Python sum in other orders)."""
    assert [x.group for x in got] == [x.group for x in want]
    for a, b in zip(got, want, strict=True):
        assert (a.conversations, a.errors, a.answered, a.correct) == (
            b.conversations, b.errors, b.answered, b.correct)
        assert a.mean_turns == pytest.approx(b.mean_turns)
        assert a.mean_seconds == pytest.approx(b.mean_seconds)


@pytest.mark.parametrize("by", ["subject", "variant"])
def test_sql_summary_matches_the_summary_of_the_records(tmp_path, by):
    store = mixed_store(tmp_path)
    with ResultStore(store, read_only=True) as s:
        records = list(s.records("run"))
        got, kinds = summarize_store(s, "run", by), s.failure_kinds("run")
        assert summarize_store(s, "no-such-run", by) == summarize_by([], by)
    want = summarize_by(records, by)
    assert_same(got, want)
    failed = [r for r in records if r.stop_reason is StopReason.ERROR]
    assert kinds == Counter((r.error or "").split(":", 1)[0] for r in failed).most_common()
    assert kinds == [("TimeoutError", 2), ("ValueError", 1)]
    assert (want[-1].errors, want[-1].answered, want[-1].correct) == (3, 4, 2)


def _no_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading a record fail: what must not happen while summarising."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the summary loaded records")

    monkeypatch.setattr(ResultStore, "records", refuse)
    monkeypatch.setattr(ConversationRecord, "model_validate_json", refuse)


def _big_store(path: Path, rows: int) -> None:
    """``rows`` conversations of run ``run``, each with a 4 KB transcript."""
    template = make_record("q").model_copy(update={
        "transcript": [TranscriptTurn(role="user", content="x" * 4000)]}).model_dump_json()
    with ResultStore(path) as store:
        store.write(make_record("seed"))
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO conversations VALUES (?, 'run', ?, ?, 'v1', 0, ?, ?, 1, 0.5, ?)",
            [(f"run/v1/q{i}/0", f"q{i}", ["math", "physics"][i % 2],
              "correct" if i % 3 else None, "accepted" if i % 3 else "error", template)
             for i in range(rows)])
    db.close()


def test_the_summary_of_a_big_run_loads_no_record(tmp_path, monkeypatch, capsys):
    from chatbench.cli import commands as cli_module

    store = tmp_path / "big.sqlite"
    _big_store(store, 3000)
    _no_records(monkeypatch)
    tracemalloc.start()
    try:
        cli_module._report(store, "run", time.perf_counter(), "subject")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    output = capsys.readouterr().out
    assert peak < 3_000_000  # the records' JSON alone is 12 MB
    assert "3001 conversations in" in output
    assert "1000 failed conversations" in output


@pytest.mark.parametrize("command", ["run", "ablate"])
def test_run_and_ablate_summarise_without_loading_records(tmp_path, monkeypatch, capsys,
                                                          command):
    out = tmp_path / "r.sqlite"
    args = (fake_run_args(out, "--limit", "4") if command == "run" else
            ["ablate", "cot", "--limit", "2", "--user", "fake:say:Answer: A", "--assistant",
             "fake:echo", "--out", str(out), "--concurrency", "1"])
    monkeypatch.setattr(ResultStore, "records", lambda *a, **k: pytest.fail("records loaded"))
    code, output = cli(monkeypatch, capsys, *args)
    assert code == 0, output
    assert "4 conversations in" in output
    rows = [[c for c in line.split() if c.isalnum()] for line in output.splitlines()]
    assert [row[:3] for row in rows if row[:1] == ["all"]] == [["all", "4", "0"]]  # n, err
    monkeypatch.undo()
    with ResultStore(out, read_only=True) as store:
        run_id = store.run_ids()[-1]
        by = "subject" if command == "run" else "variant"
        assert_same(summarize_store(store, run_id, by), summarize_by(store.records(run_id), by))


def test_blocked_sidecars_stop_sqlite_as_a_read_only_folder_does(tmp_path):
    """The simulation is real: folders in place of -wal/-shm stop a plain read-only open of
    a WAL store, for root too, whom chmod does not stop (hence ``needs_non_root`` above)."""
    store = mixed_store(tmp_path)
    _block_sidecars(store)
    db = sqlite3.connect(f"{store.absolute().as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError):
        db.execute("SELECT count(*) FROM conversations").fetchone()
    db.close()


def test_a_corrupt_baseline_row_is_skipped_by_readers_and_asked_again(tmp_path, caplog):
    from chatbench.baselines import run_baselines
    from chatbench.data.questions import load_questions

    path = tmp_path / "b.sqlite"
    questions = load_questions(limit=2)
    with ResultStore(path) as store:
        first = run_baselines(questions, "fake:say:A", kinds=["letter_zero_shot"], store=store,
                              run_id=None)
    run_id = first[0].run_id
    with sqlite3.connect(path) as db:
        db.execute("UPDATE baselines SET record = '{\"id\": tru' WHERE id = ?", (first[0].id,))
    with ResultStore(path, read_only=True) as store, caplog.at_level("WARNING"):
        readable = list(store.baselines(run_id))
    assert [r.id for r in readable] == [first[1].id]
    assert first[0].id in caplog.text and "cannot be read" in caplog.text
    with ResultStore(path) as store:
        again = run_baselines(questions, "fake:say:A", kinds=["letter_zero_shot"], store=store,
                              run_id=None)
        assert [r.id for r in again] == [first[0].id]
        assert {r.id for r in store.baselines(run_id)} == {r.id for r in first}
