"""Slowdown of a small local run when a bounded background load takes part of the CPU.

The same small run (``--questions`` conversations, greedy, the turn and token limits of the
``quick`` preset, both roles on ``--model``) runs in a fresh process, alternately on its own
and beside ``--busy`` background processes that each keep one CPU busy (default: half of the
CPUs this process may use). Each background process ends with the loaded run, or after
``--busy-limit`` seconds at the latest. A run that gets half the CPU should take about twice as
long; a thread pool that spin-waits for threads the scheduler has parked takes far longer.

Usage::

    python benchmarks/contention.py [--engine llamacpp|torch] [--rounds 2] [--questions 2]
                                    [--concurrency 2] [--busy N] [--threads N]

Prints the CPU (model, flags, AMX or not), each run's seconds and load averages, and as its
last line ``slowdown: X.XX``: the median loaded run's time over the median quiet run's, model
loading excluded (the median of loading is shown apart). Other processes on the machine add to
both kinds of run; the load averages printed with each figure show how much.
"""

from __future__ import annotations

import argparse
import json
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
from chatbench import GraphSpec, load_questions, run_conversations
from chatbench.config import RoleSettings
from chatbench.models.registry import get_chat_model
model, questions, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
get_chat_model(model).invoke("Hi", max_tokens=1, temperature=0)  # load, and warm up
loaded = time.perf_counter()
spec = GraphSpec(name="contention", simulator="two_step", max_turns=3,
                 user=RoleSettings(temperature=0.0, max_tokens=48),
                 assistant=RoleSettings(temperature=0.0, max_tokens=96))
records = run_conversations(load_questions(limit=questions), spec, user=model, assistant=model,
                            concurrency=concurrency)
done = time.perf_counter()
tokens = sum(t["output_tokens"] or 0 for r in records for t in r.timings)
print(json.dumps({"load_s": loaded - started, "run_s": done - loaded, "tokens": tokens,
                  "errors": sum(r.error is not None for r in records)}))
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
    tokens: int
    errors: int
    load_avg: tuple[float, float]
    """1-minute load average before and after."""


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
    parser.add_argument("--rounds", type=int, default=2, help="quiet and loaded runs each")
    parser.add_argument("--questions", type=int, default=2, help="conversations per run")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent conversations")
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
            [sys.executable, "-c", CHILD, args.model, str(args.questions), str(args.concurrency)],
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
    return Run(loaded, out["load_s"], out["run_s"], out["tokens"], out["errors"], (before, after))


def main(argv: Sequence[str] | None = None) -> None:
    """Alternate quiet and loaded runs; print each, then the median slowdown."""
    args = parse_args(argv)
    print(f"cpu: {cpu_description()}")
    print(
        f"model {args.model}, engine {args.engine}, threads {args.threads or 'default'},"
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
                f" {run.load_s:5.1f} s, {run.tokens} tokens, {run.errors} errors;"
                f" load average {run.load_avg[0]:.2f} -> {run.load_avg[1]:.2f}",
                flush=True,
            )
    quiet = statistics.median(r.run_s for r in runs if not r.loaded)
    busy = statistics.median(r.run_s for r in runs if r.loaded)
    loading = [statistics.median(r.load_s for r in runs if r.loaded == flag) for flag in (0, 1)]
    print(
        f"median run: quiet {quiet:.1f} s, loaded {busy:.1f} s; median model load: quiet"
        f" {loading[0]:.1f} s, loaded {loading[1]:.1f} s"
    )
    print(f"slowdown: {busy / quiet:.2f}")


if __name__ == "__main__":
    main()
