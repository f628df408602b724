"""chatbench works without the hf extra: nothing outside models/hf.py imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


OLD_PATHS = ("chatbench.questions", "chatbench.human_data", "chatbench.choice",
             "chatbench.answers", "chatbench.judges", "chatbench.metrics", "chatbench.stats",
             "chatbench.results", "chatbench.report", "chatbench.cli_report",
             "chatbench.cli_train", "chatbench.cli_paper", "chatbench.cli_baseline",
             "chatbench._cli", "chatbench.baseline_prompts", "chatbench.baseline_identity")
"""Module paths 0.1 had and 0.2 aliased; CHANGELOG.md says they are gone in 0.3."""


@pytest.mark.parametrize("old", OLD_PATHS)
def test_old_module_paths_are_gone_as_the_changelog_says(old: str) -> None:
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
    assert old in (Path(__file__).parents[1] / "CHANGELOG.md").read_text()


def test_python_dash_m_chatbench_cli_is_the_command():
    result = subprocess.run([sys.executable, "-m", "chatbench.cli", "list"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "two_step" in result.stdout


START_UP = """
import sys
import chatbench.cli.main
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"langchain_core", "langgraph",
                "langchain", "pandas", "numpy", "torch", "transformers", "matplotlib"})
print(",".join(heavy) or "none")
"""


def test_the_cli_starts_without_langchain_langgraph_or_pandas():
    # what makes ``chatbench --help`` quick (0.5 s, not 1.4 s, on the 2-core machine):
    # counted as modules loaded, never as seconds
    result = subprocess.run([sys.executable, "-c", START_UP], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"


def test_every_top_level_name_resolves_on_first_use():
    import chatbench

    for name in chatbench.__all__:
        assert getattr(chatbench, name) is not None, name
    assert set(chatbench.__all__) <= set(dir(chatbench))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        chatbench.nope  # noqa: B018
