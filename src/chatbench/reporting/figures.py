"""The report's figures: matplotlib ``Figure``s (Agg backend) that render a "no data" panel
instead of failing on an empty group (one variant, no baselines, every conversation failed),
and ``save_figures``, which writes them as PNGs (leaving the "no data" ones out).

Bars are per group, run and variant (the conversations' ``group``). The layout holds many
groups: past ``MANY_GROUPS`` the bars lie horizontally, one row per group, and past
``MANY_SERIES`` series side by side a figure becomes a table of coloured cells (a heatmap)
with the numbers written in; series colours come from ``series_style`` (tab10, tab20, then
hatches), so no two series of a legend look alike.
"""

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
from chatbench.reporting.results import (  # noqa: E402
    GROUP,
    Results,
    question_part,
    with_groups,
)
from chatbench.reporting.tables import ai_vs_user_frame  # noqa: E402
from chatbench.scoring import stats  # noqa: E402

OUTCOME_LABELS = {"recovered": "recovered (AI wrong, user right)",
                  "misled": "misled (AI wrong, user wrong)",
                  "assistant_right_user_wrong": "AI right, user wrong",
                  "assistant_never_committed": "AI never committed to an option"}
NO_DATA = "no data"
"""How a "no data" figure's label (``Figure.get_label``) starts: ``no data: why``."""
MANY_GROUPS = 8
"""More bar groups than this: horizontal bars, one row per group."""
MANY_SERIES = 6
"""More series than this side by side: a heatmap instead of bars."""
SCENARIOS_ONLY = "scenarios only"
"""Why no figure is drawn for a report of scenarios alone."""
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
"""Hatches that tell apart series whose tab20 colour repeats (past 20 series)."""


# --- figures --------------------------------------------------------------------------------


def wrap(label: object, width: int = 20) -> str:
    """Wrap a tick label at ``_``, ``[``, ``,``, ``=`` or spaces, never inside a word."""
    pieces = re.split(r"(?<=[_\[,=\s])", str(label))
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(line.strip() for line in lines)


def no_data(title: str, message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    fig.set_label(f"{NO_DATA}: {message}")
    ax.set_title(title)
    ax.text(0.5, 0.5, f"no data\n({message})", ha="center", va="center", fontsize=12,
            color="gray", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def no_data_reason(fig: Figure) -> str | None:
    """Why ``fig`` is a "no data" panel (``no timed node calls``...); None for a chart."""
    label = fig.get_label() or ""
    return label.split(": ", 1)[-1] if label.startswith(NO_DATA) else None


def series_style(index: int, count: int) -> dict[str, object]:
    """Colour and hatch of series ``index`` of ``count``: tab10 up to 10 series, tab20 up to
    20, then tab20 again with a hatch per round, so every series of a legend differs.

    Example:
        >>> len({(str(series_style(i, 24)["color"]), series_style(i, 24)["hatch"])
        ...      for i in range(24)})
        24
    """
    cmap = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    size = 10 if count <= 10 else 20
    return {"color": cmap(index % size), "hatch": HATCHES[(index // size) % len(HATCHES)],
            "edgecolor": "white" if index >= size else None}


def bar_figure(groups: list[str], n_series: int, height: float = 4.2) -> tuple[Figure, plt.Axes]:
    """A figure wide enough for its bar groups and their wrapped tick labels (the legend
    sits to the right of the axes); past ``MANY_GROUPS`` groups, tall enough for one row
    of horizontal bars per group."""
    if len(groups) > MANY_GROUPS:
        longest = max((len(line) for g in groups for line in wrap(g, 40).splitlines()),
                      default=1)
        rows = sum(max(0.2 * len(wrap(g, 40).splitlines()), 0.16 * n_series + 0.12)
                   for g in groups)
        return plt.subplots(figsize=(min(16.0, 7.5 + 0.07 * longest), max(height, rows + 1.6)))
    longest = max((len(line) for g in groups for line in wrap(g).splitlines()), default=1)
    per_group = max(0.3 * n_series + 0.5, 0.09 * longest + 0.3)
    return plt.subplots(figsize=(min(18.0, max(6.0, per_group * len(groups) + 3.5)), height))


def _value_label(value: float, fmt: Callable[[float], str]) -> str:
    return "-" if math.isnan(value) else fmt(value)


def grouped_bars(ax: plt.Axes, groups: list[str], series: dict[str, np.ndarray],
                  errors: dict[str, np.ndarray] | None = None,
                  fmt: Callable[[float], str] = lambda v: f"{100 * v:.0f}%") -> None:
    """Bars of several series side by side per group, each labelled with its value (at its
    base when there are error bars, else on top); NaN draws no bar and reads "-". Past
    ``MANY_GROUPS`` groups the bars are horizontal, the first group on top."""
    if len(groups) > MANY_GROUPS:
        _horizontal_bars(ax, groups, series, errors, fmt)
        return
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        err = None if errors is None else errors.get(name)
        positions = x + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(positions, np.nan_to_num(values), width, label=wrap(name, 40), yerr=err,
                      capsize=3, **series_style(i, len(series)))
        labels = [_value_label(v, fmt) for v in values]
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
    ax.set_xticks(x, [wrap(g) for g in groups], rotation=30 if rotate else 0,
                  ha="right" if rotate else "center", fontsize=9)


def _horizontal_bars(ax: plt.Axes, groups: list[str], series: dict[str, np.ndarray],
                     errors: dict[str, np.ndarray] | None,
                     fmt: Callable[[float], str]) -> None:
    """``grouped_bars`` lying down: one row per group, values written past each bar."""
    height = 0.8 / max(len(series), 1)
    y = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        err = None if errors is None else errors.get(name)
        positions = y + (i - (len(series) - 1) / 2) * height
        bars = ax.barh(positions, np.nan_to_num(values), height, label=wrap(name, 40),
                       xerr=err, capsize=2, **series_style(i, len(series)))
        labels = [_value_label(v, fmt) for v in values]
        if err is None:
            ax.bar_label(bars, labels, padding=3, fontsize=7)
            continue
        for position, value, label in zip(positions, values, labels, strict=True):
            inside = not math.isnan(value) and value >= 0.15  # room for the text in the bar
            ax.text(0.01 if inside else np.nan_to_num(value) + 0.01, position, label,
                    ha="left", va="center", fontsize=7, color="white" if inside else "black")
    ax.set_yticks(y, [wrap(g, 40) for g in groups], fontsize=8)
    ax.invert_yaxis()  # the first group on top, as tables list them


def _heatmap(fig: Figure, ax: plt.Axes, rows: list[str], columns: list[str],
             values: np.ndarray, fmt: Callable[[float], str], label: str,
             vmax: float | None = None) -> None:
    """A table of coloured cells (from 0 to ``vmax``, default the largest value), the value
    written in each ("-": none), for more series than bars side by side can show apart."""
    masked = np.ma.masked_invalid(values.astype(float))
    top = vmax if vmax is not None else max(float(masked.max()) if masked.count() else 1.0, 1.0)
    image = ax.imshow(masked, aspect="auto", cmap="viridis", vmin=0, vmax=top)
    for (r, c), value in np.ndenumerate(values.astype(float)):
        light = not math.isnan(value) and image.norm(value) < 0.6
        ax.text(c, r, _value_label(value, fmt), ha="center", va="center", fontsize=7,
                color="white" if light else "black")
    ax.set_xticks(range(len(columns)), [wrap(c) for c in columns], fontsize=8,
                  rotation=30 if len(columns) > 6 else 0,
                  ha="right" if len(columns) > 6 else "center")
    ax.set_yticks(range(len(rows)), [wrap(r, 40) for r in rows], fontsize=8)
    fig.colorbar(image, ax=ax, label=label, fraction=0.04, pad=0.02)


def _heatmap_figure(rows: list[str], columns: list[str]) -> tuple[Figure, plt.Axes]:
    longest = max((len(line) for r in rows for line in wrap(r, 40).splitlines()), default=1)
    lines = sum(len(wrap(r, 40).splitlines()) for r in rows)
    return plt.subplots(figsize=(min(18.0, 0.07 * longest + 0.8 * len(columns) + 3.0),
                                 max(3.5, 0.22 * max(lines, len(rows)) + 2.2)))


def _fit(fig: Figure) -> None:
    """Lay the figure out tightly, growing it until everything drawn (a legend beside the
    axes, long tick labels) lies inside it: no label is clipped."""
    for _ in range(4):
        fig.tight_layout()
        fig.canvas.draw()
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        width, height = fig.get_size_inches()
        grow_w = max(0.0, -box.x0) + max(0.0, box.x1 - width)
        grow_h = max(0.0, -box.y0) + max(0.0, box.y1 - height)
        if grow_w <= 0.01 and grow_h <= 0.01:
            return
        fig.set_size_inches(width + grow_w + 0.1, height + grow_h + 0.1)


def _legend(ax: plt.Axes) -> None:
    """The legend to the right of the axes (a figure's layout then keeps it inside)."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def ci_errors(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error bars of a CI clipped to [0, 1]; none where the CI is unknown."""
    low, high = np.clip(np.nan_to_num(low, nan=mean), 0, 1), np.clip(np.nan_to_num(
        high, nan=mean), 0, 1)
    return np.nan_to_num(np.vstack([mean - low, high - mean]))


def accuracy_figure(results: Results) -> Figure:
    """Accuracy by group (run and variant) in both conventions, with per-question-means 95%
    CIs."""
    title = "User-AI accuracy by variant"
    table = stats.accuracy(with_groups(results.conversations), GROUP, n_boot=0)
    if table.empty or table["all_questions"].sum() == 0:
        return no_data(title, "no scored conversations")
    groups = [str(g) for g in table[GROUP]]
    fig, ax = bar_figure(groups, 2)
    series, errors = {}, {}
    for key, label in (("answered", "no answer left out"), ("all", "no answer = wrong")):
        mean = table[f"{key}_mean"].to_numpy(float)
        series[label] = mean
        errors[label] = ci_errors(mean, table[f"{key}_lo"].to_numpy(float),
                                   table[f"{key}_hi"].to_numpy(float))
    grouped_bars(ax, groups, series, errors)
    value_axis = "x" if len(groups) > MANY_GROUPS else "y"
    getattr(ax, f"set_{value_axis}lim")(0, 1.15 if value_axis == "x" else 1.05)
    getattr(ax, f"set_{value_axis}label")("accuracy (mean of per-question means)")
    ax.set_title(f"{title} (95% CI)")
    _legend(ax)
    _fit(fig)
    return fig


def ai_vs_user_figure(results: Results) -> Figure:
    """AI-alone vs user-AI accuracy per subject as grouped bars (a heatmap, sources by
    subjects, past ``MANY_SERIES`` sources)."""
    title = "AI-alone vs user-AI accuracy by subject"
    wide = ai_vs_user_frame(results)
    wide = wide.drop(index="all", errors="ignore").dropna(how="all")
    if wide.empty:
        return no_data(title, "no scored conversations or baselines")
    title += "\n(user-AI: no answer left out; AI-alone: invalid = wrong)"
    if not any(c.startswith("AI-alone") for c in wide.columns):
        title += "\n(no AI-alone baselines in this store)"
    subjects = [str(s).replace("_", " ") for s in wide.index]
    if len(wide.columns) > MANY_SERIES:
        fig, ax = _heatmap_figure(list(wide.columns), subjects)
        _heatmap(fig, ax, list(wide.columns), subjects, wide.to_numpy(float).T,
                 lambda v: f"{100 * v:.0f}%", "accuracy", vmax=1.0)
        ax.set_title(title, fontsize=10)
        _fit(fig)
        return fig
    fig, ax = bar_figure(subjects, len(wide.columns), 4.5)
    grouped_bars(ax, subjects, {c: wide[c].to_numpy(float) for c in wide.columns})
    if len(subjects) > MANY_GROUPS:
        ax.set_xlim(0, 1.15)
        ax.set_xlabel("accuracy")
    else:
        ax.set_ylim(0, 1.12)  # room for the value labels above full bars
        ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    _legend(ax)
    _fit(fig)
    return fig


def outcomes_figure(results: Results) -> Figure:
    """Recovered / misled / assistant-right-user-wrong / never-committed rates per group."""
    title = "Interaction outcomes by variant"
    rates = stats.outcome_rates(with_groups(results.conversations), GROUP)
    if rates.empty or rates["scored"].sum() == 0:
        return no_data(title, "no scored conversations")
    groups = [str(g) for g in rates[GROUP]]
    fig, ax = bar_figure(groups, len(OUTCOME_LABELS))
    series = {label: rates[f"{key}_rate"].to_numpy(float) for key, label in
              OUTCOME_LABELS.items()}
    grouped_bars(ax, groups, series)
    top = float(np.nanmax([*series.values()])) if any(
        np.isfinite(v).any() for v in series.values()) else 0.0
    if len(groups) > MANY_GROUPS:
        ax.set_xlim(0, min(1.2, max(0.1, top * 1.25)))
        ax.set_xlabel("share of scored conversations")
    else:
        ax.set_ylim(0, min(1.12, max(0.1, top * 1.15)))
        ax.set_ylabel("share of scored conversations")
    ax.set_title(title, fontsize=10)
    _legend(ax)
    _fit(fig)
    return fig


def turns_figure(results: Results) -> Figure:
    """Distribution of user turns per conversation, per group (failed ones left out); a
    turn count that some conversations reached by a forced answer says how many. Past
    ``MANY_SERIES`` groups, a heatmap (groups by turns)."""
    title = "User turns per conversation"
    conv = with_groups(results.conversations)
    scored = conv[~conv["failed"]] if len(conv) else conv
    if scored.empty:
        return no_data(title, "no scored conversations")
    counts = pd.crosstab(scored["turns"], scored[GROUP])
    counts = counts.reindex(range(int(counts.index.min()), int(counts.index.max()) + 1),
                            fill_value=0)
    forced = scored.loc[scored["stop_reason"] == "forced", "turns"].value_counts()
    ticks = [f"{t}\n({forced[t]} forced)" if forced.get(t, 0) else str(t)
             for t in counts.index]
    xlabel = "user turns (a forced answer after the turn limit counts as a turn)"
    columns = [str(c) for c in counts.columns]
    if len(columns) > MANY_SERIES:
        fig, ax = _heatmap_figure(columns, ticks)
        _heatmap(fig, ax, columns, ticks, counts.to_numpy(float).T, lambda v: f"{v:.0f}",
                 "conversations")
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        _fit(fig)
        return fig
    fig, ax = bar_figure(ticks, len(columns), 4)
    grouped_bars(ax, ticks, {c: counts[c].to_numpy(float) for c in counts.columns},
                  fmt=lambda v: f"{v:.0f}")
    if len(ticks) > MANY_GROUPS:
        ax.margins(x=0.1)
        ax.set_ylabel(xlabel.replace(" (", "\n("))
        ax.set_xlabel("conversations")
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        ax.margins(y=0.1)  # room for the value labels
        ax.set_xlabel(xlabel)
        ax.set_ylabel("conversations")
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    _legend(ax)
    _fit(fig)
    return fig


def latency_figure(results: Results) -> Figure:
    """Distribution of seconds per node call (box plots, log scale when it spans decades);
    per run and node, lying down, when the timings are of several runs and not pooled."""
    title = "Latency per node call"
    timings = results.timings.dropna(subset=["seconds"])
    if timings.empty:
        return no_data(title, "no timed node calls")
    by_run = not results.pooled and timings["run_id"].nunique() > 1
    keys = (sorted(timings[["run_id", "node"]].drop_duplicates().itertuples(index=False,
                                                                             name=None))
            if by_run else [(None, n) for n in sorted(timings["node"].unique())])
    data = [timings.loc[(timings["node"] == n) & ((timings["run_id"] == r) if by_run else True),
                        "seconds"].to_numpy(float) for r, n in keys]
    labels = [f"{n} (n={len(d)})" if r is None else f"{r}: {n} (n={len(d)})"
              for (r, n), d in zip(keys, data, strict=True)]
    if by_run:
        longest = max(len(label) for label in labels)
        fig, ax = plt.subplots(figsize=(min(16.0, 6.5 + 0.07 * longest),
                                        max(3.5, 0.32 * len(keys) + 1.6)))
        if _MPL_VERT:
            ax.boxplot(data, vert=False)
        else:
            ax.boxplot(data, orientation="horizontal")
        ax.set_yticks(range(1, len(keys) + 1), labels, fontsize=8)
        ax.invert_yaxis()
    else:
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(keys) + 2), 4))
        ax.boxplot(data)
        # set afterwards: boxplot's own label argument was renamed in matplotlib 3.9
        ax.set_xticks(range(1, len(keys) + 1), [label.replace(" (", "\n(") for label in labels])
    positive = timings["seconds"][timings["seconds"] > 0]
    if len(positive) and positive.max() / positive.min() > 100:
        (ax.set_xscale if by_run else ax.set_yscale)("log")
    (ax.set_xlabel if by_run else ax.set_ylabel)("seconds")
    ax.set_title(title + (" and run" if by_run else ""))
    _fit(fig)
    return fig


_MPL_VERT = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) < (3, 10)
"""boxplot's ``vert`` became ``orientation`` in matplotlib 3.10 (``vert`` warns there)."""


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


def report_figures(results: Results) -> tuple[list[tuple[str, Figure]], dict[str, str]]:
    """The report's figures that have data, in report order, and why each other one has
    none (name -> reason): the report draws no empty chart. They are of the question
    conversations: a scenario's are the report's scenario tables."""
    asked = question_part(results)
    if asked.conversations.empty and len(results.conversations):
        return [], dict.fromkeys(FIGURES, SCENARIOS_ONLY)
    results = asked
    drawn, empty = [], {}
    for name, build in FIGURES.items():
        fig = build(results)
        reason = no_data_reason(fig)
        if reason is None:
            drawn.append((name, fig))
        else:
            plt.close(fig)
            empty[name] = reason
    return drawn, empty


Pngs = tuple[list[tuple[str, bytes]], dict[str, str]]
"""The report's figures that have data as (name, PNG bytes), in report order, and why each
other one has none (``report_pngs``)."""


def report_pngs(results: Results) -> Pngs:
    """``report_figures`` rendered to PNG bytes once (each figure closed once rendered)."""
    drawn, empty = report_figures(results)
    pngs = []
    for name, fig in drawn:
        pngs.append((name, figure_png(fig)))
        plt.close(fig)
    return pngs, empty


def save_figures(results: Results, folder: str | Path, pngs: Pngs | None = None) -> list[Path]:
    """Write every report figure that has data as ``folder/<name>.png``.

    Args:
        results: The loaded frames.
        folder: Created if missing.
        pngs: ``report_pngs(results)`` when already rendered (``report.Report``).

    Returns:
        The PNG paths, in report order; a figure with no data (``report_figures``) is not
        written.

    Raises:
        ConfigError: The folder or a file cannot be written (the message names it).
    """
    folder = output_folder(Path(folder), "the figures")
    paths = []
    for name, png in (report_pngs(results) if pngs is None else pngs)[0]:
        path = folder / f"{name}.png"
        with writing(path, "the figure"):
            path.write_bytes(png)
        paths.append(path)
    return paths
