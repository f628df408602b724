"""Scenarios as pytest tests: ``run_scenario`` plays one scenario against an assistant (a model
or an app) and returns a ``ScenarioResult`` to assert on, with a replay cache so CI reruns
call no model again.

    result = chatbench.testing.run_scenario(scenario, assistant=my_app, user="openai:gpt-4o-mini")
    assert result.success, result.explain()

The replay cache (``cache=`` a folder, or the ``CHATBENCH_REPLAY`` environment variable) wraps
each cached role's chat model in a ``ReplayChatModel``: a call whose key is in the folder gets
the stored reply (the model is not called), any other call goes to the model and its reply is
written there. The key is a hash of the role, the model's identity (its string, or its class
and identifying parameters, as run identities read it), the messages sent (type, text, tool
calls; not their ids, which are new every run), the stop words and the call's settings
(temperature, token limit, the per-call seed). A conversation is seeded from the scenario, so
a changed scenario, model or setting misses, and a rerun of the same test hits every call.

By default the user and the judge are cached, not the assistant: an app's code is no part of
its identity, so a cached app would replay its old replies after its code changed, and the
test would pass on the code it no longer runs. Pass ``cached_roles=("user", "judge",
"assistant")`` to cache a model assistant as well (its reply is replayed with the app's inner
steps and token counts, so records keep them). Only what goes through a role's chat model is
cached: an app's own inner model calls are not (the app runs; the user's replies to it replay
as long as it answers the same).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManager, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict, Field

from chatbench.config import GraphSpec, RoleSettings
from chatbench.data.rows import validated_row
from chatbench.data.scenario import Scenario, load_scenarios
from chatbench.datatypes import CRITERION_VERDICTS, CriterionResult, StopReason
from chatbench.errors import ConfigError
from chatbench.graphs.builder import graph_spec
from chatbench.models.app_steps import step_summary
from chatbench.models.invoke import seed_field, takes_call_seed
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.runner.batch import run_scenarios
from chatbench.runner.build import Models, build_models
from chatbench.runner.recipe import StoppingCondition
from chatbench.storage import ResultStore

__all__ = ["CACHED_ROLES", "DEFAULT_SPEC", "DEFAULT_USER", "REPLAY_ENV", "ReplayChatModel",
           "ScenarioResult", "replay_folder", "replayed_models", "resolve_scenario",
           "run_scenario", "scenario_spec"]

REPLAY_ENV = "CHATBENCH_REPLAY"
"""Environment variable naming the replay cache folder ``run_scenario`` uses by default."""
DEFAULT_USER = "smollm2"
"""The simulated user when none is given: the embedded SmolLM2, offline and free (pass an
API model, ``user="openai:gpt-4o-mini"``, for a user that plays a scenario well)."""
DEFAULT_SPEC = "quick"
"""The preset ``scenario_spec`` starts from: chatbench's short chat-view variant."""
CACHED_ROLES = ("user", "judge")
"""The roles whose calls the replay cache keeps by default (module docstring)."""
KEY_VERSION = 1
"""Part of every key: bumped when what a key covers changes, so old entries miss."""

ScenarioLike = Scenario | Mapping[str, Any] | str | os.PathLike[str]
"""What ``run_scenario`` plays: a ``Scenario``, a dict of its fields, or a scenario file."""


# --- the replay cache ------------------------------------------------------------------------


class ReplayChatModel(BaseChatModel):
    """A chat model that replays stored replies: each call's key (module docstring) names a
    JSON file in ``folder``; a hit returns the reply stored there without calling ``model``,
    a miss calls ``model`` and stores its reply (written whole, then renamed into place, so a
    crash never leaves half a file).

    Example:
        >>> import tempfile
        >>> from chatbench.models.registry import get_chat_model
        >>> folder = tempfile.mkdtemp()
        >>> first = ReplayChatModel(model=get_chat_model("fake:say:hi"), folder=folder,
        ...                         role="user", identity="fake:say:hi")
        >>> first.invoke("hello").content
        'hi'
        >>> again = first.model_copy(update={"model": get_chat_model("fake:fail")})
        >>> again.invoke("hello").content  # replayed: the failing model is not called
        'hi'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    takes_call_seed: ClassVar[bool] = True
    """The seed comes as a call argument (so it is part of the key) and is passed on to the
    wrapped model the way that model takes one."""

    model: Any = Field(exclude=True)
    """The wrapped chat model, called on a miss."""
    folder: str
    """The cache folder."""
    role: str
    """The role it plays (``user``, ``assistant``, ``judge``): part of the key."""
    identity: str
    """The wrapped model's identity (``ModelRef.identity``): part of the key."""

    @property
    def _llm_type(self) -> str:
        return "chatbench-replay"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"role": self.role, "model": self.identity}

    def key(self, messages: Sequence[BaseMessage], stop: list[str] | None,
            settings: Mapping[str, Any]) -> str:
        """The cache key of one call: a SHA-256 of what decides its reply (module docstring)."""
        data = {"version": KEY_VERSION, "role": self.role, "model": self.identity,
                "messages": [_message_key(m) for m in messages], "stop": stop,
                "settings": dict(sorted(settings.items()))}
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        path = Path(self.folder) / f"{self.key(messages, stop, kwargs)}.json"
        reply = _stored_reply(path)
        if reply is None:
            reply = self._call(messages, stop, run_manager, kwargs)
            _store_reply(path, self.role, self.identity, reply)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _call(self, messages: list[BaseMessage], stop: list[str] | None,
              run_manager: CallbackManagerForLLMRun | None, kwargs: dict[str, Any]) -> BaseMessage:
        """The wrapped model's reply, with the seed given as that model takes it."""
        kwargs = dict(kwargs)
        model, seed = self.model, kwargs.pop("seed", None)
        if seed is not None and takes_call_seed(model):
            kwargs["seed"] = seed
        elif seed is not None and (field := seed_field(model)) is not None:
            model = model.model_copy(update={field: seed})
        return model.invoke(messages, _child_config(run_manager), stop=stop,  # type: ignore[no-any-return]  # a chat model's reply
                            **kwargs)


def _message_key(message: BaseMessage) -> dict[str, Any]:
    """What of a sent message decides the reply: its type, content, name, tool calls."""
    key: dict[str, Any] = {"type": message.type, "content": message.content}
    if message.name:
        key["name"] = message.name
    if isinstance(message, AIMessage) and message.tool_calls:
        key["tool_calls"] = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
    return key


def _child_config(run_manager: CallbackManagerForLLMRun | None) -> RunnableConfig | None:
    """The wrapped call's config: the callbacks, tags and metadata the wrapper's run passes on
    (an app's thread id is in the metadata), the wrapper's run its parent."""
    if run_manager is None:
        return None
    manager = CallbackManager(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return RunnableConfig(callbacks=manager)


def _stored_reply(path: Path) -> BaseMessage | None:
    """The reply stored at ``path``; None when there is none.

    Raises:
        ConfigError: The file is there but is no stored reply (delete it to record again).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return messages_from_dict([data["reply"]])[0]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"replay cache file {path}: unreadable ({type(exc).__name__}: "
                          f"{exc}); delete it to record the call again") from None


def _store_reply(path: Path, role: str, identity: str, reply: BaseMessage) -> None:
    """Write a reply to ``path`` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"role": role, "model": identity, "reply": message_to_dict(reply)}
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, ensure_ascii=False, indent=1, default=str)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def replay_folder(cache: str | os.PathLike[str] | bool | None) -> Path | None:
    """The replay cache folder ``cache`` names: a path; None for ``CHATBENCH_REPLAY`` (unset
    or empty: no cache); False for none.

    Raises:
        ConfigError: ``cache`` is of another type, or names a file that is not a folder.

    Example:
        >>> replay_folder(False) is None
        True
    """
    if cache is None:
        cache = os.environ.get(REPLAY_ENV) or False
    if cache is False:
        return None
    if cache is True or not isinstance(cache, (str, os.PathLike)):
        raise ConfigError(f"argument 'cache': expected a folder's path, None (${REPLAY_ENV}) "
                          f"or False, got {cache!r}")
    folder = Path(cache)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"argument 'cache': {folder} is not a folder")
    return folder


def replayed_models(models: Models, folder: Path,
                    roles: Collection[str] = CACHED_ROLES) -> Models:
    """``models`` with each of ``roles``' chat models wrapped in a ``ReplayChatModel`` over
    ``folder`` (a role's per-conversation factory too); names and identities unchanged, so
    records and run ids are those of the run without a cache.

    Raises:
        ConfigError: A role is not ``user``, ``assistant`` or ``judge``.
    """
    unknown = sorted(set(roles) - {"user", "assistant", "judge"})
    if unknown:
        raise ConfigError(f"argument 'cached_roles': unknown roles {unknown}; use user, "
                          f"assistant, judge")
    identity = models.identity or models.names

    def wrap(role: str, model: Any) -> Any:
        if role not in roles or not isinstance(model, BaseChatModel):
            return model
        return ReplayChatModel(model=model, folder=str(folder), role=role,
                               identity=identity[role])

    per_conversation = {role: (lambda make=make, role=role: wrap(role, make()))
                        for role, make in models.per_conversation.items()}
    return replace(models, user=wrap("user", models.user),
                   assistant=wrap("assistant", models.assistant),
                   judge=wrap("judge", models.judge), per_conversation=per_conversation)


# --- run_scenario ----------------------------------------------------------------------------


def scenario_spec() -> GraphSpec:
    """The variant ``run_scenario`` plays when given none: the ``quick`` preset (the chat view,
    chatbench's simulator) with room for a scenario: up to 6 user turns (a scenario's own
    ``max_turns`` wins), user turns of up to 96 tokens, and 160 for each criterion's verdict
    with its reason (the preset's judge reads a letter in 16).

    Example:
        >>> scenario_spec().name, scenario_spec().judge.max_tokens
        ('scenario_test', 160)
    """
    base = graph_spec(DEFAULT_SPEC)
    return base.model_copy(update={
        "name": "scenario_test",
        "description": "run_scenario's default: the quick preset with room for a scenario",
        "max_turns": 6,
        "user": base.user.model_copy(update={"max_tokens": 96}),
        "judge": RoleSettings(temperature=0.0, max_tokens=160),
    })



def resolve_scenario(scenario: ScenarioLike, scenario_id: str | None = None) -> Scenario:
    """One scenario: a ``Scenario``, a dict of its fields, or the scenario of a file
    (``load_scenarios``) with id ``scenario_id`` (which a file of one scenario may omit).

    Raises:
        ConfigError: A bad scenario (its field named), an unreadable file, or no such id.

    Example:
        >>> resolve_scenario({"id": "hi", "description": "Say hi.", "criteria": "It greets."}).id
        'hi'
    """
    if isinstance(scenario, Scenario):
        found = scenario
    elif isinstance(scenario, Mapping):
        found = validated_row(Scenario, "argument 'scenario'", dict(scenario))
    elif isinstance(scenario, (str, os.PathLike)):
        return _scenario_in_file(Path(scenario), scenario_id)
    else:
        raise ConfigError(f"argument 'scenario': expected a Scenario, a dict of its fields or "
                          f"a scenario file's path, got {type(scenario).__name__}")
    if scenario_id is not None and scenario_id != found.id:
        raise ConfigError(f"argument 'scenario_id': {scenario_id!r} is not the scenario's id "
                          f"{found.id!r}")
    return found


def _scenario_in_file(path: Path, scenario_id: str | None) -> Scenario:
    scenarios = load_scenarios(path)
    if scenario_id is None:
        if len(scenarios) == 1:
            return scenarios[0]
        raise ConfigError(f"argument 'scenario_id': {path} holds {len(scenarios)} scenarios; "
                          f"name one ({', '.join(s.id for s in scenarios[:8])})")
    for scenario in scenarios:
        if scenario.id == scenario_id:
            return scenario
    raise ConfigError(f"argument 'scenario_id': no scenario {scenario_id!r} in {path}")


def run_scenario(
    scenario: ScenarioLike,
    *,
    assistant: object,
    user: object = DEFAULT_USER,
    judge: object | None = None,
    spec: GraphSpec | str | None = None,
    scenario_id: str | None = None,
    stopping_condition: StoppingCondition | None = None,
    cache: str | os.PathLike[str] | bool | None = None,
    cached_roles: Collection[str] = CACHED_ROLES,
    seed: int = 0,
    store: ResultStore | None = None,
) -> ScenarioResult:
    """Play one scenario against ``assistant`` and judge its criteria: a test's one call.

    Args:
        scenario: A ``Scenario``, a dict of its fields, or a scenario file's path (with
            ``scenario_id``).
        assistant: The model or app under test: a chat model, a model string, a compiled
            LangGraph graph, a Runnable, a function of the messages, or ``app:module:attr``.
        user: The simulated user's model (default ``smollm2``, the embedded model).
        judge: The model that decides each criterion; None for the user's model.
        spec: The variant: a ``GraphSpec``, a preset name or a YAML path; None for
            ``scenario_spec()``.
        scenario_id: Which scenario of the file ``scenario`` names.
        stopping_condition: A function of the conversation state that ends it when true.
        cache: The replay cache folder; None (default) for ``$CHATBENCH_REPLAY`` (unset: no
            cache); False for none.
        cached_roles: The roles the cache replays (default user and judge; module docstring).
        seed: The run seed (each call's seed derives from it and the scenario).
        store: Where to write the record, if anywhere.

    Returns:
        The conversation's ``ScenarioResult``. A failed conversation (a model error) is a
        result with ``success`` False and its error in ``explain()``, not an exception.

    Raises:
        ConfigError: A bad scenario, spec, model or cache argument.

    Example:
        >>> s = Scenario(id="hi", description="You want a greeting.", criteria=["It greets."])
        >>> result = run_scenario(s, assistant="fake:echo", user="fake:say:Hi! [GOAL MET]",
        ...                       judge="fake:say:PASS", cache=False)
        >>> result.success, result.stop_reason.value
        (True, 'goal_met')
    """
    task = resolve_scenario(scenario, scenario_id)
    judge = user if judge is None else judge
    folder = replay_folder(cache)
    variant = scenario_spec() if spec is None else graph_spec(spec)
    options: dict[str, Any] = {"seed": seed, "store": store, "concurrency": 1}
    if folder is None:
        records = run_scenarios([task], variant, user=user, assistant=assistant, judge=judge,
                                stopping_condition=stopping_condition, **options)
    else:
        models = replayed_models(build_models(variant, user, assistant, judge), folder,
                                 cached_roles)
        records = run_scenarios([task], variant, user=models, assistant=assistant,
                                judge=judge, stopping_condition=stopping_condition, **options)
    return ScenarioResult(records[0])


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario conversation, as a test asserts on it: ``assert result.success,
    result.explain()``."""

    record: ConversationRecord
    """The conversation's record, as a run stores it."""

    @property
    def success(self) -> bool:
        """Every criterion passed (False when one failed, was undecided, or the run failed)."""
        return self.record.success

    @property
    def criteria(self) -> list[CriterionResult]:
        """The judge's decision on each criterion, in order (empty when the run failed)."""
        return self.record.criteria

    @property
    def transcript(self) -> list[TranscriptTurn]:
        """The conversation, each assistant turn with an app's inner steps."""
        return self.record.transcript

    @property
    def stop_reason(self) -> StopReason:
        """How the conversation ended (``goal_met``, ``gave_up``, ``max_turns``...)."""
        return self.record.stop_reason

    def explain(self) -> str:
        """A readable account: the outcome, each criterion (PASS, FAIL or UNDECIDED, with
        the judge's reason), the stop reason and the transcript with tool calls.

        Example:
            >>> s = Scenario(id="hi", description="Get a greeting.", criteria=["It greets."])
            >>> print(run_scenario(s, assistant="fake:say:Hello", user="fake:say:[GOAL MET]",
            ...                    judge="fake:say:FAIL", cache=False).explain())
            scenario 'hi': FAILED (goal_met after 1 user turn)
            criteria:
              FAIL      It greets.
            transcript:
              user: [GOAL MET]
        """
        record = self.record
        outcome = "PASSED" if self.success else "FAILED"
        turns = f"{record.turns} user turn{'s' if record.turns != 1 else ''}"
        lines = [f"scenario {record.question_id!r}: {outcome} "
                 f"({record.stop_reason.value} after {turns})"]
        if record.error:
            lines.append(f"error: {record.error}")
        lines.append("criteria:")
        for result in self.criteria:
            word = CRITERION_VERDICTS[result.passed]
            reason = result.reason or ("" if result.passed is not None else result.raw)
            lines.append(f"  {word:<9} {result.criterion}")
            if reason:
                lines.append(f"            because: {reason}")
        if not self.criteria:
            lines.append("  (none judged)")
        lines.append("transcript:")
        for turn in self.transcript:
            lines.extend(_turn_lines(turn))
        return "\n".join(lines)


def _turn_lines(turn: TranscriptTurn) -> list[str]:
    lines = [f"    [step] {step_summary(step)}" for step in turn.steps]
    return [*lines, f"  {turn.role}: {turn.content}"]

