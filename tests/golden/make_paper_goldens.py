"""Write the paper-code goldens: what the ChatBench paper's own code does on scripted scenarios.

The paper's code (GitHub ``serinachang5/interactive-eval``) is *not* copied into this
repository: this script takes the path of a checkout, imports its modules and records what they
send and return. ``tests/test_paper_goldens.py`` replays the records against chatbench.

How the goldens were made:

- paper commit: ``a90f773cd35781a6d77b3dd57339d03cc01b3275`` (HEAD of ``main``, "Update
  README.md"), checked out with ``git archive HEAD | tar -x -C /tmp/interactive-eval``;
- the paper's modules ran under CPython 3.12.1 (``generate_conversations.py`` uses an f-string
  with nested double quotes, a SyntaxError before 3.12); the HALIE conversations were loaded by
  chatbench under CPython 3.11.7 (the project's venv) and handed to the paper's code as JSON;
- the paper's Python needs numpy and pandas (``get_conversations_from_checkpoints`` uses both):
  a venv ``python3.12 -m venv /tmp/paper312 && /tmp/paper312/bin/pip install numpy pandas``
  (numpy 2.5.5, pandas 3.1.1 made these files);
- stubbed via ``sys.modules`` fakes (imported by the paper's modules, unused by the functions
  called here): ``azure.identity``, ``openai``, ``datasets``, ``evaluate``,
  ``matplotlib``/``matplotlib.pyplot``. ``evaluate.load`` returns a recording metric (it
  keeps the ``predictions``/``references`` each ``compute`` gets; scoring them is
  ``chatbench.training.bleu``'s and rouge-score's job, tested apart). ``query_model``
  (removed from the released ``constants_and_utils.py``) is set to a scripted function that
  returns the scenario's replies in order and records every ``messages`` list and ``kwargs``
  it was called with. A question row is a dict; ``question_df`` an object whose
  ``.loc[question_id]`` is that dict;
- functions called: ``generate_conversations.generate_simulated_conversation`` (which calls
  ``two_step_simulator``, ``iqa_eval_simulator``, ``get_next_system_response``),
  ``generate_conversations.get_bleu_and_rouge_for_all_questions`` (in a scratch folder laid
  out as the paper's paths expect), ``analyze_results.convert_conversation_to_simulator_data``
  and ``analyze_results.get_conversations_from_checkpoints`` (its printed chat lengths);
- command (from the repository root)::

      .venv/bin/python tests/golden/make_paper_goldens.py /tmp/interactive-eval \\
          --paper-python /tmp/paper312/bin/python

Outputs (``tests/golden/paper_code/``):

- ``conversations.json``: one record per scenario: the scripted replies, every prompt each side
  was sent (``sim_calls``/``assistant_calls``: messages and kwargs), the conversation the
  paper's code returned, its answer and verdict (``correct``/``wrong``/``no_answer``, as
  ``qa_reasoning.py`` scores it: an answer not an option letter is wrong), or the exception it
  raised. ``expected_difference`` names where chatbench differs on purpose;
- ``first_prompts.json``: the simulated conversations the paper's simulators made of scripted
  first replies (quotes, ``YOU:``, blank, an IQA-EVAL answer at once) and the real chats
  (two user messages in a row, an assistant greeting first, a blank first message), keyed by
  question id, ``-test-`` and ``-redux-`` ids; then, per simulator, the question ids
  ``get_bleu_and_rouge_for_all_questions`` scored and the predictions and references it gave
  the metrics;
- ``chat_edge_cases.json``: ``convert_conversation_to_simulator_data`` on chats with
  consecutive or leading messages, and on a ChatBench record whose ``questionText`` differs
  from the question table's (the table wins): the examples, or the exception it raised;
- ``chat_lengths.json``: ``get_conversations_from_checkpoints`` on chats of known lengths:
  what it printed per subject (chat length mean and SE, ``.2f``);
- ``halie_simulator_data.jsonl.gz``: ``convert_conversation_to_simulator_data`` on every bundled
  HALIE conversation of the train split (``load_halie("train")``, what ``chatbench train
  --export`` writes), one example per line, ``json.dumps(..., ensure_ascii=False)``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "paper_code"
PAPER_COMMIT = "a90f773cd35781a6d77b3dd57339d03cc01b3275"

QUESTIONS = {
    "math": {"questionID": "math-1", "question": "What is 7 x 8?", "option_A": "54",
             "option_B": "56", "option_C": "58", "option_D": "64", "answer": "B"},
    "physics": {"questionID": "phys-1",
                "question": "Which quantity is conserved in an elastic collision?\nPick one.",
                "option_A": "Only momentum", "option_B": "Only kinetic energy",
                "option_C": "Both momentum and kinetic energy", "option_D": "Neither",
                "answer": "C"},
}

# Differences chatbench keeps on purpose (README, "The paper's protocol" table).
EMPTY_MARKER = "empty_answer_marker"
"""The paper's code raises IndexError on an answer marker with nothing after it; chatbench
stores an invalid answer '' (scored wrong) after sending the same prompts."""
FORCED_NO_ANSWER = "forced_no_answer"
"""A forced turn that is no answer: the paper sends it to the assistant for one more reply and
returns no answer; chatbench ends there (same prompts up to that reply, same answer: none)."""


def _s(sid, simulator, sim, asst, *, max_turns=3, question="math", note=""):
    return {"id": sid, "simulator": simulator, "max_turns": max_turns, "question": question,
            "sim_replies": list(sim), "assistant_replies": list(asst), "note": note}


def scenarios() -> list[dict]:
    """The scripted scenarios (id, simulator, max_turns, question, scripted replies)."""
    out = []
    ts = "two_step"
    # --- answer-marker variants (two-step) ---
    markers = [
        ("answer_B", "Answer: B"), ("answer_C_wrong", "Answer: C"),
        ("leading_space", " Answer: B"), ("quoted", '"Answer: B"'),
        ("you_prefix", "YOU: Answer: B"), ("quoted_you_prefix", '  "YOU: Answer: B" '),
        ("you_prefix_quoted", 'YOU: "Answer: B"'), ("lowercase_letter", "Answer: b"),
        ("number", "Answer: 12"), ("double_space", "Answer:  B"), ("period", "Answer: B."),
        ("letter_and_text", "Answer: B. 56"), ("lowercase_marker", "answer: B"),
        ("marker_mid_reply", "I think so. Answer: B"), ("trailing_newline", "Answer: D\n"),
        ("option_text", "Answer: 56"),
    ]
    not_answers = {"you_prefix_quoted", "lowercase_marker", "marker_mid_reply"}
    for name, reply in markers:
        more = name in not_answers  # the paper sends it on to the AI
        out.append(_s(f"two_step_{name}", ts,
                      ["what is 7*8?", reply, *(["Answer: B"] if more else [])],
                      ["It is 56.", *(["Yes."] if more else [])]))
    out.append(_s("two_step_marker_nothing_after", ts, ["hi", "Answer:", "Answer: B"],
                  ["Hello.", "Answer to what?"], note="'Answer:' is no answer in the paper"))
    out.append(_s("two_step_marker_trailing_space", ts, ["hi", "Answer: ", "Answer: A"],
                  ["Hello.", "?"], note="stripped to 'Answer:', so no answer"))
    out.append(_s("two_step_marker_empty_quote", ts, ["hi", 'Answer: "'], ["Hello."],
                  note=EMPTY_MARKER))
    out.append(_s("two_step_marker_quoted_empty", ts, ["hi", '"Answer: "'], ["Hello."],
                  note=EMPTY_MARKER))
    out.append(_s("two_step_first_turn_answer", ts, ["Answer: B", "Answer: B"], ["Okay?"],
                  note="turn 1 always goes to the AI"))
    # --- forced answers and max turns ---
    out.append(_s("two_step_forced_correct", ts, ["hi", "Answer: B"], ["Hello."], max_turns=1))
    out.append(_s("two_step_forced_wrong_after_3", ts,
                  ["q1", "q2", "q3", "Answer: D"], ["a1", "a2", "a3"], max_turns=3))
    out.append(_s("two_step_forced_invalid", ts, ["q1", "q2", "Answer: 12"], ["a1", "a2"],
                  max_turns=2))
    out.append(_s("two_step_forced_no_answer", ts, ["hi", "I would say B"],
                  ["Hello.", "Okay."], max_turns=1, note=FORCED_NO_ANSWER))
    out.append(_s("two_step_max_turns_10", ts,
                  [f"question {i}" for i in range(10)] + ["Answer: B"],
                  [f"reply {i}" for i in range(10)], max_turns=10))
    out.append(_s("two_step_forced_quoted", ts, ["hi", '"Answer: C"'], ["Hello."], max_turns=1))
    # --- whitespace around assistant replies ---
    out.append(_s("two_step_assistant_spaces", ts, ["hi", "and?", "Answer: B"],
                  ["  It is 56.  ", " Yes. "]))
    out.append(_s("two_step_assistant_newlines", ts, ["hi", "and?", "Answer: B"],
                  ["\n\nIt is 56.\n", "Yes.\n\n"]))
    out.append(_s("two_step_assistant_mixed_ws", ts, ["hi", "and?", "Answer: B"],
                  ["\t It is\n\n56. \n", "\r\nYes.\t"]))
    out.append(_s("two_step_assistant_inner_text", ts, ["hi", "Answer: B"],
                  ["SYSTEM: 56\n\nYOU: thanks\n" + "=" * 24]))
    # --- user turns ---
    out.append(_s("two_step_user_whitespace", ts, ["  what is 7*8?\n", "\n why? ", "Answer: B"],
                  ["56", "Because."]))
    out.append(_s("two_step_user_quotes", ts, ['"what is 7*8?"', 'YOU: "why?"', "Answer: B"],
                  ["56", "Because."]))
    out.append(_s("two_step_user_end_token", ts, ["what is 7*8? [END]", "why?[END]", "Answer: B"],
                  ["56", "Because."]))
    out.append(_s("two_step_user_end_only", ts, ["hi", "[END]", "Answer: B"], ["Hello.", "?"]))
    out.append(_s("two_step_user_answer_end", ts, ["hi", "Answer: B [END]"], ["Hello."]))
    out.append(_s("two_step_user_empty_later", ts, ["hi", "", "Answer: B"], ["Hello.", "?"]))
    out.append(_s("two_step_user_blank_later", ts, ["hi", "   \n", "Answer: B"], ["Hello.", "?"]))
    out.append(_s("two_step_user_empty_quotes", ts, ["hi", '""', "Answer: B"], ["Hello.", "?"]))
    out.append(_s("two_step_user_empty_first", ts, ["", "Answer: B"], ["How can I help?"]))
    out.append(_s("two_step_unicode", ts, ["what's 7×8 — quickly?", "Answer: B"], ["56 ✓"],
                  question="math"))
    out.append(_s("two_step_physics", ts, ["elastic collision?", "Answer: C"],
                  ["Both are conserved."], question="physics"))
    # --- problem variant ---
    tp = "two_step_problem"
    out.append(_s("problem_basic", tp, ["What is 7 x 8?", "Answer: B"], ["56"]))
    out.append(_s("problem_lowercase", tp, ["7x8?", "Answer: b"], ["56"]))
    out.append(_s("problem_forced", tp, ["7x8?", "hmm", "Answer: A"], ["56", "yes"], max_turns=2))
    out.append(_s("problem_assistant_ws", tp, ["7x8?", "Answer: B"], ["  56\n"]))
    out.append(_s("problem_end_and_empty", tp, ["7x8? [END]", "", "Answer: B"], ["56", "?"]))
    out.append(_s("problem_empty_marker", tp, ["7x8?", '"Answer: "'], ["56"], note=EMPTY_MARKER))
    out.append(_s("problem_physics", tp, ["Which is conserved?", '"Answer: C"'], ["Both."],
                  question="physics"))
    # --- help variant (turn 1 is fixed: no simulator call) ---
    th = "two_step_help"
    out.append(_s("help_basic", th, ["Answer: B"], ["Sure, what is the problem?"]))
    out.append(_s("help_conversation", th, ["It's 7 x 8.", "Answer: B"], ["Sure.", "56"]))
    out.append(_s("help_forced", th, ["Answer: 12"], ["Sure."], max_turns=1))
    out.append(_s("help_forced_no_answer", th, ["no idea"], ["Sure.", "Ok."], max_turns=1,
                  note=FORCED_NO_ANSWER))
    out.append(_s("help_you_prefix", th, ["YOU: Answer: D"], ["Sure."]))
    out.append(_s("help_assistant_ws", th, ["what is 7x8", "Answer: B"], ["\n Sure! \n", "56 "]))
    out.append(_s("help_user_end_empty", th, ["[END]", " ", "Answer: B"], ["Sure.", "?", "?"]))
    out.append(_s("help_empty_marker", th, ['Answer: "'], ["Sure."], note=EMPTY_MARKER))
    # --- IQA-EVAL ---
    iq = "iqa_eval"
    out.append(_s("iqa_first_turn_answer", iq, ["So, the answer is: B"], []))
    out.append(_s("iqa_answer_anywhere", iq, ["What is 7*8? Options: 54, 56, 58, 64",
                                              "Thanks. So, the answer is: C."], ["56"]))
    out.append(_s("iqa_two_markers", iq, ["So, the answer is: A. Wait, So, the answer is: B"],
                  []))
    out.append(_s("iqa_lowercase_letter", iq, ["sub-question?", "So, the answer is: c"], ["56"]))
    out.append(_s("iqa_number", iq, ["So, the answer is: 56"], []))
    out.append(_s("iqa_double_space", iq, ["So, the answer is:  B"], []))
    out.append(_s("iqa_quoted", iq, ['"So, the answer is: B"'], []))
    out.append(_s("iqa_you_prefix", iq, ["YOU: So, the answer is: B"], []))
    out.append(_s("iqa_lowercase_marker", iq, ["so, the answer is: B", "So, the answer is: B"],
                  ["Okay."]))
    out.append(_s("iqa_marker_no_space", iq, ["So, the answer is:", "So, the answer is: B"],
                  ["?"], note="stripped: the marker needs its trailing space"))
    out.append(_s("iqa_two_step_marker", iq, ["Answer: B", "So, the answer is: B"], ["?"]))
    out.append(_s("iqa_empty_marker", iq, ["x", 'So, the answer is: "'], ["y"],
                  note=EMPTY_MARKER))
    out.append(_s("iqa_forced", iq, ["q1", "q2", "So, the answer is: B"], ["a1", "a2"],
                  max_turns=2))
    out.append(_s("iqa_forced_no_answer", iq, ["q1", "B I guess"], ["a1", "a2"], max_turns=1,
                  note=FORCED_NO_ANSWER))
    out.append(_s("iqa_max_turns_10", iq, [f"sub {i}?" for i in range(10)] +
                  ["So, the answer is: B"], [f"ans {i}" for i in range(10)], max_turns=10))
    out.append(_s("iqa_assistant_ws", iq, ["q1", "q2", "So, the answer is: B"],
                  ["  56\n\n", "\nyes "]))
    out.append(_s("iqa_user_ws_quotes", iq, ['  "is it 56?" ', "So, the answer is: B"],
                  ["yes"]))
    out.append(_s("iqa_user_end", iq, ["is it 56? [END]", "[END]", "So, the answer is: B"],
                  ["yes", "?"]))
    out.append(_s("iqa_user_empty", iq, ["", '""', "So, the answer is: B"], ["?", "?"]))
    out.append(_s("iqa_physics", iq, ["Is energy conserved?", "So, the answer is: C"],
                  ["In elastic collisions, yes."], question="physics"))
    return out


def _chat(*messages):
    """``chatHistory`` from ``("You" | "Bot", text)`` pairs."""
    return [{"role": role, "content": text} for role, text in messages]


MATH_ROW = {"questionText": QUESTIONS["math"]["question"], "choices": ["54", "56", "58", "64"],
            "choiceLabels": ["A", "B", "C", "D"], "correctAnswer": "B", "model": "gpt-4o",
            "condition": "direct-to-AI"}
FIRST_PROMPT_QUESTIONS = {
    "elementary_mathematics-redux-901": "math",
    "conceptual_physics-redux-902": "physics",
    "high_school_mathematics-test-903": "math",  # a -test- id: the paper leaves it out
}
"""Question ids of the first-prompt golden (not in the bundled table) and their rows."""
FIRST_REPLIES = {
    "two_step": ['"Can you help me with this one?"', "YOU: what is 7x8", "", "   ",
                 "how do i do this", '  "YOU: hi there"  '],
    "iqa_eval": ["What is 7 times 8?", "So, the answer is: B", '"Is it 56?"', "",
                 "YOU: what is 7x8"],
}
"""Each simulator's scripted first replies, one conversation each, for every question."""
REAL_CHATS = [
    _chat(("You", "what is 7*8"), ("Bot", "56")),
    _chat(("You", "hi"), ("You", "what is 7x8?"), ("Bot", "56")),  # two in a row
    _chat(("Bot", "Hello! How can I help?"), ("You", "7x8?"), ("Bot", "56")),  # greeting
    _chat(("You", ""), ("Bot", "Yes?"), ("You", "7 times 8"), ("Bot", "56")),  # blank first
    _chat(("You", "  Can you help?  "), ("Bot", "Sure."), ("Bot", "What is it?")),
]
"""Real chats of every first-prompt question (the paper reads ``chatHistory`` only)."""


def first_prompt_inputs() -> dict:
    """The real side of the first-prompt golden: ``conversations.json`` keyed by id."""
    return {qid: [{"questionID": qid, **MATH_ROW, "worker_id": f"w{i}", "chatHistory": chat,
                   "selectedAnswer": "B"} for i, chat in enumerate(REAL_CHATS)]
            for qid in FIRST_PROMPT_QUESTIONS}


EXPORT_CHATS = {
    "you_you_bot": _chat(("You", "hi"), ("You", "what is 7x8?"), ("Bot", "56"),
                         ("You", "sure?"), ("Bot", "Yes.")),
    "bot_bot": _chat(("You", "hi"), ("Bot", "Hello."), ("Bot", "Ask away."), ("You", "7x8?"),
                     ("Bot", "56")),
    "bot_first": _chat(("Bot", "Hello!"), ("You", "7x8?"), ("Bot", "56")),
    "ends_with_you": _chat(("You", "7x8?"), ("Bot", "56"), ("You", "thanks")),
    "blank_first": _chat(("You", ""), ("Bot", "Yes?"), ("You", "7x8"), ("Bot", "56")),
    "you_you_at_end": _chat(("You", "7x8?"), ("Bot", "56"), ("You", "ok"), ("You", "bye")),
}
"""Chats for ``convert_conversation_to_simulator_data`` (question: ``golden-redux-1``)."""
LENGTH_CHATS = {
    "elementary_mathematics-redux-911": [
        _chat(("You", "a"), ("Bot", "b")),
        _chat(("You", "a"), ("You", "a2"), ("Bot", "b"), ("You", "c"), ("Bot", "d")),
        _chat(("Bot", "hello"), ("You", "a"), ("Bot", "b"))],
    "conceptual_physics-redux-912": [
        _chat(("You", "a"), ("Bot", "b"), ("Bot", "b2")),
        _chat(),
        _chat(*[(r, str(i)) for i in range(4) for r in ("You", "Bot")])],
}
"""Chats of known lengths per question, for ``get_conversations_from_checkpoints``."""


# --------------------------------------------------------------------------------------------
# Worker: runs under Python >= 3.12 with the paper's modules; no chatbench here.
# --------------------------------------------------------------------------------------------

class _Stub(types.ModuleType):
    """A module whose every attribute is a harmless callable placeholder."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"stub {self.__name__} called: the paper's code needs it here")


STUBBED = ("azure", "azure.identity", "openai", "datasets", "evaluate", "matplotlib",
           "matplotlib.pyplot")


class _Loc:
    def __init__(self, rows):
        self.loc = rows


def _import_paper(checkout: Path):
    for name in STUBBED:
        sys.modules[name] = _Stub(name)
    sys.path.insert(0, str(checkout))
    import constants_and_utils  # noqa: PLC0415

    def unset(*args, **kwargs):
        raise RuntimeError("query_model not scripted")

    constants_and_utils.query_model = unset  # removed from the released code
    import analyze_results  # noqa: PLC0415
    import generate_conversations  # noqa: PLC0415
    return generate_conversations, analyze_results


def _verdict(answer, correct):
    if answer is None:
        return "no_answer"
    return "correct" if answer == correct else "wrong"


def _run_scenario(gc, scenario):
    sim = list(scenario["sim_replies"])
    asst = list(scenario["assistant_replies"])
    sim_calls, asst_calls = [], []

    def query_model(model, messages, kwargs=None):
        calls, replies = (sim_calls, sim) if model == "SIM" else (asst_calls, asst)
        calls.append({"messages": copy.deepcopy(messages), "kwargs": dict(kwargs or {})})
        if not replies:
            raise RuntimeError(f"scenario {scenario['id']}: no scripted reply left for {model}")
        return replies.pop(0)

    gc.query_model = query_model
    row = QUESTIONS[scenario["question"]]
    record = dict(scenario)
    try:
        conversation, answer = gc.generate_simulated_conversation(
            scenario["simulator"], "SIM", "SYS", row, max_turns=scenario["max_turns"])
    except Exception as exc:  # the paper's code crashes: record which way
        record.update(exception=type(exc).__name__, conversation=None, answer=None,
                      verdict=None)
    else:
        record.update(exception=None, conversation=conversation, answer=answer,
                      verdict=_verdict(answer, row["answer"]))
    if sim or asst:
        raise RuntimeError(f"scenario {scenario['id']}: unused scripted replies {sim} {asst}")
    record.update(sim_calls=sim_calls, assistant_calls=asst_calls)
    if scenario["note"] in (EMPTY_MARKER, FORCED_NO_ANSWER):
        record["expected_difference"] = scenario["note"]
    return record


class _RecordingMetric:
    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def compute(self, predictions, references):
        self.calls.append({"predictions": list(predictions), "references": list(references)})
        return {"bleu": 0.0} if self.name == "bleu" else {"rouge1": 0.0}


def _first_prompt_golden(gc, real: dict) -> dict:
    """Simulated conversations from scripted first replies, then the paper's pairing."""
    sim_results = {}
    for qid, question in FIRST_PROMPT_QUESTIONS.items():
        sim_results[qid] = {}
        for method, replies in FIRST_REPLIES.items():
            done = "Answer: B" if method == "two_step" else "So, the answer is: B"
            convs = []
            for reply in replies:
                scripted = {"SIM": [reply, done], "SYS": ["It is 56."]}

                def query_model(model, messages, kwargs=None, scripted=scripted):
                    return scripted[model].pop(0)

                gc.query_model = query_model
                conversation, answer = gc.generate_simulated_conversation(
                    method, "SIM", "SYS", QUESTIONS[question], max_turns=3)
                convs.append({"conversation": conversation, "answer": answer})
            sim_results[qid][method] = convs
    scored = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        (work / "MMLU_results" / "fine_tuning").mkdir(parents=True)
        (work / "MMLU_results" / "fine_tuning" / "test_SIM_SYS.json").write_text(
            json.dumps(sim_results), encoding="utf-8")
        human = Path(tmp) / "ai-user-sim-exp-orig" / "prolific_results" / "full_20250207"
        human.mkdir(parents=True)
        (human / "conversations.json").write_text(json.dumps(real), encoding="utf-8")
        cwd = os.getcwd()
        os.chdir(work)
        try:
            for method in FIRST_REPLIES:
                bleu_calls, rouge_calls = [], []
                metrics = {"bleu": _RecordingMetric("bleu", bleu_calls),
                           "rouge": _RecordingMetric("rouge", rouge_calls)}
                gc.evaluate = types.SimpleNamespace(load=metrics.__getitem__)
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    gc.get_bleu_and_rouge_for_all_questions("SIM", "SYS", "test",
                                                            sim_method=method)
                qids = [k for k in sim_results if "-redux-" in k]  # the order it scored them
                if bleu_calls != rouge_calls or len(bleu_calls) != len(qids):
                    raise RuntimeError("BLEU and ROUGE were not given the same pairs")
                pairs = dict(zip(qids, bleu_calls, strict=True))
                scored[method] = {"questions": qids, "pairs": pairs}
        finally:
            os.chdir(cwd)
    return {"questions": FIRST_PROMPT_QUESTIONS, "first_replies": FIRST_REPLIES,
            "sim_results": sim_results, "conversations": real, "scored": scored}


def _export_golden(ar, table_question: dict) -> dict:
    """``convert_conversation_to_simulator_data`` on edge-case chats."""
    row = {**QUESTIONS["math"], "questionID": "golden-redux-1"}
    cases = {}
    for name, chat in EXPORT_CHATS.items():
        record = {"questionID": "golden-redux-1", **MATH_ROW, "chatHistory": chat,
                  "selectedAnswer": "B"}
        try:
            examples = ar.convert_conversation_to_simulator_data(
                record, _Loc({"golden-redux-1": row}))
        except Exception as exc:  # the paper's code refuses: record which way
            cases[name] = {"record": record, "exception": type(exc).__name__,
                           "message": str(exc), "examples": None}
        else:
            cases[name] = {"record": record, "exception": None, "examples": examples}
    # The question text comes from the question table, not from the record's questionText.
    qid = table_question["questionID"]
    record = {"questionID": qid, **MATH_ROW, "questionText": "edited $x$ text",
              "choices": [table_question[f"option_{x}"] for x in "ABCD"],
              "correctAnswer": table_question["answer"], "selectedAnswer": "A",
              "chatHistory": _chat(("You", "help?"), ("Bot", "Sure."))}
    cases["question_table"] = {
        "record": record, "exception": None,
        "examples": ar.convert_conversation_to_simulator_data(
            record, _Loc({qid: table_question}))}
    return cases


def _length_golden(ar) -> dict:
    """What ``get_conversations_from_checkpoints`` prints about chats of known lengths."""
    import pandas as pd  # noqa: PLC0415  # the paper's Python has it

    rows = [{"event": "p1_userAIAnswer_chat", "questionID": qid, "correctAnswer": "B",
             "selectedAnswer": "B" if i % 2 else "A", "chatHistory": chat}
            for qid, chats in LENGTH_CHATS.items() for i, chat in enumerate(chats)]
    rows.append({"event": "p1_userAnswer_answer", "questionID": "x-redux-1",
                 "correctAnswer": "B", "selectedAnswer": "B", "chatHistory": []})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ar.get_conversations_from_checkpoints(pd.DataFrame(rows))
    return {"chats": LENGTH_CHATS, "printed": out.getvalue().splitlines()}


def worker(checkout: Path, halie_in: Path) -> None:
    gc, ar = _import_paper(checkout)
    records = [_run_scenario(gc, s) for s in scenarios()]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    inputs = json.loads(halie_in.read_text(encoding="utf-8"))
    extra = {"first_prompts.json": _first_prompt_golden(gc, inputs["first_prompts"]),
             "chat_edge_cases.json": _export_golden(ar, inputs["table_question"]),
             "chat_lengths.json": _length_golden(ar)}
    for name, content in extra.items():
        doc = {"paper_repository": "serinachang5/interactive-eval",
               "paper_commit": PAPER_COMMIT, "python": sys.version.split()[0], **content}
        (OUT_DIR / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n",
                                    encoding="utf-8")
    doc = {"paper_repository": "serinachang5/interactive-eval", "paper_commit": PAPER_COMMIT,
           "python": sys.version.split()[0], "questions": QUESTIONS, "scenarios": records}
    (OUT_DIR / "conversations.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    halie = inputs["halie"]
    lines = []
    for item in halie:
        question_df = _Loc({item["row"]["questionID"]: item["question"]})
        for example in ar.convert_conversation_to_simulator_data(item["row"], question_df):
            lines.append(json.dumps(example, ensure_ascii=False) + "\n")
    # gzip with no timestamp: the same lines give the same bytes (4 MB of text, ~0.3 MB here)
    with gzip.GzipFile(OUT_DIR / "halie_simulator_data.jsonl.gz", "wb", mtime=0) as f:
        f.write("".join(lines).encode("utf-8"))
    print(f"{len(records)} scenarios, {len(halie)} HALIE conversations, {len(lines)} examples, "
          f"{', '.join(extra)}")


# --------------------------------------------------------------------------------------------
# Driver: runs in chatbench's venv, loads HALIE, hands it to the worker as JSON.
# --------------------------------------------------------------------------------------------

def halie_inputs() -> list[dict]:
    """The bundled HALIE train conversations as the paper's code reads a ChatBench row."""
    from chatbench.data.human_data import load_halie  # noqa: PLC0415

    items = []
    for conv in load_halie("train"):
        q = conv.question
        options = zip(q.letters, q.choices, strict=True)
        question = {"question": q.stem, "answer": q.answer,
                    **{f"option_{letter}": text for letter, text in options}}
        history = [{"role": "You" if m.type == "human" else "Bot", "content": m.content}
                   for m in conv.messages()]
        items.append({"row": {"questionID": q.id, "chatHistory": history,
                              "selectedAnswer": conv.final_choice},
                      "question": question})
    return items


def table_question() -> dict:
    """A bundled MMLU-Redux question as the paper's question table row (``question_df``)."""
    from chatbench.data.question_loaders import load_bundled  # noqa: PLC0415

    q = load_bundled(["elementary_mathematics"], include_flagged=True)[0]
    return {"questionID": q.id, "question": q.stem, "answer": q.answer,
            **{f"option_{letter}": text for letter, text in zip(q.letters, q.choices,
                                                                strict=True)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=Path, help="a checkout of serinachang5/interactive-eval")
    parser.add_argument("--paper-python", default=sys.executable,
                        help="a Python >= 3.12 to run the paper's modules with")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.checkout.resolve(), args.worker)
        return
    with tempfile.TemporaryDirectory() as tmp:
        halie_in = Path(tmp) / "halie.json"
        halie_in.write_text(json.dumps({"halie": halie_inputs(),
                                        "first_prompts": first_prompt_inputs(),
                                        "table_question": table_question()},
                                       ensure_ascii=False), encoding="utf-8")
        subprocess.run([args.paper_python, __file__, str(args.checkout), "--worker",
                        str(halie_in)], check=True)


if __name__ == "__main__":
    main()
