"""A judge's score is read only when it is exactly on the rubric's 1-5 scale; anything else
is a missing score with the reply kept (the README's promise, "Judging and reports")."""

from __future__ import annotations

import pytest

from chatbench.scoring.judges import SCALE, parse_judgement, scale_score

READ = [
    ('{"reason": "clear", "score": 4}', 4),
    ('Sure! {"score": 5, "reason": "very clear"} Hope that helps.', 5),
    ("Score: 4", 4),
    ("score 2", 2),
    ("Score: 4.", 4),
    ("Score 4, a clear answer", 4),
    ("score: 3/5", 3),
    ("Score:5/5", 5),
    ("Score: 4 out of 5", 4),
    ("Score: 1\nReason: confusing", 1),
    ("Coherence score: 3. Final score: 3", 3),  # the same score twice
]
MISSING = [
    "Score: -3",  # a sign
    "Score: +4",
    "Score: \u22122",  # a Unicode minus
    "Score: 3/10",  # another scale
    "score: 3 out of 10",
    "Score: 4/5.5",
    "Score: 4.5",  # a fraction
    "Score: 4,5",
    "Score: 0",  # off the scale
    "Score: 6",
    "Score: 44",
    "Score: 2. On reflection, score: 4",  # two different scores
    '{"score": true}',  # not an integer
    '{"score": false}',
    '{"score": 4.0}',
    '{"score": "4"}',
    '{"score": 6, "reason": "great"}',
    '{"score": null}',
    '{"score": [4]}',
    '{"score": 4.5} Score: 4',  # a JSON score decides: off the scale, so missing
    "I would rate it a 4",  # no score label
    "",
    "{not json} score",
]


@pytest.mark.parametrize(("reply", "score"), READ)
def test_a_score_on_the_scale_is_read(reply, score):
    judgement = parse_judgement(reply)
    assert judgement.score == score and judgement.raw == reply


@pytest.mark.parametrize("reply", MISSING)
def test_anything_off_the_scale_is_missing_with_the_reply_kept(reply):
    judgement = parse_judgement(reply)
    assert judgement.score is None
    assert judgement.raw == reply


def test_scale_score_takes_whole_numbers_on_the_scale_only():
    assert [scale_score(v) for v in range(SCALE[0] - 1, SCALE[1] + 2)] == [
        None, 1, 2, 3, 4, 5, None]
    assert {scale_score(v) for v in (True, 3.0, "3", None, 3.5)} == {None}
