"""Reports of a result store: rich tables in the terminal, a self-contained HTML file, PNGs.

Every table is built once as a frame of display strings (``report_tables``) and rendered
either as a rich ``Table`` or as HTML; every figure is a matplotlib ``Figure`` (Agg backend)
that renders a "no data" panel instead of failing on an empty group (one variant, no
baselines, every conversation failed).

The tables and their terminal rendering live in ``tables``, the figures in ``figures``, the HTML
page in ``html_report``; every name stays importable from here.

Every table and figure is per run and variant (``results.group_labels``): two runs of one graph
with different assistants are two rows, side by side. ``pool_runs`` pools the runs of each
variant name instead (``chatbench report --pool``), and the report says what it pooled.
"""

# Every import re-exports (private names too, for code that imported them from here).
# ruff: noqa: F401

from __future__ import annotations

from chatbench._files import output_folder, writing
from chatbench.errors import ConfigError
from chatbench.reporting.figures import (
    FIGURES,
    OUTCOME_LABELS,
    accuracy_figure,
    ai_vs_user_figure,
    bar_figure,
    ci_errors,
    figure_png,
    grouped_bars,
    latency_figure,
    no_data,
    no_data_reason,
    outcomes_figure,
    report_figures,
    save_figures,
    series_style,
    turns_figure,
    wrap,
)
from chatbench.reporting.figures import figure_png as _png  # its name before
from chatbench.reporting.html_report import (
    EXAMPLE_TRANSCRIPTS,
    REPORT_CSS,
    html_table,
    html_transcript,
    write_html_report,
)
from chatbench.reporting.html_report import REPORT_CSS as _CSS  # its name before
from chatbench.reporting.results import GROUP, Results, group_labels, pool_runs, run_groups
from chatbench.reporting.tables import (
    ACCURACY_TITLE,
    KEY_COLUMNS,
    OUTCOME_HEADERS,
    accuracy_table,
    agreement_table,
    ai_vs_user_frame,
    ci_text,
    comparison_table,
    conversation_latency_table,
    count_rate,
    is_missing,
    node_latency_table,
    num,
    outcome_table,
    overview,
    pct,
    print_report,
    report_tables,
    rich_table,
    rubric_table,
    run_notes,
    token_table,
    with_all,
)
from chatbench.scoring import stats

__all__ = [
    "ACCURACY_TITLE",
    "EXAMPLE_TRANSCRIPTS",
    "FIGURES",
    "GROUP",
    "KEY_COLUMNS",
    "OUTCOME_HEADERS",
    "OUTCOME_LABELS",
    "accuracy_figure",
    "accuracy_table",
    "agreement_table",
    "ai_vs_user_figure",
    "ai_vs_user_frame",
    "comparison_table",
    "conversation_latency_table",
    "group_labels",
    "latency_figure",
    "no_data_reason",
    "node_latency_table",
    "outcome_table",
    "outcomes_figure",
    "overview",
    "pool_runs",
    "print_report",
    "report_figures",
    "report_tables",
    "rich_table",
    "rubric_table",
    "run_groups",
    "run_notes",
    "save_figures",
    "series_style",
    "token_table",
    "turns_figure",
    "write_html_report",
]
