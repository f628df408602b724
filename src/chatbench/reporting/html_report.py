"""The HTML report: one self-contained file with the figures (base64 PNGs), the tables and example
transcripts; with scenarios, the transcripts of the scenario conversations that did not
succeed, each with every criterion's verdict and the judge's reason (``FAILURES_SHOWN`` at
most, saying how many more there are).

A figure with no data is not drawn: a line names it and says why. A missing value reads ``-``
(a conversation with no answer: ``no answer``), never ``nan``. Every text from a record is
escaped.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from chatbench._files import writing
from chatbench.datatypes import CRITERION_VERDICTS
from chatbench.errors import ConfigError
from chatbench.models.app_steps import step_summary
from chatbench.reporting.figures import Pngs, report_pngs
from chatbench.reporting.results import (
    GROUP,
    Results,
    is_scenario,
    question_part,
    scenario_part,
    with_groups,
)
from chatbench.reporting.tables import is_missing, overview, report_tables, run_notes

EXAMPLE_TRANSCRIPTS = 3
FAILURES_SHOWN = 50
"""The most transcripts of failed scenario conversations the page shows."""


# --- HTML -----------------------------------------------------------------------------------

REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td:first-child, td:nth-child(2) { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0 1.5em; }
.turn { border-radius: 6px; padding: 6px 10px; margin: 4px 0; white-space: pre-wrap; }
.user { background: #e8f0fe; } .assistant { background: #f3f3f3; margin-left: 2em; }
.note { color: #666; font-style: italic; font-size: 0.9em; white-space: pre-wrap; }
.step { margin-left: 2em; }
.meta { color: #555; font-size: 0.9em; }
"""


def html_table(title: str, frame: pd.DataFrame) -> str:
    body = ("<p class='meta'>no data</p>" if frame.empty
            else frame.to_html(index=False, escape=True, border=0, na_rep="-"))
    return f"<h3>{html.escape(title)}</h3>\n{body}"


def _shown(value: object, missing: str = "-") -> str:
    """A value as the page shows it: ``missing`` for None or NaN, never ``nan``."""
    return missing if value is pd.NA or is_missing(value) else str(value)


def _user_choice(row: pd.Series) -> str:
    """What the user answered: an option letter, an answer with none, or ``no answer``."""
    choice, invalid = row.get("final_choice"), row.get("invalid_answer")
    if not is_missing(choice) and choice is not pd.NA:
        return f"user chose {choice}"
    if isinstance(invalid, str):
        return f"user answered {invalid!r} (no option letter)"
    return "no answer"


def _turn_count(row: pd.Series) -> str:
    """``N user turns``, saying when the last was the answer forced after the turn limit."""
    turns = _shown(row.get("turns"))
    forced = row.get("stop_reason") == "forced"
    return f"{turns} user turns" + (" (the last a forced answer after the turn limit)"
                                     if forced else "")


def html_transcript(row: pd.Series, turns: pd.DataFrame) -> str:
    """One conversation: a header line, then each message (scratchpad note before its turn)."""
    e = html.escape
    group = row.get(GROUP, row["variant"])
    parts = [f"<h3>{e(str(row['question_id']))} &middot; {e(_shown(group))}</h3>",
             f"<p class='meta'>correct answer {e(_shown(row['correct_answer']))}, "
             f"{e(_user_choice(row))}, verdict {e(_shown(row['verdict']))}, stop "
             f"{e(_shown(row['stop_reason']))}, {e(_turn_count(row))}</p>"]
    parts.extend(_html_turns(row, turns))
    return "\n".join(parts)


def html_scenario_transcript(row: pd.Series, turns: pd.DataFrame,
                             criteria: pd.DataFrame) -> str:
    """One scenario conversation: a header line (success, stop reason, turns), each message
    with an app's inner steps (tool calls and results), then each criterion's verdict with
    the judge's reason (its raw reply when it gave none)."""
    e = html.escape
    group = row.get(GROUP, row["variant"])
    success = "yes" if row["verdict"] == "correct" else "no"
    parts = [f"<h3>{e(str(row['question_id']))} &middot; {e(_shown(group))} &middot; "
             f"replicate {e(_shown(row.get('replicate')))}</h3>",
             f"<p class='meta'>success {success}, verdict {e(_shown(row['verdict']))}, stop "
             f"{e(_shown(row['stop_reason']))}, {e(_shown(row.get('turns')))} user turns"
             + (f", expected outcome: {e(row['correct_answer'])}"
                if isinstance(row.get("correct_answer"), str) and row["correct_answer"]
                else "") + "</p>"]
    parts.extend(_html_turns(row, turns))
    items = []
    for criterion in criteria.sort_values("index").itertuples(index=False):
        passed = None if is_missing(criterion.passed) else bool(criterion.passed)
        why = criterion.reason or (f"judge replied: {criterion.raw}" if criterion.raw else "")
        items.append(f"<li><b>{CRITERION_VERDICTS[passed]}</b> {e(str(criterion.criterion))}"
                     + (f" <span class='meta'>&mdash; {e(str(why))}</span>" if why else "")
                     + "</li>")
    parts.append("<ul class='criteria'>\n" + "\n".join(items) + "\n</ul>" if items
                 else "<p class='meta'>no criterion was judged</p>")
    return "\n".join(parts)


def _html_turns(row: pd.Series, turns: pd.DataFrame) -> list[str]:
    """Each message of a conversation, with its scratchpad note, an app's steps before it
    and the option it pointed to; then the conversation's error, if it failed."""
    e = html.escape
    parts = []
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
    return parts


def _html_steps(steps: object) -> list[str]:
    """An app's inner steps before the reply they led to (``steps``: the turns frame's JSON)."""
    if not isinstance(steps, str):
        return []
    return [f"<div class='note step'>step: {html.escape(step_summary(step))}</div>"
            for step in json.loads(steps)]


def write_html_report(results: Results, out_html: str | Path,
                      title: str = "ChatBench report", *,
                      tables: list[tuple[str, pd.DataFrame]] | None = None,
                      pngs: Pngs | None = None) -> Path:
    """Write one self-contained HTML file: figures (base64 PNGs), tables, example transcripts.

    Args:
        results: The loaded frames.
        out_html: The file to write (its folder is created if missing).
        title: The page title.
        tables: ``report_tables(results)`` when already computed (``report.Report``).
        pngs: ``report_pngs(results)`` when already rendered.

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
    drawn, empty = report_pngs(results) if pngs is None else pngs
    figures = [f"<img src=\"data:image/png;base64,"
               f"{base64.b64encode(png).decode('ascii')}\" alt=\"{name}\">"
               for name, png in drawn]
    if empty:
        figures.append("<p class='meta'>no figure for " + ", ".join(
            f"{html.escape(name)} ({html.escape(why)})" for name, why in empty.items()) + "</p>")
    shown = [html_table(t, f) for t, f in (report_tables(results) if tables is None else tables)]
    conv = with_groups(results.conversations)
    failed = int(conv["failed"].sum()) if len(conv) else 0
    notes = "".join(f"<p class='meta note-runs'>note: {html.escape(n)}</p>\n"
                    for n in run_notes(results))
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{REPORT_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class='meta' id='overview'>{html.escape(overview(results))}, {failed} failed "
            "(never scored)</p>\n" + notes +
            "<h2>Figures</h2>\n" + "\n".join(figures) + "\n<h2>Tables</h2>\n"
            + "\n".join(shown) + "\n<h2>Example transcripts</h2>\n"
            + (_html_examples(results) or "<p class='meta'>no conversations</p>")
            + _html_failures(results) + "\n</body></html>\n")
    with writing(out, "the HTML report"):
        out.write_text(page, encoding="utf-8")
    return out


def _html_examples(results: Results) -> str:
    """``EXAMPLE_TRANSCRIPTS`` transcripts: of questions, or of scenarios when none is a
    question's."""
    scenarios = is_scenario(results.conversations)
    only_scenarios = bool(scenarios.any() and scenarios.all())
    part = results if only_scenarios else question_part(results)
    conv = with_groups(part.conversations)
    shown = []
    for _, row in _examples(conv).iterrows():
        turns = _of_conversation(part.turns, row["id"])
        shown.append(html_scenario_transcript(row, turns, _of_conversation(part.criteria,
                                                                           row["id"]))
                     if only_scenarios else html_transcript(row, turns))
    return "\n".join(shown)


def _of_conversation(frame: pd.DataFrame, conversation_id: str) -> pd.DataFrame:
    """The rows of ``frame`` (turns, criteria) that belong to one conversation."""
    return frame[frame["conversation_id"] == conversation_id]


def _html_failures(results: Results) -> str:
    """The section of scenario conversations that did not succeed (a criterion failed or
    undecided, or the conversation failed), in store order, ``FAILURES_SHOWN`` at most;
    nothing when no conversation is a scenario's."""
    if not is_scenario(results.conversations).any():
        return ""
    part = scenario_part(results)
    conv = with_groups(part.conversations)
    failures = conv[conv["verdict"] != "correct"]
    head = (f"<p class='meta' id='failures'>{len(failures)} of {len(conv)} scenario "
            "conversations did not succeed"
            + (f"; the first {FAILURES_SHOWN} are shown, {len(failures) - FAILURES_SHOWN} "
               "more left out" if len(failures) > FAILURES_SHOWN else "") + "</p>")
    shown = [html_scenario_transcript(row, _of_conversation(part.turns, row["id"]),
                                      _of_conversation(part.criteria, row["id"]))
             for _, row in failures.head(FAILURES_SHOWN).iterrows()]
    return "\n<h2>Failed scenario conversations</h2>\n" + "\n".join([head, *shown])


def _examples(conversations: pd.DataFrame) -> pd.DataFrame:
    """``EXAMPLE_TRANSCRIPTS`` conversations, taking each group's first in turn (store order),
    so that runs shown side by side each show one."""
    if conversations.empty:
        return conversations
    turn = conversations.groupby(GROUP, sort=False).cumcount()
    return conversations.loc[turn.sort_values(kind="stable").index].head(EXAMPLE_TRANSCRIPTS)
