"""Run a small evaluation from Python: questions, a variant, models, a store, a summary.

python examples/python_api.py                       # fake models, instant
python examples/python_api.py --model smollm2       # the embedded offline model
python examples/python_api.py --out runs/api.sqlite # the store to write

The store goes beside this file (python_api-results.sqlite) unless --out names another; its
path is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chatbench import GraphSpec, ResultStore, load_questions, run_conversations
from chatbench.scoring.metrics import summarize_by

DEFAULT_OUT = Path(__file__).with_name(f"{Path(__file__).stem}-results.sqlite")
"""The store written when no ``--out`` is given: beside this file (``*.sqlite`` is
git-ignored)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake:say:Answer: B", help="user model")
    parser.add_argument(
        "--assistant",
        default=None,
        help="assistant model (default: --model, or fake:echo with the fake user)",
    )
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"the SQLite store to write (default: {DEFAULT_OUT.name} beside "
                        "this file)")
    args = parser.parse_args()
    assistant = args.assistant or ("fake:echo" if args.model.startswith("fake:") else args.model)
    spec = GraphSpec(
        name="novice_cot",
        persona="novice",
        user_cot=True,
        max_turns=2,
        user={"temperature": 1.0, "max_tokens": 48},
        assistant={"temperature": 0.7, "max_tokens": 96},
    )
    with ResultStore(args.out) as store:
        records = run_conversations(
            load_questions(limit=args.limit),
            spec,
            user=args.model,
            assistant=assistant,
            store=store,
            seed=0,
        )
    for s in summarize_by(records):
        acc = "-" if s.accuracy is None else f"{s.accuracy:.0%}"
        print(f"{s.group:<26} n={s.conversations} answered={s.answered} accuracy={acc}")
    print(f"stored in {args.out}")


if __name__ == "__main__":
    main()
