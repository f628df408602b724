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
