"""A baseline run's identity: what determines its answers, kept in the store beside them.

The rule of conversation runs (``chatbench.runner.identity``) applied to AI-alone baselines.
A baseline run id names a set of answers; a run started again under an id the store holds
skips the answers stored there, so it must be the same experiment, or those answers are to
other questions, by other models, asked another way: stale results reported as new. So each
baseline run's identity is stored with it, and a run whose identity differs is refused with a
message naming what changed. The default run id is a hash of the identity, so a run whose
question file was edited gets a new id.

The identity covers the content of every question, the kinds run with the assistant's
sampling settings for each, the assistant's and the grader's identities
(``chatbench.runner.build.model_identity``), the seed, the replicates and the prompt protocol
version (``chatbench.baselines.prompts.PROTOCOL``). It leaves out how the run executes
(concurrency, retries, the store's path).

Identities go in the store's run-identity table, keyed ``baselines:<run id>``: conversation
runs and baseline runs have separate tables of rows, so one name may be used for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ConfigDict

from chatbench._text import encodable
from chatbench.baselines.prompts import BASELINE_KINDS, FREE_TEXT_KINDS, PROTOCOL
from chatbench.config import RoleSettings
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.models.reference import ModelRef

# The conversation runs' way of naming changes, shared so both read alike.
from chatbench.runner.identity import (
    CLI_ADVICE,
    StoredIdentity,
    claim_identity,
    describe_change,
    describe_question_change,
    flat_differences,
    list_changes,
    parse_identity,
    question_digest,
)
from chatbench.storage import ResultStore

KEY_PREFIX = "baselines:"
"""A baseline run's key in the store's run-identity table is this and its run id."""
NO_GRADER = "none"
"""``BaselineIdentity.grader`` when no grader model reads free text (or none is run)."""


class BaselineIdentity(StoredIdentity):
    """What determines a baseline run's answers; stored with the run, compared on reruns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: str
    """``chatbench.baselines.prompts.PROTOCOL``: the prompts, settings and reading rules."""
    kinds: dict[str, dict[str, Any]]
    """Each kind run -> the assistant's sampling settings for it (``RoleSettings``)."""
    assistant: str
    """The assistant's ``model_identity``."""
    grader: str
    """The grader's ``model_identity``, or ``"none"``: no grader given, or no free-text kind
    run (then a grader reads nothing)."""
    questions: dict[str, str]
    """Question id -> a hash of its content (``question_digest``)."""
    seed: int
    """The run seed every answer's seed derives from."""
    replicates: int
    """Answers per question and kind."""


def baseline_identity(
    questions: Iterable[Question],
    kinds: Sequence[str],
    assistant: object,
    grader: object | None,
    settings: Mapping[str, RoleSettings],
    seed: int,
    replicates: int,
) -> BaselineIdentity:
    """A baseline run's identity.

    Args:
        questions: The run's questions.
        kinds: The kinds run (checked names).
        assistant: The assistant: a model string or a chat model.
        grader: The grader given (string or chat model), or None.
        settings: Kind -> the assistant's settings for it (at least the kinds run).
        seed: The run seed.
        replicates: Answers per question and kind.

    Returns:
        The identity.

    Example:
        >>> from chatbench.data.questions import load_questions
        >>> identity = baseline_identity(load_questions(limit=1), ["letter_zero_shot"],
        ...     "fake:say:B", "fake:say:A", {"letter_zero_shot": RoleSettings()}, 0, 1)
        >>> identity.assistant, identity.grader  # no free-text kind: no grader reads
        ('fake:say:B', 'none')
    """
    reads_free_text = any(kind in FREE_TEXT_KINDS for kind in kinds)
    return BaselineIdentity(
        protocol=PROTOCOL,
        kinds={kind: settings[kind].model_dump(mode="json") for kind in kinds},
        assistant=ModelRef.of(assistant).identity,
        grader=(ModelRef.of(grader).identity if grader is not None and reads_free_text
                else NO_GRADER),
        questions={q.id: question_digest(q) for q in questions},
        seed=seed,
        replicates=replicates,
    )


def default_run_id(identity: BaselineIdentity) -> str:
    """``baseline-`` and a prefix of the identity's hash: a run whose question file, models
    or settings changed gets a new id."""
    return f"baseline-{identity.digest()[:10]}"


def baseline_differences(old: BaselineIdentity, new: BaselineIdentity) -> list[str]:
    """What changed from ``old`` to ``new``, one short phrase per difference.

    Example:
        >>> a = BaselineIdentity(protocol="p", kinds={}, assistant="fake:say:A",
        ...                      grader="none", questions={}, seed=0, replicates=1)
        >>> baseline_differences(a, a.model_copy(update={"assistant": "fake:say:B"}))
        ['assistant: fake:say:A -> fake:say:B']
    """
    rest = {"kinds", "questions"}
    changes = [f"{key}: {describe_change(a, b)}" for key, a, b in flat_differences(
        old.model_dump(mode="json", exclude=rest), new.model_dump(mode="json", exclude=rest))]
    for label, kinds in (("removed", old.kinds.keys() - new.kinds.keys()),
                         ("added", new.kinds.keys() - old.kinds.keys())):
        if kinds:
            changes.append(f"kinds {label}: {', '.join(_in_kind_order(kinds))}")
    for kind in _in_kind_order(old.kinds.keys() & new.kinds.keys()):
        changes += [f"{kind} {key}: {describe_change(a, b)}"
                    for key, a, b in flat_differences(old.kinds[kind], new.kinds[kind])]
    question_change = describe_question_change(old.questions, new.questions)
    if question_change:
        changes.append(question_change)
    if not changes and old.digest() != new.digest():
        changes.append("settings changed")
    return changes


def _in_kind_order(kinds: Iterable[str]) -> list[str]:
    order = {kind: i for i, kind in enumerate(BASELINE_KINDS)}
    return sorted(kinds, key=lambda kind: (order.get(kind, len(order)), kind))


def claim_baselines(
    store: ResultStore, run_id: str, identity: BaselineIdentity, assistant_name: str
) -> list[str]:
    """Check that baseline run ``run_id`` in ``store`` is this run (or new), then record it.

    A run the store holds with another identity is refused. A run stored by an older
    chatbench, which kept no identity, is checked as far as its rows allow (their kinds,
    question ids and assistant), then gets this identity.

    Args:
        store: The store.
        run_id: The baseline run's id.
        identity: What determines the run's answers.
        assistant_name: The assistant's name as records store it (for older runs).

    Returns:
        Warnings to show (about a run from an older chatbench); empty otherwise.

    Raises:
        ConfigError: The store holds ``run_id`` with other settings; the message says which.
    """
    return claim_identity(
        store, KEY_PREFIX + run_id, identity,
        read=lambda stored: parse_identity(BaselineIdentity, stored,
                                           f"baseline run {run_id!r}", store),
        changes=lambda old: baseline_differences(old, identity),
        older=lambda: _check_older_run(store, run_id, identity, assistant_name),
        refusal=lambda changes: (f"baseline run {run_id!r} in {store.path} was made with other "
                                 f"settings: {list_changes(changes)}. Its stored answers would "
                                 f"not match: {CLI_ADVICE}"))


def _check_older_run(
    store: ResultStore, run_id: str, identity: BaselineIdentity, assistant_name: str
) -> list[str]:
    """Compare a baseline run stored without an identity with ``identity``, as far as its
    rows tell.

    Raises:
        ConfigError: Its rows are of other kinds, questions or assistant.
    """
    rows = store.baseline_keys(run_id)
    if not rows:
        return []
    questions = {encodable(q) for q in identity.questions}
    problems = []
    other_kinds = {kind for kind, _, _ in rows} - identity.kinds.keys()
    if other_kinds:
        problems.append(f"stored kinds not in this run: {', '.join(_in_kind_order(other_kinds))}")
    other_questions = {question for _, question, _ in rows} - questions
    if other_questions:
        problems.append(f"{len(other_questions)} stored questions are not among this run's")
    problems += sorted({f"assistant: {describe_change(model, assistant_name)}"
                        for _, _, model in rows if model != encodable(assistant_name)})
    if problems:
        raise ConfigError(
            f"baseline run {run_id!r} in {store.path} (stored by an older chatbench) was "
            f"made with other settings: {list_changes(problems)}. Give another run id (--run-id) "
            f"or store (--out)"
        )
    return [f"baseline run {run_id!r} was stored by an older chatbench, which kept no "
            f"record of its settings: its {len(rows)} stored kind/question pairs match these "
            f"kinds, questions and assistant, but edits to the question file, the grader and "
            f"the settings cannot be checked; its settings are recorded from now on"]
