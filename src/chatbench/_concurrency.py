"""Running a function over many items on a thread pool with a bounded in-flight window."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_bounded(
    fn: Callable[[Item], Result],
    items: Iterable[Item],
    concurrency: int,
    thread_name: str = "chatbench",
) -> Iterator[Result]:
    """``fn`` over ``items``, ``concurrency`` at a time, yielding results as they finish.

    At most ``2 * concurrency`` items are in flight, so a long (or lazily generated) list of
    items never piles up as futures: memory stays flat. With ``concurrency <= 1`` the items
    run in order in the calling thread.

    Example:
        >>> sorted(map_bounded(lambda x: x * x, range(4), concurrency=2))
        [0, 1, 4, 9]
    """
    if concurrency <= 1:
        yield from (fn(item) for item in items)
        return
    with ThreadPoolExecutor(concurrency, thread_name_prefix=thread_name) as pool:
        in_flight: set[Future[Result]] = set()
        for item in items:
            in_flight.add(pool.submit(fn, item))
            if len(in_flight) >= 2 * concurrency:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in finished)
        for future in as_completed(in_flight):
            yield future.result()
