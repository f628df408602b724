"""Promises the rest of the suite would let regress (issue 12), pinned on fake models.

- A rerun repeats every transcript, and each model call gets its own seed, derived from the
  conversation's seed (itself derived from the run seed).
- Each role's sampling settings reach every call of its model.
- A failing or hanging call is tried exactly ``max_attempts`` times, in the graph and in every
  variant of ``ablate``; resuming a half-finished grid runs exactly its missing cells.
- ``Summary.errors`` counts the failed conversations, per group and overall.
- The numbers in the report's tables, worked out by hand on a small store.

Real-weight counterparts (sampling, training, LoRA) are in ``test_promises_hf.py``.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field
from rich.console import Console
from scipy import stats as sps
from typer.testing import CliRunner

from chatbench import (
    GraphSpec,
    SimContext,
    StopReason,
    build_graph,
    load_questions,
    run_conversations,
    simulate,
)
from chatbench.cli import commands as cli_module
from chatbench.config import RoleSettings
from chatbench.graphs.builder import retry_policy
from chatbench.models import registry
from chatbench.models.fake import FakeChatModel
from chatbench.models.invoke import message_text
from chatbench.reporting.results import Results, load_results
from chatbench.reporting.tables import (
    accuracy_table,
    agreement_table,
    comparison_table,
    conversation_latency_table,
    node_latency_table,
    outcome_table,
    print_report,
    report_tables,
    rubric_table,
    token_table,
)
from chatbench.scoring.metrics import summarize, summarize_by
from chatbench.storage import ResultStore
from tests.conftest import kill_9_after
from tests.test_stats import make_record

# --- fakes ------------------------------------------------------------------------------------

WORDS = ("maybe", "seven", "eight", "think", "option", "sure", "why", "help", "is", "it",
         "the", "one", "right", "wrong", "hmm", "ok")


class SeededSampler(BaseChatModel):
    """A fake local model that samples its reply with the seed each call receives.

    Without a seed it draws from an unseeded generator, as a sampler given none would, so a
    seed that is lost on the way shows up as a transcript that does not repeat. ``calls``
    keeps each call's keyword arguments (seed, temperature, max_tokens) and reply.
    """

    takes_call_seed: ClassVar[bool] = True  # as a local model: invoke_chat hands it the seed
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "seeded-sampler"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        seed = kw.get("seed")
        rng = random.Random(seed) if seed is not None else random.Random()
        text = " ".join(rng.choice(WORDS) for _ in range(6))  # never "Answer: ..."
        self.calls.append({**kw, "seed": seed, "text": text})
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class FlakyChatModel(BaseChatModel):
    """Fails its first ``failures`` calls, then replies ``reply``.

    A failure raises ``ConnectionError``, or, with ``hang_s``, takes that long (past the call
    timeout) instead. ``attempts`` gets one entry per call, as the call starts.
    """

    failures: int
    hang_s: float = 0.0
    reply: str = "I think it is B."
    attempts: list[float] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "flaky-test"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= self.failures:
            if not self.hang_s:
                raise ConnectionError("the flaky model is down")
            time.sleep(self.hang_s)  # the caller has stopped waiting; this reply is dropped
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply))])


class FailOnChatModel(FakeChatModel):
    """``fake:user`` that fails every call whose prompt contains one of ``fail_on``."""

    fail_on: tuple[str, ...] = ()

    def _reply(self, messages: list[BaseMessage]) -> str:
        if any(s in message_text(m) for m in messages for s in self.fail_on):
            raise ConnectionError("no route to the model")
        return super()._reply(messages)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch):
    """Register a test provider for this test: ``provider(name, factory)``."""
    registry.known_providers()  # registers the built-in providers first

    def register(name: str, factory: Any) -> None:
        monkeypatch.setitem(registry._PROVIDERS, name, factory)

    return register


@pytest.fixture
def no_retry_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """LangGraph adds up to 1 s of random jitter to every retry's wait; take it out so that
    retry tests run in milliseconds (the count of attempts is what they check)."""
    from langgraph.pregel import _retry

    if hasattr(_retry, "random"):
        monkeypatch.setattr(_retry, "random", SimpleNamespace(uniform=lambda a, b: 0.0))


def cli(*args: str) -> str:
    """Run ``chatbench ARGS`` in this process (so test providers are known); its output."""
    result = CliRunner().invoke(cli_module.app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def chatbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "chatbench.cli", *args]


# --- reruns and seeds -------------------------------------------------------------------------


SAMPLED = GraphSpec(name="sampled", max_turns=3, user_cot=True)
"""Every node that calls a model runs: notes, user turns, assistant replies, forced answer."""


def _essence(record: Any) -> tuple[Any, ...]:
    return (record.transcript, record.scratchpad, record.final_choice, record.verdict,
            record.stop_reason, record.turns)


def _sampled_run(seed: int) -> dict[str, Any]:
    records = run_conversations(load_questions(limit=3), SAMPLED, user=SeededSampler(),
                                assistant=SeededSampler(), seed=seed, replicates=2)
    return {(r.question_id, r.replicate): r for r in records}


def test_a_rerun_repeats_every_transcript_and_another_run_seed_changes_them():
    first, again, other = _sampled_run(5), _sampled_run(5), _sampled_run(6)
    assert first.keys() == again.keys() == other.keys() and len(first) == 6
    for key, record in first.items():
        assert record.stop_reason is StopReason.FORCED and len(record.transcript) == 7
        assert _essence(again[key]) == _essence(record)
        assert other[key].transcript != record.transcript
        assert other[key].scratchpad != record.scratchpad
    # each question and replicate is a conversation of its own
    assert len({tuple(r.transcript) for r in first.values()}) == 6


def _call_seeds(question: Any, seed: int) -> tuple[list[int | None], list[int | None]]:
    user, assistant = SeededSampler(), SeededSampler()
    record = simulate(build_graph(SAMPLED), question,
                      SimContext(assistant=assistant, user=user, seed=seed), SAMPLED)
    assert record.stop_reason is StopReason.FORCED, record.error
    return [c["seed"] for c in user.calls], [c["seed"] for c in assistant.calls]


def test_each_call_gets_its_own_seed_derived_from_the_conversation_seed(question):
    user, assistant = _call_seeds(question, 11)
    assert len(user) == 7 and len(assistant) == 3  # 3 notes, 3 turns, the forced answer
    seeds = user + assistant
    assert None not in seeds
    assert len(set(seeds)) == len(seeds)  # no two calls, of a role or across roles, share one
    assert _call_seeds(question, 11) == (user, assistant)  # a function of the seed alone
    other_user, other_assistant = _call_seeds(question, 12)
    assert not set(seeds) & set(other_user + other_assistant)


def test_each_role_sampling_settings_reach_every_call_of_its_model(question):
    spec = GraphSpec(max_turns=2, user_cot=True, user=RoleSettings(temperature=0.3, max_tokens=7),
                     assistant=RoleSettings(temperature=1.7, max_tokens=9))
    user, assistant = SeededSampler(), SeededSampler()
    simulate(build_graph(spec), question, SimContext(assistant=assistant, user=user, seed=0), spec)
    assert len(user.calls) == 5 and len(assistant.calls) == 2
    assert {(c["temperature"], c["max_tokens"]) for c in user.calls} == {(0.3, 7)}
    assert {(c["temperature"], c["max_tokens"]) for c in assistant.calls} == {(1.7, 9)}


# --- retries ----------------------------------------------------------------------------------


def _flaky_conversation(question: Any, model: FlakyChatModel, max_attempts: int) -> Any:
    spec = GraphSpec(max_turns=2)
    retry = retry_policy(max_attempts, 0.0)._replace(jitter=False)
    user = GenericFakeChatModel(messages=iter(["Can you help me?", "Answer: B"]))
    context = SimContext(assistant=model, user=user, seed=0,
                         call_timeout_s=0.3 if model.hang_s else None)
    return simulate(build_graph(spec, retry=retry), question, context, spec)


@pytest.mark.parametrize("max_attempts", [1, 3])
@pytest.mark.parametrize("hang_s", [0.0, 1.0], ids=["raises", "times_out"])
def test_graph_tries_a_failing_call_exactly_max_attempts_times(question, hang_s, max_attempts):
    recovers = FlakyChatModel(failures=max_attempts - 1, hang_s=hang_s)
    record = _flaky_conversation(question, recovers, max_attempts)
    assert record.stop_reason is StopReason.ACCEPTED, record.error
    assert len(recovers.attempts) == max_attempts
    assert record.transcript[1].content == "I think it is B."

    never = FlakyChatModel(failures=max_attempts, hang_s=hang_s)
    record = _flaky_conversation(question, never, max_attempts)
    assert record.stop_reason is StopReason.ERROR
    assert ("Timeout" if hang_s else "ConnectionError") in record.error
    assert len(never.attempts) == max_attempts


GRID = """\
name: promises
base: two_step
factors:
  user_cot: [false, true]
  max_turns: [2, 3]
limit: {limit}
user: "{user}"
assistant: "{assistant}"
"""


def _grid(tmp_path: Path, limit: int, user: str, assistant: str) -> str:
    path = tmp_path / "grid.yaml"
    path.write_text(GRID.format(limit=limit, user=user, assistant=assistant))
    return str(path)


@pytest.mark.usefixtures("no_retry_jitter")
@pytest.mark.parametrize("max_attempts", [2, 3])
def test_ablate_gives_every_variant_the_max_attempts_of_the_command(tmp_path, provider,
                                                                    max_attempts):
    made: list[FlakyChatModel] = []

    def flaky(failures: str) -> FlakyChatModel:  # flaky:N fails its first N calls
        made.append(FlakyChatModel(failures=int(failures)))
        return made[-1]

    provider("flaky", flaky)
    out = tmp_path / "grid.sqlite"
    # one question per variant: each variant's model serves one conversation, whose one
    # assistant call fails twice before it succeeds
    grid = _grid(tmp_path, 1, "fake:say:Answer: B", "flaky:2")
    cli("ablate", grid, "--max-attempts", str(max_attempts), "--retry-wait", "0",
        "--concurrency", "1", "--out", str(out), "--allow-failures")
    used = [m for m in made if m.attempts]
    assert len(used) == 4  # one model per variant
    assert [len(m.attempts) for m in used] == [max_attempts] * 4
    with ResultStore(out) as store:
        records = list(store.records())
    assert len(records) == 4
    expected = StopReason.ACCEPTED if max_attempts == 3 else StopReason.ERROR
    assert {r.stop_reason for r in records} == {expected}


def _rows(path: Path) -> dict[str, str]:
    """Each stored conversation's id and its full record (JSON), read with plain SQLite."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, record FROM conversations").fetchall()
    assert len(rows) == len(dict(rows)), "a conversation is stored twice"
    return dict(rows)


def test_resume_of_a_half_finished_grid_runs_exactly_the_missing_cells(tmp_path):
    out = tmp_path / "grid.sqlite"
    grid = _grid(tmp_path, 3, "fake:user", "fake:echo")
    cli("ablate", grid, "--out", str(out), "--concurrency", "2")
    full = _rows(out)
    assert len(full) == 4 * 3
    variants = sorted({key.split("/")[1] for key in full})
    # all of one cell, and one conversation of another
    missing = {k for k in full if k.split("/")[1] == variants[0]}
    missing.add(sorted(k for k in full if k.split("/")[1] == variants[2])[1])
    with sqlite3.connect(out) as db:
        db.executemany("DELETE FROM conversations WHERE id = ?", [(k,) for k in missing])

    cli("run", "--resume", str(out), "--concurrency", "2")
    after = _rows(out)
    assert after.keys() == full.keys()
    rerun = {k for k in after if after[k] != full[k]}  # started_at and seconds differ
    assert rerun == missing


@pytest.mark.slow
def test_kill_9_during_ablate_then_resume_runs_exactly_the_missing_cells(tmp_path):
    out = tmp_path / "killed-grid.sqlite"
    grid = _grid(tmp_path, 8, "fake:user@0.01", "fake:echo@0.01")
    before = kill_9_after(chatbench("ablate", grid, "--out", str(out), "--concurrency", "3"),
                          out, rows=10)
    assert len(before) == 10
    kept = _rows(out)
    resumed = subprocess.run(chatbench("run", "--resume", str(out), "--concurrency", "3"),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = _rows(out)
    assert len(after) == 4 * 8
    assert {k: after[k] for k in kept} == kept  # what was stored was not run again


# --- Summary.errors ---------------------------------------------------------------------------


def test_summary_counts_failed_conversations_apart_per_group_and_overall():
    records = [
        make_record("q1", subject="math", seconds=1.0),  # correct, 1 turn
        make_record("q2", subject="math", final_choice="B", choices=["A"], seconds=2.0),
        make_record("q3", subject="math", final_choice=None, forced=True, seconds=3.0),
        make_record("q4", subject="math", failed=True, choices=["B", "C"], seconds=4.0),
        make_record("q5", subject="math", failed=True, seconds=5.0),
        make_record("q6", subject="physics", seconds=6.0),
        make_record("q7", subject="physics", failed=True, seconds=7.0),
    ]
    math_, physics, overall = summarize_by(records, "subject")
    assert (math_.group, math_.conversations, math_.errors, math_.scored) == ("math", 5, 2, 3)
    assert (math_.answered, math_.correct) == (2, 1)
    assert math_.accuracy == 0.5 and math_.accuracy_all == pytest.approx(1 / 3)
    assert math_.answered_share == pytest.approx(2 / 3)
    assert math_.mean_turns == pytest.approx((1 + 2 + 1) / 3)  # failed ones left out
    assert math_.mean_seconds == 3.0  # failed ones included
    assert (physics.conversations, physics.errors, physics.scored) == (2, 1, 1)
    assert (physics.accuracy, physics.accuracy_all) == (1.0, 1.0)
    assert (overall.group, overall.conversations, overall.errors, overall.correct) == (
        "all", 7, 3, 2)
    every_failure = summarize("x", [make_record(failed=True), make_record(failed=True)])
    assert (every_failure.errors, every_failure.scored, every_failure.accuracy_all) == (2, 0,
                                                                                       None)


def _table_rows(output: str) -> dict[str, list[str]]:
    """The body rows of the rich tables in ``output``, by their first cell."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def test_run_summary_counts_the_conversations_that_failed(tmp_path, provider):
    questions = load_questions(limit=4)  # one per subject
    failing = [questions[0], questions[2]]
    provider("failon", lambda _: FailOnChatModel(kind="user",
                                                 fail_on=tuple(q.stem for q in failing)))
    output = cli("run", "--user", "failon:some", "--assistant", "fake:echo", "--limit", "4",
                 "--graph", "two_step", "--max-attempts", "1", "--out",
                 str(tmp_path / "r.sqlite"), "--allow-failures")
    rows = _table_rows(output)
    # columns: n, err, answered, acc., acc. all, turns, sec
    assert rows["all"][:2] == ["4", "2"]
    for q in questions:
        assert rows[q.subject][:2] == ["1", "1" if q in failing else "0"], q.subject
        if q in failing:
            assert rows[q.subject][2:6] == ["-", "-", "-", "-"]  # nothing scored
    assert "2 failed conversations" in output and "ConnectionError x2" in output


# --- report tables ----------------------------------------------------------------------------


def _timing(node: str, seconds: float, tokens: tuple[int | None, int | None]) -> dict[str, Any]:
    return {"node": node, "seconds": seconds, "input_tokens": tokens[0],
            "output_tokens": tokens[1]}


def report_records() -> list[Any]:
    """Two variants, three questions (two subjects), two replicates; the correct answer is
    always A. Per-question accuracy (no answer left out / counted wrong):

    ====  ==========================  ==========================
         a                           b
    q1   correct, wrong: .5 / .5     correct, correct: 1 / 1
    q2   correct, no answer: 1 / .5  wrong, wrong: 0 / 0
    q3   failed, wrong: 0 / 0        correct, no answer: 1 / .5
    ====  ==========================  ==========================
    """
    def rec(q: str, v: str, r: int, final: str | None, **kw: Any) -> Any:
        subject = "physics" if q == "q3" else "math"
        return make_record(q, v, replicate=r, final_choice=final, subject=subject,
                           forced=final is None, **kw)

    return [
        rec("q1", "a", 0, "A", choices=["B", "A"], seconds=1.0, scores={"coherence": 4},
            timings=[_timing("user", 1.0, (10, 2)), _timing("assistant", 3.0, (20, 5))]),
        rec("q1", "a", 1, "B", choices=["A"], seconds=2.0, scores={"coherence": None}),
        rec("q2", "a", 0, "A", choices=["A"], seconds=3.0, scores={"coherence": 2},
            timings=[_timing("user", 2.0, (30, 4))]),
        rec("q2", "a", 1, None, choices=[None], seconds=4.0),
        rec("q3", "a", 0, None, failed=True, choices=["B"], seconds=5.0),
        rec("q3", "a", 1, "C", choices=["C", "C"], seconds=6.0),
        rec("q1", "b", 0, "A", choices=["A"], seconds=2.0, scores={"coherence": 5},
            timings=[_timing("user", 4.0, (None, None))]),
        rec("q1", "b", 1, "A", choices=["A"], seconds=2.0),
        rec("q2", "b", 0, "B", choices=["B"], seconds=2.0),
        rec("q2", "b", 1, "C", choices=["A"], seconds=2.0),
        rec("q3", "b", 0, "A", choices=[], seconds=2.0),
        rec("q3", "b", 1, None, choices=["A"], seconds=8.0),
    ]


def report_baselines() -> pd.DataFrame:
    """AI-alone: right on q1 and q3, wrong on q2."""
    return pd.DataFrame({
        "run_id": "base", "kind": "letter_zero_shot", "question_id": ["q1", "q2", "q3"],
        "subject": ["math", "math", "physics"], "model": "fake:echo", "choice": "A",
        "correct": [True, False, True], "valid": True,
    })


@pytest.fixture
def report_results(tmp_path: Path) -> Results:
    path = tmp_path / "report.sqlite"
    with ResultStore(path) as store:
        for record in report_records():
            store.write(record)
    results = load_results(path)
    return dataclasses.replace(results, baselines=report_baselines())


def _records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    return frame[columns or list(frame.columns)].astype(str).to_dict("records")


def test_accuracy_table_values(report_results):
    table = accuracy_table(report_results.conversations)
    columns = ["variant", "subject", "n", "failed", "q.", "acc.", "95% CI", "acc. all",
               "95% CI all"]
    # a, all: question means (.5, 1, 0): mean .5, SE .5/sqrt(3), 1.96 SE = .566, clipped to
    # [0, 100]; counted wrong (.5, .5, 0): mean 1/3, SE 1/6, CI [0.7, 66.0] points
    assert _records(table, columns) == [
        {"variant": "a", "subject": "math", "n": "4", "failed": "0", "q.": "2",
         "acc.": "75.0%", "95% CI": "[26, 100]", "acc. all": "50.0%", "95% CI all": "[50, 50]"},
        {"variant": "a", "subject": "physics", "n": "2", "failed": "1", "q.": "1",
         "acc.": "0.0%", "95% CI": "-", "acc. all": "0.0%", "95% CI all": "-"},
        {"variant": "a", "subject": "all", "n": "6", "failed": "1", "q.": "3",
         "acc.": "50.0%", "95% CI": "[0, 100]", "acc. all": "33.3%", "95% CI all": "[1, 66]"},
        {"variant": "b", "subject": "math", "n": "4", "failed": "0", "q.": "2",
         "acc.": "50.0%", "95% CI": "[0, 100]", "acc. all": "50.0%", "95% CI all": "[0, 100]"},
        {"variant": "b", "subject": "physics", "n": "2", "failed": "0", "q.": "1",
         "acc.": "100.0%", "95% CI": "-", "acc. all": "50.0%", "95% CI all": "-"},
        {"variant": "b", "subject": "all", "n": "6", "failed": "0", "q.": "3",
         "acc.": "66.7%", "95% CI": "[1, 100]", "acc. all": "50.0%", "95% CI all": "[0, 100]"},
    ]
    # one question: every bootstrap resample is that question
    boot = table["boot. CI"].tolist()
    assert (boot[1], boot[4]) == ("[0, 0]", "[100, 100]")


def test_ai_alone_vs_user_ai_values(report_results):
    title, table = report_tables(report_results)[1]
    assert title.startswith("AI-alone vs user-AI accuracy")
    assert _records(table) == [
        {"source": "AI-alone: letter_zero_shot (fake:echo)", "math": "50.0%",
         "physics": "100.0%", "all": "66.7%"},
        {"source": "user-AI: a", "math": "75.0%", "physics": "0.0%", "all": "50.0%"},
        {"source": "user-AI: b", "math": "50.0%", "physics": "100.0%", "all": "66.7%"},
    ]


def test_agreement_table_values(report_results):
    # AI-alone per question (1, 0, 1); a answered (.5, 1, 0); b answered (1, 0, 1)
    a_r = np.corrcoef([1, 0, 1], [0.5, 1, 0])[0, 1]
    assert a_r == pytest.approx(-math.sqrt(3) / 2)
    a_p = sps.pearsonr([1, 0, 1], [0.5, 1, 0]).pvalue
    assert _records(agreement_table(report_results)) == [
        {"AI-alone": "letter_zero_shot (fake:echo)", "variant": "a", "same model": "yes",
         "questions": "3", "r": "-0.87", "p": f"{a_p:.3f}", "MAE": "0.83",
         "AI-alone acc.": "66.7%", "user-AI acc.": "50.0%"},
        {"AI-alone": "letter_zero_shot (fake:echo)", "variant": "b", "same model": "yes",
         "questions": "3", "r": "1.00", "p": "0.000", "MAE": "0.00",
         "AI-alone acc.": "66.7%", "user-AI acc.": "66.7%"},
    ]


def test_outcome_table_values(report_results):
    # a (5 scored): AI wrong in q1/0 (then right: recovered) and q3/1 (misled); AI right,
    # user wrong in q1/1; AI never committed in q2/1. b (6 scored): AI wrong only in q2/0
    # (misled); AI right, user wrong in q2/1; never committed in q3/0.
    assert _records(outcome_table(report_results.conversations)) == [
        {"variant": "a", "scored": "5", "failed": "1", "AI wrong at some point": "2 (40.0%)",
         "recovered": "1 (20.0%)", "misled": "1 (20.0%)", "AI right, user wrong": "1 (20.0%)",
         "AI never committed": "1 (20.0%)", "recovered | AI wrong": "50.0%",
         "misled | AI wrong": "50.0%"},
        {"variant": "b", "scored": "6", "failed": "0", "AI wrong at some point": "1 (16.7%)",
         "recovered": "0 (0.0%)", "misled": "1 (16.7%)", "AI right, user wrong": "1 (16.7%)",
         "AI never committed": "1 (16.7%)", "recovered | AI wrong": "0.0%",
         "misled | AI wrong": "100.0%"},
    ]


def test_paired_comparison_values(report_results):
    diff = np.array([1 - 0.5, 0 - 1, 1 - 0])  # b - a per question, no answer left out
    sd = diff.std(ddof=1)
    half = sps.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert diff.mean() == pytest.approx(1 / 6)
    assert _records(comparison_table(report_results.conversations)) == [
        {"a": "a", "b": "b", "questions": "3", "b - a": "16.7%",
         "95% CI": f"[{100 * (1 / 6 - half):.1f}, {100 * (1 / 6 + half):.1f}]",
         "t-test p": f"{sps.ttest_rel([1, 0, 1], [0.5, 1, 0]).pvalue:.3f}",
         "Wilcoxon p": f"{sps.wilcoxon(diff).pvalue:.3f}",
         "Cohen's d_z": f"{(1 / 6) / sd:.2f}"},
    ]


def test_rubric_table_values(report_results):
    # a: scores 4 and 2 (mean 3, SE 1, CI 3 -+ 1.96), one garbage and two absent judgements;
    # the failed conversation is left out. b: one score.
    assert _records(rubric_table(report_results.conversations)) == [
        {"variant": "a", "rubric": "coherence", "mean": "3.00", "95% CI": "[1.04, 4.96]",
         "scored": "2", "missing": "3"},
        {"variant": "b", "rubric": "coherence", "mean": "5.00", "95% CI": "-",
         "scored": "1", "missing": "5"},
    ]


def test_latency_and_token_table_values(report_results):
    # user calls take 1, 2 and 4 s: p90 = 2 + 0.8 * (4 - 2); one reported no token counts
    assert _records(node_latency_table(report_results.timings)) == [
        {"node": "assistant", "calls": "1", "mean s": "3.000", "median s": "3.000",
         "p90 s": "3.000", "tokens in": "20", "tokens out": "5"},
        {"node": "user", "calls": "3", "mean s": "2.333", "median s": "2.000",
         "p90 s": "3.600", "tokens in": "20", "tokens out": "3"},
    ]
    # a: 1..6 s, accepted after 3, 2, 2, 3 user turns; b: 2 s x 5 and 8 s, accepted after
    # 2, 2, 2, 2, 1 turns (its no-answer conversation was forced)
    assert _records(conversation_latency_table(report_results.conversations)) == [
        {"variant": "a", "conversations": "6", "wall s mean": "3.500",
         "wall s median": "3.500", "wall s p90": "5.500", "accepted": "4",
         "turns to accept mean": "2.5", "turns to accept median": "2.5",
         "turns to accept p90": "3.0"},
        {"variant": "b", "conversations": "6", "wall s mean": "3.000",
         "wall s median": "2.000", "wall s p90": "5.000", "accepted": "5",
         "turns to accept mean": "1.8", "turns to accept median": "2.0",
         "turns to accept p90": "2.0"},
    ]
    assert _records(token_table(report_results.conversations)) == [
        {"variant": "a", "user in / out": "20 / 3", "assistant in / out": "20 / 5",
         "judge in / out": "- / -"},
        {"variant": "b", "user in / out": "- / -", "assistant in / out": "- / -",
         "judge in / out": "- / -"},
    ]


def test_printed_report_shows_the_numbers(report_results):
    console = Console(record=True, width=240)
    print_report(report_results, console)
    text = console.export_text()
    assert ("12 conversations, 2 variants, 3 questions, 3 AI-alone baseline answers, "
            "1 failed (not scored)") in text
    rows = _table_rows(text)
    assert rows["user-AI: a"] == ["75.0%", "0.0%", "50.0%"]
    assert rows["assistant"][:2] == ["1", "3.000"]
