"""Running evaluations: plans (``plan``), variants as plain data (``recipe``), the pipeline
that runs jobs on an executor into the store (``pipeline``, ``executors``), one
conversation (``simulate``), and the Python API (``batch``)."""

from chatbench.runner.batch import run, run_conversations, run_scenarios
from chatbench.runner.simulate import simulate

__all__ = ["run", "run_conversations", "run_scenarios", "simulate"]
