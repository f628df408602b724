"""What the runs in progress will ask of a local engine, for engines that size memory at load.

llama.cpp allocates keys and values for ``slots x tokens per slot`` when a model loads, so it
must know, before the first call, how many calls a run keeps in flight and how long one call
can get. The runner says so around the work it does (``local_demand``): the pipeline's
threads, in whichever process runs jobs, declare their concurrency; a variant's build
declares the longest call its graph's limits allow. A model loaded inside reads
``current_demand()``. Process-wide rather than per thread, so that the worker threads a run
starts see what it declared; where several scopes are open at once (nested, or runs side by
side in one process sharing a loaded model), each figure is the largest in force.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class LocalDemand:
    """What local engines are asked for; None: nobody said."""

    slots: int | None = None
    """Calls in flight at once (a run's concurrency: each conversation makes one at a time)."""
    tokens: int | None = None
    """The most tokens one call can hold, prompt and reply."""


_lock = threading.Lock()
_open: list[LocalDemand] = []


@contextmanager
def local_demand(slots: int | None = None, tokens: int | None = None) -> Iterator[None]:
    """Declare, for models loaded inside the block, ``slots`` calls in flight and calls of up
    to ``tokens`` tokens.

    Example:
        >>> with local_demand(slots=4):
        ...     with local_demand(tokens=3000):
        ...         current_demand()
        LocalDemand(slots=4, tokens=3000)
        >>> current_demand()
        LocalDemand(slots=None, tokens=None)
    """
    entry = LocalDemand(slots, tokens)
    with _lock:
        _open.append(entry)
    try:
        yield
    finally:
        with _lock:
            for i, other in enumerate(_open):
                if other is entry:
                    del _open[i]
                    break


def current_demand() -> LocalDemand:
    """The largest of each figure declared in the scopes open now."""
    with _lock:
        slots = [d.slots for d in _open if d.slots is not None]
        tokens = [d.tokens for d in _open if d.tokens is not None]
    return LocalDemand(max(slots, default=None), max(tokens, default=None))
