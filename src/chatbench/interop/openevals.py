"""chatbench and openevals together, both ways.

- ``simulated_user(scenario)``: chatbench's scenario simulator (its prompt, persona and chain
  of thought, the scenario's opening turns first) as the ``user`` of openevals'
  ``run_multiturn_simulation``; its ``stopping_condition`` ends the simulation once the user
  said its goal is met or gave up.
- ``trajectory_evaluator(evaluator, reference)``: an openevals trajectory evaluator
  (``create_trajectory_match_evaluator``, ``create_trajectory_llm_as_judge``) as a chatbench
  rubric (``register_trajectory_evaluator``): it gets the conversation as OpenAI-style
  messages with the app's tool calls and tool results (``scoring.judges.transcript_dicts``;
  the judge node must hand it the app's steps) and the reference trajectory given here (a
  scenario's ``expected_outcome`` is text, no trajectory). Its ``{key, score, comment}`` is
  kept in each record's judgements.

Example:
    >>> from openevals.simulators import run_multiturn_simulation
    >>> s = Scenario(id="hi", description="You want a greeting.", criteria=["It greets."],
    ...              opening_turns=["Hello?"])
    >>> user = simulated_user(s, model="fake:say:Thanks! [GOAL MET]")
    >>> result = run_multiturn_simulation(
    ...     app=lambda message, **_: {"role": "assistant", "content": "Hi there!"},
    ...     user=user, stopping_condition=user.stopping_condition, max_turns=user.max_turns)
    >>> [m["content"] for m in result["trajectory"]], user.end
    (['Hello?', 'Hi there!', 'Thanks!', 'Hi there!'], 'goal_met')
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, convert_to_messages

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.scenario import Scenario
from chatbench.errors import ConfigError
from chatbench.graphs.builder import graph_spec
from chatbench.models.registry import get_chat_model
from chatbench.nodes.scenario import write_scenario_turn
from chatbench.nodes.user import turn_request, write_turn
from chatbench.runner.build import build_persona
from chatbench.scoring.answers import ScenarioEnd
from chatbench.scoring.rubrics import Evaluator, register_evaluator
from chatbench.seeding import conversation_seed
from chatbench.simulators import TurnRequest, get_simulator
from chatbench.testing import DEFAULT_USER, ScenarioLike, resolve_scenario, scenario_spec

PLACEHOLDER_ASSISTANT = "fake:fail"
"""The assistant of the simulator's context: openevals' app is the real one, and the
simulator never calls the context's (a fake that fails if anything did)."""

Trajectory = Sequence[Mapping[str, Any]] | Mapping[str, Any]
"""What openevals passes: a list of OpenAI-style messages (or a dict with ``"messages"``)."""


class SimulatedUser:
    """chatbench's simulated user playing one scenario, called as openevals calls a ``user``:
    ``user(trajectory, turn_counter=...)`` returns ``{"role": "user", "content", "id"}``.

    The turn's stop token (``[GOAL MET]``, ``[GIVE UP]``) is cut from the text and kept in
    ``end``; ``stopping_condition`` reads it, so the simulation ends after the app's answer
    to that turn. One object plays one simulation at a time (``end`` is its state).
    """

    def __init__(self, scenario: Scenario, model: BaseChatModel, spec: GraphSpec,
                 seed: int | None = 0) -> None:
        """Prepare the user (see ``simulated_user``, which checks the arguments)."""
        self.scenario = scenario
        self.spec = spec
        self.end: ScenarioEnd | None = None
        """How the last turn ended the conversation: ``goal_met``, ``gave_up``, or None."""
        self._simulate = get_simulator(spec.simulator)
        seed = None if seed is None else conversation_seed(seed, scenario.id, spec.name, 0)
        self._context = SimContext(assistant=get_chat_model(PLACEHOLDER_ASSISTANT), user=model,
                                   persona=build_persona(spec), seed=seed)

    @property
    def max_turns(self) -> int:
        """The scenario's turn limit (else the spec's): pass it as openevals' ``max_turns``."""
        return self.scenario.turn_limit(self.spec.max_turns)

    @property
    def goal_met(self) -> bool:
        """The last turn said the goal is met."""
        return self.end == "goal_met"

    def __call__(self, trajectory: Trajectory, *, turn_counter: int | None = None,
                 **kwargs: Any) -> dict[str, str]:
        """The user's next message after ``trajectory``: the next opening turn while any is
        left, else the simulator's turn, its stop token cut out.

        Args:
            trajectory: The conversation so far, OpenAI-style (openevals' trajectory).
            turn_counter: openevals' turn count (unused: the user turns in ``trajectory``
                count the turns, so a trajectory replayed without one gives the same turn).
            **kwargs: What else openevals passes (``thread_id``), unused.

        Raises:
            ModelOutputError: The simulator wrote an empty turn twice.
        """
        messages = transcript_messages(trajectory)
        turn_index = sum(isinstance(m, HumanMessage) for m in messages)
        turn, _ = write_scenario_turn(self._simulate, self.scenario, turn_index,
                                      lambda: self._request(messages, turn_index))
        self.end = turn.end
        return {"role": "user", "content": turn.text, "id": str(uuid.uuid4())}

    def _request(self, messages: list[AnyMessage], turn_index: int) -> TurnRequest:
        """The simulator's request for a turn, after its private notes when the spec has
        ``user_cot`` (as the graph's ``user_cot`` node writes them)."""
        scratchpad = None
        if self.spec.user_cot:
            think = turn_request(self.spec, self._context, self.scenario, messages, "think",
                                 turn_index)
            scratchpad = write_turn(self._simulate, think)[0]
        return turn_request(self.spec, self._context, self.scenario, messages,
                            "next" if turn_index else "first", turn_index, scratchpad)

    def stopping_condition(self, trajectory: Trajectory, *, turn_counter: int | None = None,
                           **kwargs: Any) -> bool:
        """openevals' ``stopping_condition``: the last user turn met the goal or gave up."""
        return self.end is not None


def transcript_messages(trajectory: Trajectory) -> list[AnyMessage]:
    """An openevals trajectory as the canonical transcript the simulator flips: user messages
    as ``HumanMessage``, the app's replies as ``AIMessage``; tool calls, tool results and
    system messages (the app's internals) are left out, as openevals' own simulated user
    leaves them.

    Raises:
        ConfigError: ``trajectory`` holds something that is no message.

    Example:
        >>> [m.type for m in transcript_messages([{"role": "user", "content": "hi"},
        ...     {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type":
        ...      "function", "function": {"name": "f", "arguments": "{}"}}]},
        ...     {"role": "tool", "content": "x", "tool_call_id": "1"},
        ...     {"role": "assistant", "content": "hello"}])]
        ['human', 'ai']
    """
    if isinstance(trajectory, Mapping):
        trajectory = trajectory.get("messages") or []
    try:
        messages = convert_to_messages(list(trajectory))  # type: ignore[arg-type]  # dicts
    except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
        raise ConfigError(f"argument 'trajectory': not a list of messages ({exc})") from None
    return [m for m in messages if isinstance(m, HumanMessage)
            or (isinstance(m, AIMessage) and not m.tool_calls and m.text.strip())]


def simulated_user(
    scenario: ScenarioLike,
    model: object = DEFAULT_USER,
    spec: GraphSpec | str | None = None,
    *,
    scenario_id: str | None = None,
    seed: int | None = 0,
) -> SimulatedUser:
    """chatbench's simulated user for openevals' ``run_multiturn_simulation(user=...)``.

    Args:
        scenario: A ``Scenario``, a dict of its fields, or a scenario file (``scenario_id``).
        model: The user's chat model or model string (default ``smollm2``).
        spec: The variant (its simulator, persona, ``user_cot``, user settings); None for
            ``chatbench.testing.scenario_spec()``.
        scenario_id: Which scenario of the file ``scenario`` names.
        seed: The run seed each call's seed derives from (as a chatbench run derives it);
            None for unseeded calls.

    Returns:
        The user; pass ``user.stopping_condition`` and ``user.max_turns`` to openevals too.

    Raises:
        ConfigError: A bad scenario, spec or model, or a simulator that is not a chat
            model's (the scripted and causal-LM simulators play no scenario here).
    """
    task = resolve_scenario(scenario, scenario_id)
    variant = scenario_spec() if spec is None else graph_spec(spec)
    if variant.simulator in ("scripted", "causal_lm"):
        raise ConfigError(f"argument 'spec': simulator {variant.simulator!r} is no prompted "
                          f"chat simulator; use a spec such as 'quick'")
    return SimulatedUser(task, get_chat_model(model), variant, seed)


def trajectory_evaluator(evaluator: Evaluator, reference_outputs: Any = None) -> Evaluator:
    """An openevals trajectory evaluator as chatbench calls a rubric's evaluator: ``inputs``
    and ``outputs`` (the transcript with tool calls, ``transcript_dicts``) passed on, and
    ``reference_outputs`` the trajectory given here, never what chatbench passes (a scenario's
    expected outcome, or a question's answer letter, is text, which a trajectory evaluator
    cannot read).

    Args:
        evaluator: E.g. ``create_trajectory_match_evaluator(trajectory_match_mode="superset")``
            or ``create_trajectory_llm_as_judge(model=...)``.
        reference_outputs: The reference trajectory (OpenAI-style messages); None for none
            (an LLM-as-judge without a reference).

    Example:
        >>> seen = trajectory_evaluator(lambda **kw: kw["reference_outputs"], ["ref"])
        >>> seen(inputs="goal", outputs=[], reference_outputs="text")
        ['ref']
    """

    def evaluate(*, inputs: Any = None, outputs: Any = None, reference_outputs: Any = None,
                 **kwargs: Any) -> Any:
        return evaluator(inputs=inputs, outputs=outputs, reference_outputs=reference, **kwargs)

    reference = reference_outputs
    evaluate.__qualname__ = getattr(evaluator, "__qualname__", type(evaluator).__name__)
    return evaluate


def register_trajectory_evaluator(
    name: str, evaluator: Evaluator, reference_outputs: Any = None, *, description: str = ""
) -> None:
    """Register an openevals trajectory evaluator as rubric ``name`` (``register_evaluator``
    over ``trajectory_evaluator``): ``GraphSpec(rubrics=(name,))`` then scores every
    conversation with it, its ``{key, score, comment}`` kept as the judgement ``name``.

    Raises:
        ValueError: As ``register_evaluator`` (a name already taken, a blank name).
    """
    register_evaluator(name, trajectory_evaluator(evaluator, reference_outputs),
                       outputs="transcript", description=description)
