"""Decide which option letter a user's message commits to.

A simulated user in a ChatBench conversation ends the dialogue by committing to an answer
("Answer: B", "I'll go with B", "99,000", ...). :func:`extract_choice` turns such a message into
an option letter with a small, ordered set of rules, strongest first:

1. explicit answer phrases: "Answer: B", "the answer is B", "B is my final answer";
2. commitment verbs: "I'll go with B", "I choose option C", "I pick A", "Option C is my pick",
   "Option: C";
3. weaker statements: "I think it's B", "B is correct";
4. a sentence that is nothing but a letter, perhaps with assurance: "b.", "(B)", "**D**",
   "Option B", "Option C, clearly.", "B for sure";
5. a message (or line) that is nothing but one option's text: "99,000".

The first rule that finds anything decides; within a rule the last commitment wins, because
people correct themselves ("Answer: A... actually, Answer: C"). Questions, conditionals,
negations and candidate lists ("A or B") veto the sentence they occur in. A *label* (a colon,
dash or "final": "Answer: B", "B, final answer") stands on its own; any other commitment is
also vetoed by doubt in its sentence ("not sure", "maybe") or by a question anywhere in the
message ("I think it's B. Can you check?"), since the user still expects a reply. Pasted option
lists ("A. 44,500 B. 48,900 ...") are ignored. Whatever cannot be read as one commitment gives
``None``: a wrong letter would be scored, a ``None`` only means "no answer yet".

The reading of a message (cleaning, sentences, option texts, letters) is in ``_choice_text``,
the rules in ``_choice_rules``; their names stay importable from here.
"""

# The private imports re-export the helpers of ``_choice_text`` and ``_choice_rules``.
# ruff: noqa: F401

from __future__ import annotations

from collections.abc import Sequence

from chatbench.scoring._choice_rules import (
    _BARE_OPENER,
    _CANDIDATE_BEFORE,
    _CLAUSE_BREAK,
    _COMMIT_LEAD,
    _CONDITIONAL,
    _EXPLICIT_AFTER,
    _EXPLICIT_LEAD,
    _FILLER,
    _LABEL_MARK,
    _NEGATION,
    _PUNCTUATION_ONLY,
    _REASON,
    _TIERS,
    _UNCERTAIN,
    _WEAK_AFTER,
    _WEAK_LEAD,
    _bare,
    _bare_letter,
    _commitment,
    _option_text,
    _Rule,
    _scan,
    _skip,
    _target,
    _vetoed,
)
from chatbench.scoring._choice_text import (
    _CLOSING_PUNCT,
    _CONNECTIVE,
    _CONTEXT,
    _CURRENCY,
    _END_TOKENS,
    _INTERROGATIVE,
    _INVISIBLE,
    _JOINER,
    _LABEL,
    _LATEX_WRAPPER,
    _LETTER_AT,
    _LETTERS,
    _LIST_GAP,
    _MARKUP,
    _NEGATED_AFTER,
    _OPTION_END,
    _SENTENCE_BREAK,
    _THOUSANDS,
    _TOKEN,
    _clean,
    _committed_letter,
    _ends_option,
    _has_two_labels,
    _is_question,
    _label_pattern,
    _letter_at,
    _looks_like_label,
    _names_another_letter,
    _normalise,
    _Options,
    _options_for,
    _Sentence,
    _sentences,
    _strip_listings,
)

__all__ = ["extract_choice"]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def extract_choice(text: str, choices: Sequence[str]) -> str | None:
    """Return the option letter ('A', 'B', ...) that ``text`` commits to.

    Rules are tried strongest first (explicit "Answer: X", commitment verbs, weaker
    statements, a bare letter, a bare option text); within one rule the last commitment in the
    message wins. Questions, conditionals, negations, hedges and candidate lists are not
    commitments; in a message that asks anything only a labelled answer ("Answer: X") counts.

    Args:
        text: One user message, e.g. ``"Thanks, that makes sense.\\nAnswer: C [END]"``.
        choices: The option texts in order; option ``i`` has letter ``string.ascii_uppercase[i]``.

    Returns:
        The upper-case letter of the chosen option, or ``None`` when the message commits to no
        option, to several, or to a letter out of range.

    Example:
        >>> extract_choice("So the answer is: (c).", ["1", "2", "3", "4"])
        'C'
        >>> extract_choice("Answer: 99,000 [END]", ["44,500", "48,900", "95,000", "99,000"])
        'D'
        >>> extract_choice("Could it be B or C?", ["1", "2", "3", "4"]) is None
        True
    """
    options = _options_for(tuple(choices))
    cleaned = _strip_listings(_clean(text), options)
    sentences = _sentences(cleaned)
    for tier in _TIERS:
        letter = _scan(tier, sentences, options)
        if letter is not None:
            return letter if letter in options.letters else None
    if any(sentence.question for sentence in sentences):
        return None  # the user still expects a reply; only a labelled "Answer: X" ends it
    return _bare_letter(sentences, options) or _option_text(cleaned, options)
