"""chatbench works without the hf extra: nothing outside models/hf.py imports torch."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["torch"] = None          # any 'import torch' now raises ImportError
sys.modules["transformers"] = None
import chatbench
from chatbench import GraphSpec, load_questions, run_conversations
records = run_conversations(load_questions(limit=1), GraphSpec(), user="fake:say:Answer: A",
                            assistant="fake:echo")
assert records[0].stop_reason.value == "accepted"
import os
os.environ["CHATBENCH_ENGINE"] = "torch"  # llama.cpp's engine needs no torch; this one does
try:
    chatbench.get_chat_model("smollm2")
except chatbench.MissingDependencyError as exc:
    assert "chatbench[hf]" in str(exc), exc
else:
    raise AssertionError("smollm2 loaded on the torch engine without torch")
print("ok")
"""


def test_core_imports_and_runs_without_torch():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


ALIAS_SCRIPT = """
import importlib, warnings
from chatbench._moved import MOVED
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new), old
    assert module.__name__ == new, module.__name__
    assert any(new in str(w.message) for w in caught), (old, [str(w.message) for w in caught])
from chatbench.questions import Question, _BadField  # private names come along too
from chatbench.data.questions import Question as Moved
assert Question is Moved
print("ok")
"""


def test_old_module_paths_are_the_moved_modules_with_a_deprecation_warning():
    result = subprocess.run([sys.executable, "-c", ALIAS_SCRIPT], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_python_dash_m_chatbench_cli_is_the_command():
    result = subprocess.run([sys.executable, "-m", "chatbench.cli", "list"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "two_step" in result.stdout
