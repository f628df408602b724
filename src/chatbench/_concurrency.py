"""Threads: calls with a timeout that no other call can starve. (Jobs run on threads
through ``chatbench.runner.pipeline.run_in_threads``.)"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin before 3.11
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class CallTimedOut(Exception):
    """A call run by ``call_with_timeout`` ran longer than its timeout."""


class _Call(Generic[Result]):
    """One call handed to a ``DaemonThreads`` thread: when it started, and its outcome."""

    def __init__(self, fn: Callable[[], Result]) -> None:
        self.fn = fn
        self.outcome: Future[Result] = Future()
        self.started = threading.Event()
        self.started_at = 0.0

    def run(self) -> None:
        self.started_at = time.monotonic()
        self.started.set()
        try:
            result = self.fn()
        except BaseException as exc:  # handed to the caller, who raises it in its own thread
            self.outcome.set_exception(exc)
        else:
            self.outcome.set_result(result)


class DaemonThreads:
    """Runs each submitted call at once on a daemon thread of its own.

    An idle thread is reused; when none is idle a new one starts, so no call ever waits for a
    slot. Unlike a ``ThreadPoolExecutor``, a call that never returns holds only its own
    thread, never one that a later call needs, and the threads are daemons, so such a call
    does not keep the process alive once the main thread is done (nor a worker process: a
    fixed pool's threads are joined at exit). Threads idle for ``idle_s`` end.
    """

    def __init__(self, name: str, idle_s: float = 10.0) -> None:
        self._name = name
        self._idle_s = idle_s
        self._numbers = itertools.count(1)
        self._reset()
        # A forked child has none of the parent's threads: it must not count on them.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a call that no submitter has claimed yet
        self._handoff: queue.SimpleQueue[_Call[object]] = queue.SimpleQueue()

    def submit(self, call: _Call[Result]) -> None:
        """Start ``call`` now: on an idle thread (claimed here) or a new one."""
        with self._lock:
            reuse = self._idle > 0
            if reuse:
                self._idle -= 1
        if reuse:
            self._handoff.put(call)  # type: ignore[arg-type]  # the queue holds any _Call
            return
        name = f"{self._name}-{next(self._numbers)}"
        threading.Thread(target=self._work, args=(call,), name=name, daemon=True).start()

    def _work(self, call: _Call[object]) -> None:
        while True:
            call.run()
            with self._lock:
                self._idle += 1
            next_call = self._next()
            if next_call is None:
                return
            call = next_call

    def _next(self) -> _Call[object] | None:
        """The next call handed to this thread, or None when it may end (idle too long)."""
        while True:
            try:
                return self._handoff.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    # Each claim takes one from ``_idle`` before its call is handed over, so
                    # with ``_idle > 0`` the waiting threads outnumber the calls on their way
                    # and this one can go; with 0, a call is coming for some waiting thread.
                    if self._idle > 0:
                        self._idle -= 1
                        return None


_TIMED_CALLS = DaemonThreads("chatbench-call")


def call_with_timeout(fn: Callable[[], Result], timeout_s: float) -> Result:
    """``fn()`` on a daemon thread, waiting at most ``timeout_s`` from when it starts.

    The timeout measures the call alone: it starts at once on a thread of its own, so no
    other call (however many hang) delays it. A call cannot be cancelled; one that times out
    finishes in the background and its result is dropped.

    Raises:
        CallTimedOut: ``fn`` ran longer than ``timeout_s``.
        Exception: Whatever ``fn`` raised.

    Example:
        >>> call_with_timeout(lambda: 6 * 7, timeout_s=1.0)
        42
    """
    call = _Call(fn)
    _TIMED_CALLS.submit(call)
    try:  # the call starts no earlier than now, so this never gives up too soon
        return call.outcome.result(timeout=timeout_s)
    except FutureTimeout:
        pass
    call.started.wait()  # long since, unless its thread was slow to start
    remaining = call.started_at + timeout_s - time.monotonic()
    try:
        return call.outcome.result(timeout=max(remaining, 0.0))
    except FutureTimeout:
        if call.outcome.done():  # finished just as the wait ran out, or fn raised it
            return call.outcome.result()
        raise CallTimedOut(f"call took longer than {timeout_s:g} s") from None
