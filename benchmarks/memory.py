"""Memory over a long run: RSS must stay flat however many conversations a run has.

Streams ``--conversations`` fake-model conversations through ``run_jobs`` into a
``ResultStore``; the jobs come from a generator and the records are dropped as they arrive, so
anything that grows is held by chatbench (or LangGraph, LangChain, SQLite) itself. RSS is
sampled every ``--every`` conversations.

Usage::

    python benchmarks/memory.py [--conversations 20000] [--every 1000] [--user fake:user]

Prints a table of conversations vs RSS, then, as its last line, ``rss_growth_mib_per_10k: X``:
the least-squares slope of RSS over the samples after the warm-up (the first ``--warmup``
conversations fill bounded caches: compiled patterns, SQLite's page cache, allocator arenas).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the dev environment

from chatbench import GraphSpec, ResultStore, load_questions
from chatbench.runner.batch import Job, Variant, run_jobs
from chatbench.runner.build import build_models
from chatbench.seeding import derive_seed

MIB = 1024 * 1024


def jobs(variant: Variant, n: int, seed: int = 0) -> Iterator[Job]:
    """``n`` jobs over the bundled questions, cycled as replicates, made one at a time."""
    questions = load_questions(limit=None)
    for i in range(n):
        question, replicate = questions[i % len(questions)], i // len(questions)
        yield Job(
            question,
            variant,
            replicate,
            derive_seed(seed, question.id, variant.spec.name, replicate),
        )


def slope_per_10k(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of (conversations, MiB), in MiB per 10,000 conversations."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return 10_000 * cov / var if var else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--user", default="fake:user")
    parser.add_argument("--assistant", default="fake:echo")
    parser.add_argument("--judge", default="fake:say:B")
    parser.add_argument("--max-turns", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)

    spec = GraphSpec(max_turns=args.max_turns)
    variant = Variant.build(spec, build_models(spec, args.user, args.assistant, args.judge))
    process = psutil.Process()
    samples: list[tuple[int, float]] = []
    print(f"{'conversations':>13} {'turns':>9} {'rss MiB':>9} {'delta MiB':>10} {'conv/s':>8}")
    with tempfile.TemporaryDirectory() as tmp, ResultStore(Path(tmp) / "memory.sqlite") as store:
        gc.collect()
        start_rss = process.memory_info().rss / MIB
        print(f"{0:>13} {0:>9} {start_rss:>9.1f} {0.0:>10.1f} {'':>8}")
        done = turns = 0
        last_done, last_time = 0, time.perf_counter()
        records = run_jobs(
            jobs(variant, args.conversations),
            run_id="memory",
            store=store,
            concurrency=args.concurrency,
        )
        for record in records:
            done += 1
            turns += record.turns
            if record.error:
                raise SystemExit(f"conversation {record.id} failed: {record.error}")
            if done % args.every == 0 or done == args.conversations:
                rss = process.memory_info().rss / MIB
                samples.append((done, rss))
                now = time.perf_counter()
                rate = (done - last_done) / (now - last_time)  # this interval's, not cumulative
                last_done, last_time = done, now
                print(f"{done:>13} {turns:>9} {rss:>9.1f} {rss - start_rss:>10.1f} {rate:>8.0f}")
    steady = [(x, y) for x, y in samples if x >= args.warmup] or samples
    print(f"rss_growth_mib_per_10k: {slope_per_10k(steady):.2f}")


if __name__ == "__main__":
    main()
