"""A prefix cache: keys and values of earlier token sequences, found by longest common prefix.

A conversation's next model call starts with its previous prompt and reply, and calls of one
run share system prompts; the continuous batcher (``engine.py``) prefills only what the
longest cached prefix lacks.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

KV = list[tuple[torch.Tensor, torch.Tensor]]
"""Keys and values of every layer, each ``[batch, heads, positions, head_dim]``."""


class PrefixCache:
    """Keys and values of earlier sequences, found by their longest common token prefix.

    Args:
        max_bytes: Most bytes of tensors kept; the least recently used entries go first.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[int, tuple[torch.Tensor, KV, int]] = OrderedDict()
        self._next_key = 0

    def __len__(self) -> int:
        return len(self._entries)

    def longest(self, ids: torch.Tensor) -> tuple[int, KV | None]:
        """The entry sharing the longest prefix with ``ids`` (at most ``len(ids) - 1``: the
        last prompt token is always run, for its logits), and that length."""
        best, best_key = 0, None
        for key, (entry_ids, _, _) in self._entries.items():
            n = min(len(entry_ids), len(ids) - 1)
            if n <= best:
                continue
            same = entry_ids[:n] == ids[:n]
            match = n if bool(same.all()) else int(same.to(torch.int8).argmin())
            if match > best:
                best, best_key = match, key
        if best_key is None:
            return 0, None
        self._entries.move_to_end(best_key)
        return best, self._entries[best_key][1]

    def put(self, ids: torch.Tensor, kv: KV) -> None:
        """Keep ``kv`` (for the tokens ``ids``); entries that are a prefix of it go."""
        size = sum(k.nbytes + v.nbytes for k, v in kv)
        if size > self.max_bytes:
            return
        for key, (entry_ids, _, _) in list(self._entries.items()):
            if len(entry_ids) <= len(ids) and bool((entry_ids == ids[: len(entry_ids)]).all()):
                self._drop(key)
        self._entries[self._next_key] = (ids, kv, size)
        self._next_key += 1
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self.bytes = 0

    def _drop(self, key: int) -> None:
        self.bytes -= self._entries.pop(key)[2]
