"""scoring.stats and reporting.results on hand-built records, with numbers worked out by hand."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from chatbench.datatypes import Judgement, StopReason
from chatbench.errors import ConfigError
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.reporting.results import Results, load_results
from chatbench.scoring import stats
from chatbench.storage import ResultStore

STARTED = datetime(2025, 1, 1, tzinfo=timezone.utc)


def make_record(
    question_id: str = "q1",
    variant: str = "v1",
    *,
    final_choice: str | None = "A",
    correct_answer: str = "A",
    choices: Sequence[str | None] = (),
    failed: bool = False,
    forced: bool = False,
    replicate: int = 0,
    subject: str = "math",
    scores: dict[str, int | None] | None = None,
    scratchpad: Sequence[str] = (),
    timings: list[dict[str, Any]] | None = None,
    seconds: float = 1.0,
    assistant: str = "fake:echo",
    contents: Sequence[str] | None = None,
) -> ConversationRecord:
    """A record whose transcript has one assistant turn per entry of ``choices``, each after
    a user turn, then the user's answer; verdict follows from the final choice."""
    if failed:
        final_choice, verdict, stop = None, None, StopReason.ERROR
    else:
        verdict = ("no_answer" if final_choice is None
                   else "correct" if final_choice == correct_answer else "wrong")
        stop = StopReason.FORCED if forced else StopReason.ACCEPTED
    transcript = []
    for i in range(len(choices)):
        transcript += [TranscriptTurn(role="user", content=f"user says {i}"),
                       TranscriptTurn(role="assistant", content=f"assistant says {i}")]
    if not failed:
        transcript.append(TranscriptTurn(role="user", content=f"Answer: {final_choice}"))
    if contents is not None:
        transcript = [TranscriptTurn(role=t.role, content=c)
                      for t, c in zip(transcript, contents, strict=True)]
    return ConversationRecord(
        id=f"run/{variant}/{question_id}/{replicate}", run_id="run", question_id=question_id,
        subject=subject, variant=variant, replicate=replicate,
        spec={"name": variant, "user_cot": bool(scratchpad)},
        models={"user": "fake:user", "assistant": assistant, "judge": "rules"},
        factors={"user_cot": bool(scratchpad)}, transcript=transcript,
        scratchpad=list(scratchpad), final_choice=final_choice, correct_answer=correct_answer,
        verdict=verdict, stop_reason=stop, assistant_choices=list(choices),
        judgements={k: Judgement(score=v, raw="garbage" if v is None else str(v))
                    for k, v in (scores or {}).items()},
        turns=sum(t.role == "user" for t in transcript),
        error="ConnectionError: boom" if failed else None,
        timings=timings or [], seconds=seconds, started_at=STARTED,
    )


def store_results(tmp_path: Path, records: Sequence[ConversationRecord]) -> Results:
    """Write the records with ``ResultStore`` and read them back with ``load_results``."""
    path = tmp_path / "store.sqlite"
    with ResultStore(path) as store:
        for record in records:
            store.write(record)
    return load_results(path)


def frame(rows: Sequence[tuple[str, str, bool | None]]) -> pd.DataFrame:
    """A minimal conversations frame from (variant, question_id, correct; None = no answer)."""
    return pd.DataFrame({
        "variant": [r[0] for r in rows], "question_id": [r[1] for r in rows],
        "correct": [bool(r[2]) for r in rows], "answered": [r[2] is not None for r in rows],
        "failed": False,
    })


# --- interaction outcomes -------------------------------------------------------------------


OUTCOME_CASES = {
    "recovered": make_record("q1", choices=["B", "A"], final_choice="A"),
    "misled": make_record("q2", choices=["B"], final_choice="B"),
    "wrong_ai_no_answer": make_record("q3", choices=["C"], final_choice=None),
    "ai_right_user_wrong": make_record("q4", choices=["A"], final_choice="C"),
    "never_committed": make_record("q5", choices=[None, None], final_choice="D"),
    "failed": make_record("q6", choices=["B"], failed=True),
}


@pytest.fixture
def outcome_results(tmp_path: Path) -> Results:
    return store_results(tmp_path, list(OUTCOME_CASES.values()))


def _outcomes_of(results: Results, question_id: str) -> dict[str, Any]:
    row = results.conversations.set_index("question_id").loc[question_id]
    return {name: row[name] for name in stats.OUTCOMES}


def test_recovered_when_ai_was_wrong_and_user_ends_right(outcome_results):
    out = _outcomes_of(outcome_results, "q1")
    assert out == {"assistant_wrong_at_some_point": True, "recovered": True, "misled": False,
                   "assistant_right_user_wrong": False, "assistant_never_committed": False}


def test_misled_when_ai_was_wrong_and_user_ends_wrong(outcome_results):
    out = _outcomes_of(outcome_results, "q2")
    assert out["misled"] and out["assistant_wrong_at_some_point"] and not out["recovered"]


def test_no_answer_is_never_misled(outcome_results):
    out = _outcomes_of(outcome_results, "q3")
    assert out["assistant_wrong_at_some_point"]
    assert not out["misled"] and not out["recovered"]
    row = outcome_results.conversations.set_index("question_id").loc["q3"]
    assert row["verdict"] == "no_answer" and not row["answered"] and not row["correct"]


def test_assistant_right_user_wrong_uses_last_committed_choice(outcome_results):
    out = _outcomes_of(outcome_results, "q4")
    assert out["assistant_right_user_wrong"] and not out["assistant_wrong_at_some_point"]
    assert stats.conversation_outcomes(["A", "B"], "A", "wrong", False)[
        "assistant_right_user_wrong"] is False
    assert stats.conversation_outcomes(["B", None], "B", "wrong", False)[
        "assistant_right_user_wrong"] is True


def test_never_committed_when_every_choice_is_none(outcome_results):
    out = _outcomes_of(outcome_results, "q5")
    assert out["assistant_never_committed"] and not out["assistant_wrong_at_some_point"]
    assert stats.conversation_outcomes([], "A", "correct", False)["assistant_never_committed"]


def test_failed_conversation_has_missing_outcomes_and_is_excluded_from_rates(outcome_results):
    assert all(pd.isna(v) for v in _outcomes_of(outcome_results, "q6").values())
    rates = stats.outcome_rates(outcome_results.conversations, by=None).iloc[0]
    assert rates["scored"] == 5 and rates["failed"] == 1
    assert rates["recovered"] == 1 and rates["recovered_rate"] == pytest.approx(1 / 5)
    assert rates["misled"] == 1 and rates["misled_rate"] == pytest.approx(1 / 5)
    assert rates["assistant_wrong_at_some_point"] == 3
    assert rates["recovered_given_wrong"] == pytest.approx(1 / 3)
    assert rates["assistant_right_user_wrong"] == 1
    assert rates["assistant_never_committed"] == 1


def test_choices_column_round_trips():
    assert stats.parse_choices(stats.format_choices(["A", None, "C"])) == ["A", None, "C"]
    assert stats.parse_choices(float("nan")) == []


# --- accuracy -------------------------------------------------------------------------------


@pytest.fixture
def accuracy_results(tmp_path: Path) -> Results:
    return store_results(tmp_path, [
        make_record("q1", replicate=0, final_choice="A"),
        make_record("q1", replicate=1, final_choice="B"),
        make_record("q2", replicate=0, final_choice="A"),
        make_record("q2", replicate=1, failed=True),
        make_record("q3", replicate=0, final_choice="B"),
        make_record("q3", replicate=1, final_choice=None),
        make_record("q4", replicate=0, final_choice=None),
    ])


def test_accuracy_is_the_mean_of_per_question_means_with_its_normal_ci(accuracy_results):
    row = stats.accuracy(accuracy_results.conversations, "variant").iloc[0]
    # answered only: q1 1/2, q2 1/1 (the failed replicate never scored), q3 0/1, q4 none
    answered = [0.5, 1.0, 0.0]
    mean, se = statistics.mean(answered), statistics.stdev(answered) / math.sqrt(3)
    assert row["answered_questions"] == 3
    assert row["answered_mean"] == pytest.approx(mean)
    assert row["answered_se"] == pytest.approx(se)
    assert row["answered_lo"] == pytest.approx(mean - 1.96 * se)
    assert row["answered_hi"] == pytest.approx(mean + 1.96 * se)
    # no answer = wrong: q3 0/2, q4 0/1
    everything = [0.5, 1.0, 0.0, 0.0]
    se_all = statistics.stdev(everything) / math.sqrt(4)
    assert row["all_questions"] == 4
    assert row["all_mean"] == pytest.approx(0.375)
    assert row["all_hi"] == pytest.approx(0.375 + 1.96 * se_all)
    assert (row["conversations"], row["failed"], row["answered"]) == (7, 1, 4)


def test_accuracy_groups_by_subject_and_variant(tmp_path):
    results = store_results(tmp_path, [
        make_record("q1", "a", subject="math"), make_record("q2", "a", subject="moral",
                                                             final_choice="B"),
        make_record("q1", "b", subject="math", final_choice="C"),
    ])
    table = stats.accuracy(results.conversations, ["variant", "subject"])
    assert list(zip(table["variant"], table["subject"], table["answered_mean"],
                    strict=True)) == [("a", "math", 1.0), ("a", "moral", 0.0),
                                      ("b", "math", 0.0)]
    assert math.isnan(table["answered_se"].iloc[0])  # one question: no spread


def test_bootstrap_is_deterministic_for_a_seed():
    values = np.array([0.03, 0.11, 0.29, 0.41, 0.58, 0.66, 0.83, 0.97])
    first = stats.bootstrap_ci(values, n_boot=2000, seed=7)
    assert first == stats.bootstrap_ci(values, n_boot=2000, seed=7)
    assert first != stats.bootstrap_ci(values, n_boot=2000, seed=8)
    assert values.min() <= first[0] < values.mean() < first[1] <= values.max()
    assert all(math.isnan(v) for v in stats.bootstrap_ci([], seed=7))


def test_bootstrap_columns_in_accuracy_are_reproducible(accuracy_results):
    one = stats.accuracy(accuracy_results.conversations, n_boot=500, seed=3)
    two = stats.accuracy(accuracy_results.conversations, n_boot=500, seed=3)
    assert one[["answered_boot_lo", "answered_boot_hi"]].equals(
        two[["answered_boot_lo", "answered_boot_hi"]])


# --- paired comparison ----------------------------------------------------------------------


def test_paired_comparison_on_a_known_difference():
    # per question (two replicates each): a = 0, .5, 0, 1, .5 ; b = .5, 1, 1, 1, .5
    pattern = {"q1": ((0, 0), (1, 0)), "q2": ((1, 0), (1, 1)), "q3": ((0, 0), (1, 1)),
               "q4": ((1, 1), (1, 1)), "q5": ((1, 0), (0, 1))}
    rows = [(variant, q, bool(c)) for q, (a, b) in pattern.items()
            for variant, cs in (("a", a), ("b", b)) for c in cs]
    result = stats.paired_comparison(frame(rows), "a", "b")
    a = np.array([0, 0.5, 0, 1, 0.5])
    b = np.array([0.5, 1, 1, 1, 0.5])
    diff = b - a
    assert result.n_questions == 5
    assert result.mean_diff == pytest.approx(0.4)
    assert result.t_pvalue == pytest.approx(sps.ttest_rel(b, a).pvalue)
    assert result.cohens_dz == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert result.wilcoxon_pvalue == pytest.approx(sps.wilcoxon(diff).pvalue)
    half = sps.t.ppf(0.975, 4) * diff.std(ddof=1) / math.sqrt(5)
    assert (result.ci_lo, result.ci_hi) == pytest.approx((0.4 - half, 0.4 + half))


def test_paired_comparison_uses_shared_questions_and_skips_wilcoxon_without_differences():
    rows = [("a", "q1", True), ("b", "q1", True), ("a", "q2", False), ("b", "q2", False),
            ("a", "q3", True)]
    result = stats.paired_comparison(frame(rows), "a", "b")
    assert result.n_questions == 2 and result.mean_diff == 0
    assert math.isnan(result.wilcoxon_pvalue) and math.isnan(result.t_pvalue)
    assert stats.paired_comparisons(frame(rows))["b"].tolist() == ["b"]


# --- AI-alone agreement ---------------------------------------------------------------------


def test_pearson_and_mae_on_known_arrays():
    x, y = [0.0, 0.5, 1.0, 0.25], [0.1, 0.4, 1.0, 0.5]
    out = stats.pearson_mae(x, y)
    assert out["r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert out["p"] == pytest.approx(sps.pearsonr(x, y).pvalue)
    assert out["mae"] == pytest.approx((0.1 + 0.1 + 0 + 0.25) / 4)
    assert out["n"] == 4
    assert math.isnan(stats.pearson_mae([1, 1, 1], [0, 0.5, 1])["r"])


def baselines_frame() -> pd.DataFrame:
    rows = [("letter_few_shot", q, ok, True) for q, ok in
            (("q1", True), ("q2", False), ("q3", True))]
    rows += [("free_text", "q1", True, True), ("free_text", "q1", False, False),
             ("free_text", "q2", False, False)]
    return pd.DataFrame({"run_id": "base", "kind": [r[0] for r in rows],
                         "question_id": [r[1] for r in rows], "subject": "math",
                         "model": "fake:echo", "choice": "A",
                         "correct": [r[2] for r in rows], "valid": [r[3] for r in rows]})


def test_agreement_between_ai_alone_and_user_ai_per_question():
    conversations = frame([("v", "q1", True), ("v", "q2", True), ("v", "q2", False),
                           ("v", "q3", None), ("v", "q4", True)]).assign(
        model_assistant="fake:echo")
    table = stats.agreement(conversations, baselines_frame()).set_index("kind")
    few = table.loc["letter_few_shot"]  # shared answered questions: q1, q2
    assert few["n"] == 2 and few["mae"] == pytest.approx((0 + 0.5) / 2)
    assert bool(few["same_model"])
    free = table.loc["free_text"]  # q1: 1/2 (invalid counts wrong), q2: 0
    assert free["ai_alone"] == pytest.approx(0.25) and free["user_ai"] == pytest.approx(0.75)
    assert free["r"] == pytest.approx(1.0)
    per_q = stats.baseline_question_means(baselines_frame()).set_index(["kind", "question_id"])
    assert per_q.loc[("free_text", "q1"), "accuracy_valid"] == 1.0
    assert stats.agreement(conversations, baselines_frame().iloc[:0]).empty


# --- rubric scores, latency -----------------------------------------------------------------


def test_rubric_mean_counts_none_and_garbage_judgements_as_missing(tmp_path):
    results = store_results(tmp_path, [
        make_record("q1", scores={"coherence": 4, "satisfaction": 5}),
        make_record("q2", scores={"coherence": 2}),
        make_record("q3", scores={"coherence": None}),  # the judge wrote garbage
        make_record("q4"),  # no judgement at all
        make_record("q5", failed=True),  # never judged, never counted
    ])
    table = stats.rubric_scores(results.conversations).set_index("rubric")
    coherence = table.loc["coherence"]
    assert (coherence["conversations"], coherence["scored"], coherence["missing"]) == (4, 2, 2)
    half = 1.96 * statistics.stdev([4, 2]) / math.sqrt(2)
    assert coherence["mean"] == 3
    assert (coherence["lo"], coherence["hi"]) == pytest.approx((3 - half, 3 + half))
    assert table.loc["satisfaction", "missing"] == 3
    assert "user_satisfaction" not in table.index


def _timing(node: str, seconds: float, tokens: tuple[int | None, int | None] = (None, None)
            ) -> dict[str, Any]:
    return {"node": node, "seconds": seconds, "input_tokens": tokens[0],
            "output_tokens": tokens[1]}


def test_latency_tokens_and_turns_to_accept(tmp_path):
    results = store_results(tmp_path, [
        make_record("q1", choices=["A"], seconds=2.0, timings=[
            _timing("user", 1.0, (10, 5)), _timing("assistant", 3.0, (20, 40)),
            _timing("user_cot", 2.0, (7, 3)), _timing("judge", 0.5)]),
        make_record("q2", choices=["A", "B"], seconds=4.0, forced=True, timings=[
            _timing("user", 3.0, (30, 5)), _timing("force_answer", 1.0, (4, 1))]),
    ])
    nodes = stats.node_latency(results.timings).set_index("node")
    assert nodes.loc["user", "calls"] == 2 and nodes.loc["user", "seconds_mean"] == 2.0
    assert nodes.loc["user", "input_tokens_mean"] == 20
    assert math.isnan(nodes.loc["judge", "input_tokens_mean"])
    conv = results.conversations.set_index("question_id")
    assert conv.loc["q1", "user_input_tokens"] == 17 and conv.loc["q2", "user_input_tokens"] == 34
    assert math.isnan(conv.loc["q1", "judge_input_tokens"])
    latency = stats.conversation_latency(results.conversations, None).iloc[0]
    assert latency["seconds_mean"] == 3.0 and latency["seconds_median"] == 3.0
    assert latency["seconds_p90"] == pytest.approx(3.8)
    assert latency["accepted"] == 1 and latency["turns_to_accept_mean"] == 2
    usage = stats.token_usage(results.conversations, None).iloc[0]
    assert usage["assistant_output_tokens"] == 40  # q2's assistant reported no count


# --- loading --------------------------------------------------------------------------------


def test_missing_store_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such result store"):
        load_results(tmp_path / "nope.sqlite")


def test_empty_store_gives_empty_frames_that_stats_accept(tmp_path):
    results = store_results(tmp_path, [])
    assert results.conversations.empty and results.baselines.empty
    assert "factor_user_cot" not in results.conversations
    assert stats.accuracy(results.conversations).empty
    assert stats.rubric_scores(results.conversations).empty
    assert stats.node_latency(results.timings).empty
    assert stats.paired_comparisons(results.conversations).empty


def test_conversation_frame_columns(tmp_path):
    results = store_results(tmp_path, [make_record(scratchpad=["think"])])
    row = results.conversations.iloc[0]
    assert row["factor_user_cot"] and row["model_assistant"] == "fake:echo"
    assert row["models"] == "user=fake:user, assistant=fake:echo, judge=rules"
    assert row["correct"] and row["answered"] and not row["failed"]
    assert math.isnan(row["coherence"])
    turn = results.turns.iloc[0]
    assert turn["role"] == "user" and turn["scratchpad"] == "think"


def test_each_call_records_its_role_and_old_records_fall_back_to_the_node_map():
    from chatbench import GraphSpec, load_questions, run_conversations
    from chatbench.scoring.usage import role_of

    spec = GraphSpec(rubrics=("coherence",), ask_user_satisfaction=True, user_cot=True)
    (record,) = run_conversations(load_questions(limit=1), spec, user="fake:user",
                                  assistant="fake:echo", judge='fake:say:{"score": 4}')
    roles = {t["node"]: t["role"] for t in record.timings}
    assert roles["user"] == roles["user_cot"] == roles["user_feedback"] == "user"
    assert roles["assistant"] == "assistant" and roles["judge:coherence"] == "judge"
    # a record stored before calls recorded their role
    assert role_of({"node": "judge:coherence", "seconds": 1.0}) == "judge"
    assert role_of({"node": "user_feedback", "seconds": 1.0}) == "user"
    assert role_of({"node": "my_step", "seconds": 1.0}) == "my_step"


def test_pass_hat_k_is_tau_benchs_and_the_report_shows_it_with_replicates():
    import math

    import pytest

    from chatbench.reporting.results import conversations_frame
    from chatbench.reporting.tables import reliability_table
    from chatbench.scoring.reliability import pass_hat_k, reliability

    assert pass_hat_k(4, 4, 4) == 1.0 and pass_hat_k(4, 0, 1) == 0.0
    assert pass_hat_k(5, 3, 2) == pytest.approx(math.comb(3, 2) / math.comb(5, 2))
    with pytest.raises(ValueError, match="1 <= k <= trials"):
        pass_hat_k(2, 1, 3)
    # q1: right 3 of 3; q2: right 1 of 3 (one no answer); a failed try is left out of q2
    records = [make_record("q1", replicate=r) for r in range(3)] + [
        make_record("q2", replicate=0),
        make_record("q2", replicate=1, final_choice="B", choices=["B"]),
        make_record("q2", replicate=2, final_choice=None, forced=True),
        make_record("q2", replicate=3, failed=True)]
    frame = reliability(conversations_frame(records), by=None)
    assert frame["k"].tolist() == [1, 2, 3]
    assert frame["mean"].tolist() == pytest.approx([(1 + 1 / 3) / 2, (1 + 0) / 2, (1 + 0) / 2])
    table = reliability_table(conversations_frame(records))
    assert table["pass^k"].tolist() == ["66.7%", "50.0%", "50.0%"]
    once = [make_record("q1"), make_record("q2")]
    assert reliability_table(conversations_frame(once)).empty  # pass^k needs replicates
