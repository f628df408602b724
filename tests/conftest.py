"""Shared fakes and guards. No test touches the network."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from chatbench.config import GraphSpec
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.graphs.builder import DEFAULT_RETRY
from chatbench.records import ConversationRecord
from chatbench.runner.batch import Variant
from chatbench.runner.build import build_models

FIXTURES = Path(__file__).parent / "fixtures"
GPT2_TOKENIZER = FIXTURES / "gpt2_tokenizer"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and host not in ("127.0.0.1", "localhost", "::1", "")
        and not (self.family == socket.AF_UNIX)
    ):
        raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every ``hf`` test is ``slow`` too: it imports torch and loads real (if tiny)
    transformers weights. ``pytest -m "not slow"`` is the quick loop; ``pytest`` runs all."""
    for item in items:
        if item.get_closest_marker("hf") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like pydantic-ai's ALLOW_MODEL_REQUESTS = False: a real API call fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


class ScriptedChatModel(BaseChatModel):
    """A strict fake chat model that records every prompt it receives.

    Replies are consumed in order; one call too many fails the test (like
    ``GenericFakeChatModel``), and ``calls`` keeps each prompt for assertions. A reply that
    is an exception instance is raised instead.
    """

    replies: list[Any] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    kwargs: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-test"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls.append(list(messages))
        self.kwargs.append(kw)
        if not self.replies:
            raise AssertionError(f"unexpected model call #{len(self.calls)}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    def seen_text(self) -> str:
        """Everything this model was shown, joined."""
        return "\n".join(str(m.content) for call in self.calls for m in call)


def benchmark_module(name: str) -> Iterator[ModuleType]:
    """``benchmarks/NAME.py`` imported as a module (not run), for a fixture to yield from; it
    is forgotten afterwards."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"chatbench_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture
def question() -> Question:
    return Question(
        id="math-1",
        subject="elementary_mathematics",
        stem="What is 7 x 8?",
        choices=("54", "56", "58", "64"),
        answer="B",
    )


@pytest.fixture
def tmp_store(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "results.sqlite"


def stored_ids(path: Path) -> list[str]:
    """The conversation ids in a store file, read with plain SQLite (none before it exists)."""
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT id FROM conversations")]
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        db.close()


_STOP_AT_ROWS = """
import os, signal, sqlite3, sys
from chatbench import storage
out, rows = sys.argv.pop(1), int(sys.argv.pop(1))
write = storage.ResultStore.write
def write_then_stop(*args, **kwargs):
    write(*args, **kwargs)
    db = sqlite3.connect(out)
    try:
        stored = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
    finally:
        db.close()
    if stored >= rows:  # committed; freeze until the test's kill -9
        os.kill(os.getpid(), signal.SIGSTOP)
storage.ResultStore.write = write_then_stop
sys.argv[0] = "chatbench"
from chatbench.cli import main
main()
"""


def kill_9_after(command: list[str], out: Path, rows: int) -> list[str]:
    """Start ``command`` (``python -m chatbench.cli ...``), ``kill -9`` it once ``out`` holds
    ``rows`` conversations, and return the ids stored by then.

    The run stops itself (SIGSTOP) right after the commit that brings ``out`` to ``rows``
    rows, and is killed while stopped: the kill lands at that row count however slow or
    loaded the machine is, instead of racing the run's clock.
    """
    python, flag, module, *args = command
    assert (flag, module) == ("-m", "chatbench.cli"), command
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [python, "-c", _STOP_AT_ROWS, str(out), str(rows), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 600  # guards against a hang only; no race depends on it
        while not (status := os.waitpid(proc.pid, os.WUNTRACED | os.WNOHANG))[0]:
            if time.monotonic() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                pytest.fail(f"{command} stored no {rows} rows in 600 s")
            time.sleep(0.01)
        if not os.WIFSTOPPED(status[1]):
            proc.returncode = os.waitstatus_to_exitcode(status[1])  # reaped here, not by proc
            stderr.seek(0)
            pytest.fail(
                f"the run ended (exit code {proc.returncode}) before storing {rows} "
                f"rows: {stderr.read().decode(errors='replace')[-2000:]}"
            )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return stored_ids(out)


def record_essence(record: ConversationRecord) -> tuple[Any, ...]:
    """What must be equal between executors (not timings)."""
    return (
        record.id,
        record.verdict,
        record.final_choice,
        record.transcript,
        record.models,
        record.seed,
        record.stop_reason,
        record.turns,
        record.assistant_choices,
    )


def _refuse_to_unpickle(name: str) -> Any:
    raise ConfigError(f"cannot make model {name!r} in this process")


class UnbuildableChatModel(FakeListChatModel):
    """A chat model this process can use but no other process can rebuild (unpickling it
    raises ``ConfigError`` naming ``gone.yaml``), as a model whose files are gone."""

    def __reduce__(self) -> Any:
        return _refuse_to_unpickle, ("gone.yaml",)


def variant_a_worker_cannot_build(tmp_path: Path, retry: Any = None) -> Variant:
    """A variant whose assistant a worker process cannot make: a worker that has to build
    it fails, with ``gone.yaml`` in the error."""
    spec = GraphSpec(name="gone")
    model = UnbuildableChatModel(responses=["B"])
    return Variant.build(spec, build_models(spec, "fake:user", model), retry=retry or DEFAULT_RETRY)


def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Run ``chatbench ARGS`` in this process (through ``main``, as the console script does);
    returns the exit code and everything printed. An uncaught exception fails the test."""
    from chatbench.cli import main

    monkeypatch.setattr(sys, "argv", ["chatbench", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- read-only files and folders, for root too --------------------------------------------------

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
_LOCKED: list[Path] = []


def _chattr_works() -> bool:
    """Whether ``chattr +i`` (immutable: no writes, no new entries, even for root) works on
    the temporary folder's file system."""
    folder = Path(tempfile.mkdtemp())
    try:
        locked = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
        if locked:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        return locked
    except OSError:  # no chattr
        return False
    finally:
        folder.rmdir()


CAN_MAKE_READ_ONLY = not IS_ROOT or _chattr_works()
needs_read_only = pytest.mark.skipif(
    not CAN_MAKE_READ_ONLY, reason="root ignores file modes, and chattr +i does not work here"
)
DENIED = "permission denied"
"""The reason a write to a read-only path gives: chatbench words EPERM (an immutable path,
root) and EACCES (a mode that forbids it) alike."""


def make_read_only(path: Path) -> None:
    """Make ``path`` (a file or a folder) read-only for this process: by its mode, or, for
    root, whom modes do not stop, with ``chattr +i``. Undone after the test."""
    if IS_ROOT:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o555 if path.is_dir() else 0o444)
    _LOCKED.append(path)


@pytest.fixture(autouse=True)
def _undo_read_only() -> Iterator[None]:
    yield
    while _LOCKED:
        path = _LOCKED.pop()
        if IS_ROOT:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        else:
            path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Rubric and evaluator names a test registers (it appends them), removed afterwards so
    that no other test sees them."""
    from chatbench.scoring import rubrics

    names: list[str] = []
    yield names
    for name in names:
        rubrics._RUBRICS.pop(name, None)
        rubrics._EVALUATORS.pop(name, None)
