"""Throughput of chatbench's local engines against a sequential loop and a ceiling.

Several ways to do the same kind of work with the embedded SmolLM2-135M (both roles, greedy
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
(e) ``llama-server``: the same conversations through chatbench's ``openai:`` roles
    (langchain-openai's ``ChatOpenAI``, its base URL set by ``OPENAI_BASE_URL``) against
    llama.cpp's HTTP server on the same GGUF file, started in this process by ``xllamacpp``
    on a free TCP port of 127.0.0.1: one loop with as many slots, tokens per slot and threads
    in all as (d) (``--server-threads`` to change the threads). What (d) saves over it: HTTP
    and JSON, the OpenAI client, and one loop instead of (d)'s per-CPU loops. The forced
    answer is not prefilled on an API role, so transcripts can differ from (d)'s.
(f) ``openevals``: the peer, at C=8 only, on (e)'s server right after (e) at C=8 and on its
    questions: openevals' ``run_multiturn_simulation`` per question, 8 at once on a thread
    pool (the server has at least 8 slots when level 8 runs), the user
    ``create_llm_simulated_user`` (a system prompt to play a user asking about the question,
    options included) and the app a function calling ``ChatOpenAI`` with chatbench's
    assistant system prompt on its conversation so far; both ``ChatOpenAI`` on the server,
    temperature 0, ``--user-tokens`` and ``--assistant-tokens``, ``--max-turns`` exchanges (no
    early end, no forced answer). Its conversations differ in length from (e)'s, so (e) and
    (f) compare by generated tokens per second, both counted by the server
    (``llamacpp:tokens_predicted_total`` on ``/metrics``, the delta over each run).

(b), (d) and (e) run at each concurrency of ``--levels`` (default 1, 8 and 32), on
``max(C, --min-questions)`` questions; (a) runs on the questions of the lowest level. Torch
work runs on threads of their own that end with it (the engine's worker is stopped after each
run), and llama.cpp runs last, after every torch pool is gone, so no method runs beside
another's OpenMP pool (see ``IDLE_EXIT_S`` in ``chatbench/models/engine.py``). (d) is loaded
with ``min(32, highest level)`` slots (unless ``CHATBENCH_GGUF_SLOTS`` says): every level's
run then finds this same model as the registry's ``smollm2`` (it covers what each asks
for). ``--skip torch`` leaves out (a), (b) and (c) (and torch need not be installed);
``--skip server`` leaves out (e) and (f), ``--skip peer`` (f) alone.

Run it with ``python benchmarks/throughput.py``. It prints the CPU (model, flags, AMX or not),
load averages before and after, the table, then the summary (``summary_lines``), one
``name: value`` line each, the value a number or ``n/a (why)``:

- ``torch_c1_vs_sequential``: (b) at C=1 over (a), in conversations per minute;
- ``server_ratio_c1``, ``server_ratio_c8``, ``server_ratio_c32``: (d) over (e) at that
  level, conversations per minute (above 1: in-process is faster);
- ``peer_ratio_c8``: (e) over (f) at C=8, generated tokens per second from the server's
  ``/metrics`` (above 1: chatbench is faster than openevals on the same server);
- ``llamacpp_prompt_pos_per_token``: prompt positions (d) ran through the model (what
  llama.cpp's slots and prompt cache did not hold) per generated token, at the highest level;
- ``speedup``: (b) at the highest level over (a), in conversations per minute;
- and, last, ``c1_speedup``: the default configuration's conversations per minute at the
  lowest level (the engine ``smollm2`` resolves to when ``CHATBENCH_ENGINE`` is unset) over
  the torch engine's, from the same run.

Timings vary a lot when other processes share the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from chatbench import prompts
from chatbench.config import GraphSpec, RoleSettings
from chatbench.data.questions import Question, load_questions
from chatbench.datatypes import Completion
from chatbench.models import gguf
from chatbench.models.base import DTYPE_ENV
from chatbench.models.cpu import cpu_description
from chatbench.models.gguf import ENGINE_ENV, load_smollm2, smollm2_engine
from chatbench.models.hf import LocalCausalLM, Row, in_own_thread
from chatbench.models.registry import load_local_lm
from chatbench.records import ConversationRecord
from chatbench.runner.batch import run_conversations
from chatbench.scoring.choice import extract_choice
from chatbench.simulators.prompted import FORCED_MAX_TOKENS, FORCED_PREFIX
from chatbench.state import END_TOKEN

try:  # the torch methods; without torch, --skip torch runs, and the summary helpers import
    import torch

    from chatbench.models.engine import EngineStats
    from chatbench.models.prefix_cache import PrefixCache
except ImportError:  # pragma: no cover - torch is installed with the hf extra
    torch = None

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
    metric_tokens: int | None = None
    """Generated tokens as the llama.cpp server counted them (``/metrics`` delta; (e), (f))."""

    @property
    def metric_tokens_per_s(self) -> float | None:
        """``metric_tokens`` per second, or None without them."""
        return None if self.metric_tokens is None else self.metric_tokens / self.seconds

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
        "--skip",
        default="",
        help="methods to leave out, comma-separated: sequential, ceiling, torch ((a), (b) and"
        " (c)), server ((e) and (f)), peer ((f)), llamacpp ((d), (e) and (f))",
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
        "--server-threads",
        type=int,
        default=None,
        help="threads of (e)'s llama.cpp server (default: all of (d)'s loops' threads)",
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
        # (a) writes the chat view and reads every turn with chatbench's natural reader:
        # (b) must run the same protocol, not GraphSpec's defaults (the paper's transcript
        # view and answer rule), or the two do different work.
        accept="natural",
        view="chat",
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
    threads = torch.get_num_threads() if torch is not None else "n/a"
    return (
        f"load average {one:.2f} (5 min {five:.2f}) on {cpus} CPUs,"
        f" torch threads {threads}{busy}"
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
    lm: gguf.GGUFModel, questions: Sequence[Question], spec: GraphSpec, concurrency: int
) -> tuple[Result, list[ConversationRecord]]:
    """(d): ``run_conversations`` with ``smollm2`` on llama.cpp (``lm``, loaded and warmed up
    before); prompt positions are what llama.cpp ran (``lm.stats``: its slots and prompt
    cache held the rest)."""
    lm.stats = gguf.GGUFStats()
    with engine_env("llamacpp"):
        started = time.perf_counter()
        records = run_conversations(
            questions, spec, user=MODEL, assistant=MODEL, concurrency=concurrency
        )
        seconds = time.perf_counter() - started
    stats = lm.stats
    calls = [t for r in records for t in r.timings if t["output_tokens"] is not None]
    if calls and not stats.requests:
        raise RuntimeError("(d) ran on another copy of smollm2 than the one loaded (settings?)")
    result = Result(
        f"(d) llama.cpp C={concurrency}",
        len(records),
        seconds,
        sum(t["output_tokens"] or 0 for t in calls),
        len(calls),
        stats.prefilled_tokens,
        stats.generated_tokens,
    )
    return result, records


# --- (e) llama.cpp's HTTP server, through the openai: roles -------------------------------

SERVER_MODEL = "openai:smollm2"
"""The role (e) runs: LangChain's ``ChatOpenAI`` (the server ignores the model name)."""
OPENAI_KEY = "sk-local-llama-server"
"""A placeholder API key: the server checks none."""


@contextlib.contextmanager
def llama_server(lm: gguf.GGUFModel, threads: int) -> Iterator[tuple[str, Any]]:
    """llama.cpp's HTTP server on ``lm``'s file, slots and tokens per slot, one loop of
    ``threads`` threads, on a free port of 127.0.0.1, in this process; yields its base URL
    (``http://127.0.0.1:PORT``) and the server (stopped when the block ends)."""
    xlc = gguf._import_binding()
    params = xlc.CommonParams()
    params.model.path = str(lm.path)
    params.verbosity = -1
    params.n_parallel = lm.settings.slots
    params.kv_unified = False  # as (d): each slot its own keys and values
    params.n_ctx = lm.settings.slots * lm.context_window
    params.cache_ram_mib = lm.settings.cache_mib
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port
    params.endpoint_metrics = True
    params.reasoning_format = xlc.common_reasoning_format.COMMON_REASONING_FORMAT_NONE
    server = gguf._keeping_signal_handlers(lambda: xlc.Server(params))
    try:
        yield str(server.listening_address).rstrip("/"), server
    finally:
        del server  # its destructor stops the loop and the HTTP threads


@contextlib.contextmanager
def openai_env(base_url: str) -> Iterator[None]:
    """``openai:`` roles talk to ``base_url`` inside the block (a placeholder API key)."""
    values = {
        "OPENAI_BASE_URL": f"{base_url}/v1",
        "OPENAI_API_BASE": f"{base_url}/v1",
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def server_metrics(base_url: str) -> dict[str, float]:
    """The server's Prometheus counters (``llamacpp:prompt_tokens_total``, ...); empty when
    it does not answer."""
    try:
        with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return {}
    metrics = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name and not name.startswith("#"):
            with contextlib.suppress(ValueError):
                metrics[name] = float(value)
    return metrics


def warm_up_server(base_url: str, question: Question) -> None:
    """One short chat request, before any timing."""
    body = {"messages": user_view(question, [], "first"), "max_tokens": 8, "temperature": 0}
    request = urllib.request.Request(
        f"{base_url}/v1/chat/completions",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        json.loads(response.read())


def run_server(
    base_url: str, questions: Sequence[Question], spec: GraphSpec, concurrency: int
) -> tuple[Result, list[ConversationRecord]]:
    """(e): ``run_conversations`` with both roles ``openai:`` against the server at
    ``base_url``; prompt positions from its ``/metrics`` (else every prompt token)."""
    before = server_metrics(base_url)
    with openai_env(base_url):
        started = time.perf_counter()
        records = run_conversations(
            questions, spec, user=SERVER_MODEL, assistant=SERVER_MODEL, concurrency=concurrency
        )
        seconds = time.perf_counter() - started
    after = server_metrics(base_url)
    calls = [t for r in records for t in r.timings if t["output_tokens"] is not None]
    positions = metric_delta(before, after, PROMPTED)
    if positions is None:
        positions = sum(t["input_tokens"] or 0 for t in calls)
    tokens = sum(t["output_tokens"] or 0 for t in calls)
    result = Result(
        f"(e) llama-server C={concurrency}", len(records), seconds, tokens, len(calls),
        positions, tokens, metric_delta(before, after, PREDICTED),
    )
    return result, records


PREDICTED = "llamacpp:tokens_predicted_total"
"""The server's counter of generated tokens."""
PROMPTED = "llamacpp:prompt_tokens_total"
"""The server's counter of prompt positions it ran through the model."""


def metric_delta(before: Mapping[str, float], after: Mapping[str, float], key: str) -> int | None:
    """How much counter ``key`` grew between two ``server_metrics``; None without it."""
    if key not in after:
        return None
    return int(after[key] - before.get(key, 0.0))


# --- (f) the peer: openevals' multi-turn simulation on the same server --------------------

PEER_LEVEL = 8
"""The one concurrency (f) runs at (``peer_ratio_c8``)."""
PEER_USER_PROMPT = (
    "You are a user talking to an AI assistant. You want help answering this multiple-choice"
    " question, and you ask the assistant about it as a user would, in your own words:\n\n"
    "{question}\n\nWrite only your next message to the assistant."
)
"""(f)'s simulated user's system prompt (``{question}``: the question with its options)."""


def run_peer(
    base_url: str, questions: Sequence[Question], spec: GraphSpec, concurrency: int
) -> Result:
    """(f): openevals' ``run_multiturn_simulation`` for each question, ``concurrency`` at once
    on threads, user and app ``ChatOpenAI`` on the server at ``base_url``; generated tokens
    and prompt positions from its ``/metrics`` (without them: the app's replies' usage only,
    as openevals' simulated user returns none)."""
    from concurrent.futures import ThreadPoolExecutor

    from langchain_openai import ChatOpenAI
    from openevals.simulators import create_llm_simulated_user, run_multiturn_simulation

    def chat_model(settings: RoleSettings) -> ChatOpenAI:
        return ChatOpenAI(
            model=SERVER_MODEL.removeprefix("openai:"),
            base_url=f"{base_url}/v1",
            api_key=OPENAI_KEY,
            temperature=0.0,
            max_tokens=settings.max_tokens,
            max_retries=0,
        )

    user_model, app_model = chat_model(spec.user), chat_model(spec.assistant)
    system = [{"role": "system", "content": spec.assistant_system_prompt or ""}]
    usage: list[dict[str, int]] = []

    def conversation(question: Question) -> int:
        """One simulation; returns its messages."""
        history: list[dict[str, str]] = []  # the app's conversation so far

        def app(inputs: Mapping[str, Any], **_: Any) -> dict[str, str]:
            history.append({"role": "user", "content": str(inputs["content"])})
            reply = app_model.invoke(system + history)
            usage.append(dict(reply.usage_metadata or {}))
            history.append({"role": "assistant", "content": str(reply.content)})
            return {"role": "assistant", "content": str(reply.content)}

        user = create_llm_simulated_user(
            system=PEER_USER_PROMPT.format(question=question.format()), client=user_model
        )
        outcome = run_multiturn_simulation(app=app, user=user, max_turns=spec.max_turns)
        return len(outcome["trajectory"])  # one model call per message

    before = server_metrics(base_url)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        messages = list(pool.map(conversation, questions))
    seconds = time.perf_counter() - started
    after = server_metrics(base_url)
    predicted = metric_delta(before, after, PREDICTED)
    tokens = predicted if predicted is not None else sum(
        u.get("output_tokens", 0) for u in usage
    )
    positions = metric_delta(before, after, PROMPTED)
    return Result(
        f"(f) openevals C={concurrency}", len(questions), seconds, tokens, sum(messages),
        positions if positions is not None else sum(u.get("input_tokens", 0) for u in usage),
        tokens, predicted,
    )


# --- the summary --------------------------------------------------------------------------

SERVER_LEVELS = (1, 8, 32)
"""The levels with a ``server_ratio_cN`` line."""
SUMMARY_NAMES = (
    "torch_c1_vs_sequential",
    *(f"server_ratio_c{c}" for c in SERVER_LEVELS),
    "peer_ratio_c8",
    "llamacpp_prompt_pos_per_token",
    "speedup",
    "c1_speedup",
)
"""The summary's lines, in the order printed (``c1_speedup`` last, as it always was)."""
Value = float | str | None
"""A summary value: a number, ``"n/a (why)"``, or None (not measured)."""


def ratio(top: Result | None, bottom: Result | None, why: str) -> Value:
    """``top``'s conversations per minute over ``bottom``'s; ``"n/a (why)"`` without both."""
    if top is None or bottom is None or not bottom.conversations or not top.seconds:
        return f"n/a ({why})"
    return top.per_minute / bottom.per_minute


def peer_ratio(
    server: Result | None, peer: Result | None, why: Mapping[str, str], level_run: bool
) -> Value:
    """(e)'s generated tokens/s over (f)'s, both from the server's ``/metrics``."""
    if not level_run:
        return f"n/a (level {PEER_LEVEL} not run)"
    if server is None:
        return f"n/a ({why['server']})"
    if peer is None:
        return f"n/a ({why['peer']})"
    ours, theirs = server.metric_tokens_per_s, peer.metric_tokens_per_s
    if ours is None or theirs is None:
        return "n/a (no /metrics tokens)"
    if not theirs:
        return "n/a (no openevals tokens)"
    return ours / theirs


def summary_numbers(
    ladder: Sequence[int],
    sequential: Result | None,
    torch_runs: Mapping[int, Result],
    llama_runs: Mapping[int, Result],
    server_runs: Mapping[int, Result],
    default_engine: str,
    reasons: Mapping[str, str] | None = None,
    peer: Result | None = None,
) -> dict[str, Value]:
    """The summary's values from the runs measured; ``reasons`` says why a method did not
    run (keys ``sequential``, ``torch``, ``server``, ``peer``); ``peer`` is (f) at C=8."""
    why = {"sequential": "sequential not run", "torch": "torch not run",
           "server": "server not run", "peer": "peer not run", **(reasons or {})}
    low, high = ladder[0], ladder[-1]
    numbers: dict[str, Value] = {}
    if sequential is None:
        numbers["torch_c1_vs_sequential"] = f"n/a ({why['sequential']})"
    elif low != 1:
        numbers["torch_c1_vs_sequential"] = "n/a (level 1 not run)"
    else:
        numbers["torch_c1_vs_sequential"] = ratio(torch_runs.get(1), sequential, why["torch"])
    for c in SERVER_LEVELS:
        if c not in ladder:
            numbers[f"server_ratio_c{c}"] = f"n/a (level {c} not run)"
        elif c not in server_runs:
            numbers[f"server_ratio_c{c}"] = f"n/a ({why['server']})"
        else:
            numbers[f"server_ratio_c{c}"] = ratio(llama_runs.get(c), server_runs[c], "no (d)")
    numbers["peer_ratio_c8"] = peer_ratio(
        server_runs.get(PEER_LEVEL), peer, why, PEER_LEVEL in ladder
    )
    top = llama_runs.get(high)
    numbers["llamacpp_prompt_pos_per_token"] = (
        top.prompt_positions / top.tokens if top is not None and top.tokens else
        "n/a (no llama.cpp tokens)"
    )
    numbers["speedup"] = (
        ratio(torch_runs.get(high), sequential, why["torch"]) if sequential is not None
        else f"n/a ({why['sequential']})"
    )
    default = (llama_runs if default_engine == "llamacpp" else torch_runs).get(low)
    numbers["c1_speedup"] = ratio(default, torch_runs.get(low), why["torch"])
    return numbers


def format_value(value: Value) -> str:
    """A number with two decimals; ``n/a (...)`` as it is; None as ``n/a (not measured)``."""
    if value is None:
        return "n/a (not measured)"
    if isinstance(value, str):
        return value if value.startswith("n/a (") else f"n/a ({value})"
    if not math.isfinite(value):
        return "n/a (not finite)"
    return f"{value:.2f}"


def summary_lines(numbers: Mapping[str, Value], default_engine: str | None = None) -> list[str]:
    """The final lines, ``name: value`` for every name of ``SUMMARY_NAMES`` (a name missing
    from ``numbers`` is ``n/a (not measured)``), and ``default engine: NAME`` just before
    ``c1_speedup`` when given."""
    lines = []
    for name in SUMMARY_NAMES:
        if name == "c1_speedup" and default_engine is not None:
            lines.append(f"default engine: {default_engine}")
        lines.append(f"{name}: {format_value(numbers.get(name))}")
    return lines


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
    """Run (a), (b) and (c) on torch, then (d) on llama.cpp and (e) on its server; print the
    table, the diagnostics and the summary lines."""
    args = parse_args(argv)
    skip = {m.strip() for m in args.skip.split(",") if m.strip()}
    reasons = {"sequential": "skipped", "torch": "skipped", "server": "skipped",
               "peer": "skipped"}
    if torch is None:
        skip.add("torch")
        reasons["torch"] = reasons["sequential"] = "torch not installed"
    if "torch" in skip:
        skip |= {"sequential", "ceiling"}
        reasons["sequential"] = reasons["torch"]
    if args.threads and torch is not None:
        torch.set_num_threads(args.threads)
    console = Console(width=120)
    spec = make_spec(args)
    ladder = levels(args)
    sets = {c: load_questions(limit=max(c, args.min_questions)) for c in ladder}
    print(f"cpu: {cpu_description()}")
    default_engine = smollm2_engine()  # before this script sets the engine
    first = sets[ladder[0]]
    notes = [f"model {MODEL}, torch {args.dtype}; before: {load_line()}"]
    results: list[Result] = []
    sequential = None
    torch_runs: dict[int, Result] = {}
    if "torch" not in skip:
        # Loaded, and (a) and (c) run, on threads of their own that end with them, as the
        # engine's worker is: no thread keeps an OpenMP pool the next method would run beside.
        os.environ[DTYPE_ENV] = args.dtype  # for every torch method: (b) finds this same model
        with engine_env("torch"):
            lm = cast(LocalCausalLM, load_local_lm(MODEL))
        in_own_thread(warm_up)(lm, first[0])
        quiet_engine(lm)
        if "sequential" not in skip:
            sequential, reference_turns = in_own_thread(run_sequential)(lm, first, spec)
            results.append(sequential)
            notes.append(f"(a) user turns {reference_turns}")
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
    # llama.cpp last: every torch pool is gone by now (the engine's worker has stopped). Its
    # slots follow the run's needs: the highest level, at most gguf.MAX_SLOTS.
    llama_runs: dict[int, Result] = {}
    if "llamacpp" in skip:  # (e) compares against (d): it goes too
        skip.add("server")
        reasons["server"] = "llamacpp skipped"
    if "server" in skip:  # (f) runs on (e)'s server
        skip.add("peer")
        reasons["peer"] = reasons["server"]
    else:
        with engine_env("llamacpp"):  # the model the registry's smollm2 gives (d)'s runs
            gguf_lm = load_smollm2(slots=ladder[-1])
            gguf_lm.chat(user_view(first[0], [], "first"), max_tokens=8, temperature=0)
        notes.append(
            f"(d) {gguf_lm.path.name}: {gguf_lm.router.shards} loop(s) x {gguf_lm.threads}"
            f" thread(s), {gguf_lm.settings.slots} slots of {gguf_lm.context_window} tokens;"
            f" before: {load_line()}"
        )
        for c in ladder:
            run, records = run_llamacpp(gguf_lm, sets[c], spec, c)
            llama_runs[c] = run
            results.append(run)
            notes.append(turns_line(f"(d) C={c}", records, sets[c]))
            notes.append(f"  llama.cpp stats: {gguf_lm.stats}")
    server_runs: dict[int, Result] = {}
    peer = None
    if "server" not in skip:
        threads = args.server_threads or gguf_lm.threads * gguf_lm.router.shards
        try:
            with llama_server(gguf_lm, threads) as (base_url, _):
                warm_up_server(base_url, first[0])
                notes.append(
                    f"(e) llama-server {base_url}: 1 loop x {threads} thread(s),"
                    f" {gguf_lm.settings.slots} slots of {gguf_lm.context_window} tokens, roles"
                    f" {SERVER_MODEL}; before: {load_line()}"
                )
                for c in ladder:
                    run, records = run_server(base_url, sets[c], spec, c)
                    server_runs[c] = run
                    results.append(run)
                    notes.append(turns_line(f"(e) C={c}", records, sets[c]))
                    if c == PEER_LEVEL and "peer" not in skip:
                        try:  # right after (e) at the same level, on the same server
                            peer = run_peer(base_url, sets[c], spec, c)
                            results.append(peer)
                        except Exception as exc:  # the summary says why (n/a)
                            reasons["peer"] = f"peer failed: {type(exc).__name__}: {exc}"
                            notes.append(f"(f) {reasons['peer']}")
                if PEER_LEVEL not in ladder:
                    reasons["peer"] = f"level {PEER_LEVEL} not run"
        except Exception as exc:  # any failure: the summary says why (n/a)
            reasons["server"] = f"server failed: {type(exc).__name__}: {exc}"
            notes.append(f"(e) {reasons['server']}")
            if peer is None:
                reasons["peer"] = reasons["server"]
    notes.append(f"after: {load_line()}")
    console.print(results_table(results))
    for line in notes:
        print(line)
    for c in ladder:
        if c in torch_runs and c in llama_runs:
            t, g = torch_runs[c], llama_runs[c]
            print(
                f"C={c}: llama.cpp/torch {g.per_minute / t.per_minute:.2f}x conversations/min,"
                f" {g.tokens_per_s / t.tokens_per_s:.2f}x tokens/s"
            )
        if c in server_runs:
            e, g = server_runs[c], llama_runs[c]
            print(
                f"C={c}: llama.cpp in process/llama-server {g.per_minute / e.per_minute:.2f}x"
                f" conversations/min, {g.tokens_per_s / e.tokens_per_s:.2f}x tokens/s"
            )
    e = server_runs.get(PEER_LEVEL)
    if e is not None and peer is not None:
        print(
            f"C={PEER_LEVEL} /metrics tokens_predicted: (e) chatbench {e.metric_tokens} in"
            f" {e.seconds:.1f} s, (f) openevals {peer.metric_tokens} in {peer.seconds:.1f} s"
        )
    numbers = summary_numbers(
        ladder, sequential, torch_runs, llama_runs, server_runs, default_engine, reasons, peer
    )
    for line in summary_lines(numbers, default_engine):
        print(line)


if __name__ == "__main__":
    main()
