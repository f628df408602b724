"""The report's figures: matplotlib ``Figure``s (Agg backend) that render a "no data" panel
instead of failing on an empty group (one variant, no baselines, every conversation failed),
and ``save_figures``, which writes them as PNGs."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never open a window, work without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from chatbench._files import output_folder, writing  # noqa: E402
from chatbench.reporting.results import Results  # noqa: E402
from chatbench.reporting.tables import _pct, ai_vs_user_frame  # noqa: E402
from chatbench.scoring import stats  # noqa: E402

OUTCOME_LABELS = {"recovered": "recovered (AI wrong, user right)",
                  "misled": "misled (AI wrong, user wrong)",
                  "assistant_right_user_wrong": "AI right, user wrong"}


# --- figures --------------------------------------------------------------------------------


def _wrap(label: object, width: int = 20) -> str:
    """Wrap a tick label at ``_``, ``[``, ``,``, ``=`` or spaces, never inside a word."""
    pieces = re.split(r"(?<=[_\[,=\s])", str(label))
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(line.strip() for line in lines)


def _no_data(title: str, message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_title(title)
    ax.text(0.5, 0.5, f"no data\n({message})", ha="center", va="center", fontsize=12,
            color="gray", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def _bar_figure(groups: list[str], n_series: int, height: float = 4.2) -> tuple[Figure, plt.Axes]:
    """A figure wide enough for its bar groups and their wrapped tick labels (the legend
    sits to the right of the axes)."""
    longest = max((len(line) for g in groups for line in _wrap(g).splitlines()), default=1)
    per_group = max(0.3 * n_series + 0.5, 0.09 * longest + 0.3)
    return plt.subplots(figsize=(min(18.0, max(6.0, per_group * len(groups) + 3.5)), height))


def _grouped_bars(ax: plt.Axes, groups: list[str], series: dict[str, np.ndarray],
                  errors: dict[str, np.ndarray] | None = None,
                  fmt: Callable[[float], str] = lambda v: f"{100 * v:.0f}%") -> None:
    """Bars of several series side by side per group, each labelled with its value (at its
    base when there are error bars, else on top); NaN draws no bar and reads "n/a"."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        err = None if errors is None else errors.get(name)
        positions = x + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(positions, np.nan_to_num(values), width, label=_wrap(name, 40), yerr=err,
                      capsize=3, color=f"C{i % 10}")
        labels = ["n/a" if math.isnan(v) else fmt(v) for v in values]
        if err is None:
            ax.bar_label(bars, labels, padding=2, fontsize=7,
                         rotation=90 if len(series) > 2 else 0)
            continue
        for position, value, label in zip(positions, values, labels, strict=True):
            inside = not math.isnan(value) and value >= 0.15  # room for the text in the bar
            ax.text(position, 0.01 if inside else np.nan_to_num(value) + 0.01, label,
                    ha="center", va="bottom", fontsize=7, rotation=90,
                    color="white" if inside else "black")
    rotate = len(groups) > 6 and max(len(g) for g in groups) > 4
    ax.set_xticks(x, [_wrap(g) for g in groups], rotation=30 if rotate else 0,
                  ha="right" if rotate else "center", fontsize=9)


def _ci_errors(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error bars of a CI clipped to [0, 1]; none where the CI is unknown."""
    low, high = np.clip(np.nan_to_num(low, nan=mean), 0, 1), np.clip(np.nan_to_num(
        high, nan=mean), 0, 1)
    return np.nan_to_num(np.vstack([mean - low, high - mean]))


def accuracy_figure(results: Results) -> Figure:
    """Accuracy by variant in both conventions, with per-question-means 95% CIs."""
    title = "User-AI accuracy by variant"
    table = stats.accuracy(results.conversations, "variant", n_boot=0)
    if table.empty or table["all_questions"].sum() == 0:
        return _no_data(title, "no scored conversations")
    fig, ax = _bar_figure(list(table["variant"]), 2)
    series, errors = {}, {}
    for key, label in (("answered", "no answer left out"), ("all", "no answer = wrong")):
        mean = table[f"{key}_mean"].to_numpy(float)
        series[label] = mean
        errors[label] = _ci_errors(mean, table[f"{key}_lo"].to_numpy(float),
                                   table[f"{key}_hi"].to_numpy(float))
    _grouped_bars(ax, list(table["variant"]), series, errors)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (mean of per-question means)")
    ax.set_title(f"{title} (95% CI)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def ai_vs_user_figure(results: Results) -> Figure:
    """AI-alone vs user-AI accuracy per subject as grouped bars."""
    title = "AI-alone vs user-AI accuracy by subject"
    wide = ai_vs_user_frame(results)
    wide = wide.drop(index="all", errors="ignore").dropna(how="all")
    if wide.empty:
        return _no_data(title, "no scored conversations or baselines")
    fig, ax = _bar_figure([str(s) for s in wide.index], len(wide.columns), 4.5)
    _grouped_bars(ax, [str(s).replace("_", " ") for s in wide.index],
                  {c: wide[c].to_numpy(float) for c in wide.columns})
    ax.set_ylim(0, 1.12)  # room for the value labels above full bars
    ax.set_ylabel("accuracy\n(user-AI: no answer left out; AI-alone: invalid = wrong)",
                  fontsize=9)
    if not any(c.startswith("AI-alone") for c in wide.columns):
        title += "\n(no AI-alone baselines in this store)"
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def outcomes_figure(results: Results) -> Figure:
    """Recovered / misled / assistant-right-user-wrong rates per variant."""
    title = "Interaction outcomes by variant"
    rates = stats.outcome_rates(results.conversations, "variant")
    if rates.empty or rates["scored"].sum() == 0:
        return _no_data(title, "no scored conversations")
    fig, ax = _bar_figure(list(rates["variant"]), len(OUTCOME_LABELS))
    series = {label: rates[f"{key}_rate"].to_numpy(float) for key, label in
              OUTCOME_LABELS.items()}
    _grouped_bars(ax, list(rates["variant"]), series)
    top = max(0.1, float(np.nanmax([*series.values()])) * 1.15)
    ax.set_ylim(0, min(1.12, top))
    ax.set_ylabel("share of scored conversations")
    never = rates["assistant_never_committed_rate"].to_numpy(float)
    ax.set_title(f"{title}\n(AI never committed to an option: "
                 + ", ".join(_pct(v) for v in never) + ")", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def turns_figure(results: Results) -> Figure:
    """Distribution of user turns per conversation, per variant (failed ones left out)."""
    title = "User turns per conversation"
    conv = results.conversations
    scored = conv[~conv["failed"]] if len(conv) else conv
    if scored.empty:
        return _no_data(title, "no scored conversations")
    counts = pd.crosstab(scored["turns"], scored["variant"])
    counts = counts.reindex(range(int(counts.index.min()), int(counts.index.max()) + 1),
                            fill_value=0)
    fig, ax = _bar_figure([str(t) for t in counts.index], len(counts.columns), 4)
    _grouped_bars(ax, [str(t) for t in counts.index],
                  {c: counts[c].to_numpy(float) for c in counts.columns},
                  fmt=lambda v: f"{v:.0f}")
    ax.margins(y=0.1)  # room for the value labels
    ax.set_xlabel("user turns (forced answer included)")
    ax.set_ylabel("conversations")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def latency_figure(results: Results) -> Figure:
    """Distribution of seconds per node call (box plots, log scale when it spans decades)."""
    title = "Latency per node call"
    timings = results.timings.dropna(subset=["seconds"])
    if timings.empty:
        return _no_data(title, "no timed node calls")
    nodes = sorted(timings["node"].unique())
    data = [timings.loc[timings["node"] == n, "seconds"].to_numpy(float) for n in nodes]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(nodes) + 2), 4))
    ax.boxplot(data)
    # set afterwards: boxplot's own label argument was renamed in matplotlib 3.9
    ax.set_xticks(range(1, len(nodes) + 1),
                  [f"{n}\n(n={len(d)})" for n, d in zip(nodes, data, strict=True)])
    positive = timings["seconds"][timings["seconds"] > 0]
    if len(positive) and positive.max() / positive.min() > 100:
        ax.set_yscale("log")
    ax.set_ylabel("seconds")
    ax.set_title(title)
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[Results], Figure]] = {
    "accuracy_by_variant": accuracy_figure,
    "ai_alone_vs_user_ai": ai_vs_user_figure,
    "interaction_outcomes": outcomes_figure,
    "turns": turns_figure,
    "latency": latency_figure,
}
"""File stem -> figure builder, in report order."""


def figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def save_figures(results: Results, folder: str | Path) -> list[Path]:
    """Write every report figure as ``folder/<name>.png``.

    Args:
        results: The loaded frames.
        folder: Created if missing.

    Returns:
        The PNG paths, in report order.

    Raises:
        ConfigError: The folder or a file cannot be written (the message names it).
    """
    folder = output_folder(Path(folder), "the figures")
    paths = []
    for name, build in FIGURES.items():
        path = folder / f"{name}.png"
        with writing(path, "the figure"):
            path.write_bytes(figure_png(build(results)))
        paths.append(path)
    return paths
