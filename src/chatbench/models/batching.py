"""Dynamic micro-batching: calls from concurrent conversations gathered into one batch.

Each conversation runs in its own thread and calls the model as if it were alone; the
batcher holds the first request for a short window (or until the batch is full), then runs
every waiting request with the same key (e.g. the same stop strings) in one call.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """Runs ``run(key, items)`` on batches gathered from many threads.

    Args:
        run: Processes one batch; returns one result per item, in order.
        max_batch: Most items per batch.
        wait_s: How long the first waiting item waits for others to join its batch.

    Example:
        >>> batcher = MicroBatcher(lambda key, xs: [x * 2 for x in xs], max_batch=4)
        >>> batcher.submit("k", [1, 2])
        [2, 4]
    """

    def __init__(
        self,
        run: Callable[[Hashable, list[Item]], Sequence[Result]],
        max_batch: int = 16,
        wait_s: float = 0.02,
    ) -> None:
        self.run = run
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._pending: list[tuple[Hashable, Item, Future[Result]]] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None
        self.batch_sizes: deque[int] = deque(maxlen=100_000)
        """Sizes of the latest batches (for benchmarks and tests; bounded, so a long run's
        memory stays flat)."""

    def submit(self, key: Hashable, items: Sequence[Item]) -> list[Result]:
        """Queue ``items`` and block until their batch has run; exceptions propagate."""
        futures: list[Future[Result]] = [Future() for _ in items]
        with self._ready:
            self._pending.extend((key, item, f) for item, f in zip(items, futures, strict=True))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, daemon=True,
                                                name="chatbench-batcher")
                self._worker.start()
            self._ready.notify_all()
        return [f.result() for f in futures]

    def _take_batch(self) -> tuple[Hashable, list[tuple[Item, Future[Result]]]]:
        with self._ready:
            while not self._pending:
                self._ready.wait()
            deadline = time.monotonic() + self.wait_s
            while len(self._pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._ready.wait(left)
            key = self._pending[0][0]
            batch = [(item, f) for k, item, f in self._pending if k == key][: self.max_batch]
            taken = {id(f) for _, f in batch}
            self._pending = [p for p in self._pending if id(p[2]) not in taken]
        return key, batch

    def _loop(self) -> None:
        while True:
            key, batch = self._take_batch()
            self.batch_sizes.append(len(batch))
            try:
                results = self.run(key, [item for item, _ in batch])
            except BaseException as exc:  # delivered to every caller of the batch
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
