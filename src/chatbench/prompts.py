"""Prompts of the simulated user, the assistant and the judge.

The simulator prompts restate the ChatBench paper's two-step prompts (and its "problem" and
"help" variants) and IQA-EVAL's in our own words (Chang et al. 2025, Sec. 5; Li et al. 2024).
Templates use ``str.format`` fields: ``{question}`` is the stem with lettered options.
"""

from __future__ import annotations

# --- two-step simulator (the paper's prompted simulator) -----------------------------------

TWO_STEP_SYSTEM_PROMPT = """\
You are playing a human user who has to answer the multiple-choice question below and may \
chat with an AI system to get help. You are not an AI assistant: you are the person asking \
for help, and you do not know the answer for sure.
{persona}
The question you have to answer:
{question}"""

TWO_STEP_FIRST_PROMPT = """\
Write the first thing you would say to the AI system, exactly as a real user would type it. \
Reply with only that message."""

TWO_STEP_PROBLEM_FIRST_PROMPT = """\
Write the first thing you would say to the AI system, exactly as a real user would type it. \
Your message must include the problem statement, since the AI cannot see your question. \
Reply with only that message."""

TWO_STEP_HELP_OPENING = "Can you help me with the first step of this problem?\n\n{question}"
"""The "help" variant's fixed first message (the AI sees the question through it)."""

TWO_STEP_NEXT_PROMPT = """\
[The AI's reply ends here. You are the user again.] If the conversation so far has answered \
your question, reply with only "Answer: X", where X is the letter of the option you choose. \
Otherwise, write your next message to the AI, keeping the same writing style, and reply with \
only that message."""

# --- IQA-EVAL simulator (Li et al. 2024) ----------------------------------------------------

IQA_EVAL_SYSTEM_PROMPT = """\
You are mimicking a human who works through the multiple-choice question below together with \
an AI assistant. You do not solve the problem alone. Ask the assistant one short sub-question \
per turn that brings you closer to the answer. When you are confident, end with \
"So, the answer is: X", where X is the option letter.
{persona}
The question:
{question}"""

IQA_EVAL_FIRST_PROMPT = "Write your first message to the assistant. Reply with only that message."

IQA_EVAL_NEXT_PROMPT = """\
[The assistant's reply ends here. You are the human again.] Ask your next sub-question, or, if \
you are confident, reply "So, the answer is: X". Reply with only your message."""

# --- shared by the prompted simulators ---------------------------------------------------------

FORCED_ANSWER_PROMPT = """\
[You have no more time to chat.] Return ONLY the answer, as "Answer: X", where X is the letter \
of the option you choose."""

USER_COT_PROMPT = """\
[Private notes: the AI will never see what you write now.] Think step by step as the user: \
what do you understand so far, what is still unclear, and will you ask something next or give \
your answer? Write only your notes, briefly."""

USER_SCRATCHPAD_PREFIX = "Your private notes for this turn (the AI cannot see them):\n"

PERSONA_BLOCK = "\nThe person you are playing:\n{persona}\n"

# --- causal-LM simulator (chatbench-distilgpt2 text format) --------------------------------

CAUSAL_LM_SYSTEM_PROMPT = """\
You are a user answering a multiple-choice question with the help of an AI assistant.
{persona}Question: {question}"""

# --- judge ------------------------------------------------------------------------------------

JUDGE_EXTRACT_PROMPT = """\
A user wrote the message below as the final answer to this multiple-choice question.
{question}

User's message:
{message}

Which option does the message commit to? Reply with only the option letter, or NONE if it \
commits to no option or to several."""

# --- rubric judges (1-5 with reasons) ---------------------------------------------------------

JUDGE_RUBRIC_PROMPT = """\
You are grading a conversation between a USER and an AI assistant about this multiple-choice \
question:
{question}

The conversation:
{transcript}

{rubric}

Reply with a JSON object and nothing else: {{"reason": "<one or two sentences>", "score": <1-5>}}"""

COHERENCE_RUBRIC = """\
Rate the COHERENCE of the USER's messages as a human user working on the question: do they \
stay on the task, follow from what the AI said, and read like one consistent person (not like \
an AI assistant, not confusing the roles)?
5 = fully coherent and human-like throughout; 4 = minor slips; 3 = some turns off-task or \
role-confused; 2 = mostly incoherent; 1 = nonsense or the user acts as the assistant."""

SATISFACTION_RUBRIC = """\
Rate how SATISFIED the USER would be with the AI's help: did the AI understand the request, \
answer clearly and correctly, and leave the user able to choose an answer?
5 = very satisfied; 4 = satisfied; 3 = neutral; 2 = dissatisfied; 1 = very dissatisfied."""

USER_SATISFACTION_PROMPT = """\
[The conversation is over; you gave your answer.] Staying in character as the user, how \
satisfied are you with the AI's help? Reply with a JSON object and nothing else: \
{"reason": "<one sentence>", "score": <1-5, 5 = very satisfied>}"""
