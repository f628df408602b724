"""``ModelRef``: a model as chatbench reads it, from a string or an object, worked out once.

Every place that needs to know something about a role's model (the name records store, what
identifies its behaviour in a run's identity, whether it loads weights in the process that
runs it, whether a worker process can make it from its string) asks its ``ModelRef``; the
string itself is read by one function, ``registry.route``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from chatbench.datatypes import TextCompleter
from chatbench.models.apps import app_label
from chatbench.models.base import DTYPE_ENV
from chatbench.models.hf_langchain import hf_identity, hf_model_name, is_hf_langchain
from chatbench.models.registry import LOCAL_MODEL_NAMES, known_providers, route

Engine = Literal["llamacpp", "torch"]
LOCAL_PROVIDERS: dict[str, Engine] = {"gguf": "llamacpp", "hf": "torch"}
"""Providers that load weights in this process, and the engine that serves them."""


@dataclass(frozen=True)
class ModelRef:
    """One role's model as chatbench reads it.

    Example:
        >>> ref = ModelRef.of(" fake:echo ")
        >>> ref.provider, ref.name, ref.display, ref.identity, ref.local, ref.resolvable
        ('fake', 'echo', 'fake:echo', 'fake:echo', False, True)
    """

    display: str
    """The model's name as records store it: a string as given (stripped), an object's
    ``Class:model_name`` (or its app name, or its class)."""
    identity: str
    """What identifies its behaviour, part of a run's identity: a string as given (a torch
    model's with its weights' dtype unless float32; ``smollm2`` on llama.cpp as
    ``smollm2 (llama.cpp Q8_0)``), an object's class with its identifying parameters."""
    provider: str | None = None
    """The provider that makes it from its string (``smollm2``: its engine's, ``gguf`` or
    ``hf``; a bare name: the one LangChain infers); None for an object or an unknown name."""
    name: str = ""
    """What the provider is given (the part after ``provider:``, or the bare name)."""
    local: bool = False
    """It loads weights in the process that runs it."""
    engine: Engine | None = None
    """The local engine that serves it; None for anything not local."""
    resolvable: bool = False
    """A string a worker process can make the model from, not an object's name."""

    @classmethod
    def of(cls, model: object) -> ModelRef:
        """The reference of a model string or object."""
        if isinstance(model, str):
            return cls.parse(model)
        return cls(display=_object_name(model), identity=_object_identity(model),
                   local=_loads_weights(model))

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """The reference of a model string (never raises: an unknown name is not
        ``resolvable``; ``get_chat_model`` says why)."""
        text = text.strip()
        provider, rest = route(text)
        if ":" in text:
            resolvable = bool(rest) and provider in known_providers()
        else:  # a bare name spelled like a class is an object's name (``model_name``'s)
            class_like = text.isidentifier() and text[:1].isupper()
            resolvable = text in LOCAL_MODEL_NAMES or (not class_like and provider is not None)
        engine = LOCAL_PROVIDERS.get(provider or "") if resolvable else None
        return cls(display=text, identity=_string_identity(text, engine), provider=provider,
                   name=rest, local=engine is not None, engine=engine, resolvable=resolvable)


def _string_identity(text: str, engine: Engine | None) -> str:
    if engine == "llamacpp" and text in LOCAL_MODEL_NAMES:
        from chatbench.models.gguf import SMOLLM2_LLAMACPP_IDENTITY

        return SMOLLM2_LLAMACPP_IDENTITY  # other weights, another engine: other results
    dtype = os.environ.get(DTYPE_ENV) or "float32"
    return f"{text} (dtype {dtype})" if engine == "torch" and dtype != "float32" else text


def _loads_weights(model: object) -> bool:
    return (isinstance(model, TextCompleter) or getattr(type(model), "loads_weights", False)
            is True or is_hf_langchain(model))


def _object_name(model: object) -> str:
    if is_hf_langchain(model):
        return f"{type(model).__name__}:{hf_model_name(model)}"
    if (label := app_label(model)) is not None:  # a graph, chain or function
        return label
    for attr in ("model_name", "model", "name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return f"{type(model).__name__}:{value}"
    return type(model).__name__


def _object_identity(model: object) -> str:
    """An object's class with its identifying parameters (``_identifying_params``, as
    LangChain reports them); values that cannot be shown stably become their type's name,
    so the same model gives the same identity in every process."""
    if is_hf_langchain(model):  # reports no identifying parameters of its own
        return hf_identity(model)
    if (label := app_label(model)) is not None:
        return label
    kind = type(model).__qualname__
    try:
        params = getattr(model, "_identifying_params", None)
    except Exception:  # a provider's property that needs a client: the class must do
        params = None
    if not isinstance(params, dict) or not params:
        return kind
    shown = ", ".join(f"{key}={_stable(value)}" for key, value in sorted(params.items()))
    return f"{kind}({shown})"


def _stable(value: Any) -> str:
    """``value`` as text that is the same in every process (no object addresses)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_stable(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_stable(k)}: {_stable(v)}" for k, v in value.items()) + "}"
    return type(value).__name__
