"""How simulated users behave beside real people: behaviours, their distances, bootstrap CIs.

A **session** is one user's conversation on one question, real (``Session.from_human``) or
simulated (``Session.from_record``). A **behaviour** turns each session into values (none,
one, or one per message): the real users' values form one distribution, the simulator's
another. Each behaviour reports both means, a distance between the two distributions and
percentile bootstrap 95% CIs:

- counts and lengths: Wasserstein-1 (``scipy.stats.wasserstein_distance``, in the values'
  own unit: words, messages);
- yes/no shares: total variation, ``|p_real - p_simulated|`` (0-1);
- ``distinct_2``, a statistic of a group of users rather than of one: the absolute difference
  of the per-question means.

Bootstrap: sessions are resampled with replacement, real and simulated independently, and the
values of the drawn sessions pooled, so a session's messages stay together (a cluster
bootstrap); ``distinct_2`` resamples questions. A distance is never negative, so its bootstrap
distribution sits a little above the point estimate when the two distributions are close: read
a CI that reaches the real users' own spread (the human rows) as "as human as this data can
tell", not as exactly zero.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chatbench.data.human_data import HumanConversation
from chatbench.data.questions import Question
from chatbench.datatypes import StopReason
from chatbench.records import ConversationRecord
from chatbench.scoring.choice import extract_choice

Distance = Literal["wasserstein_1", "total_variation", "absolute_difference"]
CI = tuple[float, float]
_WORD = re.compile(r"\w+")
COPY_THRESHOLD = 0.5
"""A first message copies the question when it holds at least this share of the stem's word
trigrams (``copies_question``)."""


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One user's conversation on one question, as the behaviours read it."""

    question: Question
    user_messages: tuple[str, ...]
    """What the user typed to the assistant, in order. A simulator's answer message
    (``Answer: B``, or the forced answer) is not one: people gave their answer in the study's
    form, not in the chat."""
    assistant_messages: tuple[str, ...]
    final_choice: str | None
    """The option letter the user picked (None: no answer, or one that is no letter)."""
    correct: bool | None
    """Whether the answer is right; None when the user gave none."""

    @classmethod
    def from_human(cls, conversation: HumanConversation) -> Session:
        """A real person's conversation (correctness as the source recorded it)."""
        choice = conversation.final_choice
        correct = conversation.correct
        if correct is None and choice is not None:
            correct = choice == conversation.question.answer
        return cls(conversation.question, tuple(conversation.user_turns),
                   tuple(conversation.assistant_turns), choice,
                   correct if choice is not None else None)

    @classmethod
    def from_record(cls, record: ConversationRecord, question: Question) -> Session:
        """A simulated conversation: the user turns the assistant replied to, and the answer
        (an invalid answer is answered and wrong, as the judge scores it)."""
        turns = record.transcript
        typed = tuple(t.content for t, after in zip(turns, turns[1:], strict=False)
                      if t.role == "user" and after.role == "assistant")
        replies = tuple(t.content for t in turns if t.role == "assistant")
        return cls(question, typed, replies, record.final_choice,
                   record.correct if record.answered else None)


def human_sessions(conversations: Iterable[HumanConversation]) -> list[Session]:
    """``Session.from_human`` of each conversation."""
    return [Session.from_human(c) for c in conversations]


def simulated_sessions(records: Iterable[ConversationRecord],
                       questions: Mapping[str, Question]) -> list[Session]:
    """Sessions of the finished simulated conversations (failed ones are left out: count them
    apart)."""
    return [Session.from_record(r, questions[r.question_id]) for r in records
            if r.stop_reason is not StopReason.ERROR and r.question_id in questions]


def opening_sessions(openings: Mapping[str, Sequence[str]],
                     questions: Mapping[str, Question]) -> list[Session]:
    """One session per sampled first prompt (only its opening message is known)."""
    return [Session(questions[qid], (text,), (), None, None)
            for qid, texts in openings.items() for text in texts if qid in questions]


# --------------------------------------------------------------------------------------------
# The behaviours: each one's definition is its function
# --------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Whitespace-separated words, as a person would count them."""
    return text.split()


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def copies_question(message: str, stem: str) -> bool:
    """Whether ``message`` copies the question's stem: it holds at least ``COPY_THRESHOLD`` of
    the stem's distinct word trigrams (lower-cased ``\\w+`` tokens), or, for a stem under
    three words, all of its words. Options are not part of the stem."""
    stem_tokens, message_tokens = _tokens(stem), _tokens(message)
    if len(stem_tokens) < 3:
        return bool(stem_tokens) and set(stem_tokens) <= set(message_tokens)
    grams = {tuple(stem_tokens[i:i + 3]) for i in range(len(stem_tokens) - 2)}
    found = {tuple(message_tokens[i:i + 3]) for i in range(len(message_tokens) - 2)}
    return len(grams & found) / len(grams) >= COPY_THRESHOLD


def is_question(message: str) -> bool:
    """A message that asks: it contains a question mark."""
    return "?" in message


def has_letters(message: str) -> bool:
    """The message has at least one cased letter (so it can be lower case or not)."""
    return any(ch.lower() != ch.upper() for ch in message)


def is_lower_case(message: str) -> bool:
    """Written all in lower case: cased letters, none of them upper case."""
    return has_letters(message) and message == message.lower()


def assistant_option(session: Session) -> str | None:
    """The option the assistant last pointed to (``extract_choice`` over its replies, the last
    reply that names exactly one option)."""
    for reply in reversed(session.assistant_messages):
        choice = extract_choice(reply, session.question.choices)
        if choice is not None:
            return choice
    return None


def _first_message_words(s: Session) -> list[float]:
    return [float(len(words(s.user_messages[0])))] if s.user_messages else []


def _question_copy(s: Session) -> list[float]:
    if not s.user_messages:
        return []
    return [float(copies_question(s.user_messages[0], s.question.stem))]


def _user_messages(s: Session) -> list[float]:
    return [float(len(s.user_messages))]


def _later_message_words(s: Session) -> list[float]:
    return [float(len(words(m))) for m in s.user_messages[1:]]


def _question_share(s: Session) -> list[float]:
    return [float(is_question(m)) for m in s.user_messages]


def _lowercase_share(s: Session) -> list[float]:
    return [float(is_lower_case(m)) for m in s.user_messages if has_letters(m)]


def _follows_assistant(s: Session) -> list[float]:
    pointed = assistant_option(s)
    if s.final_choice is None or pointed is None:
        return []
    return [float(s.final_choice == pointed)]


def _accuracy(s: Session) -> list[float]:
    return [] if s.correct is None else [float(s.correct)]


@dataclass(frozen=True)
class Behaviour:
    """One behaviour: its values per session, and how two distributions of them compare."""

    name: str
    description: str
    values: Callable[[Session], list[float]]
    distance: Distance
    openings: bool = False
    """Read from first messages only: sampled first prompts count as sessions."""


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("first_message_words", "words in the first message (whitespace-separated)",
              _first_message_words, "wasserstein_1", openings=True),
    Behaviour("question_copy", f"share of first messages that copy the question (at least "
              f"{COPY_THRESHOLD:.0%} of the stem's word trigrams)", _question_copy,
              "total_variation", openings=True),
    Behaviour("user_messages", "messages the user typed before answering", _user_messages,
              "wasserstein_1"),
    Behaviour("later_message_words", "words per message after the first",
              _later_message_words, "wasserstein_1"),
    Behaviour("question_share", "share of messages that ask (contain '?')", _question_share,
              "total_variation"),
    Behaviour("lowercase_share", "share of messages written all in lower case",
              _lowercase_share, "total_variation"),
    Behaviour("follows_assistant", "share of answers that pick the option the assistant last "
              "pointed to (answers after a reply naming one option)", _follows_assistant,
              "total_variation"),
    Behaviour("accuracy", "share of answers that are correct", _accuracy, "total_variation"),
)
DISTINCT_2 = "distinct_2"
DISTINCT_2_DESCRIPTION = ("distinct word bigrams over all bigrams of a question's first "
                          "messages, as many from each side, mean over questions")
BEHAVIOUR_NAMES = (*(b.name for b in BEHAVIOURS), DISTINCT_2)


# --------------------------------------------------------------------------------------------
# Distances and the bootstrap
# --------------------------------------------------------------------------------------------


class BehaviourResult(BaseModel):
    """One behaviour, real users beside one simulator."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    distance_kind: Distance
    real: float
    """Mean of the real users' values (NaN when they have none)."""
    simulated: float
    distance: float
    """NaN when either side has no values."""
    real_ci: CI
    simulated_ci: CI
    distance_ci: CI
    real_n: int
    """Values on the real side (sessions, messages, or questions for ``distinct_2``)."""
    simulated_n: int
    note: str | None = None
    real_values: list[float] = Field(default_factory=list, exclude=True)
    """The distributions, for plots (not written to JSON)."""
    simulated_values: list[float] = Field(default_factory=list, exclude=True)


_NAN_CI = (math.nan, math.nan)


def distance(kind: Distance, real: Sequence[float], simulated: Sequence[float]) -> float:
    """The distance of two samples of values (NaN when either is empty)."""
    if not len(real) or not len(simulated):
        return math.nan
    if kind == "wasserstein_1":
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(real, simulated))
    return abs(float(np.mean(real)) - float(np.mean(simulated)))


def percentile_ci(samples: Iterable[float]) -> CI:
    """The 2.5th and 97.5th percentiles of bootstrap samples (NaNs left out; NaN when none
    is left): a percentile bootstrap 95% CI."""
    kept = [x for x in samples if not math.isnan(x)]
    if not kept:
        return _NAN_CI
    low, high = np.percentile(kept, [2.5, 97.5])
    return float(low), float(high)


class _Clustered:
    """Per-session value lists, drawn with replacement as whole sessions."""

    def __init__(self, per_session: list[list[float]]) -> None:
        self.lists = [np.asarray(v, dtype=float) for v in per_session]
        self.flat = np.concatenate(self.lists) if self.lists else np.zeros(0)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if not self.lists:
            return self.flat
        picks = rng.integers(0, len(self.lists), size=len(self.lists))
        return np.concatenate([self.lists[i] for i in picks])


def compare(behaviour: Behaviour, real: Sequence[Session], simulated: Sequence[Session],
            *, bootstrap: int = 1000, seed: int = 0) -> BehaviourResult:
    """One behaviour's real and simulated distributions, their distance, and bootstrap CIs.

    Args:
        behaviour: What to compare.
        real: Real users' sessions.
        simulated: The simulator's sessions.
        bootstrap: Resamples for the CIs (0: no CIs).
        seed: The resampling seed.

    Returns:
        Means, distance and 95% percentile CIs; NaN with a note when a side has no values.
    """
    sides = [_Clustered([behaviour.values(s) for s in group]) for group in (real, simulated)]
    rng = np.random.default_rng(seed)
    draws: list[tuple[np.ndarray, np.ndarray]] = [
        (sides[0].draw(rng), sides[1].draw(rng)) for _ in range(bootstrap)]
    real_values, sim_values = sides[0].flat, sides[1].flat
    empty = [name for name, v in (("real users", real_values), ("the simulator", sim_values))
             if not len(v)]
    return BehaviourResult(
        name=behaviour.name, description=behaviour.description,
        distance_kind=behaviour.distance,
        real=_mean(real_values), simulated=_mean(sim_values),
        distance=distance(behaviour.distance, real_values, sim_values),
        real_ci=percentile_ci([_mean(r) for r, _ in draws]),
        simulated_ci=percentile_ci([_mean(s) for _, s in draws]),
        distance_ci=percentile_ci([distance(behaviour.distance, r, s) for r, s in draws]),
        real_n=len(real_values), simulated_n=len(sim_values),
        note=f"no values from {' or '.join(empty)}" if empty else None,
        real_values=real_values.tolist(), simulated_values=sim_values.tolist())


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


# --------------------------------------------------------------------------------------------
# distinct-2: lexical diversity across users
# --------------------------------------------------------------------------------------------


def distinct_2(messages: Iterable[str]) -> float:
    """Distinct word bigrams over all word bigrams of the messages (lower-cased whitespace
    words; a message's bigrams stay within it). NaN when there are no bigrams."""
    grams = [tuple(pair) for m in messages
             for pair in zip(m.lower().split(), m.lower().split()[1:], strict=False)]
    return len(set(grams)) / len(grams) if grams else math.nan


def _openings(sessions: Iterable[Session]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for s in sessions:
        if s.user_messages:
            out[s.question.id].append(s.user_messages[0])
    return out


def diversity_by_question(real: Sequence[Session], simulated: Sequence[Session],
                          seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per question, ``(real distinct-2, simulated distinct-2)`` of first messages, each side
    cut to the same number of messages (a seeded sample of the larger side), since distinct-n
    falls as a corpus grows. Questions with fewer than 2 messages on a side are left out."""
    rng = np.random.default_rng(seed)
    real_by_q, sim_by_q = _openings(real), _openings(simulated)
    out: dict[str, tuple[float, float]] = {}
    for qid in sorted(real_by_q.keys() & sim_by_q.keys()):
        size = min(len(real_by_q[qid]), len(sim_by_q[qid]))
        if size < 2:
            continue
        pair = tuple(distinct_2(rng.choice(np.array(side[qid], dtype=object), size=size,
                                           replace=False).tolist())
                     for side in (real_by_q, sim_by_q))
        if not any(math.isnan(x) for x in pair):
            out[qid] = (pair[0], pair[1])
    return out


def compare_diversity(real: Sequence[Session], simulated: Sequence[Session], *,
                      bootstrap: int = 1000, seed: int = 0) -> BehaviourResult:
    """``distinct_2`` of real vs simulated first messages, with CIs over questions."""
    pairs = list(diversity_by_question(real, simulated, seed).values())
    reals = np.array([r for r, _ in pairs])
    sims = np.array([s for _, s in pairs])
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(pairs), size=len(pairs)) for _ in range(bootstrap)
             ] if pairs else []
    return BehaviourResult(
        name=DISTINCT_2, description=DISTINCT_2_DESCRIPTION,
        distance_kind="absolute_difference", real=_mean(reals), simulated=_mean(sims),
        distance=abs(_mean(reals) - _mean(sims)),
        real_ci=percentile_ci([_mean(reals[p]) for p in picks]),
        simulated_ci=percentile_ci([_mean(sims[p]) for p in picks]),
        distance_ci=percentile_ci([abs(_mean(reals[p]) - _mean(sims[p])) for p in picks]),
        real_n=len(pairs), simulated_n=len(pairs),
        note=None if pairs else "no question has 2 first messages on both sides",
        real_values=reals.tolist(), simulated_values=sims.tolist())


def compare_behaviours(real: Sequence[Session], conversations: Sequence[Session],
                       openings: Sequence[Session] | None = None, *, bootstrap: int = 1000,
                       seed: int = 0) -> dict[str, BehaviourResult]:
    """Every behaviour (``BEHAVIOURS`` and ``distinct_2``) of a simulator beside real users.

    Args:
        real: Real users' sessions.
        conversations: The simulator's whole conversations.
        openings: Its sampled first prompts (more openings than conversations); None: the
            conversations' openings are used for the opening behaviours too.
        bootstrap: Resamples for the CIs.
        seed: Resampling seed.

    Returns:
        ``{behaviour name: result}`` in ``BEHAVIOUR_NAMES`` order.
    """
    first = conversations if openings is None else openings
    results = {b.name: compare(b, real, first if b.openings else conversations,
                               bootstrap=bootstrap, seed=seed) for b in BEHAVIOURS}
    results[DISTINCT_2] = compare_diversity(real, first, bootstrap=bootstrap, seed=seed)
    return results


__all__ = [
    "BEHAVIOURS",
    "BEHAVIOUR_NAMES",
    "COPY_THRESHOLD",
    "DISTINCT_2",
    "Behaviour",
    "BehaviourResult",
    "Session",
    "assistant_option",
    "compare",
    "compare_behaviours",
    "compare_diversity",
    "copies_question",
    "distance",
    "distinct_2",
    "diversity_by_question",
    "human_sessions",
    "is_lower_case",
    "is_question",
    "opening_sessions",
    "percentile_ci",
    "simulated_sessions",
    "words",
]
