"""Prompts of the simulated user, the assistant and the judge.

Two families of simulator prompts:

- ``PAPER_*``: the ChatBench paper's prompts verbatim, from its code (GitHub
  ``serinachang5/interactive-eval``, ``generate_conversations.py``: ``two_step_simulator`` and
  ``iqa_eval_simulator``). The ``transcript`` view sends these.
- the others restate them in chatbench's words for the role-flipped ``chat`` view, where small
  local models follow an instruction at the end of a chat better than one inside a long prompt.

Templates use ``str.format`` fields: ``{question}`` is the stem with lettered options, one per
line (``Question.format``, the same text as the paper's ``extract_qa_from_row``).
"""

from __future__ import annotations

# --- the paper's prompts, verbatim (generate_conversations.py) ------------------------------

PAPER_SEP = "========================"
"""``constants_and_utils.SEP``: fences the conversation inside the two-step prompt."""

PAPER_TWO_STEP_SYSTEM_PROMPT = (
    "You are a human user interacting with an AI system, and you are trying to answer the "
    "following question:\n\n{question}"
)
PAPER_TWO_STEP_FIRST_PROMPT = (
    "Generate the first prompt you would say to the system to get started with answering your "
    "question. Remember to write exactly as a real user would."
)
PAPER_TWO_STEP_PROBLEM_FIRST_PROMPT = (
    "Generate the first prompt you would say to the system to get started with answering your "
    "question. Include the problem statement in some form, and remember to write exactly as a "
    "real user would."
)
PAPER_TWO_STEP_HELP_OPENING = (
    "I'm trying to solve a math problem. Can you help me get started on the first step?"
)
"""The "help" variant's fixed first message. It withholds the question (the paper uses it for
every subject, moral scenarios included)."""
PAPER_TWO_STEP_CONVERSATION = (
    "Here is your conversation so far with the AI system:\n{sep}\n{conversation}\n{sep}\n"
)
PAPER_TWO_STEP_NEXT_PROMPT = (
    'If your question is answered by this conversation, return ONLY the answer in the format '
    '"Answer: {options}". If not, generate the next prompt you would say to the system to '
    "answer your question. Remember to keep your writing style consistent."
)
PAPER_TWO_STEP_FORCED_PROMPT = (
    'Answer the question based on this conversation. Return ONLY the answer in the format '
    '"Answer: {options}".'
)
PAPER_IQA_EVAL_INTRO = (
    "You are mimicking a human. You are trying to choose the correct answer to the given "
    "question. "
)
PAPER_IQA_EVAL_SYSTEM_PROMPT = PAPER_IQA_EVAL_INTRO + (
    "Please ask an assistant sub-questions for help approaching answers. In each turn, please "
    "only ask one sub-question to interact with an assistant. In the sub-questions, please "
    "include all necessary information, such as the question and options, in the original "
    'question. If you know the answer, please output "So, the answer is: {options}."'
    "\n\n{question}"
)
PAPER_IQA_EVAL_FORCED_SYSTEM_PROMPT = PAPER_IQA_EVAL_INTRO + (
    'Please choose the correct answer to the given question. Please output "So, the answer '
    'is: {options}."\n\n{question}'
)
PAPER_TWO_STEP_ANSWER_PREFIX = "Answer: "
"""A two-step turn that starts with this is the user's answer (after turn 1)."""
PAPER_IQA_EVAL_ANSWER_MARK = "So, the answer is: "
"""An IQA-EVAL turn that contains this is the user's answer (any turn)."""

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


TWO_STEP_NEXT_PROMPT = """\
[The AI's reply ends here. You are the user again.] If the conversation so far has answered \
your question, reply with only "Answer: X", where X is the letter of the option you choose. \
Otherwise, write your next message to the AI, keeping the same writing style, and reply with \
only that message."""

# --- IQA-EVAL simulator (Li et al. 2024) ----------------------------------------------------

IQA_EVAL_SYSTEM_PROMPT = """\
You are mimicking a human who works through the multiple-choice question below together with \
an AI assistant. You do not solve the problem alone. Ask the assistant one short sub-question \
per turn that brings you closer to the answer, and include what the assistant needs to know \
(the question and its options), since it cannot see your question. When you are confident, \
end with "So, the answer is: X", where X is the option letter.
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

IQA_EVAL_FORCED_ANSWER_PROMPT = """\
[You have no more time to chat.] Return ONLY the answer, as "So, the answer is: X", where X is \
the letter of the option you choose."""

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

_RUBRIC_REQUEST = """
The conversation:
{transcript}

{rubric}

Reply with a JSON object and nothing else: {{"reason": "<one or two sentences>", "score": <1-5>}}"""
"""What every rubric judge prompt ends with, after what the conversation was about."""

JUDGE_RUBRIC_PROMPT = """\
You are grading a conversation between a USER and an AI assistant about this multiple-choice \
question:
{question}
""" + _RUBRIC_REQUEST

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

# --- scenarios (open-ended tasks: a goal and success criteria) ------------------------------

GOAL_MET_TOKEN = "[GOAL MET]"
"""A simulated user's turn that ends with this says its goal is met: the conversation ends."""
GIVE_UP_TOKEN = "[GIVE UP]"
"""A simulated user's turn that ends with this says it gives up: the conversation ends."""

SCENARIO_SYSTEM_PROMPT = """\
You are playing a human user who is chatting with an AI assistant. You are not the assistant: \
you are the person who wants something from it. Stay in character, write as a real user types, \
and share what you know only as your situation says.
{persona}
Your situation and goal:
{question}

When your goal is met, end your message with """ + GOAL_MET_TOKEN + """. If you decide the \
assistant cannot help you, end your message with """ + GIVE_UP_TOKEN + "."

SCENARIO_FIRST_PROMPT = """\
Write the first message you would send the assistant about your situation, exactly as a real \
user would type it. Reply with only that message."""

SCENARIO_NEXT_PROMPT = """\
[The assistant's reply ends here. You are the user again.] If your goal is met, reply briefly \
and end with """ + GOAL_MET_TOKEN + """; if you give up, end with """ + GIVE_UP_TOKEN + """. \
Otherwise write your next message to the assistant, in the same style. Reply with only that \
message."""

SCENARIO_SATISFACTION_PROMPT = """\
[The conversation is over.] Staying in character as the user, how satisfied are you with the \
AI's help? Reply with a JSON object and nothing else: \
{"reason": "<one sentence>", "score": <1-5, 5 = very satisfied>}"""

SCENARIO_RUBRIC_PROMPT = """\
You are grading a conversation between a USER and an AI assistant. The user's situation and \
goal:
{question}
""" + _RUBRIC_REQUEST

CRITERION_JUDGE_PROMPT = """\
You are checking whether a conversation between a USER and an AI assistant meets one success \
criterion. The user's situation and goal:
{scenario}

The conversation (the assistant's tool calls and their results are shown under its turns):
{transcript}

Criterion: {criterion}

Does the conversation meet the criterion? Reply with a JSON object and nothing else: \
{{"reason": "<one sentence>", "passed": true or false}}"""
