"""Tests for ``chatbench.scoring.choice.extract_choice``: which option a message commits to."""

from __future__ import annotations

import random
import string

import pytest

from chatbench.scoring.choice import extract_choice

LETTERS = string.ascii_uppercase
NUMS = ("1", "2", "3", "12")
MONEY = ("44,500", "48,900", "95,000", "99,000")
MORAL = ("Wrong, Wrong", "Wrong, Not wrong", "Not wrong, Wrong", "Not wrong, Not wrong")
ROMAN = ("I", "II", "III", "I and II")
WORDS = ("A lot", "C. elegans", "Nothing", "Everything")

# --------------------------------------------------------------------------------------------
# Commitments
# --------------------------------------------------------------------------------------------

EXPLICIT = [
    ("Answer: B", NUMS, "B"),
    ("answer: b", NUMS, "B"),
    ("Answer: (B)", NUMS, "B"),
    ("Answer - B", NUMS, "B"),
    ("Answer \u2014 B", NUMS, "B"),
    ("Final answer: B", NUMS, "B"),
    ("ANSWER: B [END]", NUMS, "B"),
    ("Answer: B.", NUMS, "B"),
    ("Answer:B", NUMS, "B"),
    ("Answer: [B]", NUMS, "B"),
    ("Answer = C", NUMS, "C"),
    ("Ans: D", NUMS, "D"),
    ("Answer: Option C", NUMS, "C"),
    ("The answer is B", NUMS, "B"),
    ("The answer is A.", NUMS, "A"),
    ("The correct answer is B", NUMS, "B"),
    ("So, the answer is: (c).", NUMS, "C"),
    ("So the answer is D) 12", NUMS, "D"),
    ("My answer is D", NUMS, "D"),
    ("My final answer is (d).", NUMS, "D"),
    ("**Answer: D**", NUMS, "D"),
    ("The answer is **C**.", NUMS, "C"),
    ("Final Answer: $\\boxed{C}$", NUMS, "C"),
    ("The answer would be B.", NUMS, "B"),
    ("The answer is probably B", NUMS, "B"),
    ("Answer: A because it rounds down", NUMS, "A"),
    ("Answer: B) 48,900", MONEY, "B"),
    ("Answer: (B) 48,900.", MONEY, "B"),
    ("Answer: B <|im_end|>", NUMS, "B"),
    ("Answer: b </s>", NUMS, "B"),
    ("Answer: C<|eot_id|>", NUMS, "C"),
    ("B is my final answer.", NUMS, "B"),
    ("Option B is the correct answer.", NUMS, "B"),
    ("B, final answer", NUMS, "B"),
    ("I'm not sure, but the answer is B", NUMS, "B"),
    ("The answer is B, not C", NUMS, "B"),
    ("The answer is B, and C is wrong", NUMS, "B"),
    ("A and B are wrong, so the answer is C", NUMS, "C"),
    ("The answer is not A, it's C", NUMS, "C"),
    ("Your answer is B, but I think it's C", NUMS, "C"),
    ("Thanks, that makes sense.\nAnswer: C", NUMS, "C"),
    ("Is it B? Hmm, OK.\nAnswer: B", NUMS, "B"),
    ("I was torn between A and C.\nAnswer: C [END]", NUMS, "C"),
    ("Answer: B. I'm not 100% sure, though.", NUMS, "B"),
    ("My final answer is B. Does that sound right?", NUMS, "B"),
    ("answer: c) 95,000", MONEY, "C"),
]

COMMITMENT_PHRASES = [
    ("I'll go with B", NUMS, "B"),
    ("I will choose option C", NUMS, "C"),
    ("I pick A", NUMS, "A"),
    ("Let's go with option b", NUMS, "B"),
    ("I'm going with D", NUMS, "D"),
    ("I choose (a).", NUMS, "A"),
    ("I'd pick C because of the units.", NUMS, "C"),
    ("My final choice is B.", NUMS, "B"),
    ("It's a tough one, but I'll go with C.", NUMS, "C"),
    ("I'm not sure, but I'll go with B.", NUMS, "B"),
    ("You said the answer is B, but I'll go with C", NUMS, "C"),
    ("I'll go with 95,000.", MONEY, "C"),
    ("B is correct", NUMS, "B"),
    ("I think B is correct.", NUMS, "B"),
    ("So A is out, and B is correct.", NUMS, "B"),
    ("I think it's B.", NUMS, "B"),
    ("Yes, it's B.", NUMS, "B"),
    ("I'd say C.", NUMS, "C"),
    ("It must be D.", NUMS, "D"),
    ("B it is.", NUMS, "B"),
    ("the answer's B", NUMS, "B"),
    ("I'm going to say B", NUMS, "B"),
    ("I got 48,900, which is B.", MONEY, "B"),
    ("I initially thought A, but after your explanation I'm going with B.", NUMS, "B"),
    ("Okay, that's clear now. B is correct. [END]", NUMS, "B"),
    ("Round it. (A) 44,500 (B) 48,900 (C) 95,000 (D) 99,000. My guess is B.", MONEY, "B"),
]

BARE = [
    ("B", NUMS, "B"),
    ("b.", NUMS, "B"),
    ("(b)", NUMS, "B"),
    ("**D**", NUMS, "D"),
    ("a", NUMS, "A"),
    ("A.", NUMS, "A"),
    ("Option B", NUMS, "B"),
    ("Option B.", NUMS, "B"),
    ("Hmm, b", NUMS, "B"),
    ("OK. C", NUMS, "C"),
    ("Definitely D!", NUMS, "D"),
    ("Got it, thanks.\nB", NUMS, "B"),
    ("B) 48,900", MONEY, "B"),
    ("C. 95,000", MONEY, "C"),
    ("\\boxed{C}", NUMS, "C"),
    ("b) because 48,872 rounds up", MONEY, "B"),
    ("A, because it rounds down.", MONEY, "A"),
    ("Let's see... B.", NUMS, "B"),
]

OPTION_TEXT = [
    ("Answer: 99,000", MONEY, "D"),
    ("The answer is 99000", MONEY, "D"),
    ("Answer: 48900", MONEY, "B"),
    ("Answer: $99,000", MONEY, "D"),
    ("The answer is 44,500 because it rounds down.", MONEY, "A"),
    ("99,000", MONEY, "D"),
    ("Answer: Wrong, Not wrong", MORAL, "B"),
    ("answer: wrong, wrong", MORAL, "A"),
    ("Wrong, Not wrong", MORAL, "B"),
    ("Not wrong, Not wrong.", MORAL, "D"),
    ("Answer: 12", NUMS, "D"),
    ("Answer: 1", NUMS, "A"),
    ("12", NUMS, "D"),
    ("Answer: I", ROMAN, "A"),
    ("Answer: I and II", ROMAN, "D"),
    ("Answer: C. elegans", WORDS, "B"),
    ("Answer: A lot", WORDS, "A"),
]

SELF_CORRECTIONS = [
    ("Answer: A... actually, Answer: C", NUMS, "C"),
    ("Answer: A\nWait, no. Answer: D", NUMS, "D"),
    ("I think it's B. Answer: C", NUMS, "C"),
    ("I picked A at first, but the answer is C.", NUMS, "C"),
    ("It's B.\nFinal answer: B", NUMS, "B"),
    ("A. 44,500\nB. 48,900\nC. 95,000\nD. 99,000\nAnswer: B) 48,900", MONEY, "B"),
]

# --------------------------------------------------------------------------------------------
# Non-answers
# --------------------------------------------------------------------------------------------

NON_ANSWERS = [
    # Questions about an option.
    ("Is the answer B?", NUMS),
    ("Could it be B or C?", NUMS),
    ("What does option B mean?", NUMS),
    ("Why is B wrong?", NUMS),
    ("Can you explain option C?", NUMS),
    ("Is it A?", NUMS),
    ("Is it A", NUMS),
    ("B?", NUMS),
    ("B or C?", NUMS),
    ("So the answer is B, right?", NUMS),
    ("Answer: B (is that right?)", NUMS),
    ("99,000?", MONEY),
    ("Should I go with B?", NUMS),
    # A question anywhere: the user still expects a reply, so only a labelled answer counts.
    ("I'll go with B. Is that right?", NUMS),
    ("I think the answer is B, but I'm not sure. Can you help?", NUMS),
    ("Can you check my answer? I think it's B.", NUMS),
    ("Round 48,872.\nA. 44,500\nB. 48,900\nC. 95,000\nD. 99,000\nIt's B, can you help me?", MONEY),
    # Hedges, candidate lists, negations, hypotheticals.
    ("I'm not sure between A and C", NUMS),
    ("A or B", NUMS),
    ("either A or C", NUMS),
    ("It's B or C", NUMS),
    ("The answer is B or C", NUMS),
    ("Answer: A or B", NUMS),
    ("Maybe B", NUMS),
    ("I'm leaning towards B", NUMS),
    ("I don't think it's B", NUMS),
    ("It's not B", NUMS),
    ("I think B is wrong", NUMS),
    ("Neither A nor B is correct", NUMS),
    ("I wonder if B is correct", NUMS),
    ("If the answer is B, then x = 3.", NUMS),
    ("Explain why the answer is B.", NUMS),
    ("I'm not sure if it's B.", NUMS),
    ("I think it's B. Could it be C?", NUMS),
    ("It's B, but I'm not 100% sure.", NUMS),
    ("I'm thinking it's B, but let me double check with you.", NUMS),
    ("It's either A or C, I can't decide.", NUMS),
    ("Definitely not B", NUMS),
    ("Not A, so B.", NUMS),
    ("I'll go with the second option", NUMS),
    ("A. 44,500\nB. 48,900\nC. 95,000\nD. 99,000\nWhich one?", MONEY),
    ("Here it is: A. 44,500 B. 48,900 C. 95,000 D. 99,000", MONEY),
    # Prose that happens to contain letters or numbers.
    ("A number is rounded to the nearest hundred.", NUMS),
    ("A train leaves at 3pm", NUMS),
    ("I need help with this question", NUMS),
    ("Can you help me solve a problem?", NUMS),
    ("Thanks! That was helpful.", NUMS),
    ("I don't know the answer", NUMS),
    ("The answer is a number", NUMS),
    ("I'd choose a different approach", NUMS),
    ("I have 3 apples", NUMS),
    ("Let me think about it for a second.", NUMS),
    ("", NUMS),
    ("   ", NUMS),
    ("[END]", NUMS),
    ("Final answer: \\boxed{}", NUMS),
    # Out of range, mislabelled or ambiguous.
    ("Answer: E", NUMS),
    ("Answer: Z [END]", NUMS),
    ("Answer: 4", NUMS),
    ("Answer: A) 48,900", MONEY),
    ("Answer: Wrong", MORAL),
    ("Answer: 5", ("5", "5", "6", "7")),
]


@pytest.mark.parametrize(
    ("text", "choices", "expected"),
    EXPLICIT + COMMITMENT_PHRASES + BARE + OPTION_TEXT + SELF_CORRECTIONS,
)
def test_commitments(text: str, choices: tuple[str, ...], expected: str) -> None:
    """Each committing message gives its letter."""
    assert extract_choice(text, choices) == expected


@pytest.mark.parametrize(("text", "choices"), NON_ANSWERS)
def test_non_answers(text: str, choices: tuple[str, ...]) -> None:
    """Questions, hedges, prose and out-of-range letters give None."""
    assert extract_choice(text, choices) is None


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

POSITIVE = EXPLICIT + COMMITMENT_PHRASES + BARE + OPTION_TEXT + SELF_CORRECTIONS


def _options(count: int) -> tuple[str, ...]:
    """``count`` distinct option texts that contain no letters."""
    return tuple(str(1000 + 7 * i) for i in range(count))


@pytest.mark.parametrize("count", range(2, 27))
def test_every_letter_in_range_round_trips(count: int) -> None:
    """Every letter of 2..26 options survives the common answer forms."""
    choices = _options(count)
    for letter in LETTERS[:count]:
        for template in ("Answer: {}", "answer: {}", "The answer is ({}).", "{}", "**{}**"):
            text = template.format(letter if "answer:" not in template else letter.lower())
            assert extract_choice(text, choices) == letter, text


@pytest.mark.parametrize("count", range(2, 26))
def test_letters_out_of_range_give_none(count: int) -> None:
    """A letter past the last option commits to nothing."""
    choices = _options(count)
    for letter in LETTERS[count:]:
        assert extract_choice(f"Answer: {letter}", choices) is None


def test_option_texts_round_trip() -> None:
    """Numeric option texts are found with or without separators and "$"."""
    rng = random.Random(0)
    for _ in range(50):
        values = rng.sample(range(1000, 1_000_000), rng.randint(2, 8))
        choices = tuple(f"{value:,}" for value in values)
        for index, value in enumerate(values):
            letter = LETTERS[index]
            assert extract_choice(f"Answer: {value:,}", choices) == letter
            assert extract_choice(f"The answer is {value}.", choices) == letter
            assert extract_choice(f"${value:,}", choices) == letter


@pytest.mark.parametrize(("text", "choices", "expected"), POSITIVE)
@pytest.mark.parametrize("suffix", [" [END]", "</s>", " <|im_end|>", "\n"])
def test_trailing_end_tokens_do_not_matter(
    text: str, choices: tuple[str, ...], expected: str, suffix: str
) -> None:
    """End-of-turn tokens and a trailing newline never change the result."""
    assert extract_choice(text + suffix, choices) == expected


@pytest.mark.parametrize(("text", "choices"), NON_ANSWERS)
def test_an_explicit_answer_line_after_anything_wins(text: str, choices: tuple[str, ...]) -> None:
    """A final "Answer: C" line commits whatever came before it."""
    assert extract_choice(f"{text}\nAnswer: C", choices) == "C"


@pytest.mark.parametrize(("text", "choices", "expected"), POSITIVE)
def test_result_is_none_or_a_letter_in_range(
    text: str, choices: tuple[str, ...], expected: str
) -> None:
    """Whatever the number of options, the result is None or a letter in range."""
    for count in range(2, 6):
        shorter = choices[:count] if count <= len(choices) else _options(count)
        assert extract_choice(text, shorter) in (None, *LETTERS[:count])


def test_accepts_lists_and_tuples() -> None:
    """``choices`` may be any sequence."""
    assert extract_choice("Answer: B", ["x", "y"]) == "B"
    assert extract_choice("Answer: B", ("x", "y")) == "B"


# --------------------------------------------------------------------------------------------
# Held out: "Option C" phrasings (issue item 7), read by no rule above when they were written
# --------------------------------------------------------------------------------------------

HELD_OUT = [
    # Positives: a named option with assurance, a pick, a label or a stronger verb.
    ("Option C, clearly.", NUMS, "C"),
    ("Option C, definitely.", NUMS, "C"),
    ("option c for sure", NUMS, "C"),
    ("Option C, no doubt.", NUMS, "C"),
    ("Option C without a doubt!", NUMS, "C"),
    ("Option (C), of course.", NUMS, "C"),
    ("Choice C, obviously.", NUMS, "C"),
    ("Option C, I think.", NUMS, "C"),
    ("Option C please", NUMS, "C"),
    ("Option C, definitely, thanks!", NUMS, "C"),
    ("Option C all the way.", NUMS, "C"),
    ("Clearly option C.", NUMS, "C"),
    ("Absolutely, (B).", NUMS, "B"),
    ("C, definitely.", NUMS, "C"),
    ("A, for sure.", NUMS, "A"),
    ("Option: C", NUMS, "C"),
    ("Choice: b", NUMS, "B"),
    ("I'll take option C.", NUMS, "C"),
    ("I'd take (b).", NUMS, "B"),
    ("Option C is my pick.", NUMS, "C"),
    ("B is my final choice.", NUMS, "B"),
    ("Option C is the best answer.", NUMS, "C"),
    ("Option C makes the most sense.", NUMS, "C"),
    # Positives that the rules above already read; kept here as the examples.
    ("Option C", NUMS, "C"),
    ("option (C)", NUMS, "C"),
    ("Choice C", NUMS, "C"),
    ("Answer C", NUMS, "C"),
    ("the answer is option C", NUMS, "C"),
    ("I'd pick option C", NUMS, "C"),
    ("(C) is correct", NUMS, "C"),
]

HELD_OUT_NON_ANSWERS = [
    ("Option C is wrong", NUMS),
    ("options C and D", NUMS),
    ("not option C", NUMS),
    ("Option C or D?", NUMS),
    ("Option C, clearly wrong.", NUMS),
    ("Option C, definitely not.", NUMS),
    ("Option C for sure is wrong.", NUMS),
    ("Option C, clearly, or D.", NUMS),
    ("Option C, then D.", NUMS),
    ("Option C, certainly?", NUMS),
    ("Not option C, clearly.", NUMS),
    ("Option C, clearly. Option D, definitely.", NUMS),
    ("Option C, maybe.", NUMS),
    ("Option Cats, clearly.", NUMS),
    ("Cats, definitely.", NUMS),
    ("Clearly, A is wrong.", NUMS),
    ("A definitely.", NUMS),
    ("I thank you.", NUMS),
    ("Options: A, B, C", NUMS),
    ("Option C is not my pick", NUMS),
    ("A or B is my pick", NUMS),
    ("Take B for example.", NUMS),
    ("I'll take a look.", NUMS),
    ("Option C makes the most sense, right?", NUMS),
]


@pytest.mark.parametrize(("text", "choices", "expected"), HELD_OUT)
def test_held_out_option_phrasings(text: str, choices: tuple[str, ...], expected: str) -> None:
    """"Option C" and its kin commit, with or without a trailing end token."""
    assert extract_choice(text, choices) == expected
    assert extract_choice(text + " [END]", choices) == expected


@pytest.mark.parametrize(("text", "choices"), HELD_OUT_NON_ANSWERS)
def test_held_out_option_non_answers(text: str, choices: tuple[str, ...]) -> None:
    """Ruled out, listed, negated, asked or extended "Option C" phrasings commit to nothing,
    and a final "Answer: C" line still decides."""
    assert extract_choice(text, choices) is None
    assert extract_choice(f"{text}\nAnswer: C", choices) == "C"


@pytest.mark.parametrize("text", ["I'll go with options C and D", "I choose letters",
                                  "The answer is options C and D"])
def test_plural_option_words_name_no_letter(text: str) -> None:
    """"options" is no "option S", even with 26 options."""
    assert extract_choice(text, _options(26)) is None
