"""Names to objects: a ``RunConfig``'s strings become a spec, questions, models and a persona."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from chatbench.config import GraphSpec, RunConfig, load_graph_spec
from chatbench.errors import ConfigError
from chatbench.models.base import TextCompleter
from chatbench.models.registry import get_chat_model, get_text_completer, known_providers
from chatbench.personas import Persona, load_persona

ModelLike = str | BaseChatModel


@dataclass(frozen=True)
class Models:
    """The resolved models of a run, with the names stored in each record."""

    user: BaseChatModel | TextCompleter | None
    assistant: BaseChatModel
    judge: BaseChatModel | None
    names: dict[str, str]


def model_name(model: object) -> str:
    """A readable name for a model given as a string or an object."""
    if isinstance(model, str):
        return model
    for attr in ("model_name", "model", "name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return f"{type(model).__name__}:{value}"
    return type(model).__name__


def is_model_string(name: str) -> bool:
    """Whether ``name`` is a model string a worker process can resolve (``smollm2``,
    ``hf:...``, ``fake:...``, ``openai:...``), as opposed to the name of a model object."""
    provider, sep, rest = name.strip().partition(":")
    return name.strip() == "smollm2" or bool(sep and rest) and provider in known_providers()


def is_local_model_string(name: str) -> bool:
    """Whether ``name`` names a model that loads its weights in this process."""
    return name.strip() == "smollm2" or name.strip().startswith("hf:")


def build_spec(config: RunConfig) -> GraphSpec:
    """The run's graph spec, with the config's persona override applied."""
    spec = load_graph_spec(config.graph)
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

    Raises:
        ConfigError: An unknown provider or a model that does not suit its role.
    """
    if spec.rubrics and judge is None:
        raise ConfigError(
            f"graph {spec.name!r} scores rubrics {list(spec.rubrics)}: give a judge model (--judge)"
        )
    if spec.simulator == "scripted":
        user_model: BaseChatModel | TextCompleter | None = None
    elif spec.simulator == "causal_lm":
        user_model = get_text_completer(user)
    else:
        user_model = get_chat_model(user)  # type: ignore[arg-type]  # str or chat model
    names = {
        "user": "scripted" if user_model is None else model_name(user),
        "assistant": model_name(assistant),
        "judge": model_name(judge) if judge is not None else "rules",
    }
    return Models(
        user=user_model,
        assistant=get_chat_model(assistant),
        judge=get_chat_model(judge) if judge is not None else None,
        names=names,
    )


EXECUTION_ONLY = {
    "out",
    "run_id",
    "concurrency",
    "executor",
    "ray_address",
    "processes",
    "max_attempts",
    "retry_wait_s",
    "call_timeout_s",
}
"""RunConfig fields that change how a run executes, not its results."""


def run_id_for(config: RunConfig) -> str:
    """The config's run id: given, or a short hash of everything that shapes the results."""
    if config.run_id:
        return config.run_id
    shaping = config.model_dump(mode="json", exclude=EXECUTION_ONLY)
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()
    return f"run-{digest[:10]}"
