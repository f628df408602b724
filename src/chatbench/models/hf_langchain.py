"""langchain-huggingface's local models, served by chatbench's batched engine.

A ``ChatHuggingFace(llm=HuggingFacePipeline(pipeline=...))`` called as it is returns the whole
chat-templated prompt with each reply (the pipeline's default ``return_full_text``), ignores
per-call ``max_tokens`` and ``temperature``, reports no token counts and generates one row per
call. ``adapt_hf_langchain`` puts chatbench's ``LocalChatModel`` in its place, over the same
pipeline's model and tokenizer (no second copy of the weights) with the chat model's tokenizer
and so its chat template: replies are new text only, each call takes the role's settings and
the per-call seed, reports its tokens and shares batched decoding steps with the others.

The objects are recognised by their class names and shape (``.llm.pipeline.model`` and
``.tokenizer``), so this module imports neither langchain-huggingface nor, until a model is
adapted, torch.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from chatbench.errors import ConfigError

CHAT_CLASS = "ChatHuggingFace"
PIPELINE_CLASS = "HuggingFacePipeline"
_DEFAULT_MAX_TOKENS = 256

_served: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
"""``id`` of a pipeline's model -> the ``LocalCausalLM`` serving it, while anything uses it.
One per model: the engine swaps the model's attention implementation during a forward pass,
under a lock of its own, so two engines must never share a model. An entry keeps its model
alive, so its ``id`` cannot be reused while the entry exists."""
_lock = threading.Lock()


def _named(obj: object, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(obj).__mro__)


def pipeline_llm(model: object) -> Any | None:
    """The ``HuggingFacePipeline`` behind ``model``: ``model`` itself, or a ``ChatHuggingFace``'s
    ``llm``; None for anything else (an endpoint-backed ``ChatHuggingFace`` included).

    Example:
        >>> pipeline_llm("openai:gpt-4o") is None
        True
    """
    llm = getattr(model, "llm", None) if _named(model, CHAT_CLASS) else model
    if _named(llm, PIPELINE_CLASS) and getattr(llm, "pipeline", None) is not None:
        return llm
    return None


def is_hf_langchain(model: object) -> bool:
    """Whether ``model`` is a langchain-huggingface model over a local transformers pipeline
    (a ``ChatHuggingFace`` or a bare ``HuggingFacePipeline``), which chatbench serves itself.
    """
    return pipeline_llm(model) is not None


def hf_model_name(model: object) -> str:
    """The model's name: the chat model's or pipeline's ``model_id``, else the weights'
    ``name_or_path``, else ``"huggingface-pipeline"``."""
    llm = pipeline_llm(model)
    pipe = getattr(llm, "pipeline", None)
    for name in (getattr(model, "model_id", None), getattr(llm, "model_id", None),
                 getattr(getattr(pipe, "model", None), "name_or_path", None)):
        if isinstance(name, str) and name:
            return name
    return "huggingface-pipeline"


def hf_identity(model: object) -> str:
    """What identifies an adapted model's behaviour, the same in every process: its class,
    model name, weights' dtype and the defaults a call without settings gets.

    ``ChatHuggingFace`` reports no identifying parameters of its own, so LangChain's view of
    it is its class name alone, whatever the weights.

    Example:
        >>> hf_identity(chat)  # doctest: +SKIP
        "ChatHuggingFace(model='my/model', dtype='torch.float32', temperature=0.0, max_tokens=256)"
    """
    weights = getattr(getattr(pipeline_llm(model), "pipeline", None), "model", None)
    temperature, max_tokens = _defaults(model)
    return (f"{type(model).__qualname__}(model={hf_model_name(model)!r}, "
            f"dtype={str(getattr(weights, 'dtype', ''))!r}, temperature={temperature!r}, "
            f"max_tokens={max_tokens!r})")


def _parts(model: object) -> tuple[Any, Any]:
    """The pipeline's model and the tokenizer to serve it with (the chat model's own, whose
    chat template ``ChatHuggingFace`` applies, else the pipeline's).

    Raises:
        ConfigError: Not a text-generation pipeline, or no model or tokenizer.
    """
    llm = pipeline_llm(model)
    if llm is None:
        raise ConfigError(f"{type(model).__name__} is not a ChatHuggingFace over a local "
                          "HuggingFacePipeline, nor a HuggingFacePipeline")
    pipe = llm.pipeline
    task = getattr(pipe, "task", "text-generation")
    if task != "text-generation":
        raise ConfigError(f"{hf_model_name(model)!r}: chatbench serves text-generation "
                          f"pipelines (causal LMs), not {task!r}")
    tokenizer = getattr(model, "tokenizer", None) or getattr(pipe, "tokenizer", None)
    if getattr(pipe, "model", None) is None or tokenizer is None:
        raise ConfigError(f"{hf_model_name(model)!r}: its pipeline has no model or tokenizer")
    return pipe.model, tokenizer


def served_lm(model: object) -> Any:
    """The ``LocalCausalLM`` serving ``model``'s weights, made on first use and shared by every
    adapted object over the same weights (so they batch together).

    The tokenizer is set to pad on the left (and to pad with its end token if it has no pad
    token), as batched generation needs; the pipeline still works with it.

    Raises:
        ConfigError: ``model`` cannot be served (see ``pipeline_llm``), or another tokenizer
            with a different chat template already serves the same weights.
        MissingDependencyError: torch or transformers is not installed.
    """
    from chatbench.models.hf import LocalCausalLM

    weights, tokenizer = _parts(model)
    with _lock:
        lm = _served.get(id(weights))
        if lm is None:
            lm = LocalCausalLM(weights, tokenizer, name=hf_model_name(model))
            _served[id(weights)] = lm
    template = getattr(tokenizer, "chat_template", None)
    if tokenizer is not lm.tokenizer and template != getattr(lm.tokenizer, "chat_template", None):
        raise ConfigError(f"{hf_model_name(model)!r}: these weights are already served with "
                          "another chat template; give every chat model over them one tokenizer")
    return lm


def adapt_hf_langchain(model: object) -> Any:
    """chatbench's ``LocalChatModel`` in place of a ``ChatHuggingFace`` (or a bare
    ``HuggingFacePipeline``) over a local pipeline, on the same weights.

    Temperature and token limit default to the chat model's own (``temperature``,
    ``max_tokens``), else its pipeline's ``pipeline_kwargs`` (``max_new_tokens``; greedy
    unless ``do_sample``); a role's settings in the graph spec override both on every call.

    Raises:
        ConfigError: ``model`` cannot be served (see ``served_lm``).
        MissingDependencyError: torch or transformers is not installed.

    Example:
        >>> chat = ChatHuggingFace(llm=HuggingFacePipeline(pipeline=pipe))  # doctest: +SKIP
        >>> adapt_hf_langchain(chat).invoke("Hi", max_tokens=8).usage_metadata  # doctest: +SKIP
        {'input_tokens': 31, 'output_tokens': 8, 'total_tokens': 39}
    """
    from chatbench.models.hf import LocalChatModel

    lm = served_lm(model)
    temperature, max_tokens = _defaults(model)
    return LocalChatModel(lm=lm, model_name=hf_model_name(model), temperature=temperature,
                          max_tokens=max_tokens)


def _defaults(model: object) -> tuple[float, int]:
    """Temperature and token limit of ``model`` when a call sets none (``adapt_hf_langchain``)."""
    kwargs = dict(getattr(pipeline_llm(model), "pipeline_kwargs", None) or {})
    own_temperature = getattr(model, "temperature", None)
    if isinstance(own_temperature, (int, float)) and not isinstance(own_temperature, bool):
        temperature = float(own_temperature)
    elif kwargs.get("do_sample"):
        temperature = float(kwargs.get("temperature") or 1.0)
    else:
        temperature = 0.0  # transformers' default: greedy
    own_max = getattr(model, "max_tokens", None)
    max_tokens = own_max if isinstance(own_max, int) else kwargs.get("max_new_tokens")
    return temperature, int(max_tokens or _DEFAULT_MAX_TOKENS)
