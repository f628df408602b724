"""Reports of scenario runs (issue 27): success rate with its CI, pass^k over replicates
(``scoring.reliability``), each criterion's pass rate, and the HTML transcripts of the
conversations that did not succeed; a question run's report is unchanged beside them."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import chatbench.cli.report as cli_report
import chatbench.reporting.html_report as html_report
from chatbench.cli import app
from chatbench.data.scenario import Scenario
from chatbench.datatypes import CriterionResult
from chatbench.records import ConversationRecord, TranscriptTurn, error_record
from chatbench.reporting.report import Report
from chatbench.reporting.results import (
    export,
    load_results,
    pool_runs,
    results_from_records,
)
from chatbench.reporting.tables import (
    ACCURACY_TITLE,
    CRITERIA_TITLE,
    PASS_HAT_K_TITLE,
    SUCCESS_TITLE,
    criteria_table,
    reliability_table,
    report_tables,
    success_table,
)
from chatbench.runner.batch import run_scenarios
from chatbench.scoring.criteria import scenario_verdict
from chatbench.scoring.reliability import (
    max_k,
    pass_hat_k_curve,
    pass_hat_k_mean,
    pass_rate,
)
from chatbench.storage import ResultStore
from tests.test_report import mixed_records

SCENARIOS = [
    Scenario(id="greet", description="You want a greeting.",
             criteria=["It greets.", "It is polite."]),
    Scenario(id="answer", description="You want an answer.", criteria=["It answers."]),
]
PATTERNS = {
    # greet: 2 successes in 4 scored replicates, a fifth failed (error)
    "greet": [[True, True], [True, False], [False, True], [True, True], "error"],
    # answer: 3 successes in 4, the fourth undecided (the judge's reply unreadable)
    "answer": [[True], [True], [True], [None]],
}
SCENARIO_GROUP = "scen/quick (user=fake:say:Thanks [GOAL MET], judge=fake:say:PASS)"
"""The scenario run's label beside ``mixed_records``' question run."""
HOSTILE = "<script>alert('x')</script> & <b>bold</b>"


@pytest.fixture(scope="module")
def fresh() -> list[ConversationRecord]:
    """One run of both scenarios on fakes, 5 replicates each (every criterion passed)."""
    return run_scenarios(SCENARIOS, "quick", user="fake:say:Thanks [GOAL MET]",
                         assistant="fake:echo", judge="fake:say:PASS", replicates=5,
                         run_id="scen")


def with_criteria(record: ConversationRecord, passed: list[bool | None],
                  reason: str = "") -> ConversationRecord:
    """``record`` with these criterion decisions and the verdict they make."""
    criteria = [CriterionResult(criterion=c.criterion, passed=p, reason=reason, raw="PASS")
                for c, p in zip(record.criteria, passed, strict=True)]
    return record.model_copy(update={"criteria": criteria,
                                     "verdict": scenario_verdict(criteria)})


def patterned(records: list[ConversationRecord]) -> list[ConversationRecord]:
    """``PATTERNS`` applied by scenario and replicate (a replicate past it dropped)."""
    out = []
    for record in records:
        pattern = PATTERNS[record.question_id]
        if record.replicate >= len(pattern):
            continue
        decided = pattern[record.replicate]
        out.append(error_record(record, "boom") if decided == "error"
                   else with_criteria(record, decided))
    return out


def rows(frame) -> list[dict[str, str]]:
    return frame.astype(str).to_dict("records")


# --- pass^k on counts -------------------------------------------------------------------------


def test_pass_hat_k_on_hand_computed_counts():
    # n=4, c=2: C(2,1)/C(4,1) = 1/2, C(2,2)/C(4,2) = 1/6, then 0
    assert [p.mean for p in pass_hat_k_curve([(4, 2)])] == pytest.approx([0.5, 1 / 6, 0, 0])
    # two scenarios: the mean of each one's pass^k, up to the fewer trials (3)
    curve = pass_hat_k_curve([(4, 2), (3, 3)])
    assert [p.k for p in curve] == [1, 2, 3]
    assert [p.mean for p in curve] == pytest.approx([(0.5 + 1) / 2, (1 / 6 + 1) / 2, 0.5])
    assert {p.tasks for p in curve} == {2}
    # the CI is the accuracy's: mean +/- 1.96 sample-std / sqrt(tasks)
    one = curve[0]
    half_width = 1.96 * math.sqrt(((0.5 - 0.75) ** 2 + (1 - 0.75) ** 2) / 1) / math.sqrt(2)
    assert (one.lo, one.hi) == pytest.approx((0.75 - half_width, 0.75 + half_width))
    # a task never scored is left out; no tasks, no curve
    assert max_k([(5, 1), (0, 0)]) == 5 and pass_hat_k_curve([]) == []
    assert pass_hat_k_mean([(2, 1), (0, 0)], 2).tasks == 1


def test_pass_hat_k_refuses_impossible_counts_and_k():
    with pytest.raises(ValueError, match="successes"):
        pass_hat_k_curve([(2, 3)])
    with pytest.raises(ValueError, match="k=3"):
        pass_hat_k_mean([(2, 1)], 3)
    assert pass_rate(1, 4)[0] == 0.25 and all(math.isnan(x) for x in pass_rate(0, 0))


# --- tables -----------------------------------------------------------------------------------


def test_success_rate_and_pass_hat_k_tables(fresh):
    conv = results_from_records(patterned(fresh)).conversations
    # success: greet 2/4, answer 3/4 (undecided = no success) -> 62.5%; decided: 2/4, 3/3
    (success,) = rows(success_table(conv))
    assert success | {"boot. CI": ""} == {
        "variant": "quick", "n": "9", "failed": "1", "undecided": "1", "scen.": "2",
        "success": "62.5%", "95% CI": "[38, 87]", "boot. CI": "", "success decided": "75.0%",
        "95% CI decided": "[26, 100]"}
    # pass^1 is the success rate; pass^2 = (1/6 + 3/6) / 2; pass^3 = (0 + 1/4) / 2
    pass_hat_k = rows(reliability_table(conv, scenarios=True))
    assert [(r["k"], r["scen."], r["pass^k"]) for r in pass_hat_k] == [
        ("1", "2", "62.5%"), ("2", "2", "33.3%"), ("3", "2", "12.5%"), ("4", "2", "0.0%")]


def test_per_criterion_pass_rates(fresh):
    results = results_from_records(patterned(fresh))
    table = rows(criteria_table(results.conversations, results.criteria))
    assert [{k: r[k] for k in ("scenario", "#", "criterion", "decided", "passed",
                               "undecided", "pass rate", "95% CI")} for r in table] == [
        {"scenario": "answer", "#": "1", "criterion": "It answers.", "decided": "3",
         "passed": "3", "undecided": "1", "pass rate": "100.0%", "95% CI": "[44, 100]"},
        {"scenario": "greet", "#": "1", "criterion": "It greets.", "decided": "4",
         "passed": "3", "undecided": "0", "pass rate": "75.0%", "95% CI": "[30, 95]"},
        {"scenario": "greet", "#": "2", "criterion": "It is polite.", "decided": "4",
         "passed": "3", "undecided": "0", "pass rate": "75.0%", "95% CI": "[30, 95]"},
    ]


def test_variants_are_rows_of_their_own_and_pool_only_when_asked(fresh):
    other = [r.model_copy(update={"run_id": "scen2", "id": "scen2/" + r.id,
                                  "models": {**r.models, "assistant": "fake:other"}})
             for r in patterned(fresh)]
    results = results_from_records(patterned(fresh) + other)
    variants = sorted(set(success_table(results.conversations)["variant"]))
    assert variants == ["scen/quick (assistant=fake:echo)",
                        "scen2/quick (assistant=fake:other)"]
    pooled = pool_runs(results)
    (row,) = rows(success_table(pooled.conversations))
    assert (row["variant"], row["n"]) == ("quick", "18")
    assert {r["decided"] for r in rows(criteria_table(pooled.conversations,
                                                      pooled.criteria))} == {"6", "8"}


# --- HTML: the transcripts of failures ------------------------------------------------------


def failing(record: ConversationRecord) -> ConversationRecord:
    """``record`` failed with hostile text in its turns, an app's tool call and the reason."""
    steps = [{"type": "ai", "content": "", "tool_calls": [
                 {"name": "lookup", "args": {"q": "<order 1234>"}, "id": "c1"}]},
             {"type": "tool", "name": "lookup", "tool_call_id": "c1",
              "content": "status <shipped>", "status": "success"}]
    transcript = [TranscriptTurn(role="user", content=f"user {HOSTILE}"),
                  TranscriptTurn(role="assistant", content="It shipped.", steps=steps)]
    failed = with_criteria(record, [False] * len(record.criteria), reason=f"no: {HOSTILE}")
    return failed.model_copy(update={"transcript": transcript})


def test_html_shows_failed_scenarios_escaped_with_each_criterion(fresh, tmp_path):
    records = [failing(fresh[0]), fresh[1], error_record(fresh[2], f"crash {HOSTILE}")]
    page = Report(results_from_records(records)).write_html(tmp_path / "r.html").read_text()
    failures = page[page.index("<h2>Failed scenario conversations</h2>"):]
    assert "2 of 3 scenario conversations did not succeed" in failures
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "user &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;" in failures
    assert "step: calls lookup(q=&#x27;&lt;order 1234&gt;&#x27;)" in failures
    assert "step: lookup -&gt; status &lt;shipped&gt;" in failures
    assert "<b>FAIL</b> It greets." in failures and "<b>FAIL</b> It is polite." in failures
    assert "no: &lt;script&gt;" in failures
    assert "error: crash &lt;script&gt;" in failures
    # the one that succeeded is not there
    assert fresh[1].id.split("/")[-1] == "1" and "replicate 1<" not in failures
    assert "replicate 0<" in failures and "replicate 2<" in failures


def test_html_caps_the_failures_shown(fresh, tmp_path, monkeypatch):
    monkeypatch.setattr(html_report, "FAILURES_SHOWN", 2)
    records = [with_criteria(r, [False] * len(r.criteria)) for r in fresh]
    page = Report(results_from_records(records)).write_html(tmp_path / "r.html").read_text()
    assert (f"{len(records)} of {len(records)} scenario conversations did not succeed; the "
            f"first 2 are shown, {len(records) - 2} more left out") in page
    failures = page[page.index("<h2>Failed scenario conversations</h2>"):]
    assert failures.count("<ul class='criteria'>") == 2


# --- stores holding both kinds of runs --------------------------------------------------------


def write_store(path: Path, records: list[ConversationRecord]) -> Path:
    with ResultStore(path) as store:
        for record in records:
            store.write(record)
    return path


def rendered(report: Report, html: Path) -> tuple[str, str]:
    console = Console(width=200, file=io.StringIO(), record=True)
    report.print(console)
    return console.export_text(), report.write_html(html).read_text(encoding="utf-8")


def test_a_question_run_reads_the_same_beside_a_scenario_run(fresh, tmp_path):
    alone = write_store(tmp_path / "alone.sqlite", mixed_records())
    shared = write_store(tmp_path / "shared.sqlite", mixed_records() + patterned(fresh))
    before = rendered(Report(load_results(alone)), tmp_path / "alone.html")
    after = rendered(Report(load_results(shared, "run")), tmp_path / "shared.html")
    assert after == before
    assert "Scenarios:" not in before[0] and "scenario" not in before[1]


def test_a_mixed_store_keeps_question_and_scenario_tables_apart(fresh, tmp_path):
    shared = write_store(tmp_path / "shared.sqlite", mixed_records() + patterned(fresh))
    tables = dict(report_tables(load_results(shared)))
    accuracy = tables[ACCURACY_TITLE]
    assert all(v.startswith("run/") for v in accuracy["variant"])
    assert "scenario" not in set(accuracy["subject"])
    for title in (SUCCESS_TITLE, PASS_HAT_K_TITLE, CRITERIA_TITLE):
        assert set(tables[title]["variant"]) == {SCENARIO_GROUP}
    text, page = rendered(Report(load_results(shared)), tmp_path / "shared.html")
    assert "13 conversations, 2 runs, 3 run/variant groups, 2 questions, 2 scenarios" in text
    assert "Failed scenario conversations" in page


def test_a_scenario_only_store_shows_only_scenario_tables(fresh):
    titles = [title for title, _ in report_tables(results_from_records(patterned(fresh)))]
    assert titles[:3] == [SUCCESS_TITLE, PASS_HAT_K_TITLE, CRITERIA_TITLE]
    assert all(title.startswith("Scenarios: ") for title in titles)


def test_chatbench_report_prints_the_scenario_section(fresh, tmp_path, monkeypatch):
    store = write_store(tmp_path / "s.sqlite", mixed_records() + patterned(fresh))
    console = Console(record=True, width=250)
    monkeypatch.setattr(cli_report, "console", console)
    result = CliRunner().invoke(app, ["report", str(store), "--html",
                                      str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    text = console.export_text()
    assert text.index("Accuracy by variant") < text.index("Scenarios: success rate")
    for needle in ("62.5%", "33.3%", "12.5%", "It is polite.", "Scenarios: reliability",
                   "Scenarios: pass rate of each criterion"):
        assert needle in text
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "4 of 9 scenario conversations did not succeed" in page


def test_export_writes_the_criteria_of_scenario_runs_only(fresh, tmp_path):
    questions = write_store(tmp_path / "q.sqlite", mixed_records())
    assert [p.name for p in export(questions, tmp_path / "q")] == [
        "conversations.csv", "turns.csv", "timings.csv", "baselines.csv"]
    both = write_store(tmp_path / "b.sqlite", mixed_records() + patterned(fresh))
    written = export(both, tmp_path / "b")
    assert written[-1].name == "criteria.csv"
    criteria = pd.read_csv(written[-1])
    assert len(criteria) == 2 * 4 + 4 and set(criteria["passed"].dropna()) == {True, False}
    tasks = pd.read_csv(written[0])["task"].value_counts().to_dict()
    assert tasks == {"scenario": 9, "question": 4}
