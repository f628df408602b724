"""Train SmolLM2-135M as a user simulator on HALIE's train questions (0-19) on this CPU, then
score it and the prompted SmolLM2 with the realism scorecard on the held-out questions (20-29).

Both simulators run on the same engine (llama.cpp, Q8_0 weights: the fine-tuned model is
exported to GGUF), with the same token limits, turn limit and assistant, at each temperature of
a small grid. Training uses the train split only; nothing is tuned on held-out data.

Prints the scorecard table per temperature, then, last:

    rouge1_prompted: X        (at the grid temperature where the prompted model scores best)
    rouge1_finetuned: Y       (at that same temperature)
    behaviours_won: K/N       (behaviours where the fine-tuned model's distance is lower)
    answer_r_finetuned: R     (per-question accuracy r, answers given the real transcripts)

CPU budget: about 30 minutes on 2 cores with the defaults (training ~15, scoring ~15).

    python benchmarks/halie_simulator.py                          # train, then score
    python benchmarks/halie_simulator.py --skip-train             # score the saved folder
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from chatbench.cli.fidelity import print_scorecard
from chatbench.config import GraphSpec, RoleSettings, load_graph_spec
from chatbench.data.human_data import load_halie
from chatbench.models.gguf_export import export_trained
from chatbench.storage import ResultStore
from chatbench.training.scorecard import Scorecard, ScorecardSimulator, evaluate_scorecard
from chatbench.training.train import TrainConfig, train_simulator


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("runs/halie-simulator"))
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--max-examples", type=int, default=1100,
                        help="all first-turn examples (~890 after validation questions are "
                             "kept out), the rest a seeded sample of later turns and answers")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--train-layers", type=int, default=6,
                        help="train the top N of 30 blocks and the final norm (0: all)")
    parser.add_argument("--temperatures", default="0.3,1.0")
    parser.add_argument("--samples", type=int, default=5, help="first prompts per question")
    parser.add_argument("--replicates", type=int, default=1, help="conversations per question")
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--agreement-limit", type=int, default=60,
                        help="real transcripts the simulators answer after (seeded sample)")
    parser.add_argument("--perplexity-examples", type=int, default=120,
                        help="held-out examples for the typed-words perplexity (0: skip)")
    parser.add_argument("--store", type=Path, default=Path("runs/halie-scorecard.sqlite"))
    parser.add_argument("--json", type=Path, default=Path("runs/halie-scorecard.json"))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def train(args: argparse.Namespace) -> float:
    """Fine-tune on the train split; returns minutes taken."""
    config = TrainConfig(base="smollm2", out=args.folder, epochs=args.epochs,
                         learning_rate=args.lr, batch_size=args.batch_size,
                         max_length=args.max_length, train_layers=args.train_layers or None,
                         max_examples=args.max_examples, keep_first_turns=True,
                         seed=args.seed)
    result = train_simulator(load_halie("train"), config)
    print(f"trained on {result.train_examples} examples ({result.precision}) in "
          f"{result.seconds / 60:.1f} min; validation loss per epoch "
          f"{[round(x, 3) for x in result.epoch_validation_loss]}")
    return result.seconds / 60


def perplexities(args: argparse.Namespace) -> None:
    """Held-out perplexity on the words people typed, base vs fine-tuned (same sample)."""
    import random

    from chatbench.training.examples import build_examples
    from chatbench.training.perplexity import typed_words_perplexity
    from chatbench.training.train import load_base

    examples = build_examples(load_halie("heldout"))
    sample = random.Random(args.seed).sample(examples, min(args.perplexity_examples,
                                                           len(examples)))
    for name, base in (("SmolLM2-135M (base)", "smollm2"), ("fine-tuned", str(args.folder))):
        lm = load_base(base)
        lm.context_window = min(lm.context_window, args.max_length)
        result = typed_words_perplexity(lm, sample)
        print(f"typed-words perplexity, {name}: {result.perplexity:.2f} over "
              f"{result.target_tokens} tokens of {result.examples} held-out turns")


def _variant(base: GraphSpec, name: str, temperature: float, max_turns: int) -> GraphSpec:
    """The same limits for both simulators: user 64 tokens, assistant 96, ``max_turns``."""
    return base.model_copy(update={
        "name": name, "max_turns": max_turns,
        "user": RoleSettings(temperature=temperature, max_tokens=64),
        "assistant": RoleSettings(temperature=0.7, max_tokens=96)})


def simulators(args: argparse.Namespace, gguf: Path) -> list[ScorecardSimulator]:
    rows = []
    for t in (float(x) for x in args.temperatures.split(",")):
        rows.append(ScorecardSimulator(f"prompted T={t:g}", _variant(
            load_graph_spec("two_step"), f"prompted_t{t:g}", t, args.max_turns), "smollm2"))
        rows.append(ScorecardSimulator(f"fine-tuned T={t:g}", _variant(
            load_graph_spec("causal_lm"), f"finetuned_t{t:g}", t, args.max_turns),
            f"gguf:{gguf}"))
    return rows


def summary(card: Scorecard) -> None:
    """The final lines, comparing the two simulators at one temperature."""
    rows = {row.name: row for row in card.simulators}
    temps = sorted({name.split("T=")[1] for name in rows})
    best = max(temps, key=lambda t: rows[f"prompted T={t}"].rouge1)
    prompted, tuned = rows[f"prompted T={best}"], rows[f"fine-tuned T={best}"]
    print(f"\n{'T':>4} {'behaviour':<22} {'prompted':>9} {'fine-tuned':>11}")
    won = total = 0
    for t in temps:
        for name, b in rows[f"prompted T={t}"].behaviours.items():
            other = rows[f"fine-tuned T={t}"].behaviours[name]
            print(f"{t:>4} {name:<22} {b.distance:>9.3f} {other.distance:>11.3f}")
            if t == best and b.distance == b.distance and other.distance == other.distance:
                total += 1
                won += other.distance < b.distance
    r = tuned.answer_agreement.r if tuned.answer_agreement else None
    print(f"compared at T={best} (the prompted model's best ROUGE-1 on the grid)")
    print(f"rouge1_prompted: {prompted.rouge1:.3f}")
    print(f"rouge1_finetuned: {tuned.rouge1:.3f}")
    print(f"behaviours_won: {won}/{total}")
    print(f"answer_r_finetuned: {'undefined' if r is None else f'{r:.3f}'}")


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    minutes = None if args.skip_train else train(args)
    gguf = args.folder / "model-q8_0.gguf"
    if not gguf.exists():
        gguf = export_trained(args.folder, "q8_0")
    if args.perplexity_examples:
        perplexities(args)
    humans = load_halie("heldout")
    args.store.parent.mkdir(parents=True, exist_ok=True)
    with ResultStore(args.store) as store:
        card = evaluate_scorecard(humans, simulators(args, gguf), "smollm2",
                                  samples=args.samples, replicates=args.replicates,
                                  agreement_limit=args.agreement_limit, concurrency=8,
                                  seed=args.seed, store=store, train=load_halie("train"))
    print_scorecard(card)
    args.json.write_text(json.dumps(card.to_json(), indent=2))
    load = os.getloadavg()
    if minutes is not None:
        print(f"training: {minutes:.1f} min")
    print(f"total: {(time.perf_counter() - started) / 60:.1f} min on {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    summary(card)


if __name__ == "__main__":
    main()
