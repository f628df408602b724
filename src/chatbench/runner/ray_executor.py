"""An optional Ray executor: the jobs of a run spread over a Ray cluster.

Each Ray task gets a *shard*: consecutive jobs of one variant, with the variant's
``Recipe`` (plain data: spec, persona, model strings or picklable model objects, factors,
retry policy) sent once. The worker builds the variant once per process (``resolve``: local
models load once per worker, never in the driver) and runs the shard's jobs on
``concurrency`` threads, so calls to a local model are batched as in the thread executor.
The driver stores each record as its shard comes back, so a rerun resumes as with threads.

Every worker must be able to import ``chatbench`` (with the extras its models need); on a
local cluster (``address=None``) that holds.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from chatbench.config import DEFAULT_CONCURRENCY
from chatbench.errors import MissingDependencyError
from chatbench.runner.pipeline import (
    OnRecord,
    RecordKind,
    Task,
    execute,
    run_in_threads,
    windowed,
)
from chatbench.runner.recipe import Recipe
from chatbench.storage import ResultStore


@dataclass(frozen=True)
class Shard:
    """What one Ray task receives: a recipe, pickled (so that a worker that cannot rebuild
    it fails with the recipe's own error, not Ray's), and jobs of it (``recipe`` left out)."""

    token: str
    recipe: bytes
    jobs: list[Any]

    def unpacked(self) -> list[Any]:
        """The jobs with their recipe, unpickled once per worker process."""
        if self.token not in _recipes:
            _recipes[self.token] = pickle.loads(self.recipe)
        return [replace(job, recipe=_recipes[self.token]) for job in self.jobs]


_recipes: dict[str, Recipe] = {}
"""A worker's recipes by token (a handful per run)."""


@dataclass(frozen=True)
class RayExecutor:
    """Jobs as Ray tasks of ``shard_size`` jobs of one variant, each task running
    ``concurrency`` of them at once. At most two shards per cluster CPU are in flight, so
    memory stays flat. If a task fails (a worker died, a model failed to load there), no new
    shards start, the shards in flight are still stored, and then the error is raised.

    ``address``: the cluster to join (``"auto"``, ``"ray://host:10001"``); None starts a
    local one. Ignored, like ``num_cpus``, when Ray is already initialised.
    """

    address: str | None = None
    num_cpus: int | None = None
    shard_size: int = 8
    concurrency: int = DEFAULT_CONCURRENCY

    def check(self, jobs: Sequence[Task]) -> None:
        """Refuse what Ray cannot carry.

        Raises:
            MissingDependencyError: Ray is not installed.
            ConfigError: A model object that cannot be pickled.
            ValueError: ``shard_size`` is below 1.
        """
        _import_ray()
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {self.shard_size}")
        for recipe in {job.recipe.token: job.recipe for job in jobs}.values():
            recipe.check_portable("Ray")

    def map(self, jobs: Iterator[Task], run_id: str, kind: RecordKind[Any]) -> Iterator[Any]:
        """Records of ``jobs`` as their shards finish; Ray starts on first use."""
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=self.num_cpus, include_dashboard=False,
                     ignore_reinit_error=True, log_to_driver=False)
        task = ray.remote(run_shard)
        limit = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        in_flight: list[Any] = []

        def start(shard: Shard) -> None:
            in_flight.append(task.remote(shard, run_id, self.concurrency))

        def next_done() -> list[Any]:
            ready, rest = ray.wait(in_flight, num_returns=1)
            in_flight[:] = rest
            return [kind.record_type.model_validate_json(row) for row in ray.get(ready[0])]

        try:
            yield from windowed(_shards(jobs, self.shard_size), start, next_done, limit)
        finally:
            for ref in in_flight:  # still running when the caller stopped
                ray.cancel(ref)


def run_jobs_ray(
    jobs: Sequence[Task],
    *,
    run_id: str,
    store: ResultStore | None = None,
    on_record: OnRecord | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    shard_size: int = 8,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Iterator[Any]:
    """``execute`` on a ``RayExecutor``: records as their shards finish, each stored (in
    this process) before it is yielded; jobs already stored are skipped.

    Raises:
        MissingDependencyError: Ray is not installed.
        ConfigError: A model object cannot be pickled.
        ValueError: ``shard_size`` is below 1.
    """
    return execute(jobs, RayExecutor(address, num_cpus, shard_size, concurrency),
                   run_id=run_id, store=store, on_record=on_record)


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("the Ray executor", extra="ray") from None
    return ray


def _shards(jobs: Iterable[Task], size: int) -> Iterator[Shard]:
    """Consecutive jobs of one variant, ``size`` at a time."""
    pickled: dict[str, bytes] = {}
    token = ""
    batch: list[Any] = []
    for job in jobs:
        if batch and (job.recipe.token != token or len(batch) >= size):
            yield Shard(token, pickled[token], batch)
            batch = []
        token = job.recipe.token
        if token not in pickled:
            pickled[token] = pickle.dumps(job.recipe)
        batch.append(replace(job, recipe=None))  # type: ignore[type-var]  # a dataclass
    if batch:
        yield Shard(token, pickled[token], batch)


def run_shard(shard: Shard, run_id: str, concurrency: int) -> list[str]:
    """The Ray task: run a shard's jobs, ``concurrency`` at a time, returning records as
    JSON text (a record JSON cannot hold comes back as its failed record)."""
    jobs = shard.unpacked()
    return [job_json for job_json in run_in_threads(
        lambda job: job.record_kind.sendable_json(job.run(run_id)), jobs, concurrency,
        "chatbench-ray")]
