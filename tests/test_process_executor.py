"""The process executor: same records as threads, each stored once by the parent, resumes."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from langchain_core.language_models import (
    BaseChatModel,
    FakeListChatModel,
    GenericFakeChatModel,
)

from chatbench import ConfigError, GraphSpec, ResultStore, RunConfig, StopReason, load_questions
from chatbench.graphs.builder import retry_policy
from chatbench.runner.batch import Job, Variant, execute, plan_jobs, run
from chatbench.runner.build import Models, build_models
from chatbench.runner.process_executor import run_jobs_process
from tests.conftest import kill_9_after, record_essence, stored_ids, variant_a_worker_cannot_build

RUN = "process-test"
NO_RETRY = retry_policy(max_attempts=1)


def _variant(user: Any = "fake:user", assistant: Any = "fake:echo", **spec: Any) -> Variant:
    graph_spec = GraphSpec(**spec)
    return Variant.build(graph_spec, build_models(graph_spec, user, assistant), retry=NO_RETRY)


@pytest.fixture
def jobs() -> list[Job]:
    return plan_jobs(load_questions(limit=6), [_variant()], replicates=2, seed=0)


def test_process_matches_threads_and_stores_each_record_once(jobs, tmp_path):
    seen: list[str] = []
    with ResultStore(tmp_path / "p.sqlite") as store:
        for record in run_jobs_process(jobs, run_id=RUN, store=store, processes=2,
                                       on_record=lambda r: seen.append(r.id)):
            assert record.id in store.ids(RUN)  # stored before it is yielded
        stored = {r.id: r for r in store.records(RUN)}
    threaded = {r.id: r for r in execute(jobs, run_id=RUN)}
    assert len(jobs) == 12 and sorted(seen) == sorted(threaded)
    assert sorted(stored_ids(tmp_path / "p.sqlite")) == sorted(job.id(RUN) for job in jobs)
    assert {i: record_essence(r) for i, r in stored.items()} == {
        i: record_essence(r) for i, r in threaded.items()
    }
    assert all(r.stop_reason is StopReason.ACCEPTED and r.transcript for r in stored.values())


def test_process_resumes_a_partly_stored_run(jobs, tmp_path):
    path = tmp_path / "resume.sqlite"
    with ResultStore(path) as store:
        first = {r.id for r in execute(jobs[::3], run_id=RUN, store=store)}
        rest = [r.id for r in run_jobs_process(jobs, run_id=RUN, store=store, processes=2,
                                               concurrency=3)]
        again = list(run_jobs_process(jobs, run_id=RUN, store=store))
    assert len(first) == 4 and len(rest) == 8 and again == []
    assert set(rest) == {job.id(RUN) for job in jobs} - first
    ids = stored_ids(path)
    assert len(ids) == 12 and sorted(ids) == sorted(job.id(RUN) for job in jobs)


def test_failing_model_is_recorded_as_failed(tmp_path):
    jobs = plan_jobs(load_questions(limit=3), [_variant(assistant="fake:fail")], 1, 0)
    records = list(run_jobs_process(jobs, run_id=RUN, processes=2))
    assert len(records) == 3
    assert all(r.stop_reason is StopReason.ERROR for r in records)
    assert all("ConnectionError: fake:fail always fails" in (r.error or "") for r in records)
    assert all(r.transcript[0].role == "user" for r in records)  # the transcript so far


def test_unpicklable_model_object_is_a_clear_error():
    assistant = GenericFakeChatModel(messages=(m for m in ["Hello"]))  # a generator: no pickle
    jobs = plan_jobs(load_questions(limit=1), [_variant(assistant=assistant)], 1, 0)
    with pytest.raises(ConfigError, match=r"the assistant model \(the 'assistant' argument"):
        run_jobs_process(jobs, run_id=RUN)


def test_picklable_model_object_is_sent_to_the_workers():
    assistant = FakeListChatModel(responses=["I think it is B."])
    variant = _variant(user="fake:say:Answer: B", assistant=assistant)
    jobs = plan_jobs(load_questions(limit=2), [variant], 1, 0)
    records = list(run_jobs_process(jobs, run_id=RUN, processes=1))
    threaded = list(execute(jobs, run_id=RUN))
    assert sorted(map(record_essence, records)) == sorted(map(record_essence, threaded))
    assert records[0].models["assistant"].startswith("FakeListChatModel")


def test_a_variant_a_worker_cannot_build_keeps_the_others_then_raises(jobs, tmp_path):
    broken = variant_a_worker_cannot_build(tmp_path, NO_RETRY)  # a worker cannot build it
    planned = plan_jobs(load_questions(limit=1), [broken], 1, 0) + jobs[::2]
    with ResultStore(tmp_path / "fail.sqlite") as store:
        with pytest.raises(ConfigError, match="gone.yaml"):
            for _ in run_jobs_process(planned, run_id=RUN, store=store, processes=2):
                pass
        stored = store.ids(RUN)
    assert stored == {job.id(RUN) for job in jobs[::2]}  # every conversation in flight kept


class ExitingChatModel(BaseChatModel):
    """A model whose call kills its process, as an out-of-memory kill would."""

    @property
    def _llm_type(self) -> str:
        return "exiting-test"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                  **kw: Any) -> Any:
        os._exit(3)


def test_a_dead_worker_is_an_error_not_a_hang():
    jobs = plan_jobs(load_questions(limit=2), [_variant(assistant=ExitingChatModel())], 1, 0)
    with pytest.raises(RuntimeError, match="exited with code 3"):
        list(run_jobs_process(jobs, run_id=RUN, processes=1))


def test_local_models_warn_that_each_worker_loads_its_own_copy(jobs):
    variant = jobs[0].variant
    names = {**variant.models.names, "assistant": "hf:some/local-model"}
    local = Variant(variant.spec, Models(variant.models.user, variant.models.assistant, None,
                                         names), None, variant.graph)
    with pytest.warns(UserWarning, match="loads the local model hf:some/local-model in each"):
        run_jobs_process([Job(jobs[0].question, local, 0, 0)], run_id=RUN, processes=2)


@pytest.mark.slow
def test_kill_9_then_resume_with_processes_stores_each_conversation_once(tmp_path):
    out = tmp_path / "killed.sqlite"
    command = [sys.executable, "-m", "chatbench.cli", "run", "--user", "fake:user@0.01",
               "--assistant", "fake:echo@0.01", "--limit", "30", "--replicates", "2",
               "--executor", "process", "--processes", "2", "--concurrency", "2",
               "--out", str(out)]
    before = kill_9_after(command, out, rows=8)
    assert 8 <= len(before) < 60, "the run should have been killed part-way"

    with ResultStore(out) as store:  # what ``chatbench run --resume`` does, in this process
        (stored,) = store.runs()
    config = {**stored.config, "out": out, "run_id": stored.run_id, "executor": "process"}
    run(RunConfig.model_validate(config))
    after = stored_ids(out)
    assert len(after) == 60 and len(set(after)) == 60 and set(before) <= set(after)
