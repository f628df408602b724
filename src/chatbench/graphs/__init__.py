"""Building the conversation graph from a ``GraphSpec``."""

from chatbench.graphs.builder import build_graph, build_state_graph

__all__ = ["build_graph", "build_state_graph"]
