"""One definition of accuracy: ``chatbench run``'s summary, the Python ``summarize_by``, the
store's SQL ``summarize`` and ``chatbench report`` give the same numbers for a run with
replicates whose questions have unequal numbers of answers (where the pooled ratio, correct /
answered, differs from the mean over questions that all of them report as "acc.")."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from typer.testing import CliRunner

import chatbench.cli.commands as cli_commands
from chatbench.models import registry
from chatbench.models.fake import FakeChatModel
from chatbench.reporting.results import load_results
from chatbench.reporting.tables import accuracy_table
from chatbench.scoring.metrics import summarize_by, summarize_store
from chatbench.storage import ResultStore
from tests.test_promises import _table_rows
from tests.test_stats import make_record


class VaryingUser(FakeChatModel):
    """``fake:user`` whose answers go round A, B, C, D over its calls, and whose every
    seventh call fails: replicates of a question differ, and some fail."""

    calls: itertools.count

    def _reply(self, messages: list[BaseMessage]) -> str:
        if not any(isinstance(m, AIMessage) for m in messages):
            return super()._reply(messages)
        n = next(self.calls)
        if n % 7 == 6:
            raise ConnectionError("no route to the model")
        return f"Answer: {'ABCD'[n % 4]}"


@pytest.fixture
def varying_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    registry.known_providers()
    calls = itertools.count()
    monkeypatch.setitem(registry._PROVIDERS, "varying",
                        lambda _: VaryingUser(kind="user", calls=calls))
    out = tmp_path / "r.sqlite"
    result = CliRunner().invoke(cli_commands.app, [
        "run", "--user", "varying:x", "--assistant", "fake:echo", "--limit", "5",
        "--replicates", "4", "--concurrency", "1", "--max-attempts", "1", "--graph",
        "quick", "--allow-failures", "--out", str(out)])
    assert result.exit_code == 0, result.output  # some failed, and --allow-failures
    (out.parent / "run.txt").write_text(result.output)
    return out


def test_run_summary_store_python_and_report_agree_with_replicates(varying_run: Path) -> None:
    printed = _table_rows((varying_run.parent / "run.txt").read_text())["all"]
    with ResultStore(varying_run, read_only=True) as store:
        (run_id,) = store.run_ids()
        records = list(store.records(run_id))
        in_sql = summarize_store(store, run_id, "subject")[-1]
    in_python = summarize_by(records, "subject")[-1]
    assert in_sql == in_python
    assert in_python.errors > 0 and in_python.questions == 5
    # The data makes the two definitions differ, so agreeing below means something.
    assert in_python.pooled_accuracy != pytest.approx(in_python.accuracy)
    reported = accuracy_table(load_results(varying_run).conversations)
    row = reported[reported["subject"] == "all"].iloc[0]
    want = f"{100 * in_python.accuracy:.1f}%"
    assert row["acc."] == want and printed[3] == want
    assert row["acc. all"] == printed[4] == f"{100 * in_python.accuracy_all:.1f}%"
    assert printed[2] == f"{in_python.correct} / {in_python.answered}"


def test_accuracy_is_the_mean_over_questions_not_the_pooled_ratio() -> None:
    # q1: 3 answers, all right; q2: 1 answer, wrong. Pooled 3/4; over questions (1 + 0) / 2.
    records = [make_record("q1", replicate=r) for r in range(3)] + [
        make_record("q2", final_choice="B", choices=["B"])]
    (summary,) = summarize_by(records, "variant")[-1:]
    assert (summary.correct, summary.answered, summary.questions) == (3, 4, 2)
    assert summary.accuracy == 0.5 and summary.pooled_accuracy == 0.75
