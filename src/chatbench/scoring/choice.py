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

The module reads in two parts, one after the other: first the reading of a message (cleaning,
sentences, option texts, letters), then the rules over what was read, then ``extract_choice``.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["extract_choice"]


# --------------------------------------------------------------------------------------------
# Part 1: reading a message: cleaning, sentences, option texts and option letters
# --------------------------------------------------------------------------------------------


_LETTERS = string.ascii_uppercase
# How much text around a commitment the vetoes read; bounded so long messages stay linear.
_CONTEXT = 200

# --------------------------------------------------------------------------------------------
# Cleaning and sentences
# --------------------------------------------------------------------------------------------

# Characters that show nothing and mean nothing to a reader: terminal escape sequences,
# control characters other than whitespace (NUL, ESC, DEL, ...), format characters
# (zero-width space and joiners, word joiner, BOM, soft hyphen, bidi marks, tags: Unicode
# category Cf), variation selectors and lone surrogates. "Answer: B\u200b" is "Answer: B";
# left in, they split or glue words.
_INVISIBLE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f"
    r"\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ud800-\udfff"
    r"\ufe00-\ufe0f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
# End-of-turn markers that simulators and chat templates leave in the text.
_END_TOKENS = re.compile(r"\[/?END\]|</s>|<\|[a-z_]+\|>|<(?:end_of_turn|eos|eot)>", re.I)
# LaTeX wrappers that LLMs put around a final answer: \boxed{B} -> B, $B$ -> B.
_LATEX_WRAPPER = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf)\{([^{}]*)\}|\$([A-Za-z])\$")
# Markdown emphasis and code marks never change which option is meant.
_MARKUP = re.compile(r"\*+|`+|__")
# A sentence ends at a line break, at ! or ? before a space, or at . or an ellipsis before a
# space and a word that is not lower case; "4.5" and "Answer: C. elegans" stay whole. A break
# with a line break starts where its run of spaces does (``(?<!\s)``): tried at every space
# of a long run without one, ``\s*\n`` would scan the rest of the run each time (quadratic).
_SENTENCE_BREAK = re.compile(
    r"(?<=[!?])\s+|(?<=[.\u2026])\s+(?![a-z])|(?<!\s)\s*\n\s*"
)
# "Is it B", "Could it be B or C", "Why is B wrong", "What does option B mean" (with or without
# a "?"): a wh-word, or an auxiliary verb followed by its subject, opens the sentence.
_INTERROGATIVE = re.compile(
    r"(?:(?:so|but|and|then|ok(?:ay)?|hmm+|well|or|also|wait)\b[\s,]*)*"
    r"(?:(?:what|why|how|which|where|when|who|whose)\b"
    r"|(?:is|are|was|were|could|would|should|can|will|does|do|did|might|may|shall"
    r"|isn't|aren't|wasn't|wouldn't|couldn't|shouldn't|doesn't|don't|won't|can't)\s+"
    r"(?:it|this|that|the|these|those|you|we|they|he|she|there|option|choice|answer"
    r"|[a-z](?![\w'])))",
    re.I,
)


@dataclass(frozen=True)
class _Sentence:
    """One sentence (or line) of the message and whether it asks something."""

    text: str
    question: bool


def _clean(text: str) -> str:
    """Drop invisible characters, end-of-turn tokens, LaTeX wrappers and Markdown marks;
    straighten apostrophes."""
    text = _INVISIBLE.sub("", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _END_TOKENS.sub(" ", text)
    for _ in range(2):  # \boxed{\text{B}} is nested once
        text = _LATEX_WRAPPER.sub(lambda m: m.group(1) or m.group(2) or "", text)
    return _MARKUP.sub("", text).strip()


def _is_question(sentence: str) -> bool:
    """Whether ``sentence`` asks rather than states ("Is the answer B?", "Is it A")."""
    return sentence.rstrip(" )]\"'").endswith("?") or bool(_INTERROGATIVE.match(sentence))


def _sentences(text: str) -> list[_Sentence]:
    """Split ``text`` into non-empty sentences, each marked as a question or not."""
    parts = (part.strip() for part in _SENTENCE_BREAK.split(text))
    return [_Sentence(part, _is_question(part)) for part in parts if part]


# --------------------------------------------------------------------------------------------
# Option texts
# --------------------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CURRENCY = re.compile(r"\$\s*(?=[\d.])")
# Where an option's text may end inside a longer reply: "99,000 because ...", "12 (C)", "12."
# but not "4.5", "4,5" or "45" when the option is "4".
_OPTION_END = re.compile(
    r"\s*(?:[;:!?)\]\u2013\u2014(]|[.,](?!\w)|-\s|(?:because|since|as|which|so)\b)", re.I
)


def _normalise(text: str) -> str:
    """Comparable form of an option text: case, spacing, ``$``, thousands separators, end marks."""
    text = _clean(text).lower()
    text = _CURRENCY.sub("", _THOUSANDS.sub("", text))
    text = " ".join(text.split()).replace(" %", "%")
    return text.strip(" \"'").rstrip(".,;:!?").strip(" \"'")


@dataclass(frozen=True)
class _Options:
    """The question's options, normalised, with their listing patterns compiled on demand.

    Built once per distinct ``choices`` (see :func:`_options_for`): ``extract_choice`` runs
    on every user turn, and normalising the options and compiling their patterns on every
    call cost more than reading the message itself.
    """

    choices: tuple[str, ...]
    """The option texts as given (at most 26)."""
    texts: tuple[str, ...]
    """Normalised option texts."""
    letters: tuple[str, ...]
    """The letters in range, ``('A', 'B', ...)``."""
    reach: int
    """How much text after a lead can still name an option (longest option, with slack)."""

    @classmethod
    def of(cls, choices: Sequence[str]) -> _Options:
        """Normalise ``choices`` (at most 26 are used)."""
        used = tuple(choices[: len(_LETTERS)])
        texts = tuple(_normalise(choice) for choice in used)
        return cls(
            choices=used,
            texts=texts,
            letters=tuple(_LETTERS[: len(texts)]),
            reach=2 * max((len(text) for text in texts), default=0) + _CONTEXT,
        )

    @functools.cached_property
    def listings(self) -> tuple[re.Pattern[str], ...]:
        """The patterns of the options' labelled lines ("B. 48,900"), empty options left out.

        Compiled on first use: most messages hold fewer than two labels, so they never
        need them (see :func:`_strip_listings`).
        """
        patterns = (
            _label_pattern(letter, choice)
            for letter, choice in zip(_LETTERS, self.choices, strict=False)
        )
        return tuple(pattern for pattern in patterns if pattern is not None)

    def match(self, said: str, *, prefix: bool) -> str | None:
        """The letter of the option ``said`` names, exactly or (``prefix``) at its start.

        The longest matching option wins ("Wrong, Not wrong" over "Wrong"); two different
        options with the same matching text are ambiguous and give ``None``.
        """
        said = _normalise(said)
        hits = [
            (len(text), index)
            for index, text in enumerate(self.texts)
            if text
            and (said == text or (prefix and said.startswith(text) and _ends_option(said, text)))
        ]
        if not hits:
            return None
        longest = max(length for length, _ in hits)
        best = {index for length, index in hits if length == longest}
        return _LETTERS[best.pop()] if len(best) == 1 else None


def _ends_option(said: str, text: str) -> bool:
    """Whether ``said`` continues after its prefix ``text`` in a way that ends an option."""
    return len(said) == len(text) or _OPTION_END.match(said, len(text)) is not None


def _label_pattern(letter: str, choice: str) -> re.Pattern[str] | None:
    """The option as a labelled line: "B. 48,900", "(b) 48,900"; None for an empty option."""
    body = r"\s+".join(re.escape(word) for word in choice.split())
    if not body:
        return None
    pattern = rf"(?<![\w'])[(\[]?{letter}(?:[.):\]]|\s+[-\u2013\u2014])\s*{body}(?!\w)"
    return re.compile(pattern, re.I)


@functools.lru_cache(maxsize=1024)
def _options_for(choices: tuple[str, ...]) -> _Options:
    """``_Options.of(choices)``, kept for the questions of a run.

    Bounded so that a run over many questions keeps its memory flat; a miss costs only the
    normalising that every call used to do. (The per-option patterns used to be compiled
    on every call through Python's ``re`` cache, whose 512 entries are too few for four
    patterns per question: on a run over the bundled questions it missed on every call.)
    """
    return _Options.of(choices)


_LIST_GAP = re.compile(r"[\s,;]*(?:(?:or|and)\s+)?", re.I)
# The head of every labelled line of ``_label_pattern``, whatever the option: "B.", "(c)", "D -".
_LABEL = re.compile(
    rf"(?<![\w'])[(\[]?(?:{'|'.join(_LETTERS)})(?:[.):\]]|\s+[-\u2013\u2014])", re.I
)


def _has_two_labels(text: str) -> bool:
    """Whether ``text`` holds two option labels: a listing needs them, so most messages can
    skip the per-option patterns.

    Two labelled lines start at two different labels, and a label's tail (punctuation, a
    dash) holds no letter or bracket, so it never hides the next label from this search.
    """
    first = _LABEL.search(text)
    return first is not None and _LABEL.search(text, first.end()) is not None


def _strip_listings(text: str, options: _Options) -> str:
    """Blank out pasted option lists ("A. 44,500 B. 48,900"): they name letters but choose none.

    Two or more labelled options separated only by spaces, commas or "or" form a listing; a
    single labelled option ("Answer: B) 48,900") is a commitment and stays.
    """
    if not _has_two_labels(text):
        return text
    spans = sorted(match.span() for pattern in options.listings for match in pattern.finditer(text))
    runs: list[list[tuple[int, int]]] = []
    for start, end in spans:
        last = runs[-1][-1][1] if runs else -1
        if runs and (start <= last or _LIST_GAP.fullmatch(text, last, start)):
            runs[-1].append((start, max(end, last)))
        else:
            runs.append([(start, end)])
    # Joined once: cutting each listing out of the whole text would copy it per listing.
    pieces, kept = [], 0
    for run in runs:
        if len(run) > 1:
            pieces += [text[kept : run[0][0]], "\n"]
            kept = run[-1][1]
    return "".join([*pieces, text[kept:]]) if pieces else text


# --------------------------------------------------------------------------------------------
# Letters
# --------------------------------------------------------------------------------------------

# An option letter, perhaps named ("option C", "option(C)") and bracketed or quoted ("(c)",
# "[B]", "'B'"). The name ends at a space or bracket: "options" is no "option S".
_TOKEN = (
    r"(?:(?:option|choice|letter)(?:\s+|(?=['\"(\[])))?"
    r"(?P<open>['\"(\[]?)(?P<letter>[A-Za-z])(?P<close>['\")\]]?)(?![\w'])"
)
_LETTER_AT = re.compile(r"\s*" + _TOKEN, re.I)
# What may directly follow a letter: "B.", "B,", "B)", "B!" ... (not "e.g." nor "B.5").
_CLOSING_PUNCT = ".,;:!?)]\u2013\u2014\u2026"
# "A" and "I" are also words; after them we only accept a word that can follow an answer.
_CONNECTIVE = re.compile(
    r"(?:because|since|as|so|then|now|but|is|it's|it\s+is|please|thanks|thank|which|given"
    r"|based|due|final(?:ly)?|for\s+(?:sure|now))\b",
    re.I,
)
# "B is wrong", "B isn't right", "B can't be": the letter is being ruled out, not chosen.
_NEGATED_AFTER = re.compile(
    r"\s*(?:(?:is|are|was|seems|looks|sounds|appears)(?:n't|\s+(?:(?:definitely|clearly|probably"
    r"|obviously|also|just|actually|both)\s+)?(?:not|wrong|incorrect|false|impossible|out"
    r"|eliminated|a\s+trap|a\s+distractor)\b)|(?:can(?:no|')t|couldn't|won't|doesn't|does\s+not)\b)",
    re.I,
)
# Joins a letter to another candidate: "B or C", "B/C", "B vs C", "B and C", "A, B, or C".
_JOINER = re.compile(
    r"\s*(?:,\s*)?(?:(?:or|nor|vs\.?|versus)\b|/)\s*(?:(?:maybe|perhaps|possibly)\s+)?"
    r"|\s+(?:and|&)\s+|\s*,\s*",
    re.I,
)


def _looks_like_label(letter: str, bracketed: bool, after: str) -> bool:
    """Whether ``letter`` followed by ``after`` reads as an option letter rather than a word.

    "The answer is B because" and "answer: a." name letters; "the answer is a number" and
    "A train leaves" use the article.
    """
    if not after.strip():
        return True
    if after[0] in _CLOSING_PUNCT:
        return len(after) == 1 or not after[1].isalnum()
    if not after[0].isspace():
        return False  # "B-12", "A+"
    rest = after.lstrip()
    if bracketed or not rest[0].isalpha() or letter not in "aAiI":
        return True  # "(a) ...", "A 44,500", "B because"
    return _CONNECTIVE.match(rest) is not None


def _letter_at(text: str) -> tuple[str, str] | None:
    """Parse an option letter at the start of ``text``: ``(upper-case letter, text after it)``."""
    match = _LETTER_AT.match(text)
    if match is None:
        return None
    after = text[match.end() :]
    bracketed = bool(match["open"] or match["close"])
    if not _looks_like_label(match["letter"], bracketed, after):
        return None
    return match["letter"].upper(), after


def _names_another_letter(after: str) -> bool:
    """Whether ``after`` (what follows a letter) lists another candidate: "or C", ", C, or D"."""
    joiner = _JOINER.match(after)
    if joiner is None:
        return False
    other = _letter_at(after[joiner.end() :])
    # "B, C is wrong" rules C out; it does not offer C as a second candidate.
    return other is not None and not _NEGATED_AFTER.match(other[1])


def _committed_letter(text: str, options: _Options) -> str | None:
    """The letter at the start of ``text``, unless it is listed, ruled out or mislabelled.

    "B) 48,900" is accepted when 48,900 is option B (or no option), refused when it is option A.
    """
    parsed = _letter_at(text)
    if parsed is None:
        return None
    letter, after = parsed
    if _names_another_letter(after) or _NEGATED_AFTER.match(after):
        return None
    named = options.match(after.lstrip(" .:)-\u2013\u2014"), prefix=True)
    return None if named not in (None, letter) else letter


# --------------------------------------------------------------------------------------------
# Part 2: the commitment rules, strongest first, and the bare letters and option texts
# --------------------------------------------------------------------------------------------


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
