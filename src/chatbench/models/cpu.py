"""The CPUs a local model may use, and what they are (for benchmarks' figures).

Local engines (torch, llama.cpp) size their thread pools from ``cpu_budget``: the CPUs this
process may run on (its affinity mask, and a container's CPU quota), not the machine's core
count. A pool with more threads than the process gets makes its threads wait for each other
at every barrier while one of them is descheduled.
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path

THREADS_ENV = "CHATBENCH_THREADS"
"""Environment variable that overrides the threads of local engines (default: ``cpu_budget``)."""

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")
"""The instruction set flags that change local engines' speed, shown with benchmark figures."""


def _cgroup_quota() -> float | None:
    """CPUs allowed by the cgroup's quota (v2 ``cpu.max``, else v1), None when unlimited."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = Path("/sys/fs/cgroup/cpu")
        quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
        period_us = int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 else quota_us / period_us


def cpu_budget() -> int:
    """How many CPUs this process may use: its affinity mask, capped by a cgroup quota.

    ``$CHATBENCH_THREADS`` overrides it (a positive integer).

    Example:
        >>> cpu_budget() >= 1
        True
    """
    if (env := os.environ.get(THREADS_ENV, "").strip()).isdigit() and int(env) > 0:
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def engine_threads() -> int:
    """Threads of a llama.cpp forward pass: ``$CHATBENCH_THREADS``, else half of
    ``cpu_budget()`` (at least one).

    Why half: llama.cpp's threads meet at a barrier after every operation of a forward pass
    (hundreds per token), and a thread that waits there spins. When another process takes
    one of the CPUs, the thread parked by the scheduler holds up the others at every barrier:
    with 2 threads on 2 CPUs and one busy process beside it, a two-conversation run took
    2.7-3.0x as long, and at a load average near 7 decoding fell from ~80 to 2-4 tokens/s.
    With half the CPUs, a background load of up to half the machine leaves every thread a
    CPU of its own (the same run: 1.1x). On machines with two hardware threads per core,
    half the logical CPUs is the physical cores, llama.cpp's own default. A machine with
    nothing else to do runs faster with ``CHATBENCH_THREADS`` set to all its CPUs.

    Example:
        >>> engine_threads() >= 1
        True
    """
    if (env := os.environ.get(THREADS_ENV, "").strip()).isdigit() and int(env) > 0:
        return int(env)
    return max(1, cpu_budget() // 2)


def cpu_description() -> str:
    """The CPU model, its CPUs and the speed-relevant flags it has, in one line.

    Example:
        >>> cpu_description()  # doctest: +SKIP
        'AMD EPYC, 2 CPUs (budget 2); flags: avx2 avx512f avx512_bf16 avx512_vnni; no AMX'
    """
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    shown = [f for f in CPU_FLAGS if f in flags]
    amx = "" if any(f.startswith("amx") for f in shown) else "; no AMX"
    return (
        f"{model}, {os.cpu_count()} CPUs (budget {cpu_budget()}); "
        f"flags: {' '.join(shown) or 'none of ' + ' '.join(CPU_FLAGS)}{amx}"
    )
