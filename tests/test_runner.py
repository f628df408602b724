"""Batches, storage and the registry on fake models."""

from __future__ import annotations

import sqlite3

import pytest

from chatbench import (
    ConfigError,
    GraphSpec,
    ResultStore,
    StopReason,
    get_chat_model,
    load_questions,
    run_conversations,
)
from chatbench.errors import MissingDependencyError
from chatbench.models.registry import known_providers
from chatbench.scoring.metrics import summarize_by


def test_batch_stores_every_conversation_and_skips_stored_ones(tmp_store):
    questions = load_questions(limit=4)
    with ResultStore(tmp_store) as store:
        first = run_conversations(
            questions,
            GraphSpec(),
            user="fake:say:Answer: D",
            assistant="fake:echo",
            store=store,
            replicates=2,
        )
        ran_again = []
        again = run_conversations(
            questions,
            GraphSpec(),
            user="fake:say:Answer: D",
            assistant="fake:echo",
            store=store,
            replicates=2,
            on_record=ran_again.append,
        )
        stored = list(store.records())
    # a rerun runs nothing and returns the stored records, in plan order
    assert len(first) == 8 and ran_again == []
    assert [r.id for r in again] == [r.id for r in first]
    assert [(r.question_id, r.replicate) for r in first] == [
        (q.id, i) for q in questions for i in range(2)]
    assert len(stored) == 8 and len({r.id for r in stored}) == 8
    record = stored[0]
    assert record.stop_reason is StopReason.ACCEPTED and record.final_choice == "D"
    assert record.transcript[0].content == "Answer: D"
    assert record.spec["simulator"] == "two_step"
    assert record.models == {
        "user": "fake:say:Answer: D",
        "assistant": "fake:echo",
        "judge": "rules",
    }
    assert record.verdict == ("correct" if record.correct_answer == "D" else "wrong")


def test_store_is_plain_sqlite_with_one_row_per_conversation(tmp_store):
    with ResultStore(tmp_store) as store:
        run_conversations(
            load_questions(limit=2),
            GraphSpec(),
            user="fake:say:Answer: A",
            assistant="fake:echo",
            store=store,
        )
    rows = (
        sqlite3.connect(tmp_store)
        .execute("SELECT question_id, verdict, stop_reason, turns FROM conversations")
        .fetchall()
    )
    # The paper's rule: turn 1 always goes to the AI, so "Answer: A" ends the conversation at
    # turn 2.
    assert len(rows) == 2 and all(row[2] == "accepted" and row[3] == 2 for row in rows)


def test_same_seed_gives_same_conversation_seeds():
    questions = load_questions(limit=2)
    a = run_conversations(
        questions, GraphSpec(), user="fake:say:Answer: A", assistant="fake:echo", seed=7
    )
    b = run_conversations(
        questions, GraphSpec(), user="fake:say:Answer: A", assistant="fake:echo", seed=7
    )
    c = run_conversations(
        questions, GraphSpec(), user="fake:say:Answer: A", assistant="fake:echo", seed=8
    )
    assert [r.seed for r in a] == [r.seed for r in b] != [r.seed for r in c]


def test_summary_separates_errors_and_no_answers(tmp_store):
    questions = load_questions(limit=3)
    records = run_conversations(
        questions, GraphSpec(max_turns=1), user="fake:say:hmm", assistant="fake:echo"
    )
    summary = summarize_by(records)[-1]
    assert summary.conversations == 3 and summary.answered == 0
    assert summary.accuracy is None and summary.accuracy_all == 0.0
    assert all(r.stop_reason is StopReason.FORCED and r.turns == 2 for r in records)


def test_registry_fake_and_unknown_providers():
    assert get_chat_model("fake:say:hi").invoke("x").content == "hi"
    assert get_chat_model("fake:echo").invoke("ping").content == "ping"
    with pytest.raises(ConfigError, match="unknown model 'nope:x'.*openai"):
        get_chat_model("nope:x")
    with pytest.raises(ConfigError, match="unknown fake model"):
        get_chat_model("fake:bogus")
    assert {"hf", "fake", "smollm2", "openai", "anthropic"} <= set(known_providers())


def test_langchain_provider_without_its_package_says_what_to_install():
    try:
        import langchain_mistralai  # noqa: F401
    except ImportError:
        with pytest.raises((MissingDependencyError, ConfigError), match="mistral"):
            get_chat_model("mistralai:mistral-small")
    else:  # pragma: no cover
        pytest.skip("langchain-mistralai is installed")


def test_causal_lm_simulator_rejects_api_models():
    with pytest.raises(ConfigError, match="needs a local model"):
        run_conversations(
            load_questions(limit=1),
            GraphSpec(simulator="causal_lm"),
            user="fake:echo",
            assistant="fake:echo",
        )
