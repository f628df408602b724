"""The realism scorecard as one self-contained HTML page: a plot per behaviour (real users'
distribution and each simulator's, overlaid), then the text-metric and agreement tables."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from chatbench._files import writing
from chatbench.reporting.figures import figure_png, plt
from chatbench.reporting.html_report import REPORT_CSS
from chatbench.reporting.numbers import with_ci

_COLOURS = ("#222222", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
            "#e377c2", "#17becf", "#bcbd22")


def _bins(values: list[list[float]]) -> np.ndarray:
    pooled = np.concatenate([np.asarray(v, dtype=float) for v in values if v])
    if pooled.size == 0:
        return np.linspace(0, 1, 2)
    top = float(np.percentile(pooled, 99))
    if set(np.unique(pooled)) <= {0.0, 1.0}:
        return np.array([-0.25, 0.25, 0.75, 1.25])
    if np.allclose(pooled, np.round(pooled)) and top <= 60:
        return np.arange(-0.5, top + 1.5, 1.0 if top <= 30 else 2.0)
    return np.linspace(float(pooled.min()), max(top, float(pooled.min()) + 1e-9), 25)


def behaviour_figure(name: str, description: str, series: dict[str, list[float]]) -> Any:
    """Overlaid step histograms (share of values per bin) of one behaviour's distributions."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    bins = _bins(list(series.values()))
    for colour, (label, values) in zip(_COLOURS * 3, series.items(), strict=False):
        if not values:
            continue
        weights = np.full(len(values), 1.0 / len(values))
        ax.hist(np.clip(values, bins[0], bins[-1]), bins=bins, weights=weights,
                histtype="step", linewidth=2.2 if label == "real users" else 1.6,
                color=colour, label=f"{label} (n={len(values)})")
    ax.set_title(f"{name}: {description}", fontsize=9, wrap=True)
    ax.set_ylabel("share of values")
    if bins.size == 4:
        ax.set_xticks([0, 1], ["no", "yes"])
    handles = ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "no values on either side", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def _table(header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def scorecard_html(card: Any) -> str:
    """The page's HTML text."""
    e = html.escape
    real = card.real
    parts = [f"<h1>Realism scorecard</h1><p class='meta'>real users: {e(card.data)} "
             f"{e(card.split)}, {real.conversations} conversations on {real.questions} "
             f"questions, {real.workers} workers</p>", "<h2>Behaviours</h2>"]
    first = card.simulators[0].behaviours
    rows = []
    for name, result in first.items():
        series = {"real users": result.real_values}
        series.update({row.name: row.behaviours[name].simulated_values
                       for row in card.simulators})
        png = base64.b64encode(figure_png(behaviour_figure(name, result.description, series)))
        parts.append(f"<img src=\"data:image/png;base64,{png.decode('ascii')}\" "
                     f"alt=\"{e(name)}\">")
        rows.append([name, with_ci(result.real, result.real_ci)] + [
            f"{with_ci(row.behaviours[name].simulated)} | {row.behaviours[name].distance_kind} "
            f"{with_ci(row.behaviours[name].distance, row.behaviours[name].distance_ci)}"
            for row in card.simulators])
    parts.append(_table(["behaviour", "real users"] + [r.name for r in card.simulators], rows))
    parts.append("<h2>First prompts (the paper's ROUGE-1 and BLEU)</h2>")
    labelled = [(r.name, r) for r in card.simulators]
    labelled += [(f"reference: {r.name}", r) for r in card.references]
    text_rows = [[label, with_ci(r.rouge1, r.rouge1_ci), with_ci(r.bleu, r.bleu_ci)]
                 for label, r in labelled]
    parts.append(_table(["row", "ROUGE-1", "BLEU"], text_rows))
    agreeing = [r for r in card.simulators if r.answer_agreement is not None]
    if agreeing:
        parts.append("<h2>Answers given the real transcript</h2>")
        parts.append(_table(
            ["simulator", "asked", "failed", "letter agreement", "r", "MAE"],
            [[r.name, str(r.answer_agreement.conversations), str(r.answer_agreement.failed),
              with_ci(r.answer_agreement.letter_agreement, r.answer_agreement.letter_agreement_ci),
              with_ci(r.answer_agreement.r, r.answer_agreement.r_ci),
              with_ci(r.answer_agreement.mae, r.answer_agreement.mae_ci)] for r in agreeing]))
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>chatbench realism "
            f"scorecard</title><style>{REPORT_CSS}</style></head><body>{body}</body></html>")


def write_scorecard_html(card: Any, path: Path) -> Path:
    """Write the page to ``path`` (one file: the plots are inline PNGs).

    Raises:
        ConfigError: ``path`` cannot be written.
    """
    text = scorecard_html(card)
    with writing(path, "the scorecard page"):
        path.write_text(text, encoding="utf-8")
    return path
