"""``Report``: the report of a result store, computed once, rendered three ways.

A ``Report`` holds the loaded frames (``results.Results``); its tables (``report_tables``: one
frame of display strings each, empty meaning "no data") and its figures (rendered once to PNG
bytes, ``figures.report_pngs``; a figure with no data is not drawn, and the reason is kept) are
computed the first time they are needed and then shared: printing to the terminal, writing the
HTML page and saving the PNGs compute nothing again.

Every table and figure is per run and variant (``results.group_labels``): two runs of one graph
with different assistants are two rows, side by side. ``results.pool_runs`` pools the runs of
each variant name instead (``chatbench report --pool``), and the report says what it pooled.

Scenario conversations (``results.is_scenario``) get their own tables after the question ones:
success rate with its CI, pass^k over replicates (``chatbench.scoring.reliability``), each
criterion's pass rate and how the conversations ended; the HTML page adds the transcripts of
those that did not succeed, each criterion's verdict and reason beside them. The question
tables and figures read only question conversations, so a report without scenarios is what it
was before they existed.

The tables and their terminal rendering live in ``tables``, the figures in ``figures``, the HTML
page in ``html_report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
from rich.console import Console

from chatbench.reporting.figures import Pngs, report_pngs, save_figures
from chatbench.reporting.html_report import write_html_report
from chatbench.reporting.results import Results
from chatbench.reporting.tables import print_report, report_tables

__all__ = ["Report"]


@dataclass
class Report:
    """The report of ``results`` (see the module).

    Example:
        >>> report = Report(load_results("results.sqlite"))  # doctest: +SKIP
        >>> report.print(console); report.write_html("report.html")  # doctest: +SKIP
    """

    results: Results

    @cached_property
    def tables(self) -> list[tuple[str, pd.DataFrame]]:
        """Every table as (title, frame of display strings), in report order."""
        return report_tables(self.results)

    @cached_property
    def figures(self) -> Pngs:
        """The figures that have data as (name, PNG bytes), and why each other has none."""
        return report_pngs(self.results)

    def print(self, console: Console) -> None:
        """Print the overview, notes and every table to ``console``."""
        print_report(self.results, console, self.tables)

    def write_html(self, path: str | Path, title: str = "ChatBench report") -> Path:
        """Write the self-contained HTML page (figures, tables, example transcripts).

        Raises:
            ConfigError: The file cannot be written (the message names it).
        """
        return write_html_report(self.results, path, title, tables=self.tables,
                                 pngs=self.figures)

    def save_figures(self, folder: str | Path) -> list[Path]:
        """Write each figure that has data as ``folder/<name>.png``; the paths written.

        Raises:
            ConfigError: The folder or a file cannot be written (the message names it).
        """
        return save_figures(self.results, folder, self.figures)
