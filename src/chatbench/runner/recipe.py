"""Variants as plain data (``Recipe``) and as built objects (``Variant``).

A ``Recipe`` is what a plan holds and what every executor receives: the spec, the persona
(loaded once, at planning), each role's model as given (a model string or a picklable
object), the factor values, the retry policy and the call timeout. Nothing in it is loaded:
``resolve(recipe)`` builds its models and compiles its graph the first time a job needs it,
in whichever thread, worker process or Ray task runs that job, and keeps the ``Variant`` for
the other jobs there. So a Ray or process run never loads local weights in the driver.
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol, TypeVar

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from chatbench.config import ROLES, GraphSpec
from chatbench.context import SimContext
from chatbench.data.scenario import Scenario, Task
from chatbench.errors import ConfigError
from chatbench.graphs import build_graph
from chatbench.graphs.builder import DEFAULT_RETRY, check_names, check_task
from chatbench.models.apps import check_app_string, is_app, is_app_string
from chatbench.models.demand import local_demand
from chatbench.models.hf_langchain import is_hf_langchain
from chatbench.models.local_chat import DEFAULT_MAX_TOKENS
from chatbench.models.reference import ModelRef
from chatbench.models.registry import get_chat_model, get_text_completer
from chatbench.personas import Persona
from chatbench.runner.build import (
    Models,
    build_models,
    build_persona,
    check_fake_delay,
    check_timing,
)
from chatbench.runner.identity import VariantIdentity, variant_identity
from chatbench.scoring.rubrics import get_rubric, needs_judge_model
from chatbench.state import ConversationState

Built = TypeVar("Built", covariant=True)
StoppingCondition = Callable[[Mapping[str, Any]], bool]
"""A scenario's ``stopping_condition(state)``: true ends the conversation."""


PROMPT_TOKENS = 1024
"""What ``longest_call`` allows for a call's fixed part: instructions, persona, the question
and its options (the longest bundled question with the paper's prompt is under half of it)."""


def longest_call(spec: GraphSpec) -> int:
    """The most tokens one model call of ``spec``'s conversations can hold, prompt and reply:
    the fixed part (``PROMPT_TOKENS``), every turn at its role's token limit (a role without
    one at ``DEFAULT_MAX_TOKENS``), and the longest reply. An upper bound: local engines that
    size memory at load (llama.cpp) size their context from it (``models.demand``).

    Example:
        >>> from chatbench.graphs.builder import graph_spec
        >>> longest_call(graph_spec("quick"))  # 1024 + 3 x (48 + 96) + 96
        1552
    """
    user, assistant, judge = (settings.max_tokens or DEFAULT_MAX_TOKENS
                              for settings in (spec.user, spec.assistant, spec.judge))
    return PROMPT_TOKENS + spec.max_turns * (user + assistant) + max(user, assistant, judge)


def role_models(spec: GraphSpec, user: object, assistant: object,
                judge: object | None) -> dict[str, object]:
    """Each role's model as given, in ``ROLES`` order; a scripted simulator has no model."""
    return {"user": None if spec.simulator == "scripted" else user, "assistant": assistant,
            "judge": judge}


def check_chat_model(role: str, model: object) -> None:
    """Check a chat role's model without loading local weights (``check_models``).

    A role's model may be an app (``chatbench.models.apps``): a Runnable, a compiled graph, a
    function of the messages, or an ``app:package.module:attribute`` string, whose module is
    imported now and whose factory, if it is one, runs where the first job runs.

    Raises:
        ConfigError: An unknown provider, an object that is neither a chat model nor an app,
            an ``app:`` string that names none, or a fake delay that would fail every call.
        MissingDependencyError: A provider's package is not installed.
    """
    if ModelRef.of(model).local and (isinstance(model, str) or is_hf_langchain(model)):
        return  # weights load (or are served, for langchain-huggingface's) where jobs run
    if isinstance(model, str) and is_app_string(model):
        check_app_string(model)
        return
    if not isinstance(model, str) and not is_app(model):
        raise ConfigError(f"the {role} model must be a model string, a LangChain chat model "
                          f"or an app (a Runnable, a compiled graph, a function of the "
                          f"messages), got a {type(model).__name__}")
    check_fake_delay(role, ModelRef.of(model).display, get_chat_model(model))


def check_models(spec: GraphSpec, models: dict[str, object]) -> None:
    """Check each role's model without loading local weights: model strings name a known
    provider, API and fake models can be made, a causal-LM simulator gets a local model.
    Local models (``smollm2``, ``hf:``...) are loaded where the first job runs.

    Raises:
        ConfigError: An unknown provider, a model that does not suit its role, rubrics with
            no judge, or a fake delay that would fail every call.
        MissingDependencyError: A provider's package is not installed.
    """
    if models["judge"] is None and needs_judge_model(spec.rubrics):
        raise ConfigError(
            f"graph {spec.name!r} scores rubrics {list(spec.rubrics)}: give a judge model (--judge)"
        )
    for role, model in models.items():
        if model is None:
            continue
        if role == "user" and spec.simulator == "causal_lm":
            if not (ModelRef.of(model).local and (isinstance(model, str)
                                                  or is_hf_langchain(model))):
                get_text_completer(model)  # refuses what is not a local causal LM
            continue
        check_chat_model(role, model)


@dataclass(frozen=True)
class Variant:
    """A recipe built: resolved models, persona and compiled graph, ready to run jobs."""

    spec: GraphSpec
    models: Models
    persona: Persona | None
    graph: CompiledStateGraph[ConversationState, SimContext]
    factors: dict[str, Any] = field(default_factory=dict)
    """Ablation factor values of this cell (empty outside ablations)."""
    call_timeout_s: float | None = None
    """Longest wait for one model call."""
    retry: RetryPolicy | None = DEFAULT_RETRY
    """Retry policy the graph's model-calling nodes were compiled with."""
    stopping_condition: StoppingCondition | None = None
    """Scenarios: ends a conversation when it returns true (``SimContext``)."""

    @classmethod
    def build(
        cls,
        spec: GraphSpec,
        models: Models,
        factors: dict[str, Any] | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        call_timeout_s: float | None = None,
        persona: Persona | None = None,
        stopping_condition: StoppingCondition | None = None,
    ) -> Variant:
        """Compile the graph of ``spec`` (with ``retry`` on its model-calling nodes), with
        ``persona`` or else the spec's, loaded now.

        Raises:
            ConfigError: A bad persona, or a call timeout or retry wait that can only fail.
        """
        check_timing(call_timeout_s, None if retry is None else retry.initial_interval)
        graph = build_graph(spec, retry=retry)
        persona = persona if persona is not None else build_persona(spec)
        return cls(spec, models, persona, graph, dict(factors or {}), call_timeout_s, retry,
                   stopping_condition)

    @cached_property
    def scenario_graph(self) -> CompiledStateGraph[ConversationState, SimContext]:
        """The variant's graph for scenarios (``build_graph(..., task="scenario")``), compiled
        the first time a scenario needs it."""
        return build_graph(self.spec, retry=self.retry, task="scenario")

    def graph_for(self, task: Task) -> CompiledStateGraph[ConversationState, SimContext]:
        """The compiled graph that plays ``task``: the question graph, or the scenario one."""
        return self.scenario_graph if isinstance(task, Scenario) else self.graph

    def identity(self) -> VariantIdentity:
        """What determines this variant's conversations (part of a run's identity)."""
        return variant_identity(self.spec, self.persona,
                                self.models.identity or self.models.names,
                                self.stopping_condition)

    def context(self, seed: int | None) -> SimContext:
        """What one conversation of this variant runs with: its models (a role's ``app:``
        factory called for this conversation, ``Models.for_conversation``), persona, call
        timeout, and the conversation's ``seed``."""
        models = self.models.for_conversation()
        return SimContext(assistant=models.assistant, user=models.user, judge=models.judge,
                          persona=self.persona, seed=seed, call_timeout_s=self.call_timeout_s,
                          stopping_condition=self.stopping_condition)

    @cached_property
    def recipe(self) -> Recipe:
        """This variant as a recipe that resolves to it in this process (other processes
        build it again from its model strings or pickled model objects)."""
        names = self.models.names
        given = dict(zip(ROLES, (self.models.user, self.models.assistant, self.models.judge),
                         strict=True))
        models = {role: None if model is None else names[role]
                  if ModelRef.parse(names[role]).resolvable else model
                  for role, model in given.items()}
        recipe = Recipe(self.spec, models, self.persona, self.factors, self.retry,
                        self.call_timeout_s, names=names,
                        model_ids=self.models.identity or dict(names),
                        stopping_condition=self.stopping_condition)
        _remember(recipe.token, self)
        return recipe


def new_token() -> str:
    """A fresh key for a recipe's built objects (``resolve``)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Recipe:
    """One variant of a run as plain data: what every executor builds it from."""

    spec: GraphSpec
    models: dict[str, object]
    """Per role (``ROLES``): a model string, a model object, or None (scripted user, rules
    judge)."""
    persona: Persona | None = None
    factors: dict[str, Any] = field(default_factory=dict)
    retry: RetryPolicy | None = DEFAULT_RETRY
    call_timeout_s: float | None = None
    names: dict[str, str] = field(default_factory=dict)
    """Per role, the model's name stored with each record."""
    model_ids: dict[str, str] = field(default_factory=dict)
    """Per role, ``model_identity`` of the model given: part of the run's identity."""
    stopping_condition: StoppingCondition | None = None
    """Scenarios: a function of the state that ends a conversation when true (picklable, for
    the process and Ray executors: a module-level function)."""
    call_tokens: int | None = None
    """The longest model call local engines are sized for (``models.demand``): a grid's
    longest over all its variants, so that they share one loaded model; None: this spec's
    ``longest_call``. How the run executes, not what it stands for (not in its identity)."""
    token: str = field(default_factory=new_token, compare=False, repr=False)
    """Key of the variant built from this recipe in each process (``resolve``)."""

    @classmethod
    def plan(
        cls,
        spec: GraphSpec,
        user: object,
        assistant: object,
        judge: object | None = None,
        *,
        factors: dict[str, Any] | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        call_timeout_s: float | None = None,
        stopping_condition: StoppingCondition | None = None,
    ) -> Recipe:
        """A checked recipe: the persona loaded, every model checked, no weights loaded.

        Raises:
            ConfigError: A bad persona or model, an unknown simulator or rubric, or timing
                settings that can only fail.
        """
        check_timing(call_timeout_s, None if retry is None else retry.initial_interval)
        check_names(spec)
        models = role_models(spec, user, assistant, judge)
        check_models(spec, models)
        refs = {role: ModelRef.of(m) for role, m in models.items() if m is not None}
        names = {role: refs[role].display if role in refs else _absent(role) for role in models}
        ids = {role: refs[role].identity if role in refs else _absent(role) for role in models}
        if stopping_condition is not None and not callable(stopping_condition):
            raise ConfigError(f"argument 'stopping_condition': expected a function of the "
                              f"state, got {type(stopping_condition).__name__}")
        return cls(spec, models, build_persona(spec), dict(factors or {}), retry,
                   call_timeout_s, names=names, model_ids=ids,
                   stopping_condition=stopping_condition)

    def identity(self) -> VariantIdentity:
        """What determines this variant's conversations (part of a run's identity)."""
        return variant_identity(self.spec, self.persona, self.model_ids,
                                self.stopping_condition)

    def build(self) -> Variant:
        """The variant, its models resolved and its graph compiled, in this process.

        Raises:
            ConfigError: A model that cannot be made or loaded here.
        """
        for rubric in self.spec.rubrics:
            try:
                get_rubric(rubric)
            except ConfigError as exc:  # registered where the run was planned, not here
                raise ConfigError(
                    f"{exc} in this worker process: register rubrics and evaluators in a "
                    f"module every worker imports (the process and Ray executors start new "
                    f"interpreters), or use the thread executor"
                ) from None
        user, assistant, judge = (self.models[role] for role in ROLES)
        with local_demand(tokens=self.call_tokens or longest_call(self.spec)):
            models = build_models(self.spec, user, assistant, judge)  # type: ignore[arg-type]  # str or model
        models = replace(models, names=dict(self.names), identity=dict(self.model_ids))
        return Variant.build(self.spec, models, self.factors, self.retry, self.call_timeout_s,
                             self.persona, self.stopping_condition)

    def local_models(self) -> list[str]:
        """Names of this recipe's models that load weights in the process that runs it."""
        return [self.names[role] for role, model in self.models.items()
                if model is not None and ModelRef.of(model).local]

    def check_portable(self, executor: str) -> None:
        """Refuse a recipe another process cannot receive.

        Raises:
            ConfigError: Naming the role whose model, or the variant part, cannot be pickled.
        """
        for role, model in self.models.items():
            if model is None or isinstance(model, str):
                continue
            try:
                pickle.dumps(model)
            except Exception as exc:  # pickling raises TypeError, AttributeError, ...
                raise ConfigError(
                    f"the {executor} executor sends each worker its models, but the {role} "
                    f"model (the {role!r} argument: {self.names.get(role)}) cannot be pickled "
                    f"({exc}); give it as a model string such as 'openai:gpt-4o' or "
                    f"'fake:echo', or use the thread executor"
                ) from None
        try:
            pickle.dumps(self)
        except Exception as exc:
            raise ConfigError(
                f"variant {self.spec.name!r} cannot be sent to a worker ({exc}); its factors, "
                f"retry policy and stopping condition must be picklable (a module-level "
                f"function, not a lambda)"
            ) from None


def check_tasks(recipe: Recipe, tasks: Sequence[Task]) -> None:
    """Refuse a plan whose variant cannot play its tasks: scenarios need a judge model (for
    their criteria) and a simulator that can be told a scenario; a stopping condition needs
    scenarios.

    Raises:
        ConfigError: Saying what to change.
    """
    scenarios = [task for task in tasks if isinstance(task, Scenario)]
    if not scenarios:
        if recipe.stopping_condition is not None:
            raise ConfigError("argument 'stopping_condition': ends scenario conversations "
                              "only, and this run has no scenarios")
        return
    check_task(recipe.spec, "scenario")
    if recipe.models.get("judge") is None:
        raise ConfigError(f"scenario {scenarios[0].id!r} has success criteria: give a judge "
                          f"model to decide them (--judge, or judge=...)")


def _absent(role: str) -> str:
    """The name of a role with no model: the scripted simulator, or the rules as judge."""
    return "scripted" if role == "user" else "rules"


_CACHE_SIZE = 64
_resolved: OrderedDict[str, Any] = OrderedDict()
_lock = threading.RLock()


def _reset() -> None:
    global _lock
    _lock = threading.RLock()
    _resolved.clear()


os.register_at_fork(after_in_child=_reset)


def _remember(token: str, variant: object) -> None:
    with _lock:
        _resolved[token] = variant
        _resolved.move_to_end(token)
        while len(_resolved) > _CACHE_SIZE:
            _resolved.popitem(last=False)


class Buildable(Protocol[Built]):
    """A plain-data recipe: a ``token`` naming it, and ``build`` making its objects."""

    token: str

    def build(self) -> Built: ...


def resolve(recipe: Buildable[Built]) -> Built:
    """What ``recipe`` builds (a ``Recipe``'s ``Variant``, a baseline setup's models), in
    this process: built on first use, then reused (one build per recipe and process, however
    many threads ask at once).

    Raises:
        ConfigError: A model that cannot be made or loaded here.
    """
    with _lock:
        variant = _resolved.get(recipe.token)
        if variant is None:
            variant = recipe.build()
        _remember(recipe.token, variant)
        return variant
