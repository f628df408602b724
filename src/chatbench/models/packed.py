"""Packed forward passes over per-slot key/value buffers: the engine's attention and cache.

A pass of the continuous batcher (``engine.py``) carries the new tokens of many rows packed
into one ``[1, tokens]`` sequence. ``SlotLayer`` writes each token's keys and values at its
row's next position in ``[slots, heads, capacity, head_dim]`` buffers, and ``packed_attention``
(registered with transformers' ``AttentionInterface`` as ``PACKED``) attends each row over
its own positions only: the decoding rows together, each prompt chunk on its own. The plan of
the running pass (``PassPlan``) is made once and read by every layer through ``current``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.cache_utils import DynamicLayer

CAPACITY_STEP = 256
"""Slot buffers grow in steps of this many positions."""

PACKED = "chatbench_packed"
"""The attention implementation the engine's forward passes run with."""

current = threading.local()
"""The ``PassPlan`` of the forward pass running on this thread (its attention reads it)."""


@dataclass(frozen=True)
class Chunk:
    """One row's new tokens in a pass: ``n`` tokens at packed offset ``start``, written to
    ``slot`` from position ``past`` on."""

    slot: int
    start: int
    n: int
    past: int


class PassPlan:
    """Where a forward pass's packed tokens go and what each attends to, made once per pass
    and read by every layer."""

    def __init__(self, chunks: list[Chunk], slots: int, device: torch.device) -> None:
        self.slots = slots
        self.slot_index = torch.cat([torch.full((c.n,), c.slot) for c in chunks]).to(device)
        self.column_index = torch.cat([torch.arange(c.past, c.past + c.n) for c in chunks]).to(
            device
        )
        """Each token's position in its row's slot, which is also its position id."""
        decoding = [c for c in chunks if c.n == 1]
        self.prompts = [c for c in chunks if c.n > 1]
        self.decode_positions = torch.tensor(
            [c.start for c in decoding], dtype=torch.long, device=device
        )
        self.decode_slots = torch.tensor(
            [c.slot for c in decoding], dtype=torch.long, device=device
        )
        # The common pass: every slot decodes, in slot order, at the start of the packing.
        self.every_slot = [c.slot for c in decoding] == list(range(slots)) and all(
            c.start == c.slot for c in decoding
        )
        self.width = max((c.past + 1 for c in decoding), default=0)
        # A decoding row sees its positions up to its new one; other slots see position 0
        # only (their output is dropped; a fully masked row would be NaN).
        seen = torch.zeros(slots, dtype=torch.long)
        for c in decoding:
            seen[c.slot] = c.past
        self.decode_mask = (torch.arange(self.width)[None] <= seen[:, None])[:, None, None].to(
            device
        )
        # Each prompt token sees its row's cached positions and the chunk's up to its own.
        self.prompt_masks = [
            (torch.arange(c.past + c.n)[None] <= torch.arange(c.past, c.past + c.n)[:, None]).to(
                device
            )
            for c in self.prompts
        ]
        self._stacked_masks: dict[int, list[torch.Tensor]] = {}

    def stacked_prompt_masks(self, group: int) -> list[torch.Tensor]:
        """``prompt_masks`` repeated for ``group`` stacked query heads, made once per pass
        (every layer has the same heads)."""
        if group not in self._stacked_masks:
            self._stacked_masks[group] = [mask.repeat(group, 1) for mask in self.prompt_masks]
        return self._stacked_masks[group]

    def attend(
        self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scale: float | None
    ) -> torch.Tensor:
        """Attention of the packed ``query`` ``[1, heads, tokens, dim]`` over the slot buffers
        ``[slots, kv_heads, capacity, dim]``; returns ``[1, tokens, heads, dim]``.

        Query heads that share a key-value head are stacked along the query axis (no copy
        of the keys and values per head)."""
        _, heads, tokens, dim = query.shape
        kv_heads = keys.shape[1]
        group = heads // kv_heads
        out = query.new_empty(1, tokens, heads, dim)
        if len(self.decode_positions):
            q = query[0, :, self.decode_positions].transpose(0, 1)  # [decoding, heads, dim]
            if not self.every_slot:
                q = query.new_zeros(self.slots, heads, dim).index_copy_(0, self.decode_slots, q)
            o = F.scaled_dot_product_attention(
                q.reshape(self.slots, kv_heads, group, dim),
                keys[: self.slots, :, : self.width],
                values[: self.slots, :, : self.width],
                attn_mask=self.decode_mask,
                scale=scale,
            ).reshape(self.slots, heads, dim)
            out[0, self.decode_positions] = o if self.every_slot else o[self.decode_slots]
        for chunk, mask in zip(self.prompts, self.stacked_prompt_masks(group), strict=True):
            span = slice(chunk.start, chunk.start + chunk.n)
            seen = chunk.past + chunk.n
            o = F.scaled_dot_product_attention(
                query[:, :, span].reshape(1, kv_heads, group * chunk.n, dim),
                keys[chunk.slot : chunk.slot + 1, :, :seen],
                values[chunk.slot : chunk.slot + 1, :, :seen],
                attn_mask=mask,
                scale=scale,
            )
            out[0, span] = o.reshape(heads, chunk.n, dim).transpose(0, 1)
        return out


UNSUPPORTED_ATTENTION = ("softcap", "s_aux", "sliding_window")


def packed_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention interface for the engine's packed passes."""
    for name in UNSUPPORTED_ATTENTION:
        if kwargs.get(name) is not None:
            raise NotImplementedError(f"the continuous engine has no attention with {name}")
    return current.plan.attend(query, key, value, scaling), None


AttentionInterface.register(PACKED, packed_attention)


class SlotLayer(DynamicLayer):
    """One layer's keys and values in ``[slots, heads, capacity, head_dim]`` buffers."""

    def __init__(self, capacity: list[int]) -> None:
        super().__init__()
        self.capacity = capacity
        """``[slots, positions]`` the buffers hold once they next grow (shared by layers)."""
        self.key_buffer: torch.Tensor | None = None
        self.value_buffer: torch.Tensor | None = None
        self.is_initialized = True

    def reserve(self, like: torch.Tensor) -> None:
        """Make the buffers (shaped after ``like``, ``[_, heads, _, head_dim]``) hold the
        planned slots and positions, keeping what they hold."""
        (slots, positions), old = self.capacity, self.key_buffer
        if old is not None and old.shape[0] >= slots and old.shape[2] >= positions:
            return
        _, heads, _, dim = like.shape
        shape = (slots, heads, positions, dim)
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
        """Write the pass's packed ``[1, heads, tokens, head_dim]`` keys and values at their
        rows' positions; return the whole buffers (the packed attention picks its rows)."""
        self.reserve(key_states)
        assert self.key_buffer is not None and self.value_buffer is not None
        plan: PassPlan = current.plan
        self.key_buffer[plan.slot_index, :, plan.column_index] = key_states[0].transpose(0, 1)
        self.value_buffer[plan.slot_index, :, plan.column_index] = value_states[0].transpose(0, 1)
        return self.key_buffer, self.value_buffer

    def get_seq_length(self) -> int:
        """Not one length: each row has its own (the engine passes position ids)."""
        return 0

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
