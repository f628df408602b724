"""A run's identity: everything that determines its results, kept in the store beside it.

A run id names a set of conversation rows. A run started, resumed or continued under an id
the store already holds must be the same experiment, or the rows it skips are answers to
other questions, by other models, under another graph: stale results reported as new. So
each run's identity is stored with it, and a run whose identity differs is refused with a
message naming what changed.

The identity covers, per variant, the resolved ``GraphSpec`` (sampling settings included),
the persona's content and each role's model (a model string, or a model object's class and
identifying parameters); and, for the run, the content of every question, the seed and the
replicates. It leaves out how the run executes (concurrency, executor, retries, timeouts,
the store's path): those may change between a run and its resume.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from chatbench._text import encodable
from chatbench.config import GraphSpec
from chatbench.data.scenario import Task
from chatbench.errors import ConfigError
from chatbench.personas import Persona
from chatbench.storage import ResultStore

MAX_LISTED = 6
"""Differences named in a refusal; the rest are counted, so the message stays short."""


class RunIdentityWarning(UserWarning):
    """A stored run's identity could only partly be checked (stored by an older chatbench)."""


def warn_about(notes: Iterable[str]) -> None:
    """Issue each of ``claim_run``'s notes as a ``RunIdentityWarning``."""
    for note in notes:
        warnings.warn(note, RunIdentityWarning, stacklevel=3)


class VariantIdentity(BaseModel):
    """What determines one variant's conversations, as JSON data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: dict[str, Any]
    """The resolved ``GraphSpec`` (``model_dump``)."""
    persona: dict[str, Any] | None
    """The persona's content (``model_dump``); None for no persona."""
    models: dict[str, str]
    """Role -> the model's identity (``chatbench.runner.build.model_identity``)."""
    stopping_condition: str | None = None
    """Scenarios: the ``module:qualname`` of the caller's stopping condition; None (and then
    not written, so identities from before it read the same) when there is none."""

    @model_serializer(mode="wrap")
    def _without_absent_condition(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = write(self)
        if self.stopping_condition is None:
            data.pop("stopping_condition", None)
        return data


class StoredIdentity(BaseModel):
    """An identity kept in the store: compared as canonical JSON, hashed for default ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, ASCII), the form stored and hashed."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=True)

    def digest(self) -> str:
        """A SHA-256 hex digest of the identity (default run ids are its prefix)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


_Identity = TypeVar("_Identity", bound=StoredIdentity)


def parse_identity(
    model: type[_Identity], stored: str, what: str, store: ResultStore
) -> _Identity:
    """The identity ``store`` keeps for ``what`` (e.g. ``"run 'r'"``).

    Raises:
        ConfigError: It cannot be read (written by a newer chatbench?).
    """
    try:  # json.loads, as pydantic's JSON parser refuses the escaped lone surrogates
        return model.model_validate(json.loads(stored))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(
            f"{store.path}: the stored settings of {what} cannot be read "
            f"({type(exc).__name__}; written by a newer chatbench?): give another run id "
            f"(--run-id) or store (--out)"
        ) from None


CLI_ADVICE = ("give another run id (--run-id; none gives an id made from the settings) or "
              "store (--out)")
"""How a CLI user avoids a run id the store holds with other settings."""


class RunIdentity(StoredIdentity):
    """What determines a run's results; stored with the run, compared on every restart."""

    variants: dict[str, VariantIdentity]
    """Variant name -> its identity."""
    questions: dict[str, str]
    """Question id -> a hash of its content (text, choices, answer, subject)."""
    seed: int
    """The run seed every conversation's seed derives from."""
    replicates: int
    """Conversations per question and variant."""


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back, so a fresh identity equals a stored one."""
    return json.loads(json.dumps(value, ensure_ascii=True))


def question_digest(question: Task) -> str:
    """A short hash of everything in a question (id, text, choices, answer, subject) or a
    scenario (every field)."""
    content = json.dumps(question.model_dump(mode="json"), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def variant_identity(
    spec: GraphSpec, persona: Persona | None, models: Mapping[str, str],
    stopping_condition: object | None = None,
) -> VariantIdentity:
    """One variant's identity from its spec, loaded persona, models' identities and any
    scenario stopping condition (by its module and qualified name)."""
    return VariantIdentity(
        spec=_plain(spec.model_dump(mode="json")),
        persona=None if persona is None else _plain(persona.model_dump(mode="json")),
        models=dict(models),
        stopping_condition=None if stopping_condition is None else function_name(
            stopping_condition),
    )


def function_name(function: object) -> str:
    """``module:qualname`` of a function (its type's, for another callable)."""
    named = function if hasattr(function, "__qualname__") else type(function)
    return f"{getattr(named, '__module__', '?')}:{getattr(named, '__qualname__', '?')}"


def run_identity(
    variants: Iterable[VariantIdentity], questions: Iterable[Task], seed: int,
    replicates: int,
) -> RunIdentity:
    """A run's identity.

    Args:
        variants: Each variant's identity (``variant_identity``), named by its spec's name.
        questions: The run's questions.
        seed: The run seed.
        replicates: Conversations per question and variant.

    Returns:
        The identity.
    """
    return RunIdentity(
        variants={str(v.spec["name"]): v for v in variants},
        questions={q.id: question_digest(q) for q in questions},
        seed=seed,
        replicates=replicates,
    )


def differences(old: RunIdentity, new: RunIdentity) -> list[str]:
    """What changed from ``old`` to ``new``, one short phrase per difference.

    Example:
        >>> a = RunIdentity(variants={}, questions={"q1": "x"}, seed=0, replicates=1)
        >>> differences(a, a.model_copy(update={"seed": 7}))
        ['seed: 0 -> 7']
    """
    changes = [f"{field}: {getattr(old, field)} -> {getattr(new, field)}"
               for field in ("seed", "replicates") if getattr(old, field) != getattr(new, field)]
    question_change = describe_question_change(old.questions, new.questions)
    if question_change:
        changes.append(question_change)
    changes += _variant_changes(old.variants, new.variants)
    if not changes and old.digest() != new.digest():
        changes.append("settings changed")
    return changes


def describe_question_change(old: Mapping[str, str], new: Mapping[str, str]) -> str | None:
    edited = sum(1 for key in old.keys() & new.keys() if old[key] != new[key])
    added, removed = len(new.keys() - old.keys()), len(old.keys() - new.keys())
    if not (edited or added or removed):
        return None
    parts = [f"{n} {what}" for n, what in ((edited, "edited"), (added, "added"),
                                           (removed, "removed")) if n]
    return (f"questions changed ({edited + added + removed} of "
            f"{len(old.keys() | new.keys())} differ: {', '.join(parts)})")


def _variant_changes(
    old: Mapping[str, VariantIdentity], new: Mapping[str, VariantIdentity]
) -> list[str]:
    if len(old) == len(new) == 1:  # a plain run: its one variant, renamed or not
        return _one_variant_changes("", next(iter(old.values())), next(iter(new.values())))
    changes = []
    for label, names in (("removed", old.keys() - new.keys()), ("added", new.keys() - old.keys())):
        if names:
            changes.append(f"variants {label}: {', '.join(sorted(names))}")
    for name in old.keys() & new.keys():
        changes += _one_variant_changes(f"{name}: ", old[name], new[name])
    return changes


def _one_variant_changes(prefix: str, old: VariantIdentity, new: VariantIdentity) -> list[str]:
    changes = [f"{prefix}graph {key}: {describe_change(a, b)}"
               for key, a, b in flat_differences(old.spec, new.spec)]
    if old.persona != new.persona:
        old_name = None if old.persona is None else old.persona.get("name")
        new_name = None if new.persona is None else new.persona.get("name")
        if old_name != new_name:
            changes.append(f"{prefix}persona: {describe_change(old_name, new_name)}")
        else:
            fields = [key for key, _, _ in flat_differences(old.persona or {}, new.persona or {})]
            changes.append(f"{prefix}persona {_short(new_name)} text changed "
                           f"({', '.join(fields)})")
    for role in sorted(old.models.keys() | new.models.keys()):
        a, b = old.models.get(role), new.models.get(role)
        if a != b:
            changes.append(f"{prefix}{role}: {describe_change(a, b)}")
    return changes


def flat_differences(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for each leaf that differs (nested mappings are walked)."""
    found = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += flat_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append((f"{prefix}{key}", a, b))
    return found


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split())


def _short(value: Any, width: int = 48, skip: int = 0) -> str:
    """``value`` on one line, at most about ``width`` characters, from ``skip`` on."""
    text = _text(value)
    head = "..." if skip else ""
    return head + (text[skip:] if len(text) - skip <= width else text[skip:skip + width] + "...")


def describe_change(old: Any, new: Any) -> str:
    """``old -> new``, both shortened where they differ: a long common start is elided, so
    two long values show the part that changed."""
    a, b = _text(old), _text(new)
    pairs = enumerate(zip(a, b, strict=False))  # to the shorter one's end
    common = next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
    skip = max(0, common - 16) if common > 32 else 0
    return f"{_short(a, skip=skip)} -> {_short(b, skip=skip)}"


def list_changes(changes: list[str]) -> str:
    shown = "; ".join(changes[:MAX_LISTED])
    more = len(changes) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def claim_run(
    store: ResultStore,
    run_id: str,
    identity: RunIdentity,
    *,
    names: Mapping[str, Mapping[str, str]],
    kind: str | None = None,
    config: dict[str, Any] | None = None,
    advice: str = CLI_ADVICE,
    questions: Sequence[Task] = (),
) -> list[str]:
    """Check that ``run_id`` in ``store`` is this run (or new), then record it (with the
    ``questions`` it asks, which ``chatbench show`` reads).

    A run the store holds with another identity is refused. A run stored by an older
    chatbench, which kept no identity, is checked as far as its rows allow (their variants,
    question ids and model names), then gets this identity.

    Args:
        store: The store.
        run_id: The run's id.
        identity: What determines the run's results.
        names: Variant name -> role -> model name, as records store them (for older runs).
        kind: "run" or "ablate" to record the run for ``--resume`` (with ``config``); None
            records only its identity (a run started from Python with no config).
        config: The run's configuration as JSON data (with absolute paths).
        advice: How the caller names another run or store, for the refusal (the CLI's
            flags by default; the Python API names its arguments).
        questions: The run's questions, stored beside it.

    Returns:
        Warnings to show (about a run from an older chatbench); empty otherwise.

    Raises:
        ConfigError: The store holds ``run_id`` with other settings; the message says which.
    """
    notes = claim_identity(
        store, run_id, identity,
        read=lambda stored: parse_identity(RunIdentity, stored, f"run {run_id!r}", store),
        changes=lambda old: differences(old, identity),
        older=lambda: _check_older_run(store, run_id, identity, names, advice),
        refusal=lambda changes: (f"run {run_id!r} in {store.path} was made with other "
                                 f"settings: {list_changes(changes)}. Its stored results would "
                                 f"not match: {advice}"))
    if kind is not None:
        store.write_run(run_id, kind, config or {}, datetime.now(timezone.utc).isoformat())
    store.write_questions(run_id, questions)
    return notes


def claim_identity(
    store: ResultStore,
    key: str,
    identity: StoredIdentity,
    *,
    read: Callable[[str], Any],
    changes: Callable[[Any], list[str]],
    older: Callable[[], list[str]],
    refusal: Callable[[list[str]], str],
) -> list[str]:
    """The one claim of a stored identity, for runs and baseline runs alike: a new key gets
    ``identity`` (after ``older`` checked rows an older chatbench stored without one), then
    the stored identity is read back and compared, so of two processes claiming one key at
    once the second sees the first's identity (the store keeps the first write) and is
    refused if it differs.

    Args:
        store: The store.
        key: The key the identity is stored under.
        identity: This run's identity.
        read: Parses the stored JSON (raising ``ConfigError`` when it cannot).
        changes: What differs between the stored identity and this one.
        older: Checks a run stored without an identity; returns warnings.
        refusal: The error message for the changes found.

    Returns:
        ``older``'s warnings (empty for a key that had an identity).

    Raises:
        ConfigError: The stored identity differs (``refusal``), or ``older`` refused.
    """
    stored = store.run_identity(key)
    notes: list[str] = []
    if stored is None:
        notes = older()
        store.write_run_identity(key, identity.to_json())
        stored = store.run_identity(key)  # a claim that came first kept its identity
    if stored is not None:
        found = changes(read(stored))
        if found:
            raise ConfigError(refusal(found))
    return notes


def _check_older_run(
    store: ResultStore, run_id: str, identity: RunIdentity,
    names: Mapping[str, Mapping[str, str]], advice: str = CLI_ADVICE,
) -> list[str]:
    """Compare a run stored without an identity with ``identity``, as far as its rows tell.

    Raises:
        ConfigError: Its rows are of other variants, questions or models.
    """
    rows = store.conversation_keys(run_id)
    if not rows:
        return []
    questions = {encodable(q) for q in identity.questions}
    variants = {encodable(name): dict(models) for name, models in names.items()}
    problems = []
    other_variants = sorted({variant for variant, _, _ in rows} - variants.keys())
    if other_variants:
        problems.append(f"stored variants not in this run: {_short(', '.join(other_variants))}")
    other_questions = {question for _, question, _ in rows} - questions
    if other_questions:
        problems.append(f"{len(other_questions)} stored questions are not among this run's")
    for variant, _, models in rows:
        now = variants.get(variant)
        if now is not None and models is not None and models != now:
            problems += [f"{role}: {describe_change(models.get(role), now.get(role))}"
                         for role in sorted(now) if models.get(role) != now.get(role)]
    if problems:
        raise ConfigError(
            f"run {run_id!r} in {store.path} (stored by an older chatbench) was made with "
            f"other settings: {list_changes(sorted(set(problems)))}; {advice}"
        )
    return [f"run {run_id!r} was stored by an older chatbench, which kept no record of its "
            f"settings: its {len(rows)} stored question/variant pairs match these questions, "
            f"variants and models, but edits to the files since cannot be detected; its "
            f"settings are recorded from now on"]
