"""Checkpointers for chatbench graphs: a conversation state loads back without LangGraph's
"Deserializing unregistered type" warning.

LangGraph's default serializer loads any type but warns about each one outside its short list
of safe types (a future version will refuse them). A conversation state holds three of
chatbench's own (``CHECKPOINT_TYPES``: the question, the stop reason, rubric judgements), so
``build_graph(spec, checkpointer=...)`` gives the graph a serializer that allows exactly the
safe types and those: LangGraph's strict mode, for this graph.
"""

from __future__ import annotations

import copy

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Checkpointer

from chatbench.state import CHECKPOINT_TYPES


def checkpoint_serde(*extra: type, pickle_fallback: bool = False) -> JsonPlusSerializer:
    """LangGraph's serializer, loading its safe types and those of a conversation state only.

    Give it to a checkpointer of a graph compiled by hand (``build_state_graph``), with the
    types of any state fields you add.

    Args:
        extra: More types to allow (pydantic models, dataclasses, enums of your own fields).
        pickle_fallback: Pickle what msgpack cannot encode (LangGraph's option).

    Returns:
        A ``JsonPlusSerializer`` with an explicit msgpack allowlist.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> saver = InMemorySaver(serde=checkpoint_serde())
    """
    return JsonPlusSerializer(pickle_fallback=pickle_fallback,
                              allowed_msgpack_modules=[*CHECKPOINT_TYPES, *extra])


def with_state_types(checkpointer: Checkpointer) -> Checkpointer:
    """``checkpointer`` with a serializer that loads a conversation state without warnings.

    A saver on LangGraph's default serializer (which loads anything, warning about unlisted
    types) becomes a shallow copy, sharing its storage, on ``checkpoint_serde()``; a saver
    whose serializer already has an allowlist gets the state's types added to it (LangGraph's
    ``with_allowlist``). Other serializers, and None / True / False, are kept as they are.

    Args:
        checkpointer: What ``StateGraph.compile`` takes.

    Returns:
        The checkpointer to compile with.
    """
    if not isinstance(checkpointer, BaseCheckpointSaver):
        return checkpointer
    serde = checkpointer.serde
    if type(serde) is JsonPlusSerializer and _allows_any_type(serde):
        clone = copy.copy(checkpointer)  # as LangGraph's with_allowlist does
        clone.serde = checkpoint_serde(pickle_fallback=serde.pickle_fallback)
        return clone
    if isinstance(serde, (JsonPlusSerializer, EncryptedSerializer)):
        return checkpointer.with_allowlist([(t.__module__, t.__name__) for t in CHECKPOINT_TYPES])
    return checkpointer


def _allows_any_type(serde: JsonPlusSerializer) -> bool:
    """Whether ``serde`` is in LangGraph's permissive default mode (any type, with a warning).

    LangGraph has no public flag for it; if the attribute ever goes, assume permissive, so
    the serializer is replaced by ``checkpoint_serde()``, which loads the state either way.
    """
    return getattr(serde, "_allowed_msgpack_modules", True) is True
