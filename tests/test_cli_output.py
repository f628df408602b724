"""What a newcomer reads without the README: the run's first line names its graph (and that
the CLI's default is not Python's), models and engines; help paragraphs wrap at words; the
summary fits 100 columns; ``run_conversations`` with no spec is ``GraphSpec()``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chatbench import GraphSpec, load_questions, run_conversations
from chatbench.cli.commands import DEFAULT_GRAPH_NOTE, graph_note, model_line


def _chatbench(*args: str, columns: int = 100) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    result = subprocess.run([sys.executable, "-m", "chatbench.cli", *args], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_first_line_names_the_graph_the_models_and_that_the_default_is_not_pythons(
        tmp_path: Path) -> None:
    out = _chatbench("run", "--user", "fake:user", "--assistant", "fake:echo", "--limit", "2",
                     "--out", str(tmp_path / "r.sqlite"))
    first = " ".join(out.split("conversations ━")[0].split())
    assert "graph quick (chatbench's quick variant" in first
    assert "GraphSpec() in Python, is --graph two_step" in first
    assert "user fake:user, assistant fake:echo" in first
    assert graph_note("two_step") == "" and graph_note("quick") == DEFAULT_GRAPH_NOTE
    assert model_line("smollm2").startswith("smollm2 (")  # with its engine
    assert model_line("hf:some/folder") == "hf:some/folder (torch in this process)"
    assert model_line("gguf:m.gguf") == "gguf:m.gguf (llama.cpp in this process)"


def test_the_summary_fits_100_columns(tmp_path: Path) -> None:
    out = _chatbench("run", "--user", "fake:user", "--assistant", "fake:echo", "--limit", "5",
                     "--out", str(tmp_path / "r.sqlite"))
    table = [line for line in out.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
    assert table and max(len(line) for line in table) <= 100
    assert any("correct/answered" in line for line in table)


def test_help_paragraphs_wrap_at_word_boundaries() -> None:
    out = _chatbench("run", "--help", columns=80)
    description = "\n".join(line.rstrip() for line in out.split("╭─ Options")[0].splitlines())
    paragraphs = [p.split("\n") for p in description.strip("\n").split("\n\n")]
    lines = [line for paragraph in paragraphs[1:] for line in paragraph[:-1]]
    # every line but a paragraph's last is filled (none ends after a word or two)
    assert lines and all(len(line) > 60 for line in lines), lines


def test_run_conversations_with_no_spec_is_graphspec() -> None:
    questions = load_questions(limit=1)
    (default,) = run_conversations(questions, user="fake:user", assistant="fake:echo")
    (explicit,) = run_conversations(questions, GraphSpec(), user="fake:user",
                                    assistant="fake:echo")
    assert default.variant == explicit.variant == "two_step"
    assert default.spec == explicit.spec


def test_show_reads_the_question_the_run_stored_not_its_file(tmp_path: Path) -> None:
    import json

    questions = tmp_path / "mine.jsonl"
    questions.write_text(json.dumps({"id": "q-own", "subject": "own", "question":
                                     "What is the airspeed of a swallow?",
                                     "choices": ["11 m/s", "24 m/s"], "answer": 0}) + "\n")
    store = tmp_path / "r.sqlite"
    _chatbench("run", "--user", "fake:user", "--assistant", "fake:echo", "--questions",
               str(questions), "--out", str(store))
    questions.unlink()  # moved away: the store still has what the run asked
    shown = _chatbench("show", str(store))
    assert "What is the airspeed of a swallow?" in shown and "24 m/s" in shown
    from chatbench.storage import ResultStore

    with ResultStore(store, read_only=True) as s:
        (run_id,) = s.run_ids()
        assert s.question(run_id, "q-own").stem == "What is the airspeed of a swallow?"
        assert s.question(run_id, "no-such") is None


def test_a_run_leaves_only_its_store_behind(tmp_path: Path) -> None:
    _chatbench("run", "--user", "fake:user", "--assistant", "fake:echo", "--limit", "2",
               "--out", str(tmp_path / "r.sqlite"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite"]  # no -wal, no -shm
