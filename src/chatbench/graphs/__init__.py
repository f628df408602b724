"""Building the conversation graph from a ``GraphSpec``, and checkpointing it."""

from chatbench.graphs.builder import build_graph, build_state_graph
from chatbench.graphs.checkpoint import checkpoint_serde, with_state_types

__all__ = ["build_graph", "build_state_graph", "checkpoint_serde", "with_state_types"]
