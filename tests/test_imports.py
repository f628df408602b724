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
try:
    chatbench.get_chat_model("smollm2")
except chatbench.MissingDependencyError as exc:
    assert "chatbench[hf]" in str(exc), exc
else:
    raise AssertionError("smollm2 loaded without torch")
print("ok")
"""


def test_core_imports_and_runs_without_torch():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
