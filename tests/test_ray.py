"""The Ray executor on a local two-CPU cluster: same records as the thread executor, resumes."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
from langgraph.types import RetryPolicy

ray = pytest.importorskip("ray")

from chatbench import ConfigError, GraphSpec, ResultStore, get_chat_model, load_questions  # noqa: E402
from chatbench.graphs.builder import retry_policy  # noqa: E402
from chatbench.records import ConversationRecord  # noqa: E402
from chatbench.runner.batch import Execution, Job, Variant, execute, plan_jobs  # noqa: E402
from chatbench.runner.build import build_models  # noqa: E402
from chatbench.runner.ray_executor import _shards, run_jobs_ray, run_shard  # noqa: E402
from chatbench.runner.recipe import resolve  # noqa: E402
from tests.conftest import record_essence, stored_ids, variant_a_worker_cannot_build  # noqa: E402

RUN = "ray-test"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local cluster for the module. Module-scoped, so it starts before the function-scoped
    network guard of conftest applies (Ray's startup probes the node address)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024**2,
        )
        try:
            yield
        finally:
            ray.shutdown()


@pytest.fixture
def jobs() -> list[Job]:
    spec = GraphSpec()
    variant = Variant.build(spec, build_models(spec, "fake:user", "fake:echo"))
    return plan_jobs(load_questions(limit=6), [variant], replicates=2, seed=0)


@pytest.mark.slow
def test_ray_matches_threads_and_stores_each_record_once(ray_cluster, jobs, tmp_path):
    seen: list[str] = []
    with ResultStore(tmp_path / "ray.sqlite") as store:
        for record in run_jobs_ray(
            jobs, run_id=RUN, store=store, shard_size=3, on_record=lambda r: seen.append(r.id)
        ):
            assert record.id in store.ids(RUN)  # stored before it is yielded
        stored = {r.id: r for r in store.records(RUN)}
    threaded = {r.id: r for r in execute(jobs, run_id=RUN, execution=Execution(concurrency=2))}
    assert len(jobs) == 12 and sorted(seen) == sorted(threaded)
    assert sorted(stored_ids(tmp_path / "ray.sqlite")) == sorted(job.id(RUN) for job in jobs)
    assert {i: record_essence(r) for i, r in stored.items()} == {
        i: record_essence(r) for i, r in threaded.items()
    }
    assert all(r.stop_reason.value == "accepted" and r.transcript for r in stored.values())


@pytest.mark.slow
def test_ray_resumes_a_partly_stored_run(ray_cluster, jobs, tmp_path):
    path = tmp_path / "resume.sqlite"
    with ResultStore(path) as store:
        first = {r.id for r in execute(jobs[::3], run_id=RUN, store=store)}
        rest = [r.id for r in run_jobs_ray(jobs, run_id=RUN, store=store)]
        again = list(run_jobs_ray(jobs, run_id=RUN, store=store))
    assert len(first) == 4 and len(rest) == 8 and again == []
    assert set(rest) == {job.id(RUN) for job in jobs} - first
    ids = stored_ids(path)
    assert len(ids) == 12 and sorted(ids) == sorted(job.id(RUN) for job in jobs)


class Unpicklable(type(get_chat_model("fake:echo"))):  # type: ignore[misc]
    """A fake chat model that refuses to be pickled (as one holding a client or a lock)."""

    def __reduce__(self):
        raise TypeError("cannot pickle this model")


def test_ray_refuses_a_model_object_it_cannot_send_naming_the_role():
    spec = GraphSpec()
    assistant = Unpicklable(**get_chat_model("fake:echo").model_dump())
    jobs = plan_jobs(load_questions(limit=1), [Variant.build(spec, build_models(
        spec, "fake:user", assistant))], 1, 0)
    with pytest.raises(ConfigError, match="assistant model .* cannot be pickled"):
        list(run_jobs_ray(jobs, run_id=RUN))


@pytest.mark.slow
def test_ray_carries_picklable_model_objects(ray_cluster, tmp_path):
    spec = GraphSpec()
    models = build_models(spec, "fake:user", get_chat_model("fake:echo"))  # an object
    jobs = plan_jobs(load_questions(limit=2), [Variant.build(spec, models)], 1, 0)
    records = list(run_jobs_ray(jobs, run_id=RUN))
    threaded = list(execute(jobs, run_id=RUN))
    assert sorted(map(record_essence, records)) == sorted(map(record_essence, threaded))


@pytest.mark.slow
def test_a_failed_shard_keeps_the_others_then_raises(ray_cluster, jobs, tmp_path):
    broken = variant_a_worker_cannot_build(tmp_path)  # its task fails on the worker
    planned = plan_jobs(load_questions(limit=1), [broken], 1, 0) + jobs[::2]
    with ResultStore(tmp_path / "fail.sqlite") as store:
        with pytest.raises(ConfigError, match="gone.yaml"):
            for _ in run_jobs_ray(planned, run_id=RUN, store=store, shard_size=2):
                pass
        stored = store.ids(RUN)
    assert stored == {job.id(RUN) for job in jobs[::2]}  # every shard in flight was kept


@pytest.mark.parametrize("retry", [retry_policy(5, 0.25), RetryPolicy(max_attempts=2), None])
def test_a_shard_carries_the_variant_with_its_retry_policy_and_call_timeout(retry):
    """What a Ray task receives is pickled: a worker process builds the same variant."""
    spec = GraphSpec()
    models = build_models(spec, "fake:user", "fake:echo", None)
    variant = Variant.build(spec, models, {"persona": None}, retry, call_timeout_s=7.5)
    jobs = plan_jobs(load_questions(limit=3), [variant], 1, 0)
    (shard,) = _shards(iter(jobs), size=8)
    sent = pickle.loads(pickle.dumps(shard))
    (recipe,) = {job.recipe.token: job.recipe for job in sent.unpacked()}.values()
    rebuilt = recipe.build()  # what ``resolve`` does in a worker process
    assert rebuilt.call_timeout_s == 7.5 and rebuilt.factors == {"persona": None}
    assert rebuilt.retry == retry and rebuilt.models.names == variant.models.names
    assert all(job.recipe is None for job in sent.jobs)  # the recipe travels once per shard
    shipped = [ConversationRecord.model_validate_json(row)
               for row in run_shard(sent, RUN, concurrency=3)]
    threaded = list(execute(jobs, run_id=RUN))
    assert sorted(map(record_essence, shipped)) == sorted(map(record_essence, threaded))
    assert resolve(recipe) is resolve(recipe)  # built once per process
