"""The report's tables: each built once as a frame of display strings (``report_tables``), shown
in the terminal as a rich ``Table`` (``print_report``) or written into the HTML report.

Rows are per run and variant (the conversations' ``group``, see
``chatbench.reporting.results.group_labels``), so runs are shown side by side, never pooled
unless the results were pooled on purpose (``pool_runs``); ``run_notes`` says which.

The conversations of scenarios (``results.is_scenario``) have tables of their own
(``scenario_tables``: success rate, pass^k, each criterion's pass rate, how they ended), after
the question tables, which read only the question conversations; a report with no scenario is
the question tables alone, as before scenarios existed.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatbench.datatypes import StopReason
from chatbench.reporting.results import (
    GROUP,
    LABEL_ROLES,
    Results,
    is_scenario,
    question_part,
    run_groups,
    scenario_part,
    with_groups,
)
from chatbench.scoring import stats
from chatbench.scoring.grouping import groups_by
from chatbench.scoring.reliability import pass_rate

KEY_COLUMNS = {"variant", "subject", "source", "a", "b", "AI-alone", "rubric", "node", "run",
               "scenario", "criterion"}
"""Columns that name a row (left-aligned in rich tables)."""
OUTCOME_HEADERS = ("AI wrong at some point", "recovered", "misled", "AI right, user wrong",
                   "AI never committed")
"""Table headers of ``stats.OUTCOMES``, in order."""


# --- formatting -----------------------------------------------------------------------------


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None) -> str:
    return "-" if is_missing(value) else f"{100 * float(value):.1f}%"


def ci_text(low: float | None, high: float | None, clip: bool = False, digits: int = 1) -> str:
    """A CI in percentage points; ``clip`` bounds an accuracy's normal CI to [0, 100]."""
    if is_missing(low) or is_missing(high):
        return "-"
    low, high = float(low), float(high)
    if clip:
        low, high = max(low, 0.0), min(high, 1.0)
    return f"[{100 * low:.{digits}f}, {100 * high:.{digits}f}]"


def num(value: float | None, digits: int = 2) -> str:
    return "-" if is_missing(value) else f"{float(value):.{digits}f}"


def _text(value: object) -> str:
    """A cell as text: ``-`` for a missing value, never ``nan`` or ``None``."""
    return "-" if is_missing(value) or value is pd.NA else str(value)


def count_rate(count: int, rate: float) -> str:
    return f"{count} ({pct(rate)})"


# --- tables ---------------------------------------------------------------------------------


ACCURACY_TITLE = ("Accuracy by variant and subject (acc.: mean over questions of each "
                  "question's correct / answered, no answer left out, as chatbench run prints "
                  "it; acc. all: no answer = wrong; q.: questions; SE = sample std "
                  "(ddof=1) / sqrt(q.), chatbench's convention; the paper's code uses ddof=0; "
                  "CIs in points)")
APP_STEPS_TITLE = "App steps per conversation (tool calls, tool results, documents...)"


def accuracy_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Accuracy by group (run and variant) and subject (plus each group's ``all`` row), both
    conventions, with the per-question-means CI (clipped to [0, 100]) and the bootstrap CI."""
    conversations = with_groups(conversations)
    by_subject = stats.accuracy(conversations, [GROUP, "subject"])
    overall = stats.accuracy(conversations, GROUP).assign(subject="all")
    frame = pd.concat([by_subject, overall], ignore_index=True) if len(overall) else overall
    if frame.empty:
        return pd.DataFrame()
    frame = (frame.assign(_last=frame["subject"] == "all")
             .sort_values([GROUP, "_last", "subject"], kind="stable"))

    def ci(low: str, high: str, clip: bool = True) -> list[str]:
        return [ci_text(a, b, clip=clip, digits=0) for a, b in zip(frame[low], frame[high],
                                                                strict=True)]

    return pd.DataFrame({
        "variant": frame[GROUP], "subject": frame["subject"],
        "n": frame["conversations"], "failed": frame["failed"],
        "q.": frame["answered_questions"], "acc.": frame["answered_mean"].map(pct),
        "95% CI": ci("answered_lo", "answered_hi"),
        "boot. CI": ci("answered_boot_lo", "answered_boot_hi", clip=False),
        "acc. all": frame["all_mean"].map(pct), "95% CI all": ci("all_lo", "all_hi"),
    })


def with_all(per_subject: pd.Series, overall: pd.Series) -> pd.Series:
    """Per-subject values followed by the overall one under ``all``."""
    tail = pd.Series([overall.iloc[0] if len(overall) else math.nan], index=["all"])
    return pd.concat([per_subject, tail])


def baseline_groups(results: Results) -> pd.DataFrame:
    """The baselines, each (kind, model) that several baseline runs share split by run (its
    kind shown as ``kind [run id]``), unless the results are pooled (``pool_runs``)."""
    base = results.baselines
    if base.empty or "run_id" not in base or results.pooled:
        return base
    runs = base.groupby(["kind", "model"], dropna=False)["run_id"].transform("nunique")
    if not (runs > 1).any():
        return base
    out = base.copy()
    out["kind"] = [f"{kind} [{run}]" if n > 1 else kind
                   for kind, run, n in zip(base["kind"], base["run_id"], runs, strict=True)]
    return out


def ai_vs_user_frame(results: Results) -> pd.DataFrame:
    """Mean accuracy per subject (rows, then ``all``): one column per AI-alone baseline
    (``AI-alone: kind (model)``), then one per user-AI group, run and variant (no answer
    left out)."""
    columns: dict[str, pd.Series] = {}
    base = baseline_groups(results)
    if len(base):
        for (kind, model), group in base.groupby(["kind", "model"], sort=True):
            per_subject = stats.baseline_accuracy(group, "subject").set_index("subject")
            columns[f"AI-alone: {kind} ({model})"] = with_all(
                per_subject["mean"], stats.baseline_accuracy(group, None)["mean"])
    conv = with_groups(results.conversations)
    for variant in sorted(conv[GROUP].unique()) if len(conv) else []:
        mine = conv[conv[GROUP] == variant]
        per_subject = stats.accuracy(mine, "subject", n_boot=0).set_index("subject")
        columns[f"user-AI: {variant}"] = with_all(
            per_subject["answered_mean"], stats.accuracy(mine, None, n_boot=0)["answered_mean"])
    wide = pd.DataFrame(columns)
    order = sorted(s for s in wide.index if s != "all") + (["all"] if "all" in wide.index else [])
    return wide.reindex(index=order)


def outcome_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Interaction outcomes per group: counts with their share of scored conversations."""
    rates = stats.outcome_rates(with_groups(conversations), GROUP)
    if rates.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"variant": rates[GROUP], "scored": rates["scored"],
                        "failed": rates["failed"]})
    for outcome, header in zip(stats.OUTCOMES, OUTCOME_HEADERS, strict=True):
        out[header] = [
            count_rate(c, r) for c, r in zip(rates[outcome], rates[f"{outcome}_rate"],
                                              strict=True)]
    out["recovered | AI wrong"] = rates["recovered_given_wrong"].map(pct)
    out["misled | AI wrong"] = rates["misled_given_wrong"].map(pct)
    return out


def comparison_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Each group (run and variant) against the first: paired per-question accuracy
    differences."""
    pairs = stats.paired_comparisons(with_groups(conversations), column=GROUP)
    if pairs.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "a": pairs["a"], "b": pairs["b"], "questions": pairs["n_questions"],
        "b - a": pairs["mean_diff"].map(pct),
        "95% CI": [ci_text(lo, hi) for lo, hi in zip(pairs["ci_lo"], pairs["ci_hi"], strict=True)],
        "t-test p": pairs["t_pvalue"].map(lambda v: num(v, 3)),
        "Wilcoxon p": pairs["wilcoxon_pvalue"].map(lambda v: num(v, 3)),
        "Cohen's d_z": pairs["cohens_dz"].map(num),
    })


def agreement_table(results: Results) -> pd.DataFrame:
    """Pearson r and MAE between AI-alone and user-AI per-question accuracy."""
    frame = stats.agreement(with_groups(results.conversations), baseline_groups(results),
                            column=GROUP)
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "AI-alone": frame["kind"] + " (" + frame["model"].astype(str) + ")",
        "variant": frame["variant"], "same model": frame["same_model"].map({True: "yes",
                                                                            False: "no"}),
        "questions": frame["n"], "r": frame["r"].map(num), "p": frame["p"].map(
            lambda v: num(v, 3)), "MAE": frame["mae"].map(num),
        "AI-alone acc.": frame["ai_alone"].map(pct), "user-AI acc.": frame["user_ai"].map(pct),
    })


def rubric_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Rubric score means (1-5) with 95% CIs and missing counts per group."""
    frame = stats.rubric_scores(with_groups(conversations), GROUP)
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "variant": frame[GROUP], "rubric": frame["rubric"], "mean": frame["mean"].map(num),
        "95% CI": [f"[{num(a)}, {num(b)}]" if not is_missing(a) else "-"
                   for a, b in zip(frame["lo"], frame["hi"], strict=True)],
        "scored": frame["scored"], "missing": frame["missing"],
    })


def node_latency_table(timings: pd.DataFrame, by_run: bool | None = None) -> pd.DataFrame:
    """Seconds and tokens per node call; per run and node (a ``run`` column first) when
    ``by_run``, which None reads as "the timings are of more than one run"."""
    if by_run is None:
        by_run = "run_id" in timings and timings["run_id"].nunique() > 1
    if by_run:
        parts = [stats.node_latency(part).assign(run=run_id)
                 for run_id, part in timings.groupby("run_id", sort=True)]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    else:
        frame = stats.node_latency(timings)
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        **({"run": frame["run"]} if by_run else {}),
        "node": frame["node"], "calls": frame["calls"],
        **{f"{k} s": frame[f"seconds_{k}"].map(lambda v: num(v, 3))
           for k in ("mean", "median", "p90")},
        "tokens in": frame["input_tokens_mean"].map(lambda v: num(v, 0)),
        "tokens out": frame["output_tokens_mean"].map(lambda v: num(v, 0)),
    })


def conversation_latency_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Wall time and user turns to accept per conversation, per group."""
    frame = stats.conversation_latency(with_groups(conversations), GROUP)
    if frame.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"variant": frame[GROUP], "conversations": frame["conversations"]})
    for k in ("mean", "median", "p90"):
        out[f"wall s {k}"] = frame[f"seconds_{k}"].map(lambda v: num(v, 3))
    out["accepted"] = frame["accepted"]
    for k in ("mean", "median", "p90"):
        out[f"turns to accept {k}"] = frame[f"turns_to_accept_{k}"].map(lambda v: num(v, 1))
    return out


def token_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Mean tokens in / out per conversation for each role, per group."""
    tokens = stats.token_usage(with_groups(conversations), GROUP)
    if tokens.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"variant": tokens[GROUP]})
    for role in stats.ROLES:
        out[f"{role} in / out"] = [
            f"{num(i, 0)} / {num(o, 0)}" for i, o in zip(
                tokens[f"{role}_input_tokens"], tokens[f"{role}_output_tokens"], strict=True)]
    return out


def app_steps_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Per group, an app's inner steps and tool calls per conversation (mean) and the share
    of conversations with a tool call; empty when no conversation has steps."""
    if conversations.empty or not conversations["assistant_steps"].any():
        return pd.DataFrame()
    grouped = with_groups(conversations).groupby(GROUP, sort=True)
    frame = grouped.agg(conversations=("id", "size"), steps=("assistant_steps", "mean"),
                        tool_calls=("tool_calls", "mean"),
                        with_tools=("tool_calls", lambda calls: (calls > 0).mean()))
    return pd.DataFrame({
        "variant": frame.index, "conversations": frame["conversations"].to_numpy(),
        "steps / conversation": frame["steps"].map(lambda v: num(v, 1)).to_numpy(),
        "tool calls / conversation": frame["tool_calls"].map(lambda v: num(v, 1)).to_numpy(),
        "with a tool call": frame["with_tools"].map(pct).to_numpy(),
    })


def report_tables(results: Results) -> list[tuple[str, pd.DataFrame]]:
    """Every table of the report as (title, frame of display strings); empty frames mean
    "no data": the question tables, then the scenario tables when a conversation is a
    scenario's (then the question tables only if a conversation or baseline is a
    question's)."""
    if not is_scenario(results.conversations).any():
        return question_tables(results)
    questions = question_part(results)
    asked = len(questions.conversations) or len(questions.baselines)
    return [*(question_tables(questions) if asked else []),
            *scenario_tables(scenario_part(results))]


def question_tables(results: Results) -> list[tuple[str, pd.DataFrame]]:
    """The tables of multiple-choice questions (accuracy, AI-alone, outcomes, rubrics,
    latency...) over all of ``results``' conversations."""
    conv = with_groups(results.conversations)
    by_run = not results.pooled and results.timings["run_id"].nunique() > 1
    # Series.map per column: DataFrame.map needs pandas 2.1
    # one row per source (baselines grow with kinds x models): subjects as columns
    wide = ai_vs_user_frame(results).apply(lambda column: column.map(pct)).T
    ai_vs_user = wide.rename_axis("source").reset_index()
    return [
        (ACCURACY_TITLE, accuracy_table(conv)),
        ("AI-alone vs user-AI accuracy by subject", ai_vs_user),
        ("AI-alone vs user-AI per question (Pearson r, MAE)", agreement_table(results)),
        ("Interaction outcomes (share of scored conversations)", outcome_table(conv)),
        ("Paired comparison with the first variant (per-question accuracy)",
         comparison_table(conv)),
        ("Rubric scores (1-5)", rubric_table(conv)),
        ("Latency per node call" + (" and run" if by_run else ""),
         node_latency_table(results.timings, by_run)),
        ("Wall time and turns per conversation", conversation_latency_table(conv)),
        ("Tokens per conversation (mean, unknown counts left out)", token_table(conv)),
        *_reliability_tables(conv),
        *_app_tables(conv),
    ]


RELIABILITY_TITLE = ("Reliability over replicates (pass^k, tau-bench's: the chance that k "
                     "tries of a question are all right, no answer = wrong; mean over "
                     "questions, 95% CI in points)")


def reliability_table(conversations: pd.DataFrame, *, scenarios: bool = False
                      ) -> pd.DataFrame:
    """pass^k by group (run and variant) for each k its replicates allow
    (``stats.reliability``); for questions, empty when no question was asked more than once;
    for ``scenarios``, from k = 1, with a ``scen.`` column instead of ``q.``."""
    frame = stats.reliability(with_groups(conversations), GROUP,
                              needs_replicates=not scenarios)
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "variant": frame[GROUP], "k": frame["k"],
        "scen." if scenarios else "q.": frame["questions"],
        "pass^k": frame["mean"].map(pct),
        "95% CI": [ci_text(a, b, clip=True, digits=0) for a, b in zip(frame["lo"], frame["hi"],
                                                                      strict=True)],
    })


def _reliability_tables(conversations: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The pass^k table, only for runs with replicates (pass^1 alone is the accuracy)."""
    table = reliability_table(conversations)
    return [] if table.empty else [(RELIABILITY_TITLE, table)]


def _app_tables(conversations: pd.DataFrame, title: str = APP_STEPS_TITLE
                ) -> list[tuple[str, pd.DataFrame]]:
    """The app steps table, only for runs where an app took inner steps (tool calls...)."""
    table = app_steps_table(conversations)
    return [] if table.empty else [(title, table)]


# --- scenario tables ------------------------------------------------------------------------


SCENARIO_PREFIX = "Scenarios: "
"""How every scenario table's title starts."""
SUCCESS_TITLE = (SCENARIO_PREFIX + "success rate by variant (success: every criterion met; "
                 "mean over scenarios (scen.) of each one's successes / its conversations, "
                 "an undecided criterion = no success; decided: conversations with an "
                 "undecided criterion left out; failed (error) conversations never scored; "
                 "SE = sample std (ddof=1) / sqrt(scen.), as for accuracy; CIs in points)")
PASS_HAT_K_TITLE = (SCENARIO_PREFIX + "reliability over replicates (pass^k, tau2-bench's: "
                    "C(c, k) / C(n, k) for a scenario with c successes in n scored "
                    "replicates, the chance that k of them all succeed; mean over scenarios "
                    "for k up to the fewest replicates; pass^1 = the success rate; 95% CI in "
                    "points)")
CRITERIA_TITLE = (SCENARIO_PREFIX + "pass rate of each criterion (passed / decided; undecided: "
                  "the judge's reply could not be read; failed conversations left out; 95% "
                  "CI: Wilson score interval over conversations, in points)")
ENDS_TITLE = (SCENARIO_PREFIX + "how the conversations ended (share of conversations), user "
              "turns and wall time")
SCENARIO_ENDS = (StopReason.GOAL_MET, StopReason.GAVE_UP, StopReason.MAX_TURNS,
                 StopReason.STOPPED, StopReason.ERROR)
"""The stop reasons of a scenario's conversation, in table order."""


def success_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Success rate by group (run and variant): the accuracy of ``stats.accuracy`` over
    scenarios, success being correct, with its per-scenario-means CI (clipped to [0, 100])
    and bootstrap CI; both with undecided conversations counted as no success and left out."""
    frame = stats.accuracy(with_groups(conversations), GROUP)
    if frame.empty:
        return pd.DataFrame()

    def ci(low: str, high: str, clip: bool = True) -> list[str]:
        return [ci_text(a, b, clip=clip, digits=0) for a, b in zip(frame[low], frame[high],
                                                                strict=True)]

    return pd.DataFrame({
        "variant": frame[GROUP], "n": frame["conversations"], "failed": frame["failed"],
        "undecided": frame["conversations"] - frame["failed"] - frame["answered"],
        "scen.": frame["all_questions"], "success": frame["all_mean"].map(pct),
        "95% CI": ci("all_lo", "all_hi"),
        "boot. CI": ci("all_boot_lo", "all_boot_hi", clip=False),
        "success decided": frame["answered_mean"].map(pct),
        "95% CI decided": ci("answered_lo", "answered_hi"),
    })


def criteria_table(conversations: pd.DataFrame, criteria: pd.DataFrame) -> pd.DataFrame:
    """Per group, scenario and criterion (``#``: its place in the scenario's list): how
    often the judge passed it of the times it decided, with the CI of
    ``reliability.pass_rate``, and how often it could not decide."""
    conv = with_groups(conversations)
    scored = conv.loc[~conv["failed"].astype(bool), ["id", GROUP]]
    merged = criteria.merge(scored, left_on="conversation_id", right_on="id")
    if merged.empty:
        return pd.DataFrame()
    rows = []
    for (group, scenario, index, criterion), part in merged.groupby(
            [GROUP, "question_id", "index", "criterion"], sort=True):
        decided = part["passed"].dropna().astype(bool)
        rate, low, high = pass_rate(int(decided.sum()), len(decided))
        rows.append({"variant": group, "scenario": scenario, "#": int(index) + 1,
                     "criterion": criterion, "decided": len(decided),
                     "passed": int(decided.sum()), "undecided": len(part) - len(decided),
                     "pass rate": pct(rate),
                     "95% CI": ci_text(low, high, clip=True, digits=0)})
    return pd.DataFrame(rows)


def scenario_ends_table(conversations: pd.DataFrame) -> pd.DataFrame:
    """Per group, how many conversations ended each way (``SCENARIO_ENDS``), with their
    share, and the mean user turns and wall time."""
    conv = with_groups(conversations)
    rows = []
    for key, part in groups_by(conv, GROUP):
        row = {"variant": key[GROUP], "conversations": len(part)}
        for reason in SCENARIO_ENDS:
            count = int((part["stop_reason"] == reason.value).sum())
            row[reason.value.replace("_", " ")] = count_rate(count, count / len(part))
        row["user turns mean"] = num(part["turns"].mean(), 1)
        row["wall s mean"] = num(part["seconds"].mean(), 3)
        rows.append(row)
    return pd.DataFrame(rows)


def scenario_tables(results: Results) -> list[tuple[str, pd.DataFrame]]:
    """The tables of scenario conversations (all of ``results``' conversations): success
    rate, pass^k, each criterion's pass rate, how they ended; rubric scores and app steps
    where there are any; node latency and tokens."""
    conv = with_groups(results.conversations)
    by_run = not results.pooled and results.timings["run_id"].nunique() > 1
    rubrics = rubric_table(conv)
    return [
        (SUCCESS_TITLE, success_table(conv)),
        (PASS_HAT_K_TITLE, reliability_table(conv, scenarios=True)),
        (CRITERIA_TITLE, criteria_table(conv, results.criteria)),
        (ENDS_TITLE, scenario_ends_table(conv)),
        *([] if rubrics.empty else [(SCENARIO_PREFIX + "rubric scores (1-5)", rubrics)]),
        (SCENARIO_PREFIX + "latency per node call" + (" and run" if by_run else ""),
         node_latency_table(results.timings, by_run)),
        (SCENARIO_PREFIX + "tokens per conversation (mean, unknown counts left out)",
         token_table(conv)),
        *_app_tables(conv, SCENARIO_PREFIX + APP_STEPS_TITLE[0].lower() + APP_STEPS_TITLE[1:]),
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
        table.add_row(*(Text(_text(v)) for v in row))
    return table


# --- runs -----------------------------------------------------------------------------------


def overview(results: Results) -> str:
    """One line: conversations, runs and variants (or run/variant groups), questions and
    AI-alone answers."""
    conv = results.conversations
    runs = conv["run_id"].nunique() if len(conv) else 0
    variants = conv["variant"].nunique() if len(conv) else 0
    questions = conv["question_id"].nunique() if len(conv) else 0
    scenarios = is_scenario(conv)
    tasks = f"{questions} questions, "
    if scenarios.any():
        asked = conv.loc[~scenarios, "question_id"].nunique()
        tasks = ((f"{asked} questions, " if asked else "")
                 + f"{conv.loc[scenarios, 'question_id'].nunique()} scenarios, ")
    if results.pooled and runs > 1:
        shape = f"{runs} runs pooled into {variants} variants"
    elif runs > 1:
        shape = f"{runs} runs, {with_groups(conv)[GROUP].nunique()} run/variant groups"
    else:
        shape = f"{variants} variants"
    return (f"{len(conv)} conversations, {shape}, {tasks}"
            f"{len(results.baselines)} AI-alone baseline answers")


def run_notes(results: Results) -> list[str]:
    """What the report groups by when the conversations are of several runs: runs side by
    side, or which runs ``pool_runs`` pooled (and whether their models differ); AI-alone
    baselines of several runs. Empty for one run."""
    conv = results.conversations
    groups = run_groups(conv)
    notes = []
    if results.pooled:
        for variant, part in groups.groupby("variant", sort=True):
            if part["run_id"].nunique() < 2:
                continue
            runs = " + ".join(f"{run} ({n} conversations)" for run, n in zip(
                part["run_id"], part["conversations"], strict=True))
            differ = [role for role in LABEL_ROLES
                      if part[f"model_identity_{role}"].nunique(dropna=False) > 1]
            models = "; ".join(
                f"{row['run_id']}: "
                + ", ".join(f"{role}={row[f'model_identity_{role}']}" for role in differ)
                for _, row in part.iterrows())
            notes.append(f"pooled (--pool): {variant} = {runs}" + (
                f"; their {' and '.join(differ)} models differ ({models})" if differ else ""))
        if not notes and groups["run_id"].nunique() > 1:
            notes.append("--pool: no variant name is in more than one run; nothing pooled")
    elif groups["run_id"].nunique() > 1:
        notes.append(f"{groups['run_id'].nunique()} runs in this store, shown side by side "
                     "(one row per run and variant; --pool pools the runs of each variant "
                     "name)")
    if groups["run_id"].nunique() > 1:
        shared = [f"{role}={groups[f'model_identity_{role}'].iloc[0]}" for role in LABEL_ROLES
                  if groups[f"model_identity_{role}"].nunique(dropna=False) == 1
                  and groups[f"model_identity_{role}"].notna().all()]
        if shared:
            notes.append("every run's models: " + ", ".join(shared))
    base = results.baselines
    if len(base) and "run_id" in base:
        runs = base.groupby(["kind", "model"], dropna=False)["run_id"].unique()
        for (kind, model), ids in runs.items():
            if len(ids) > 1:
                how = "pooled (--pool)" if results.pooled else "shown apart as kind [run]"
                notes.append(f"AI-alone {kind} ({model}) is in {len(ids)} baseline runs "
                             f"({', '.join(sorted(map(str, ids)))}): {how}")
    return notes


def print_report(results: Results, console: Console,
                 tables: list[tuple[str, pd.DataFrame]] | None = None) -> None:
    """Print every report table, and the count of failed conversations, to ``console``.

    Args:
        results: The loaded frames.
        console: Where to print.
        tables: ``report_tables(results)`` when already computed (``report.Report``).
    """
    conv = results.conversations
    failed = int(conv["failed"].sum()) if len(conv) else 0
    head, rest = overview(results).split(", ", 1)
    line = Text.assemble((head, "bold"), ", ", rest)
    if failed:
        line.append(", ").append(f"{failed} failed (not scored)", style="yellow")
    console.print(line)
    for note in run_notes(results):
        console.print(Text.assemble(("note:", "yellow"), " ", note), soft_wrap=True)
    for title, frame in (report_tables(results) if tables is None else tables):
        console.print(rich_table(title, frame))
