"""Runs at scale on fake models: concurrency, kill -9 and resume, ablation grids, failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatbench import GraphSpec, ResultStore, StopReason, load_questions, run_conversations
from chatbench.config import AblationGrid, load_grid
from chatbench.runner.ablate import plan_grid, run_grid
from tests.conftest import kill_9_after, stored_ids


def chatbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "chatbench.cli", *args]


def test_concurrent_run_gives_the_same_conversations_as_sequential():
    questions = load_questions(limit=10)
    kwargs = {"user": "fake:user", "assistant": "fake:echo@0.002", "replicates": 2, "seed": 3}
    sequential = run_conversations(questions, GraphSpec(), concurrency=1, **kwargs)
    concurrent = run_conversations(questions, GraphSpec(), concurrency=6, **kwargs)
    sequential.sort(key=lambda r: r.id)
    concurrent.sort(key=lambda r: r.id)
    assert [r.id for r in sequential] == [r.id for r in concurrent]
    for a, b in zip(sequential, concurrent, strict=True):
        assert (a.transcript, a.verdict, a.seed) == (b.transcript, b.verdict, b.seed)


@pytest.mark.slow
def test_kill_9_then_resume_stores_every_conversation_exactly_once(tmp_path):
    out = tmp_path / "killed.sqlite"
    args = ["run", "--user", "fake:user@0.02", "--assistant", "fake:echo@0.02", "--limit", "40",
            "--replicates", "2", "--concurrency", "4", "--out", str(out)]
    before = kill_9_after(chatbench(*args), out, rows=10)
    assert 10 <= len(before) < 80, "the run should have been killed part-way"

    resumed = subprocess.run(chatbench("run", "--resume", str(out), "--concurrency", "4"),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    after = stored_ids(out)
    assert len(after) == 80 and len(set(after)) == 80
    assert set(before) <= set(after)
    with ResultStore(out) as store:
        assert len(store.runs()) == 1
        assert all(r.stop_reason is StopReason.ACCEPTED for r in store.records())


def test_resume_of_a_missing_store_is_a_clear_error(tmp_path):
    result = subprocess.run(chatbench("run", "--resume", str(tmp_path / "none.sqlite")),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "nothing to resume" in result.stdout


def test_shipped_grids_are_valid():
    for name in ("persona", "cot", "persona_cot"):
        grid = load_grid(name)
        assert grid.cells()
    assert len(load_grid("persona_cot").cells()) == 6


def test_ablation_runs_full_factorial_into_one_store_tagged_by_factor(tmp_path):
    grid = load_grid("persona_cot").model_copy(
        update={"user": "fake:user", "assistant": "fake:echo", "limit": 3})
    out = tmp_path / "grid.sqlite"
    records = run_grid(plan_grid(grid), str(out), concurrency=4)
    assert len(records) == 6 * 3
    cells = {(r.factors["persona"], r.factors["user_cot"]) for r in records}
    assert cells == {(p, c) for p in (None, "novice", "expert") for c in (False, True)}
    cot = [r for r in records if r.factors["user_cot"]]
    assert all(r.scratchpad and r.spec["user_cot"] for r in cot)
    assert all(r.persona == r.factors["persona"] for r in records)
    assert len({r.variant for r in records}) == 6


@pytest.mark.slow
def test_ablate_cli_on_fakes(tmp_path):
    out = tmp_path / "cli-grid.sqlite"
    result = subprocess.run(
        chatbench("ablate", "cot", "--user", "fake:user", "--assistant", "fake:echo",
                  "--limit", "2", "--out", str(out)),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cot[user_cot=true]" in result.stdout and len(stored_ids(out)) == 4


def test_grid_with_bad_cell_names_the_cell():
    grid = AblationGrid(name="bad", factors={"max_turns": [2, 0]}, user="fake:user",
                        assistant="fake:echo")
    with pytest.raises(Exception, match=r"cell \{'max_turns': 0\}.*field 'max_turns'"):
        plan_grid(grid)
    with pytest.raises(ValueError, match="unknown factor 'colour'"):
        AblationGrid(name="x", factors={"colour": ["red"]})


@pytest.mark.slow
def test_failing_model_is_recorded_and_the_run_goes_on(tmp_path):
    out = tmp_path / "fail.sqlite"
    result = subprocess.run(
        chatbench("run", "--user", "fake:user", "--assistant", "fake:fail", "--limit", "2",
                  "--max-attempts", "2", "--retry-wait", "0.01", "--out", str(out)),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr  # failed conversations: exit 3
    assert "2 failed conversations" in result.stdout and "ConnectionError x2" in result.stdout
    with ResultStore(out) as store:
        records = list(store.records())
    assert len(records) == 2
    assert all(r.stop_reason is StopReason.ERROR and "fake:fail" in r.error for r in records)
    assert all(r.transcript[0].role == "user" for r in records)  # the user's turn is kept


@pytest.mark.slow
def test_ablate_failures_use_the_cli_retry_settings(tmp_path):
    out = tmp_path / "grid-fail.sqlite"
    result = subprocess.run(
        chatbench("ablate", "cot", "--user", "fake:user", "--assistant", "fake:fail", "--limit",
                  "1", "--max-attempts", "2", "--retry-wait", "0.01", "--out", str(out)),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr  # failed conversations: exit 3
    assert "2 failed conversations" in result.stdout
    resumed = subprocess.run(chatbench("run", "--resume", str(out), "--retry-wait", "0.01"),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 3, resumed.stderr  # still failing: still exit 3
    assert len(stored_ids(out)) == 2
