"""Continuous batching with a prefix cache: how local causal LMs serve concurrent conversations.

One worker thread owns the model and runs a decoding loop over a batch of rows. A request
joins the batch between two decoding steps (after its prompt is prefilled) and leaves it the
step it finishes, so no row waits for a longer batch-mate and no step is spent on a finished
row. That is the scheme of vLLM and TGI, written here over transformers' ``DynamicCache``.

Every finished row's keys and values are kept in a ``PrefixCache`` (least recently used
first out, bounded in bytes). A conversation's next call starts with its previous prompt and
reply, so it prefills only the tokens that are new; calls that share a system prompt share
its prefill too. On a CPU, where prefill barely gains from batching, this is most of the
difference between batching and not.

Keys and values live in per-layer buffers of up to ``max_batch`` slots, written in place: a
decoding step adds one column per row instead of copying the whole cache the way
``DynamicCache`` (``torch.cat``) does, and a row that leaves frees its slot for the next. Each
row's position ids and attention mask cover only its own tokens, so rows of different lengths
share a step. Greedy rows can still differ from a batch-size-1 run in the last bits of floating
point (a batched matrix product sums in another order).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from inspect import signature
from typing import Any

import torch
from transformers import DynamicCache, PreTrainedTokenizerBase
from transformers.cache_utils import DynamicLayer

from chatbench.models.base import Completion
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
    decode_steps: int = 0
    row_steps: int = 0
    """Rows decoded, summed over steps (the mean batch size is ``row_steps / decode_steps``)."""
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=BATCH_SIZES_KEPT))
    """The batch size of each of the latest ``BATCH_SIZES_KEPT`` decoding steps (bounded, so
    a long run's memory stays flat)."""


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
    length: int
    """Tokens of this row in its slot (the prompt and every generated token but the last)."""
    generated: list[int]
    generator: torch.Generator | None


_CAPACITY_STEP = 256
"""Slot buffers grow in steps of this many positions."""


class _SlotPlan:
    """What the next forward pass reads and writes, shared by every ``_SlotLayer``."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.capacity = 0
        self.rows = slice(0, 0)
        """Slots the forward pass runs on."""
        self.past = 0
        """Positions before the new ones (what the model sees as the cache length)."""
        self.columns: torch.Tensor | None = None
        """Where each new position goes: ``[rows]`` when decoding (each row's length),
        ``[rows, new]`` for a padded prefill of several rows; None for a one-row prefill,
        written from ``past`` on."""
        self.row_index: torch.Tensor | None = None
        """The slots of ``rows`` as indices, made once per pass for every layer's writes."""

    def aim(self, rows: slice, past: int, columns: torch.Tensor | None) -> None:
        """Point the next forward pass at ``rows``, ``past`` positions in."""
        self.rows, self.past, self.columns = rows, past, columns
        self.row_index = (
            None if columns is None else torch.arange(rows.start, rows.stop, device=columns.device)
        )


class _SlotLayer(DynamicLayer):
    """One layer's keys and values in ``[slots, heads, capacity, head_dim]`` buffers."""

    def __init__(self, plan: _SlotPlan) -> None:
        super().__init__()
        self.plan = plan
        self.key_buffer: torch.Tensor | None = None
        self.value_buffer: torch.Tensor | None = None
        self.is_initialized = True

    def reserve(self, like: torch.Tensor) -> None:
        """Make the buffers (shaped after ``like``, ``[_, heads, _, head_dim]``) hold
        ``plan.slots`` slots of ``plan.capacity`` positions, keeping what they hold."""
        plan, old = self.plan, self.key_buffer
        if old is not None and old.shape[0] >= plan.slots and old.shape[2] >= plan.capacity:
            return
        _, heads, _, dim = like.shape
        shape = (plan.slots, heads, plan.capacity, dim)
        # Zeros, not empty: masked positions must hold finite numbers (0 x NaN is NaN).
        keys = torch.zeros(shape, dtype=like.dtype, device=like.device)
        values = torch.zeros(shape, dtype=like.dtype, device=like.device)
        if old is not None and self.value_buffer is not None:
            keys[: old.shape[0], :, : old.shape[2]] = old
            values[: old.shape[0], :, : old.shape[2]] = self.value_buffer
        self.key_buffer, self.value_buffer = keys, values

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new positions in place; return the keys and values the rows attend to."""
        self.reserve(key_states)
        assert self.key_buffer is not None and self.value_buffer is not None
        plan, columns = self.plan, self.plan.columns
        end = plan.past + key_states.shape[2]
        if columns is None:
            self.key_buffer[plan.rows, :, plan.past : end] = key_states
            self.value_buffer[plan.rows, :, plan.past : end] = value_states
        elif columns.dim() == 1:
            rows = plan.row_index
            self.key_buffer[rows, :, columns] = key_states[:, :, 0]
            self.value_buffer[rows, :, columns] = value_states[:, :, 0]
        else:  # [rows, new]: the indexed view is [rows, new, heads, head_dim]
            rows = plan.row_index[:, None]
            self.key_buffer[rows, :, columns] = key_states.transpose(1, 2)
            self.value_buffer[rows, :, columns] = value_states.transpose(1, 2)
        self.keys = self.key_buffer[plan.rows, :, :end]
        self.values = self.value_buffer[plan.rows, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        """Positions before the forward pass's new ones."""
        return self.plan.past

    def row(self, slot: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A copy of one slot's first ``length`` positions, ``[1, heads, length, head_dim]``."""
        assert self.key_buffer is not None and self.value_buffer is not None
        return (
            self.key_buffer[slot : slot + 1, :, :length].clone(),
            self.value_buffer[slot : slot + 1, :, :length].clone(),
        )

    def fill(self, slot: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Write ``[1, heads, n, head_dim]`` keys and values at the start of ``slot``."""
        self.reserve(keys)
        assert self.key_buffer is not None and self.value_buffer is not None
        self.key_buffer[slot, :, : keys.shape[2]] = keys[0]
        self.value_buffer[slot, :, : values.shape[2]] = values[0]

    def move(self, source: int, target: int, length: int) -> None:
        """Copy a slot's first ``length`` positions to another slot."""
        assert self.key_buffer is not None and self.value_buffer is not None
        self.key_buffer[target, :, :length] = self.key_buffer[source, :, :length]
        self.value_buffer[target, :, :length] = self.value_buffer[source, :, :length]


class ContinuousBatcher:
    """Serves ``submit`` calls from many threads with one continuously batched decoding loop.

    Args:
        model: A transformers causal LM whose cache is a plain ``DynamicCache`` (see
            ``supports``).
        tokenizer: Its tokenizer.
        max_batch: Most rows decoded together; further requests wait for a free row.
        prefix_cache_bytes: Budget of the prefix cache (0 turns it off).
        top_k: Candidates a sampled row picks from.
        prefill_batch: Most waiting prompts prefilled in one padded forward pass.
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
        prefill_batch: int = 8,
        lock: threading.Lock | None = None,
    ) -> None:
        self.model = model
        self._lock = lock or threading.Lock()
        self.tokenizer = tokenizer
        self.max_batch = max_batch
        self.top_k = top_k
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self.prefill_batch = prefill_batch
        attention = getattr(model.config, "_attn_implementation", None) or "eager"
        # Rows that continue different prefixes need a 4D mask, which these take as given.
        self._batched_prefill = attention in ("sdpa", "eager")
        self.stats = EngineStats()
        self.eos_id = tokenizer.eos_token_id
        # transformers 5.x renamed the forward argument past_key_values to cache.
        params = signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._pending: list[_Request] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None
        # The running batch, owned by the worker thread: row i lives in slot i.
        self._rows: list[_Active] = []
        self._plan = _SlotPlan(0)
        self._cache = DynamicCache(config=model.config)
        self._layers = [_SlotLayer(self._plan) for _ in self._cache.layers]
        self._cache.layers = self._layers  # type: ignore[assignment]

    @staticmethod
    def supports(model: Any) -> bool:
        """Whether every layer of ``model`` caches plain keys and values (no sliding window,
        no recurrent state): what the engine can pad, join and split."""
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

    def _encode(self, prompt: str) -> torch.Tensor:
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError("cannot generate from an empty prompt")
        return torch.tensor(ids, dtype=torch.long)

    # --- the worker thread ------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._rows:
                    self._ready.wait()
                room = self.max_batch - len(self._rows)
                admitted, self._pending = self._pending[:room], self._pending[room:]
            with torch.inference_mode():
                size = self.prefill_batch if self._batched_prefill else 1
                for group in (admitted[i : i + size] for i in range(0, len(admitted), size)):
                    self._admit(group)
                if self._rows:
                    try:
                        self._step()
                    except Exception as exc:  # noqa: BLE001 - every row's caller gets it
                        for active in self._rows:
                            if not active.request.future.done():  # not answered this step
                                active.request.future.set_exception(exc)
                        self._rows = []

    def _forward(
        self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits of the last position of every row in ``_plan.rows``."""
        device = self.model.device
        with self._lock:
            out = self.model(
                input_ids=ids.to(device),
                attention_mask=None if mask is None else mask.to(device),
                position_ids=positions.to(device),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_arg: self._cache},
            )
        return out.logits[:, -1, :]

    def _reserve(self, positions: int, rows: int) -> None:
        """Let ``rows`` slots (rounded up to a multiple of 8, at most ``max_batch``) hold
        ``positions`` positions, plus the scratch column at the end where a padded prefill
        writes its padding. Buffers grow when first written after this."""
        plan = self._plan
        need = -(-(positions + 1) // _CAPACITY_STEP) * _CAPACITY_STEP
        plan.capacity = max(plan.capacity, need)
        plan.slots = max(plan.slots, min(-(-rows // 8) * 8, self.max_batch))

    def _admit(self, group: list[_Request]) -> None:
        """Prefill ``group`` together; if that fails, one by one, so that only a request
        that fails alone gets the error."""
        try:
            self._prefill(group)
        except Exception as exc:  # noqa: BLE001 - the caller gets it
            if len(group) == 1:
                group[0].future.set_exception(exc)
            else:
                for request in group:
                    self._admit([request])

    def _prefill(self, group: list[_Request]) -> None:
        """Prefill the new tokens of ``group`` into the next free slots (what the prefix
        cache holds is copied, not run); each row finishes at once or joins the batch."""
        start, plan = len(self._rows), self._plan
        matches = [self.prefix_cache.longest(r.ids) for r in group]
        self._reserve(max(len(r.ids) + r.row.max_tokens for r in group), start + len(group))
        for slot, (reused, kv) in enumerate(matches, start):
            for layer, (keys, values) in zip(self._layers, kv or (), strict=False):
                layer.fill(slot, keys[:, :, :reused], values[:, :, :reused])
        lengths = torch.tensor([len(r.ids) for r in group])
        reused = torch.tensor([m[0] for m in matches])
        if len(group) == 1:
            plan.aim(slice(start, start + 1), int(reused[0]), None)
            n = int(lengths[0])
            logits = self._forward(
                group[0].ids[None, int(reused[0]) :], torch.arange(int(reused[0]), n)[None], None
            )
        else:
            logits = self._forward(*self._padded_prefill(group, start, lengths, reused))
        self.stats.requests += len(group)
        self.stats.prompt_tokens += int(lengths.sum())
        self.stats.reused_tokens += int(reused.sum())
        for i, request in enumerate(group):
            self._start_row(request, start + i, logits[i])

    def _padded_prefill(
        self, group: list[_Request], start: int, lengths: torch.Tensor, reused: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Input ids, position ids and 4D mask of a left-padded prefill of several rows,
        each continuing its own cached prefix; sets the plan's write columns."""
        plan = self._plan
        new = lengths - reused
        width, longest = int(lengths.max()), int(new.max())
        offset = (longest - new)[:, None]  # left padding of each row
        step = torch.arange(longest)[None]
        real = step >= offset
        column = reused[:, None] + step - offset  # each new token's own position
        columns = torch.where(real, column, plan.capacity - 1).to(self.model.device)
        plan.aim(slice(start, start + len(group)), width - longest, columns)
        pad = self.tokenizer.pad_token_id or self.eos_id or 0
        ids = torch.full((len(group), longest), pad, dtype=torch.long)
        for i, request in enumerate(group):
            ids[i, longest - int(new[i]) :] = request.ids[int(reused[i]) :]
        keys = torch.arange(width)[None, None]
        # A token sees its row's positions up to its own; padding sees position 0 only.
        allowed = torch.where(real[..., None], keys <= column[..., None], keys == 0)
        dtype = self.model.dtype
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        return ids, torch.where(real, column, 0), mask[:, None]

    def _start_row(self, request: _Request, slot: int, logits: torch.Tensor) -> None:
        """Keep a prefilled row's prompt, pick its first token, and finish it or move it to
        the batch's next slot."""
        n, row = len(request.ids), request.row
        if self.prefix_cache.max_bytes:
            # Kept now, not only when the row ends: concurrent prompts that share a system
            # prompt (every conversation's first call) reuse it while this row decodes.
            self.prefix_cache.put(request.ids, [layer.row(slot, n) for layer in self._layers])
        generator = torch.Generator().manual_seed(row.seed) if row.seed is not None else None
        active = _Active(request, n, [], generator)
        try:
            done = self._take(active, logits)
        except Exception as exc:  # noqa: BLE001 - e.g. NaN logits: only this row fails
            request.future.set_exception(exc)
            return
        if done:
            self._finish(active, slot)
            return
        target = len(self._rows)  # slots below ``slot`` whose rows finished are free
        if target != slot:
            for layer in self._layers:
                layer.move(slot, target, n)
        self._rows.append(active)

    def _step(self) -> None:
        """One decoding step of the whole batch; finished rows leave it."""
        rows, plan = self._rows, self._plan
        lengths = torch.tensor([a.length for a in rows])
        past = int(lengths.max())
        self._reserve(past + 1, len(rows))
        plan.aim(slice(0, len(rows)), past, lengths.to(self.model.device))
        ids = torch.tensor([[a.generated[-1]] for a in rows])
        # Each row attends to its own positions and the new one, written at its length.
        mask = (torch.arange(past + 1) <= lengths[:, None]).long()
        logits = self._forward(ids, lengths[:, None], mask)
        self.stats.decode_steps += 1
        self.stats.row_steps += len(rows)
        self.stats.batch_sizes.append(len(rows))
        greedy = logits.argmax(dim=-1).tolist()
        leaving = []
        for i, active in enumerate(rows):
            active.length += 1
            try:
                if self._take(active, logits[i], greedy[i]):
                    leaving.append(i)
            except Exception as exc:  # noqa: BLE001 - e.g. NaN logits: only this row fails
                active.request.future.set_exception(exc)
                leaving.append(i)
        for i in reversed(leaving):  # the last row moves into each freed slot
            if not rows[i].request.future.done():
                self._finish(rows[i], i)
            last = len(rows) - 1
            if i != last:
                for layer in self._layers:
                    layer.move(last, i, rows[last].length)
                rows[i] = rows[last]
            rows.pop()

    def _take(self, active: _Active, logits: torch.Tensor, greedy: int | None = None) -> bool:
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
            token = int(logits.argmax()) if greedy is None else greedy
        active.generated.append(token)
        if token == self.eos_id or len(active.generated) >= row.max_tokens:
            return True
        stop = active.request.stop
        return bool(stop) and any(s in self._text(active.generated) for s in stop)

    def _text(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _finish(self, active: _Active, slot: int) -> None:
        """Answer the caller and keep the row's keys and values for later prompts."""
        request = active.request
        generated = active.generated
        if self.prefix_cache.max_bytes:
            # The slot holds the prompt and every generated token but the last (never fed).
            cached = torch.cat([request.ids, torch.tensor(generated[:-1], dtype=torch.long)])
            kv = [layer.row(slot, active.length) for layer in self._layers]
            self.prefix_cache.put(cached[: active.length], kv)
        ids = generated[:-1] if generated[-1] == self.eos_id else generated
        text = self._text(ids)
        cut = min((i for i in (text.find(s) for s in request.stop) if i >= 0), default=len(text))
        request.future.set_result(
            Completion(text=text[:cut], input_tokens=len(request.ids), output_tokens=len(ids))
        )
