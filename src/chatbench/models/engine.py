"""Continuous batching with a prefix cache: how local causal LMs serve concurrent conversations.

One worker thread owns the model and runs a loop of forward passes. Each pass carries one
token for every row that is decoding and the next chunk of every prompt still being
prefilled, packed into one sequence: the model's weights, which dominate a pass on a CPU,
are read once for all of them. A request joins the batch as soon as a slot is free, decodes
from the pass that ends its prompt, and leaves the pass it finishes, so no row waits for a
longer batch-mate and no pass is spent on a finished row. That is the scheme of vLLM
(continuous batching with chunked prefill), written here over transformers' models through a
registered attention function.

Every finished row's keys and values are kept in a ``PrefixCache`` (least recently used
first out, bounded in bytes). A conversation's next call starts with its previous prompt and
reply, so it prefills only the tokens that are new; calls that share a system prompt share
its prefill too.

Keys and values live in per-layer buffers of up to ``max_batch`` slots, written in place: a
pass writes each new token at its row's next position instead of copying the whole cache the
way ``DynamicCache`` (``torch.cat``) does, and a row that leaves frees its slot for the next.
Attention is computed per row over its own positions only (the decoding rows together, each
prompt chunk on its own), so rows of different lengths share a pass without padding. Greedy
rows can still differ from a batch-size-1 run in the last bits of floating point (a batched
matrix product sums in another order).
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from inspect import signature
from typing import Any

import torch
from transformers import DynamicCache, PreTrainedTokenizerBase
from transformers.cache_utils import DynamicLayer

from chatbench.datatypes import Completion
from chatbench.models.packed import CAPACITY_STEP, PACKED, Chunk, PassPlan, SlotLayer, current
from chatbench.models.prefix_cache import PrefixCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    """One prompt with its own sampling settings."""

    prompt: str
    max_tokens: int
    temperature: float
    seed: int | None = None


BATCH_SIZES_KEPT = 100_000
"""Decoding steps whose batch size ``EngineStats`` (and the micro-batcher) remember."""


@dataclass
class EngineStats:
    """What the engine has done since it started (or since ``reset``)."""

    requests: int = 0
    prompt_tokens: int = 0
    """Prompt tokens of every request."""
    reused_tokens: int = 0
    """Prompt tokens taken from the prefix cache instead of being prefilled."""
    forwards: int = 0
    """Forward passes of the model (each decodes, prefills, or both)."""
    decode_steps: int = 0
    """Forward passes that decoded at least one row."""
    row_steps: int = 0
    """Rows decoded, summed over steps (the mean batch size is ``row_steps / decode_steps``)."""
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=BATCH_SIZES_KEPT))
    """The decoding rows of each of the latest ``BATCH_SIZES_KEPT`` decoding steps (bounded,
    so a long run's memory stays flat)."""


@dataclass
class _Request:
    ids: torch.Tensor
    row: Row
    stop: tuple[str, ...]
    future: Future[Completion]


@dataclass
class _Active:
    """A row in the batch: its cached length, what it generated, its sampler."""

    request: _Request
    limit: int
    """Most tokens to generate: the row's ``max_tokens``, less where the model's positions
    run out first."""
    length: int = 0
    """Tokens of this row in its slot: the prompt so far while prefilling, then the prompt
    and every generated token but the last (which the next pass feeds)."""
    generated: list[int] = field(default_factory=list)
    generator: torch.Generator | None = None
    looked_up: bool = False
    """Whether the prefix cache has been searched for this row's prompt."""

    @property
    def decoding(self) -> bool:
        """Whether the prompt is done and the row feeds its last token."""
        return bool(self.generated)


IDLE_EXIT_S = 1.0
"""Seconds the worker thread waits for work before it ends. A live thread keeps its OpenMP
thread pool, and while the process holds more OpenMP threads than CPUs, libgomp makes every
pool's threads sleep between parallel regions instead of spinning, which doubled the time of
a forward pass here (2 CPUs: the engine's pool plus one from the main thread's own torch
work). An idle engine therefore gives its pool back."""

_engines: weakref.WeakSet[ContinuousBatcher] = weakref.WeakSet()


@atexit.register
def _stop_workers() -> None:
    """Stop every engine's worker before the interpreter goes: a daemon thread that still
    holds an OpenMP pool at exit sometimes aborted the process ("terminate called without an
    active exception")."""
    for engine in list(_engines):
        engine.stop(timeout=2.0)


class ContinuousBatcher:
    """Serves ``submit`` calls from many threads with one continuously batched loop.

    Args:
        model: A transformers causal LM whose cache is a plain ``DynamicCache`` and whose
            attention goes through transformers' attention interface (see ``supports``).
        tokenizer: Its tokenizer.
        max_batch: Most rows in the batch (decoding or prefilling); further requests wait.
        prefix_cache_bytes: Budget of the prefix cache (0 turns it off).
        top_k: Candidates a sampled row picks from.
        prefill_tokens: Most prompt tokens a forward pass carries besides its decoding rows
            (a longer prompt is prefilled in chunks over several passes).
        lock: Held for every forward pass (shared with other users of ``model``).

    Example:
        >>> engine = ContinuousBatcher(model, tokenizer)  # doctest: +SKIP
        >>> engine.submit([Row("The capital of France is", 5, 0.0)], stop=())
    """

    def __init__(
        self,
        model: Any,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_batch: int = 32,
        prefix_cache_bytes: int = 1 << 30,
        top_k: int = 50,
        prefill_tokens: int = 512,
        lock: threading.Lock | None = None,
    ) -> None:
        if prefill_tokens < 1:
            raise ValueError(f"prefill_tokens must be at least 1, not {prefill_tokens}")
        self.model = model
        self._lock = lock or threading.Lock()
        self.tokenizer = tokenizer
        self.max_batch = max_batch
        self.top_k = top_k
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self.prefill_tokens = prefill_tokens
        self.stats = EngineStats()
        self.eos_id = tokenizer.eos_token_id
        config = model.config
        self.max_positions = getattr(config, "max_position_embeddings", None) or getattr(
            config, "n_positions", None
        )
        # transformers 5.x renamed the forward argument past_key_values to cache.
        params = signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._pending: list[_Request] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None
        self._stopping = False
        _engines.add(self)
        # The batch, owned by the worker thread: row i lives in slot i.
        self._rows: list[_Active] = []
        self._capacity = [0, 0]
        self._cache = DynamicCache(config=model.config)
        self._layers = [SlotLayer(self._capacity) for _ in self._cache.layers]
        self._cache.layers = self._layers  # type: ignore[assignment]

    @staticmethod
    def supports(model: Any) -> bool:
        """Whether every layer of ``model`` caches plain keys and values (no sliding window,
        no recurrent state) and its attention can be swapped: what the engine can pack."""
        if not getattr(model, "_supports_attention_backend", False):
            return False
        try:
            cache = DynamicCache(config=model.config)
        except Exception:  # noqa: BLE001 - any config transformers cannot read is unsupported
            return False
        return bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)

    def submit(self, rows: Sequence[Row], stop: Sequence[str] = ()) -> list[Completion]:
        """Generate for ``rows`` (alongside every other caller's rows); blocks until done."""
        for row in rows:
            if row.max_tokens < 1:
                raise ValueError(f"max_tokens must be at least 1, not {row.max_tokens}")
        requests = [_Request(self._encode(row.prompt), row, tuple(stop), Future()) for row in rows]
        with self._ready:
            self._pending.extend(requests)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._loop, daemon=True, name="chatbench-engine"
                )
                self._worker.start()
            self._ready.notify_all()
        return [r.future.result() for r in requests]

    def stop(self, timeout: float = 5.0) -> None:
        """End the worker thread as soon as the batch is empty, and wait for it (at most
        ``timeout`` seconds); the next ``submit`` starts another. Frees the thread's OpenMP
        pool (see ``IDLE_EXIT_S``) at once instead of after ``IDLE_EXIT_S``."""
        with self._ready:
            worker, self._stopping = self._worker, True
            self._ready.notify_all()
        if worker is not None:
            worker.join(timeout)
        with self._ready:
            self._stopping = False

    def _encode(self, prompt: str) -> torch.Tensor:
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError("cannot generate from an empty prompt")
        if self.max_positions and len(ids) >= self.max_positions:
            raise ValueError(
                f"a prompt of {len(ids)} tokens leaves no room in the model's"
                f" {self.max_positions} positions"
            )
        return torch.tensor(ids, dtype=torch.long)

    # --- the worker thread ------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._rows:
                    if self._stopping or (not self._ready.wait(IDLE_EXIT_S) and not self._pending):
                        # Idle: end the thread, which frees its OpenMP thread pool (see
                        # ``IDLE_EXIT_S``); the next ``submit`` starts another.
                        self._worker = None
                        return
                room = self.max_batch - len(self._rows)
                admitted, self._pending = self._pending[:room], self._pending[room:]
            try:
                for request in admitted:
                    self._admit(request)
                with torch.inference_mode():
                    self._run_pass()
            except Exception as exc:  # noqa: BLE001 - a bug here must not leave callers waiting
                log.exception("continuous engine: every row in the batch fails")
                for request in admitted:
                    if not request.future.done():
                        request.future.set_exception(exc)
                for slot in range(len(self._rows)):
                    self._fail(slot, exc)
                self._rows = []

    def _admit(self, request: _Request) -> None:
        """Give ``request`` the next slot; its prompt is prefilled by the passes to come."""
        row, n = request.row, len(request.ids)
        limit = row.max_tokens
        if self.max_positions:
            limit = min(limit, self.max_positions - n)
        generator = torch.Generator().manual_seed(row.seed) if row.seed is not None else None
        self._rows.append(_Active(request, limit=limit, generator=generator))
        self._reserve(n + limit, len(self._rows))
        self.stats.requests += 1
        self.stats.prompt_tokens += n

    def _reserve(self, positions: int, rows: int) -> None:
        """Let ``rows`` slots (rounded up to a multiple of 8, at most ``max_batch``) hold
        ``positions`` positions. Buffers grow when first written after this."""
        need = -(-positions // CAPACITY_STEP) * CAPACITY_STEP
        self._capacity[0] = max(self._capacity[0], min(-(-rows // 8) * 8, self.max_batch))
        self._capacity[1] = max(self._capacity[1], need)

    def _schedule(self) -> list[tuple[int, int]]:
        """``(slot, tokens)`` for the next pass: one token per decoding row, then prompt
        chunks (in slot order) up to ``prefill_tokens``."""
        plan = [(slot, 1) for slot, active in enumerate(self._rows) if active.decoding]
        budget = self.prefill_tokens
        for slot, active in enumerate(self._rows):
            if active.decoding or not budget:
                continue
            if not active.looked_up:
                self._look_up(active, slot)
            take = min(len(active.request.ids) - active.length, budget)
            plan.append((slot, take))
            budget -= take
        return plan

    def _look_up(self, active: _Active, slot: int) -> None:
        """Copy the longest cached prefix of the row's prompt into its slot. Done when the
        row's first chunk is scheduled, so it finds prompts of rows prefilled before it."""
        active.looked_up = True
        reused, kv = self.prefix_cache.longest(active.request.ids)
        for layer, (keys, values) in zip(self._layers, kv or (), strict=False):
            layer.fill(slot, keys[:, :, :reused], values[:, :, :reused])
        active.length = reused
        self.stats.reused_tokens += reused

    def _run_pass(self) -> None:
        """One forward pass over the batch; if the pass fails, each row's part runs again
        alone, so that only a row that fails alone gets the error. Finished rows leave."""
        plan = self._schedule()
        try:
            logits = self._pass(plan)
        except Exception as exc:  # noqa: BLE001 - retried row by row, or the caller gets it
            if len(plan) == 1:
                self._fail(plan[0][0], exc)
            else:
                for item in plan:
                    try:
                        alone = self._pass([item])
                    except Exception as failed:  # noqa: BLE001 - this row's caller gets it
                        self._fail(item[0], failed)
                    else:
                        self._take_all([item], alone)
        else:
            self._take_all(plan, logits)
        self._compact()

    def _picks(self, slot: int, n: int) -> bool:
        """Whether a row's ``n`` tokens in a pass end in a token to pick: it is decoding,
        or they end its prompt."""
        active = self._rows[slot]
        return active.decoding or active.length + n == len(active.request.ids)

    def _pass(self, plan: list[tuple[int, int]]) -> torch.Tensor:
        """Run ``plan``'s tokens through the model in one packed pass: the logits of each
        part that picks a token (see ``_picks``), in plan order. Changes no row.

        A failed pass can be run again: it writes the same cache positions."""
        chunks, ids, keep, start = [], [], [], 0
        for slot, n in plan:
            active = self._rows[slot]
            chunks.append(Chunk(slot, start, n, active.length))
            if active.decoding:
                ids.append(torch.tensor(active.generated[-1:]))
            else:
                ids.append(active.request.ids[active.length : active.length + n])
            start += n
            if self._picks(slot, n):
                keep.append(start - 1)
        packed = current.plan = PassPlan(chunks, len(self._rows), self.model.device)
        try:
            return self._forward(
                torch.cat(ids)[None],
                packed.column_index[None],
                torch.tensor(keep, dtype=torch.long),
            )
        finally:
            current.plan = None

    def _take_all(self, plan: list[tuple[int, int]], logits: torch.Tensor) -> None:
        """Advance each row of ``plan`` past its tokens and take its next token where it
        picks one (``logits`` from ``_pass``)."""
        greedy = logits.argmax(dim=-1).tolist()
        decoding = 0
        picked = iter(range(len(logits)))
        for slot, n in plan:
            active = self._rows[slot]
            if not self._picks(slot, n):
                active.length += n  # a chunk of a longer prompt: nothing to pick yet
                continue
            i = next(picked)
            if active.decoding:
                decoding += 1
                active.length += 1
            else:
                active.length += n
                # Kept now, not only when the row ends: concurrent prompts that share a system
                # prompt (every conversation's first call) reuse it while this row decodes.
                self._cache_slot(active.request.ids, slot)
            try:
                done = self._take(active, logits[i], greedy[i])
            except Exception as exc:  # noqa: BLE001 - e.g. NaN logits: only this row fails
                self._fail(slot, exc)
                continue
            if done:
                self._finish(active, slot)
        if decoding:
            self.stats.decode_steps += 1
            self.stats.row_steps += decoding
            self.stats.batch_sizes.append(decoding)

    def _forward(
        self, ids: torch.Tensor, positions: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[len(keep), vocab]`` at the packed positions ``keep`` of a pass over
        ``ids`` ``[1, tokens]`` (the pass's plan set in ``current``)."""
        device = self.model.device
        config = self.model.config
        with self._lock:
            previous = config._attn_implementation
            config._attn_implementation = PACKED
            try:
                out = self.model(
                    input_ids=ids.to(device),
                    position_ids=positions.to(device),
                    use_cache=True,
                    logits_to_keep=keep.to(device),
                    **{self._cache_arg: self._cache},
                )
            finally:
                config._attn_implementation = previous
        self.stats.forwards += 1
        return out.logits[0]

    def _cache_slot(self, ids: torch.Tensor, slot: int) -> None:
        """Put a copy of the keys and values of ``slot``'s first ``len(ids)`` positions,
        which hold ``ids``, in the prefix cache (when it has a budget)."""
        if self.prefix_cache.max_bytes:
            kv = [layer.row(slot, len(ids)) for layer in self._layers]
            self.prefix_cache.put(ids, kv)

    def _take(self, active: _Active, logits: torch.Tensor, greedy: int) -> bool:
        """Pick the row's next token; True once the row is done."""
        row = active.request.row
        if row.temperature > 0:
            values, indices = (logits.float() / row.temperature).topk(
                min(self.top_k, logits.shape[-1])
            )
            # On the CPU, where the row's generator lives, whatever the model's device.
            probs = values.softmax(-1).cpu()
            token = int(indices[int(torch.multinomial(probs, 1, generator=active.generator))])
        else:
            token = greedy
        active.generated.append(token)
        if token == self.eos_id or len(active.generated) >= active.limit:
            return True
        stop = active.request.stop
        return bool(stop) and any(s in self._text(active.generated) for s in stop)

    def _text(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _fail(self, slot: int, exc: BaseException) -> None:
        """Hand ``exc`` to the row's caller; the row leaves at the next ``_compact``."""
        future = self._rows[slot].request.future
        if not future.done():
            future.set_exception(exc)

    def _finish(self, active: _Active, slot: int) -> None:
        """Answer the caller and keep the row's keys and values for later prompts."""
        request = active.request
        generated = active.generated
        if self.prefix_cache.max_bytes:
            # The slot holds the prompt and every generated token but the last (never fed).
            cached = torch.cat([request.ids, torch.tensor(generated[:-1], dtype=torch.long)])
            self._cache_slot(cached[: active.length], slot)
        ids = generated[:-1] if generated[-1] == self.eos_id else generated
        text = self._text(ids)
        cut = min((i for i in (text.find(s) for s in request.stop) if i >= 0), default=len(text))
        request.future.set_result(
            Completion(text=text[:cut], input_tokens=len(request.ids), output_tokens=len(ids))
        )

    def _compact(self) -> None:
        """Drop the rows whose callers have their answer; the last row moves into each freed
        slot, so the batch stays in slots ``0 .. len - 1``."""
        rows = self._rows
        for i in reversed(range(len(rows))):
            if not rows[i].request.future.done():
                continue
            last = len(rows) - 1
            if i != last:
                for layer in self._layers:
                    layer.move(last, i, rows[last].length)
                rows[i] = rows[last]
            rows.pop()
