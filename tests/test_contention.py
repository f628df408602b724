"""Thread sizing of local engines from the CPUs a process may use (``chatbench.models.cpu``)."""

from __future__ import annotations

import os

import pytest

from chatbench.models import cpu


def test_the_budget_is_the_affinity_mask_unless_overridden(monkeypatch):
    monkeypatch.delenv(cpu.THREADS_ENV, raising=False)
    monkeypatch.setattr(cpu, "_cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert cpu.cpu_budget() == 4
    assert cpu.engine_threads() == 2  # half: a busy neighbour leaves each thread a CPU
    monkeypatch.setattr(cpu, "_cgroup_quota", lambda: 1.5)  # a container's quota caps it
    assert cpu.cpu_budget() == 2
    assert cpu.engine_threads() == 1
    monkeypatch.setenv(cpu.THREADS_ENV, "3")
    assert cpu.cpu_budget() == 3
    assert cpu.engine_threads() == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_a_bad_thread_count_falls_back_to_the_default(monkeypatch, value):
    monkeypatch.setenv(cpu.THREADS_ENV, value)
    monkeypatch.setattr(cpu, "_cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert cpu.cpu_budget() == 2
    assert cpu.engine_threads() == 1


def test_the_description_names_the_cpu_and_its_flags():
    line = cpu.cpu_description()
    assert "CPUs (budget" in line and "flags:" in line


def test_a_conversation_stays_on_the_loop_that_has_its_prefix():
    from chatbench.models.gguf_route import STEP, PrefixRouter

    router = PrefixRouter(2)
    first = "system: question A. " * 20
    second = "system: question B. " * 20
    a = router.pick(first)
    b = router.pick(second)  # the other loop: the first is busy
    assert {a, b} == {0, 1}
    router.done(a)
    router.done(b)
    for _ in range(3):  # later calls extend the prompt: same loop, whatever else is idle
        first += "user: more. " * 10
        with router.route(first) as shard:
            assert shard == a
    assert router.pick(second + "x" * STEP) == b


def test_a_loop_that_is_busier_by_two_is_passed_over():
    from chatbench.models.gguf_route import PrefixRouter

    router = PrefixRouter(2)
    prompt = "a long shared prefix " * 20
    home = router.pick(prompt)
    assert router.pick(prompt + "one") == home  # busier by one: still home
    assert router.pick(prompt + "two") != home  # busier by two: the other loop
    assert router.in_flight == ([2, 1] if home == 0 else [1, 2])
