"""Deterministic seeds derived from names, so reruns reproduce the same samples."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 31-bit seed that depends only on ``parts`` (stable across processes and platforms).

    Example:
        >>> derive_seed(0, "q1", "user", 3) == derive_seed(0, "q1", "user", 3)
        True
    """
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1)


def conversation_seed(run_seed: int, question_id: str, variant: str, replicate: int) -> int:
    """The seed of one conversation: every way of running one (batches, Studio, the
    realism scorecard's openings) derives it so, so they reproduce each other.

    Example:
        >>> conversation_seed(0, "q1", "two_step", 0) == derive_seed(0, "q1", "two_step", 0)
        True
    """
    return derive_seed(run_seed, question_id, variant, replicate)


def call_seed(conversation: int | None, role: str, *index: object) -> int | None:
    """The seed of one model call of a conversation: its role and position (turn, mode, ...)
    under the conversation's seed; None in an unseeded conversation."""
    return None if conversation is None else derive_seed(conversation, role, *index)
