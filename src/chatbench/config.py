"""Validated configuration: ``GraphSpec`` (one variant of the graph) and ``RunConfig``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_serializer,
    model_validator,
)

from chatbench._text import valid_id
from chatbench._yaml import did_you_mean, load_yaml_model, preset_names, shorten

Role = Literal["user", "assistant", "judge"]
ROLES: tuple[Role, ...] = ("user", "assistant", "judge")
"""The model roles of a conversation, in order; every module iterates this tuple."""

PROMPTED_SIMULATORS: tuple[str, ...] = ("two_step", "two_step_problem", "two_step_help", "iqa_eval")

AcceptRule = Literal["paper", "natural"]
"""How a user turn is read as the user's answer.

``paper``: the paper's code (``generate_conversations.py``). Two-step simulators (and the
causal-LM and scripted ones, which end the same way): the first turn is always sent to the AI;
later, only a turn that *starts with* ``"Answer: "`` ends the conversation, and its first
character is the answer, scored wrong if it is not an option letter. IQA-EVAL: a turn that
contains ``"So, the answer is: "`` ends it, on any turn. ``natural``: chatbench's reader
(:func:`chatbench.scoring.choice.extract_choice`) on every turn, so "I'll go with B" is an
answer."""
SimulatorView = Literal["transcript", "chat"]
"""What a prompted simulator is sent. ``transcript``: the paper's prompts, with the
conversation so far rendered as text in one prompt (two-step: ``YOU:``/``SYSTEM:`` lines in a
user message; IQA-EVAL: appended to the system prompt). ``chat``: chatbench's prompts, the
conversation as a role-flipped multi-turn chat with the step instruction at its end."""

DEFAULT_CONCURRENCY = 8
"""Jobs run at once by default, everywhere: the CLI, ``RunConfig``, the Python API, the
executors (``runner.execution.Execution``)."""


MAX_REPLICATES = 1000
"""Most conversations per question in one run: a bound, so that a small config cannot plan
more conversations than memory holds."""
MAX_GRID_CELLS = 1000
"""Most variants (combinations of factor values) in one ablation grid, for the same reason:
a few short lines of factors can otherwise describe billions of them."""
MAX_TOKENS = 1_000_000
"""Most new tokens one call may ask for: more than any model writes in one reply, and within
what every backend takes (llama.cpp and API servers read a 32-bit integer); a larger
``max_tokens`` is a typo that would make every call fail."""
MAX_SEED = 2**63 - 1
"""Largest run seed: what SQLite stores as an integer and numpy and torch accept (seeds are
0 to this)."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
"""Text that is not empty or only spaces: an empty option never silently means the default."""
Id = Annotated[str, AfterValidator(_not_blank), AfterValidator(valid_id)]
"""A name records are stored and found under (run id, variant name): non-blank, valid
Unicode (``chatbench._text.valid_id``)."""
Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]

MAX_REPLY_CHARS = 100_000
"""Default of ``RoleSettings.max_reply_chars``: the longest reply kept of one model call."""
MAX_REPLY_CHARS_LIMIT = 100_000_000
"""The most ``RoleSettings.max_reply_chars`` may be set to."""


class RoleSettings(BaseModel):
    """Sampling settings of one role. ``None`` leaves the model's own default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: StrictFloat | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    """Sampling temperature; 0 means greedy for local models."""
    max_tokens: StrictInt | None = Field(default=None, ge=1, le=MAX_TOKENS)
    """Most new tokens per call (at most ``MAX_TOKENS``)."""
    max_reply_chars: StrictInt = Field(default=MAX_REPLY_CHARS, ge=1, le=MAX_REPLY_CHARS_LIMIT)
    """Longest reply kept of one call, in characters (an app's inner steps: their texts
    together). A longer one is cut to this before anything reads, stores or shows it, and its
    timing says so (``truncated``): see ``chatbench.models.base.bounded``. Never sent to the
    model, and left out of the settings' dump at its default, so the identities (and default
    run ids) of runs made before it existed stay the same."""

    @model_serializer(mode="wrap")
    def _without_default_cap(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = write(self)
        if self.max_reply_chars == MAX_REPLY_CHARS:
            data.pop("max_reply_chars", None)
        return data

    def call_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``chat_model.invoke`` (only the settings that are set; the
        reply cap is chatbench's own, never sent)."""
        return {key: value for key, value in self.model_dump().items()
                if value is not None and key != "max_reply_chars"}


class GraphSpec(BaseModel):
    """One variant of the conversation graph; an ablation is a grid over these fields.

    Example:
        >>> GraphSpec(persona="novice", user_cot=True, max_turns=5).simulator
        'two_step'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, AfterValidator(valid_id)] = "two_step"
    """Variant name, stored with every conversation (valid Unicode)."""
    description: str = ""
    simulator: str = "two_step"
    """How the user turns are written: a prompted chat model (the paper's two-step, its
    "problem" and "help" variants, IQA-EVAL), a causal LM in the chatbench-distilgpt2 text
    format, fixed scripted turns, or any simulator registered with ``register_simulator``
    (checked where a run is planned or a graph built: ``graphs.builder.check_names``)."""
    accept: AcceptRule = "paper"
    """How a user turn is read as an answer (see ``AcceptRule``): the paper's rule, or
    chatbench's ``natural`` reader."""
    view: SimulatorView = "transcript"
    """What a prompted simulator sees (see ``SimulatorView``); other simulators ignore it."""
    persona: str | None = None
    """A shipped persona name or a path to a persona YAML; None for no persona."""
    user_cot: StrictBool = False
    """The simulator reasons in a private scratchpad before each turn."""
    max_turns: StrictInt = Field(default=10, ge=1, le=100)
    """User turns before the simulator is asked for the answer only (the paper: 10)."""
    user: RoleSettings = RoleSettings(temperature=1.0, max_tokens=1000)
    """The paper samples the simulator at temperature 1.0, with up to 1,000 tokens a call."""
    assistant: RoleSettings = RoleSettings(temperature=0.7, max_tokens=1000)
    """The paper samples the assistant at temperature 0.7, with up to 1,000 tokens a call."""
    judge: RoleSettings = RoleSettings(temperature=0.0, max_tokens=16)
    assistant_system_prompt: str | None = "You are a helpful AI assistant."
    """The paper's assistant system prompt; None sends no system message."""
    scripted_turns: tuple[str, ...] = ()
    """The user's turns, in order, for ``simulator: scripted``."""
    rubrics: tuple[str, ...] = ()
    """Rubrics a judge model scores 1-5 after each conversation (needs a judge model):
    ``coherence``, ``satisfaction``, or any rubric registered with ``register_rubric``
    (checked where a run is planned or a graph built)."""
    ask_user_satisfaction: StrictBool = False
    """After answering, the simulator rates its satisfaction with the AI in character."""

    @model_validator(mode="after")
    def _check_combinations(self) -> GraphSpec:
        if self.user_cot and self.simulator not in PROMPTED_SIMULATORS:
            raise ValueError(
                f"user_cot needs a prompted simulator ({', '.join(PROMPTED_SIMULATORS)}), "
                f"not {self.simulator!r}"
            )
        if self.ask_user_satisfaction and self.simulator not in PROMPTED_SIMULATORS:
            raise ValueError("ask_user_satisfaction needs a prompted simulator")
        if self.simulator == "scripted" and not self.scripted_turns:
            raise ValueError("simulator 'scripted' needs scripted_turns")
        return self


def load_graph_spec(name_or_path: str | Path) -> GraphSpec:
    """Load a shipped graph preset by name (``two_step_cot``) or a YAML file by path.

    Raises:
        ConfigError: Unknown name, missing file, or an invalid or unknown field.
    """
    return load_yaml_model(GraphSpec, "graphs", name_or_path)


def list_graph_specs() -> list[str]:
    """Names of the shipped graph presets."""
    return preset_names("graphs")


class PosesTasks(BaseModel):
    """The rules of a config's ``questions``, ``subjects``, ``scenarios`` and ``limit``
    fields (``RunConfig``, ``AblationGrid``): a run poses scenarios or questions, and a
    scenario file with no ``limit`` runs all of them (the default of 5 is the bundled
    questions' round-robin sample)."""

    @model_validator(mode="before")
    @classmethod
    def _scenario_limit(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("scenarios") is not None and "limit" not in data:
            return {**data, "limit": None}
        return data

    @model_validator(mode="after")
    def _one_task_source(self) -> Self:
        if getattr(self, "scenarios", None) is not None:
            given = [name for name in ("questions", "subjects") if getattr(self, name) is not None]
            if given:  # two runs can share a store instead
                raise ValueError(f"scenarios and {' and '.join(given)} are given: a run poses "
                                 "scenarios or questions; run each into the same store")
        return self


class RunConfig(PosesTasks):
    """One evaluation run as the CLI describes it: questions, variant, models, seed, store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    questions: Text | None = None
    """Bundled set name (``mmlu_redux``) or a path to a CSV/JSONL file; None for bundled."""
    scenarios: Text | None = None
    """A scenario file (``.jsonl``, ``.yaml``): run its open-ended scenarios instead of
    multiple-choice questions (not with ``questions`` or ``subjects``)."""
    subjects: tuple[Text, ...] | None = None
    """Only these subjects."""
    limit: StrictInt | None = Field(default=5, ge=1)
    """At most this many questions, taken round-robin over subjects (default 5), or the
    first this many scenarios (default all)."""
    graph: Text = "quick"
    """A shipped graph preset name or a path to a GraphSpec YAML."""
    persona: Text | None = None
    """Overrides the graph's persona (a shipped name or a path)."""
    user: Text = "smollm2"
    """The simulated user's model."""
    assistant: Text = "smollm2"
    """The assistant under evaluation."""
    judge: Text | None = None
    """Optional judge model for final messages the rules cannot read."""
    seed: Seed = 0
    """Run seed (0 to ``MAX_SEED``); each conversation's seed derives from it."""
    replicates: StrictInt = Field(default=1, ge=1, le=MAX_REPLICATES)
    """Conversations per question."""
    concurrency: StrictInt = Field(default=DEFAULT_CONCURRENCY, ge=1)
    """Conversations run at once; calls to a local model are batched across them."""
    max_attempts: StrictInt = Field(default=3, ge=1)
    """Tries per model call before the conversation is stored as failed."""
    retry_wait_s: StrictFloat = Field(default=1.0, ge=0, allow_inf_nan=False)
    """Wait before the first retry; doubles each time (with jitter)."""
    call_timeout_s: StrictFloat | None = Field(default=600.0, gt=0, allow_inf_nan=False)
    """Longest wait for one model call before it counts as a (retried) failure."""
    executor: Literal["thread", "process", "ray"] = "thread"
    """Threads in this process, worker processes on this machine (fake and API models), or
    Ray tasks (``pip install 'chatbench[ray]'``)."""
    processes: StrictInt | None = Field(default=None, ge=1)
    """Worker processes of the process executor; None for one per CPU."""
    ray_address: Text | None = None
    """Ray cluster address; None starts a local one."""
    out: Path = Path("chatbench-results.sqlite")
    """The SQLite result store."""
    run_id: Id | None = None
    """Name of the run in the store (valid Unicode, not blank); defaults to a hash of what
    determines the results (the resolved graph, persona text, question content, models, seed,
    replicates)."""
    retry_failed: StrictBool = True
    """Run again the conversations stored as failed (stop reason ``error``) when the run is
    resumed or rerun, replacing their rows; False keeps them as they are."""


_SCALARS = (str, int, float, bool, type(None))


def factor_label(value: Any) -> str:
    """How a factor value is written in a variant's name: text as it is, anything else as
    JSON (``1``, ``true``, ``null``); two values with one label would name one variant."""
    return value if isinstance(value, str) else json.dumps(value)


def _same_as(value: Any) -> tuple[tuple[str, Any], ...]:
    """Keys under which two factor values are the same: their label (one variant name), and
    for numbers their value (``2`` and ``2.0``)."""
    label = ("label", factor_label(value))
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return (label, ("number", value)) if number else (label,)

MODEL_FACTORS: tuple[Role, ...] = ROLES
"""Factors that vary a role's model rather than a ``GraphSpec`` field."""


class AblationGrid(PosesTasks):
    """A full-factorial ablation: every combination of factor values is one variant.

    Factors are ``GraphSpec`` fields (``persona``, ``user_cot``, ``simulator``, ...) or a
    role's model (``user``, ``assistant``, ``judge``). Shipped grids live in ``graphs/grids/``.

    Example:
        >>> grid = AblationGrid(name="cot", factors={"user_cot": [False, True]})
        >>> [cell for cell in grid.cells()]
        [{'user_cot': False}, {'user_cot': True}]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Id
    description: str = ""
    base: Text = "two_step"
    """The graph preset (name or path) every variant starts from."""
    factors: dict[str, list[Any]] = Field(min_length=1)
    """Factor name -> the values it takes: scalars (text, numbers, true/false, null), at most
    ``MAX_GRID_CELLS`` combinations in all."""
    questions: Text | None = None
    scenarios: Text | None = None
    """A scenario file: every cell runs its scenarios instead of questions."""
    subjects: tuple[Text, ...] | None = None
    limit: StrictInt | None = Field(default=5, ge=1)
    replicates: StrictInt = Field(default=1, ge=1, le=MAX_REPLICATES)
    seed: Seed = 0
    user: Text = "smollm2"
    assistant: Text = "smollm2"
    judge: Text | None = None

    @field_validator("factors")
    @classmethod
    def _check_factors(cls, factors: dict[str, list[Any]]) -> dict[str, list[Any]]:
        allowed = (set(GraphSpec.model_fields) - {"name", "description"}) | set(MODEL_FACTORS)
        for factor, values in factors.items():
            if factor not in allowed:
                hint = did_you_mean(str(factor), allowed)
                raise ValueError(
                    f"unknown factor {shorten(repr(factor), 60)}; {hint + ' ' if hint else ''}"
                    f"factors are GraphSpec fields or models: {', '.join(sorted(allowed))}"
                )
            if not values:
                raise ValueError(f"factor {factor!r} has no values")
            first: dict[tuple[str, Any], int] = {}
            for index, value in enumerate(values):
                if not isinstance(value, _SCALARS):
                    raise ValueError(
                        f"factor {factor!r}, value {index + 1}: a {type(value).__name__}; "
                        "factor values are scalars (text, numbers, true/false or null)"
                    )
                keys = _same_as(value)
                again = next((first[key] for key in keys if key in first), None)
                if again is not None:  # one variant for two cells: one would be dropped
                    raise ValueError(
                        f"factor {factor!r}: {shorten(factor_label(value), 60)} is given twice "
                        f"(values {again} and {index + 1}); each value may appear once"
                    )
                first.update(dict.fromkeys(keys, index + 1))
        cells = math.prod(len(values) for values in factors.values())
        if cells > MAX_GRID_CELLS:
            raise ValueError(
                f"{cells} combinations of factor values; a grid has at most {MAX_GRID_CELLS}"
            )
        return factors

    def cells(self) -> list[dict[str, Any]]:
        """Every combination of factor values, in a stable order."""
        import itertools

        names = list(self.factors)
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*self.factors.values())]


def load_grid(name_or_path: str | Path) -> AblationGrid:
    """Load a shipped ablation grid by name (``persona``) or a YAML file by path.

    Raises:
        ConfigError: Unknown name, missing file, or an invalid or unknown field.
    """
    return load_yaml_model(AblationGrid, "graphs/grids", name_or_path)
