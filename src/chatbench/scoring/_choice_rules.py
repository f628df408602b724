"""The commitment rules of ``extract_choice``, strongest first, and the bare letters and option
texts it falls back on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatbench.scoring._choice_text import (
    _CONTEXT,
    _LETTER_AT,
    _TOKEN,
    _committed_letter,
    _normalise,
    _Options,
    _Sentence,
)

# --------------------------------------------------------------------------------------------
# Commitment rules
# --------------------------------------------------------------------------------------------

# "Answer: B", "Final answer - B", "the correct answer is B", "the answer's B", "Ans: B".
# At most four words before "answer": tried at each word of a long run of them ("final final
# ..."), an unbounded run would be scanned to its end from each (quadratic).
_EXPLICIT_LEAD = re.compile(
    r"\b(?:(?:final|correct|right|true|my)\s+){0,4}(?:answer|ans\.?)\s*"
    r"(?:[:=]+|[-\u2013\u2014]+|'s\b|\bis\b\s*:?|\b(?:would|will|should|must|has\s+to)\s+be\b\s*:?)",
    re.I,
)
# "B is my final answer", "B is the answer", "Option B is the best answer", "B, final answer".
_EXPLICIT_AFTER = re.compile(
    rf"(?<![\w']){_TOKEN}(?:\s*[,:\-\u2013\u2014]\s*(?:my\s+)?final\s+answer"
    r"|\s+(?:is|would\s+be|will\s+be)\s+(?:(?:definitely|clearly|certainly)\s+)?(?:my|the)\s+"
    r"(?:(?:final|correct|right|best)\s+)*answer)\b",
    re.I,
)
# "I'll go with B", "I choose option C", "I pick A", "my final choice is B", "I'll say B",
# "I'll take option C", "Option: C".
_COMMIT_LEAD = re.compile(
    r"\b(?:go(?:ing)?\s+(?:with|for)|went\s+(?:with|for)|choos(?:e|ing)|chose|pick(?:ing|ed)?"
    r"|select(?:ing|ed)?|opt(?:ing|ed)?\s+for|settl(?:e|ing)\s+(?:on|for)|stick(?:ing)?\s+with"
    r"|lock(?:ing)?\s+in|submit(?:ting)?"
    r"|(?:i'?ll|i\s+will|i'?d|i\s+would|going\s+to|gonna)\s+(?:answer|say|take)"
    r"|my\s+(?:final\s+)?(?:choice|pick|selection|guess|vote)\s*(?:\bis\b|[:\-\u2013\u2014])"
    r"|(?:final|correct|right|best)\s+(?:choice|option)\s*(?:\bis\b|:)|(?:choice|option)\s*:)\s*:?",
    re.I,
)
# "Option C is my pick", "B is my final choice".
_COMMIT_AFTER = re.compile(
    rf"(?<![\w']){_TOKEN}\s+is\s+(?:(?:definitely|clearly|certainly)\s+)?my\s+(?:final\s+)?"
    r"(?:choice|pick|selection|guess|vote)\b",
    re.I,
)
# "I think it's B", "it's B", "it must be B", "I'd say B", "48,900, which is B".
_WEAK_LEAD = re.compile(
    r"\b(?:i\s+(?:think|believe|guess|feel|reckon|say)(?:\s+(?:that\s+)?(?:it'?s|it\s+is|that'?s))?"
    r"|i(?:'?d|\s+would)\s+say(?:\s+(?:it'?s|it\s+is))?|it'?s|it\s+is|that'?s|that\s+is"
    r"|which\s+is|(?:it|that)\s+(?:must|should|would|has\s+to|will)\s+be|must\s+be)\b",
    re.I,
)
# "B is correct", "option B seems right", "B is the correct one", "B it is",
# "option C makes the most sense".
_WEAK_AFTER = re.compile(
    rf"(?<![\w']){_TOKEN}\s+(?:(?:is|seems|looks|sounds)\s+(?:(?:definitely|clearly|probably"
    r"|obviously|surely|certainly)\s+)?(?:correct|right|the\s+(?:(?:correct|right|best)\s+)?"
    r"(?:one|option|choice))|it\s+is|makes\s+the\s+most\s+sense)\b",
    re.I,
)
# A colon, dash or "final" makes a commitment a label ("Answer: B", "B, final answer"): it
# stands even in a message that also asks something or voices doubt.
_LABEL_MARK = re.compile(r"[:=\-\u2013\u2014]|\bfinal\b", re.I)
# Words before a commitment that make it hypothetical or someone else's: "if the answer is B",
# "explain why the answer is B", "you said the answer is B", "your answer is B".
_CONDITIONAL = re.compile(
    r"\b(?:if|whether|unless|suppos(?:e|ing)|assuming|wonder(?:ing)?|explain"
    r"|(?<!that's )(?<!that is )(?<!this is )(?<!which is )why"
    r"|you(?:'re|\s+are)?\s+(?:said|say|saying|think|thought|mentioned|suggest(?:ed|ing)?"
    r"|claim(?:ed)?|believe|picked|chose))\b|\b(?:you|your|their|his|her|assistant'?s?)\s+$",
    re.I,
)
# "I don't think it's B", "I wouldn't pick B"; but "I'm not sure, but ..." is uncertainty.
_NEGATION = re.compile(
    r"(?:\bnot|n't|\bnever)\s+(?!(?:sure|certain|confident|positive|100)\b)(?:[\w']+\s+){0,2}$",
    re.I,
)
# Doubt around a prose commitment: "I'm not sure if it's B", "it's B, but I'm not 100% sure".
_UNCERTAIN = re.compile(
    r"\b(?:not\s+(?:(?:100%?|completely|totally|entirely|quite|very)\s+)?"
    r"(?:sure|certain|confident|positive)|unsure|uncertain|maybe|perhaps|possibly|might"
    r"|could\s+be|either|between|torn|confused|don'?t\s+know|no\s+idea|double[-\s]?check"
    r"|let\s+me\s+(?:check|think|verify))(?!\w)",
    re.I,
)
# Only the clause after the last "but", ";" or dash counts as a commitment's context.
_CLAUSE_BREAK = re.compile(r"\bbut\b|;|\s[\u2013\u2014-]\s", re.I)
# "A or B is correct": the letter inside the match is the second of two candidates.
_CANDIDATE_BEFORE = re.compile(
    r"(?<![\w'])[A-Za-z]['\")\]]?\s*(?:,\s*)?(?:or|nor|and|/|vs\.?|versus|&)\s*(?:option\s+)?$",
    re.I,
)


@dataclass(frozen=True)
class _Rule:
    """One commitment pattern."""

    pattern: re.Pattern[str]
    letter_inside: bool
    """The letter is part of the match ("B is correct") rather than what follows it."""


_TIERS: tuple[tuple[_Rule, ...], ...] = (
    (_Rule(_EXPLICIT_LEAD, False), _Rule(_EXPLICIT_AFTER, True)),
    (_Rule(_COMMIT_LEAD, False), _Rule(_COMMIT_AFTER, True)),
    (_Rule(_WEAK_LEAD, False), _Rule(_WEAK_AFTER, True)),
)
# Adverbs between a lead and its letter: "the answer is probably B", "Answer: I think B".
_FILLER = re.compile(
    r"\s*(?:(?:probably|definitely|clearly|obviously|surely|certainly|likely|most\s+likely"
    r"|still|just|simply|actually|indeed|i\s+(?:think|believe|guess))\b[\s,]*)*",
    re.I,
)


def _skip(pattern: re.Pattern[str], text: str) -> str:
    """``text`` without the part that ``pattern`` (which may match nothing) matches at its start."""
    match = pattern.match(text)
    return text[match.end() :] if match else text


def _vetoed(prefix: str, suffix: str, label: bool) -> bool:
    """Whether the rest of a commitment's sentence makes it hypothetical, negated or unsure.

    Only the clause after the last "but" counts before it: "You said B, but I'll go with C"
    and "I'm not sure, but I'll go with B" commit. Doubt does not veto a label ("Answer: B").
    """
    prefix = _CLAUSE_BREAK.split(prefix)[-1]
    if _CONDITIONAL.search(prefix) or _NEGATION.search(prefix):
        return True
    return not label and bool(_UNCERTAIN.search(prefix) or _UNCERTAIN.search(suffix))


def _target(rest: str, options: _Options) -> str | None:
    """The letter that the text after a lead ("Answer:", "I'll go with") names, if any.

    A letter in range wins, except that a whole reply equal to a longer option text
    ("C. elegans", "I and II") is that option. An out-of-range letter is returned as is, so
    that "Answer: E" with four options is a commitment to nothing.
    """
    body = _skip(_FILLER, rest)
    whole = options.match(rest, prefix=False)
    if whole is not None and len(_normalise(rest)) > 1:
        return whole
    letter = _committed_letter(body, options)
    if letter is not None and letter in options.letters:
        return letter
    return options.match(rest, prefix=True) or options.match(body, prefix=True) or letter


def _commitment(
    rule: _Rule, sentence: _Sentence, match: re.Match[str], options: _Options, asked: bool
) -> str | None:
    """The letter that one match of ``rule`` commits to, or ``None`` when it is vetoed.

    In a message that asks anything ("I think it's B. Can you check?") only labels count:
    the user still expects a reply.
    """
    label = _LABEL_MARK.search(match.group()) is not None
    prefix = sentence.text[max(0, match.start() - _CONTEXT) : match.start()]
    # only what the vetoes and the target read (``options.reach >= _CONTEXT``): the rest of a
    # long sentence, copied for each of its matches, would make the scan quadratic
    suffix = sentence.text[match.end() : match.end() + options.reach]
    if sentence.question or (asked and not label) or _vetoed(prefix, suffix[:_CONTEXT], label):
        return None
    if not rule.letter_inside:
        return _target(suffix[: options.reach], options)
    if _CANDIDATE_BEFORE.search(prefix):
        return None
    return match["letter"].upper()


def _scan(tier: tuple[_Rule, ...], sentences: list[_Sentence], options: _Options) -> str | None:
    """The last commitment any rule of ``tier`` finds, or ``None``."""
    asked = any(sentence.question for sentence in sentences)
    found: list[tuple[int, int, str]] = []
    for index, sentence in enumerate(sentences):
        for rule in tier:
            for match in rule.pattern.finditer(sentence.text):
                letter = _commitment(rule, sentence, match, options, asked)
                if letter is not None:
                    found.append((index, match.start(), letter))
    return max(found)[2] if found else None


# --------------------------------------------------------------------------------------------
# Bare letters and bare option texts
# --------------------------------------------------------------------------------------------

# Harmless openers before a bare letter: "OK, B", "Hmm... b.", "Final answer B", "Definitely D".
_BARE_OPENER = re.compile(
    r"\s*(?:(?:ok(?:ay)?|so|then|alright|all\s+right|yes|yeah|yep|well|hmm+|fine|got\s+it"
    r"|thanks|thank\s+you|definitely|probably|clearly|certainly|obviously|surely|absolutely"
    r"|final(?:ly)?|answer|final\s+answer|my\s+answer"
    r"|i\s+(?:say|choose|pick))\b[\s,.!:;\u2026-]*)*",
    re.I,
)
_PUNCTUATION_ONLY = re.compile(r"[\s.!,;:\u2026]*")
# A bare letter with its reason: "b) because 48,872 rounds up", "C, since it is even".
_REASON = re.compile(r"[\s.,;:)\-\u2013\u2014]*(?:because|since)\b", re.I)
# A bare letter with nothing after it but assurance or politeness: "Option C, clearly.",
# "B for sure", "(C), definitely, thanks!". Anything else after it ("Option C, clearly wrong",
# "C, definitely not", "C, then D") is not a bare letter.
_ASSURANCE = re.compile(
    r"(?:[\s,;:\u2013\u2014-]*(?:clearly|definitely|certainly|obviously|surely|absolutely"
    r"|undoubtedly|for\s+(?:sure|certain)|of\s+course|no\s+doubt|without\s+(?:a\s+)?doubt"
    r"|all\s+the\s+way|i\s+(?:think|believe)|please|thanks|thank\s+you|then)(?![\w']))+"
    r"[\s.!,\u2026]*",
    re.I,
)


def _bare(text: str, options: _Options) -> str | None:
    """The letter that makes up the whole sentence ("b.", "(B)", "Option B", "B) 48,900",
    "Option C, clearly.")."""
    body = _skip(_BARE_OPENER, text)
    match = _LETTER_AT.match(body)
    if match is None:
        return None
    letter, tail = match["letter"].upper(), body[match.end() :]
    if _PUNCTUATION_ONLY.fullmatch(tail) or _REASON.match(tail):
        return letter
    if _ASSURANCE.fullmatch(tail) and not _word_letter(match, tail):
        return letter
    # A label followed by exactly that option's text; "A train leaves at 3pm" is not one.
    named = options.match(tail.lstrip(" .:)-\u2013\u2014"), prefix=False)
    return letter if named == letter else None


def _word_letter(match: re.Match[str], tail: str) -> bool:
    """Whether a plain "A" or "I" runs straight into the next word, as the article or the
    pronoun does ("I thank you.", "A definitely"); "A, definitely" and "option A for sure"
    name the option."""
    named = match.group().strip().lower().startswith(("option", "choice", "letter"))
    plain = not (named or match["open"] or match["close"])
    separated = tail.lstrip()[:1] in tuple(",;:\u2013\u2014-")
    return plain and match["letter"] in "aAiI" and not separated


def _bare_letter(sentences: list[_Sentence], options: _Options) -> str | None:
    """The one letter that stands alone in some sentences; several different ones are a list."""
    letters = {
        letter
        for sentence in sentences
        if (letter := _bare(sentence.text, options)) in options.letters
    }
    return letters.pop() if len(letters) == 1 else None


def _option_text(cleaned: str, options: _Options) -> str | None:
    """The option whose text is the whole message, or a whole line of it ("99,000")."""
    # dict.fromkeys: a one-line message is its own only line; normalise it once.
    lines = dict.fromkeys([cleaned, *cleaned.splitlines()])
    letters = {options.match(line, prefix=False) for line in lines if line.strip()}
    letters.discard(None)
    return letters.pop() if len(letters) == 1 else None
