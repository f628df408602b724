"""An optional Ray executor: the batches of ``run_jobs``, spread over a Ray cluster.

Jobs hold compiled graphs and model objects, which are neither cheap nor always possible to
ship, so each Ray task gets a *shard description* instead: the variant as JSON (its
``GraphSpec``, the model strings of each role and its ablation factors) plus a list of
(question, replicate, seed). The worker rebuilds the variant once per process (local models
load once per worker) and runs each conversation with the same code as ``run_jobs``. The
driver stores each record as its shard comes back, so a rerun resumes like ``run_jobs``.

Every worker must be able to import ``chatbench`` (with the extras its models need), and
persona paths must exist there too; on a local cluster (``address=None``) that holds.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any

from typing_extensions import TypedDict

from chatbench.config import ROLES, GraphSpec
from chatbench.data.questions import Question
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.graphs.builder import DEFAULT_RETRY, retry_policy
from chatbench.records import ConversationRecord, sendable_json
from chatbench.runner.batch import Job, OnRecord, Recorder, Variant, execute_job
from chatbench.runner.build import build_models, is_model_string
from chatbench.storage import ResultStore

Conversation = tuple[dict[str, Any], int, int]
"""One planned conversation of a shard: question (as JSON), replicate, seed."""


class Shard(TypedDict):
    """What one Ray task receives: plain data, no graphs or models."""

    variant: str
    """JSON of ``{"spec": ..., "models": {"user", "assistant", "judge"}, "factors": ...}``;
    also the key of the worker's variant cache."""
    conversations: list[Conversation]


def run_jobs_ray(
    jobs: Sequence[Job],
    *,
    run_id: str,
    store: ResultStore | None = None,
    on_record: OnRecord | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    shard_size: int = 8,
) -> Iterator[ConversationRecord]:
    """Run jobs on a Ray cluster (skipping those already stored), yielding records as their
    shards finish. Each record is stored, in this process, before it is yielded.

    Jobs are sent in shards of ``shard_size`` conversations of one variant; at most twice
    as many shards as the cluster has CPUs are in flight, so memory stays flat. If a task
    fails (a worker died, a model failed to load there), no new shards start, the shards
    in flight are still stored, and then the task's error is raised; a rerun finishes the
    run. Errors inside a conversation do not fail a task: they are recorded, as always.

    Args:
        jobs: Planned conversations (``plan_jobs``); their models must be model strings.
        run_id: Name of the run in the store.
        store: Where records are written as they arrive.
        on_record: Called with each new record (progress display).
        address: Ray cluster to join (``"auto"``, ``"ray://host:10001"``); None starts a
            local one. Ignored, like ``num_cpus``, when Ray is already initialised.
        num_cpus: CPUs of a local cluster (None: all of this machine's).
        shard_size: Conversations per Ray task.

    Returns:
        An iterator of the records of the conversations run now, in finishing order.

    Raises:
        MissingDependencyError: Ray is not installed.
        ConfigError: A variant's model was given as an object rather than a model string.
        ValueError: ``shard_size`` is below 1.
    """
    ray = _import_ray()
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    variants = {id(job.variant): job.variant for job in jobs}
    described = {key: _describe(variant) for key, variant in variants.items()}
    return _run(ray, jobs, described, run_id, store, on_record, address, num_cpus, shard_size)


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("the Ray executor", extra="ray") from None
    return ray


def _describe(variant: Variant) -> str:
    """The variant as JSON a worker can rebuild it from.

    Raises:
        ConfigError: A role's model is an object, or the factors are not JSON values.
    """
    names = variant.models.names
    roles: dict[str, str | None] = {
        role: None if getattr(variant.models, role) is None else names[role] for role in ROLES
    }
    for role, name in roles.items():
        if name is not None and not is_model_string(name):
            raise ConfigError(
                f"variant {variant.spec.name!r}: the Ray executor needs model strings "
                f"(e.g. smollm2, hf:..., openai:..., fake:...), but the {role} model was "
                f"given as an object ({name})"
            )
    data = {
        "spec": variant.spec.model_dump(mode="json"),
        "models": roles,
        "factors": variant.factors,
        "retry": _describe_retry(variant),
        "call_timeout_s": variant.call_timeout_s,
    }
    try:
        return json.dumps(data, sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"variant {variant.spec.name!r}: factors must be JSON ({exc})") from None


def _describe_retry(variant: Variant) -> dict[str, float] | None:
    """The variant's retry policy as the arguments of ``retry_policy`` (None: no retries).

    Raises:
        ConfigError: A policy that ``retry_policy`` did not make (its ``retry_on`` is not
            chatbench's), which a worker could not rebuild.
    """
    retry = variant.retry
    if retry is None:
        return None
    if retry.retry_on is not DEFAULT_RETRY.retry_on:
        raise ConfigError(
            f"variant {variant.spec.name!r}: the Ray executor carries retry policies made by "
            "chatbench.graphs.builder.retry_policy only (max attempts and first wait)"
        )
    return {"max_attempts": retry.max_attempts, "initial_wait_s": retry.initial_interval}


def _shards(jobs: Iterable[Job], described: dict[int, str], size: int) -> Iterator[Shard]:
    """Consecutive jobs of one variant, ``size`` at a time, as plain data."""
    variant = ""
    batch: list[Conversation] = []
    for job in jobs:
        key = described[id(job.variant)]
        if batch and (key != variant or len(batch) >= size):
            yield Shard(variant=variant, conversations=batch)
            batch = []
        variant = key
        batch.append((job.question.model_dump(mode="json"), job.replicate, job.seed))
    if batch:
        yield Shard(variant=variant, conversations=batch)


@functools.lru_cache(maxsize=8)
def _variant(description: str) -> Variant:
    """The variant of a shard, built once per worker process (models load once)."""
    data = json.loads(description)
    spec = GraphSpec.model_validate(data["spec"])
    roles = data["models"]
    models = build_models(spec, roles["user"], roles["assistant"], roles["judge"])
    retry = None if data["retry"] is None else retry_policy(**data["retry"])
    return Variant.build(spec, models, data["factors"], retry, data["call_timeout_s"])


def _run_shard(shard: Shard, run_id: str) -> list[str]:
    """The Ray task: run a shard's conversations in turn, returning records as JSON text
    (a record JSON cannot hold comes back as its error record, as from a worker process)."""
    variant = _variant(shard["variant"])
    return [
        sendable_json(execute_job(Job(Question.model_validate(q), variant, rep, seed), run_id))
        for q, rep, seed in shard["conversations"]
    ]


def _run(
    ray: ModuleType,
    jobs: Sequence[Job],
    described: dict[int, str],
    run_id: str,
    store: ResultStore | None,
    on_record: OnRecord | None,
    address: str | None,
    num_cpus: int | None,
    shard_size: int,
) -> Iterator[ConversationRecord]:
    """The generator behind ``run_jobs_ray``: starts Ray on first use, as ``run_jobs``
    starts its threads."""
    recorder = Recorder(run_id, store, on_record)
    pending = recorder.pending(jobs)

    def finish(row: str) -> ConversationRecord:
        return recorder.finish(ConversationRecord.model_validate_json(row))

    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=num_cpus,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
        )
    yield from _stream(ray, _shards(pending, described, shard_size), run_id, finish)


def _stream(
    ray: ModuleType,
    shards: Iterator[Shard],
    run_id: str,
    finish: Callable[[str], ConversationRecord],
) -> Iterator[ConversationRecord]:
    """Keep about two shards per cluster CPU in flight; finish records as shards arrive.

    After a failed task no new shard starts; the others in flight are still finished, then
    the first failure is raised. Shards still running when the caller stops are cancelled.
    """
    task = ray.remote(_run_shard)
    limit = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    in_flight: list[Any] = []
    failure: BaseException | None = None
    try:
        while True:
            while failure is None and len(in_flight) < limit:
                shard = next(shards, None)
                if shard is None:
                    break
                in_flight.append(task.remote(shard, run_id))
            if not in_flight:
                break
            ready, in_flight = ray.wait(in_flight, num_returns=1)
            try:
                rows: list[str] = ray.get(ready[0])
            except Exception as exc:  # the task failed as a whole: keep the other shards
                failure = failure or exc
                continue
            yield from (finish(row) for row in rows)
    finally:
        for ref in in_flight:
            ray.cancel(ref)
    if failure is not None:
        raise failure
