"""Throughput of chatbench's local engines against a sequential loop and a ceiling.

Four ways to do the same kind of work with the embedded SmolLM2-135M (both roles, greedy
decoding, the same questions and token limits):

(a) ``sequential``: the paper's scripts, one conversation at a time and one ``model.generate``
    per turn at batch size 1, written directly with transformers. It follows chatbench's
    two-step control flow (role-flipped simulator view, early end once the user commits to an
    option, the ``"Answer:"``-prefilled forced answer), so at temperature 0 it and (b) write
    the same transcripts and do the same work;
(b) ``torch``: ``run_conversations(..., concurrency=C)`` on the torch engine
    (``CHATBENCH_ENGINE=torch``): the continuous batcher runs the concurrent conversations'
    calls in shared forward passes and prefills only what its prefix cache lacks
    (``--engine generate``: the older path, micro-batched left-padded ``generate``);
(d) ``llama.cpp``: the same ``run_conversations`` on llama.cpp (``CHATBENCH_ENGINE=llamacpp``,
    the shipped Q4_1 weights requantised to Q8_0, ``chatbench.models.gguf``): llama.cpp's
    continuously batched server loop, in process. Its arithmetic differs from (b)'s fp32, so
    its transcripts (and the number of turns) can differ: compare tokens/s as well as
    conversations/min;
(c) ``ceiling``: raw ``model.generate`` (torch) over C left-padded chat prompts, every row
    running to the token limit (``min_new_tokens == max_new_tokens``): the best batched torch
    generation can do. It runs ``--ceiling-runs`` times (default 2) and the fastest run counts.

(b) and (d) run at each concurrency of ``--levels`` (default 1, 8 and 32), on
``max(C, --min-questions)`` questions; (a) runs on the questions of the lowest level. Torch
work runs on threads of their own that end with it (the engine's worker is stopped after each
run), and llama.cpp runs last, after every torch pool is gone, so no method runs beside
another's OpenMP pool (see ``IDLE_EXIT_S`` in ``chatbench/models/engine.py``).

Run it with ``python benchmarks/throughput.py``. It prints the CPU (model, flags, AMX or not),
load averages before and after, the table, then ``speedup: X.XX`` ((b) at the highest level
over (a), in conversations per minute) and, last, ``c1_speedup: X.XX``: the default
configuration's conversations per minute at concurrency 1 (the engine ``smollm2`` resolves
to when ``CHATBENCH_ENGINE`` is unset) over the torch engine's, from the same run. Timings
vary a lot when other processes share the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from rich.console import Console
from rich.table import Table

from chatbench import prompts
from chatbench.config import GraphSpec, RoleSettings
from chatbench.data.questions import Question, load_questions
from chatbench.datatypes import Completion
from chatbench.models.base import DTYPE_ENV
from chatbench.models.cpu import cpu_description
from chatbench.models.engine import EngineStats
from chatbench.models.gguf import ENGINE_ENV, load_smollm2, smollm2_engine
from chatbench.models.hf import LocalCausalLM, Row, in_own_thread
from chatbench.models.prefix_cache import PrefixCache
from chatbench.models.registry import load_local_lm
from chatbench.records import ConversationRecord
from chatbench.runner.batch import run_conversations
from chatbench.scoring.choice import extract_choice
from chatbench.simulators.prompted import FORCED_MAX_TOKENS, FORCED_PREFIX
from chatbench.state import END_TOKEN

MODEL = "smollm2"
Chat = list[dict[str, str]]
"""Chat messages as the tokenizer's chat template takes them."""


@dataclass
class Result:
    """What one method did and how long it took."""

    method: str
    conversations: int
    seconds: float
    tokens: int
    calls: int
    prompt_positions: int = 0
    """Prompt positions run through the model, left padding included."""
    decode_slots: int = 0
    """Row-steps of decoding, useful or not (finished rows still run in a batch)."""

    @property
    def per_minute(self) -> float:
        """Conversations per minute."""
        return 60 * self.conversations / self.seconds

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second."""
        return self.tokens / self.seconds


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # More questions than concurrent conversations, as in a real run: finished conversations
    # make room for new ones instead of leaving the batch to a few long ones.
    parser.add_argument(
        "--levels", default="1,8,32", help="concurrencies C at which (b) and (d) run"
    )
    parser.add_argument(
        "--min-questions", type=int, default=5, help="questions at each level: max(C, this)"
    )
    parser.add_argument(
        "--skip", default="", help="methods to leave out, comma-separated: sequential,ceiling"
    )
    parser.add_argument(
        "--engine",
        choices=("continuous", "generate"),
        default="continuous",
        help="how (b) batches: the continuous batcher, or micro-batched generate calls",
    )
    # The defaults are the turn and token limits of the `quick` preset (the default run).
    parser.add_argument("--max-turns", type=int, default=3, help="user turns before forcing")
    parser.add_argument("--user-tokens", type=int, default=48, help="max tokens per user turn")
    parser.add_argument("--assistant-tokens", type=int, default=96, help="max tokens per reply")
    parser.add_argument(
        "--ceiling-runs", type=int, default=2, help="runs of (c); the fastest is the ceiling"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="weights of the one model all three methods use",
    )
    return parser.parse_args(argv)


def make_spec(args: argparse.Namespace) -> GraphSpec:
    """The variant both methods run: two-step simulator, greedy decoding, fixed limits."""
    return GraphSpec(
        name="throughput",
        simulator="two_step",
        max_turns=args.max_turns,
        user=RoleSettings(temperature=0.0, max_tokens=args.user_tokens),
        assistant=RoleSettings(temperature=0.0, max_tokens=args.assistant_tokens),
    )


# --- (a) the sequential reference loop, transformers only ---------------------------------


@dataclass(frozen=True)
class Call:
    """One model call of the reference loop."""

    text: str
    prompt_tokens: int
    tokens: int
    """Generated tokens, trailing end-of-sequence excluded (as chatbench counts them)."""
    steps: int
    """Decoding steps run, the end-of-sequence step included."""


def generate_one(lm: LocalCausalLM, chat: Chat, max_tokens: int, prefill: str = "") -> Call:
    """One greedy ``model.generate`` at batch size 1."""
    tok = lm.tokenizer
    prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + prefill
    batch = tok([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = lm.model.generate(
            **batch,
            max_new_tokens=max_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
            temperature=None,
            top_k=None,
            top_p=None,
        )
    prompt_len = batch["input_ids"].shape[1]
    ids = output[0, prompt_len:].tolist()
    steps = len(ids)
    while ids and ids[-1] in (tok.eos_token_id, tok.pad_token_id):
        ids.pop()
    text = tok.decode(ids, skip_special_tokens=True).strip()
    return Call(text, prompt_len, len(ids), steps)


def user_view(question: Question, transcript: Chat, mode: str) -> Chat:
    """The simulated user's prompt, as chatbench's ``simulator_view`` builds it (no persona):
    the two-step system prompt, the role-flipped transcript, the step instruction last."""
    system = prompts.TWO_STEP_SYSTEM_PROMPT.format(persona="", question=question.format())
    instruction = {
        "first": prompts.TWO_STEP_FIRST_PROMPT,
        "next": prompts.TWO_STEP_NEXT_PROMPT,
        "forced": prompts.FORCED_ANSWER_PROMPT,
    }[mode]
    flipped = {"user": "assistant", "assistant": "user"}
    view = [{"role": "system", "content": system}]
    view += [{"role": flipped[m["role"]], "content": m["content"]} for m in transcript]
    if view[-1]["role"] == "user":
        view[-1] = {"role": "user", "content": f"{view[-1]['content']}\n\n{instruction}"}
    else:
        view.append({"role": "user", "content": instruction})
    return view


@dataclass
class Tally:
    """Model calls and user turns of one reference conversation."""

    calls: list[Call] = field(default_factory=list)
    turns: int = 0

    def add(self, call: Call) -> str:
        """Count one model call; returns its text."""
        self.calls.append(call)
        return call.text


def user_turn(
    lm: LocalCausalLM,
    question: Question,
    transcript: Chat,
    mode: str,
    spec: GraphSpec,
    tally: Tally,
) -> str:
    """One user turn; an empty turn is asked again once, as chatbench's user node does."""
    limit = spec.user.max_tokens or 128
    for _ in range(2):
        text = tally.add(generate_one(lm, user_view(question, transcript, mode), limit))
        text = text.replace(END_TOKEN, "").strip()
        if text:
            break
    tally.turns += 1
    return text


def reference_conversation(lm: LocalCausalLM, question: Question, spec: GraphSpec) -> Tally:
    """One conversation with chatbench's two-step flow, one ``generate`` per model call."""
    tally = Tally()
    transcript: Chat = []
    for turn in range(spec.max_turns):
        text = user_turn(lm, question, transcript, "first" if turn == 0 else "next", spec, tally)
        if not text or extract_choice(text, question.choices) is not None:
            return tally  # an unusable turn (chatbench: error) or the user committed
        transcript.append({"role": "user", "content": text})
        system = [{"role": "system", "content": spec.assistant_system_prompt or ""}]
        reply = tally.add(generate_one(lm, system + transcript, spec.assistant.max_tokens or 512))
        transcript.append({"role": "assistant", "content": reply})
    limit = min(spec.user.max_tokens or FORCED_MAX_TOKENS, FORCED_MAX_TOKENS)
    tally.add(generate_one(lm, user_view(question, transcript, "forced"), limit, FORCED_PREFIX))
    tally.turns += 1
    return tally


def run_sequential(
    lm: LocalCausalLM, questions: Sequence[Question], spec: GraphSpec
) -> tuple[Result, list[int]]:
    """(a): every conversation in turn; also returns each one's user turns."""
    started = time.perf_counter()
    tallies = [reference_conversation(lm, q, spec) for q in questions]
    seconds = time.perf_counter() - started
    calls = [c for t in tallies for c in t.calls]
    result = Result(
        "(a) sequential bs=1",
        len(questions),
        seconds,
        sum(c.tokens for c in calls),
        len(calls),
        sum(c.prompt_tokens for c in calls),
        sum(c.steps for c in calls),
    )
    return result, [t.turns for t in tallies]


# --- (b) chatbench, with the micro-batcher's batches logged ---------------------------------


@dataclass
class BatchLog:
    """Every batched ``generate_rows`` call of one run: rows, padding, time, waste."""

    started: float = field(default_factory=time.perf_counter)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def wrap(self, lm: LocalCausalLM) -> Callable[[], None]:
        """Log ``lm.generate_rows`` (the batcher looks it up per call); returns the undo."""
        original = lm.generate_rows

        def logged(rows: Sequence[Row], stop: Sequence[str] = ()) -> list[Completion]:
            began = time.perf_counter()
            completions = original(rows, stop)
            self.entries.append(
                {
                    "start": began - self.started,
                    "seconds": time.perf_counter() - began,
                    "limits": [r.max_tokens for r in rows],
                    "prompt_tokens": [c.input_tokens or 0 for c in completions],
                    "output_tokens": [c.output_tokens or 0 for c in completions],
                }
            )
            return completions

        lm.generate_rows = logged  # type: ignore[method-assign]
        return lambda: setattr(lm, "generate_rows", original)

    def prompt_positions(self) -> int:
        """Prompt positions prefilled, left padding included (rows x longest prompt)."""
        return sum(len(e["prompt_tokens"]) * max(e["prompt_tokens"]) for e in self.entries)

    def decode_slots(self) -> int:
        """Row-steps decoded: every row runs until the batch's last row ends."""
        return sum(
            len(e["limits"]) * min(max(e["limits"]), max(e["output_tokens"]) + 1)
            for e in self.entries
        )


def run_batched(
    lm: LocalCausalLM,
    questions: Sequence[Question],
    spec: GraphSpec,
    concurrency: int,
    engine: str,
) -> tuple[Result, list[ConversationRecord], list[str]]:
    """(b): ``run_conversations`` with ``concurrency`` conversations at once, no store; also
    returns lines on how the engine batched."""
    continuous = lm.engine
    if engine == "continuous" and continuous is None:
        raise SystemExit(f"{MODEL}: the continuous engine does not support this model")
    if continuous is not None:
        continuous.stats = EngineStats()
        continuous.prefix_cache.clear()  # nothing cached by the warm-up
    lm.batcher.batch_sizes.clear()
    log = BatchLog()
    undo = log.wrap(lm)
    if engine == "generate":
        lm.engine = None
    try:
        started = time.perf_counter()
        records = run_conversations(
            questions, spec, user=MODEL, assistant=MODEL, concurrency=concurrency
        )
        seconds = time.perf_counter() - started
    finally:
        undo()
        lm.engine = continuous
    calls = [t for r in records for t in r.timings if t["output_tokens"] is not None]
    if engine == "continuous":
        assert continuous is not None
        stats = continuous.stats
        positions = stats.prompt_tokens - stats.reused_tokens
        slots = stats.requests + stats.row_steps  # each prefill picks a first token
        lines = engine_summary(stats, continuous.prefix_cache)
    else:
        positions, slots = log.prompt_positions(), log.decode_slots()
        lines = batch_summary(log, seconds, list(lm.batcher.batch_sizes))
    result = Result(
        f"(b) torch C={concurrency} {engine}",
        len(records),
        seconds,
        sum(t["output_tokens"] or 0 for t in calls),
        len(calls),
        positions,
        slots,
    )
    return result, records, lines


# --- (c) the ceiling: raw batched generate, every row to the limit --------------------------


def ceiling_prompts(lm: LocalCausalLM, questions: Sequence[Question], size: int) -> list[str]:
    """``size`` real first-turn simulator prompts (questions reused if there are fewer)."""
    tok = lm.tokenizer
    return [
        tok.apply_chat_template(
            user_view(questions[i % len(questions)], [], "first"),
            tokenize=False,
            add_generation_prompt=True,
        )
        for i in range(size)
    ]


def run_ceiling(lm: LocalCausalLM, texts: list[str], limits: Sequence[int]) -> Result:
    """(c): one left-padded batch per token limit, no early stop; generated tokens/s."""
    tok = lm.tokenizer
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    seconds, tokens = 0.0, 0
    for limit in limits:
        started = time.perf_counter()
        with torch.inference_mode():
            output = lm.model.generate(
                **batch,
                max_new_tokens=limit,
                min_new_tokens=limit,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                temperature=None,
                top_k=None,
                top_p=None,
            )
        seconds += time.perf_counter() - started
        tokens += output[:, batch["input_ids"].shape[1] :].numel()
    positions = batch["input_ids"].numel() * len(limits)
    return Result(
        f"(c) ceiling bs={len(texts)}", 0, seconds, tokens, len(limits), positions, tokens
    )


def warm_up(lm: LocalCausalLM, question: Question) -> None:
    """One short generate each way (direct and through the batcher) before any timing."""
    generate_one(lm, user_view(question, [], "first"), 8)
    lm.generate_rows([Row(ceiling_prompts(lm, [question], 1)[0], 8, 0.0)])


# --- report ---------------------------------------------------------------------------------


def results_table(results: Sequence[Result]) -> Table:
    """The per-method table."""
    table = Table(title=f"{MODEL}: conversations and generated tokens per second")
    columns = (
        "method",
        "conversations",
        "wall s",
        "conv/min",
        "gen tokens",
        "tokens/s",
        "model calls",
        "prompt pos/token",
        "decode slots/token",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in results:
        per_min = f"{r.per_minute:.2f}" if r.conversations else "-"
        table.add_row(
            r.method,
            str(r.conversations or "-"),
            f"{r.seconds:.1f}",
            per_min,
            str(r.tokens),
            f"{r.tokens_per_s:.1f}",
            str(r.calls),
            f"{r.prompt_positions / r.tokens:.1f}",
            f"{r.decode_slots / r.tokens:.2f}",
        )
    return table


def batch_summary(log: BatchLog, wall: float, sizes: list[int]) -> list[str]:
    """What the micro-batcher achieved: batch sizes, busy time, padding, wasted row-steps."""
    entries = log.entries
    if not entries:
        return ["no batches logged"]
    busy = sum(e["seconds"] for e in entries)
    slots, cells = log.decode_slots(), log.prompt_positions()
    useful = sum(sum(e["output_tokens"]) for e in entries)
    mixed = sum(len(set(e["limits"])) > 1 for e in entries)
    return [
        f"batch sizes (lm.batcher.batch_sizes): {sizes}",
        f"  histogram {dict(sorted(Counter(sizes).items()))}, mean {statistics.mean(sizes):.2f}",
        f"generate busy {busy:.1f}s of {wall:.1f}s wall ({100 * busy / wall:.0f}%),"
        f" {len(entries)} generate calls",
        f"decode slots used {useful}/{slots} ({100 * useful / max(slots, 1):.0f}%; the rest are"
        f" rows already finished or past their limit), {mixed} batches mix token limits",
        f"prompt padding {100 * (1 - sum(sum(e['prompt_tokens']) for e in entries) / cells):.0f}%"
        f" of prompt positions",
    ]


def engine_summary(stats: EngineStats, cache: PrefixCache) -> list[str]:
    """What the continuous batcher achieved: rows per step, prefill saved by the cache."""
    sizes = stats.batch_sizes or [0]
    run = stats.prompt_tokens - stats.reused_tokens
    return [
        f"forward passes {stats.forwards}, {stats.decode_steps} of them decoding; rows per"
        f" decoding step: mean {statistics.mean(sizes):.2f}, max {max(sizes)};"
        f" requests {stats.requests}",
        f"prompt tokens {stats.prompt_tokens}: {stats.reused_tokens}"
        f" ({100 * stats.reused_tokens / max(stats.prompt_tokens, 1):.0f}%) from the prefix"
        f" cache, {run} prefilled",
        f"prefix cache at the end: {len(cache)} entries, {cache.bytes / 2**20:.0f} MiB",
    ]


def load_line() -> str:
    """Load average and torch threads, to judge the variance of a run."""
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = "  <- other processes compete for the CPU: timings unreliable" if one > cpus / 2 else ""
    return (
        f"load average {one:.2f} (5 min {five:.2f}) on {cpus} CPUs,"
        f" torch threads {torch.get_num_threads()}{busy}"
    )


def quiet_engine(lm: LocalCausalLM) -> None:
    """End the engine's worker thread, and with it its OpenMP pool: torch work on another
    thread would otherwise run beside two pools, which on 2 CPUs makes libgomp sleep between
    parallel regions (``IDLE_EXIT_S`` in ``engine.py``). Each method thus runs alone."""
    if lm.engine is not None:
        lm.engine.stop()


@contextlib.contextmanager
def engine_env(name: str) -> Iterator[None]:
    """``smollm2`` resolves to engine ``name`` inside the block."""
    previous = os.environ.get(ENGINE_ENV)
    os.environ[ENGINE_ENV] = name
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENGINE_ENV, None)
        else:
            os.environ[ENGINE_ENV] = previous


# --- (d) llama.cpp ------------------------------------------------------------------------


def run_llamacpp(
    questions: Sequence[Question], spec: GraphSpec, concurrency: int
) -> tuple[Result, list[ConversationRecord]]:
    """(d): ``run_conversations`` with ``smollm2`` on llama.cpp (loaded and warmed up before)."""
    with engine_env("llamacpp"):
        started = time.perf_counter()
        records = run_conversations(
            questions, spec, user=MODEL, assistant=MODEL, concurrency=concurrency
        )
        seconds = time.perf_counter() - started
    calls = [t for r in records for t in r.timings if t["output_tokens"] is not None]
    prompt = sum(t["input_tokens"] or 0 for t in calls)
    result = Result(
        f"(d) llama.cpp C={concurrency}",
        len(records),
        seconds,
        sum(t["output_tokens"] or 0 for t in calls),
        len(calls),
        prompt,  # llama.cpp does not report what its slots reused: every prompt token
        sum(t["output_tokens"] or 0 for t in calls),
    )
    return result, records


def turns_line(
    label: str, records: Sequence[ConversationRecord], questions: Sequence[Question]
) -> str:
    """User turns per conversation, in question order, and how they ended."""
    by_question = {r.question_id: r for r in records}
    turns = [by_question[q.id].turns if q.id in by_question else -1 for q in questions]
    reasons = dict(Counter(r.stop_reason.value for r in records))
    errors = [r.error for r in records if r.error]
    return f"{label}: user turns {turns}, stop reasons {reasons}" + (
        f", errors {errors}" if errors else ""
    )


def levels(args: argparse.Namespace) -> list[int]:
    """The concurrencies to run, ascending."""
    return sorted({int(c) for c in args.levels.split(",") if c.strip()})


def main(argv: Sequence[str] | None = None) -> None:
    """Run (a), (b) and (c) on torch, then (d) on llama.cpp; print the table, the
    diagnostics and the final lines."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    skip = {m.strip() for m in args.skip.split(",") if m.strip()}
    console = Console(width=120)
    spec = make_spec(args)
    ladder = levels(args)
    sets = {c: load_questions(limit=max(c, args.min_questions)) for c in ladder}
    print(f"cpu: {cpu_description()}")
    default_engine = smollm2_engine()  # before this script sets the engine
    # Loaded, and (a) and (c) run, on threads of their own that end with them, as the
    # engine's worker is: no thread keeps an OpenMP pool the next method would run beside.
    os.environ[DTYPE_ENV] = args.dtype  # for every torch method: (b) finds this same model
    with engine_env("torch"):
        lm = cast(LocalCausalLM, load_local_lm(MODEL))
    first = sets[ladder[0]]
    in_own_thread(warm_up)(lm, first[0])
    quiet_engine(lm)
    notes = [f"model {MODEL}, torch {args.dtype}; before: {load_line()}"]
    results: list[Result] = []
    sequential = None
    if "sequential" not in skip:
        sequential, reference_turns = in_own_thread(run_sequential)(lm, first, spec)
        results.append(sequential)
        notes.append(f"(a) user turns {reference_turns}")
    torch_runs: dict[int, Result] = {}
    for c in ladder:
        with engine_env("torch"):
            batched, records, batching = run_batched(lm, sets[c], spec, c, args.engine)
        quiet_engine(lm)
        torch_runs[c] = batched
        results.append(batched)
        notes += [turns_line(f"(b) C={c}", records, sets[c]), *("  " + b for b in batching)]
    if "ceiling" not in skip and args.ceiling_runs > 0:
        texts = ceiling_prompts(lm, first, ladder[-1])
        limits = sorted({args.user_tokens, args.assistant_tokens})
        # The ceiling's best of several runs: its timing varies from run to run (74-93
        # tokens/s seen in float32), and a low ceiling would flatter (b).
        ceilings = [
            in_own_thread(run_ceiling)(lm, texts, limits) for _ in range(args.ceiling_runs)
        ]
        ceiling = max(ceilings, key=lambda r: r.tokens_per_s)
        results.append(ceiling)
        padded = ceiling.prompt_positions // (len(texts) * ceiling.calls)
        notes.append(
            f"(c) ceiling runs, tokens/s: {[round(r.tokens_per_s, 1) for r in ceilings]};"
            f" {ceiling.calls} batches of {len(texts)} first-turn prompts x {padded} tokens"
        )
    # llama.cpp last: every torch pool is gone by now (the engine's worker has stopped).
    llama_runs: dict[int, Result] = {}
    with engine_env("llamacpp"):
        gguf_lm = load_smollm2()
        gguf_lm.complete([ceiling_prompts(lm, first, 1)[0]], max_tokens=8, temperature=0, stop=[])
    notes.append(
        f"(d) {gguf_lm.path.name}: {gguf_lm.router.shards} loop(s) x {gguf_lm.threads}"
        f" thread(s), {gguf_lm.settings.slots} slots of {gguf_lm.context_window} tokens;"
        f" before: {load_line()}"
    )
    for c in ladder:
        run, records = run_llamacpp(sets[c], spec, c)
        llama_runs[c] = run
        results.append(run)
        notes.append(turns_line(f"(d) C={c}", records, sets[c]))
    notes.append(f"after: {load_line()}")
    console.print(results_table(results))
    for line in notes:
        print(line)
    for c in ladder:
        t, g = torch_runs[c], llama_runs[c]
        print(
            f"C={c}: llama.cpp/torch {g.per_minute / t.per_minute:.2f}x conversations/min,"
            f" {g.tokens_per_s / t.tokens_per_s:.2f}x tokens/s"
        )
    if sequential is not None:
        print(f"speedup: {torch_runs[ladder[-1]].per_minute / sequential.per_minute:.2f}")
    default = (llama_runs if default_engine == "llamacpp" else torch_runs)[ladder[0]]
    print(f"default engine: {default_engine}")
    print(f"c1_speedup: {default.per_minute / torch_runs[ladder[0]].per_minute:.2f}")


if __name__ == "__main__":
    main()
