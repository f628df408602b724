"""``benchmarks/contention.py``'s summary: the fair-share bound and the per-token slowdown,
from runs made up here (the benchmark itself is not run)."""

from __future__ import annotations

import math

import pytest

from tests.conftest import benchmark_module


@pytest.fixture(scope="module")
def contention():
    yield from benchmark_module("contention")


def run(contention, loaded: bool, seconds: float, tokens: int, cpus: float):
    return contention.Run(loaded, 2.0, seconds, seconds * cpus, tokens, 0, (0.5, 0.5))


def values(lines: list[str]) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in lines if line.startswith(("fair", "slowdown")))


@pytest.mark.parametrize(
    ("quiet_cpus", "cpus", "busy", "expected"),
    [
        (2.0, 2, 1, 1.5),  # 2 threads, 1 busy process, 2 CPUs: 4/3 of a CPU
        (1.0, 2, 1, 1.0),  # one thread keeps a CPU of its own
        (1.6, 2, 1, 1.2),  # a run that leaves CPU idle alone loses less
        (4.0, 4, 2, 1.5),  # 4 threads beside 2: 8/3 CPUs
        (2.0, 8, 2, 1.0),  # room for everyone
    ],
)
def test_fair_share_slowdown(contention, quiet_cpus, cpus, busy, expected):
    assert contention.fair_share_slowdown(quiet_cpus, cpus, busy) == pytest.approx(expected)


def test_slowdown_is_per_generated_token_and_printed_last(contention):
    runs = [
        run(contention, False, 20.0, 1000, 1.9),
        run(contention, True, 30.0, 1200, 1.3),  # more tokens: 25 ms each, not 30
        run(contention, False, 22.0, 1000, 1.8),
        run(contention, True, 33.0, 1000, 1.3),
        run(contention, False, 21.0, 1000, 1.9),
        run(contention, True, 32.0, 1100, 1.3),
    ]
    lines = contention.summary_lines(runs, cpus=2, busy=1)
    assert lines[-1].startswith("slowdown: ")
    found = values(lines)
    # median ms/token: quiet 21, loaded 29.09 (32 s / 1,100)
    assert float(found["slowdown"]) == pytest.approx(32 / 1100 / 0.021, abs=0.005)
    assert float(found["fair_share_slowdown"]) == pytest.approx(1.9 / (4 / 3), abs=0.005)
    assert "CPUs busy: quiet 1.90, loaded 1.30" in lines[0]


def test_no_loaded_run_is_not_a_slowdown(contention):
    lines = contention.summary_lines([run(contention, False, 20.0, 1000, 1.9)], cpus=2, busy=1)
    assert lines == ["slowdown: n/a (needs a quiet and a loaded run)"]
    assert math.isnan(contention.Run(True, 1.0, 5.0, 5.0, 0, 1, (0, 0)).seconds_per_token)
