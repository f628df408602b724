"""Ctrl-C ends a command at once with exit status 130 and a line saying what is stored, even
while model calls hang, at start-up too, never with a traceback (README, "Reliability")."""

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
    # 2 of 20 conversations finish quickly; then every call hangs for 60 s
    proc = _start("run", "--user", "fake:user", "--assistant", "fake:echo@60", "--limit", "2",
                  "--replicates", "10", "--concurrency", "4", "--out", str(out), cwd=tmp_path)
    _wait_for(lambda: out.exists())
    time.sleep(1.0)  # the calls are under way
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=10)
    took = time.monotonic() - sent
    assert proc.returncode == 130, output
    assert took < 2.0, (took, output)
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

def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from chatbench.cli import app

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    code = result.exit_code if result.return_value is None else result.return_value
    return code, result.output


@pytest.mark.parametrize("command", [
    ("run", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "2"),
    ("ablate", "cot", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "1"),
    ("baseline", "--assistant", "fake:fail", "--limit", "1", "--kinds", "letter_zero_shot"),
])
def test_failed_conversations_exit_3_unless_allowed(tmp_path, command):
    out = ("--out", str(tmp_path / "r.sqlite"), "--max-attempts", "1")
    code, output = _cli(*command, *out)
    assert code == 3, output
    assert "exit 3:" in output and "--allow-failures" in output
    code, output = _cli(*command, *out, "--allow-failures")
    assert code == 0, output


def test_a_run_without_failures_exits_0(tmp_path):
    code, output = _cli("run", "--user", "fake:say:Answer: A", "--assistant", "fake:echo",
                        "--limit", "2", "--out", str(tmp_path / "r.sqlite"))
    assert code == 0, output and "exit 3" not in output


def test_the_command_line_exits_with_the_code_it_reports(tmp_path):
    """Through the entry point, not only typer's runner: 3 reaches the shell."""
    proc = _start("run", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "1",
                  "--max-attempts", "1", "--out", str(tmp_path / "r.sqlite"), cwd=tmp_path)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, output
