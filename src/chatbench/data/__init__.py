"""Questions (bundled MMLU-Redux, MMLU/Redux CSV, JSONL) and real human-AI conversations
(HALIE bundled, ChatBench's released conversations)."""
