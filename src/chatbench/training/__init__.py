"""Fine-tuning data for causal-LM user simulators, and held-out perplexity.

``chatbench.training.examples`` turns real conversations into prompt/target examples in the
text format of ``chatbench.simulators.causal_lm`` (no torch needed); ``chatbench.training.
perplexity`` scores a local model on them (needs the ``hf`` extra).
"""

from chatbench.training.examples import (
    TrainingExample,
    build_examples,
    conversation_examples,
    tokenize_example,
)

__all__ = ["TrainingExample", "build_examples", "conversation_examples", "tokenize_example"]
