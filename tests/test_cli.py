"""The command line: runs on fake models, and user mistakes exit 2 with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatbench import ResultStore

ROOT = Path(__file__).resolve().parents[1]


def chatbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbench.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_run_on_fake_models_prints_table_and_stores(tmp_path):
    out = tmp_path / "r.sqlite"
    result = chatbench(
        "run",
        "--user",
        "fake:say:Answer: D",
        "--assistant",
        "fake:echo",
        "--limit",
        "5",
        "--out",
        str(out),
        "--graph",
        "two_step_cot",
        "--persona",
        "novice",
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy by subject" in result.stdout and "moral_scenarios" in result.stdout
    records = list(ResultStore(out).records())
    assert len(records) == 5
    assert all(r.persona == "novice" and r.spec["user_cot"] for r in records)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--graph", "nope"], "unknown graph 'nope'"),
        (["--persona", "ghost"], "unknown persona 'ghost'"),
        (["--user", "nope:model"], "unknown model 'nope:model'"),
        (["--user", "smolm2"], "unknown model 'smolm2'; did you mean 'smollm2'?"),
        (["--graph", "two_stpe"], "unknown graph 'two_stpe'; did you mean 'two_step'"),
        (["--persona", "novce"], "unknown persona 'novce'; did you mean 'novice'?"),
        (["--subjects", "astrology"], "astrology"),
        (["--questions", "missing.jsonl"], "missing.jsonl"),
        (["--limit", "0"], "field 'limit'"),
        (["--dtype", "int3"], "--dtype must be one of float32, bfloat16, float16, auto"),
        (["--store", "x.sqlite"], "No such option: --store"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(tmp_path, args, message):
    result = chatbench(
        "run", "--out", str(tmp_path / "r.sqlite"), "--assistant", "fake:echo", *args
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert message in " ".join(output.split())
    assert "Traceback" not in output


def test_bad_question_file_names_file_and_line(tmp_path):
    bad = tmp_path / "qs.jsonl"
    bad.write_text('{"id": "a", "question": "?", "choices": ["x", "y"], "answer": "A"}\n{oops\n')
    result = chatbench("run", "--questions", str(bad), "--out", str(tmp_path / "r.sqlite"))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2 and "qs.jsonl" in output and "line 2" in output


def test_list_shows_presets():
    result = chatbench("list")
    assert result.returncode == 0
    assert "two_step_cot" in result.stdout and "over_trusting" in result.stdout


@pytest.mark.parametrize("script", ["custom_graph.py", "python_api.py"])
def test_examples_run_on_fakes(script, tmp_path):
    extra = ["--out", str(tmp_path / "e.sqlite")] if script == "python_api.py" else []
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "verdict: correct" in result.stdout or "accuracy=" in result.stdout
