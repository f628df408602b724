"""Fine-tuning data for user simulators, and held-out perplexity.

``chatbench.training.examples`` turns real conversations into prompt/target examples in the
text format of ``chatbench.simulators.causal_lm`` (no torch needed); ``chatbench.training.chat``
turns them into chat examples with the paper's two-step prompts, for fine-tuning an API model;
``chatbench.training.export`` writes either as JSONL; ``chatbench.training.perplexity`` scores a
local model on the text examples (needs the ``hf`` extra).
"""

from chatbench.training.chat import (
    ChatExample,
    build_chat_examples,
    conversation_chat_examples,
    paper_two_step_prompts,
)
from chatbench.training.examples import (
    TrainingExample,
    build_examples,
    conversation_examples,
    tokenize_example,
)
from chatbench.training.export import ExportResult, export_examples, validate_jsonl

__all__ = [
    "ChatExample",
    "ExportResult",
    "TrainingExample",
    "build_chat_examples",
    "build_examples",
    "conversation_chat_examples",
    "conversation_examples",
    "export_examples",
    "paper_two_step_prompts",
    "tokenize_example",
    "validate_jsonl",
]
