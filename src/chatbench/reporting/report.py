"""Reports of a result store: rich tables in the terminal, a self-contained HTML file, PNGs.

Every table is built once as a frame of display strings (``report_tables``) and rendered
either as a rich ``Table`` or as HTML; every figure is a matplotlib ``Figure`` (Agg backend)
that renders a "no data" panel instead of failing on an empty group (one variant, no
baselines, every conversation failed).
"""

from __future__ import annotations

import base64
import html
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
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

from chatbench import stats  # noqa: E402
from chatbench._files import output_folder, writing  # noqa: E402
from chatbench.errors import ConfigError  # noqa: E402
from chatbench.reporting.results import Results  # noqa: E402

EXAMPLE_TRANSCRIPTS = 3
KEY_COLUMNS = {"variant", "subject", "source", "a", "b", "AI-alone", "rubric", "node"}
"""Columns that name a row (left-aligned in rich tables)."""
OUTCOME_HEADERS = ("AI wrong at some point", "recovered", "misled", "AI right, user wrong",
                   "AI never committed")
"""Table headers of ``stats.OUTCOMES``, in order."""
OUTCOME_LABELS = {"recovered": "recovered (AI wrong, user right)",
                  "misled": "misled (AI wrong, user wrong)",
                  "assistant_right_user_wrong": "AI right, user wrong"}


# --- formatting -----------------------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _pct(value: float | None) -> str:
    return "-" if _missing(value) else f"{100 * float(value):.1f}%"


def _ci(low: float | None, high: float | None, clip: bool = False, digits: int = 1) -> str:
    """A CI in percentage points; ``clip`` bounds an accuracy's normal CI to [0, 100]."""
    if _missing(low) or _missing(high):
        return "-"
    low, high = float(low), float(high)
    if clip:
        low, high = max(low, 0.0), min(high, 1.0)
    return f"[{100 * low:.{digits}f}, {100 * high:.{digits}f}]"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if _missing(value) else f"{float(value):.{digits}f}"


def _count_rate(count: int, rate: float) -> str:
    return f"{count} ({_pct(rate)})"


# --- tables ---------------------------------------------------------------------------------


ACCURACY_TITLE = ("Accuracy by variant and subject (acc.: no answer left out; acc. all: no "
                  "answer = wrong; q.: questions; CIs in points)")


def accuracy_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Accuracy by variant and subject (plus each variant's ``all`` row), both conventions,
    with the per-question-means CI (clipped to [0, 100]) and the bootstrap CI."""
    by_subject = stats.accuracy(conversations, ["variant", "subject"])
    overall = stats.accuracy(conversations, "variant").assign(subject="all")
    frame = pd.concat([by_subject, overall], ignore_index=True) if len(overall) else overall
    if frame.empty:
        return pd.DataFrame()
    frame = (frame.assign(_last=frame["subject"] == "all")
             .sort_values(["variant", "_last", "subject"], kind="stable"))

    def ci(low: str, high: str, clip: bool = True) -> list[str]:
        return [_ci(a, b, clip=clip, digits=0) for a, b in zip(frame[low], frame[high],
                                                                strict=True)]

    return pd.DataFrame({
        "variant": frame["variant"], "subject": frame["subject"],
        "n": frame["conversations"], "failed": frame["failed"],
        "q.": frame["answered_questions"], "acc.": frame["answered_mean"].map(_pct),
        "95% CI": ci("answered_lo", "answered_hi"),
        "boot. CI": ci("answered_boot_lo", "answered_boot_hi", clip=False),
        "acc. all": frame["all_mean"].map(_pct), "95% CI all": ci("all_lo", "all_hi"),
    })


def _with_all(per_subject: pd.Series, overall: pd.Series) -> pd.Series:
    """Per-subject values followed by the overall one under ``all``."""
    tail = pd.Series([overall.iloc[0] if len(overall) else math.nan], index=["all"])
    return pd.concat([per_subject, tail])


def ai_vs_user_frame(results: Results) -> pd.DataFrame:
    """Mean accuracy per subject (rows, then ``all``): one column per AI-alone baseline
    (``AI-alone: kind (model)``), then one per user-AI variant (no answer left out)."""
    columns: dict[str, pd.Series] = {}
    base = results.baselines
    if len(base):
        for (kind, model), group in base.groupby(["kind", "model"], sort=True):
            per_subject = stats.baseline_accuracy(group, "subject").set_index("subject")
            columns[f"AI-alone: {kind} ({model})"] = _with_all(
                per_subject["mean"], stats.baseline_accuracy(group, None)["mean"])
    conv = results.conversations
    for variant in sorted(conv["variant"].unique()) if len(conv) else []:
        mine = conv[conv["variant"] == variant]
        per_subject = stats.accuracy(mine, "subject", n_boot=0).set_index("subject")
        columns[f"user-AI: {variant}"] = _with_all(
            per_subject["answered_mean"], stats.accuracy(mine, None, n_boot=0)["answered_mean"])
    wide = pd.DataFrame(columns)
    order = sorted(s for s in wide.index if s != "all") + (["all"] if "all" in wide.index else [])
    return wide.reindex(index=order)


def outcome_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Interaction outcomes per variant: counts with their share of scored conversations."""
    rates = stats.outcome_rates(conversations, "variant")
    if rates.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"variant": rates["variant"], "scored": rates["scored"],
                        "failed": rates["failed"]})
    for outcome, header in zip(stats.OUTCOMES, OUTCOME_HEADERS, strict=True):
        out[header] = [
            _count_rate(c, r) for c, r in zip(rates[outcome], rates[f"{outcome}_rate"],
                                              strict=True)]
    out["recovered | AI wrong"] = rates["recovered_given_wrong"].map(_pct)
    out["misled | AI wrong"] = rates["misled_given_wrong"].map(_pct)
    return out


def comparison_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Each variant against the first: paired per-question accuracy differences."""
    pairs = stats.paired_comparisons(conversations)
    if pairs.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "a": pairs["a"], "b": pairs["b"], "questions": pairs["n_questions"],
        "b - a": pairs["mean_diff"].map(_pct),
        "95% CI": [_ci(lo, hi) for lo, hi in zip(pairs["ci_lo"], pairs["ci_hi"], strict=True)],
        "t-test p": pairs["t_pvalue"].map(lambda v: _num(v, 3)),
        "Wilcoxon p": pairs["wilcoxon_pvalue"].map(lambda v: _num(v, 3)),
        "Cohen's d_z": pairs["cohens_dz"].map(_num),
    })


def agreement_table(results: Results) -> pd.DataFrame:
    """Pearson r and MAE between AI-alone and user-AI per-question accuracy."""
    frame = stats.agreement(results.conversations, results.baselines)
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "AI-alone": frame["kind"] + " (" + frame["model"].astype(str) + ")",
        "variant": frame["variant"], "same model": frame["same_model"].map({True: "yes",
                                                                            False: "no"}),
        "questions": frame["n"], "r": frame["r"].map(_num), "p": frame["p"].map(
            lambda v: _num(v, 3)), "MAE": frame["mae"].map(_num),
        "AI-alone acc.": frame["ai_alone"].map(_pct), "user-AI acc.": frame["user_ai"].map(_pct),
    })


def rubric_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Rubric score means (1-5) with 95% CIs and missing counts per variant."""
    frame = stats.rubric_scores(conversations, "variant")
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "variant": frame["variant"], "rubric": frame["rubric"], "mean": frame["mean"].map(_num),
        "95% CI": [f"[{_num(a)}, {_num(b)}]" if not _missing(a) else "-"
                   for a, b in zip(frame["lo"], frame["hi"], strict=True)],
        "scored": frame["scored"], "missing": frame["missing"],
    })


def node_latency_table(timings: pd.DataFrame) -> pd.DataFrame:
    """Seconds and tokens per node call."""
    frame = stats.node_latency(timings)
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "node": frame["node"], "calls": frame["calls"],
        **{f"{k} s": frame[f"seconds_{k}"].map(lambda v: _num(v, 3))
           for k in ("mean", "median", "p90")},
        "tokens in": frame["input_tokens_mean"].map(lambda v: _num(v, 0)),
        "tokens out": frame["output_tokens_mean"].map(lambda v: _num(v, 0)),
    })


def conversation_latency_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Wall time and user turns to accept per conversation, per variant."""
    frame = stats.conversation_latency(conversations, "variant")
    if frame.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"variant": frame["variant"], "conversations": frame["conversations"]})
    for k in ("mean", "median", "p90"):
        out[f"wall s {k}"] = frame[f"seconds_{k}"].map(lambda v: _num(v, 3))
    out["accepted"] = frame["accepted"]
    for k in ("mean", "median", "p90"):
        out[f"turns to accept {k}"] = frame[f"turns_to_accept_{k}"].map(lambda v: _num(v, 1))
    return out


def token_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Mean tokens in / out per conversation for each role, per variant."""
    tokens = stats.token_usage(conversations, "variant")
    if tokens.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"variant": tokens["variant"]})
    for role in stats.ROLES:
        out[f"{role} in / out"] = [
            f"{_num(i, 0)} / {_num(o, 0)}" for i, o in zip(
                tokens[f"{role}_input_tokens"], tokens[f"{role}_output_tokens"], strict=True)]
    return out


def report_tables(results: Results) -> list[tuple[str, pd.DataFrame]]:
    """Every table of the report as (title, frame of display strings); empty frames mean
    "no data"."""
    conv = results.conversations
    # Series.map per column: DataFrame.map needs pandas 2.1
    # one row per source (baselines grow with kinds x models): subjects as columns
    wide = ai_vs_user_frame(results).apply(lambda column: column.map(_pct)).T
    ai_vs_user = wide.rename_axis("source").reset_index()
    return [
        (ACCURACY_TITLE, accuracy_table(conv)),
        ("AI-alone vs user-AI accuracy by subject", ai_vs_user),
        ("AI-alone vs user-AI per question (Pearson r, MAE)", agreement_table(results)),
        ("Interaction outcomes (share of scored conversations)", outcome_table(conv)),
        ("Paired comparison with the first variant (per-question accuracy)",
         comparison_table(conv)),
        ("Rubric scores (1-5)", rubric_table(conv)),
        ("Latency per node call", node_latency_table(results.timings)),
        ("Wall time and turns per conversation", conversation_latency_table(conv)),
        ("Tokens per conversation (mean, unknown counts left out)", token_table(conv)),
    ]


# --- terminal -------------------------------------------------------------------------------


def rich_table(title: str, frame: pd.DataFrame) -> Table:
    """A rich table of a display frame (strings), with a "no data" row when it is empty.

    Headers and cells are ``Text``, so a variant name like ``cot[user_cot=true]`` is never
    read as rich markup.
    """
    table = Table(title=Text(title), title_justify="left", min_width=len(title) + 4)
    if frame.empty:
        table.add_column("")
        table.add_row(Text("no data", style="dim"))
        return table
    for column in frame.columns:
        # no min_width: rich crops (rather than folds) a table whose minimums do not fit
        table.add_column(Text(str(column)), overflow="fold",
                         justify="left" if str(column) in KEY_COLUMNS else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(Text(str(v)) for v in row))
    return table


def print_report(results: Results, console: Console) -> None:
    """Print every report table, and the count of failed conversations, to ``console``.

    Args:
        results: The loaded frames.
        console: Where to print.
    """
    conv = results.conversations
    failed = int(conv["failed"].sum()) if len(conv) else 0
    line = Text.assemble((f"{len(conv)} conversations", "bold"),
                         f", {conv['variant'].nunique()} variants, "
                         f"{conv['question_id'].nunique()} questions, {len(results.baselines)} "
                         "AI-alone baseline answers")
    if failed:
        line.append(", ").append(f"{failed} failed (not scored)", style="yellow")
    console.print(line)
    for title, frame in report_tables(results):
        console.print(rich_table(title, frame))


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


def _png(fig: Figure) -> bytes:
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
            path.write_bytes(_png(build(results)))
        paths.append(path)
    return paths


# --- HTML -----------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td:first-child, td:nth-child(2) { text-align: left; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.turn { border-radius: 6px; padding: 6px 10px; margin: 4px 0; white-space: pre-wrap; }
.user { background: #e8f0fe; } .assistant { background: #f3f3f3; margin-left: 2em; }
.note { color: #666; font-style: italic; font-size: 0.9em; white-space: pre-wrap; }
.meta { color: #555; font-size: 0.9em; }
"""


def _html_table(title: str, frame: pd.DataFrame) -> str:
    body = ("<p class='meta'>no data</p>" if frame.empty
            else frame.to_html(index=False, escape=True, border=0, na_rep="-"))
    return f"<h3>{html.escape(title)}</h3>\n{body}"


def _html_transcript(row: pd.Series, turns: pd.DataFrame) -> str:
    """One conversation: a header line, then each message (scratchpad note before its turn)."""
    e = html.escape
    parts = [f"<h3>{e(str(row['question_id']))} &middot; {e(str(row['variant']))}</h3>",
             f"<p class='meta'>correct answer {e(str(row['correct_answer']))}, user chose "
             f"{e(str(row['final_choice']))}, verdict {e(str(row['verdict']))}, stop "
             f"{e(str(row['stop_reason']))}, {row['turns']} user turns</p>"]
    for turn in turns.itertuples(index=False):
        if turn.role == "user" and isinstance(turn.scratchpad, str):
            parts.append(f"<div class='note'>scratchpad: {e(turn.scratchpad)}</div>")
        choice = (f" <span class='meta'>[points to {e(str(turn.assistant_choice))}]</span>"
                  if turn.role == "assistant" and isinstance(turn.assistant_choice, str) else "")
        parts.append(f"<div class='turn {turn.role}'><b>{turn.role}:</b> "
                     f"{e(str(turn.content))}{choice}</div>")
    if isinstance(row.get("error"), str):
        parts.append(f"<p class='meta'>error: {e(row['error'])}</p>")
    return "\n".join(parts)


def write_html_report(results: Results, out_html: str | Path,
                      title: str = "ChatBench report") -> Path:
    """Write one self-contained HTML file: figures (base64 PNGs), tables, example transcripts.

    Args:
        results: The loaded frames.
        out_html: The file to write (its folder is created if missing).
        title: The page title.

    Returns:
        The path written.

    Raises:
        ConfigError: The file cannot be written: a folder, under a file, read-only (the
            first two are found before the figures are drawn).
    """
    out = Path(out_html)
    if out.is_dir():
        raise ConfigError(f"{out}: is a directory; give a file path such as "
                          f"{out / 'report.html'}")
    with writing(out, "the HTML report"):
        out.parent.mkdir(parents=True, exist_ok=True)
    figures = [f"<img src=\"data:image/png;base64,"
               f"{base64.b64encode(_png(build(results))).decode('ascii')}\" alt=\"{name}\">"
               for name, build in FIGURES.items()]
    tables = [_html_table(t, f) for t, f in report_tables(results)]
    conv = results.conversations
    examples = [_html_transcript(row, results.turns[results.turns["conversation_id"]
                                                    == row["id"]])
                for _, row in conv.head(EXAMPLE_TRANSCRIPTS).iterrows()]
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class='meta'>{len(conv)} conversations, {int(conv['failed'].sum())} failed "
            f"(never scored), {len(results.baselines)} AI-alone baseline answers</p>\n"
            "<h2>Figures</h2>\n" + "\n".join(figures) + "\n<h2>Tables</h2>\n"
            + "\n".join(tables) + "\n<h2>Example transcripts</h2>\n"
            + ("\n".join(examples) or "<p class='meta'>no conversations</p>")
            + "\n</body></html>\n")
    with writing(out, "the HTML report"):
        out.write_text(page, encoding="utf-8")
    return out
