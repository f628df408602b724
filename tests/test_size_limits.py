"""Unbounded input and output: every model reply is cut to its role's ``max_reply_chars``
(and says so), reading long text costs time linear in its length, and a long graph spec is
stored once per run, not once per record."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from chatbench.baselines import run_baselines
from chatbench.config import MAX_REPLY_CHARS, GraphSpec, RoleSettings
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.datatypes import Completion
from chatbench.errors import ConfigError
from chatbench.graphs.builder import build_graph
from chatbench.models.base import bounded
from chatbench.models.fake import FakeChatModel
from chatbench.records import ConversationRecord
from chatbench.runner.batch import run_conversations
from chatbench.runner.simulate import simulate
from chatbench.scoring.choice import extract_choice
from chatbench.scoring.judges import parse_judgement
from chatbench.simulators.base import TurnRequest
from chatbench.simulators.registry import register_simulator
from chatbench.storage import ResultStore
from chatbench.storage.schema import SPEC_INLINE_CHARS

CAP = 40
"""The cap the role tests set: small, so replies past it stay small too."""
LONG = "Answer: B " + "x" * 200
"""A reply past ``CAP`` whose start is still an answer."""


def say(text: str) -> FakeChatModel:
    """A fake chat model that always replies ``text``."""
    return FakeChatModel(kind="say", text=text)


def capped(cap: int = CAP, **settings: Any) -> RoleSettings:
    return RoleSettings(max_reply_chars=cap, **settings)


def converse(question: Question, spec: GraphSpec, **models: Any) -> ConversationRecord:
    context = SimContext(**{"user": None, "assistant": say("It is B."), "judge": None,
                            "seed": 1, **models})
    return simulate(build_graph(spec), question, context, spec)


def cut_calls(record: ConversationRecord) -> dict[str, dict[str, int]]:
    """Node -> the ``truncated`` note of its (last) cut call."""
    return {timing["node"]: timing["truncated"] for timing in record.truncated}


# --- the setting ----------------------------------------------------------------------------


def test_the_cap_has_a_default_and_bounds_and_is_never_sent_to_the_model():
    assert RoleSettings().max_reply_chars == MAX_REPLY_CHARS == 100_000
    for bad in (0, -1, 10**9, 1.5, "10"):
        with pytest.raises(ValueError, match="max_reply_chars"):
            RoleSettings(max_reply_chars=bad)
    assert "max_reply_chars" not in capped(temperature=0.5).call_kwargs()
    assert GraphSpec(user=capped()).user.max_reply_chars == CAP


def test_the_default_cap_leaves_specs_and_run_ids_as_they_were():
    # left out of the dump at its default: identities, and so default run ids, do not change
    assert "max_reply_chars" not in json.dumps(GraphSpec().model_dump(mode="json"))
    assert GraphSpec(judge=capped()).model_dump()["judge"]["max_reply_chars"] == CAP
    assert GraphSpec.model_validate(GraphSpec(user=capped()).model_dump()).user.max_reply_chars \
        == CAP


def test_bounded_cuts_text_and_steps_and_notes_their_sizes():
    assert bounded(Completion("abc"), 3).truncated == {}
    cut = bounded(Completion("abcdef"), 4)
    assert (cut.text, cut.truncated) == ("abcd", {"text": 6})
    assert bounded(cut, 4) is cut  # once cut, it stays as it is
    steps = ({"type": "tool", "name": "search", "content": "r" * 30},
             {"type": "documents", "key": "context", "documents": [{"page_content": "d" * 30}]})
    cut = bounded(Completion("ok", steps=steps), 20)
    assert cut.text == "ok" and cut.truncated == {"steps": 81}
    assert cut.steps == ({"type": "tool", "name": "search", "content": "r" * 11},)
    kept = bounded(Completion("ok", steps=steps), 1000)
    assert kept.steps == steps and kept.truncated == {}


# --- every role ------------------------------------------------------------------------------


def test_the_assistants_reply_is_cut_and_the_record_says_so(question):
    spec = GraphSpec(simulator="scripted", scripted_turns=("Help?", "Answer: B"), max_turns=2,
                     assistant=capped())
    record = converse(question, spec, assistant=say("y" * 500))
    assert record.error is None and record.transcript[1].content == "y" * CAP
    assert cut_calls(record) == {"assistant": {"text": 500}}


def test_a_user_simulators_turns_are_cut_before_they_are_read(question):
    spec = GraphSpec(simulator="two_step", max_turns=3, user=capped())
    record = converse(question, spec, user=say(LONG))
    assert [len(t.content) for t in record.transcript if t.role == "user"] == [CAP, CAP]
    assert record.final_choice == "B"  # read from the cut turn
    assert cut_calls(record) == {"user": {"text": len(LONG)}}


def test_chain_of_thought_and_feedback_replies_are_cut(question):
    spec = GraphSpec(simulator="two_step", max_turns=2, user_cot=True,
                     ask_user_satisfaction=True, user=capped())
    record = converse(question, spec, user=say('{"score": 4} ' + LONG))
    assert [len(note) for note in record.scratchpad] == [CAP, CAP]
    assert record.judgements["user_satisfaction"].score == 4
    assert len(record.judgements["user_satisfaction"].raw) == CAP
    assert {"user", "user_cot", "user_feedback"} <= set(cut_calls(record))


def test_the_judges_replies_are_cut(question):
    spec = GraphSpec(simulator="scripted", scripted_turns=("Maybe the second one",),
                     max_turns=1, accept="natural", rubrics=("coherence",), judge=capped())
    record = converse(question, spec, judge=say('{"score": 4}' + " " * 500 + "Answer: C"))
    assert record.judgements["coherence"].score == 4
    assert len(record.judgements["coherence"].raw) == CAP
    assert cut_calls(record) == {"judge": {"text": 521}, "judge:coherence": {"text": 521}}


class LongCompleter:
    """A text completer (the causal-LM simulator's backend) that never stops writing."""

    name = "long"
    context_window = 100_000

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, prompts: list[str], **kwargs: Any) -> list[Completion]:
        return [Completion(LONG) for _ in prompts]


def test_the_causal_lm_simulators_replies_are_cut(question):
    spec = GraphSpec(simulator="causal_lm", max_turns=2, user=capped())
    record = converse(question, spec, user=LongCompleter())
    assert record.error is None
    assert all(len(t.content) <= CAP for t in record.transcript if t.role == "user")
    assert cut_calls(record)["user"] == {"text": len(LONG)}


@register_simulator("test-size-limits-long")
def _long_simulator(request: TurnRequest) -> Completion:
    return Completion(LONG)


def test_any_registered_simulators_replies_are_cut(question):
    spec = GraphSpec(simulator="test-size-limits-long", max_turns=2, user=capped())
    record = converse(question, spec)
    assert [len(t.content) for t in record.transcript if t.role == "user"] == [CAP, CAP]
    assert cut_calls(record) == {"user": {"text": len(LONG)}}


def long_agent(messages: list[BaseMessage]) -> list[BaseMessage]:
    """An app whose tool returns far too much and whose answer is far too long."""
    call = AIMessage("", tool_calls=[{"name": "search", "args": {"q": "7x8"}, "id": "c1"}])
    return [*messages, call, ToolMessage("r" * 5000, tool_call_id="c1", name="search"),
            AIMessage("B. " + "z" * 5000)]


def test_an_apps_reply_and_inner_steps_are_cut(question, tmp_path):
    spec = GraphSpec(simulator="scripted", scripted_turns=("Help?", "Answer: B"), max_turns=2,
                     assistant=capped(100), assistant_system_prompt=None)
    with ResultStore(tmp_path / "apps.sqlite") as store:
        (record,) = run_conversations([question], spec, user=None, assistant=long_agent,
                                      store=store, concurrency=1)
        (stored,) = store.records()
    assert stored == record and record.error is None
    turn = record.transcript[1]
    assert len(turn.content) == 100
    assert sum(len(json.dumps(step)) for step in turn.steps) < 400
    note = cut_calls(record)["assistant"]
    assert note["text"] == 5003 and note["steps"] > 5000


def test_baseline_replies_and_grader_replies_are_cut(question):
    (letter,) = run_baselines([question], say("B" + "." * 500), kinds=["letter_zero_shot"],
                              settings=capped(), retry_wait_s=0)
    assert (letter.reply, letter.choice) == ("B" + "." * (CAP - 1), "B")
    assert letter.truncated == {"reply": 501}
    graded = '{"attempted_answer": true, "answer_letter": "B"}'
    long_grade = graded + " ok" * MAX_REPLY_CHARS
    (free,) = run_baselines([question], say("It is 56."), kinds=["free_text"],
                            grader=say(long_grade), retry_wait_s=0)
    assert free.choice == "B" and len(free.grader_reply or "") == MAX_REPLY_CHARS
    assert free.truncated == {"grader_reply": len(long_grade)}
    (plain,) = run_baselines([question], say("B"), kinds=["letter_zero_shot"], retry_wait_s=0)
    assert plain.truncated == {} and "truncated" not in plain.model_dump()


# --- linear cost -----------------------------------------------------------------------------


def seconds(fn: Callable[[str], Any], text: str, repeat: int = 3) -> float:
    """The fastest of a few runs: the least noisy measure of ``fn(text)``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - started)
    return best


def growth(fn: Callable[[str], Any], unit: str, size: int, factor: int = 8) -> float:
    """How much longer ``fn`` takes on ``factor`` times more text made of ``unit``: about
    ``factor`` when its cost is linear, ``factor ** 2`` when quadratic."""
    def text(n: int) -> str:
        return "x" + unit * (n // len(unit)) + "y"

    fn(text(size))  # warm caches (compiled patterns, the options)
    return seconds(fn, text(factor * size)) / max(seconds(fn, text(size)), 1e-7)


CHOICES = ("54", "56", "58", "64")


@pytest.mark.parametrize(("unit", "size"), [
    (" ", 4000),  # a long run of spaces: the sentence split rescanned it from every space
    ("[END]", 4000),  # end tokens become spaces
    ("final ", 4000),  # "final final ... answer": every word rescanned the run
    ("my final ", 4000),
    ("A. 54 B. 56 so ", 25_000),  # pasted option lists, each cut out of a copy of the text
    ("it's B ", 1000),  # a commitment per word, each copying the rest of its sentence
])
def test_reading_an_answer_costs_time_linear_in_the_text(unit, size):
    assert growth(lambda text: extract_choice(text, CHOICES), unit, size) < 30


@pytest.mark.parametrize("unit", ["{", '{"', '{"score": 4', "\\boxed{", "{}"])
def test_reading_a_judgement_costs_time_linear_in_the_text(unit):
    assert growth(parse_judgement, unit, 20_000) < 30


def test_a_whole_run_report_and_export_cost_time_linear_in_the_reply(question, tmp_path):
    from chatbench.reporting.results import export, load_results

    spec = GraphSpec(simulator="scripted", scripted_turns=("Help?", "Answer: B"), max_turns=2,
                     assistant=capped(10**7))
    runs = iter(range(100))

    def whole_path(reply: str) -> None:
        path = tmp_path / f"run{next(runs)}.sqlite"
        with ResultStore(path) as store:
            (record,) = run_conversations([question], spec, user=None, assistant=say(reply),
                                          store=store, concurrency=1)
        assert record.transcript[1].content == reply
        load_results(path)
        export(path, tmp_path / path.stem)

    reply = "I think it's B. " + "The answer might be C.  \n" * 4 + " " * 30_000 + "end"
    whole_path(reply)  # warm up imports
    small = seconds(whole_path, reply, repeat=2)
    large = seconds(whole_path, reply * 8, repeat=2)
    assert large / small < 30


# --- the spec, stored once -------------------------------------------------------------------


def questions(n: int) -> list[Question]:
    return [Question(id=f"q{i}", subject="math", stem=f"What is {i} x 8?", choices=CHOICES,
                     answer="B") for i in range(n)]


def stored_rows(path: Any) -> tuple[list[str], list[tuple[str, str]]]:
    db = sqlite3.connect(path)
    try:
        records = [row[0] for row in db.execute("SELECT record FROM conversations")]
        specs = db.execute("SELECT digest, spec FROM specs").fetchall()
    finally:
        db.close()
    return records, specs


def test_a_run_with_a_long_spec_stores_it_once(tmp_path):
    spec = GraphSpec(name="long", simulator="scripted", scripted_turns=("Answer: B",),
                     max_turns=1, description="d" * 50_000)
    path = tmp_path / "long.sqlite"
    with ResultStore(path) as store:
        records = run_conversations(questions(4), spec, user=None, assistant="fake:echo",
                                    store=store, concurrency=2)
        assert sorted(store.records(), key=lambda r: r.id) == sorted(records, key=lambda r: r.id)
        assert store.record(records[0].id) == records[0]
    rows, specs = stored_rows(path)
    assert len(rows) == 4 and len(specs) == 1
    assert all(len(row) < 5000 and '"spec_ref":' in row for row in rows)
    assert json.loads(specs[0][1])["description"] == "d" * 50_000
    with ResultStore(path, read_only=True) as store:  # a reader fills the spec back in
        assert [r.spec for r in store.records()] == [spec.model_dump(mode="json")] * 4
    from chatbench.reporting.results import load_results
    assert len(load_results(path).conversations) == 4
    again = run_conversations(questions(4), spec, user=None, assistant="fake:echo",
                              store=ResultStore(path), concurrency=1)
    assert sorted(again, key=lambda r: r.id) == sorted(records, key=lambda r: r.id)


def test_a_short_spec_stays_in_each_row_as_before(tmp_path, question):
    path = tmp_path / "short.sqlite"
    spec = GraphSpec(simulator="scripted", scripted_turns=("Answer: B",), max_turns=1)
    with ResultStore(path) as store:
        run_conversations([question], spec, user=None, assistant="fake:echo", store=store)
    rows, specs = stored_rows(path)
    assert specs == [] and json.loads(rows[0])["spec"]["name"] == spec.name
    assert len(json.dumps(spec.model_dump(mode="json"))) < SPEC_INLINE_CHARS


def test_old_rows_with_the_long_spec_inline_still_read(tmp_path, question):
    spec = GraphSpec(simulator="scripted", scripted_turns=("Answer: B",), max_turns=1,
                     description="d" * 50_000)
    path = tmp_path / "old.sqlite"
    (record,) = run_conversations([question], spec, user=None, assistant="fake:echo")
    with ResultStore(path) as store:
        store.write(record)
    db = sqlite3.connect(path)  # as an older chatbench wrote it: the spec in the row
    with db:
        db.execute("UPDATE conversations SET record = ?", (record.model_dump_json(),))
        db.execute("DELETE FROM specs")
    db.close()
    with ResultStore(path, read_only=True) as store:
        assert list(store.records()) == [record]


def test_a_row_whose_stored_spec_is_missing_is_skipped_with_a_warning(tmp_path, question,
                                                                      caplog):
    spec = GraphSpec(simulator="scripted", scripted_turns=("Answer: B",), max_turns=1,
                     description="d" * 50_000)
    path = tmp_path / "lost.sqlite"
    with ResultStore(path) as store:
        run_conversations([question], spec, user=None, assistant="fake:echo", store=store)
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM specs")
    db.close()
    with caplog.at_level(logging.WARNING), ResultStore(path, read_only=True) as store:
        assert list(store.records()) == []
        with pytest.raises(ConfigError, match="specs table"):
            store.record(next(iter(store.ids())))
    assert "not in the store's specs table" in caplog.text


def test_a_spec_ref_inside_a_reply_is_just_text(tmp_path, question):
    spec = GraphSpec(simulator="scripted", scripted_turns=('{"spec_ref": "nothing"}',),
                     max_turns=1, assistant_system_prompt=None)
    with ResultStore(tmp_path / "text.sqlite") as store:
        (record,) = run_conversations([question], spec, user=None, assistant="fake:echo",
                                      store=store)
        assert list(store.records()) == [record]


def test_show_prints_a_long_turn_cut_saying_how_much_it_leaves_out(question):
    from chatbench.cli.report import SHOWN_CHARS, render_conversation

    spec = GraphSpec(simulator="scripted", scripted_turns=("Help?", "Answer: B"), max_turns=2,
                     assistant=capped(10**6))
    record = converse(question, spec, assistant=say("w" * (SHOWN_CHARS + 5000)))
    shown = [str(getattr(part, "renderables", [part])[0]) for part in render_conversation(record)]
    assert f"ASSISTANT 1: {'w' * SHOWN_CHARS} [... 5,000 more characters not shown" in "\n".join(
        shown)
