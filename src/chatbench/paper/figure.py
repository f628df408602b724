"""The paper's accuracy figure: one panel per subject (rows) and model (columns), one bar per
condition, as ``compare_study_results_and_ai_alone`` in ``analyze_results.py`` draws it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never open a window, work without a display

import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from chatbench.errors import ConfigError  # noqa: E402
from chatbench.paper._summary import ordered  # noqa: E402
from chatbench.paper.release import MODELS, SUBJECTS  # noqa: E402

PANEL_INCHES = 2.5
"""Width and height of one panel, as in the authors' figure."""


def accuracy_figure(table: pd.DataFrame) -> Figure:
    """Bars of accuracy with error bars of +/- 1 SE (the code's ``yerr=se``).

    Args:
        table: ``accuracy_table`` (chatbench run rows included, under their model).

    Returns:
        The figure; "no data" when the table is empty.
    """
    subjects = ordered(table["subject"], SUBJECTS) or ["no data"]
    models = ordered(table["model"], MODELS) or ["no data"]
    labels = list(dict.fromkeys(table["condition"]))
    figure = Figure(figsize=(max(len(models) * PANEL_INCHES, 4),
                             max(len(subjects) * PANEL_INCHES, 3) + 0.25 * len(labels)))
    axes = figure.subplots(len(subjects), len(models), sharey=True, squeeze=False)
    for i, subject in enumerate(subjects):
        for j, model in enumerate(models):
            cell = table[(table["subject"] == subject) & (table["model"] == model)]
            _panel(axes[i][j], cell.set_index("condition").reindex(labels), labels)
            if i == 0:
                axes[i][j].set_title(model)
            if j == 0:
                axes[i][j].set_ylabel(subject.replace("_", " ").replace("mathematics", "math"))
            if i < len(subjects) - 1:
                axes[i][j].set_xticks([])
    figure.tight_layout()
    return figure


def _panel(ax: Axes, cell: pd.DataFrame, labels: list[str]) -> None:
    """One subject and model: a bar per condition (missing ones left empty)."""
    positions = list(range(len(labels)))
    ax.bar(positions, cell["accuracy"].fillna(0), yerr=cell["se"].fillna(0), capsize=3,
           color="tab:blue")
    ax.set_xticks(positions, labels, rotation=90, fontsize=7)
    ax.set_ylim(0.0, 1.05)
    ax.grid(alpha=0.3)


def save_accuracy_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``accuracy_figure`` as a PNG.

    Args:
        table: ``accuracy_table``.
        path: The PNG to write (its folder is created).

    Returns:
        The path written.

    Raises:
        ConfigError: The file cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        accuracy_figure(table).savefig(path, format="png", dpi=120)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the figure: {exc.strerror}") from None
    return path
