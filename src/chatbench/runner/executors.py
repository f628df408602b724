"""Executors by name: the registry of ``JobExecutor`` plug-ins (threads, processes, Ray).

The process and Ray executors are imported only when asked for (Ray is an optional extra).
"""

from __future__ import annotations

from typing import Literal

from chatbench.config import DEFAULT_CONCURRENCY
from chatbench.runner.pipeline import JobExecutor, ThreadExecutor

ExecutorName = Literal["thread", "process", "ray"]


def make_executor(
    name: ExecutorName = "thread",
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    processes: int | None = None,
    ray_address: str | None = None,
) -> JobExecutor:
    """The executor ``name``: threads in this process, worker processes on this machine
    (``processes`` of them, each running ``concurrency`` jobs at once) or Ray tasks (a local
    cluster, or the one at ``ray_address``, each task running ``concurrency`` at once).

    Raises:
        ValueError: An unknown name.
    """
    if name == "thread":
        return ThreadExecutor(concurrency)
    if name == "process":
        from chatbench.runner.process_executor import ProcessExecutor

        return ProcessExecutor(concurrency, processes)
    if name == "ray":
        from chatbench.runner.ray_executor import RayExecutor

        return RayExecutor(ray_address, concurrency=concurrency)
    raise ValueError(f"unknown executor {name!r}: expected thread, process or ray")
