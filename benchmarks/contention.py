"""Slowdown of a small local run when a bounded background load takes part of the CPU.

The same small run (``--questions`` conversations of the ``--graph`` preset, ``quick`` by
default as in ``chatbench run``, both roles on ``--model``) runs in a fresh process,
alternately on its own and beside ``--busy`` background processes that each keep one CPU busy
(default: half of the CPUs this process may use). Each background process ends with the loaded
run, or after ``--busy-limit`` seconds at the latest. A thread pool that spin-waits for threads
the scheduler has parked takes far longer than its share of the CPU explains.

Usage::

    python benchmarks/contention.py [--engine llamacpp|torch] [--rounds 3] [--questions 5]
                                    [--concurrency 8] [--busy N] [--threads N]

Prints the CPU (model, flags, AMX or not), each run's seconds, generated tokens, the CPUs it
kept busy (its CPU time over its wall time) and load averages, then:

- ``fair_share_slowdown: X``: the slowdown a fair scheduler alone explains. Alone the run keeps
  U CPUs busy (its median); that is k = round(U) busy threads, and beside B busy processes on
  N CPUs a fair scheduler gives those threads N k / (k + B) CPUs (k when they all fit), so the
  run cannot be less than U / that share slower without taking more than its share;
- ``slowdown: X`` (last): the median loaded run's seconds per generated token over the median
  quiet run's. Per token, because batched greedy decoding does not write exactly the same
  tokens in every run (a near-tie breaks differently in another batch); model loading is
  excluded (its median is shown apart).

Other processes on the machine add to both kinds of run; the load averages printed with each
figure show how much.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from chatbench.models.cpu import THREADS_ENV, cpu_budget, cpu_description

CHILD = """
import json, sys, time
started = time.perf_counter()
from chatbench import load_questions, run_conversations
from chatbench.config import load_graph_spec
from chatbench.models.registry import get_chat_model
model, graph, questions, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
get_chat_model(model).invoke("Hi", max_tokens=1, temperature=0)  # load, and warm up
loaded, cpu = time.perf_counter(), time.process_time()
records = run_conversations(load_questions(limit=questions), load_graph_spec(graph), user=model,
                            assistant=model, concurrency=concurrency)
done, cpu = time.perf_counter(), time.process_time() - cpu
tokens = sum(t["output_tokens"] or 0 for r in records for t in r.timings)
print(json.dumps({"load_s": loaded - started, "run_s": done - loaded, "cpu_s": cpu,
                  "tokens": tokens, "errors": sum(r.error is not None for r in records)}))
"""

BUSY = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""


@dataclass
class Run:
    """One timed run in a fresh process."""

    loaded: bool
    load_s: float
    run_s: float
    cpu_s: float
    """CPU time of all the run's threads while it ran (model loading excluded)."""
    tokens: int
    errors: int
    load_avg: tuple[float, float]
    """1-minute load average before and after."""

    @property
    def cpus(self) -> float:
        """The CPUs the run kept busy on average."""
        return self.cpu_s / self.run_s if self.run_s > 0 else math.nan

    @property
    def seconds_per_token(self) -> float:
        """Wall seconds per generated token."""
        return self.run_s / self.tokens if self.tokens > 0 else math.nan


def fair_share_slowdown(quiet_cpus: float, cpus: int, busy: int) -> float:
    """The slowdown a fair scheduler explains for a run that keeps ``quiet_cpus`` CPUs busy
    alone, beside ``busy`` busy processes on ``cpus`` CPUs.

    Example:
        >>> fair_share_slowdown(2.0, cpus=2, busy=1)  # 2 threads get 4/3 of a CPU
        1.5
        >>> fair_share_slowdown(1.0, cpus=2, busy=1)  # one thread still has a CPU of its own
        1.0
    """
    threads = max(1, round(quiet_cpus))
    share = min(threads, cpus * threads / (threads + busy)) if cpus > 0 else math.nan
    return max(1.0, quiet_cpus / share) if share > 0 else math.nan


def summary_lines(runs: Sequence[Run], cpus: int, busy: int) -> list[str]:
    """The medians, ``fair_share_slowdown:`` and, last, ``slowdown:`` (per generated token)."""
    quiet = [r for r in runs if not r.loaded]
    loaded = [r for r in runs if r.loaded]
    if not quiet or not loaded:
        return ["slowdown: n/a (needs a quiet and a loaded run)"]

    def median(values: Sequence[Run], field: str) -> float:
        return statistics.median(getattr(r, field) for r in values)

    quiet_cpus = median(quiet, "cpus")
    return [
        f"median run: quiet {median(quiet, 'run_s'):.1f} s, loaded {median(loaded, 'run_s'):.1f} s;"
        f" ms per token: quiet {1000 * median(quiet, 'seconds_per_token'):.1f}, loaded"
        f" {1000 * median(loaded, 'seconds_per_token'):.1f}; CPUs busy: quiet {quiet_cpus:.2f},"
        f" loaded {median(loaded, 'cpus'):.2f}; model load: quiet {median(quiet, 'load_s'):.1f} s,"
        f" loaded {median(loaded, 'load_s'):.1f} s",
        f"fair_share_slowdown: {fair_share_slowdown(quiet_cpus, cpus, busy):.2f}",
        f"slowdown: {median(loaded, 'seconds_per_token') / median(quiet, 'seconds_per_token'):.2f}",
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="model string of both roles")
    parser.add_argument(
        "--engine",
        choices=("auto", "llamacpp", "torch"),
        default="auto",
        help="engine of smollm2 ($CHATBENCH_ENGINE)",
    )
    parser.add_argument("--graph", default="quick", help="graph preset or YAML file of the run")
    parser.add_argument("--rounds", type=int, default=3, help="quiet and loaded runs each")
    parser.add_argument("--questions", type=int, default=5, help="conversations per run")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent conversations")
    parser.add_argument(
        "--busy",
        type=int,
        default=max(1, cpu_budget() // 2),
        help="background processes, one busy CPU each (default: half the CPUs)",
    )
    parser.add_argument(
        "--busy-limit",
        type=float,
        default=1800.0,
        help="seconds after which a background process ends whatever happens",
    )
    parser.add_argument("--threads", type=int, default=None, help=f"${THREADS_ENV} of the run")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    return parser.parse_args(argv)


def child_env(args: argparse.Namespace) -> dict[str, str]:
    """The run's environment: the engine and threads asked for."""
    env = {**os.environ, "CHATBENCH_ENGINE": args.engine}
    if args.threads:
        env[THREADS_ENV] = str(args.threads)
    return env


def timed_run(args: argparse.Namespace, loaded: bool) -> Run:
    """One run in a fresh process, beside ``args.busy`` busy processes when ``loaded``."""
    busy = [
        subprocess.Popen([sys.executable, "-c", BUSY, str(args.busy_limit)])
        for _ in range(args.busy if loaded else 0)
    ]
    try:
        before = os.getloadavg()[0]
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                args.model,
                args.graph,
                str(args.questions),
                str(args.concurrency),
            ],
            capture_output=True,
            text=True,
            timeout=args.timeout,
            env=child_env(args),
        )
        after = os.getloadavg()[0]
    finally:
        for process in busy:  # only the processes started here
            process.kill()
            process.wait()
    if result.returncode != 0:
        raise SystemExit(f"the run failed:\n{result.stderr[-3000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return Run(
        loaded,
        out["load_s"],
        out["run_s"],
        out["cpu_s"],
        out["tokens"],
        out["errors"],
        (before, after),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Alternate quiet and loaded runs; print each, then the median slowdown."""
    args = parse_args(argv)
    print(f"cpu: {cpu_description()}")
    print(
        f"model {args.model}, graph {args.graph}, engine {args.engine}, threads"
        f" {args.threads or 'default'},"
        f" {args.questions} conversations at concurrency {args.concurrency};"
        f" background: {args.busy} busy process(es)"
    )
    runs: list[Run] = []
    for _ in range(args.rounds):
        for loaded in (False, True):
            run = timed_run(args, loaded)
            runs.append(run)
            print(
                f"{'loaded' if loaded else 'quiet '}: run {run.run_s:7.1f} s, load"
                f" {run.load_s:5.1f} s, {run.tokens} tokens, {run.cpus:.2f} CPUs busy,"
                f" {run.errors} errors;"
                f" load average {run.load_avg[0]:.2f} -> {run.load_avg[1]:.2f}",
                flush=True,
            )
    for line in summary_lines(runs, cpu_budget(), args.busy):
        print(line)


if __name__ == "__main__":
    main()
