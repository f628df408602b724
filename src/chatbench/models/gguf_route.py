"""Which of several llama.cpp loops takes a request: the one that saw its prefix, if not busier.

chatbench can run one GGUF model as several independent loops (shards), each single-threaded
with its own slots: they share no barrier, so a busy CPU slows each of them only by the share
it takes. A conversation's next call extends its previous prompt, and only the loop that ran
that prompt holds its keys and values; so a request goes to the loop that ran the longest
prefix of it, unless that loop has more than one request more in flight than the least busy
one (then it goes there, and prefills what it lacks), or unless that loop's slots are all
taken while another loop has one free (a request beyond a loop's slots waits in its queue).

Prefixes are matched by the hashes of the text's first ``STEP``, ``2 * STEP``, ... characters.
Conversations that share a system prompt match each other's loop on that prefix; the load
rule still spreads them over the loops, and the loop a new one joins has that prefix cached.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

STEP = 64
"""Characters between the prefix cut points that are hashed."""
REMEMBERED = 65_536
"""Prefix hashes kept (least recently used first out)."""


class PrefixRouter:
    """Routes requests over ``shards`` loops (thread-safe).

    Example:
        >>> router = PrefixRouter(2)
        >>> with router.route("a prompt") as shard:
        ...     shard
        0
    """

    def __init__(self, shards: int, capacity: int | None = None) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, not {shards}")
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.shards = shards
        self.capacity = capacity
        """Slots of each loop (None: unbounded): a full home loop is passed over for one with
        a free slot."""
        self.in_flight = [0] * shards
        self._homes: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _cuts(text: str) -> list[int]:
        """Hashes of ``text``'s prefixes at every ``STEP`` characters, longest last (CRC-32,
        chained: the same in every process, and linear in the text's length)."""
        cuts, crc = [], 0
        for start in range(0, len(text) - STEP + 1, STEP):
            crc = zlib.crc32(text[start : start + STEP].encode(), crc)
            cuts.append(crc)
        return cuts

    def pick(self, text: str) -> int:
        """The shard for ``text``, counted as in flight until ``done``."""
        cuts = self._cuts(text)
        with self._lock:
            least = min(range(self.shards), key=self.in_flight.__getitem__)
            shard = least
            for key in reversed(cuts):
                home = self._homes.get(key)
                if home is not None:
                    cap = self.capacity
                    full = cap is not None and self.in_flight[home] >= cap > self.in_flight[least]
                    if self.in_flight[home] <= self.in_flight[least] + 1 and not full:
                        shard = home
                    break
            for key in cuts:
                self._homes[key] = shard
                self._homes.move_to_end(key)
            while len(self._homes) > REMEMBERED:
                self._homes.popitem(last=False)
            self.in_flight[shard] += 1
        return shard

    def done(self, shard: int) -> None:
        """A request ``pick`` gave ``shard`` has ended."""
        with self._lock:
            self.in_flight[shard] -= 1

    @contextmanager
    def route(self, text: str) -> Iterator[int]:
        """``pick`` for the duration of a ``with`` block."""
        shard = self.pick(text)
        try:
            yield shard
        finally:
            self.done(shard)
