"""Running conversations: one (simulate), names to objects (build), batches (batch)."""

from chatbench.runner.batch import run, run_conversations
from chatbench.runner.simulate import simulate

__all__ = ["run", "run_conversations", "simulate"]
