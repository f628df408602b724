"""How ``extract_choice`` reads a message: cleaning, sentences, option texts and option letters."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

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
