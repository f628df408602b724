"""Reports, exports and ``show`` on hand-built stores: files exist, text is there, edge cases
render."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from chatbench.cli import report as cli_report
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.reporting.figures import FIGURES, report_figures, save_figures
from chatbench.reporting.html_report import write_html_report
from chatbench.reporting.results import Results, export, load_results
from chatbench.reporting.tables import print_report
from chatbench.storage import ResultStore
from tests.test_stats import baselines_frame, make_record, store_results

PNG = b"\x89PNG\r\n\x1a\n"


def mixed_records() -> list:
    """Two variants, two subjects, one failure, judgements, a scratchpad and HTML-ish text."""
    return [
        make_record("q1", "cot[user_cot=true]", choices=["B"], final_choice="A",
                    scratchpad=["I think it is A", "sure now"], scores={"coherence": 4},
                    contents=["is 1 < 2 & 3?", "<b>B</b>", "Answer: A"]),
        make_record("q2", "cot[user_cot=true]", subject="physics", choices=["B"],
                    final_choice="B", scores={"coherence": None}),
        make_record("q1", "plain", choices=[None], final_choice="C"),
        make_record("q2", "plain", subject="physics", failed=True),
    ]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.sqlite"
    with ResultStore(path) as s:
        for record in mixed_records():
            s.write(record)
    return path


def test_html_report_embeds_pngs_tables_and_escaped_transcripts(store, tmp_path):
    results = dataclasses.replace(load_results(store), baselines=baselines_frame())
    out = write_html_report(results, tmp_path / "out" / "report.html")
    page = out.read_text(encoding="utf-8")
    # the records have no timings: no latency chart is drawn, a line says why
    assert page.count('<img src="data:image/png;base64,') == len(FIGURES) - 1
    assert "no figure for latency (no timed node calls)" in page
    assert 'alt="accuracy_by_variant"' in page
    assert "is 1 &lt; 2 &amp; 3?" in page and "&lt;b&gt;B&lt;/b&gt;" in page
    assert "<b>B</b>" not in page
    assert "scratchpad: I think it is A" in page
    assert "Accuracy by variant and subject" in page and "letter_few_shot" in page


def test_the_report_is_computed_once_then_printed_written_and_saved(store, tmp_path,
                                                                     monkeypatch):
    import chatbench.reporting.figures as figures_module
    import chatbench.reporting.report as report_module

    calls = {"tables": 0, "figures": 0}
    real_tables, real_figures = report_module.report_tables, figures_module.report_figures

    def count(name, real):
        def counted(results):
            calls[name] += 1
            return real(results)
        return counted

    monkeypatch.setattr(report_module, "report_tables", count("tables", real_tables))
    monkeypatch.setattr(figures_module, "report_figures", count("figures", real_figures))
    report = report_module.Report(dataclasses.replace(load_results(store),
                                                      baselines=baselines_frame()))
    console = Console(record=True, width=220)
    report.print(console)
    page = report.write_html(tmp_path / "report.html").read_text(encoding="utf-8")
    pngs = report.save_figures(tmp_path / "figures")
    assert calls == {"tables": 1, "figures": 1}
    assert "Accuracy by variant and subject" in console.export_text()
    assert page.count('<img src="data:image/png;base64,') == len(pngs) == len(FIGURES) - 1
    assert all(path.read_bytes().startswith(PNG) for path in pngs)


def test_print_report_shows_every_table(store):
    console = Console(record=True, width=220)
    results = dataclasses.replace(load_results(store), baselines=baselines_frame())
    print_report(results, console)
    text = console.export_text()
    for title in ("Accuracy by variant and subject", "AI-alone vs user-AI accuracy",
                  "Pearson r", "Interaction outcomes", "Paired comparison", "Rubric scores",
                  "Latency per node call", "Tokens per conversation"):
        assert title in text
    assert "user-AI: cot[user_cot=true]" in text  # a variant name is not read as markup
    assert "1 failed (not scored)" in text


def _assert_pngs(folder: Path, results: Results) -> None:
    paths = save_figures(results, folder)
    drawn, empty = report_figures(results)
    assert [p.stem for p in paths] == [name for name, _ in drawn]
    assert sorted([*empty, *(p.stem for p in paths)]) == sorted(FIGURES)  # no empty chart
    for path in paths:
        assert path.read_bytes().startswith(PNG)


@pytest.mark.parametrize("case", ["single_variant", "all_failed", "empty"])
def test_figures_render_on_edge_cases(tmp_path, case):
    records = {
        "single_variant": [make_record("q1"), make_record("q2", final_choice=None)],
        "all_failed": [make_record("q1", failed=True), make_record("q2", "b", failed=True)],
        "empty": [],
    }[case]
    results = store_results(tmp_path, records)
    _assert_pngs(tmp_path / "pngs", results)
    write_html_report(results, tmp_path / "r.html")
    print_report(results, Console(record=True, width=160))


def test_figures_with_baselines(store, tmp_path):
    _assert_pngs(tmp_path, dataclasses.replace(load_results(store), baselines=baselines_frame()))


def test_export_csv_round_trip(store, tmp_path):
    written = export(store, tmp_path / "csv")
    assert [p.name for p in written] == ["conversations.csv", "turns.csv", "timings.csv",
                                         "baselines.csv"]
    original = load_results(store).conversations
    back = pd.read_csv(tmp_path / "csv" / "conversations.csv")
    assert list(back.columns) == list(original.columns)
    for column in ("id", "variant", "question_id", "verdict", "correct", "failed",
                   "coherence"):
        pd.testing.assert_series_equal(back[column], original[column], check_dtype=False)
    pd.testing.assert_series_equal(back["recovered"].astype("boolean"), original["recovered"])
    # CSV has no empty string: no assistant turn reads back as NaN, which parses the same
    assert back["assistant_choices"].fillna("").tolist() == original["assistant_choices"].tolist()
    turns = pd.read_csv(tmp_path / "csv" / "turns.csv")
    assert "is 1 < 2 & 3?" in turns["content"].tolist()


def test_export_parquet_and_its_missing_dependency(store, tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    export(store, tmp_path / "pq", "parquet")
    back = pd.read_parquet(tmp_path / "pq" / "conversations.parquet")
    assert back["id"].tolist() == load_results(store).conversations["id"].tolist()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"chatbench\[parquet\]"):
        export(store, tmp_path / "pq2", "parquet")
    with pytest.raises(ConfigError, match="unknown export format"):
        export(store, tmp_path / "x", "xlsx")  # type: ignore[arg-type]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Console:
    console = Console(record=True, width=160)
    monkeypatch.setattr(cli_report, "console", console)
    return console


def test_show_prints_scratchpad_before_its_user_turn_and_choices(store, captured):
    cli_report.show_command(store, index=0)
    text = captured.export_text()
    assert text.index("(scratchpad) I think it is A") < text.index("USER 1: is 1 < 2 & 3?")
    assert text.index("(scratchpad) sure now") < text.index("USER 2: Answer: A")
    assert "-> points to B" in text and "verdict: correct" in text
    assert "coherence" in text and "correct answer: A" in text


def test_show_marks_a_missing_judgement_and_no_choice(store, captured):
    cli_report.show_command(store, id="run/cot[user_cot=true]/q2/0")
    assert "missing" in captured.export_text()
    cli_report.show_command(store, id="run/plain/q1/0")
    assert "-> no single option" in captured.export_text()


def test_show_unknown_id_lists_ids(store):
    with pytest.raises(ConfigError, match=r"no conversation 'nope'; ids are: run/"):
        cli_report.show_command(store, id="nope")
    with pytest.raises(ConfigError, match="out of range"):
        cli_report.show_command(store, index=10)


def test_commands_work_through_typer(store, tmp_path, captured):
    app = typer.Typer()
    app.command("report")(cli_report.report_command)
    app.command("export")(cli_report.export_command)
    app.command("show")(cli_report.show_command)
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(store), "--figures", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.output
    assert store.with_suffix(".html").is_file() and (tmp_path / "figs" / "turns.png").is_file()
    result = runner.invoke(app, ["export", str(store), str(tmp_path / "e"), "--format", "csv"])
    assert result.exit_code == 0 and (tmp_path / "e" / "turns.csv").is_file()
    result = runner.invoke(app, ["show", str(store), "--index", "2"])
    assert result.exit_code == 0 and "USER 1" in captured.export_text()
    result = runner.invoke(app, ["report", str(tmp_path / "missing.sqlite")])
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(app, ["report", str(store), "--run-id", "ghost"])
    assert isinstance(result.exception, ConfigError)
