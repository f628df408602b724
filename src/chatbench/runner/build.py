"""Names to objects: a ``RunConfig``'s strings become a spec, questions, models and a persona."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from chatbench.config import AblationGrid, GraphSpec, RunConfig
from chatbench.data.questions import BUNDLED
from chatbench.datatypes import TextCompleter
from chatbench.errors import ConfigError
from chatbench.graphs.builder import graph_spec
from chatbench.models.apps import conversation_models
from chatbench.models.fake import FakeChatModel
from chatbench.models.reference import ModelRef
from chatbench.models.registry import (
    get_chat_model,
    get_text_completer,
)
from chatbench.personas import Persona, load_persona
from chatbench.scoring.rubrics import needs_judge_model

ModelLike = str | BaseChatModel


@dataclass(frozen=True)
class Models:
    """The resolved models of a run, with the names stored in each record."""

    user: BaseChatModel | TextCompleter | None
    assistant: BaseChatModel
    judge: BaseChatModel | None
    names: dict[str, str]
    identity: dict[str, str] = field(default_factory=dict)
    """Role -> ``model_identity`` of the model given (its string, or an object's class and
    identifying parameters): part of the run's identity. Empty: the names stand in."""
    per_conversation: dict[str, Callable[[], BaseChatModel]] = field(default_factory=dict)
    """Role -> what makes that role's model for each conversation: the roles whose
    ``app:`` string names a factory (``chatbench.models.apps.conversation_models``). Every
    other role's model is shared by the conversations."""

    def for_conversation(self) -> Models:
        """The models one conversation runs with: an ``app:`` factory's made anew, the others
        as they are."""
        if not self.per_conversation:
            return self
        made = {role: make() for role, make in self.per_conversation.items()}
        return replace(self, **made)


def build_spec(config: RunConfig) -> GraphSpec:
    """The run's graph spec, with the config's persona override applied."""
    spec = graph_spec(config.graph)
    if config.persona is not None:
        spec = spec.model_copy(update={"persona": config.persona})
    return spec


def build_persona(spec: GraphSpec) -> Persona | None:
    """The spec's persona, loaded and validated."""
    return load_persona(spec.persona) if spec.persona else None


def build_models(
    spec: GraphSpec, user: object, assistant: ModelLike, judge: ModelLike | None = None
) -> Models:
    """Resolve each role's model; the user's kind depends on the simulator.

    A langchain-huggingface model over a local pipeline (``ChatHuggingFace``,
    ``HuggingFacePipeline``), in any role, is served by chatbench's batched engine on the
    same weights (``get_chat_model``, ``models/hf_langchain.py``).

    Raises:
        ConfigError: An unknown provider, a model that does not suit its role, or rubrics
            that need a judge model and no judge.
    """
    if judge is None and needs_judge_model(spec.rubrics):
        raise ConfigError(
            f"graph {spec.name!r} scores rubrics {list(spec.rubrics)}: give a judge model (--judge)"
        )
    if spec.simulator == "scripted":
        user_model: BaseChatModel | TextCompleter | None = None
    elif spec.simulator == "causal_lm":
        user_model = get_text_completer(user)
    else:
        user_model = get_chat_model(user)
    names = {
        "user": "scripted" if user_model is None else ModelRef.of(user).display,
        "assistant": ModelRef.of(assistant).display,
        "judge": ModelRef.of(judge).display if judge is not None else "rules",
    }
    identity = {
        "user": "scripted" if user_model is None else ModelRef.of(user).identity,
        "assistant": ModelRef.of(assistant).identity,
        "judge": ModelRef.of(judge).identity if judge is not None else "rules",
    }
    assistant_model = get_chat_model(assistant)
    judge_model = get_chat_model(judge) if judge is not None else None
    given = {"user": (user, user_model), "assistant": (assistant, assistant_model),
             "judge": (judge, judge_model)}
    per_conversation = {
        role: make for role, (model, built) in given.items()
        if isinstance(built, BaseChatModel)
        and (make := conversation_models(model, built)) is not None
    }
    models = Models(
        user=user_model,
        assistant=assistant_model,
        judge=judge_model,
        names=names,
        identity=identity,
        per_conversation=per_conversation,
    )
    for role, model in (("user", models.user), ("assistant", models.assistant),
                        ("judge", models.judge)):
        check_fake_delay(role, names[role], model)
    return models


MAX_SECONDS = 86_400.0
"""Longest timeout, retry wait or fake delay accepted: a day. Anything longer (or infinite,
or not a number) can only make every call fail or hang, so it is refused up front."""


def check_fake_delay(role: str, name: str, model: object) -> None:
    """Refuse a fake model whose delay (``fake:echo@SECONDS``) would fail every call.

    Raises:
        ConfigError: The delay is negative, not finite or longer than a day.
    """
    if isinstance(model, FakeChatModel) and not 0 <= model.delay_s <= MAX_SECONDS:
        raise ConfigError(
            f"{role} model {name!r}: delay {model.delay_s} s must be a number of seconds "
            f"from 0 to {MAX_SECONDS:.0f}"
        )


def check_timing(call_timeout_s: float | None, retry_wait_s: float | None) -> None:
    """Refuse timing settings that can only make calls fail: a call timeout that is not a
    positive number of seconds up to a day (None: no timeout), or a retry wait that is not
    0 to a day. NaN and infinity are refused.

    Raises:
        ConfigError: Naming the setting and its command-line option.
    """
    if call_timeout_s is not None and not 0 < call_timeout_s <= MAX_SECONDS:
        raise ConfigError(
            f"call_timeout_s (--call-timeout) must be more than 0 and at most "
            f"{MAX_SECONDS:.0f} seconds, got {call_timeout_s}"
        )
    if retry_wait_s is not None and not 0 <= retry_wait_s <= MAX_SECONDS:
        raise ConfigError(
            f"retry_wait_s (--retry-wait) must be 0 to {MAX_SECONDS:.0f} seconds, "
            f"got {retry_wait_s}"
        )


def _is_path(name: str) -> bool:
    """Whether a graph or persona reference is a path, not a shipped name (the rule of
    ``chatbench._yaml.resolve_preset``)."""
    path = Path(name)
    return path.suffix in {".yaml", ".yml"} or path.parent != Path(".")


def absolute_preset(name: str | None) -> str | None:
    """A graph or persona reference with a path made absolute (names stay names), so a
    stored run reads the same file from any directory."""
    return str(Path(name).resolve()) if name is not None and _is_path(name) else name


def absolute_questions(source: str | None) -> str | None:
    """A question source with a file path made absolute (the bundled set's name stays)."""
    return source if source == BUNDLED else absolute_path(source)


def absolute_path(path: str | None) -> str | None:
    """A file path made absolute (None stays None)."""
    return None if path is None else str(Path(path).resolve())


def absolute_config(config: RunConfig) -> RunConfig:
    """The config with its question, scenario, graph and persona paths absolute."""
    return config.model_copy(update={
        "questions": absolute_questions(config.questions),
        "scenarios": absolute_path(config.scenarios),
        "graph": absolute_preset(config.graph),
        "persona": absolute_preset(config.persona),
    })


def absolute_grid(grid: AblationGrid) -> AblationGrid:
    """The grid with its base graph, question and scenario paths absolute. Persona factor values are
    left as written, since they name the variants; a relative one is read from the current
    directory, and a persona whose content changed is refused by the run's identity."""
    return grid.model_copy(update={
        "base": absolute_preset(grid.base), "questions": absolute_questions(grid.questions),
        "scenarios": absolute_path(grid.scenarios),
    })


def run_id_for(config: RunConfig, digest: str) -> str:
    """The config's run id: given, or a prefix of ``digest``, the hash of the run's identity
    (``RunIdentity.digest``), so a run whose files changed gets a new id."""
    return config.run_id or f"run-{digest[:10]}"
