"""chatbench beside other evaluation tools: ``openevals`` (its multi-turn simulations and
trajectory evaluators)."""
