"""Apps as the assistant: a LangChain ``Runnable``, a compiled LangGraph graph (an agent with
tools, a RAG pipeline) or a plain Python function, sync or async, evaluated like a chat model.

``as_chat_model(app)`` wraps an app in ``AppChatModel``, a ``BaseChatModel``, so nodes,
retries, timeouts and run identities treat it as any other model. Each assistant turn:

- the app gets the conversation's messages (a list of ``BaseMessage``): a graph, or a Runnable
  whose input has a ``messages`` field (a prompt with a messages placeholder), as
  ``{"messages": [...]}``, anything else as the list itself;
- what it returns (a string, a message, messages, or a dict: ``chatbench.models.app_steps``)
  gives the reply the simulated user sees; its inner steps (tool calls with their arguments,
  tool results, retrieved documents, intermediate AI messages) travel with the reply and are
  stored with the assistant turn; the token usage of every AI message it produced is summed;
- a compiled graph with a checkpointer (an app with its own memory) gets one thread per
  conversation: ``configurable.thread_id`` is the conversation's id (the ``conversation_id``
  of the run's metadata), its first turn starts the thread empty (what an earlier attempt of
  the same conversation left is deleted), and later turns send only the messages new since
  the app's last reply. Any other app gets the whole transcript every turn.

The app runs under its own config: the chat model's callbacks (so traces nest under the
assistant call, with the run's tags and metadata), never chatbench's graph internals (it is
no subgraph of the conversation graph). The role's temperature and token limit are not
passed to an app: its own settings apply.

A model string ``app:package.module:attribute`` names an app by import path (an app object,
or a function with no required argument that returns one), so grids can compare apps and
worker processes rebuild them. A module that is not importable is looked for in the current
directory too, as ``uvicorn module:app`` does.

Apps per conversation: a factory (a class, or a function with no required argument) named
by an ``app:`` string is called once per conversation, so an app with state of its own (a
scripted or recorded model, a memory, a counter) never serves two conversations:
``ConversationModels`` gives each conversation's ``SimContext`` a model made by a new call
(``chatbench.runner.recipe.Variant.context``); the app made when the variant is built, which
checks the factory, serves the first conversation. A factory that returns a chat model is
made again the same way, and stays a chat model (the role's settings and seed apply). An
app object, given as an object or named by an ``app:`` string that is not a factory, is one
object that every conversation of the process calls, concurrently too: it must be safe to
share (a stateless chain or function; a graph with a checkpointer, whose memory is kept per
thread, one thread per conversation). To give each conversation state of its own, name a
factory.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import os
import sys
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackManager,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableLambda
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from pydantic import ConfigDict, Field, PrivateAttr

from chatbench.errors import ChatBenchError, ConfigError
from chatbench.models.app_steps import app_reply
from chatbench.models.registry import register_provider

APP_PROVIDER = "app"
"""Prefix of model strings that name an app: ``app:package.module:attribute``."""
CONVERSATION_ID = "conversation_id"
"""Run metadata key of the conversation's id: an app with memory uses it as its thread id."""
APP_LLM_TYPE = "chatbench-app"
"""``_llm_type`` of ``AppChatModel``."""

RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun


def is_app(obj: object) -> bool:
    """Whether ``obj`` can be the assistant: any ``Runnable`` (a chat model, a chain, a
    compiled graph) or a callable that is not a class."""
    return isinstance(obj, Runnable) or (callable(obj) and not isinstance(obj, type))


def app_graph(app: object) -> Pregel | None:
    """The compiled LangGraph graph ``app`` is, or binds (``graph.with_config(...)``)."""
    while isinstance(app, RunnableBinding):
        app = app.bound
    return app if isinstance(app, Pregel) else None


def app_name(app: object) -> str:
    """A readable name: ``graph:<name>``, ``runnable:<name>`` or ``callable:<module.name>``.

    Example:
        >>> app_name(len)
        'callable:builtins.len'
    """
    if isinstance(app, AppChatModel):
        return app.app_name
    graph = app_graph(app)
    if graph is not None:
        return f"graph:{graph.get_name()}"
    if isinstance(app, Runnable):
        return f"runnable:{app.get_name()}"
    qualname = getattr(app, "__qualname__", None) or type(app).__qualname__
    module = getattr(app, "__module__", None) or type(app).__module__
    return f"callable:{module}.{qualname}"


def app_label(model: object) -> str | None:
    """``app_name`` of an app that is no language model (a graph, a chain, a function): what
    records name it and what identifies it; None for model strings and language models, whose
    names are their own (``chatbench.runner.build.model_name``)."""
    if isinstance(model, (str, BaseLanguageModel)) or not is_app(model):
        return None
    return app_name(model)


def as_chat_model(app: object, name: str | None = None) -> BaseChatModel:
    """A chat model as it is; any other app wrapped in an ``AppChatModel``.

    Args:
        app: A chat model, Runnable, compiled graph or callable (messages -> reply).
        name: The name it is stored under (default ``app_name(app)``).

    Raises:
        ConfigError: ``app`` is none of these.
    """
    if isinstance(app, BaseChatModel):
        return app
    if not is_app(app):
        raise ConfigError(
            f"a {type(app).__name__} is not a model or an app: give a model string "
            "(e.g. 'openai:gpt-4o', 'app:package.module:attribute'), a LangChain chat model or "
            "Runnable, a compiled LangGraph graph, or a function of the messages"
        )
    return AppChatModel(app=app, app_name=name or app_name(app))


class AppChatModel(BaseChatModel):
    """An app (Runnable, compiled graph or callable) as a chat model: one call is one
    assistant turn (module docstring).

    Example:
        >>> model = AppChatModel(app=lambda messages: f"{len(messages)} messages")
        >>> model.invoke("hi").content
        '1 messages'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    app: Any = Field(exclude=True)
    """The app as given."""
    app_name: str = "app"
    """Its name in records (``app_name``, or the ``app:`` model string)."""
    _runnable: Runnable[Any, Any] = PrivateAttr()
    _dict_input: bool = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Turn the app into a Runnable and see what input it takes, once."""
        super().model_post_init(context)
        self._runnable = self.app if isinstance(self.app, Runnable) else RunnableLambda(self.app)
        self._dict_input = takes_messages_dict(self._runnable)

    @property
    def _llm_type(self) -> str:
        return APP_LLM_TYPE

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"app": self.app_name}

    @property
    def checkpointer(self) -> BaseCheckpointSaver | None:
        """The app's own memory: the checkpointer its graph was compiled with, if any."""
        graph = app_graph(self.app)
        saver = graph.checkpointer if graph is not None else None
        return saver if isinstance(saver, BaseCheckpointSaver) else None

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        payload, config, sent = self._prepare(messages, run_manager)
        if _async_only(self._runnable):
            output = _run_coroutine(lambda: _ainvoke(self._runnable, payload, config))
        else:
            output = contextvars.copy_context().run(_invoke, self._runnable, payload, config)
        return ChatResult(generations=[ChatGeneration(message=app_reply(output, sent))])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        payload, config, sent = self._prepare(messages, run_manager)
        # a task runs in a copy of this context: the app's config stays its own
        output = await asyncio.create_task(_ainvoke(self._runnable, payload, config))
        return ChatResult(generations=[ChatGeneration(message=app_reply(output, sent))])

    def _prepare(self, messages: list[BaseMessage], run_manager: RunManager | None
                 ) -> tuple[Any, RunnableConfig, list[BaseMessage]]:
        """The app's input, its config, and the messages sent (each with an id, so the app's
        new messages can be told from them)."""
        sent = [m if m.id else m.model_copy(update={"id": f"chatbench-{uuid.uuid4().hex}"})
                for m in messages]
        config = RunnableConfig(callbacks=_child_callbacks(run_manager))
        saver = self.checkpointer
        if saver is not None:
            conversation = (run_manager.metadata if run_manager else {}).get(CONVERSATION_ID)
            thread = str(conversation) if conversation else f"chatbench-{uuid.uuid4().hex}"
            config["configurable"] = {"thread_id": thread}
            if conversation:  # a thread of its own only: else the app gets everything
                sent = _unsent(sent, saver, thread)
        return ({"messages": sent} if self._dict_input else sent), config, sent


def _child_callbacks(run_manager: RunManager | None) -> BaseCallbackManager | None:
    """The callbacks of the app's run: the handlers, tags and metadata the chat model's run
    passes on, its run the parent (``ParentRunManager.get_child``, which a chat model's run
    manager lacks)."""
    if run_manager is None:
        return None
    kind = (AsyncCallbackManager if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
            else CallbackManager)
    manager = kind(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return manager


def takes_messages_dict(runnable: Runnable[Any, Any]) -> bool:
    """Whether ``runnable`` takes ``{"messages": [...]}``: a compiled graph, or a Runnable
    whose input schema has a ``messages`` field (a chat prompt with that placeholder)."""
    if app_graph(runnable) is not None:
        return True
    try:
        fields = getattr(runnable.get_input_schema(), "model_fields", {})
    except Exception:  # a Runnable that cannot describe its input takes the list
        return False
    return "messages" in fields


def _unsent(sent: list[BaseMessage], saver: BaseCheckpointSaver, thread: str
            ) -> list[BaseMessage]:
    """What an app with memory has not seen: the messages after the transcript's last
    assistant reply; on a conversation's first turn, everything, into an empty thread."""
    last = max((i for i, m in enumerate(sent) if isinstance(m, AIMessage)), default=None)
    if last is not None:
        return sent[last + 1:]
    try:
        saver.delete_thread(thread)  # left by an earlier attempt of this conversation
    except NotImplementedError:
        pass
    return sent


def _invoke(runnable: Runnable[Any, Any], payload: Any, config: RunnableConfig) -> Any:
    """``runnable.invoke`` under ``config`` alone: not inside chatbench's graph node, whose
    config LangChain would otherwise merge in (run in a copied context)."""
    var_child_runnable_config.set(None)
    return runnable.invoke(payload, config)


async def _ainvoke(runnable: Runnable[Any, Any], payload: Any, config: RunnableConfig) -> Any:
    """``runnable.ainvoke`` under ``config`` alone (run as a task: a copied context)."""
    var_child_runnable_config.set(None)
    return await runnable.ainvoke(payload, config)


def _async_only(runnable: Runnable[Any, Any]) -> bool:
    """An async function's ``RunnableLambda``, which has no sync ``invoke``."""
    return isinstance(runnable, RunnableLambda) and not hasattr(runnable, "func")


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to its end from sync code: here, or on a thread of its own when this
    thread already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


# --- app:package.module:attribute -----------------------------------------------------------


def is_app_string(spec: str) -> bool:
    """Whether a model string names an app (``app:...``)."""
    return spec.strip().startswith(f"{APP_PROVIDER}:")


def find_app(target: str) -> Any:
    """The attribute ``target`` (``package.module:attribute``, the attribute dotted or not)
    names, imported but not called.

    Raises:
        ConfigError: A malformed target, a module that cannot be imported, or no such
            attribute.
    """
    module_name, _, attribute = target.strip().partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"app model {APP_PROVIDER}:{target!r}: expected "
                          f"{APP_PROVIDER}:<package.module>:<attribute>")
    found: Any = _import(module_name)
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigError(f"app model {APP_PROVIDER}:{target}: module {module_name!r} has "
                              f"no attribute {attribute!r}")
        found = getattr(found, part)
    return found


APP_PATH_ENV = "CHATBENCH_APP_PATH"
"""Folders (``os.pathsep``-separated) where ``app:`` modules are looked for after
``sys.path`` and the current folder: a config file's folder is added when the file is read
(``add_app_folder``), and worker processes inherit it with the environment."""


def add_app_folder(folder: str | os.PathLike[str]) -> None:
    """Look for ``app:`` modules in ``folder`` too (the folder of a config file that names
    them), in this process and the worker processes it starts."""
    folder = os.path.abspath(folder)
    known = [f for f in os.environ.get(APP_PATH_ENV, "").split(os.pathsep) if f]
    if folder not in known:
        os.environ[APP_PATH_ENV] = os.pathsep.join([*known, folder])


def _import(name: str) -> Any:
    """Import module ``name``, looking in the current folder and then the folders of
    ``APP_PATH_ENV`` too when it is not found elsewhere (a console script does not put the
    current folder on ``sys.path``; a config file's folder is added when it is read).

    Raises:
        ConfigError: It cannot be found, or importing it fails.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        own = exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}."))
        extra = [os.getcwd(), *(f for f in os.environ.get(APP_PATH_ENV, "").split(os.pathsep)
                                if f)]
        missing = [folder for folder in extra if folder not in sys.path]
        if own and missing:
            sys.path.insert(0, missing[0])
            return _import(name)
        raise ConfigError(f"app module {name!r} cannot be imported: {exc}; looked on "
                          f"sys.path, in the current folder and in ${APP_PATH_ENV}") from None
    except ChatBenchError:
        raise
    except Exception as exc:  # whatever the module raises while it loads
        raise ConfigError(f"app module {name!r} failed to import: "
                          f"{type(exc).__name__}: {exc}") from None


def is_factory(obj: object) -> bool:
    """A class, or a (sync) function with no required argument: it makes the app."""
    if isinstance(obj, Runnable) or not callable(obj) or inspect.iscoroutinefunction(obj):
        return False
    if isinstance(obj, type):
        return True
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): an app
        return False
    required = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                inspect.Parameter.KEYWORD_ONLY)
    return not any(p.default is p.empty and p.kind in required for p in parameters)


def load_app(target: str) -> Any:
    """The app ``target`` names, a factory's called.

    Raises:
        ConfigError: As ``find_app``, a factory that fails, or something that is no app.
    """
    found = find_app(target)
    return make_app(found, f"{APP_PROVIDER}:{target.strip()}") if is_factory(found) else (
        _checked_app(found, f"{APP_PROVIDER}:{target.strip()}"))


def make_app(factory: Callable[[], Any], name: str) -> Any:
    """Call an app's ``factory``; ``name`` (its ``app:`` string) names it in errors.

    Raises:
        ConfigError: The factory raised, or made something that is no app.
    """
    try:
        made = factory()
    except ChatBenchError:
        raise
    except Exception as exc:  # the user's factory: any failure is a bad app string
        raise ConfigError(f"app model {name}: its factory raised "
                          f"{type(exc).__name__}: {exc}") from None
    return _checked_app(made, name)


def _checked_app(found: Any, name: str) -> Any:
    if not is_app(found):
        raise ConfigError(f"app model {name} is a {type(found).__name__}, "
                          "not an app (a Runnable, a compiled graph, a function of the "
                          "messages, or a function with no argument that returns one)")
    return found


def check_app_string(spec: str) -> None:
    """Check an ``app:`` model string without building the app: its module imports and has
    the attribute, which is an app or a factory (called where the first job runs).

    Raises:
        ConfigError: As ``find_app``, or the attribute is neither an app nor a factory.
    """
    target = spec.strip().removeprefix(f"{APP_PROVIDER}:")
    found = find_app(target)
    if not (is_factory(found) or is_app(found)):
        raise ConfigError(f"app model {spec.strip()} is a {type(found).__name__}, not an app")


@register_provider(APP_PROVIDER)
def app_chat_model(target: str) -> BaseChatModel:
    """The app named by ``app:<target>`` (``package.module:attribute``) as a chat model (a
    factory's is made again for each conversation: ``ConversationModels``).

    Raises:
        ConfigError: As ``load_app``.
    """
    return as_chat_model(load_app(target), name=f"{APP_PROVIDER}:{target.strip()}")


class ConversationModels:
    """Each conversation's model of a role whose ``app:`` string names a factory: the
    factory is called again for each conversation (the model built with the variant, which
    checked the factory, serves the first), so no two conversations share an app's state.

    Example:
        >>> make = ConversationModels(lambda: (lambda messages: "hi"), "app:x:y",
        ...                           first=as_chat_model(len))
        >>> first, second = make(), make()
        >>> first.app is len, second.app is len, second.invoke("hey").content
        (True, False, 'hi')
    """

    def __init__(self, factory: Callable[[], Any], name: str, first: BaseChatModel) -> None:
        self.factory = factory
        """The factory the ``app:`` string names."""
        self.name = name
        """The ``app:`` string: the name of each model made."""
        self._unused = [first]

    def __call__(self) -> BaseChatModel:
        """A new model for one conversation. A factory that fails here fails that
        conversation (its first call to the model raises the ``ConfigError``: an error
        record), not the run."""
        try:
            return self._unused.pop()  # atomic: one conversation only gets it
        except IndexError:
            pass
        try:
            return as_chat_model(make_app(self.factory, self.name), name=self.name)
        except ConfigError as exc:
            return AppChatModel(app=_failing(exc), app_name=self.name)


def conversation_models(model: object, built: BaseChatModel) -> ConversationModels | None:
    """A role's per-conversation models when ``model`` (as given: a model string or an
    object) is an ``app:`` string naming a factory, ``built`` what it built; None for any
    other model, which every conversation shares.

    Raises:
        ConfigError: As ``find_app``.
    """
    if not (isinstance(model, str) and is_app_string(model)):
        return None
    name = model.strip()
    found = find_app(name.removeprefix(f"{APP_PROVIDER}:"))
    return ConversationModels(found, name, built) if is_factory(found) else None


def _failing(error: ConfigError) -> Callable[[list[BaseMessage]], Any]:
    """An app that raises ``error``: a conversation whose factory call failed."""

    def failed(messages: list[BaseMessage]) -> Any:
        raise error

    return failed
