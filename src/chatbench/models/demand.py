"""What the runs in progress will ask of a local engine, for engines that size memory at load.

llama.cpp allocates keys and values for ``slots x tokens per slot`` when a model loads, so it
must know, before the first call, how many calls a run keeps in flight and how long one call
can get. The runner says so around the work it does (``local_demand``): the pipeline's
threads, in whichever process runs jobs, declare their concurrency; the pipeline's core
caps it at the number of jobs (a run of 5 conversations never has more in flight); a
variant's build declares the longest call its graph's limits allow. A model loaded inside
reads ``current_demand()``. Process-wide rather than per thread, so that the worker threads a
run starts see what it declared; where several scopes are open at once (nested, or runs side
by side in one process sharing a loaded model), each figure is the largest in force, and the
slots at most the smallest cap.
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


@dataclass(frozen=True, eq=False)
class _Scope:
    slots: int | None
    tokens: int | None
    slots_at_most: int | None


_lock = threading.Lock()
_open: list[_Scope] = []
"""The scopes open now."""


@contextmanager
def local_demand(slots: int | None = None, tokens: int | None = None,
                 slots_at_most: int | None = None) -> Iterator[None]:
    """Declare, for models loaded inside the block, ``slots`` calls in flight, calls of up
    to ``tokens`` tokens, or that no more than ``slots_at_most`` calls are ever in flight.

    Example:
        >>> with local_demand(slots=4):
        ...     with local_demand(tokens=3000):
        ...         print(current_demand())
        ...         with local_demand(slots_at_most=2):
        ...             print(current_demand())
        LocalDemand(slots=4, tokens=3000)
        LocalDemand(slots=2, tokens=3000)
        >>> current_demand()
        LocalDemand(slots=None, tokens=None)
    """
    scope = _Scope(slots, tokens, slots_at_most)
    with _lock:
        _open.append(scope)
    try:
        yield
    finally:
        with _lock:
            _open.remove(scope)  # by identity: scopes are never equal to one another


def current_demand() -> LocalDemand:
    """The largest of each figure declared in the scopes open now, the slots capped at the
    smallest ``slots_at_most``."""
    with _lock:
        slots = max((o.slots for o in _open if o.slots is not None), default=None)
        tokens = max((o.tokens for o in _open if o.tokens is not None), default=None)
        cap = min((o.slots_at_most for o in _open if o.slots_at_most is not None),
                  default=None)
    if slots is not None and cap is not None:
        slots = max(1, min(slots, cap))
    return LocalDemand(slots, tokens)
