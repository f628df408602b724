"""Statistics of an evaluation: pure functions over the frames of ``chatbench.reporting.results``.

Conventions follow the authors' code (see ``chatbench-notes.md``):

- A group's accuracy is the mean over questions of the per-question mean accuracy; its
  standard error is the (sample) std of the per-question means over sqrt(number of questions),
  and its 95% CI is mean +/- 1.96 SE. A bootstrap over questions gives a second CI.
- Two conventions: ``answered`` (a conversation with no answer is left out, as the paper does
  for simulated runs) and ``all`` (no answer counts as wrong).
- Failed conversations (stop reason ``error``) are never scored; their count is reported.

Every function takes the ``conversations`` (or ``timings``/``baselines``) frame and returns a
new frame or a small dataclass; nothing is mutated.

The functions live in ``accuracy`` (accuracy, CIs, rubric scores), ``outcomes`` (interaction
outcomes), ``comparison`` (paired comparisons, AI-alone vs user-AI), ``usage`` (latency, turns,
tokens) and ``grouping``; every name stays importable from here.
"""

# The public names of this part of the package, importable from one place (no private ones).
# ruff: noqa: F401

from __future__ import annotations

from chatbench.config import ROLES
from chatbench.scoring.accuracy import (
    CONVENTIONS,
    RUBRICS,
    Z95,
    Convention,
    accuracy,
    bootstrap_ci,
    mean_ci,
    question_means,
    rubric_scores,
)
from chatbench.scoring.comparison import (
    PairedComparison,
    agreement,
    assistant_models,
    baseline_accuracy,
    baseline_question_means,
    paired_comparison,
    paired_comparisons,
    pearson_mae,
    wilcoxon,
)
from chatbench.scoring.grouping import By, group_columns, groups_by, ratio
from chatbench.scoring.outcomes import (
    NO_CHOICE,
    OUTCOMES,
    conversation_outcomes,
    format_choices,
    interaction_outcomes,
    outcome_rates,
    parse_choices,
)
from chatbench.scoring.reliability import pass_hat_k, reliability
from chatbench.scoring.usage import (
    ROLE_OF_NODE,
    conversation_latency,
    describe,
    node_latency,
    role_of,
    role_of_node,
    token_usage,
)

__all__ = [
    "CONVENTIONS",
    "NO_CHOICE",
    "OUTCOMES",
    "ROLES",
    "ROLE_OF_NODE",
    "role_of",
    "role_of_node",
    "RUBRICS",
    "Z95",
    "By",
    "Convention",
    "PairedComparison",
    "accuracy",
    "agreement",
    "baseline_accuracy",
    "baseline_question_means",
    "bootstrap_ci",
    "conversation_latency",
    "conversation_outcomes",
    "describe",
    "format_choices",
    "interaction_outcomes",
    "mean_ci",
    "node_latency",
    "outcome_rates",
    "paired_comparison",
    "paired_comparisons",
    "parse_choices",
    "pearson_mae",
    "pass_hat_k",
    "question_means",
    "reliability",
    "rubric_scores",
    "token_usage",
]
