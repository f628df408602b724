"""Reports over a store that holds several runs: one row per run and variant (never pooled
unless asked), no "nan" in any text, forced answers labelled, figures that hold 12+ variants
with no empty chart and every label inside, and the HTML page checked in a real headless
browser (images decode and show, no console error, its numbers are the stored data's)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from rich.console import Console
from typer.testing import CliRunner

import chatbench.cli.commands as cli_commands
import chatbench.cli.report as cli_report
from chatbench.cli import app
from chatbench.records import ConversationRecord
from chatbench.reporting.figures import (
    FIGURES,
    figure_png,
    no_data_reason,
    report_figures,
    series_style,
)
from chatbench.reporting.html_report import write_html_report
from chatbench.reporting.results import group_labels, load_results, pool_runs
from chatbench.reporting.tables import (
    accuracy_table,
    ai_vs_user_frame,
    comparison_table,
    outcome_table,
    print_report,
    report_tables,
    run_notes,
)
from chatbench.scoring import stats
from chatbench.storage import ResultStore
from tests.test_stats import baselines_frame, make_record

NAN = re.compile(r"\bnan\b", re.IGNORECASE)
ASSISTANTS = {"run-a": "model-x", "run-b": "model-y"}
LABELS = {run: f"{run}/quick (assistant={model})" for run, model in ASSISTANTS.items()}


def in_run(record: ConversationRecord, run_id: str) -> ConversationRecord:
    """``record`` as a conversation of ``run_id`` (its id and run id changed)."""
    return record.model_copy(update={"run_id": run_id, "id": f"{run_id}/{record.id}"})


def timing(node: str, seconds: float) -> dict[str, Any]:
    return {"node": node, "seconds": seconds, "input_tokens": 10, "output_tokens": 2}


def two_run_records() -> list[ConversationRecord]:
    """Two runs of the ``quick`` graph with different assistants. run-a: every question
    right. run-b: q1, q2 right, q3 wrong, q4 no answer (forced after the turn limit)."""
    finals = {"run-a": ["A", "A", "A", "A"], "run-b": ["A", "A", "B", None]}
    records = []
    for run, assistant in ASSISTANTS.items():
        for i, final in enumerate(finals[run]):
            record = make_record(f"q{i + 1}", "quick", final_choice=final, choices=["A"],
                                 forced=final is None, assistant=assistant,
                                 subject="math" if i < 2 else "physics",
                                 scores={"coherence": 3 + (run == "run-a")},
                                 timings=[timing("user", 0.5), timing("assistant", 1.5)])
            records.append(in_run(record, run))
    return records


def write_store(path: Path, records: Sequence[ConversationRecord]) -> Path:
    with ResultStore(path) as store:
        for record in records:
            store.write(record)
    return path


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    return write_store(tmp_path / "chatbench-results.sqlite", two_run_records())


def by_group(table: Any, subject: str = "all") -> dict[str, dict[str, str]]:
    rows = table[table["subject"] == subject].astype(str).to_dict("records")
    return {row["variant"]: row for row in rows}


# --- 1. runs side by side, pooled only when asked -------------------------------------------


def test_two_runs_with_different_assistants_are_two_rows(two_runs):
    results = load_results(two_runs)
    conv = results.conversations
    assert set(conv["run_id"]) == {"run-a", "run-b"}
    assert set(conv["model_identity_assistant"]) == {"model-x", "model-y"}
    assert set(conv["group"]) == set(LABELS.values())
    rows = by_group(accuracy_table(conv))
    assert sorted(rows) == sorted(LABELS.values())
    assert (rows[LABELS["run-a"]]["n"], rows[LABELS["run-a"]]["acc."]) == ("4", "100.0%")
    # run-b: no answer left out: (1 + 1 + 0) / 3; counted wrong: 2 / 4
    assert (rows[LABELS["run-b"]]["acc."], rows[LABELS["run-b"]]["acc. all"]) == (
        "66.7%", "50.0%")
    assert [row["variant"] for row in outcome_table(conv).to_dict("records")] == sorted(
        LABELS.values())
    (pair,) = comparison_table(conv).to_dict("records")
    assert (pair["a"], pair["b"], pair["b - a"]) == (LABELS["run-a"], LABELS["run-b"],
                                                     "-33.3%")
    assert f"user-AI: {LABELS['run-b']}" in ai_vs_user_frame(results).columns
    for title, table in report_tables(results):
        if "variant" in table and len(table):
            assert set(table["variant"]) == set(LABELS.values()), title


def test_each_run_keeps_the_numbers_it_has_alone(two_runs):
    """A group's numbers are those of its run loaded alone, where the label is the variant."""
    together = accuracy_table(load_results(two_runs).conversations)
    for run, label in LABELS.items():
        alone = accuracy_table(load_results(two_runs, run).conversations)
        assert set(alone["variant"]) == {"quick"}  # one run: labels are variant names
        mine = together[together["variant"] == label].drop(columns="variant")
        assert mine.reset_index(drop=True).equals(alone.drop(columns="variant").reset_index(
            drop=True))


def test_pool_is_asked_for_and_says_what_it_pooled(two_runs):
    results = load_results(two_runs)
    pooled = pool_runs(results)
    rows = by_group(accuracy_table(pooled.conversations))
    assert list(rows) == ["quick"]
    # the same numbers as grouping by variant name alone, as reports did before
    before = stats.accuracy(results.conversations, "variant").iloc[0]
    assert rows["quick"]["n"] == "8"
    assert rows["quick"]["acc."] == f"{100 * before['answered_mean']:.1f}%"
    assert run_notes(pooled) == [
        "pooled (--pool): quick = run-a (4 conversations) + run-b (4 conversations); their "
        "assistant models differ (run-a: assistant=model-x; run-b: assistant=model-y)",
        "every run's models: user=fake:user, judge=rules"]
    console = Console(record=True, width=250, file=io.StringIO())
    print_report(results, console)
    text = console.export_text()
    assert "8 conversations, 2 runs, 2 run/variant groups, 4 questions" in text
    assert "2 runs in this store, shown side by side" in text
    assert LABELS["run-a"] in text and LABELS["run-b"] in text


def test_labels_use_stored_identities_where_names_are_alike(tmp_path):
    """Same model name, other dtype: the stored identity tells the runs' models apart."""
    records = [in_run(make_record("q1", "quick", assistant="hf:gpt2"), run)
               for run in ("run-a", "run-b")]
    path = write_store(tmp_path / "s.sqlite", records)
    with ResultStore(path) as store:
        for run, identity in (("run-a", "hf:gpt2"), ("run-b", "hf:gpt2 (dtype bfloat16)")):
            store.write_run_identity(run, json.dumps({
                "variants": {"quick": {"spec": {}, "persona": None, "models": {
                    "user": "fake:user", "assistant": identity, "judge": "rules"}}},
                "questions": {}, "seed": 0, "replicates": 1}))
    conv = load_results(path).conversations
    assert conv["model_assistant"].tolist() == ["hf:gpt2", "hf:gpt2"]
    assert conv["group"].tolist() == ["run-a/quick (assistant=hf:gpt2)",
                                      "run-b/quick (assistant=hf:gpt2 (dtype bfloat16))"]


def test_one_run_labels_are_its_variant_names(tmp_path):
    path = write_store(tmp_path / "s.sqlite", [make_record("q1", "a"), make_record("q1", "b")])
    conv = load_results(path).conversations
    assert conv["group"].tolist() == conv["variant"].tolist() == ["a", "b"]
    assert group_labels(conv).tolist() == ["a", "b"]


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> Console:
    console = Console(record=True, width=300, file=io.StringIO())
    monkeypatch.setattr(cli_report, "console", console)
    monkeypatch.setattr(cli_commands, "console", console)
    return console


@pytest.mark.slow
def test_cli_runs_two_assistants_into_one_store_and_reports_them_apart(tmp_path, wide_console):
    """The issue's case: two ``chatbench run``s into the default store, then ``report``."""
    store = tmp_path / "chatbench-results.sqlite"
    runner = CliRunner()
    for assistant in ("fake:echo", "fake:say:I would pick B"):
        result = runner.invoke(app, ["run", "--user", "fake:user", "--assistant", assistant,
                                     "--limit", "3", "--out", str(store)])
        assert result.exit_code == 0, (result.output, result.exception)
    ran = wide_console.export_text()
    assert "correct/answered" in ran and "holds 1 other run" in ran
    conv = load_results(store).conversations
    runs = dict(zip(conv["model_assistant"], conv["run_id"], strict=True))
    labels = [f"{runs[a]}/quick (assistant={a})" for a in ("fake:echo", "fake:say:I would pick B")]
    result = runner.invoke(app, ["report", str(store), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, (result.output, result.exception)
    text = wide_console.export_text()
    assert "6 conversations, 2 runs, 2 run/variant groups" in text
    assert all(label in text for label in labels)
    result = runner.invoke(app, ["report", str(store), "--pool", "--html",
                                 str(tmp_path / "p.html")])
    assert result.exit_code == 0, (result.output, result.exception)
    text = wide_console.export_text()
    assert "6 conversations, 2 runs pooled into 1 variants" in text
    assert "pooled (--pool): quick = " in text and "their assistant models differ" in text
    assert "pooled (--pool)" in (tmp_path / "p.html").read_text(encoding="utf-8")


# --- 6. report details ------------------------------------------------------------------------


def detail_records() -> list[ConversationRecord]:
    """No answer (forced), an answer with no option letter, a failed conversation, an
    unparseable rubric score."""
    return [
        make_record("q1", "v", final_choice=None, forced=True, choices=["A", "B"],
                    scores={"coherence": None}),
        make_record("q2", "v", final_choice=None).model_copy(
            update={"invalid_answer": "the second one"}),
        make_record("q3", "v", failed=True),
        make_record("q4", "v", final_choice="A", choices=[None]),
    ]


def _page_text(page: str) -> str:
    return re.sub(r'src="data:[^"]*"', "", page)


@pytest.mark.slow
def test_no_nan_in_any_text_and_forced_answers_are_labelled(tmp_path):
    results = load_results(write_store(tmp_path / "s.sqlite", detail_records()))
    page = _page_text(write_html_report(results, tmp_path / "r.html").read_text())
    assert not NAN.search(page), NAN.search(page)
    assert "user chose nan" not in page and "no answer" in page
    assert "user answered &#x27;the second one&#x27; (no option letter)" in page
    assert "the last a forced answer after the turn limit" in page
    assert "verdict -" in page  # the failed conversation has no verdict
    console = Console(record=True, width=250, file=io.StringIO())
    print_report(dataclasses.replace(results, baselines=baselines_frame()), console)
    assert not NAN.search(console.export_text())
    for name, build in FIGURES.items():
        fig = build(results)
        texts = [t.get_text() for t in fig.findobj(plt.Text)]
        assert not any(NAN.search(t) for t in texts), (name, texts)
        plt.close(fig)
    turns = FIGURES["turns"](results)
    ticks = [t.get_text() for t in turns.axes[0].get_xticklabels()]
    assert any("1 forced" in t for t in ticks), ticks
    plt.close(turns)


def many_variant_records(n: int) -> list[ConversationRecord]:
    return [make_record(f"q{q}", f"variant_{v:02d}[persona=novice,user_cot=true]",
                        final_choice="AB"[(q + v) % 2], choices=["A", "B"][:q % 2 + 1],
                        forced=q == 3, subject=("math", "physics", "law")[q % 3],
                        timings=[timing("user", 0.1 * (v + 1))])
            for v in range(n) for q in range(4)]


def _inside(fig: Figure) -> bool:
    """Every drawn artist (tick labels, legend, titles) lies inside the figure."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    width, height = fig.get_size_inches()
    return box.x0 >= -0.01 and box.y0 >= -0.01 and box.x1 <= width + 0.01 and (
        box.y1 <= height + 0.01)


def test_series_styles_stay_distinct_past_twenty():
    for count in (2, 12, 20, 24, 41):
        styles = {(str(series_style(i, count)["color"]), series_style(i, count)["hatch"])
                  for i in range(count)}
        assert len(styles) == count


@pytest.mark.parametrize("variants", [2, 12, 24])
@pytest.mark.slow
def test_figures_hold_many_variants_with_labels_inside(tmp_path, variants):
    results = dataclasses.replace(
        load_results(write_store(tmp_path / "s.sqlite", many_variant_records(variants))),
        baselines=baselines_frame())
    groups = sorted(results.conversations["group"].unique())
    drawn, empty = report_figures(results)
    assert empty == {} and [name for name, _ in drawn] == list(FIGURES)
    for name, fig in drawn:
        assert _inside(fig), name
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:  # every legend entry looks different
                looks = {(str(h.get_facecolor()), h.get_hatch()) for h in legend.get_patches()}
                assert len(looks) == len(legend.get_patches()), name
        if name in ("accuracy_by_variant", "interaction_outcomes", "turns",
                    "ai_alone_vs_user_ai"):
            shown = " ".join(t.get_text().replace("\n", "") for t in fig.findobj(plt.Text))
            assert all(g.replace("_", "") in shown.replace("_", "") or g in shown
                       for g in groups), name  # each variant is named in the figure
        figure_png(fig)


def test_no_empty_chart_is_drawn(tmp_path):
    results = load_results(write_store(tmp_path / "s.sqlite", [make_record("q1", failed=True)]))
    page = write_html_report(results, tmp_path / "r.html").read_text()
    drawn, empty = report_figures(results)
    assert set(empty) == set(FIGURES) - {name for name, _ in drawn}
    assert page.count("<img ") == len(drawn)
    assert all(no_data_reason(fig) is None for _, fig in drawn)
    assert "no figure for accuracy_by_variant (no scored conversations)" in page


# --- the HTML page in a real headless browser ---------------------------------------------


def _browser() -> str | None:
    """A Chromium binary playwright can drive: ``$CHATBENCH_CHROMIUM``, or Debian's
    ``chromium-headless-shell`` (``apt-get install -y chromium-headless-shell``)."""
    candidates = [os.environ.get("CHATBENCH_CHROMIUM"), shutil.which("chromium-headless-shell"),
                  "/usr/lib/chromium/chromium-headless-shell", shutil.which("chromium")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _expected_accuracy(path: Path) -> dict[str, dict[str, str]]:
    """n, accuracy (no answer left out) and accuracy (no answer wrong) per run, computed
    straight from the stored records: the mean over questions of per-question means."""
    with ResultStore(path, read_only=True) as store:
        records = list(store.records())
    out = {}
    for run, assistant in ASSISTANTS.items():
        mine = [r for r in records if r.run_id == run]
        answered, every = defaultdict(list), defaultdict(list)
        for r in mine:
            every[r.question_id].append(r.verdict == "correct")
            if r.final_choice is not None:
                answered[r.question_id].append(r.verdict == "correct")

        def mean(per_question: dict[str, list[bool]]) -> str:
            means = [sum(v) / len(v) for v in per_question.values()]
            return "-" if not means else f"{100 * math.fsum(means) / len(means):.1f}%"

        out[f"{run}/quick (assistant={assistant})"] = {
            "n": str(len(mine)), "acc.": mean(answered), "acc. all": mean(every)}
    return out


@pytest.mark.slow
def test_html_report_in_a_headless_browser(two_runs, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    executable = _browser()
    if executable is None:
        pytest.skip("no headless Chromium (apt-get install -y chromium-headless-shell)")
    results = load_results(two_runs)
    html = write_html_report(results, tmp_path / "report.html")
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html.resolve().as_uri(), wait_until="load")
            images = page.evaluate("""async () => Promise.all([...document.images].map(
                async (img) => {
                    let decoded = true;
                    try { await img.decode(); } catch (e) { decoded = false; }
                    const box = img.getBoundingClientRect();
                    const style = getComputedStyle(img);
                    const canvas = document.createElement("canvas");
                    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
                    const ctx = canvas.getContext("2d");
                    ctx.drawImage(img, 0, 0);
                    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                    let inked = 0;
                    for (let i = 0; i < data.length; i += 4 * 97) {
                        if (data[i + 3] > 0 && (data[i] < 200 || data[i + 1] < 200
                                                || data[i + 2] < 200)) inked++;
                    }
                    return {alt: img.alt, decoded, complete: img.complete,
                            width: img.naturalWidth, height: img.naturalHeight,
                            shownWidth: box.width, shownHeight: box.height,
                            left: box.left, right: box.right,
                            visible: style.visibility !== "hidden" && style.display !== "none"
                                     && Number(style.opacity) > 0,
                            inked};
                }))""")
            text = page.inner_text("body")
            rows = page.evaluate("""() => {
                const title = [...document.querySelectorAll("h3")].find(
                    h => h.textContent.startsWith("Accuracy by variant and subject"));
                const table = title.nextElementSibling;
                const head = [...table.querySelectorAll("thead th")].map(th => th.textContent);
                return [...table.querySelectorAll("tbody tr")].map(tr => Object.fromEntries(
                    [...tr.querySelectorAll("td")].map((td, i) => [head[i], td.textContent])));
            }""")
        finally:
            browser.close()
    assert errors == []
    assert [image["alt"] for image in images] == list(FIGURES)
    for image in images:
        assert image["decoded"] and image["complete"], image
        assert image["width"] > 100 and image["height"] > 100, image
        assert image["visible"] and image["shownWidth"] > 100 and image["shownHeight"] > 50
        assert image["left"] >= 0 and image["right"] <= 1280, image  # not cut off the page
        assert image["inked"] > 20, image  # something is drawn, not a blank picture
    assert not NAN.search(text)
    assert "8 conversations, 2 runs, 2 run/variant groups, 4 questions" in text
    shown = {row["variant"]: {k: row[k] for k in ("n", "acc.", "acc. all")}
             for row in rows if row["subject"] == "all"}
    assert shown == _expected_accuracy(two_runs)


def test_tokens_of_feedback_and_rubric_calls_count_for_their_roles():
    """``user_feedback`` is the simulated user's call and ``judge:<rubric>`` the judge's, so
    their tokens land in those roles' columns, not nowhere."""
    from chatbench.reporting.results import results_from_records
    from tests.test_stats import make_record

    timings = [{"node": "user_feedback", "seconds": 0.1, "input_tokens": 7, "output_tokens": 3},
               {"node": "judge:coherence", "seconds": 0.1, "input_tokens": 11,
                "output_tokens": 2}]
    row = results_from_records([make_record(timings=timings)]).conversations.iloc[0]
    assert (row["user_input_tokens"], row["user_output_tokens"]) == (7, 3)
    assert (row["judge_input_tokens"], row["judge_output_tokens"]) == (11, 2)
