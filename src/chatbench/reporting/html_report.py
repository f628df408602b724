"""The HTML report: one self-contained file with the figures (base64 PNGs), the tables and example
transcripts."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from chatbench._files import writing
from chatbench.errors import ConfigError
from chatbench.models.app_steps import step_summary
from chatbench.reporting.figures import FIGURES, figure_png
from chatbench.reporting.results import Results
from chatbench.reporting.tables import report_tables

EXAMPLE_TRANSCRIPTS = 3


# --- HTML -----------------------------------------------------------------------------------

REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td:first-child, td:nth-child(2) { text-align: left; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.turn { border-radius: 6px; padding: 6px 10px; margin: 4px 0; white-space: pre-wrap; }
.user { background: #e8f0fe; } .assistant { background: #f3f3f3; margin-left: 2em; }
.note { color: #666; font-style: italic; font-size: 0.9em; white-space: pre-wrap; }
.step { margin-left: 2em; }
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
        parts.extend(_html_steps(getattr(turn, "steps", None)))
        parts.append(f"<div class='turn {turn.role}'><b>{turn.role}:</b> "
                     f"{e(str(turn.content))}{choice}</div>")
    if isinstance(row.get("error"), str):
        parts.append(f"<p class='meta'>error: {e(row['error'])}</p>")
    return "\n".join(parts)


def _html_steps(steps: object) -> list[str]:
    """An app's inner steps before the reply they led to (``steps``: the turns frame's JSON)."""
    if not isinstance(steps, str):
        return []
    return [f"<div class='note step'>step: {html.escape(step_summary(step))}</div>"
            for step in json.loads(steps)]


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
               f"{base64.b64encode(figure_png(build(results))).decode('ascii')}\" alt=\"{name}\">"
               for name, build in FIGURES.items()]
    tables = [_html_table(t, f) for t, f in report_tables(results)]
    conv = results.conversations
    examples = [_html_transcript(row, results.turns[results.turns["conversation_id"]
                                                    == row["id"]])
                for _, row in conv.head(EXAMPLE_TRANSCRIPTS).iterrows()]
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{REPORT_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class='meta'>{len(conv)} conversations, {int(conv['failed'].sum())} failed "
            f"(never scored), {len(results.baselines)} AI-alone baseline answers</p>\n"
            "<h2>Figures</h2>\n" + "\n".join(figures) + "\n<h2>Tables</h2>\n"
            + "\n".join(tables) + "\n<h2>Example transcripts</h2>\n"
            + ("\n".join(examples) or "<p class='meta'>no conversations</p>")
            + "\n</body></html>\n")
    with writing(out, "the HTML report"):
        out.write_text(page, encoding="utf-8")
    return out
