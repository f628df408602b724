"""AI-alone baselines: the assistant answers each question by itself, with no user.

The ChatBench paper compares every user-AI result with three AI-alone baselines, reproduced
from its code (prompts, settings and reading in ``baselines.prompts``):

- ``letter_zero_shot``: HELM's letter-only prompt; the answer is the first character of the
  reply if it is one of the upper-case letters, else the reply is *invalid*;
- ``letter_few_shot``: the same with the subject's 5 bundled MMLU dev examples inline;
- ``free_text``: the question and options alone; a grader model (``grader``, by default the
  assistant itself; the paper used GPT-4o) returns JSON with the attempted answer, its value
  and its letter. No letter counts as wrong; a grader reply that is not JSON leaves the answer
  unscored (the paper drops it).

``free_text_rules`` is chatbench's own variant: the same free-text call, its letter read by
chatbench's rules, and the grader asked only when they find none and a grader was given.

Accuracy is reported both ways, as in the paper: invalid replies counted wrong, and invalid
replies dropped. Unscored answers (failed calls, unreadable grader replies) count in neither
and are reported separately. Records go to the same SQLite store as conversations (table
``baselines``), each committed as it finishes, so an interrupted run resumes where it stopped;
answers stored as failed are asked again. Each answer is a job of the run pipeline
(``chatbench.runner.pipeline``): the same store, resume, retries (LangGraph's ``RetryPolicy``)
and executors as conversations. The store keeps each run's identity
(``baselines.identity``), so a run id reused for other questions, kinds, settings or
models is refused rather than mixed.
"""

# The imports under TYPE_CHECKING are for type checkers; at run time __getattr__ serves them.
# ruff: noqa: F401

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbench._lazy import lazy_names

_HOMES = {
    "ALL_SUBJECTS": "chatbench.baselines.summary",
    "BASELINES": "chatbench.baselines.jobs",
    "BASELINE_KINDS": "chatbench.baselines.prompts",
    "BaselineJob": "chatbench.baselines.jobs",
    "BaselineKind": "chatbench.baselines.prompts",
    "BaselinePlan": "chatbench.baselines.plan",
    "BaselineRecord": "chatbench.records",
    "BaselineSetup": "chatbench.baselines.jobs",
    "DEFAULT_SETTINGS": "chatbench.baselines.prompts",
    "GRADER_SETTINGS": "chatbench.baselines.prompts",
    "ModelArg": "chatbench.baselines.jobs",
    "OnBaseline": "chatbench.baselines.jobs",
    "PAPER_KINDS": "chatbench.baselines.prompts",
    "SYSTEM_PROMPT": "chatbench.baselines.prompts",
    "baseline_id": "chatbench.baselines.jobs",
    "build_messages": "chatbench.baselines.prompts",
    "check_execution": "chatbench.baselines.plan",
    "check_kinds": "chatbench.baselines.plan",
    "few_shot_examples": "chatbench.baselines.plan",
    "kind_settings": "chatbench.baselines.plan",
    "letter_only_choice": "chatbench.baselines.prompts",
    "make_setup": "chatbench.baselines.jobs",
    "plan_baseline_run": "chatbench.baselines.plan",
    "plan_baselines": "chatbench.baselines.plan",
    "run_baselines": "chatbench.baselines.plan",
    "run_jobs": "chatbench.baselines.plan",
    "summarize_baselines": "chatbench.baselines.summary",
}
"""Each public name and the module it lives in (imported on first use: the CLI imports this
package without loading LangChain)."""

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_names(globals(), _HOMES)

if TYPE_CHECKING:
    from chatbench.baselines.jobs import (
        BASELINES,
        BaselineJob,
        BaselineSetup,
        ModelArg,
        OnBaseline,
        baseline_id,
        make_setup,
    )
    from chatbench.baselines.plan import (
        BaselinePlan,
        check_execution,
        check_kinds,
        few_shot_examples,
        kind_settings,
        plan_baseline_run,
        plan_baselines,
        run_baselines,
        run_jobs,
    )
    from chatbench.baselines.prompts import (
        BASELINE_KINDS,
        DEFAULT_SETTINGS,
        GRADER_SETTINGS,
        PAPER_KINDS,
        SYSTEM_PROMPT,
        BaselineKind,
        build_messages,
        letter_only_choice,
    )
    from chatbench.baselines.summary import ALL_SUBJECTS, summarize_baselines
    from chatbench.records import BaselineRecord
