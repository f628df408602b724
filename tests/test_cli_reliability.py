"""The command line tells the truth (README, "Reliability: what is guaranteed"): Ctrl-C ends a
command at once with exit status 130 and a line saying what is stored, even while model calls
hang, at start-up too, never with a traceback; failed conversations exit 3; options a mode
would ignore are refused; an export of a run the store lacks is an error; a partial run's
report says so; CSV cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """The ``chatbench`` command as its entry point starts it, with Python's own Ctrl-C
    handling even when this test runs as a background job (which ignores SIGINT)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import chatbench_launcher; chatbench_launcher.main()", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def _stored(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM conversations").fetchone()[0]


def _wait_for(condition, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ctrl_c_while_calls_hang_exits_130_at_once_saying_what_is_stored(tmp_path):
    out = tmp_path / "r.sqlite"
    # every assistant call hangs for an hour: a run that waited for its calls after Ctrl+C
    # would outlast the generous timeout below, however loaded the machine
    proc = _start("run", "--user", "fake:user", "--assistant", "fake:echo@3600", "--limit", "2",
                  "--replicates", "10", "--concurrency", "4", "--out", str(out), cwd=tmp_path)
    _wait_for(lambda: out.exists())
    time.sleep(1.0)  # the calls are under way
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the run did not exit within 60 s of Ctrl+C: {proc.communicate()[0]}")
    assert proc.returncode == 130, output
    assert "interrupted: 0 of 20 conversations stored" in output
    assert "run the same command again" in output
    assert "Traceback" not in output
    assert _stored(out) == 0


def test_ctrl_c_at_start_up_exits_130_without_a_traceback(tmp_path):
    proc = _start("run", "--user", "fake:user", "--assistant", "fake:echo", cwd=tmp_path)
    time.sleep(0.3)  # chatbench is still importing
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert "Traceback" not in output and "interrupted" in output


def test_a_model_that_raises_keyboard_interrupt_ends_the_run_as_ctrl_c_does(tmp_path):
    out = tmp_path / "r.sqlite"
    proc = _start("run", "--user", "fake:user", "--assistant",
                  "app:tests.app_targets:interrupting_app", "--limit", "2", "--out", str(out),
                  cwd=ROOT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "interrupted: 0 of 2 conversations stored" in output
    assert "Traceback" not in output


# --- exit status of a run whose model calls failed -------------------------------------------

@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``chatbench ARGS`` through ``main``, as the console script runs it: (code, output)."""
    from tests.conftest import cli

    return lambda *args: cli(monkeypatch, capsys, *args)


@pytest.mark.parametrize("command", [
    ("run", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "2"),
    ("ablate", "cot", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "1"),
    ("baseline", "--assistant", "fake:fail", "--limit", "1", "--kinds", "letter_zero_shot"),
])
def test_failed_conversations_exit_3_unless_allowed(tmp_path, command, run_cli):
    out = ("--out", str(tmp_path / "r.sqlite"), "--max-attempts", "1")
    code, output = run_cli(*command, *out)
    assert code == 3, output
    assert "exit 3:" in output and "--allow-failures" in output
    code, output = run_cli(*command, *out, "--allow-failures")
    assert code == 0, output


def test_a_run_without_failures_exits_0(tmp_path, run_cli):
    code, output = run_cli("run", "--user", "fake:say:Answer: A", "--assistant", "fake:echo",
                        "--limit", "2", "--out", str(tmp_path / "r.sqlite"))
    assert code == 0, output and "exit 3" not in output


def test_the_command_line_exits_with_the_code_it_reports(tmp_path):
    """Through the entry point, not only typer's runner: 3 reaches the shell."""
    proc = _start("run", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "1",
                  "--max-attempts", "1", "--out", str(tmp_path / "r.sqlite"), cwd=tmp_path)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, output


# --- options a mode ignores, empty results, spreadsheet-safe CSV -----------------------------

def test_resume_refuses_the_options_it_would_ignore(tmp_path, run_cli):
    out = str(tmp_path / "r.sqlite")
    assert run_cli("run", "--user", "fake:say:Answer: A", "--assistant", "fake:echo",
                   "--limit", "1", "--out", out)[0] == 0
    code, output = run_cli("run", "--resume", out, "--questions", "other.jsonl", "--limit", "3")
    assert code == 2 and "--resume ignores --questions, --limit" in output, output
    code, output = run_cli("run", "--resume", out, "--concurrency", "2", "--max-attempts", "1")
    assert code == 0, output


def test_export_of_a_run_the_store_does_not_hold_is_an_error(tmp_path, run_cli):
    out = str(tmp_path / "r.sqlite")
    run_cli("run", "--user", "fake:say:Answer: A", "--assistant", "fake:echo", "--limit", "1",
         "--out", out, "--run-id", "real")
    code, output = run_cli("export", out, str(tmp_path / "x"), "--run-id", "nosuch")
    assert code == 2 and "no conversations or baseline answers of run 'nosuch'" in output
    assert "runs: real" in output and not (tmp_path / "x").exists()
    assert run_cli("export", out, str(tmp_path / "y"), "--run-id", "real")[0] == 0


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_csv_export_neutralises_formulas(tmp_path, text, run_cli):
    import csv

    out = str(tmp_path / "r.sqlite")
    run_cli("run", "--user", f"fake:say:{text}", "--assistant", "fake:echo", "--limit", "1",
         "--graph", "two_step", "--out", out, "--allow-failures")
    assert run_cli("export", out, str(tmp_path / "x"))[0] == 0
    with open(tmp_path / "x" / "turns.csv", newline="", encoding="utf-8") as file:
        cells = [cell for row in csv.reader(file) for cell in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert any(c.startswith("'") and text.strip() in c for c in cells)
    with open(tmp_path / "x" / "conversations.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows[0]["seed"].lstrip("-").isdigit()  # numbers stay numbers


@pytest.mark.slow
def test_the_report_of_a_partial_run_says_it_is_incomplete(tmp_path, run_cli):
    import sqlite3 as db

    out = str(tmp_path / "r.sqlite")
    run_cli("run", "--user", "fake:say:Answer: A", "--assistant", "fake:echo", "--limit", "3",
            "--out", out, "--run-id", "r")
    code, output = run_cli("report", out, "--html", str(tmp_path / "r.html"))
    assert code == 0 and "incomplete" not in output, output
    with db.connect(out) as conn:  # an interrupted run: one conversation never stored
        conn.execute("DELETE FROM conversations WHERE rowid = (SELECT max(rowid) FROM "
                     "conversations)")
    code, output = run_cli("report", out, "--html", str(tmp_path / "r.html"))
    assert code == 0
    assert "run r has 2 of its 3 planned conversations" in output, output
    assert f"chatbench run --resume {out} --run-id r" in output
